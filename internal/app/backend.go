// Package app wires the lake, the query engine and the reports to the HTTP API: it implements
// server.Backend. Each request gets its own sealed query session, so a request sees one
// consistent committed state of every store and concurrent requests never share a connection.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/server"
)

// Backend serves the API from a data directory.
//
// Opening a session (an engine with the dialect macros, every store and cost table registered,
// sealed) costs about 100 ms, so sessions are pooled: a request takes an idle session whose view
// of the lake is still current — same stores, same committed manifests, same cost registry — or
// opens a new one only when none is idle. A stale idle session is closed, which releases its
// read locks so that files retired by later commits can be deleted. Which requests may hold a
// session at all is decided first, by admission (admission.go).
type Backend struct {
	lk    *lake.Lake
	admit *admission
	sem   chan struct{} // one token per open session, in use or idle
	idle  chan pooled   // sessions waiting for a request
	opts  query.Options
	// opened counts the sessions opened, for the pool's test.
	opened atomic.Int64
	// DefaultApprovals is the allow-list used by reports whose request names no approved template.
	DefaultApprovals compliance.Approvals
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

type pooled struct {
	s     *query.Session
	state string
}

// New returns a backend over the lake.
func New(lk *lake.Lake, o Options) *Backend {
	o = o.withDefaults()
	sessions := o.MaxQueries + o.InteractiveLanes
	if o.Query.MaxTempSize > 0 {
		o.Query.MaxTempSize /= int64(sessions)
	}
	return &Backend{lk: lk, admit: newAdmission(o), sem: make(chan struct{}, sessions), idle: make(chan pooled, sessions), opts: o.Query}
}

// Close closes the idle sessions.
func (b *Backend) Close() error {
	for {
		select {
		case p := <-b.idle:
			p.s.Close()
			<-b.sem
		default:
			return nil
		}
	}
}

// state fingerprints what a session registers: the stores and their committed manifest
// versions, and the cost registry.
func (b *Backend) state() string {
	var sb strings.Builder
	stores, err := b.lk.Stores()
	if err != nil {
		return "error"
	}
	for _, s := range stores {
		m, err := b.lk.ReadManifest(s.ID)
		if err != nil {
			fmt.Fprintf(&sb, "%s/%s/%s/damaged;", s.ID, s.Name, s.Type)
			continue
		}
		fmt.Fprintf(&sb, "%s/%s/%s/%d;", s.ID, s.Name, s.Type, m.Version)
	}
	if st, err := os.Stat(filepath.Join(b.lk.Dir, "cost", "registry.json")); err == nil {
		fmt.Fprintf(&sb, "cost:%d/%d", st.Size(), st.ModTime().UnixNano())
	}
	return sb.String()
}

// withSession admits the request, lends it a session and runs fn with it. A request admitted to
// an interactive lane runs under the lane's time limit (counted from when it has its session);
// reaching it is a 503, not a timeout of the caller's query.
func (b *Backend) withSession(ctx context.Context, fn func(context.Context, *query.Session) error) error {
	t, err := b.admit.acquire(ctx, server.ClientFromContext(ctx))
	if err != nil {
		return err
	}
	defer b.admit.release(t)
	s, done, err := b.session(ctx)
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

// session returns an idle session of the current state whenever there is one, and opens a new
// one only when none is idle.
func (b *Backend) session(ctx context.Context) (*query.Session, func(), error) {
	state := b.state()
	// take reports whether p can serve; a stale session is closed and its token returned.
	take := func(p pooled) bool {
		if p.state == state {
			return true
		}
		p.s.Close() // stale: the lake changed since it opened
		<-b.sem
		return false
	}
	for {
		select {
		case p := <-b.idle:
			if take(p) {
				return p.s, b.release(p), nil
			}
			continue
		default:
		}
		select {
		case p := <-b.idle:
			if take(p) {
				return p.s, b.release(p), nil
			}
		case b.sem <- struct{}{}:
			select { // a session may have come back meanwhile: prefer it
			case p := <-b.idle:
				<-b.sem
				if take(p) {
					return p.s, b.release(p), nil
				}
				continue
			default:
			}
			b.opened.Add(1)
			s, err := query.Open(ctx, b.lk, b.opts)
			if err != nil {
				<-b.sem
				return nil, nil, err
			}
			return s, b.release(pooled{s: s, state: state}), nil
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// release returns a session to the pool (it keeps its token).
func (b *Backend) release(p pooled) func() {
	return func() { b.idle <- p }
}

// Stores lists the event data stores with their sizes and health: a damaged store (lost or
// invalid manifest, missing or damaged files) is listed with status "damaged" and why.
func (b *Backend) Stores(ctx context.Context) ([]server.Store, error) {
	stores, err := b.lk.Stores()
	if err != nil {
		return nil, err
	}
	out := []server.Store{}
	for _, s := range stores {
		if s.Builtin() {
			continue // the audit log is a store to query, not one of the user's
		}
		v := server.Store{ID: s.ID, Name: s.Name, Table: query.StoreTable(s.ID), Type: s.Type, RetentionDays: s.RetentionDays}
		m, h := b.lk.CheckStore(s.ID)
		v.Status, v.Problem = h.Status, h.Problem
		for _, d := range h.DamagedFiles {
			v.DamagedFiles = append(v.DamagedFiles, server.DamagedFile{Path: d.Path, Problem: d.Problem})
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
	return out, nil
}

// Tables lists every queryable table with its columns.
func (b *Backend) Tables(ctx context.Context) ([]server.Table, error) {
	var tables []query.Table
	err := b.withSession(ctx, func(ctx context.Context, s *query.Session) error {
		var err error
		tables, err = s.Tables(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := []server.Table{}
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

// Query runs user SQL in the sandbox.
func (b *Backend) Query(ctx context.Context, sql string, maxRows int) (*server.Result, error) {
	res, restricted, err := b.runAs(ctx, sql, maxRows)
	if !restricted {
		err = b.withSession(ctx, func(ctx context.Context, s *query.Session) error {
			s.SetMaxRows(maxRows)
			var err error
			res, err = s.Run(ctx, sql)
			return translate(err)
		})
	}
	if err != nil {
		return nil, err
	}
	out := &server.Result{Rows: res.Rows, Truncated: res.Truncated, Elapsed: res.Elapsed}
	for _, c := range res.Columns {
		out.Columns = append(out.Columns, server.Column{Name: c.Name, Type: c.Type})
	}
	return out, nil
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
