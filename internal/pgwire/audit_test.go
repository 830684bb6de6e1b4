package pgwire_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestStatementsTheDoorAnswersItselfAreAudited: the statements the Postgres door answers without
// the engine's query path — SET, SHOW, BEGIN/COMMIT, version(), pg_catalog and
// information_schema queries, a statement refused as malformed — are each in the audit log like
// a query: the principal, door pg, the client's address, the statement's text, its rows and, for
// one that failed, its error. psql sends them as one simple Query message, as a restricted reader.
func TestStatementsTheDoorAnswersItselfAreAudited(t *testing.T) {
	f := sharedLake(t)
	s := startServerApp(t, f.dir, pgwire.Options{}, app.Options{MaxClientQueries: -1, MaxWaiting: 256}, true)
	ctx := context.Background()
	tag := fmt.Sprintf("audit-itself-%p", s)
	stmts := []string{
		"SET application_name = 'x' /* " + tag + " 1 */",
		"SHOW server_version /* " + tag + " 2 */",
		"BEGIN /* " + tag + " 3 */",
		"SELECT version() /* " + tag + " 4 */",
		"SELECT nspname FROM pg_catalog.pg_namespace /* " + tag + " 5 */",
		"SELECT table_name FROM information_schema.tables /* " + tag + " 6 */",
		"COMMIT /* " + tag + " 7 */",
		"SET no_such_parameter = 1 /* " + tag + " 8 */",
	}
	out, err := psql(t, s.dsn(f.bob, ""), "-c", strings.Join(stmts, ";\n"))
	if err == nil || !strings.Contains(out, "no_such_parameter") {
		t.Fatalf("psql: %v (want the last statement refused)\n%s", err, out)
	}
	if err := s.audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c := pgxConnect(t, s.dsn(f.admin, ""))
	got, err := c.Query(ctx, `SELECT json_extract_scalar(requestparameters, '$.queryStatement'), useridentity.principalid,
		useridentity.accesskeyid, json_extract_scalar(additionaleventdata, '$.door'), sourceipaddress,
		json_extract_scalar(responseelements, '$.rowsReturned'), coalesce(errorcode, '')
		FROM "aws:cloudtrail"."auditlake-audit"
		WHERE eventname = 'StartQuery' AND strpos(json_extract_scalar(requestparameters, '$.queryStatement'), $1) > 0`, tag)
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string][]string{}
	for got.Next() {
		var e [7]string
		if err := got.Scan(&e[0], &e[1], &e[2], &e[3], &e[4], &e[5], &e[6]); err != nil {
			t.Fatal(err)
		}
		entries[strings.TrimSpace(e[0])] = e[1:]
	}
	if got.Err() != nil {
		t.Fatal(got.Err())
	}
	var missing []string
	for i, st := range stmts {
		e, ok := entries[st]
		switch {
		case !ok:
			missing = append(missing, st)
		case e[0] != "user:bob" || e[1] != f.bob.AccessKeyID || e[2] != "pg" || e[3] != "127.0.0.1":
			t.Errorf("%s: audited as %v, want user:bob, its key, door pg, 127.0.0.1", st, e)
		case i == 4 && e[4] == "0", i == 3 && e[4] != "1":
			t.Errorf("%s: rows %s", st, e[4])
		case i == len(stmts)-1 && e[5] != "QueryFailed", i < len(stmts)-1 && e[5] != "":
			t.Errorf("%s: error code %q", st, e[5])
		}
	}
	if len(missing) > 0 {
		var have []string
		for k := range entries {
			have = append(have, k)
		}
		sort.Strings(have)
		t.Errorf("not in the audit log:\n%s\naudited:\n%s", strings.Join(missing, "\n"), strings.Join(have, "\n"))
	}
}

