package pgwire_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestPostgresStringSyntaxesThroughPsqlAndPgx: PostgreSQL's escape strings (E'…') and
// dollar-quoted strings ($$…$$) hold a ; and quotes as text in a multi-statement Query (psql)
// and a prepared statement with parameters (pgx), in catalog and data queries; a bad escape is
// 22021 and the session goes on.
func TestPostgresStringSyntaxesThroughPsqlAndPgx(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	table := `"aws:cloudtrail"."` + f.storeID + `"`
	out, err := psql(t, s.dsn(f.bob, ""), "-A", "-t", "-c",
		`SELECT E'it\'s; x'; SELECT $$a;b'c$$ || $t$;$t$; SELECT relname FROM pg_class WHERE relname = $$`+f.storeID+`$$; SELECT count(*) FROM `+table+` WHERE eventsource = E'ec2.amazonaws.com' AND 'x;' = $$x;$$`)
	if want := fmt.Sprintf("it's; x\na;b'c;\n%s\n%d", f.storeID, f.bobEvents); err != nil || strings.TrimSpace(out) != want {
		t.Fatalf("psql: %v\n%s\nwant\n%s", err, out, want)
	}
	if out, err := psql(t, s.dsn(f.bob, ""), "-v", "VERBOSITY=verbose", "-c", `SELECT E'\000'`); err == nil || !strings.Contains(out, "ERROR:  22021") {
		t.Errorf("a NUL escape: %v %s, want 22021", err, out)
	}
	c := pgxConnect(t, s.dsn(f.bob, ""))
	var text string
	var n int
	err = c.QueryRow(context.Background(), `SELECT E'it\'s; ' || $$;'$$, count(*) FROM `+table+` WHERE eventsource = $1 AND $2 = E'x;\''`, "ec2.amazonaws.com", "x;'").Scan(&text, &n)
	if err != nil || text != "it's; ;'" || n != f.bobEvents {
		t.Fatalf("pgx: %v %q %d", err, text, n)
	}
}

// TestCommentsEndAsTheEngineReadsThem: a -- comment ends at a carriage return and block
// comments nest, in PostgreSQL's lexer and the engine's; the door read a -- comment to the next
// newline and a block comment to its first */, so `SELECT 1 AS a -- c\r, 2 AS b` lost its
// second column in a data query, and the door and the engine disagreed on where a statement's
// SQL was. Through pgx's simple protocol, in data and catalog queries.
func TestCommentsEndAsTheEngineReadsThem(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.bob, ""))
	from := ` FROM "aws:cloudtrail"."` + f.storeID + `" LIMIT 1`
	for _, q := range []string{
		"SELECT 1 AS a -- c\r, 2 AS b" + from,
		"SELECT 1 AS a /* x /* y */ z */, 2 AS b" + from,
		"SELECT 1 AS a -- c\r, 2 AS b FROM pg_catalog.pg_namespace LIMIT 1",
		"SELECT 1 AS a -- c\r, length(E'\\x62\\'') AS b FROM pg_catalog.pg_namespace LIMIT 1", // E'b\'' after the comment
		"SELECT 1 AS a /* x /* y */ z */, 2 AS b FROM pg_catalog.pg_namespace LIMIT 1",
	} {
		var a, b int32
		if err := c.QueryRow(context.Background(), q, pgx.QueryExecModeSimpleProtocol).Scan(&a, &b); err != nil || a != 1 || b != 2 {
			t.Errorf("%q: %d %d %v, want 1 2", q, a, b, err)
		}
	}
}
