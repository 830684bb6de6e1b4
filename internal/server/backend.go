package server

import (
	"context"
	"errors"
	"time"
)

// Backend is everything the HTTP API needs from the storage and query engine. The engine
// package implements it; the server never touches DuckDB, Parquet or S3 itself.
//
// Every method may be called concurrently and must honour ctx: when the HTTP client goes away
// or a query's timeout passes, ctx is cancelled and the method should return promptly with
// ctx.Err() (wrapped or not).
type Backend interface {
	Stores(ctx context.Context) ([]Store, error)                          // event data stores
	Tables(ctx context.Context) ([]Table, error)                          // every queryable table with its columns (stores and cost tables)
	Query(ctx context.Context, sql string, maxRows int) (*Result, error)  // user SQL (Trino/CloudTrail Lake dialect), sandboxed by the backend
	Report(ctx context.Context, name string, p ReportParams) (any, error) // "launch-compliance", "daily-spend"; JSON-marshalable
	Instance(ctx context.Context, id string, p ReportParams) (any, error)
	// Answer runs fn, a statement a door answers itself without Query (the Postgres door's
	// catalog queries, SET, SHOW, BEGIN…), as the caller in ctx and records it in the audit log
	// as Query records a query (sql, rows fn returns, duration, fn's error): every statement a
	// principal runs is audited whoever answers it. It refuses as Query does (no caller, a
	// caller no longer valid, an audit log that cannot be written) without running fn.
	Answer(ctx context.Context, sql string, fn func(context.Context) (rows int, err error)) error
	// QueryBatch runs the queries of one page (the activity dashboard's widgets) together: they
	// are admitted once, as one request, and run one after another in one session restricted to
	// the caller's grants, each recorded in the audit log as Query records it. It returns one
	// BatchResult per query (a query's own error, a QueryError, is its item's Err), or an error
	// for the whole batch when it could not run whole: refused for want of capacity (a
	// BusyError: 503 with Retry-After), the caller refused, ctx done.
	QueryBatch(ctx context.Context, sqls []string, maxRows int) ([]BatchResult, error)
}

// Store is one event data store.
type Store struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Table is the store's table as it stands after FROM, quoted by the engine's rules:
	// "aws:cloudtrail"."<id>".
	Table         string     `json:"table"`
	Type          string     `json:"type"`
	RetentionDays int        `json:"retention_days"`
	Events        int64      `json:"events"`
	Bytes         int64      `json:"bytes"`
	FirstEvent    *time.Time `json:"first_event"`
	LastEvent     *time.Time `json:"last_event"`
	// Status is "ok", or "damaged" when the store cannot be read: Problem says why (its
	// manifest), or DamagedFiles lists the files (`auditlake eds repair` recovers it).
	Status       string        `json:"status"`
	Problem      string        `json:"problem,omitempty"`
	DamagedFiles []DamagedFile `json:"damaged_files,omitempty"`
}

// DamagedFile is a file of a store that cannot be read, relative to the store's directory.
type DamagedFile struct {
	Path    string `json:"path"`
	Problem string `json:"problem"`
}

// DamagedError is a request that reads a damaged store; the API answers 503 with Msg, which
// names the store, the damaged files and the repair.
type DamagedError struct{ Msg string }

func (e *DamagedError) Error() string { return e.Msg }

// Table is one queryable table: an event data store ("eds") or a registered cost source ("cost").
type Table struct {
	Schema  string   `json:"schema"`
	Name    string   `json:"name"`
	Kind    string   `json:"kind"` // "eds" | "cost"
	Columns []Column `json:"columns"`
}

// Column is a result or table column with its engine type name.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Result is the answer to Query. Truncated is true when the query had more than maxRows rows.
type Result struct {
	Columns   []Column
	Rows      [][]any
	Truncated bool
	Elapsed   time.Duration
}

// BatchResult is one query's answer in QueryBatch: its result, or Err when the query itself
// failed (its SQL, its grants, its result size).
type BatchResult struct {
	Result *Result
	Err    error
}

// ReportParams selects the data a report covers. Nil times mean unbounded; empty slices mean all.
type ReportParams struct {
	Store, Cost       string
	From, To          *time.Time
	Accounts          []string
	ApprovedTemplates []string
}

// ErrNotFound is returned (possibly wrapped) for an unknown store, instance or report; the API
// answers 404.
var ErrNotFound = errors.New("not found")

// QueryError is a problem with the user's SQL: a syntax error, an unknown column, a refused
// statement. The API answers 400 and shows Msg to the user as it is, so Msg must not carry
// internal details such as file paths.
type QueryError struct{ Msg string }

func (e *QueryError) Error() string { return e.Msg }

// ResultTooLargeError is a query whose result is larger than the server's result size limit.
// The API answers 422 and shows Msg, which names the limit.
type ResultTooLargeError struct{ Msg string }

func (e *ResultTooLargeError) Error() string { return e.Msg }

// BusyError refuses a request for want of capacity: Status 429 (this client has too many
// requests running or waiting) or 503 (the server is busy). The API sends Retry-After and shows
// Msg.
type BusyError struct {
	Status     int
	Msg        string
	RetryAfter time.Duration
}

func (e *BusyError) Error() string { return e.Msg }

type clientKey struct{}

// WithClient returns ctx carrying the identity of the client making the request (its remote
// address today; the principal once requests are authenticated), for the backend's per-client
// limits.
func WithClient(ctx context.Context, client string) context.Context {
	return context.WithValue(ctx, clientKey{}, client)
}

// WithStatement returns ctx carrying text, the statement a client sent, when the query a door
// runs for it is only part of it (the SELECT of a Postgres DECLARE … CURSOR FOR or COPY (…) TO
// STDOUT): Query and Answer record text in the audit log, as the client sent it, with what the
// query they ran read (its tables, rows, outcome).
func WithStatement(ctx context.Context, text string) context.Context {
	return context.WithValue(ctx, statementKey{}, text)
}

// StatementFrom is the text WithStatement put in ctx, or sql when there is none.
func StatementFrom(ctx context.Context, sql string) string {
	if s, ok := ctx.Value(statementKey{}).(string); ok {
		return s
	}
	return sql
}

type statementKey struct{}

// ClientFromContext is the client identity WithClient put in ctx, or "" when there is none.
func ClientFromContext(ctx context.Context) string {
	c, _ := ctx.Value(clientKey{}).(string)
	return c
}
