// Package app wires the lake, the query engine and the reports to the HTTP API: it implements
// server.Backend. Each request gets its own sealed query session, so a request sees one
// consistent committed state of every store and concurrent requests never share a connection.
package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/server"
)

// Backend serves the API from a data directory.
type Backend struct {
	lk   *lake.Lake
	sem  chan struct{}
	opts query.Options
}

// New returns a backend over the lake; at most maxConcurrent sessions run at once.
func New(lk *lake.Lake, maxConcurrent int) *Backend {
	if maxConcurrent <= 0 {
		maxConcurrent = 4
	}
	return &Backend{lk: lk, sem: make(chan struct{}, maxConcurrent), opts: query.Options{MemoryLimit: "1GB"}}
}

// Close releases nothing: sessions are per request.
func (b *Backend) Close() error { return nil }

func (b *Backend) session(ctx context.Context) (*query.Session, func(), error) {
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	s, err := query.Open(ctx, b.lk, b.opts)
	if err != nil {
		<-b.sem
		return nil, nil, err
	}
	return s, func() { s.Close(); <-b.sem }, nil
}

// Stores lists the event data stores with their sizes.
func (b *Backend) Stores(ctx context.Context) ([]server.Store, error) {
	stores, err := b.lk.Stores()
	if err != nil {
		return nil, err
	}
	out := []server.Store{}
	for _, s := range stores {
		m, err := b.lk.ReadManifest(s.ID)
		if err != nil {
			return nil, err
		}
		v := server.Store{ID: s.ID, Name: s.Name, Type: s.Type, RetentionDays: s.RetentionDays, Events: m.Rows(), Bytes: m.Bytes()}
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
