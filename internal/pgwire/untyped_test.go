package pgwire_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestUntypedParametersAreText: a parameter the client leaves untyped and nothing in the query
// types (SELECT $1, 'x' || $1) is described as text (OID 25), as PostgreSQL describes it, and so
// is its column: pgx reads "abcd" back without a cast. A parameter that its context types (a
// LIMIT, a comparison with a column) stays unspecified, so pgx sends an integer as one.
func TestUntypedParametersAreText(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.bob, ""))
	ctx := context.Background()
	table := `"aws:cloudtrail"."` + f.storeID + `"`

	sd, err := c.Prepare(ctx, "label", `SELECT $1 AS label, 1 AS one`)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.ParamOIDs) != 1 || sd.ParamOIDs[0] != pgtype.TextOID || sd.Fields[0].DataTypeOID != pgtype.TextOID || sd.Fields[1].DataTypeOID != pgtype.Int4OID {
		t.Fatalf("SELECT $1 described with parameters %v and columns %v, want [25] and text, int4", sd.ParamOIDs, sd.Fields)
	}
	var label string
	var one int32
	if err := c.QueryRow(ctx, "label", "abcd").Scan(&label, &one); err != nil || label != "abcd" || one != 1 {
		t.Fatalf("SELECT $1 with 'abcd': %q %d %v", label, one, err)
	}
	var joined string
	if err := c.QueryRow(ctx, `SELECT 'prefix-' || $1 AS x, 2 AS two`, "abc").Scan(&joined, &one); err != nil || joined != "prefix-abc" {
		t.Fatalf("'prefix-' || $1: %q %v", joined, err)
	}
	// Two parameters: the one that reaches a column is text, the LIMIT's stays an integer.
	rows, err := c.Query(ctx, `SELECT $1 AS label, 7 AS seven FROM `+table+` LIMIT $2`, "x", 3)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var seven int32
		if err := rows.Scan(&label, &seven); err != nil || label != "x" || seven != 7 {
			t.Fatalf("row %d: %q %d %v", n, label, seven, err)
		}
		n++
	}
	if rows.Err() != nil || n != 3 {
		t.Fatalf("SELECT $1 … LIMIT $2: %d rows, %v", n, rows.Err())
	}
	var cnt int64
	if err := c.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE eventsource = $1`, "ec2.amazonaws.com").Scan(&cnt); err != nil || cnt != int64(f.bobEvents) {
		t.Fatalf("a typed context: %d %v", cnt, err)
	}
}
