// Package app wires the lake, the query engine and the reports to the HTTP API: it implements
// server.Backend. Each request gets its own sealed query session, so a request sees one
// consistent committed state of every store and concurrent requests never share a connection.
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/server"
)

// Backend serves the API from a data directory.
//
// Every request is served as the caller its context carries (access.CallerFrom, put there by
// the door that authenticated it): queries, listings and reports run in a query session
// restricted to the caller's grants (query.Options.Principal), and a context without a caller is
// refused — never served as the operator. Each query and report is recorded in the audit log
// (Audit), buffered: its Run loop commits the records.
//
// Opening a session (an engine with the dialect macros, every store and cost table registered,
// sealed, restricted) costs about 100 ms, so sessions are pooled by principal: a request takes
// an idle session of its principal (same name, same effective grants: a grant change takes
// effect at the next request) whose view of the lake is still current — same stores, same
// committed manifests, same cost registry — or opens a new one only when none is idle. The pool
// holds at most MaxQueries + InteractiveLanes sessions; when it is full, the idle session of
// another principal that waited longest is closed to make room. A stale idle session is closed,
// which releases its read locks so that files retired by later commits can be deleted. Which
// requests may hold a session at all is decided first, by admission (admission.go).
type Backend struct {
	lk     *lake.Lake
	access *access.Registry
	admit  *admission
	opts   query.Options
	pool   pool
	// opened counts the sessions opened, for the pool's test.
	opened atomic.Int64
	// DefaultApprovals is the allow-list used by reports whose request names no approved template.
	DefaultApprovals compliance.Approvals
	// Audit, when not nil, records every query and report (auditlog.Log.Record: buffered, the
	// server's Run loop flushes it).
	Audit *auditlog.Log
}

// Options bound the backend. Zero fields take the defaults documented on them.
type Options struct {
	// MaxQueries is the number of requests that may use a query session at once, besides the
	// interactive lanes. Default 4.
	MaxQueries int
	// InteractiveLanes are the extra sessions a request takes only while every general one is
	// busy, for at most InteractiveTimeout (default 1 lane, 10 s).
	InteractiveLanes   int
	InteractiveTimeout time.Duration
	// MaxClientQueries is how many requests one client (remote address) may have running or
	// waiting; the next is refused with 429. Default 16; negative = no limit.
	MaxClientQueries int
	// MaxWaiting is how many requests may wait for a session; the next is refused with 503.
	// Default 64.
	MaxWaiting int
	// Query bounds each session: memory, result bytes, spill (query.Options; MaxTempSize is the
	// total for all sessions, split evenly among them).
	Query query.Options
}

func (o Options) withDefaults() Options {
	if o.MaxQueries <= 0 {
		o.MaxQueries = 4
	}
	if o.InteractiveLanes <= 0 {
		o.InteractiveLanes = 1
	}
	if o.InteractiveTimeout <= 0 {
		o.InteractiveTimeout = 10 * time.Second
	}
	switch {
	case o.MaxClientQueries == 0:
		o.MaxClientQueries = 16
	case o.MaxClientQueries < 0:
		o.MaxClientQueries = 0
	}
	if o.MaxWaiting <= 0 {
		o.MaxWaiting = 64
	}
	if o.Query.MemoryLimit == "" {
		o.Query.MemoryLimit = "1GB"
	}
	return o
}

// pooled is a session with what it was opened for: its principal's pool key and the lake's
// state.
type pooled struct {
	s     *query.Session
	key   string
	state lakeState
	// audit says whether the session shows the audit store, whose version then counts too.
	audit bool
}

// pool is the set of open sessions: at most max, in use or idle.
type pool struct {
	mu   sync.Mutex
	max  int
	open int
	idle []pooled // the longest idle first
	// changed is closed (and replaced) whenever a session is released or closed, to wake the
	// requests waiting for room.
	changed chan struct{}
}

// New returns a backend over the lake.
func New(lk *lake.Lake, o Options) *Backend {
	o = o.withDefaults()
	sessions := o.MaxQueries + o.InteractiveLanes
	if o.Query.MaxTempSize > 0 {
		o.Query.MaxTempSize /= int64(sessions)
	}
	return &Backend{lk: lk, access: access.Open(lk.Dir), admit: newAdmission(o), opts: o.Query,
		pool: pool{max: sessions, changed: make(chan struct{})}}
}

// Close closes the idle sessions.
func (b *Backend) Close() error {
	b.pool.mu.Lock()
	idle := b.pool.idle
	b.pool.idle = nil
	b.pool.open -= len(idle)
	b.pool.mu.Unlock()
	for _, p := range idle {
		p.s.Close()
	}
	return nil
}

