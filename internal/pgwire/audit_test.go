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
