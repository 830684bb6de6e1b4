package awsapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/delivery"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/server"
)

// Query states, as Lake names them.
const (
	StatusQueued    = "QUEUED"
	StatusRunning   = "RUNNING"
	StatusFinished  = "FINISHED"
	StatusFailed    = "FAILED"
	StatusCancelled = "CANCELLED"
	StatusTimedOut  = "TIMED_OUT"
)

// QueryOptions bound the query manager. Zero fields take the defaults documented on them.
type QueryOptions struct {
	// MaxRunning is how many queries run at once; the others wait QUEUED. Default 4 (serve's
	// --max-queries, so queries wait here rather than in the backend's queue).
	MaxRunning int
	// MaxActive is how many queries one principal may have QUEUED or RUNNING; StartQuery past
	// it is MaxConcurrentQueriesException. Default 32.
	MaxActive int
	// Timeout ends a query (TIMED_OUT). Default 1 hour, as Lake.
	Timeout time.Duration
	// MaxRows is the largest result; a query with more rows FAILS. Default 1,000,000 (the
	// engine also bounds a result in bytes: serve --max-result-bytes).
	MaxRows int
	// Keep is how long a query and its result are kept. Default 7 days, as Lake.
	Keep time.Duration
	// MaxKeptBytes bounds the results kept in memory together; past it the oldest finished
	// queries are forgotten first. Default 256 MiB.
	MaxKeptBytes int64
	// Dir, when set, keeps every finished query and its result on disk (results.go), so they
	// outlive a restart until Keep; MaxDiskBytes bounds the files together (default 4 GiB; past
	// it the oldest queries are forgotten first).
	Dir          string
	MaxDiskBytes int64
	// StartWait is how long StartQuery waits for the engine's verdict on a statement, so that
	// one it refuses (syntax, unknown column) is InvalidQueryStatementException as in Lake
	// rather than a FAILED query. Default 1 s (a tenth of it for a query still queued); a query
	// still queued or running by then is answered with its id. A failure while running (a
	// value that does not cast) is a FAILED query, as in Lake, however soon it comes.
	StartWait time.Duration
}

func (o QueryOptions) withDefaults() QueryOptions {
	if o.MaxRunning <= 0 {
		o.MaxRunning = 4
	}
	if o.MaxActive <= 0 {
		o.MaxActive = 32
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Hour
	}
	if o.MaxRows <= 0 {
		o.MaxRows = 1_000_000
	}
	if o.Keep <= 0 {
		o.Keep = 7 * 24 * time.Hour
	}
	if o.MaxKeptBytes <= 0 {
		o.MaxKeptBytes = 256 << 20
	}
	if o.MaxDiskBytes <= 0 {
		o.MaxDiskBytes = 4 << 30
	}
	if o.StartWait <= 0 {
		o.StartWait = time.Second
	}
	return o
}

// query is one StartQuery. Fields below mu are guarded by manager.mu.
type query struct {
	id, statement string
	owner         string   // the principal's access.Principal.Identity: another identity never finds it
	deliveryURI   string   // StartQuery's DeliveryS3Uri
	region        string   // the region the request was signed for (the sign file's)
	stores        []string // ids of the stores the statement names
	created       time.Time
	eventsScanned int64
	bytesScanned  int64
	done          chan struct{}
	cancel        context.CancelFunc

	status            string
	started, finished time.Time // started stays zero for a query cancelled before it ran
	errMsg            string
	deliveryStatus    string // with a deliveryURI: PENDING, then SUCCESS or FAILED (CANCELLED, FAILED with the query)
	invalid           bool   // the engine refused the statement itself
	columns           []string
	rows              [][]string
	rowCount          int
	size              int64 // of the result in memory
	held              bool  // the result is in memory (counted in manager.kept)
	onDisk            bool  // the query and its result are in QueryOptions.Dir
	diskSize          int64
	// described and resultsRead: a DescribeQuery, a GetQueryResults of the finished query was
	// recorded in the audit log (Handler.firstRead; kept in memory only: after a restart the
	// first read of each kind is recorded again).
	described, resultsRead bool
}

func (q *query) active() bool { return q.status == StatusQueued || q.status == StatusRunning }