// lakeState fingerprints what a session registers: the stores and their committed manifest
// versions and the cost registry (base), and apart from them the audit store's version, which
// every flush of the audit log changes: it makes stale only the sessions that show it.
type lakeState struct{ base, audit, auditID string }

func (b *Backend) state() lakeState {
	var sb strings.Builder
	var st lakeState
	stores, err := b.lk.Stores()
	if err != nil {
		return lakeState{base: "error"}
	}
	for _, s := range stores {
		m, err := b.lk.ReadManifest(s.ID)
		line := ""
		if err != nil {
			line = fmt.Sprintf("%s/%s/%s/damaged;", s.ID, s.Name, s.Type)
		} else {
			line = fmt.Sprintf("%s/%s/%s/%d;", s.ID, s.Name, s.Type, m.Version)
		}
		if s.Name == lake.AuditStore {
			st.audit, st.auditID = line, s.ID
			continue
		}
		sb.WriteString(line)
	}
	if fi, err := os.Stat(filepath.Join(b.lk.Dir, "cost", "registry.json")); err == nil {
		fmt.Fprintf(&sb, "cost:%d/%d", fi.Size(), fi.ModTime().UnixNano())
	}
	st.base = sb.String()
	return st
}

// errNoCaller refuses a request whose context carries no authenticated caller.
var errNoCaller = fmt.Errorf("%w: the request carries no authenticated caller", server.ErrUnauthorized)

// caller returns the request's caller with its principal as the access registry stands now,
// or an error that refuses the request.
func (b *Backend) caller(ctx context.Context) (access.Caller, error) {
	c, ok := access.CallerFrom(ctx)
	if !ok {
		return c, errNoCaller
	}
	p, err := b.access.Current(c.Principal)
	if errors.Is(err, access.ErrUnauthenticated) {
		return c, fmt.Errorf("%w: %s is no longer valid", server.ErrUnauthorized, c.Principal.Name())
	}
	if err != nil {
		return c, err
	}
	c.Principal = p
	return c, nil
}

// auditedCaller is caller for an action the audit log records (a query, a report): while the
// log holds as many uncommitted entries as it may (the audit store cannot be written), the
// action is refused with 503 rather than run unaudited; the refusal goes to the server's log.
func (b *Backend) auditedCaller(ctx context.Context) (access.Caller, error) {
	c, err := b.caller(ctx)
	if err != nil {
		return c, err
	}
	if err := b.Audit.Check(); err != nil {
		return c, &server.BusyError{Status: http.StatusServiceUnavailable, RetryAfter: auditRetry, Msg: err.Error()}
	}
	return c, nil
}

// auditRetry is the Retry-After of an action refused because the audit log cannot be written.
const auditRetry = 10 * time.Second

// poolKey is the pool key of principal p: every unrestricted principal shares the unrestricted
// sessions; a restricted one gets sessions of its own name and effective grants (a report's
// temporary tables stay within one principal's sessions).
func poolKey(p *access.Principal) string {
	if p.Admin {
		return "admin"
	}
	return p.Name() + "\x00" + p.Fingerprint()
}

// withSession admits the request, lends it a session restricted to the caller's principal and
// runs fn with it. A request admitted to an interactive lane runs under the lane's time limit
// (counted from when it has its session); reaching it is a 503, not a timeout of the caller's
// query.
func (b *Backend) withSession(ctx context.Context, p *access.Principal, fn func(context.Context, *query.Session) error) error {
	t, err := b.admit.acquire(ctx, server.ClientFromContext(ctx), true)
	if err != nil {
		return err
	}
	return b.runAdmitted(ctx, t, p, fn)
}

// withPageSession is withSession for a page of queries run together (QueryBatch): the page is
// admitted once, to a general slot only (the interactive lane's time limit would cut it short),
// and waits for it at most half of the time ctx leaves, so that an admitted page has time to run;
// a page not admitted by then is refused whole with 503 and Retry-After.
func (b *Backend) withPageSession(ctx context.Context, p *access.Principal, fn func(context.Context, *query.Session) error) error {
	admitCtx := ctx
	var wait time.Duration
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl) / 2
		var cancel context.CancelFunc
		admitCtx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	t, err := b.admit.acquire(admitCtx, server.ClientFromContext(ctx), false)
	if err != nil {
		if ctx.Err() == nil && admitCtx.Err() != nil {
			return b.admit.pageBusy(wait)
		}
		return err
	}
	return b.runAdmitted(ctx, t, p, fn)
}

