package pgwire_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestSQLPrepareAndExecute: PostgreSQL's SQL PREPARE name (types) AS query and EXECUTE name
// (arguments) were refused as writes ("only SELECT queries are allowed"). Through psycopg2 (which
// sends the arguments as literals it quoted): a data query and a catalog query prepared and
// executed, a restricted reader's rows only, an argument with a quote and a semicolon stays a
// value, declared types cast their arguments; the wrong number of arguments is 42601, an
// unknown statement 26000, one prepared twice 42P05, and DEALLOCATE closes it. A statement
// that is no query (EXECUTE, SHOW) cannot be prepared, nor be a cursor's or a COPY's query:
// PREPARE loop AS EXECUTE loop made EXECUTE run itself until the stack overflowed, which ends
// the whole process.
func TestSQLPrepareAndExecute(t *testing.T) {
	f := sharedLake(t)
	py := debianPython(t, "psycopg2")
	s := startServer(t, f.dir, pgwire.Options{})
	script := `
import sys, psycopg2
conn = psycopg2.connect(sys.argv[1])
conn.autocommit = True
cur = conn.cursor()
table = '"aws:cloudtrail"."' + sys.argv[2] + '"'
cur.execute('PREPARE counted(text, int) AS SELECT count(*) AS n, $2 + 1 AS next FROM ' + table + ' WHERE eventname <> $1')
cur.execute('EXECUTE counted(%s, %s)', ("it's; DROP", 41))
print(cur.fetchone())
cur.execute('PREPARE listed AS SELECT relname FROM pg_catalog.pg_class WHERE relname = $1')
cur.execute('EXECUTE listed(%s)', (sys.argv[2],))
print(cur.fetchall())
for q in ('EXECUTE counted(1)', 'EXECUTE nosuch', 'PREPARE listed AS SELECT 1', 'DEALLOCATE counted', 'EXECUTE counted(1, 2)',
          'PREPARE loop AS EXECUTE loop', 'EXECUTE loop', 'PREPARE shown AS SHOW server_version', 'DECLARE c CURSOR WITH HOLD FOR EXECUTE listed(1)',
          'COPY (EXECUTE listed(1)) TO STDOUT', 'SELECT 1'):
    try:
        cur.execute(q)
        print(q, '->', cur.statusmessage)
    except psycopg2.Error as e:
        print(q, '->', e.pgcode)
`
	out, err := exec.Command(py, "-c", script, s.dsn(f.bob, ""), f.storeID).CombinedOutput()
	want := fmt.Sprintf(`(%d, 42)
[('%s',)]
EXECUTE counted(1) -> 42601
EXECUTE nosuch -> 26000
PREPARE listed AS SELECT 1 -> 42P05
DEALLOCATE counted -> DEALLOCATE
EXECUTE counted(1, 2) -> 26000
PREPARE loop AS EXECUTE loop -> 42601
EXECUTE loop -> 26000
PREPARE shown AS SHOW server_version -> 42601
DECLARE c CURSOR WITH HOLD FOR EXECUTE listed(1) -> 42601
COPY (EXECUTE listed(1)) TO STDOUT -> 42601
SELECT 1 -> SELECT 1`, f.bobEvents, f.storeID)
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Fatalf("psycopg2: %v\n%s\nwant:\n%s", err, out, want)
	}
}