// manager runs queries in the background and keeps their results.
type manager struct {
	backend server.Backend
	o       QueryOptions
	now     func() time.Time
	slots   chan struct{}
	// deliver writes a finished query's result to its DeliveryS3Uri (Handler.deliver).
	deliver func(ctx context.Context, q *query, res *server.Result) error
	wg      sync.WaitGroup
	log     *slog.Logger

	mu     sync.Mutex
	byID   map[string]*query
	order  []*query // by creation
	kept   int64    // bytes of results in memory
	onDisk int64    // bytes of result files
	closed bool
}

func newManager(b server.Backend, o QueryOptions, now func() time.Time, log *slog.Logger) *manager {
	o = o.withDefaults()
	m := &manager{backend: b, o: o, now: now, log: log, slots: make(chan struct{}, o.MaxRunning), byID: map[string]*query{}}
	if err := m.load(); err != nil {
		log.Error("read the CloudTrail Lake API's kept queries", "dir", o.Dir, "err", err)
	}
	return m
}

var errTooManyQueries = errors.New("too many queries")

// start queues q, run as the caller in ctx (its cancellation does not end the query).
func (m *manager) start(ctx context.Context, q *query) error {
	q.id, q.created, q.status, q.done = lake.NewUUID(), m.now(), StatusQueued, make(chan struct{})
	qctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.cancel = cancel
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		cancel()
		return errors.New("the server is shutting down")
	}
	m.expire()
	n := 0
	for _, o := range m.order {
		if o.owner == q.owner && o.active() {
			n++
		}
	}
	if n >= m.o.MaxActive {
		cancel()
		return errTooManyQueries
	}
	m.byID[q.id] = q
	m.order = append(m.order, q)
	m.wg.Add(1)
	go m.run(qctx, q)
	return nil
}

func (m *manager) run(ctx context.Context, q *query) {
	defer m.wg.Done()
	defer close(q.done)
	defer func() {
		if err := m.persist(q); err != nil {
			m.log.Error("keep query result on disk", "query", q.id, "err", err)
		}
	}()
	defer q.cancel()
	// A fault in running the query (a panic: a bug) fails that query, logged with its stack,
	// instead of ending serve with every door.
	defer func() {
		if v := recover(); v != nil {
			m.log.Error("AWS door query ended by a server fault", "query", q.id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			m.finish(q, StatusFailed, "the query failed on a fault of the server (its log says where)", nil)
		}
	}()
	select {
	case m.slots <- struct{}{}:
	case <-ctx.Done():
		m.finish(q, StatusCancelled, "", nil)
		return
	}
	defer func() { <-m.slots }()
	m.mu.Lock()
	if q.status != StatusQueued { // cancelled while it waited
		m.mu.Unlock()
		return
	}
	q.status, q.started = StatusRunning, m.now()
	m.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, m.o.Timeout)
	defer cancel()
	var (
		res *server.Result
		err error
	)
	for {
		res, err = m.backend.Query(rctx, q.statement, m.o.MaxRows)
		var be *server.BusyError
		if !errors.As(err, &be) {
			break
		}
		// The engine is full (other doors use it too): wait as a queued query would.
		select {
		case <-time.After(min(max(be.RetryAfter, 50*time.Millisecond), time.Second)):
		case <-rctx.Done():
		}
		if rctx.Err() != nil {
			err = rctx.Err()
			break
		}
	}
	var (
		qe *server.QueryError
		tl *server.ResultTooLargeError
		de *server.DamagedError
	)
	switch {
	case ctx.Err() != nil:
		m.finish(q, StatusCancelled, "", nil)
	case rctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		m.finish(q, StatusTimedOut, fmt.Sprintf("query timed out after %s", m.o.Timeout), nil)
	case errors.As(err, &qe):
		m.mu.Lock()
		q.invalid = !runtimeFailure(qe.Msg)
		m.mu.Unlock()
		m.finish(q, StatusFailed, qe.Msg, nil)
	case errors.As(err, &tl):
		m.finish(q, StatusFailed, tl.Msg, nil)
	case errors.As(err, &de):
		m.finish(q, StatusFailed, de.Msg, nil)
	case errors.Is(err, server.ErrNotFound):
		m.finish(q, StatusFailed, err.Error(), nil)
	case err != nil:
		m.finish(q, StatusFailed, "internal error; the server log has the details", nil)
	case res.Truncated:
		m.finish(q, StatusFailed, fmt.Sprintf("query result has more than %d rows, the largest this server keeps; narrow the query or aggregate", m.o.MaxRows), nil)
	default:
		m.finish(q, StatusFinished, "", res)
		if q.deliveryURI != "" && m.deliver != nil {
			err := m.deliver(ctx, q, res)
			m.mu.Lock()
			q.deliveryStatus = "SUCCESS"
			if err != nil {
				m.log.Error("deliver query results", "query", q.id, "to", q.deliveryURI, "err", err)
				q.deliveryStatus, q.errMsg = "FAILED", fmt.Sprintf("the query finished but its results could not be delivered to %s: %v", q.deliveryURI, err)
			}
			m.mu.Unlock()
		}
	}
}

