// Package auditlog records who did what in auditlake — every query (principal, access key,
// door, SQL, tables read, rows returned, duration, outcome) and every administrative change
// (users, keys, roles, grants, stores) — as CloudTrail records (eventSource "auditlake") in the
// built-in store auditlake-audit, queried like any store and kept under the same retention.
//
// Tamper evidence: every commit of audit events is followed by a digest file
// (<data>/auditlog/digests/<seq>.json) listing each event's id, time, name and the SHA-256 of
// its eventjson, chained to the previous digest by hash and signed with an HMAC under the data
// directory's access master key. Validate recomputes everything from the store: an event
// changed, removed (other than by retention) or added on disk, or a digest changed or removed,
// is reported. Whoever holds the master key can forge digests: as everywhere, an operator with
// shell access to the data directory is trusted (docs/security.md).
package auditlog

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
)

// StoreName is the built-in store that holds the audit log.
const StoreName = lake.AuditStore

// EventSource is the eventsource of every audit record.
const EventSource = "auditlake"

// Anonymous is the Principal of an entry made before anyone was authenticated (a failed
// authentication): its record's userIdentity is of type Unknown, with the access key id tried.
const Anonymous = "anonymous"

// account stands for the lake in recipientAccountId and ARNs: a lake is not an AWS account.
const account = "000000000000"

// Entry is one audited action.
type Entry struct {
	Time time.Time
	// Principal is user:NAME, role:NAME or operator; As is set when the operator acts as
	// another principal (query --as).
	Principal, As string
	KeyID         string
	// Door is how the request came in: cli, api, web, aws, pg.
	Door string
	// Action is the event name: StartQuery, CreateUser, GrantPermissions, …
	Action string
	// SQL and Tables describe a query; Rows and Duration its result.
	SQL      string
	Tables   []string
	Rows     int64
	Duration time.Duration
	// Params are the request's other parameters (an administrative change's target).
	Params map[string]any
	// ErrorCode and ErrorMessage say why the action failed (empty: it succeeded).
	ErrorCode, ErrorMessage string
	SourceIP, UserAgent     string
}

// Log buffers entries and commits them to the audit store.
//
// The buffer is bounded: an audit log that silently dropped entries would be worse than none,
// so a Log never drops one; instead, once MaxPending entries or MaxPendingBytes of them wait
// for a commit (the store cannot be written: disk full, store damaged, …), Check refuses new
// actions — the server answers new queries and reports 503 — until a flush commits them. What
// is buffered beyond the bound is at most the entries of the actions admitted before it was
// reached (each door bounds how many run at once).
type Log struct {
	lk      *lake.Lake
	mu      sync.Mutex
	pending []Entry
	// waiting and waitingBytes count the entries not committed yet: pending and those a flush
	// is committing.
	waiting      int
	waitingBytes int64
	lastErr      error      // of the last flush; nil once one succeeds
	flushMu      sync.Mutex // one flush at a time in a process; the store's write lock across processes
	// MaxPending and MaxPendingBytes bound the entries waiting for a commit (0: DefaultMaxPending
	// and DefaultMaxPendingBytes).
	MaxPending      int
	MaxPendingBytes int64
	// SpoolProblem, when not nil, is told of each spool line a fold could not take (spool.go);
	// validate-logs reports them too, until the operator removes the damaged-* file.
	SpoolProblem func(string)
}

// The default bound of a Log's uncommitted entries: at the server's flush every second, a
// minute of a busy server's queries, far more than a healthy flush ever leaves behind.
const (
	DefaultMaxPending      = 100_000
	DefaultMaxPendingBytes = 64 << 20
)

// ErrBacklog is returned (wrapped) by Check while the log holds as many uncommitted entries as
// it may.
var ErrBacklog = errors.New("the audit log cannot be written")

// Check returns nil when the log can take another action's entry, and an ErrBacklog error,
// with the last commit's error, when its bound of uncommitted entries is reached: the action
// must then be refused, not run unaudited.
func (l *Log) Check() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	maxN, maxB := l.MaxPending, l.MaxPendingBytes
	if maxN <= 0 {
		maxN = DefaultMaxPending
	}
	if maxB <= 0 {
		maxB = DefaultMaxPendingBytes
	}
	if l.waiting < maxN && l.waitingBytes < maxB {
		return nil
	}
	return fmt.Errorf("%w: %d recorded actions are not committed yet (last attempt: %v); new queries are refused until they are", ErrBacklog, l.waiting, l.lastErr)
}

// MaxText is the most of an entry's statement (SQL) or error message an audit record keeps: the
// Postgres door takes statements of up to 16 MiB, and one user's long statements, kept whole,
// would grow the audit store (which nothing may delete) by their size each and fill the bound
// of uncommitted entries, refusing everyone's queries. Past it, a record keeps the text's first
// MaxText bytes, its length and its SHA-256: what was run can still be proven.
const MaxText = 64 << 10

// bounded returns e with its SQL and error message cut to MaxText (cutText).
func bounded(e Entry) Entry {
	e.SQL = cutText(e.SQL)
	e.ErrorMessage = cutText(e.ErrorMessage)
	return e
}

