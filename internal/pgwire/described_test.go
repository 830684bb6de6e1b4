package pgwire_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestExecutedColumnsKeepTheirDescribedTypes: pgx describes a statement (run with NULL
// parameters) and then reads its executions in binary by the described types. A column that
// typed as an integer with a NULL parameter and is text with its value (SELECT $1, 'x' || $1)
// was sent as text bytes under int4: "abcd" read as the number 1633837924. Such a value is now
// sent as the described type when it converts, and is PostgreSQL's 0A000 "cached plan must not
// change result type" when it does not; a typed parameter or column ($1::text, CAST(… AS
// VARCHAR)) describes and reads right, and the connection goes on.
func TestExecutedColumnsKeepTheirDescribedTypes(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.bob, ""))
	ctx := context.Background()
	var v any
	err := c.QueryRow(ctx, `SELECT $1 AS label`, "abcd").Scan(&v)
	var pe *pgconn.PgError
	if !asPgError(err, &pe) || pe.Code != "0A000" || !strings.Contains(pe.Message, "cached plan must not change result type") {
		t.Fatalf("SELECT $1 with 'abcd': %T %v %v, want 0A000", v, v, err)
	}
	if err := c.QueryRow(ctx, `SELECT 'prefix-' || $1 AS x`, "abc").Scan(&v); !asPgError(err, &pe) || pe.Code != "0A000" {
		t.Fatalf("'prefix-' || $1: %v %v, want 0A000", v, err)
	}
	var text string
	if err := c.QueryRow(ctx, `SELECT $1::text AS label, CAST('prefix-' || $2 AS VARCHAR)`, "abcd", "abc").Scan(&text, &v); err != nil || text != "abcd" || v != "prefix-abc" {
		t.Fatalf("typed parameters: %q %v %v", text, v, err)
	}
	// The simple protocol has no Describe: the value is text, as it is.
	if err := c.QueryRow(ctx, `SELECT $1 AS label`, pgx.QueryExecModeSimpleProtocol, "abcd").Scan(&v); err != nil || v != "abcd" {
		t.Fatalf("simple protocol: %v %v", v, err)
	}
	var cnt int64
	if err := c.QueryRow(ctx, `SELECT count(*) FROM "aws:cloudtrail"."`+f.storeID+`" WHERE eventsource = $1`, "ec2.amazonaws.com").Scan(&cnt); err != nil || cnt != int64(f.bobEvents) {
		t.Fatalf("the connection after: %d %v", cnt, err)
	}
}