// finish records a query's outcome (once: a query cancelled meanwhile stays cancelled).
func (m *manager) finish(q *query, status, msg string, res *server.Result) {
	var cols []string
	var rows [][]string
	var size int64
	if res != nil {
		cols = make([]string, len(res.Columns))
		for i, c := range res.Columns {
			cols[i] = c.Name
			size += int64(len(c.Name))
		}
		rows = make([][]string, len(res.Rows))
		for i, r := range res.Rows {
			row := make([]string, len(r))
			for j, v := range r {
				row[j] = cell(server.Present(v, res.Columns[j].Type))
				size += int64(len(row[j])) + 16
			}
			rows[i] = row
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !q.active() {
		return
	}
	q.status, q.errMsg, q.finished = status, msg, m.now()
	if q.deliveryURI != "" {
		q.deliveryStatus = map[string]string{StatusFinished: "PENDING", StatusFailed: "FAILED"}[status]
		if q.deliveryStatus == "" {
			q.deliveryStatus = "CANCELLED"
		}
	}
	q.columns, q.rows, q.rowCount, q.size, q.held = cols, rows, len(rows), size, true
	m.kept += size
	m.bound(q)
}

// bound keeps the results in memory under MaxKeptBytes: the oldest go first (never keep's),
// to their file when they have one, else forgotten with their query. m.mu is held.
func (m *manager) bound(keep *query) {
	for i := 0; m.kept > m.o.MaxKeptBytes && i < len(m.order); {
		o := m.order[i]
		switch {
		case o == keep || o.active() || !o.held:
			i++
		case o.onDisk:
			o.columns, o.rows, o.held = nil, nil, false
			m.kept -= o.size
			i++
		default:
			m.forget(i)
		}
	}
}

// forget removes m.order[i] and its files; m.mu is held.
func (m *manager) forget(i int) {
	o := m.order[i]
	if o.held {
		m.kept -= o.size
	}
	if o.onDisk {
		m.onDisk -= o.diskSize
		m.removeFiles(o.id)
	}
	delete(m.byID, o.id)
	m.order = slices.Delete(m.order, i, i+1)
}

// expire forgets queries older than Keep; m.mu is held.
func (m *manager) expire() {
	cutoff := m.now().Add(-m.o.Keep)
	for len(m.order) > 0 && m.order[0].created.Before(cutoff) && !m.order[0].active() {
		m.forget(0)
	}
}

// get returns owner's query id, or nil.
func (m *manager) get(owner, id string) *query {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	q := m.byID[id]
	if q == nil || q.owner != owner {
		return nil // another principal's query is not found, never forbidden
	}
	return q
}

// snapshot is a query's state at one moment.
type snapshot struct {
	status, errMsg             string
	deliveryStatus             string
	created, started, finished time.Time
	rowCount                   int
}

func (m *manager) snapshot(q *query) snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return snapshot{q.status, q.errMsg, q.deliveryStatus, q.created, q.started, q.finished, q.rowCount}
}

// result returns a finished query's columns and rows, read back from disk when memory no
// longer holds them.
func (m *manager) result(q *query) ([]string, [][]string, error) {
	m.mu.Lock()
	if q.held || !q.onDisk {
		defer m.mu.Unlock()
		return q.columns, q.rows, nil
	}
	m.mu.Unlock()
	r, err := m.loadRows(q)
	if err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !q.held && m.byID[q.id] == q {
		q.columns, q.rows, q.held = r.Columns, r.Rows, true
		m.kept += q.size
		m.bound(q)
	}
	return r.Columns, r.Rows, nil
}

// cancelQuery cancels q; it returns the state q was in (not active: nothing done).
func (m *manager) cancelQuery(q *query) (was string) {
	m.mu.Lock()
	was = q.status
	if q.active() {
		q.status, q.finished = StatusCancelled, m.now()
		if q.deliveryURI != "" {
			q.deliveryStatus = "CANCELLED"
		}
	}
	m.mu.Unlock()
	q.cancel()
	return was
}

// forgetQuery drops q (a statement StartQuery refused).
func (m *manager) forgetQuery(q *query) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := slices.Index(m.order, q); i >= 0 {
		m.forget(i)
	}
}

