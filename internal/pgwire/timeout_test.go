package pgwire_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestStatementTimeoutFromOptionsAndSet: a statement_timeout given in the connection's options
// (psycopg2's options='-c statement_timeout=…', libpq's PGOPTIONS) or by SET is shown by SHOW
// and stops a longer query with 57014, within the server's own timeout; 0 lifts it again, and a
// value that is no duration is refused (22023) as PostgreSQL does. A TimeZone in the options is
// not taken: the server writes timestamps in UTC, and SHOW says so.
func TestStatementTimeoutFromOptionsAndSet(t *testing.T) {
	f := sharedLake(t)
	py := debianPython(t, "psycopg2")
	s := startServer(t, f.dir, pgwire.Options{})
	script := `
import sys, time, psycopg2
conn = psycopg2.connect(sys.argv[1], options='-c statement_timeout=300 -c DateStyle=ISO,\\ MDY')
conn.autocommit = True
cur = conn.cursor()
cur.execute('SHOW statement_timeout')
print(cur.fetchone()[0])
long = 'SELECT count(*) FROM range(0, 100000000000) a, range(0, 10) b WHERE a.range % 7 = b.range'
start = time.time()
try:
    cur.execute(long)
    print('finished')
except psycopg2.Error as e:
    print(e.pgcode, time.time() - start < 20)
cur.execute("SET statement_timeout = '1s'")
cur.execute('SHOW statement_timeout')
print(cur.fetchone()[0])
cur.execute('SET statement_timeout = 0')
cur.execute('SELECT 1')
print(cur.fetchone()[0])
try:
    cur.execute("SET statement_timeout = 'soon'")
except psycopg2.Error as e:
    print(e.pgcode)
`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", script, s.dsn(f.admin, "")).CombinedOutput()
	if want := "300\n57014 True\n1s\n1\n22023"; err != nil || strings.TrimSpace(string(out)) != want {
		t.Fatalf("psycopg2: %v\n%s\nwant\n%s", err, out, want)
	}
	bin := needTool(t, "psql")
	cmd := exec.Command(bin, "-X", "-A", "-t", "-d", s.dsn(f.admin, ""), "-c", "SHOW statement_timeout", "-c", "SHOW search_path", "-c", "SHOW TimeZone")
	cmd.Env = append(cmd.Environ(), "PGOPTIONS=-c statement_timeout=2min --search-path=x -c TimeZone=Europe/Paris")
	got, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "2min\nx\nUTC" { // values are written in UTC whatever the client asks
		t.Fatalf("psql with PGOPTIONS: %v %q", err, got)
	}
}
