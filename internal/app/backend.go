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
// opens a new one. A stale idle session is closed, which releases its read locks so that files
// retired by later commits can be deleted.
type Backend struct {
	lk   *lake.Lake
	sem  chan struct{} // one token per open session, in use or idle: at most maxConcurrent
	idle chan pooled   // sessions waiting for a request
	opts query.Options
	// DefaultApprovals is the allow-list used by reports whose request names no approved template.
	DefaultApprovals compliance.Approvals
}

type pooled struct {
	s     *query.Session
	state string
}

// New returns a backend over the lake; at most maxConcurrent sessions exist at once.
func New(lk *lake.Lake, maxConcurrent int) *Backend {
	if maxConcurrent <= 0 {
		maxConcurrent = 4
	}
	return &Backend{lk: lk, sem: make(chan struct{}, maxConcurrent), idle: make(chan pooled, maxConcurrent),
		opts: query.Options{MemoryLimit: "1GB"}}
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

func (b *Backend) session(ctx context.Context) (*query.Session, func(), error) {
	state := b.state()
	for {
		select {
		case p := <-b.idle:
			if p.state == state {
				return p.s, b.release(p), nil
			}
			p.s.Close() // stale: the lake changed since it opened
			<-b.sem
		case b.sem <- struct{}{}:
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
		v := server.Store{ID: s.ID, Name: s.Name, Type: s.Type, RetentionDays: s.RetentionDays}
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
	s, done, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	tables, err := s.Tables(ctx)
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
	s, done, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	s.SetMaxRows(maxRows)
	res, err := s.Run(ctx, sql)
	if err != nil {
		return nil, translate(err)
	}
	out := &server.Result{Rows: res.Rows, Truncated: res.Truncated, Elapsed: res.Elapsed}
	for _, c := range res.Columns {
		out.Columns = append(out.Columns, server.Column{Name: c.Name, Type: c.Type})
	}
	return out, nil
}

// translate maps engine errors to the API's error kinds.
func translate(err error) error {
	var qe *engine.QueryError
	switch {
	case errors.As(err, &qe):
		return &server.QueryError{Msg: qe.Msg}
	case errors.Is(err, engine.ErrTimeout):
		return fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
	case errors.Is(err, lake.ErrDamaged):
		return &server.DamagedError{Msg: err.Error()}
	case errors.Is(err, lake.ErrNotFound):
		return fmt.Errorf("%w: %v", server.ErrNotFound, err)
	}
	return err
}

var _ = time.Second

// Report returns a report by name; see reports.go.
func (b *Backend) Report(ctx context.Context, name string, p server.ReportParams) (any, error) {
	return b.report(ctx, name, p)
}

// Instance returns an instance's audit trail; see reports.go.
func (b *Backend) Instance(ctx context.Context, id string, p server.ReportParams) (any, error) {
	return b.instance(ctx, id, p)
}
