package cli_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/jackc/pgx/v5/pgconn"
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
		// The engine folds names in ASCII only: a WITH named with the Kelvin sign (U+212A) is
		// not duckdb_views to it, whatever strings.ToLower says.
		"WITH \"duc\u212adb_views\" AS (SELECT 1) SELECT view_name, sql FROM duckdb_views",
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

// TestFailedAuthenticationsCountAcrossEveryDoor: the failed-login limit holds at every door of
// one serve, and one door's failures count at the others. Five SigV4 requests signed with a
// wrong secret block that key id at the AWS API (429 ThrottlingException), the JSON API (429)
// and the Postgres door (FATAL 28000) even with the right secret; five wrong SCRAM logins block
// another key id the same way at every door; a third key id from the same address is not
// blocked. Before, the AWS API and the Postgres door took any number of guesses.
func TestFailedAuthenticationsCountAcrossEveryDoor(t *testing.T) {
	dir := t.TempDir()
	type key struct{ id, secret string }
	users := map[string]key{}
	for _, u := range []string{"sigv4-guessed", "pg-guessed", "bystander"} {
		var c struct {
			AccessKeyID     string `json:"access_key_id"`
			SecretAccessKey string `json:"secret_access_key"`
		}
		if err := json.Unmarshal([]byte(mustRunTB(t, dir, "user", "create", u, "--output", "json")), &c); err != nil {
			t.Fatal(err)
		}
		users[u] = key{c.AccessKeyID, c.SecretAccessKey}
	}
	base, pgAddr := servePG(t, dir, io.Discard)
	pgHost, pgPort, _ := net.SplitHostPort(pgAddr)

	sigv4 := func(k key, secret string) (int, string) {
		t.Helper()
		body := []byte("{}")
		r, _ := http.NewRequest(http.MethodPost, base+"/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "CloudTrail_20131101.ListEventDataStores")
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: k.id, SecretAccessKey: secret}, r, hex.EncodeToString(sum[:]), "cloudtrail", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Type string `json:"__type"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Type
	}
	bearer := func(k key) int {
		t.Helper()
		r, _ := http.NewRequest(http.MethodGet, base+"/api/session", nil)
		r.Header.Set("Authorization", "Bearer "+k.id+":"+k.secret)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	pg := func(k key, secret string) string { // "" on success, else the SQLSTATE
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgconn.Connect(ctx, "host="+pgHost+" port="+pgPort+" user="+k.id+" password="+secret+" dbname=auditlake sslmode=disable")
		if err == nil {
			c.Close(ctx)
			return ""
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return pe.Code
		}
		t.Fatalf("postgres connect: %v", err)
		return ""
	}

	g := users["sigv4-guessed"]
	for i := range 5 {
		if st, typ := sigv4(g, "wrong-secret-wrong-secret-wrong-secret-0"); st != http.StatusForbidden {
			t.Fatalf("wrong signature %d: %d %s, want 403", i, st, typ)
		}
	}
	if st, typ := sigv4(g, g.secret); st != http.StatusTooManyRequests || typ != "ThrottlingException" {
		t.Errorf("the right signature after 5 wrong ones: %d %s, want 429 ThrottlingException", st, typ)
	}
	if st := bearer(g); st != http.StatusTooManyRequests {
		t.Errorf("Bearer after 5 wrong signatures: %d, want 429", st)
	}
	if code := pg(g, g.secret); code != "28000" {
		t.Errorf("postgres login after 5 wrong signatures: %q, want 28000", code)
	}

	p := users["pg-guessed"]
	for i := range 5 {
		if code := pg(p, "wrong-secret-wrong-secret-wrong-secret-0"); code != "28P01" {
			t.Fatalf("wrong postgres password %d: %q, want 28P01", i, code)
		}
	}
	if code := pg(p, p.secret); code != "28000" {
		t.Errorf("the right postgres password after 5 wrong ones: %q, want 28000", code)
	}
	if st, typ := sigv4(p, p.secret); st != http.StatusTooManyRequests {
		t.Errorf("the right signature after 5 wrong postgres passwords: %d %s, want 429", st, typ)
	}
	if st := bearer(p); st != http.StatusTooManyRequests {
		t.Errorf("Bearer after 5 wrong postgres passwords: %d, want 429", st)
	}

	b := users["bystander"]
	if st, typ := sigv4(b, b.secret); st != http.StatusOK {
		t.Errorf("another key's signature: %d %s", st, typ)
	}
	if st := bearer(b); st != http.StatusOK {
		t.Errorf("another key's Bearer: %d", st)
	}
	if code := pg(b, b.secret); code != "" {
		t.Errorf("another key's postgres login: %q", code)
	}

	// Each failure is in the audit log, with its door, key id and address; the refusals over
	// the limit (429) are not failures, and the successful calls are not Authenticate records.
	want := "aws," + g.id + ",127.0.0.1,AuthenticationFailed,Unknown\n"
	want = strings.Repeat(want, 5) + strings.Repeat("pg,"+p.id+",127.0.0.1,AuthenticationFailed,Unknown\n", 5)
	var got string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got = mustRunTB(t, dir, "query", "--format", "csv", `SELECT additionaleventdata['door'], useridentity.accesskeyid, sourceipaddress, errorcode, useridentity.type
			FROM "aws:cloudtrail"."auditlake-audit" WHERE eventname = 'Authenticate' ORDER BY 1, eventtime`)
		if _, rows, _ := strings.Cut(got, "\n"); rows == want || time.Now().After(deadline) {
			got = rows
			break
		}
	}
	if got != want {
		t.Errorf("the audit log's Authenticate records:\n%s\nwant the 5 wrong signatures and the 5 wrong postgres logins:\n%s", got, want)
	}
}
