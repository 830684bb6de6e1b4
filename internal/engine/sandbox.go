package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// QueryError is a problem with the user's SQL: a syntax error, a refused statement, a runtime
// error. Its message is meant for the user.
type QueryError struct{ Msg string }

func (e *QueryError) Error() string { return e.Msg }

// ErrTimeout is returned (wrapped) when a user query exceeds its time limit.
var ErrTimeout = errors.New("query timed out")

// Column describes one result column.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Result is a materialised query result.
type Result struct {
	Columns   []Column
	Rows      [][]any
	Truncated bool
	Elapsed   time.Duration
	// Tables are the tables the query names (schema.name as written, sorted, without the
	// query's own common table expressions), for the audit log.
	Tables []string
}

// allowedTableFunctions are the only table functions user SQL may call. Every file reader
// (read_csv, read_text, glob, read_parquet, …), query()/query_table() and catalog functions are
// refused; the registered tables are the way to data.
var allowedTableFunctions = map[string]bool{
	"unnest": true, "range": true, "generate_series": true, "json_each": true, "json_tree": true,
}

// CheckUserSQL parses sql with DuckDB's own parser and accepts exactly one SELECT statement that
// calls no refused table function and names no file as a table.
func (e *DB) CheckUserSQL(ctx context.Context, query string) error {
	_, err := e.checkUserSQL(ctx, query)
	return err
}

// checkUserSQL is CheckUserSQL that also returns the tables the query names.
func (e *DB) checkUserSQL(ctx context.Context, query string) ([]string, error) {
	c, err := e.Check(ctx, query)
	if err != nil {
		return nil, err
	}
	return c.Tables, nil
}

// Checked is a user query that CheckUserSQL accepts, with what the check learnt of it. A caller
// that runs the same text again (a session's cache of its queries) runs it with RunChecked and
// skips the parse, and the wrapper that bounds its result is made once per text and row limit.
type Checked struct {
	SQL string
	// Tree is the statement's parse tree (json_serialize_sql's, decoded); a caller may drop it.
	Tree any
	// Tables are the tables the query names, as Result.Tables.
	Tables []string
	// bounded is the last wrapper boundedSQL made, of the text boundedOf under row limit
	// boundedRows. The wrapper names and types the query's columns: a caller keeps a Checked
	// only while the objects the query names stay as they are.
	bounded, boundedOf string
	boundedRows        int
	boundedOK          bool
}

// Check parses query with DuckDB's own parser and accepts exactly one SELECT statement that
// calls no refused table function, names no file as a table and, under RestrictTables, names
// only visible tables.
func (e *DB) Check(ctx context.Context, query string) (*Checked, error) {
	var out string
	err := e.conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql(?::VARCHAR) AS VARCHAR)", query).Scan(&out)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // the caller gave up: not a problem with the query
		}
		return nil, &QueryError{Msg: "cannot parse query: " + err.Error()}
	}
	var tree struct {
		Error        bool              `json:"error"`
		ErrorType    string            `json:"error_type"`
		ErrorMessage string            `json:"error_message"`
		Statements   []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &tree); err != nil {
		return nil, fmt.Errorf("read parse tree: %w", err)
	}
	if tree.Error {
		msg := tree.ErrorMessage
		if strings.Contains(msg, "Only SELECT statements") || tree.ErrorType == "not implemented" {
			return nil, &QueryError{Msg: "only SELECT queries are allowed: auditlake stores are read-only to SQL (" + firstWord(query) + " refused)"}
		}
		return nil, &QueryError{Msg: msg}
	}
	if len(tree.Statements) != 1 {
		return nil, &QueryError{Msg: fmt.Sprintf("expected exactly one SELECT statement, got %d", len(tree.Statements))}
	}
	var node any
	if err := json.Unmarshal(tree.Statements[0], &node); err != nil {
		return nil, fmt.Errorf("read parse tree: %w", err)
	}
	if err := checkNode(node); err != nil {
		return nil, err
	}
	if err := e.checkTables(node); err != nil {
		return nil, err
	}
	return &Checked{SQL: query, Tree: node, Tables: namedTables(node)}, nil
}

func firstWord(q string) string {
	f := strings.Fields(q)
	if len(f) == 0 {
		return "empty statement"
	}
	return strings.ToUpper(f[0])
}