// runAdmitted runs fn in a session of p for the admitted request t and releases t.
func (b *Backend) runAdmitted(ctx context.Context, t ticket, p *access.Principal, fn func(context.Context, *query.Session) error) error {
	defer b.admit.release(t)
	s, done, err := b.session(ctx, p)
	if err != nil {
		return err
	}
	defer done()
	runCtx := ctx
	if t.lane {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, b.admit.laneTimeout)
		defer cancel()
	}
	err = fn(runCtx, s)
	if err != nil && t.lane && ctx.Err() == nil && runCtx.Err() != nil {
		return b.admit.laneBusy()
	}
	return err
}

// session returns an idle session of principal p and of the current state whenever there is
// one, and opens a new one only when none is idle: in the room the pool has, or in the room of
// another principal's idle session, which it closes.
func (b *Backend) session(ctx context.Context, p *access.Principal) (*query.Session, func(), error) {
	key := poolKey(p)
	state := b.state()
	audit := p.Admin || (state.auditID != "" && p.Sees("store:"+state.auditID))
	bp := &b.pool
	for {
		bp.mu.Lock()
		var closing []pooled
		var mine *pooled
		kept := bp.idle[:0]
		for _, q := range bp.idle {
			switch {
			case q.state.base != state.base || (q.audit && q.state.audit != state.audit):
				closing = append(closing, q) // stale: the lake changed since it opened
			case mine == nil && q.key == key:
				mine = &q
			default:
				kept = append(kept, q)
			}
		}
		clear(bp.idle[len(kept):])
		bp.idle = kept
		if mine == nil && bp.open-len(closing) >= bp.max && len(bp.idle) > 0 {
			closing = append(closing, bp.idle[0]) // the longest idle of another principal
			bp.idle = bp.idle[1:]
		}
		bp.open -= len(closing)
		opening := mine == nil && bp.open < bp.max
		if opening {
			bp.open++
		}
		wait := bp.changed
		if len(closing) > 0 {
			bp.signal()
		}
		bp.mu.Unlock()
		for _, q := range closing {
			q.s.Close()
		}
		switch {
		case mine != nil:
			return mine.s, b.release(*mine), nil
		case opening:
			b.opened.Add(1)
			o := b.opts
			o.Principal = p
			s, err := query.Open(ctx, b.lk, o)
			if err != nil {
				bp.mu.Lock()
				bp.open--
				bp.signal()
				bp.mu.Unlock()
				return nil, nil, err
			}
			return s, b.release(pooled{s: s, key: key, state: state, audit: audit}), nil
		}
		select { // every session is in use: wait for one to come back
		case <-wait:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// signal wakes the requests waiting for room; the caller holds mu.
func (bp *pool) signal() {
	close(bp.changed)
	bp.changed = make(chan struct{})
}

// release returns a session to the pool (it stays open).
func (b *Backend) release(p pooled) func() {
	return func() {
		b.pool.mu.Lock()
		b.pool.idle = append(b.pool.idle, p)
		b.pool.signal()
		b.pool.mu.Unlock()
	}
}

// Stores lists the event data stores the caller may read, with their sizes and health: a
// damaged store (lost or invalid manifest, missing or damaged files) is listed with status
// "damaged" and why. A store the caller may not read is absent. Of a store it may read only in
// part, the events, first and last event are those it sees (counted in its restricted session,
// so the size of the rows it may not see does not show) and the bytes are not given.
func (b *Backend) Stores(ctx context.Context) (out []server.Store, err error) {
	c, err := b.auditedCaller(ctx)
	if err != nil {
		return nil, err
	}
	defer b.recordListing(c, "ListEventDataStores", time.Now(), func() int { return len(out) }, &err)
	p := c.Principal
	stores, err := b.lk.Stores()
	if err != nil {
		return nil, err
	}
	out = []server.Store{}
	var partial []int // indexes in out of the stores p reads in part
	for _, s := range stores {
		if s.Builtin() {
			continue // the audit log is a store to query, not one of the user's
		}
		resource := "store:" + s.ID
		if !p.Sees(resource) {
			continue
		}
		v := server.Store{ID: s.ID, Name: s.Name, Table: query.StoreTable(s.ID), Type: s.Type, RetentionDays: s.RetentionDays}
		m, h := b.lk.CheckStore(s.ID)
		v.Status, v.Problem = h.Status, h.Problem
		for _, d := range h.DamagedFiles {
			v.DamagedFiles = append(v.DamagedFiles, server.DamagedFile{Path: d.Path, Problem: d.Problem})
		}
		if p.Table(resource) != nil {
			if m != nil {
				partial = append(partial, len(out))
			}
			out = append(out, v)
			continue
		}
		if m == nil {
			out = append(out, v)
			continue
		}
		v.Events, v.Bytes = m.Rows(), m.Bytes()
		for _, f := range m.Files {
			if v.FirstEvent == nil || f.MinTime.Before(*v.FirstEvent) {
				t := f.MinTime
				v.FirstEvent = &t
			}
			if v.LastEvent == nil || f.MaxTime.After(*v.LastEvent) {
				t := f.MaxTime
				v.LastEvent = &t
			}
		}
		out = append(out, v)
	}
	if len(partial) == 0 {
		return out, nil
	}
	err = b.withSession(ctx, p, func(ctx context.Context, s *query.Session) error {
		for _, i := range partial {
			if err := countVisible(ctx, s, &out[i]); err != nil {
				return translate(err)
			}
		}
		return nil
	})
	return out, err
}

// countVisible fills the events and the event range of store v as the restricted session s
// sees it. A store whose damage fails its view keeps its status and no counts.
func countVisible(ctx context.Context, s *query.Session, v *server.Store) error {
	if s.Damaged(v.ID) != nil {
		return nil
	}
	res, err := s.RunInternal(ctx, "SELECT count(*), min(eventtime), max(eventtime) FROM "+v.Table)
	if err != nil { // the grants hide eventtime: the count alone
		if res, err = s.RunInternal(ctx, "SELECT count(*), NULL, NULL FROM "+v.Table); err != nil {
			if errors.Is(err, lake.ErrDamaged) {
				return nil
			}
			return err
		}
	}
	row := res.Rows[0]
	if n, ok := row[0].(int64); ok {
		v.Events = n
	}
	if t, ok := row[1].(time.Time); ok {
		v.FirstEvent = &t
	}
	if t, ok := row[2].(time.Time); ok {
		v.LastEvent = &t
	}
	return nil
}

// Tables lists every table the caller may query with the columns it may read.
func (b *Backend) Tables(ctx context.Context) (out []server.Table, err error) {
	c, err := b.auditedCaller(ctx)
	if err != nil {
		return nil, err
	}
	defer b.recordListing(c, "ListTables", time.Now(), func() int { return len(out) }, &err)
	var tables []query.Table
	err = b.withSession(ctx, c.Principal, func(ctx context.Context, s *query.Session) error {
		var err error
		tables, err = s.Tables(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out = []server.Table{}
	for _, t := range tables {
		kind := "cost"
		if t.Schema == query.Schema {
			kind = "eds"
		}
		st := server.Table{Schema: t.Schema, Name: t.Name, Kind: kind}
		for _, c := range t.Columns {
			st.Columns = append(st.Columns, server.Column{Name: c.Name, Type: c.Type})
		}
		out = append(out, st)
	}
	return out, nil
}

// Query runs user SQL in the sandbox, restricted to the caller's grants, and records it in the
// audit log.
func (b *Backend) Query(ctx context.Context, sql string, maxRows int) (*server.Result, error) {
	c, err := b.auditedCaller(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var res *engine.Result
	err = b.withSession(ctx, c.Principal, func(ctx context.Context, s *query.Session) error {
		s.SetMaxRows(maxRows)
		var err error
		res, err = s.Run(ctx, sql)
		return translate(err)
	})
	b.recordRun(c, server.StatementFrom(ctx, sql), start, res, err)
	if err != nil {
		return nil, err
	}
	return serverResult(res), nil
}

// recordRun records in the audit log a query of c's, sql, started at start, with its result res
// (nil when it failed before one) and its outcome err.
func (b *Backend) recordRun(c access.Caller, sql string, start time.Time, res *engine.Result, err error) {
	e := auditlog.Entry{SQL: sql, Duration: time.Since(start)}
	if res != nil {
		e.Tables, e.Rows = res.Tables, int64(len(res.Rows))
	}
	b.record(c, e, err)
}

// serverResult is the API's form of an engine result.
func serverResult(res *engine.Result) *server.Result {
	out := &server.Result{Rows: res.Rows, Truncated: res.Truncated, Elapsed: res.Elapsed}
	for _, c := range res.Columns {
		out.Columns = append(out.Columns, server.Column{Name: c.Name, Type: c.Type})
	}
	return out
}

// QueryBatch runs the queries of one page together (server.Backend): admitted once
// (withPageSession), one after another in one session restricted to the caller's grants, each
// recorded in the audit log as Query records it. A query's own failure (its SQL, its result
// size) is its item's Err; any other failure (a timeout, a damaged store, the caller's context)
// ends the batch, and the queries it did not run are recorded with that error, as a refused
// Query is.
func (b *Backend) QueryBatch(ctx context.Context, sqls []string, maxRows int) ([]server.BatchResult, error) {
	c, err := b.auditedCaller(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]server.BatchResult, len(sqls))
	ran := 0
	err = b.withPageSession(ctx, c.Principal, func(ctx context.Context, s *query.Session) error {
		s.SetMaxRows(maxRows)
		for i, sql := range sqls {
			start := time.Now()
			res, err := s.Run(ctx, sql)
			err = translate(err)
			b.recordRun(c, sql, start, res, err)
			ran = i + 1
			var (
				qe *server.QueryError
				tl *server.ResultTooLargeError
			)
			switch {
			case err == nil:
				out[i].Result = serverResult(res)
			case errors.As(err, &qe), errors.As(err, &tl):
				out[i].Err = err
			default:
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, sql := range sqls[ran:] {
			b.record(c, auditlog.Entry{SQL: sql}, err)
		}
		return nil, err
	}
	return out, nil
}

// Answer runs fn, a statement a door answered itself (no engine query), as the caller in ctx,
// refused as Query is, and records it in the audit log as Query records a query.
func (b *Backend) Answer(ctx context.Context, sql string, fn func(context.Context) (int, error)) error {
	c, err := b.auditedCaller(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	n, err := fn(ctx)
	b.record(c, auditlog.Entry{SQL: server.StatementFrom(ctx, sql), Duration: time.Since(start), Rows: int64(n)}, err)
	return err
}

// record queues the audit entry of a query or report by caller c that ended with err.
func (b *Backend) record(c access.Caller, e auditlog.Entry, err error) {
	if b.Audit == nil {
		return
	}
	if e.Action == "" {
		e.Action = "StartQuery"
	}
	e.Principal, e.KeyID, e.Door, e.SourceIP, e.UserAgent = c.Principal.Name(), c.KeyID, c.Door, c.SourceIP, c.UserAgent
	if err != nil {
		e.ErrorCode, e.ErrorMessage = errorCode(err), err.Error()
	}
	b.Audit.Record(e)
}

// recordListing queues the audit entry of a catalog listing (action ListTables or
// ListEventDataStores) by caller c, started at start, that listed n() items or failed with
// *err: what a caller learns of the lake's tables is recorded as its queries are, by every door.
func (b *Backend) recordListing(c access.Caller, action string, start time.Time, n func() int, err *error) {
	e := auditlog.Entry{Action: action, Duration: time.Since(start)}
	if *err == nil {
		e.Rows = int64(n())
	}
	b.record(c, e, *err)
}

// errorCode names the kind of a failed query or report for the audit log.
func errorCode(err error) string {
	var (
		qe *server.QueryError
		tl *server.ResultTooLargeError
		be *server.BusyError
		de *server.DamagedError
	)
	switch {
	case errors.As(err, &qe):
		return "QueryFailed"
	case errors.As(err, &tl):
		return "ResultTooLarge"
	case errors.As(err, &be):
		return "Busy"
	case errors.As(err, &de):
		return "StoreDamaged"
	case errors.Is(err, server.ErrNotFound):
		return "NotFound"
	case errors.Is(err, server.ErrForbidden):
		return "AccessDenied"
	case errors.Is(err, context.DeadlineExceeded):
		return "Timeout"
	case errors.Is(err, context.Canceled):
		return "Cancelled"
	}
	return "InternalError"
}

// translate maps engine errors to the API's error kinds.
func translate(err error) error {
	var (
		qe *engine.QueryError
		tl *engine.ResultTooLargeError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &qe):
		return &server.QueryError{Msg: qe.Msg}
	case errors.As(err, &tl):
		return &server.ResultTooLargeError{Msg: tl.Error()}
	case errors.Is(err, engine.ErrTimeout):
		return fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
	case errors.Is(err, lake.ErrDamaged):
		return &server.DamagedError{Msg: err.Error()}
	case errors.Is(err, lake.ErrNotFound):
		return fmt.Errorf("%w: %v", server.ErrNotFound, err)
	}
	return err
}

// Report returns a report by name; see reports.go.
func (b *Backend) Report(ctx context.Context, name string, p server.ReportParams) (any, error) {
	return b.report(ctx, name, p)
}

// Instance returns an instance's audit trail; see reports.go.
func (b *Backend) Instance(ctx context.Context, id string, p server.ReportParams) (any, error) {
	return b.instance(ctx, id, p)
}
