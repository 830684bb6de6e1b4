package pgwire_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestCopyToStdoutThroughPsqlPsycopg2AndPgx: psql's \copy (query) TO STDOUT and TO a file,
// psycopg2's copy_expert and pgx's CopyTo export a query's rows in PostgreSQL's text and CSV
// formats (escapes, quotes, NULL, HEADER), a row-filtered reader's COPY of the store holds its
// rows only, and COPY FROM, COPY to a server file or program and binary COPY are refused.
func TestCopyToStdoutThroughPsqlPsycopg2AndPgx(t *testing.T) {
	f := sharedLake(t)
	py := debianPython(t, "psycopg2")
	s := startServer(t, f.dir, pgwire.Options{})
	table := `"aws:cloudtrail"."` + f.storeID + `"`
	const odd = `SELECT 1 AS n, 'a,b"c' AS q, NULL AS z, '' AS e, 'x	y\z' || chr(10) AS t`
	out, err := psql(t, s.dsn(f.admin, ""), "-c", `\copy (`+odd+`) TO STDOUT`, "-c", `\copy (`+odd+`) TO STDOUT WITH CSV HEADER`,
		"-c", `COPY (`+odd+`) TO STDOUT (FORMAT csv, DELIMITER ';', NULL 'nil', FORCE_QUOTE (n))`)
	if want := "1\ta,b\"c\t\\N\t\tx\\ty\\\\z\\n\n" + "n,q,z,e,t\n1,\"a,b\"\"c\",,\"\",\"x\ty\\z\n\"\n" + "\"1\";\"a,b\"\"c\";nil;;\"x\ty\\z\n\"\n"; err != nil || out != want {
		t.Fatalf("psql \\copy: %v\n%q\nwant\n%q", err, out, want)
	}
	file := filepath.Join(t.TempDir(), "names.csv")
	out, err = psql(t, s.dsn(f.bob, ""), "-c", `\copy `+table+` (eventid, eventsource) TO '`+file+`' CSV HEADER`)
	data, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if err != nil || len(lines) != f.bobEvents+1 || lines[0] != "eventid,eventsource" || strings.Count(string(data), ",ec2.amazonaws.com\n") != f.bobEvents {
		t.Fatalf("reader's \\copy to a file: %v %s: %d lines, want %d", err, out, len(lines), f.bobEvents+1)
	}
	for stmt, code := range map[string]string{
		`COPY ` + table + ` FROM STDIN`:                                 "25006",
		`COPY (SELECT 1) TO '/tmp/x'`:                                   "42501",
		`COPY (SELECT 1) TO PROGRAM 'id'`:                               "42501",
		`COPY (SELECT 1) TO STDOUT (FORMAT binary)`:                     "0A000",
		`COPY (SELECT 1) TO STDOUT (HEADER)`:                            "0A000",
		`COPY (SELECT * FROM "aws:cloudtrail"."nosuchstore") TO STDOUT`: "42P01",
	} {
		if out, err := psql(t, s.dsn(f.admin, ""), "-v", "VERBOSITY=verbose", "-c", stmt); err == nil || !strings.Contains(out, "ERROR:  "+code) {
			t.Errorf("%s: %v %s, want %s", stmt, err, out, code)
		}
	}
	script := `
import sys, io, psycopg2
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
buf = io.StringIO()
cur.copy_expert('COPY (SELECT eventid FROM "aws:cloudtrail"."' + sys.argv[2] + '" ORDER BY eventid) TO STDOUT WITH (FORMAT csv)', buf)
cur.execute('SELECT eventid FROM "aws:cloudtrail"."' + sys.argv[2] + '" ORDER BY eventid')
print(buf.getvalue() == ''.join(r[0] + '\n' for r in cur.fetchall()), cur.rowcount)
`
	got, err := exec.Command(py, "-c", script, s.dsn(f.admin, ""), f.storeID).CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != fmt.Sprintf("True %d", f.allEvents) {
		t.Fatalf("psycopg2 copy_expert: %v\n%s", err, got)
	}
	c := pgxConnect(t, s.dsn(f.bob, ""))
	var b bytes.Buffer
	tag, err := c.PgConn().CopyTo(context.Background(), &b, `COPY (SELECT count(*) FROM `+table+`) TO STDOUT`)
	if err != nil || tag.String() != "COPY 1" || b.String() != fmt.Sprintf("%d\n", f.bobEvents) {
		t.Fatalf("pgx CopyTo: %v %q %q", err, tag, b.String())
	}
}

// TestCopyNullStringIsBounded: COPY's NULL string is written for every NULL of the result, so
// its length multiplied what a result of a few NULLs made the server hold: NULL of 1 MiB over
// 20 NULL columns of 10 rows had the server buffer 200 MiB for one COPY (1,000 rows were
// buffered before a flush), and longer strings and more columns would end it for want of
// memory, whatever --max-result-bytes says. A NULL string of at most 1 KiB is taken (psql);
// a longer one is 22023, and the rows still come out right, flushed as they go (psycopg2).
func TestCopyNullStringIsBounded(t *testing.T) {
	f := sharedLake(t)
	py := debianPython(t, "psycopg2")
	s := startServer(t, f.dir, pgwire.Options{})
	okNull := strings.Repeat("n", 1024)
	out, err := psql(t, s.dsn(f.bob, ""), "-c", `COPY (SELECT NULL AS a, 1 AS b) TO STDOUT (NULL '`+okNull+`')`)
	if want := okNull + "\t1\n"; err != nil || out != want {
		t.Fatalf("a NULL string of 1 KiB: %v %q", err, out)
	}
	if out, err := psql(t, s.dsn(f.bob, ""), "-v", "VERBOSITY=verbose", "-c", `COPY (SELECT NULL) TO STDOUT (NULL '`+okNull+`x')`); err == nil || !strings.Contains(out, "ERROR:  22023") {
		t.Errorf("a NULL string of 1 KiB and 1 byte: %v %.200s, want 22023", err, out)
	}
	script := `
import sys, io, psycopg2
conn = psycopg2.connect(sys.argv[1])
buf = io.StringIO()
conn.cursor().copy_expert("COPY (SELECT NULL, repeat('x', i::INTEGER) FROM range(3000) t(i)) TO STDOUT (FORMAT csv, NULL '" + 'n' * 1024 + "')", buf)
lines = buf.getvalue().split('\n')
print(len(lines) - 1, all(l == 'n' * 1024 + ',' + 'x' * i for i, l in enumerate(lines[:-1])))
`
	got, err := exec.Command(py, "-c", script, s.dsn(f.bob, "")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "3000 True" {
		t.Fatalf("psycopg2 copy_expert of 3000 long rows: %v\n%s", err, got)
	}
}
