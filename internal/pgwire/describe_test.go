package pgwire_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestDescribeIsMarkedInTheAuditLog: pgx prepares a statement (Parse, Describe: the server runs it
// with LIMIT 0 to learn its columns) and executes it. The audit log holds both runs, and the
// Describe run is told apart: its user agent ends in " [Describe]" and it returned no rows; the
// execution's is the connection's own.
func TestDescribeIsMarkedInTheAuditLog(t *testing.T) {
	f := sharedLake(t)
	s := startServerApp(t, f.dir, pgwire.Options{}, app.Options{MaxClientQueries: -1, MaxWaiting: 256}, true)
	ctx := context.Background()
	c := pgxConnect(t, s.dsn(f.admin, "application_name=describetest"))
	tag := fmt.Sprintf("describe-test-%d", c.PgConn().PID())
	q := `SELECT eventname, '` + tag + `' AS tag FROM "aws:cloudtrail"."` + f.storeID + `" WHERE eventsource = $1`
	if _, err := c.Prepare(ctx, "described", q); err != nil {
		t.Fatal(err)
	}
	rows, err := c.Query(ctx, "described", "ec2.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if rows.Err() != nil || n != f.bobEvents {
		t.Fatalf("execution: %d rows (%v), want %d", n, rows.Err(), f.bobEvents)
	}
	if err := s.audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := c.Query(ctx, `SELECT useragent, json_extract_scalar(responseelements, '$.rowsReturned')
		FROM "aws:cloudtrail"."auditlake-audit"
		WHERE eventname = 'StartQuery' AND strpos(json_extract_scalar(requestparameters, '$.queryStatement'), $1) > 0
		ORDER BY eventtime`, tag)
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for got.Next() {
		var ua, returned string
		if err := got.Scan(&ua, &returned); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, ua+" rows="+returned)
	}
	if got.Err() != nil {
		t.Fatal(got.Err())
	}
	want := []string{"postgres (describetest) [Describe] rows=0", fmt.Sprintf("postgres (describetest) rows=%d", f.bobEvents)}
	if strings.Join(entries, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit entries of the statement:\n%s\nwant:\n%s", strings.Join(entries, "\n"), strings.Join(want, "\n"))
	}
}
