package pgwire_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestExecutedColumnsKeepTheirDescribedTypes: pgx describes a statement (run with NULL
// parameters) and then reads its executions in binary by the described types. A column that
// typed as an integer with a NULL parameter and is text with its value (SELECT $1 when the
// server does not probe it) was sent as text bytes under int4: "abcd" read as the number
// 1633837924. Such a value is now sent as the described type when it converts, and is
// PostgreSQL's 0A000 "cached plan must not change result type" when it does not; a typed parameter or column ($1::text, CAST(… AS
// VARCHAR)) describes and reads right, and the connection goes on.
func TestExecutedColumnsKeepTheirDescribedTypes(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.bob, ""))
	ctx := context.Background()
	var v any
	// Past maxUntypedProbes untyped parameters the server does not probe which reach a column
	// (TestUntypedParametersAreText), and the column keeps the NULL's integer type.
	var p9 []string
	var args []any
	for i := 2; i <= 10; i++ {
		p9 = append(p9, fmt.Sprintf("$%d IS NULL", i))
		args = append(args, nil)
	}
	err := c.QueryRow(ctx, `SELECT $1 AS label WHERE `+strings.Join(p9, " AND "), append([]any{"abcd"}, args...)...).Scan(&v)
	var pe *pgconn.PgError
	if !asPgError(err, &pe) || pe.Code != "0A000" || !strings.Contains(pe.Message, "cached plan must not change result type") {
		t.Fatalf("SELECT $1 with 'abcd' and 9 more untyped parameters: %T %v %v, want 0A000", v, v, err)
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