// TestExtendedProtocolRefusalsAreAudited: a Parse, Bind, Describe or Execute the door refuses
// before any statement runs (a statement that does not tokenize, an unknown prepared statement
// or portal, a Bind with the wrong number of parameters) is in the audit log as a failed
// statement of the principal, with the statement's text where there is one and the refusal —
// they were answered without a trace, so a client could probe the door unseen.
func TestExtendedProtocolRefusalsAreAudited(t *testing.T) {
	f := sharedLake(t)
	s := startServerApp(t, f.dir, pgwire.Options{}, app.Options{MaxClientQueries: -1, MaxWaiting: 256}, true)
	ctx := context.Background()
	tag := fmt.Sprintf("audit-extended-%p", s)
	pc := pgxConnect(t, s.dsn(f.bob, "")).PgConn()
	if _, err := pc.Prepare(ctx, "", "SELECT 'unterminated /* "+tag+" parse */", nil); err == nil {
		t.Fatal("Parse of an unterminated string accepted")
	}
	if err := pc.ExecPrepared(ctx, "no-such-"+tag, nil, nil, nil).Read().Err; err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Bind of an unknown statement: %v", err)
	}
	if _, err := pc.Prepare(ctx, "two", "SELECT $1::int /* "+tag+" bind */", nil); err != nil {
		t.Fatal(err)
	}
	if err := pc.ExecPrepared(ctx, "two", [][]byte{[]byte("1"), []byte("2")}, nil, nil).Read().Err; err == nil || !strings.Contains(err.Error(), "supplies 2 parameters") {
		t.Fatalf("Bind with too many parameters: %v", err)
	}
	if err := s.audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c := pgxConnect(t, s.dsn(f.admin, ""))
	rows, err := c.Query(ctx, `SELECT coalesce(json_extract_scalar(requestparameters, '$.queryStatement'), ''), useridentity.principalid,
		json_extract_scalar(additionaleventdata, '$.door'), coalesce(errorcode, ''), coalesce(errormessage, '')
		FROM "aws:cloudtrail"."auditlake-audit"
		WHERE eventname = 'StartQuery' AND errorcode IS NOT NULL
		AND strpos(coalesce(json_extract_scalar(requestparameters, '$.queryStatement'), '') || coalesce(errormessage, ''), $1) > 0`, tag)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var e [5]string
		if err := rows.Scan(&e[0], &e[1], &e[2], &e[3], &e[4]); err != nil {
			t.Fatal(err)
		}
		if e[1] != "user:bob" || e[2] != "pg" || e[3] == "" {
			t.Errorf("entry %q: principal %s door %s error code %q, want user:bob, pg and an error", e[0], e[1], e[2], e[3])
		}
		switch {
		case strings.Contains(e[0], tag+" parse"):
			got = append(got, "parse")
		case strings.Contains(e[4], "no-such-"+tag):
			got = append(got, "unknown statement")
		case strings.Contains(e[0], tag+" bind") && strings.Contains(e[4], "supplies 2 parameters"):
			got = append(got, "bind")
		}
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	sort.Strings(got)
	if want := []string{"bind", "parse", "unknown statement"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audited refusals %v, want %v", got, want)
	}
}

// TestCopyAndDeclareAreAuditedAsSent: the audit entry of a COPY (query) TO STDOUT, a COPY table
// TO STDOUT and a DECLARE … CURSOR FOR query held only the inner query (or a SELECT * the door
// made of the table), so an auditor could not see that rows left as a COPY or through a cursor.
// Each is now recorded with the statement's text as psql sent it, and with what its query read
// (the store's table, its rows), for a data query and for a catalog one.
func TestCopyAndDeclareAreAuditedAsSent(t *testing.T) {
	f := sharedLake(t)
	s := startServerApp(t, f.dir, pgwire.Options{}, app.Options{MaxClientQueries: -1, MaxWaiting: 256}, true)
	ctx := context.Background()
	tag := fmt.Sprintf("audit-sent-%p", s)
	table := `"aws:cloudtrail"."` + f.storeID + `"`
	stmts := []string{
		`COPY (SELECT eventid FROM ` + table + ` /* ` + tag + ` 1 */) TO STDOUT`,
		`COPY ` + table + ` (eventid) TO STDOUT WITH CSV /* ` + tag + ` 2 */`,
		`BEGIN; DECLARE c CURSOR FOR SELECT eventid FROM ` + table + ` /* ` + tag + ` 3 */`,
		`DECLARE k CURSOR FOR SELECT relname FROM pg_catalog.pg_class /* ` + tag + ` 4 */`,
	}
	if out, err := psql(t, s.dsn(f.bob, ""), "-q", "-o", "/dev/null", "-c", strings.Join(stmts, ";\n")); err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if err := s.audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c := pgxConnect(t, s.dsn(f.admin, ""))
	rows, err := c.Query(ctx, `SELECT json_extract_scalar(requestparameters, '$.queryStatement'),
		json_extract_scalar(responseelements, '$.rowsReturned'), json_extract_scalar(responseelements, '$.tablesRead')
		FROM "aws:cloudtrail"."auditlake-audit"
		WHERE eventname = 'StartQuery' AND strpos(json_extract_scalar(requestparameters, '$.queryStatement'), $1) > 0`, tag)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var text, n, tables string
		if err := rows.Scan(&text, &n, &tables); err != nil {
			t.Fatal(err)
		}
		got[strings.TrimSpace(text)] = n + " " + tables
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	read := fmt.Sprintf(`%d ["aws:cloudtrail.%s"]`, f.bobEvents, f.storeID)
	for i, want := range []string{read, read, read, ""} {
		st := strings.TrimPrefix(stmts[i], "BEGIN; ")
		e, ok := got[st]
		if !ok {
			t.Errorf("no entry with the statement as sent: %s\nentries: %q", st, got)
			continue
		}
		if want != "" && e != want {
			t.Errorf("%s: rows and tables %s, want %s", st, e, want)
		}
	}
	if len(got) != len(stmts) {
		t.Errorf("%d entries, want %d (one a statement): %q", len(got), len(stmts), got)
	}
}
