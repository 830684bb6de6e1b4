package engine_test

import (
	"context"
	"testing"

	"github.com/auditlake/auditlake/internal/engine"
)

// hostileNames are names and values that break SQL pasted together by hand.
var hostileNames = []string{`plain`, `it's`, `say "hi"`, `both '" quotes`, `with space`, `ünïcödé 名前`, `semi;colon -- x`, `back\slash`, `'); DROP TABLE t; --`}

// TestIdentAndLiteralRoundTripThroughTheEngine: every name quoted by Ident names exactly that
// table and column, and every value quoted by Literal (alone or in ListLiteral) reads back as
// itself.
func TestIdentAndLiteralRoundTripThroughTheEngine(t *testing.T) {
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range hostileNames {
		if err := db.Exec(ctx, "CREATE SCHEMA "+engine.Ident(name)); err != nil {
			t.Fatalf("schema %q: %v", name, err)
		}
		table := engine.Ident(name) + "." + engine.Ident(name)
		if err := db.Exec(ctx, "CREATE TABLE "+table+" ("+engine.Ident(name)+" VARCHAR)"); err != nil {
			t.Fatalf("table %q: %v", name, err)
		}
		if err := db.Exec(ctx, "INSERT INTO "+table+" VALUES ("+engine.Literal(name)+")"); err != nil {
			t.Fatalf("insert %q: %v", name, err)
		}
		var got, col string
		if err := db.QueryRow(ctx, "SELECT "+engine.Ident(name)+", (SELECT column_name FROM duckdb_columns() WHERE schema_name = "+engine.Literal(name)+") FROM "+table).Scan(&got, &col); err != nil {
			t.Fatalf("read %q: %v", name, err)
		}
		if got != name || col != name {
			t.Errorf("value %q and column %q read back, want %q", got, col, name)
		}
	}
	var n int
	if err := db.QueryRow(ctx, "SELECT len(list_filter("+engine.ListLiteral(hostileNames)+", x -> x IN ("+joinLiterals(hostileNames)+")))").Scan(&n); err != nil || n != len(hostileNames) {
		t.Errorf("ListLiteral: %d of %d values read back (%v)", n, len(hostileNames), err)
	}
}

func joinLiterals(vs []string) string {
	out := ""
	for i, v := range vs {
		if i > 0 {
			out += ", "
		}
		out += engine.Literal(v)
	}
	return out
}