// cutText is s when it holds at most MaxText bytes, else its first MaxText bytes (back to a
// UTF-8 boundary) and a line saying its length and SHA-256.
func cutText(s string) string {
	if len(s) <= MaxText {
		return s
	}
	n := MaxText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s\n-- [auditlake: cut here; the text was %d bytes, SHA-256 %x]", s[:n], len(s), sha256.Sum256([]byte(s)))
}

// size is about what entry e holds in memory.
func size(e Entry) int64 {
	n := 256 + len(e.Principal) + len(e.As) + len(e.KeyID) + len(e.Door) + len(e.Action) + len(e.SQL) +
		len(e.ErrorCode) + len(e.ErrorMessage) + len(e.SourceIP) + len(e.UserAgent)
	for _, t := range e.Tables {
		n += 16 + len(t)
	}
	for k, v := range e.Params {
		n += 32 + len(k) + len(fmt.Sprint(v))
	}
	return int64(n)
}

// Open returns the audit log of the lake.
func Open(lk *lake.Lake) *Log { return &Log{lk: lk} }

// Record queues e; Flush (or the Run loop of a server) commits it. Recording never fails the
// action it records.
func (l *Log) Record(e Entry) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	e = bounded(e)
	l.mu.Lock()
	l.pending = append(l.pending, e)
	l.waiting++
	l.waitingBytes += size(e)
	l.mu.Unlock()
}

// Run flushes every interval until ctx ends, then once more.
func (l *Log) Run(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := l.Flush(context.WithoutCancel(ctx)); err != nil && onErr != nil {
				onErr(err)
			}
			return
		case <-t.C:
			if err := l.Flush(ctx); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}

// Store returns the audit store, creating it (termination protection on) on first use.
func Store(lk *lake.Lake) (lake.Store, error) {
	return lk.BuiltinStore(StoreName)
}

// Flush commits the queued entries and the records of the lake's spool (spool.go) in one
// atomic commit, then writes their digest.
func (l *Log) Flush(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	entries := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(entries) == 0 && !spoolWaiting(l.lk) {
		return nil
	}
	err := l.commit(ctx, entries)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastErr = err
	if err != nil {
		l.pending = append(entries, l.pending...) // retried at the next flush
		return err
	}
	l.waiting -= len(entries)
	for _, e := range entries {
		l.waitingBytes -= size(e)
	}
	return nil
}

func (l *Log) commit(ctx context.Context, entries []Entry) error {
	st, err := Store(l.lk)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "128MB", Threads: 1, TempDir: l.lk.TempDir()})
	if err != nil {
		return err
	}
	defer db.Close()
	w, err := l.lk.BeginWrite(st.ID)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	defer w.Close()
	// The spool is taken under the store's write lock: one fold at a time, across processes.
	sp, err := takeSpool(l.lk, func(ids []string) (map[string]bool, error) { return storeHas(ctx, db, l.lk, st.ID, ids) })
	if err != nil {
		return err
	}
	for _, p := range sp.problems {
		if l.SpoolProblem != nil {
			l.SpoolProblem(p)
		}
	}
	if len(entries)+len(sp.records) == 0 {
		return sp.done() // every spooled record was committed before a crash kept its file
	}
	var buf bytes.Buffer
	buf.WriteString(`{"Records":[`)
	for i, r := range sp.records {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(r)
	}
	for i, e := range entries {
		if i > 0 || len(sp.records) > 0 {
			buf.WriteByte(',')
		}
		b, err := json.Marshal(record(e))
		if err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		buf.Write(b)
	}
	buf.WriteString(`]}`)
	var recs []*cloudtrail.Record
	_, err = cloudtrail.Decode(&buf, "audit log", cloudtrail.DecodeOptions{}, func(r *cloudtrail.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	files, _, err := lake.WriteRecords(ctx, db, w, lake.NewBatch(recs))
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if err := w.Commit(files, nil, nil); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	// The digest follows the commit, under the store's write lock: a crash between the two
	// leaves events without a digest, which Validate reports as such (never as tampering).
	if err := writeDigest(l.lk, recs); err != nil {
		return fmt.Errorf("audit log digest: %w", err)
	}
	if err := sp.done(); err != nil {
		return err
	}
	if _, err := lake.Compact(ctx, db, w, false); err != nil {
		return nil // housekeeping; the next flush retries
	}
	return nil
}

// storeHas returns which of ids are eventids in the committed files of store id.
func storeHas(ctx context.Context, db *engine.DB, lk *lake.Lake, id string, ids []string) (map[string]bool, error) {
	m, err := lk.ReadManifest(id)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	if len(m.Files) == 0 {
		return out, nil
	}
	paths := make([]string, len(m.Files))
	for i, f := range m.Files {
		paths[i] = lk.AbsPath(id, f.Path)
	}
	rows, err := db.Query(ctx, "SELECT eventid FROM read_parquet("+engine.ListLiteral(paths)+") WHERE list_contains(?::VARCHAR[], eventid)", ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, err
		}
		out[e] = true
	}
	return out, rows.Err()
}

