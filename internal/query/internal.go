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
	res := &engine.Result{}
	for _, t := range types {
		res.Columns = append(res.Columns, engine.Column{Name: t.Name(), Type: t.DatabaseTypeName()})
	}
	for rows.Next() {
		vals := make([]any, len(types))
		ptrs := make([]any, len(types))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read result row: %w", err)
		}
		res.Rows = append(res.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	res.Elapsed = time.Since(start)
	if os.Getenv("AUDITLAKE_TRACE") != "" {
		fmt.Fprintf(os.Stderr, "trace: internal query %s rows=%d: %.80s\n", res.Elapsed, len(res.Rows), strings.Join(strings.Fields(sql), " "))
	}
	return res, nil
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
	if os.Getenv("AUDITLAKE_TRACE") != "" {
		fmt.Fprintf(os.Stderr, "trace: internal exec %s: %.80s\n", time.Since(start), strings.Join(strings.Fields(sql), " "))
	}
	if err != nil {
		return s.damageOf(err)
	}
	return nil
}
