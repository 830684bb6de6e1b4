package pgwire_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestTimestamptzTextIsPostgresText: a timestamp with time zone in text format is PostgreSQL's
// "2024-01-02 01:04:05.5+00" (not "…Z"), which psycopg2 parses into an aware datetime and psql
// shows as PostgreSQL does; the store's own eventtime cast to one reads back the same.
func TestTimestamptzTextIsPostgresText(t *testing.T) {
	f := sharedLake(t)
	py := debianPython(t, "psycopg2")
	s := startServer(t, f.dir, pgwire.Options{})
	out, err := psql(t, s.dsn(f.admin, ""), "-A", "-t", "-c", `SELECT TIMESTAMPTZ '2024-01-02 03:04:05.5+02', TIMESTAMPTZ '2024-01-02 03:04:05+00'`)
	if err != nil || strings.TrimSpace(out) != "2024-01-02 01:04:05.5+00|2024-01-02 03:04:05+00" {
		t.Fatalf("psql: %v %q", err, out)
	}
	script := `
import sys, psycopg2
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
cur.execute("SELECT TIMESTAMPTZ '2024-01-02 03:04:05.5+02', now()")
a, b = cur.fetchone()
print(a.isoformat(), b.tzinfo is not None)
cur.execute('SELECT CAST(eventtime AS TIMESTAMP WITH TIME ZONE), eventtime FROM "aws:cloudtrail"."' + sys.argv[2] + '" ORDER BY eventtime LIMIT 1')
tz, naive = cur.fetchone()
print(tz.replace(tzinfo=None) == naive, tz.utcoffset().total_seconds())
`
	got, err := exec.Command(py, "-c", script, s.dsn(f.admin, ""), f.storeID).CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "2024-01-02T01:04:05.500000+00:00 True\nTrue 0.0" {
		t.Fatalf("psycopg2: %v\n%s", err, got)
	}
}
