package pgwire_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestCatalogColumnsArePostgresNamed: the columns of a catalog query without aliases are named
// as PostgreSQL names them — a function call after the function (version, current_database,
// current_user, pg_backend_pid, count), a cast after its operand, another expression ?column? —
// not with the engine's text of the expression ("version"(), a quoted user id, count_star()), so
// psycopg2's dict rows and pgx's field names find them; an alias stays as written.
func TestCatalogColumnsArePostgresNamed(t *testing.T) {
	f := sharedLake(t)
	py := debianPython(t, "psycopg2")
	s := startServer(t, f.dir, pgwire.Options{})
	const q = `SELECT version(), current_database(), current_schema(), current_user, session_user, pg_backend_pid(),
		current_setting('server_version'), relname::text, 1 + 1, count(*), CASE WHEN true THEN 1 END, 'x' AS "database-type"
		FROM pg_catalog.pg_class GROUP BY relname LIMIT 1`
	const want = "version current_database current_schema current_user session_user pg_backend_pid current_setting relname ?column? count case database-type"
	script := `
import sys, psycopg2, psycopg2.extras
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
cur.execute(sys.argv[2])
row = cur.fetchone()
print(' '.join(d.name for d in cur.description))
print(row['current_user'] == row['session_user'] == sys.argv[3], row['pg_backend_pid'] == conn.get_backend_pid(), row['version'].startswith('PostgreSQL 15'))
`
	out, err := exec.Command(py, "-c", script, s.dsn(f.bob, ""), q, f.bob.AccessKeyID).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != want+"\nTrue True True" {
		t.Fatalf("psycopg2: %v\n%s\nwant\n%s", err, out, want)
	}
	c := pgxConnect(t, s.dsn(f.bob, ""))
	rows, err := c.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fd := range rows.FieldDescriptions() {
		names = append(names, fd.Name)
	}
	rows.Close()
	if got := strings.Join(names, " "); got != want {
		t.Errorf("pgx field names %q, want %q", got, want)
	}
}
