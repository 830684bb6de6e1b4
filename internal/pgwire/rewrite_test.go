package pgwire

import (
	"testing"

	"github.com/auditlake/auditlake/internal/dialect"
)

// TestRewriteCatalog: the rewrites that let the catalog engine run clients' catalog SQL.
func TestRewriteCatalog(t *testing.T) {
	si := sessionInfo{user: "ALAKEXAMPLE"}
	for _, c := range []struct{ in, want string }{
		{`SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(x)$' COLLATE pg_catalog.default`,
			`SELECT c.relname FROM pg_class c WHERE (regexp_matches(c.relname, '^(x)$')) `},
		{`SELECT n.nspname !~ '^pg_toast' FROM pg_namespace n`, `SELECT (NOT regexp_matches(n.nspname, '^pg_toast')) FROM pg_namespace n`},
		{`SELECT 'pg_class'::regclass, c.oid::pg_catalog.regclass`, `SELECT to_regclass('pg_class'), to_regclass(c.oid)`},
		{`SELECT CAST(format('%I.%I', a, b) AS REGCLASS)`, `SELECT to_regclass(format('%I.%I', a, b))`},
		{`SELECT x FROM pg_catalog.unnest(a) x`, `SELECT x FROM unnest(a) AS x(x)`},
		{`SELECT s[i] FROM generate_series(1, 2) as i, string_to_array('a,b', ',') s`,
			`SELECT s[i] FROM generate_series(1, 2) AS i(i), (SELECT string_to_array('a,b', ',') AS s) AS s`},
		{`SELECT current_user, user, session_user, current_catalog, a.attname::name, 'r'::"char"`,
			`SELECT "current_user"(), "user"(), "session_user"(), "current_catalog"(), a.attname::VARCHAR, 'r'::VARCHAR`},
		{`SELECT typinput='pg_catalog.array_in'::regproc, t.typoutput::pg_catalog.regproc FROM pg_catalog.pg_type t`,
			`SELECT typinput='array_in', t.typoutput::VARCHAR FROM pg_type t`},
		// SQLAlchemy: a set-returning function in a select list keeps its alias as a column's.
		{`SELECT unnest(ix.indkey) attnum, generate_subscripts(ix.indkey, 1) ord FROM pg_index ix`,
			`SELECT unnest(ix.indkey) attnum, generate_subscripts(ix.indkey, 1) ord FROM pg_index ix`},
		{`SELECT * FROM pg_class t left outer join pg_attribute a on t.oid = a.attrelid and a.attnum = ANY(ix.indkey)`,
			`SELECT * FROM pg_class t left outer join pg_attribute a on t.oid = a.attrelid and (list_contains(ix.indkey, a.attnum))`},
		{`SELECT 1 WHERE x = ANY (SELECT 1)`, `SELECT 1 WHERE x = ANY (SELECT 1)`},
		{`SELECT 1 WHERE a + b = ANY(arr) OR c <> ALL(arr)`, `SELECT 1 WHERE a + b = ANY(arr) OR (NOT list_contains(arr, c))`},
		// pgjdbc's getSQLKeywords: PostgreSQL's array text, <> ALL, pg_get_keywords().
		{`select string_agg(word, ',') from pg_catalog.pg_get_keywords() where word <> ALL ('{a,"null",NULL,"x\"y",it''s}'::text[])`,
			`select string_agg(word, ',') from pg_get_keywords where (NOT list_contains(['a', 'null', NULL, 'x"y', 'it''s']::text[], word))`},
		{`SELECT json_build_object('a', 1)`, `SELECT json_object('a', 1)`},
		// Array texts the rewrite does not read stay as written (the engine's error names them).
		{`SELECT '{}'::text[], '{{1,2}}'::int[], '{"open}'::text[], '{a}'`, `SELECT []::text[], '{{1,2}}'::int[], '{"open}'::text[], '{a}'`},
		{`SELECT table_name FROM information_schema.tables WHERE table_schema = 'pg_catalog.x'`,
			`SELECT table_name FROM information_schema_pg.tables WHERE table_schema = 'pg_catalog.x'`},
	} {
		got, err := rewriteCatalog(c.in, si)
		if err != nil || got != c.want {
			t.Errorf("rewriteCatalog(%q)\n got %q (%v)\nwant %q", c.in, got, err, c.want)
		}
	}
}

// TestCatalogQueriesAreToldApart: catalog words in strings or as parts of names do not make a
// data query a catalog query.
func TestCatalogQueriesAreToldApart(t *testing.T) {
	for q, want := range map[string]bool{
		`SELECT * FROM pg_catalog.pg_class`:                           true,
		`SELECT version()`:                                            true,
		`SELECT current_user`:                                         true,
		`SELECT eventversion FROM "aws:cloudtrail"."x"`:               false,
		`SELECT 'pg_catalog' AS s FROM "aws:cloudtrail"."x"`:          false,
		`SELECT count(*) FROM "aws:cloudtrail"."x" WHERE version = 1`: false,
		`SELECT 1`: false,
	} {
		toks, err := dialect.Tokens(q)
		if err != nil || isCatalogQuery(toks) != want {
			t.Errorf("isCatalogQuery(%q) = %v, want %v (%v)", q, !want, want, err)
		}
	}
}

// TestBindParamsQuotesValues: a parameter is spliced in as a literal, so SQL in a value stays a value.
func TestBindParamsQuotesValues(t *testing.T) {
	got, err := bindParams(`SELECT $1, '$1', "$2", $2 -- $1`, []string{"'a''b'", "42"})
	if err != nil || got != `SELECT 'a''b', '$1', "$2", 42 -- $1` {
		t.Fatalf("bindParams: %q %v", got, err)
	}
}

// TestDataQueriesWithCatalogWords: a query naming a table of a data schema goes to the data path
// even when it also calls a catalog function; a catalog query (names in strings, aliases
// qualifying columns) does not.
func TestDataQueriesWithCatalogWords(t *testing.T) {
	schemas := map[string]bool{"aws:cloudtrail": true, "cur": true}
	for q, want := range map[string]bool{
		`SELECT version(), count(*) FROM "aws:cloudtrail"."x"`:                                   true,
		`SELECT count(*) AS pg_n FROM "aws:cloudtrail" . "x"`:                                    true,
		`SELECT current_user, sum(cost) FROM CUR.cur_2026`:                                       true,
		`SELECT * FROM pg_catalog.pg_class c WHERE c.relname = 'x'`:                              false,
		`SELECT table_name FROM information_schema.tables WHERE table_schema = 'aws:cloudtrail'`: false,
		`SELECT "cur".relname FROM pg_class AS "cur"`:                                            true,
	} {
		toks, err := dialect.Tokens(q)
		if err != nil || namesDataTable(toks, schemas) != want {
			t.Errorf("namesDataTable(%q) = %v, want %v (%v)", q, !want, want, err)
		}
	}
}
