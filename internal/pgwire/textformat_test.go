package pgwire_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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

// TestUUIDIsSentAsAUUID: a UUID column reads as its canonical text in text format (psql,
// psycopg2, pgx's simple protocol), equal to the engine's own text of it, and as the same value
// in binary (pgx's extended protocol) — not as its 16 raw bytes.
func TestUUIDIsSentAsAUUID(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	const q = `SELECT u, CAST(u AS VARCHAR) FROM (SELECT CAST('45e8c1a2-24ed-431c-90b1-ed22d4a600b9' AS UUID) AS u UNION ALL SELECT uuid())`
	out, err := psql(t, s.dsn(f.admin, ""), "-A", "-t", "-c", q)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || !strings.HasPrefix(out, "45e8c1a2-24ed-431c-90b1-ed22d4a600b9|45e8c1a2-24ed-431c-90b1-ed22d4a600b9\n") {
		t.Fatalf("psql: %v %q", err, out)
	}
	for _, l := range lines {
		if u := strings.Split(l, "|"); len(u) != 2 || u[0] != u[1] {
			t.Errorf("psql: the UUID column %q is not its text", l)
		}
	}
	c := pgxConnect(t, s.dsn(f.admin, ""))
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		rows, err := c.Query(context.Background(), q, mode)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var u pgtype.UUID
			var text string
			if err := rows.Scan(&u, &text); err != nil {
				t.Fatalf("%v: %v", mode, err)
			}
			if got := fmt.Sprintf("%x-%x-%x-%x-%x", u.Bytes[0:4], u.Bytes[4:6], u.Bytes[6:8], u.Bytes[8:10], u.Bytes[10:16]); got != text {
				t.Errorf("%v: uuid %s, its text %s", mode, got, text)
			}
			n++
		}
		if rows.Err() != nil || n != 2 {
			t.Fatalf("%v: %v, %d rows", mode, rows.Err(), n)
		}
	}
}

// TestFloatTextIsPostgresText: real and double precision values in text format are written as
// PostgreSQL writes them (a real's shortest digits, not its double's; NaN, Infinity, -Infinity;
// scientific notation past 1e15), so psql shows PostgreSQL's text and a client reading text
// (pgx's simple protocol) gets the value it reads in binary.
func TestFloatTextIsPostgresText(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	const q = `SELECT CAST(1.1 AS REAL), CAST(123456789 AS REAL), CAST(0.1 AS DOUBLE), CAST('NaN' AS DOUBLE),
		CAST('Infinity' AS DOUBLE), CAST('-Infinity' AS DOUBLE), CAST(1e20 AS DOUBLE), CAST(0.00001 AS DOUBLE),
		CAST(123456789012345 AS DOUBLE), CAST(-0.5 AS DOUBLE)`
	out, err := psql(t, s.dsn(f.admin, ""), "-A", "-t", "-c", q)
	if want := "1.1|1.2345679e+08|0.1|NaN|Infinity|-Infinity|1e+20|1e-05|123456789012345|-0.5"; err != nil || strings.TrimSpace(out) != want {
		t.Fatalf("psql: %v %q, want %q", err, out, want)
	}
	c := pgxConnect(t, s.dsn(f.admin, ""))
	var got [2][]any
	for i, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		rows, err := c.Query(context.Background(), q, mode)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			if got[i], err = rows.Values(); err != nil {
				t.Fatal(err)
			}
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
	}
	if fmt.Sprint(got[0]) != fmt.Sprint(got[1]) || len(got[0]) != 10 {
		t.Errorf("binary %v, text %v", got[0], got[1])
	}
}

// TestNumericKeepsItsScale: a DECIMAL(p,s) value is sent with its scale, as PostgreSQL sends a
// numeric(p,s) — 1.00, not 1 — in text (psql, psycopg2's Decimal) and in binary (pgx reads the
// same numeric in both formats).
func TestNumericKeepsItsScale(t *testing.T) {
	f := sharedLake(t)
	py := debianPython(t, "psycopg2")
	s := startServer(t, f.dir, pgwire.Options{})
	const q = `SELECT CAST(1 AS DECIMAL(10,2)), CAST(-1.25 AS DECIMAL(38,10)), CAST(0 AS DECIMAL(5,2)), 1.50, CAST(12345678901234567890 AS DECIMAL(38,0))`
	out, err := psql(t, s.dsn(f.admin, ""), "-A", "-t", "-c", q)
	if want := "1.00|-1.2500000000|0.00|1.50|12345678901234567890"; err != nil || strings.TrimSpace(out) != want {
		t.Fatalf("psql: %v %q, want %q", err, out, want)
	}
	got, err := exec.Command(py, "-c", "import sys, psycopg2\nc = psycopg2.connect(sys.argv[1]).cursor()\nc.execute(sys.argv[2])\nprint(' '.join(str(v) for v in c.fetchone()))", s.dsn(f.admin, ""), q).CombinedOutput()
	if want := "1.00 -1.2500000000 0.00 1.50 12345678901234567890"; err != nil || strings.TrimSpace(string(got)) != want {
		t.Fatalf("psycopg2: %v %q, want %q", err, got, want)
	}
	c := pgxConnect(t, s.dsn(f.admin, ""))
	var vals [2][]string
	for i, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		ns := make([]pgtype.Numeric, 5)
		if err := c.QueryRow(context.Background(), q, mode).Scan(&ns[0], &ns[1], &ns[2], &ns[3], &ns[4]); err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		for _, n := range ns {
			vals[i] = append(vals[i], fmt.Sprintf("%se%d", n.Int, n.Exp))
		}
	}
	if fmt.Sprint(vals[0]) != fmt.Sprint(vals[1]) || vals[0][0] != "100e-2" {
		t.Errorf("binary %v, text %v; want equal, 1.00 as 100e-2", vals[0], vals[1])
	}
}