// list returns owner's queries that read store id, newest first.
func (m *manager) list(owner, id string) []*query {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	var out []*query
	for i := len(m.order) - 1; i >= 0; i-- {
		q := m.order[i]
		if q.owner == owner && slices.Contains(q.stores, id) {
			out = append(out, q)
		}
	}
	return out
}

func (m *manager) close() {
	m.mu.Lock()
	m.closed = true
	for _, q := range m.order {
		q.cancel()
	}
	m.mu.Unlock()
	m.wg.Wait()
	m.mu.Lock()
	m.byID, m.order, m.kept = map[string]*query{}, nil, 0
	m.mu.Unlock()
}

// cell is a value as Lake shows it in QueryResultRows: text. Timestamps as Lake prints
// eventtime, numbers in full, maps, rows and arrays as JSON, NULL as "".
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return base64.StdEncoding.EncodeToString(x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.000")
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return formatFloat(x, 64)
	case float32:
		return formatFloat(float64(x), 32)
	case fmt.Stringer:
		if _, _, ok := delivery.MapEntries(x); ok { // a MAP: its String is the driver's debugging text
			return jsonText(x)
		}
		return x.String()
	case []any, map[string]any, map[any]any:
		return jsonText(x)
	}
	return fmt.Sprint(v)
}

// jsonText is a nested value (a map, row or array) as JSON text.
func jsonText(v any) string {
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// object is a JSON object that keeps its keys in order.
type object struct {
	keys   []string
	values []any
}

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.values[i])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// formatFloat is f in full with the digits its bits (32 for a REAL, 64 for a DOUBLE) hold:
// REAL 0.1 is 0.1, not the 0.10000000149011612 of the same value as a DOUBLE.
func formatFloat(f float64, bits int) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprint(f)
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// jsonable turns the engine's nested values into what encoding/json encodes: maps with
// non-string keys get their keys as text (a MAP keeps its entries' order), and scalars their
// cell text where JSON has no form.
func jsonable(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[cell(k)] = jsonable(e)
		}
		return out
	case nil, string, bool, int64, int32, int:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return x
	}
	if keys, values, ok := delivery.MapEntries(v); ok {
		o := object{keys: make([]string, len(keys)), values: make([]any, len(keys))}
		for i, key := range keys {
			o.keys[i], o.values[i] = cell(key), jsonable(values[i])
		}
		return o
	}
	return cell(v)
}

// statementStart is a query's first keyword, comments and parentheses skipped.
func statementStart(sql string) string {
	s := strings.TrimSpace(sql)
	for {
		switch {
		case strings.HasPrefix(s, "--"):
			_, rest, _ := strings.Cut(s, "\n")
			s = strings.TrimSpace(rest)
		case strings.HasPrefix(s, "/*"):
			_, rest, _ := strings.Cut(s, "*/")
			s = strings.TrimSpace(rest)
		case strings.HasPrefix(s, "("):
			s = strings.TrimSpace(s[1:])
		default:
			end := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
			if end < 0 {
				end = len(s)
			}
			return strings.ToUpper(s[:end])
		}
	}
}

// runtimeFailure says whether a query error (its Trino-coded text, internal/query) is one of
// running the statement over the data (a value that does not cast, a division by zero), which
// Lake reports as a FAILED query, not one of the statement itself.
func runtimeFailure(msg string) bool {
	for _, code := range []string{"INVALID_CAST_ARGUMENT", "DIVISION_BY_ZERO", "NUMERIC_VALUE_OUT_OF_RANGE", "INVALID_FUNCTION_ARGUMENT"} {
		if strings.HasPrefix(msg, code+":") {
			return true
		}
	}
	return false
}
