package pgwire

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/engine"
)

// regexCases are expressions with PostgreSQL's regular-expression operators over the row
// a = 'abc', b = 'x.y', n = 5, and the value PostgreSQL gives each, derived from PostgreSQL 15's
// documentation: ~ matches anywhere ("Pattern Matching", POSIX Regular Expressions), ~* ignores
// case, !~ and !~* negate; and the "Operator Precedence" table (SQL Syntax, Lexical Structure):
// . :: [ ] unary - COLLATE AT ^ * / % + - bind tighter than "any other operator" (||, ~, ~~ …,
// left-associative among themselves), which binds tighter than BETWEEN IN LIKE, then the
// comparisons, IS, NOT, AND, OR.
var regexCases = []struct{ expr, want string }{
	{`a ~ 'b'`, "true"},         // anywhere, not the whole string
	{`a ~ '^b'`, "false"},       // anchored
	{`a !~ 'b'`, "false"},       // negated
	{`a ~* 'B'`, "true"},        // case folded
	{`a !~* 'B'`, "false"},      // both
	{`a~'c'`, "true"},           // no spaces
	{`a!~'c'`, "false"},         // !~ written together
	{`a~*'C'`, "true"},          // ~* written together
	{`a /* c */ ~ 'b'`, "true"}, // a comment between
	{`a ~ b`, "false"},          // a column as the pattern: 'abc' has no x
	{`'zabcz' ~ a`, "true"},     // a literal subject, a column pattern
	{`b ~ '.'`, "true"},         // the pattern is a regular expression
	{`NULL ~ 'a'`, ""},          // NULL
	{`a ~ NULL`, ""},            // NULL
	// || is "any other operator" too, left-associative: a || b ~ 'cx' is (a || b) ~ 'cx'.
	{`a || b ~ 'cx'`, "true"},
	{`'x' || a ~ 'xa'`, "true"},
	{`a ~ 'a' || 'bc'`, "truebc"}, // (a ~ 'a') || 'bc'
	{`a ~ 'b' || 'c' ~ 'truec'`, "true"},
	// Tighter operators stay inside the operands.
	{`n + 1 || 'x' ~ '^6x$'`, "true"},
	{`n * 2 || '' ~ '^10$'`, "true"},
	{`-n || '' ~ '^-5$'`, "true"},
	{`a ~ ('b' || 'c')`, "true"},
	// Casts belong to the operand next to them.
	{`a::text ~ 'b'`, "true"},
	{`n::varchar ~ '^5$'`, "true"},
	{`n::character varying ~ '^5$'`, "true"},
	{`n::varchar(10) ~ '5'`, "true"},
	{`n::text || b ~ '5x'`, "true"},
	{`a ~ 'B'::text || ''`, "false"}, // (a ~ 'B'::text) || ''
	{`(a ~ 'b')::int`, "1"},
	// COLLATE binds tighter too.
	{`a COLLATE nocase ~ 'b'`, "true"},
	{`a ~ 'b' COLLATE nocase`, "true"},
	{`a ~ 'b' COLLATE nocase || ''`, "true"},
	// Looser operators stay outside: NOT, AND, OR, comparisons, IS, BETWEEN, IN.
	{`NOT a ~ 'b'`, "false"},
	{`NOT a !~ 'b'`, "true"},
	{`NOT (a ~ 'z')`, "true"},
	{`a ~ 'b' AND b ~ 'y'`, "true"},
	{`a ~ 'z' OR b !~ 'q'`, "true"},
	{`a ~ 'b' AND NOT b ~ 'q' AND n = 5`, "true"},
	{`a ~ 'b' = true`, "true"},
	{`true = a ~ 'b'`, "true"},
	{`a ~ 'z' <> b ~ 'z'`, "false"},
	{`a ~ 'b' IS TRUE`, "true"},
	{`a ~ 'z' IS NOT NULL`, "true"},
	{`a ~ 'b' BETWEEN false AND true`, "true"},
	{`a ~ 'b' IN (true)`, "true"},
	// Names, calls, parentheses, CASE and subscripts as operands.
	{`t.a ~ '^a'`, "true"},
	{`"a" ~ 'c$'`, "true"},
	{`(a) ~ 'b'`, "true"},
	{`(a || 'q') ~ 'cq'`, "true"},
	{`lower(a || 'X') ~ 'cx'`, "true"},
	{`a ~ lower('B')`, "true"},
	{`coalesce(a ~ 'c', false)`, "true"},
	{`coalesce(NULL, b ~ 'z', a ~ 'a')`, "false"},
	{`CASE WHEN a ~ 'b' THEN 'y' ELSE 'n' END`, "y"},
	{`CASE WHEN a ~ 'z' THEN 1 ELSE 2 END`, "2"},
	{`CASE WHEN n > 1 THEN a ELSE b END ~ 'c'`, "true"},
	{`a ~ CASE WHEN n > 1 THEN 'b' ELSE 'z' END`, "true"},
	{`(ARRAY[a, b])[2] ~ 'y'`, "true"},
	{`strpos(a, 'b') || a ~ '^2abc$'`, "true"},
	// The LIKE operators ~~, ~~*, !~~ are not regular expressions; a prefix ~ is bitwise not.
	{`a ~~ '%b%'`, "true"},
	{`a !~~ '%b%'`, "false"},
	{`a ~~* '%B%'`, "true"},
	{`~n`, "-6"},
}

