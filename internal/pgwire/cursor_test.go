package pgwire_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestPsycopg2NamedCursorFetchesInPages: psycopg2's named (server-side) cursor — DECLARE …
// CURSOR WITHOUT HOLD FOR, FETCH FORWARD n, CLOSE inside the transaction psycopg2 begins — reads
// every row of the query in pages, for an admin and for a row-filtered reader (its rows only);
// iterating a cursor and a cursor over a catalog query work too.
func TestPsycopg2NamedCursorFetchesInPages(t *testing.T) {
	f := sharedLake(t)
	py := debianPython(t, "psycopg2")
	s := startServer(t, f.dir, pgwire.Options{})
	script := `
import sys, psycopg2
conn = psycopg2.connect(sys.argv[1])
table = '"aws:cloudtrail"."' + sys.argv[2] + '"'
cur = conn.cursor('pages')
cur.execute('SELECT eventid, eventsource FROM ' + table + ' WHERE eventtime > %s ORDER BY eventid', ('2000-01-01',))
first = cur.fetchmany(7)
rest = []
while True:
    page = cur.fetchmany(50)
    if not page:
        break
    rest += page
cur.close()
conn.commit()
ids = [r[0] for r in first + rest]
print(len(first), len(ids), len(set(ids)), sorted(set(r[1] for r in first + rest)) == ['ec2.amazonaws.com'])
it = conn.cursor('iter')
it.itersize = 10
it.execute('SELECT eventid FROM ' + table)
print(sum(1 for _ in it))
it.close()
cat = conn.cursor('cat')
cat.execute("SELECT relname FROM pg_catalog.pg_class WHERE relname = %s", (sys.argv[2],))
print(cat.fetchall())
cat.close()
conn.rollback()
conn.close()
`
	for _, c := range []struct {
		name  string
		dsn   string
		count int
		ec2   string
	}{{"admin", s.dsn(f.admin, ""), f.allEvents, "False"}, {"reader", s.dsn(f.bob, ""), f.bobEvents, "True"}} {
		out, err := exec.Command(py, "-c", script, c.dsn, f.storeID).CombinedOutput()
		want := fmt.Sprintf("7 %d %d %s\n%d\n[('%s',)]", c.count, c.count, c.ec2, c.count, f.storeID)
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("%s: %v\n%s\nwant\n%s", c.name, err, out, want)
		}
	}
}

// TestPsqlCursorStatements: DECLARE, FETCH (NEXT, n, FORWARD n, ALL), MOVE and CLOSE through
// psql; a cursor WITHOUT HOLD ends with its transaction, one WITH HOLD outlives it; an unknown
// cursor is 34000, a backward FETCH 55000, a cursor declared twice 42P03, one over an unknown
// table 42P01; a row-filtered principal's cursor reads its rows only.
func TestPsqlCursorStatements(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	table := `"aws:cloudtrail"."` + f.storeID + `"`
	out, err := psql(t, s.dsn(f.admin, ""), "-q", "-A", "-t",
		"-c", `BEGIN; DECLARE c CURSOR FOR SELECT n FROM (VALUES (1), (2), (3), (4), (5), (6)) AS v(n) ORDER BY n; FETCH NEXT FROM c; FETCH 2 FROM c; MOVE 1 IN c; FETCH FORWARD 1 FROM c; FETCH ALL FROM c; FETCH c; CLOSE c; COMMIT`,
		"-c", `DECLARE "Held" CURSOR WITH HOLD FOR SELECT count(*) FROM `+table+`; FETCH ALL FROM "Held"; CLOSE "Held"`)
	if want := fmt.Sprintf("1\n2\n3\n5\n6\n%d", f.allEvents); err != nil || strings.TrimSpace(out) != want {
		t.Fatalf("cursor statements: %v\n%s\nwant\n%s", err, out, want)
	}
	for stmt, code := range map[string]string{
		`BEGIN; DECLARE c CURSOR FOR SELECT 1; COMMIT; FETCH c`:                  "34000",
		`DECLARE c CURSOR WITH HOLD FOR SELECT 1; FETCH BACKWARD 1 FROM c`:       "55000",
		`DECLARE c CURSOR WITH HOLD FOR SELECT 1; DECLARE c CURSOR FOR SELECT 2`: "42P03",
		`CLOSE nosuch`: "34000",
		`BEGIN; DECLARE c CURSOR FOR SELECT * FROM "aws:cloudtrail"."nosuchstore"`: "42P01",
	} {
		out, err := psql(t, s.dsn(f.admin, ""), "-v", "VERBOSITY=verbose", "-c", stmt)
		if err == nil || !strings.Contains(out, "ERROR:  "+code) {
			t.Errorf("%s: %v %s, want %s", stmt, err, out, code)
		}
	}
	// A row-filtered reader's cursor counts its rows only.
	out, err = psql(t, s.dsn(f.bob, ""), "-q", "-A", "-t", "-c", `BEGIN; DECLARE c CURSOR FOR SELECT count(*) FROM `+table+`; FETCH ALL FROM c; COMMIT`)
	if err != nil || strings.TrimSpace(out) != fmt.Sprint(f.bobEvents) {
		t.Errorf("reader's cursor: %v %q, want %d", err, out, f.bobEvents)
	}
}

// TestFetchOfACountPastTheRowsReadsTheRest: FETCH and MOVE of a count larger than any row
// count (the largest bigint, after some rows were read) read or skip the rest, as PostgreSQL
// does: the count added to the rows already read overflowed, and the slice of the rows that
// followed ended the whole server, every client's connection with it.
func TestFetchOfACountPastTheRowsReadsTheRest(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	out, err := psql(t, s.dsn(f.bob, ""), "-q", "-A", "-t",
		"-c", `DECLARE c CURSOR WITH HOLD FOR SELECT n FROM (VALUES (1), (2), (3)) AS v(n) ORDER BY n; FETCH 1 FROM c; FETCH 9223372036854775807 FROM c`,
		"-c", `DECLARE d CURSOR WITH HOLD FOR SELECT n FROM (VALUES (1), (2), (3)) AS v(n) ORDER BY n; FETCH 1 FROM d; MOVE FORWARD 9223372036854775807 IN d; FETCH ALL FROM d; SELECT 4`)
	if want := "1\n2\n3\n1\n4"; err != nil || strings.TrimSpace(out) != want {
		t.Fatalf("fetch past the rows: %v\n%s\nwant\n%s", err, out, want)
	}
}

// TestACursorIsNotDeclaredForACopy: DECLARE … CURSOR FOR COPY (…) TO STDOUT is a syntax error
// (42601), as in PostgreSQL, where a cursor is declared for a query. It was declared, and
// its rows, kept without the columns a COPY sends in its own messages, were sent by FETCH as
// rows of no columns: the index out of range ended the whole server.
func TestACursorIsNotDeclaredForACopy(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	out, err := psql(t, s.dsn(f.bob, ""), "-v", "VERBOSITY=verbose", "-c", `DECLARE c CURSOR WITH HOLD FOR COPY (SELECT 1) TO STDOUT`, "-c", `FETCH ALL FROM c`)
	if err == nil || !strings.Contains(out, "ERROR:  42601") {
		t.Fatalf("DECLARE … FOR COPY: %v %s, want 42601", err, out)
	}
	if out, err := psql(t, s.dsn(f.bob, ""), "-A", "-t", "-c", `SELECT 'still serving'`); err != nil || strings.TrimSpace(out) != "still serving" {
		t.Fatalf("after DECLARE … FOR COPY: %v %s", err, out)
	}
}
