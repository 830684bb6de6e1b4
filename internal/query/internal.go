package query

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
)

// RunInternal runs pre-written DuckDB SQL (not user SQL: no dialect rewrite, no statement
// check) with bound parameters and materialises its result. It is for auditlake's own reports,
// whose SQL lives next to their Go code; one that reads a damaged store fails with its damage
// (lake.ErrDamaged); values must be passed as args, and identifiers must go
// through engine.Ident. The sealed engine's file-access limits still apply.
func (s *Session) RunInternal(ctx context.Context, sql string, args ...any) (*engine.Result, error) {
	start := time.Now()
	res := &engine.Result{}
	cols, err := s.EachInternal(ctx, sql, func(row []any) error {
		res.Rows = append(res.Rows, append([]any(nil), row...))
		return nil
	}, args...)
	if err != nil {
		return nil, err
	}
	res.Columns = cols
	res.Elapsed = time.Since(start)
	return res, nil
}

// sqlTrace writes each internal query's time, rows and first 80 characters to stderr
// (AUDITLAKE_SQLTRACE=1): where a hunt's or an ingest's evaluation spends its time.
var sqlTrace = os.Getenv("AUDITLAKE_SQLTRACE") != ""

// EachInternal runs pre-written DuckDB SQL as RunInternal does, but hands each result row to fn
// as it is read instead of keeping them: a caller that writes or folds the rows holds one at a
// time (the engine still materialises the whole result before the first row). row is reused
// for the next row: fn copies what it keeps. An error from fn stops the reading and is
// returned. It returns the result's columns.
func (s *Session) EachInternal(ctx context.Context, sql string, fn func(row []any) error, args ...any) ([]engine.Column, error) {
	start := time.Now()
	if err := s.fetchRemote(ctx, sql); err != nil {
		return nil, err
	}
	defer s.releaseFetched() // the result is read whole below
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, s.damageOf(err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("read result columns: %w", err)
	}
	cols := make([]engine.Column, 0, len(types))
	for _, t := range types {
		cols = append(cols, engine.Column{Name: t.Name(), Type: t.DatabaseTypeName()})
	}
	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read result row: %w", err)
		}
		if err := fn(vals); err != nil {
			return nil, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	if sqlTrace {
		fmt.Fprintf(os.Stderr, "trace: internal query %s rows=%d: %.80s\n", time.Since(start), n, strings.Join(strings.Fields(sql), " "))
	}
	return cols, nil
}

// ExecInternal runs a pre-written DuckDB statement that returns no rows (for example a test's
// CREATE VIEW over a cost file), with bound parameters.
func (s *Session) ExecInternal(ctx context.Context, sql string, args ...any) error {
	start := time.Now()
	s.prepared = nil // the statement may change what a prepared query names
	if err := s.fetchRemote(ctx, sql); err != nil {
		return err
	}
	err := s.db.Exec(ctx, sql, args...)
	if sqlTrace {
		fmt.Fprintf(os.Stderr, "trace: internal exec %s: %.80s\n", time.Since(start), strings.Join(strings.Fields(sql), " "))
	}
	if err != nil {
		return s.damageOf(err)
	}
	return nil
}