// checkNode walks the serialised parse tree.
func checkNode(n any) error {
	switch v := n.(type) {
	case map[string]any:
		if v["type"] == "TABLE_FUNCTION" {
			if fn, ok := v["function"].(map[string]any); ok {
				name, _ := fn["function_name"].(string)
				if !allowedTableFunctions[strings.ToLower(name)] {
					return &QueryError{Msg: fmt.Sprintf("table function %s() is not allowed: query the registered tables instead (auditlake eds list, auditlake cur list)", name)}
				}
			}
		}
		if v["class"] == "FUNCTION" {
			if err := checkPattern(v); err != nil {
				return err
			}
		}
		if v["type"] == "BASE_TABLE" {
			name, _ := v["table_name"].(string)
			if strings.ContainsAny(name, `/\`) || hasFileExtension(name) {
				return &QueryError{Msg: fmt.Sprintf("reading files directly (%q) is not allowed: query the registered tables instead", name)}
			}
			if cat, _ := v["catalog_name"].(string); cat != "" && cat != "memory" {
				return &QueryError{Msg: fmt.Sprintf("catalog %q is not allowed", cat)}
			}
		}
		for _, c := range v {
			if err := checkNode(c); err != nil {
				return err
			}
		}
	case []any:
		for _, c := range v {
			if err := checkNode(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func hasFileExtension(name string) bool {
	l := strings.ToLower(name)
	for _, ext := range []string{".csv", ".tsv", ".parquet", ".json", ".jsonl", ".ndjson", ".gz", ".zst", ".txt", ".db", ".duckdb", ".sqlite", ".xlsx"} {
		if strings.HasSuffix(l, ext) || strings.Contains(l, ext+".") {
			return true
		}
	}
	return false
}

// UserQuery checks and runs one user SELECT within lim: at most lim.MaxRows rows, a result of
// at most lim.MaxBytes bytes (else a *ResultTooLargeError), cancelled after lim.Timeout. The
// engine should be sealed first.
func (e *DB) UserQuery(ctx context.Context, query string, lim Limits) (*Result, error) {
	c, err := e.Check(ctx, query)
	if err != nil {
		return nil, err
	}
	return e.RunChecked(ctx, c, "", lim)
}

// RunChecked runs the checked query c as UserQuery does. as, when not "", is run in c.SQL's
// place: the trusted layer's rewrite of it, which names instead of tables c.SQL names objects
// that show no more of them (query.Session's restricted view variants) — the caller answers for
// that, since as itself is not checked. Its result's Tables are c's.
func (e *DB) RunChecked(ctx context.Context, c *Checked, as string, lim Limits) (*Result, error) {
	if !e.sealed {
		return nil, errors.New("engine: user query on an unsealed engine")
	}
	query := c.SQL
	if as != "" {
		query = as
	}
	tables := c.Tables
	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lim.Timeout)
		defer cancel()
	}
	budget := &resultBudget{limit: lim.MaxBytes}
	if budget.limit == 0 {
		budget.limit = DefaultMaxResultBytes
	}
	start := time.Now()
	if budget.limit > 0 {
		if !c.boundedOK || c.boundedOf != query || c.boundedRows != lim.MaxRows {
			wrapped, err := e.boundedSQL(ctx, query, lim.MaxRows)
			if err != nil {
				return nil, e.userErr(ctx, err, lim.Timeout)
			}
			c.bounded, c.boundedOf, c.boundedRows, c.boundedOK = wrapped, query, lim.MaxRows, true
		}
		query = c.bounded
		ctx = context.WithValue(ctx, budgetKey{}, budget)
	}
	rows, err := e.conn.QueryContext(ctx, query)
	if err != nil {
		if budget.exceeded.Load() {
			return nil, &ResultTooLargeError{Limit: budget.limit}
		}
		return nil, e.userErr(ctx, err, lim.Timeout)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, e.userErr(ctx, err, lim.Timeout)
	}
	res := &Result{Tables: tables}
	for _, t := range types {
		res.Columns = append(res.Columns, Column{Name: t.Name(), Type: t.DatabaseTypeName()})
	}
	// The engine counted the rows already; the rows are counted again as Go holds them, against
	// a budget of their own, because Go's values are not the engine's (nested values differ).
	collected := &resultBudget{limit: budget.limit}
	for rows.Next() {
		if lim.MaxRows > 0 && len(res.Rows) >= lim.MaxRows {
			res.Truncated = true
			break
		}
		vals := make([]any, len(types))
		ptrs := make([]any, len(types))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, e.userErr(ctx, err, lim.Timeout)
		}
		if collected.limit > 0 {
			for _, v := range vals {
				collected.add(valueBytes(v))
			}
			if collected.exceeded.Load() {
				return nil, &ResultTooLargeError{Limit: collected.limit}
			}
		}
		res.Rows = append(res.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, e.userErr(ctx, err, lim.Timeout)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

func (e *DB) userErr(ctx context.Context, err error, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s", ErrTimeout, timeout)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	msg := err.Error()
	if strings.Contains(msg, "INTERRUPT") || strings.Contains(msg, "Interrupted") {
		if ctx.Err() != nil {
			return fmt.Errorf("%w after %s", ErrTimeout, timeout)
		}
	}
	if strings.Contains(msg, "max_temp_directory_size") {
		limit := "its cap"
		if e.maxTempSize > 0 {
			limit = "its cap of " + FormatBytes(e.maxTempSize)
		}
		return &QueryError{Msg: "query needs more temporary disk space than " + limit + " (it spills what does not fit in memory): narrow it with WHERE or LIMIT, or aggregate before sorting"}
	}
	if strings.Contains(msg, "Out of Memory") {
		return &QueryError{Msg: "query ran out of memory (memory limit reached): narrow it with WHERE or LIMIT: " + msg}
	}
	return &QueryError{Msg: msg}
}