// record builds the CloudTrail record of e.
func record(e Entry) map[string]any {
	kind, name, _ := strings.Cut(e.Principal, ":")
	ident := map[string]any{"type": "AuditlakeOperator", "principalId": "operator", "arn": "arn:auditlake:iam::" + account + ":root", "accountId": account}
	switch kind {
	case "user":
		ident = map[string]any{"type": "AuditlakeUser", "principalId": e.Principal, "arn": "arn:auditlake:iam::" + account + ":user/" + name, "accountId": account, "userName": name}
	case "role":
		ident = map[string]any{"type": "AuditlakeRole", "principalId": e.Principal, "arn": "arn:auditlake:iam::" + account + ":role/" + name, "accountId": account}
	case Anonymous:
		ident = map[string]any{"type": "Unknown", "principalId": Anonymous, "accountId": account}
	}
	if e.KeyID != "" {
		ident["accessKeyId"] = e.KeyID
	}
	req := map[string]any{}
	for k, v := range e.Params {
		req[k] = v
	}
	if e.SQL != "" {
		req["queryStatement"] = e.SQL
	}
	if e.As != "" {
		req["as"] = e.As
	}
	resp := map[string]any{}
	// A query, a catalog listing (ListTables, ListEventDataStores) and the AWS door's other
	// reads (GetEventDataStore, DescribeQuery, GetQueryResults, …) read; their entries say how
	// much they returned.
	read := e.Action == "StartQuery" || strings.HasPrefix(e.Action, "List") || strings.HasPrefix(e.Action, "Get") || strings.HasPrefix(e.Action, "Describe")
	if read {
		tables := e.Tables
		if tables == nil {
			tables = []string{}
		}
		resp["tablesRead"] = tables
		resp["rowsReturned"] = e.Rows
		resp["durationMillis"] = e.Duration.Milliseconds()
	}
	id := newUUID()
	r := map[string]any{
		"eventVersion":       "1.09",
		"userIdentity":       ident,
		"eventTime":          e.Time.UTC().Format(time.RFC3339Nano),
		"eventSource":        EventSource,
		"eventName":          e.Action,
		"awsRegion":          "local",
		"sourceIPAddress":    orDefault(e.SourceIP, e.Door),
		"userAgent":          orDefault(e.UserAgent, "auditlake/"+e.Door),
		"requestParameters":  req,
		"responseElements":   resp,
		"requestID":          id,
		"eventID":            id,
		"readOnly":           read,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": account,
		"eventCategory":      "Management",
		"additionalEventData": map[string]any{
			"door": e.Door,
		},
	}
	if e.ErrorCode != "" {
		r["errorCode"] = e.ErrorCode
		r["errorMessage"] = e.ErrorMessage
	}
	return r
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// digestEvent is one event of a digest.
type digestEvent struct {
	EventID   string    `json:"eventID"`
	EventTime time.Time `json:"eventTime"`
	EventName string    `json:"eventName"`
	SHA256    string    `json:"eventjsonSHA256"`
}

// digest is one commit's digest file.
type digest struct {
	Seq          int           `json:"seq"`
	Created      time.Time     `json:"created"`
	PreviousHash string        `json:"previousDigestHash"`
	Events       []digestEvent `json:"events"`
	Signature    string        `json:"signature"`
}

func digestDir(lk *lake.Lake) string { return filepath.Join(lk.Dir, "auditlog", "digests") }

// body is the digest's JSON without its signature: what is hashed and signed.
func (d digest) body() []byte {
	d.Signature = ""
	b, _ := json.Marshal(d)
	return b
}

func sign(master, body []byte) string {
	m := hmac.New(sha256.New, master)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readDigests reads every digest in sequence order.
func readDigests(lk *lake.Lake) ([]digest, []string, error) {
	names, err := filepath.Glob(filepath.Join(digestDir(lk), "*.json"))
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(names) // zero-padded sequence numbers
	var out []digest
	var problems []string
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, nil, err
		}
		var d digest
		if err := json.Unmarshal(b, &d); err != nil {
			problems = append(problems, fmt.Sprintf("digest %s: not a digest: %v", filepath.Base(n), err))
			continue
		}
		out = append(out, d)
	}
	return out, problems, nil
}

func writeDigest(lk *lake.Lake, recs []*cloudtrail.Record) error {
	master, err := access.Open(lk.Dir).MasterKey()
	if err != nil {
		return err
	}
	ds, _, err := readDigests(lk)
	if err != nil {
		return err
	}
	d := digest{Seq: 1, Created: time.Now().UTC()}
	if len(ds) > 0 {
		last := ds[len(ds)-1]
		d.Seq = last.Seq + 1
		d.PreviousHash = hashOf(last.body())
	}
	for _, r := range recs {
		d.Events = append(d.Events, digestEvent{EventID: r.EventID, EventTime: r.EventTime.UTC(), EventName: deref(r.EventName), SHA256: hashOf([]byte(r.EventJSON))})
	}
	d.Signature = sign(master, d.body())
	b, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(digestDir(lk), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(digestDir(lk), fmt.Sprintf("%012d.json", d.Seq)), append(b, '\n'))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
