package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
)

// sealedEngine opens an engine with the given memory limit, writes a small CSV file inside the
// directory it allows and another outside it, and seals it. It returns the engine and the two
// file paths.
func sealedEngine(t *testing.T, memory string) (db *engine.DB, inside, outside string) {
	t.Helper()
	ctx := context.Background()
	allowed, other := t.TempDir(), t.TempDir()
	inside = filepath.Join(allowed, "inside.csv")
	outside = filepath.Join(other, "outside.csv")
	for _, p := range []string{inside, outside} {
		if err := os.WriteFile(p, []byte("a,b\n1,secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: memory, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Seal(ctx, []string{allowed}); err != nil {
		t.Fatal(err)
	}
	return db, inside, outside
}

// wantQueryError checks that err is a refusal meant for the user: a *engine.QueryError whose
// message contains want.
func wantQueryError(t *testing.T, what string, err error, want string) {
	t.Helper()
	var qe *engine.QueryError
	if !errors.As(err, &qe) {
		t.Errorf("%s: got %T %v, want a *engine.QueryError", what, err, err)
		return
	}
	if !strings.Contains(qe.Msg, want) {
		t.Errorf("%s: message %q does not say %q", what, qe.Msg, want)
	}
}

func TestSealLocksTheConfiguration(t *testing.T) {
	ctx := context.Background()
	db, _, _ := sealedEngine(t, "")
	var access string
	if err := db.QueryRow(ctx, "SELECT CAST(current_setting('enable_external_access') AS VARCHAR)").Scan(&access); err != nil {
		t.Fatal(err)
	}
	if access != "false" {
		t.Fatalf("enable_external_access = %s after Seal, want false", access)
	}
	// Not even the engine's own connection (internal SQL, no statement check) can change a
	// setting once sealed: DuckDB's lock_configuration refuses it.
	for _, stmt := range []string{
		"SET enable_external_access = true",
		"SET allowed_directories = ['/']",
		"SET lock_configuration = false",
		"RESET enable_external_access",
		"SET memory_limit = '100GB'",
		"PRAGMA memory_limit = '100GB'",
		"PRAGMA threads = 64",
	} {
		if err := db.Exec(ctx, stmt); err == nil {
			t.Errorf("sealed engine accepted %q", stmt)
		}
	}
	if err := db.QueryRow(ctx, "SELECT CAST(current_setting('enable_external_access') AS VARCHAR)").Scan(&access); err != nil {
		t.Fatal(err)
	}
	if access != "false" {
		t.Fatalf("enable_external_access = %s after the attempts, want false", access)
	}
	// A second connection to the sealed instance is sealed too, with the instance's settings.
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var tz string
	if err := c.QueryRow(ctx, "SELECT CAST(current_setting('TimeZone') AS VARCHAR)").Scan(&tz); err != nil || tz != "UTC" {
		t.Errorf("second connection's TimeZone = %q (%v), want UTC", tz, err)
	}
	if err := c.Exec(ctx, "SET enable_external_access = true"); err == nil {
		t.Error("a second connection changed enable_external_access")
	}
	if _, err := c.UserQuery(ctx, "SELECT 1", engine.Limits{}); err != nil {
		t.Errorf("a second connection of a sealed engine runs no user query: %v", err)
	}
	if err := db.AllowPaths(ctx, []string{"/etc/passwd"}); err == nil {
		t.Error("AllowPaths after Seal was accepted")
	}
}

func TestUserQueryNeedsASealedEngine(t *testing.T) {
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.UserQuery(ctx, "SELECT 1", engine.Limits{}); err == nil || !strings.Contains(err.Error(), "unsealed") {
		t.Fatalf("user query on an unsealed engine: got %v, want a refusal naming the unsealed engine", err)
	}
}

func TestStatementCheckAcceptsOnlyOneSelect(t *testing.T) {
	ctx := context.Background()
	db, _, _ := sealedEngine(t, "")
	f := func(query, want string) {
		t.Helper()
		wantQueryError(t, query, db.CheckUserSQL(ctx, query), want)
		// UserQuery applies the same check before running anything.
		if _, err := db.UserQuery(ctx, query, engine.Limits{}); err == nil {
			t.Errorf("UserQuery ran %q", query)
		}
	}
	f(`COPY (SELECT 1) TO '/tmp/x.csv'`, "only SELECT")
	f(`ATTACH ':memory:' AS other`, "only SELECT")
	f(`DETACH memory`, "only SELECT")
	f(`INSTALL httpfs`, "only SELECT")
	f(`LOAD httpfs`, "only SELECT")
	f(`CREATE TABLE x AS SELECT 1`, "only SELECT")
	f(`CREATE MACRO m(x) AS x`, "only SELECT")
	f(`INSERT INTO x VALUES (1)`, "only SELECT")
	f(`PRAGMA enable_profiling`, "only SELECT")
	f(`SET threads = 1`, "only SELECT")
	f(`EXPORT DATABASE '/tmp/x'`, "only SELECT")
	f(`SELECT 1; SELECT 2`, "exactly one SELECT statement, got 2")
	f(`SELECT 1; DROP TABLE x`, "")
	f(`SELEC 1`, "syntax error")
	f(`SELECT * FROM other.main.t`, `catalog "other" is not allowed`)
	for _, ok := range []string{
		`SELECT 1`,
		`WITH a AS (SELECT 2 AS x) SELECT x FROM a`,
		`SELECT 1 UNION ALL SELECT 2`,
		`SELECT i FROM range(3) t(i)`,
		`SELECT unnest([1, 2])`,
		`SELECT * FROM generate_series(1, 3)`,
		`SELECT * FROM json_each('{"a":1}')`,
	} {
		if err := db.CheckUserSQL(ctx, ok); err != nil {
			t.Errorf("ordinary query %q refused: %v", ok, err)
		}
		if _, err := db.UserQuery(ctx, ok, engine.Limits{}); err != nil {
			t.Errorf("ordinary query %q failed: %v", ok, err)
		}
	}
}

func TestTableFunctionAllowlist(t *testing.T) {
	ctx := context.Background()
	db, inside, outside := sealedEngine(t, "")
	for _, q := range []string{
		`SELECT * FROM read_csv('` + outside + `')`,
		`SELECT * FROM read_csv_auto('` + outside + `')`,
		`SELECT * FROM read_parquet('` + outside + `')`,
		`SELECT * FROM read_json('` + outside + `')`,
		// inside the allowed directory too: user SQL reads the registered tables only
		`SELECT * FROM read_csv('` + inside + `')`,
		`SELECT * FROM glob('/etc/*')`,
		`SELECT * FROM read_text('/etc/passwd')`,
		`SELECT * FROM read_blob('/etc/passwd')`,
		`SELECT * FROM sniff_csv('/etc/passwd')`,
		`SELECT * FROM parquet_metadata('` + outside + `')`,
		`SELECT * FROM query('SELECT 1')`,
		`SELECT * FROM duckdb_settings()`,
		`SELECT * FROM duckdb_tables()`,
		`SELECT * FROM duckdb_secrets()`,
		`SELECT * FROM duckdb_extensions()`,
		`SELECT * FROM pragma_version()`,
		// nested where a walk of the top level alone would miss them
		`WITH a AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM a`,
		`SELECT (SELECT content FROM read_text('/etc/passwd'))`,
		`SELECT 1 WHERE 1 IN (SELECT 1 FROM glob('/etc/*'))`,
	} {
		_, err := db.UserQuery(ctx, q, engine.Limits{})
		wantQueryError(t, q, err, "is not allowed")
	}
	// A file named as a table, in either place.
	for _, q := range []string{`SELECT * FROM '` + outside + `'`, `SELECT * FROM '/etc/passwd'`} {
		_, err := db.UserQuery(ctx, q, engine.Limits{})
		wantQueryError(t, q, err, "reading files directly")
	}
	// Under the statement check, DuckDB's own access control holds too: the engine's internal
	// SQL, which is not checked, reads inside the allowed directory and nothing outside it.
	var b string
	if err := db.QueryRow(ctx, "SELECT b FROM read_csv(?)", inside).Scan(&b); err != nil || b != "secret" {
		t.Errorf("internal read inside the allowed directory: %q, %v", b, err)
	}
	for _, p := range []string{outside, "/etc/passwd"} {
		if err := db.QueryRow(ctx, "SELECT count(*) FROM read_text(?)", p).Scan(new(int64)); err == nil {
			t.Errorf("sealed engine read %s with internal SQL", p)
		}
	}
}

func TestUserQueryTimeLimit(t *testing.T) {
	ctx := context.Background()
	db, _, _ := sealedEngine(t, "")
	_, err := db.UserQuery(ctx, `SELECT count(*) FROM range(1000000000) a, range(1000000) b WHERE a.range + b.range = -1`, engine.Limits{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, engine.ErrTimeout) {
		t.Fatalf("long query: got %v, want ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "query timed out after 200ms") {
		t.Errorf("message %q does not say the query timed out and after how long", err)
	}
	// The engine answers the next query.
	res, err := db.UserQuery(ctx, "SELECT 42", engine.Limits{Timeout: time.Minute})
	if err != nil || len(res.Rows) != 1 || res.Rows[0][0] != int32(42) {
		t.Fatalf("query after a timeout: %v, %v", res, err)
	}
	// A caller's own cancellation is not reported as the time limit.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.UserQuery(cctx, "SELECT 1", engine.Limits{Timeout: time.Minute}); !errors.Is(err, context.Canceled) || errors.Is(err, engine.ErrTimeout) {
		t.Errorf("cancelled context: got %v, want context.Canceled, not ErrTimeout", err)
	}
}

func TestUserQueryMemoryLimit(t *testing.T) {
	ctx := context.Background()
	db, _, _ := sealedEngine(t, "64MB")
	// About 2 GB of string in one aggregate: no spilling can make it fit in 64 MB.
	_, err := db.UserQuery(ctx, `SELECT length(string_agg(repeat('x', 1000), '')) FROM range(2000000)`, engine.Limits{Timeout: time.Minute})
	wantQueryError(t, "query over the memory limit", err, "ran out of memory")
	if !engine.IsOutOfMemory(err) {
		t.Errorf("IsOutOfMemory(%v) = false", err)
	}
	// The process and the engine survive it.
	res, err := db.UserQuery(ctx, "SELECT sum(i) FROM range(1000) t(i)", engine.Limits{Timeout: time.Minute})
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("query after running out of memory: %v, %v", res, err)
	}
}

func TestUserQueryRowLimitTruncates(t *testing.T) {
	ctx := context.Background()
	db, _, _ := sealedEngine(t, "")
	res, err := db.UserQuery(ctx, "SELECT i FROM range(10) t(i)", engine.Limits{MaxRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 3 || !res.Truncated {
		t.Fatalf("got %d rows, truncated %v; want 3, true", len(res.Rows), res.Truncated)
	}
	if len(res.Columns) != 1 || res.Columns[0].Name != "i" || res.Columns[0].Type != "BIGINT" {
		t.Errorf("columns = %+v, want [i BIGINT]", res.Columns)
	}
}

// TestAnEngineThatReadsOnceKeepsNoFileCaches: an engine that reads each file about once and
// lives long (a watcher's) has DuckDB's Parquet footer cache and file content cache off — each
// new file grew them, and the process, up to the memory limit — while any other engine keeps
// the footer cache (a warm query over many files costs what it would over few).
func TestAnEngineThatReadsOnceKeepsNoFileCaches(t *testing.T) {
	ctx := context.Background()
	for _, once := range []bool{false, true} {
		db, err := engine.Open(ctx, engine.Options{ReadsOnce: once})
		if err != nil {
			t.Fatal(err)
		}
		var footers, contents bool
		if err := db.QueryRow(ctx, "SELECT current_setting('parquet_metadata_cache'), current_setting('enable_external_file_cache')").Scan(&footers, &contents); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if footers == once || (once && contents) {
			t.Errorf("ReadsOnce %v: footer cache %v, content cache %v", once, footers, contents)
		}
	}
}
