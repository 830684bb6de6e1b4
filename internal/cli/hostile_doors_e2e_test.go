package cli_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestCatalogReadersOutsideTheParseTreeAreRefusedForARestrictedReader: DuckDB's built-in
// macros pg_get_viewdef, pg_get_constraintdef and format_type read duckdb_views(),
// duckdb_constraints() and duckdb_types() inside their definitions, where the parse tree the
// sandbox checks shows only the call; SHOW TABLES / SHOW ALL TABLES list the whole catalog
// without naming a table; current_setting reads the configuration. As a reader with a row- and
// column-filtered grant (bob) and one with no grant (dave), each is refused, and nothing of
// what lies under the views — the raw table's name and columns, the grant's filter, the data
// directory, the store's files — shows.
func TestCatalogReadersOutsideTheParseTreeAreRefusedForARestrictedReader(t *testing.T) {
	a := newAccessLake(t)
	hidden := []string{"__raw_", "useridentity", "eventjson", "sourceipaddress", a.dir, "stores/", ".parquet", "allowed_directories", bobFilter}
	attacks := []string{
		// Every view's definition, whatever its oid.
		"SELECT oid, pg_get_viewdef(oid) FROM range(0, 1000000) t(oid) WHERE pg_get_viewdef(oid) IS NOT NULL",
		`SELECT pg_catalog."PG_GET_VIEWDEF"(oid) FROM range(0, 1000000) t(oid) WHERE length(pg_catalog.pg_get_viewdef(oid)) > 0`,
		"SELECT list_filter(list_transform(range(0, 1000000), x -> pg_get_viewdef(x)), y -> y IS NOT NULL)",
		"SELECT pg_get_constraintdef(oid) FROM range(0, 1000) t(oid)",
		"SELECT format_type(oid, 0) FROM range(0, 100) t(oid)",
		"SELECT current_setting('allowed_directories')",
		"SELECT current_setting('temp_directory')",
		"SHOW TABLES",
		"SHOW ALL TABLES",
		"SELECT * FROM (SHOW ALL TABLES)",
		`SELECT column_names FROM (SHOW ALL TABLES) WHERE name LIKE '\_\_raw%' ESCAPE '\'`,
		"WITH t AS (SHOW ALL TABLES) SELECT * FROM t",
		// A WITH names a catalog view only where it is in scope: in its own definition, or
		// outside the subquery that defines it, the name is the catalog's.
		"WITH duckdb_views AS (SELECT * FROM duckdb_views) SELECT view_name, sql FROM duckdb_views",
		"WITH duckdb_columns AS (SELECT * FROM duckdb_columns) SELECT table_name, column_name FROM duckdb_columns",
		"SELECT viewname, definition FROM (WITH pg_views AS (SELECT 1) SELECT 1) x, pg_views",
		"SELECT (WITH duckdb_tables AS (SELECT 1) SELECT 1), * FROM duckdb_tables",
		"SELECT * FROM " + a.table() + " WHERE eventname IN (SELECT sql FROM duckdb_views) OR EXISTS (WITH duckdb_views AS (SELECT 1) SELECT 1)",
		"WITH RECURSIVE duckdb_views AS (SELECT sql FROM duckdb_views UNION ALL SELECT sql FROM duckdb_views WHERE false) SELECT * FROM duckdb_views",
		"WITH a AS (SELECT 1), pg_class AS (SELECT * FROM pg_class) SELECT relname FROM pg_class",
	}
	for _, who := range []string{"bob", "dave"} {
		for _, sql := range attacks {
			out, errOut, code := run(t, a.dir, "query", "--format", "csv", "--as", who, sql)
			if code == 0 {
				t.Errorf("%s ran %s:\n%.400s", who, sql, out)
			}
			for _, h := range hidden {
				if strings.Contains(sql, h) {
					continue
				}
				if strings.Contains(out, h) || strings.Contains(errOut, h) {
					t.Errorf("%s: %s shows %q:\nstdout: %.400s\nstderr: %.400s", who, sql, h, out, errOut)
				}
			}
		}
	}
	// What stays: a WITH read later in its query, in a subquery, by a later WITH, and a
	// recursive WITH that reads itself in its recursive part.
	for sql, want := range map[string]string{
		"WITH x AS (SELECT * FROM " + a.table() + ") SELECT count(*) FROM x WHERE (SELECT count(*) FROM x) > 0": "87",
		"WITH x AS (SELECT eventname FROM " + a.table() + "), y AS (SELECT * FROM x) SELECT count(*) FROM y":    "87",
		"WITH RECURSIVE t AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT max(n) FROM t":    "5",
		"WITH x AS (SELECT 1 AS n) SELECT (WITH y AS (SELECT n FROM x) SELECT count(*) FROM y)":                 "1",
	} {
		if strings.Contains(sql, a.table()) {
			want = a.count(t, "", "SELECT count(*) FROM "+a.table()+" WHERE "+bobFilter)
		}
		if got := a.count(t, "bob", sql); got != want {
			t.Errorf("bob's %s: %s, want %s", sql, got, want)
		}
	}
	// What stays: DESCRIBE and SUMMARIZE of a view the reader may read show its columns only;
	// the operator keeps SHOW ALL TABLES.
	out := mustRun(t, 0, a.dir, "query", "--format", "csv", "--as", "bob", "SELECT column_name FROM (DESCRIBE "+a.table()+")")
	if strings.Contains(out, "useridentity") || !strings.Contains(out, "eventname") {
		t.Errorf("bob's DESCRIBE of his view: %s", out)
	}
	if out := mustRun(t, 0, a.dir, "query", "--format", "csv", "SELECT name FROM (SHOW ALL TABLES)"); !strings.Contains(out, a.id) {
		t.Errorf("the operator's SHOW ALL TABLES: %s", out)
	}
}

// get sends GET path to the real serve as principal and returns the status and the body.
func (g governServer) get(t *testing.T, principal, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, g.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.as(t, req, principal)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSourcesAndMetricsNameNoStoreToAReader: GET /api/sources and GET /metrics list every store
// by name and id with its rows, files and newest event. Through the real serve, a reader with a
// filtered grant on one store (bob) and one with no grant (dave) get 403 and no store's name;
// an admin and a user granted manage see the overview.
func TestSourcesAndMetricsNameNoStoreToAReader(t *testing.T) {
	a := newAccessLake(t)
	mustRun(t, 0, a.dir, "user", "create", "erin")
	mustRun(t, 0, a.dir, "grant", "manage", "--to", "user:erin")
	g := startServedGovern(t, a.dir)
	for _, path := range []string{"/api/sources", "/metrics"} {
		for _, who := range []string{"user:bob", "user:dave"} {
			st, body := g.get(t, who, path)
			if st != http.StatusForbidden {
				t.Errorf("GET %s as %s: %d, want 403", path, who, st)
			}
			for _, h := range []string{a.other, `"other"`, "store=\"other\"", "auditlake-audit", a.id} {
				if strings.Contains(body, h) {
					t.Errorf("GET %s as %s shows %s:\n%.400s", path, who, h, body)
				}
			}
		}
		for _, who := range []string{"user:alice", "user:erin"} {
			if st, body := g.get(t, who, path); st != http.StatusOK || !strings.Contains(body, "other") {
				t.Errorf("GET %s as %s: %d %.300s, want 200 naming every store", path, who, st, body)
			}
		}
	}
}