// TestRegexOperatorsFollowPostgresPrecedence: each rewritten expression, run by the engine,
// gives PostgreSQL's value (the engine's own ~ matches the whole string, and the old rewrite
// took only the last name before the operator as its left operand).
func TestRegexOperatorsFollowPostgresPrecedence(t *testing.T) {
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range regexCases {
		q, err := regexOperators(`SELECT CAST((`+c.expr+`) AS VARCHAR) FROM (VALUES ('abc', 'x.y', 5)) t(a, b, n)`, catalogRegex)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		var got sql.NullString
		if err := db.QueryRow(ctx, q).Scan(&got); err != nil || got.String != c.want {
			t.Errorf("%s = %q (%v), want %q\nrewritten: %s", c.expr, got.String, err, c.want, q)
		}
	}
}

// TestRegexOperatorsInClauses: the rewrite in a WHERE clause, a join condition and a select
// list, with the operators PostgreSQL's catalog queries use (psql's \dt pattern).
func TestRegexOperatorsInClauses(t *testing.T) {
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for q, want := range map[string]string{
		`SELECT count(*) FROM (VALUES ('abc'), ('xbz'), ('q')) t(a) WHERE a ~ 'b' AND NOT a ~ '^x'`:                  "1",
		`SELECT count(*) FROM (VALUES ('abc'), ('xbz'), ('q')) t(a) WHERE a !~ 'b' OR a ~* '^X'`:                     "2",
		`SELECT string_agg(a, ',' ORDER BY a) FROM (VALUES ('abc'), ('xbz')) t(a) JOIN (VALUES ('c')) u(p) ON a ~ p`: "abc",
		`SELECT a ~ 'b' AS m FROM (VALUES ('abc')) t(a)`:                                                             "true",
	} {
		rq, err := regexOperators(q, catalogRegex)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := db.QueryRow(ctx, rq).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q\nrewritten: %s", q, got, err, want, rq)
		}
	}
}

// TestRegexOperatorsLeftAsWritten: what the rewrite cannot read stays as written.
func TestRegexOperatorsLeftAsWritten(t *testing.T) {
	for _, q := range []string{`SELECT ~5`, `SELECT a ~ ANY(x)`, `SELECT a ~`, `SELECT a ~ (b`, `SELECT a ~~ 'x'`} {
		got, err := regexOperators(q, catalogRegex)
		if err != nil || got != q {
			t.Errorf("regexOperators(%q) = %q, %v", q, got, err)
		}
	}
	if got, _ := regexOperators(`SELECT 1 WHERE x ~ 'a' -- ~ 'b'`, catalogRegex); !strings.HasSuffix(got, "-- ~ 'b'") {
		t.Errorf("a comment was rewritten: %q", got)
	}
}

// FuzzRegexOperators: the rewrite never panics, leaves SQL without a regular-expression operator
// as written, and what it writes still lexes.
func FuzzRegexOperators(f *testing.F) {
	for _, c := range regexCases {
		f.Add(c.expr)
	}
	f.Add(`SELECT (a ~ 'x'`)
	f.Add(`a ~ ]`)
	f.Add(`CASE a ~ END`)
	f.Fuzz(func(t *testing.T, sql string) {
		got, err := regexOperators(sql, catalogRegex)
		if err != nil {
			return // the lexer refused it (an unterminated string)
		}
		if !strings.Contains(sql, "~") && got != sql {
			t.Fatalf("%q without ~ became %q", sql, got)
		}
		if _, err := regexOperators(got, catalogRegex); err != nil {
			t.Fatalf("%q became %q, which does not lex: %v", sql, got, err)
		}
	})
}

// TestRegexOperatorsBounded: a statement with more regular-expression operators than the bound
// is refused with 54001 before any rewriting (a chain of them costs the square of its length).
func TestRegexOperatorsBounded(t *testing.T) {
	q := "SELECT a" + strings.Repeat(" ~ 'x' || a", maxRegexOperators+1)
	_, err := regexOperators(q, catalogRegex)
	if pe, ok := err.(*pgError); !ok || pe.code != "54001" {
		t.Fatalf("%d operators: %v", maxRegexOperators+1, err)
	}
	q = "SELECT a" + strings.Repeat(" ~ 'x' || a", maxRegexOperators)
	if got, err := regexOperators(q, catalogRegex); err != nil || strings.Count(got, "regexp_matches") != maxRegexOperators {
		t.Fatalf("%d operators: %v", maxRegexOperators, err)
	}
}
