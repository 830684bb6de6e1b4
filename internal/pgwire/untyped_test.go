package pgwire_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestUntypedParametersAreText: a parameter the client leaves untyped and nothing in the query
// types (SELECT $1, 'x' || $1) is described as text (OID 25), as PostgreSQL describes it, and so
// is its column: pgx reads "abcd" back without a cast. A parameter that its context types (a
// LIMIT, a comparison with a column) stays unspecified, so pgx sends an integer as one.
func TestUntypedParametersAreText(t *testing.T) {
	f, c, table := readerConn(t)
	ctx := context.Background()

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

// TestCastParametersTakeTheirCastsType: a parameter the client leaves untyped and the query
// casts ($1::uuid, CAST($1 AS bigint), $1::text[]) is described with the cast's type, as
// PostgreSQL infers it, so pgx sends a [16]byte as a uuid, a []string as a text[] and an int as
// a bigint (it could not encode the first two for an unspecified type); an array parameter, in
// binary or as PostgreSQL's array text {a,"b c"} under a declared text[] (as pgjdbc's setArray
// sends it), is a list to the query; a bytea keeps its bytes (\x00 was read as an escape).
func TestCastParametersTakeTheirCastsType(t *testing.T) {
	_, c, table := readerConn(t)
	ctx := context.Background()

	q := `SELECT count(*) FROM ` + table + ` WHERE contains($1::text[], eventname) AND eventid <> CAST($2 AS uuid) AND $3::bigint > 0`
	sd, err := c.Prepare(ctx, "casts", q)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint32{pgtype.TextArrayOID, pgtype.UUIDOID, pgtype.Int8OID}; fmt.Sprint(sd.ParamOIDs) != fmt.Sprint(want) {
		t.Fatalf("parameters described as %v, want %v", sd.ParamOIDs, want)
	}
	var all, some int64
	if err := c.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE eventsource = 'ec2.amazonaws.com'`).Scan(&all); err != nil {
		t.Fatal(err)
	}
	names := []string{"GetPasswordData", "DescribeInstances"}
	if err := c.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE eventname IN ('GetPasswordData', 'DescribeInstances')`).Scan(&some); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := c.QueryRow(ctx, "casts", names, [16]byte{1, 2, 3}, 7).Scan(&n); err != nil || n != some || some == 0 || some == all {
		t.Fatalf("casts: %d %v, want %d", n, err, some)
	}
	var b []byte
	var list []string
	if err := c.QueryRow(ctx, `SELECT $1::bytea, $2::text[]`, []byte{0, 1, 2}, []string{"a", "b c", ""}).Scan(&b, &list); err != nil ||
		fmt.Sprint(b) != "[0 1 2]" || fmt.Sprint(list) != "[a b c ]" || len(list) != 3 {
		t.Fatalf("bytea and text[]: %v %q %v", b, list, err)
	}

	// A declared text[] in text format, as pgjdbc sends setArray's value.
	pc := c.PgConn()
	if _, err := pc.Prepare(ctx, "declared", `SELECT cardinality($1) AS n, element_at($1, 2) AS second`, []uint32{pgtype.TextArrayOID}); err != nil {
		t.Fatal(err)
	}
	res := pc.ExecPrepared(ctx, "declared", [][]byte{[]byte(`{a,"b c",NULL}`)}, []int16{0}, []int16{0}).Read()
	if res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != "3" || string(res.Rows[0][1]) != "b c" {
		t.Fatalf("declared text[] in text format: %v %q", res.Err, res.Rows)
	}
}

// readerConn is a pgx connection of the fixture's row-filtered reader to a server of its own,
// and the store's table.
func readerConn(t *testing.T) (*lakeFixture, *pgx.Conn, string) {
	t.Helper()
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	return f, pgxConnect(t, s.dsn(f.bob, "")), `"aws:cloudtrail"."` + f.storeID + `"`
}

// TestAnyOfAnUntypedArrayParameter: PostgreSQL's idiom x = ANY($1) with an untyped parameter
// (pgx sends a []string as the array text {a,b} then) compared x with the string '{a,b}' and
// failed; the parameter is an array there, of strings, and x <> ALL($1) too.
func TestAnyOfAnUntypedArrayParameter(t *testing.T) {
	f, c, table := readerConn(t)
	ctx := context.Background()
	names := []string{"GetPasswordData", "DescribeInstances"}
	var want, got, rest int64
	if err := c.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE eventname IN ('GetPasswordData', 'DescribeInstances')`).Scan(&want); err != nil || want == 0 {
		t.Fatal(want, err)
	}
	if err := c.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE eventname = ANY($1)`, names).Scan(&got); err != nil || got != want {
		t.Fatalf("= ANY($1): %d %v, want %d", got, err, want)
	}
	if err := c.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE eventname <> ALL($1)`, names).Scan(&rest); err != nil || rest != int64(f.bobEvents)-want {
		t.Fatalf("<> ALL($1): %d %v, want %d", rest, err, int64(f.bobEvents)-want)
	}
	// A string that looks like an array elsewhere stays a string.
	var s string
	if err := c.QueryRow(ctx, `SELECT $1 || ''`, "{a,b}").Scan(&s); err != nil || s != "{a,b}" {
		t.Fatalf("a {…} string: %q %v", s, err)
	}
}
