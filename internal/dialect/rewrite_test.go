package dialect

import (
	"strings"
	"testing"
)

func TestRewriteOutput(t *testing.T) {
	f := func(name, in, want string) {
		t.Helper()
		got, err := Rewrite(in)
		if err != nil {
			t.Errorf("%s: Rewrite(%q): %v", name, in, err)
			return
		}
		if got != want {
			t.Errorf("%s: Rewrite(%q)\n got  %q\n want %q", name, in, got, want)
		}
	}
	f("bare EDS id after FROM becomes the aws:cloudtrail table",
		"SELECT eventid FROM EXAMPLEf852-4e8f-8bd1-bcf6cEXAMPLE WHERE x = 1",
		`SELECT eventid FROM "aws:cloudtrail"."EXAMPLEf852-4e8f-8bd1-bcf6cEXAMPLE" WHERE x = 1`)
	f("real UUID after JOIN and after a FROM-list comma",
		"select * from a JOIN 0b9f1c2a-1234-4e8f-8bd1-0123456789ab b on true, 1b9f1c2a-1234-4e8f-8bd1-0123456789ab c",
		`select * from a JOIN "aws:cloudtrail"."0b9f1c2a-1234-4e8f-8bd1-0123456789ab" b on true, "aws:cloudtrail"."1b9f1c2a-1234-4e8f-8bd1-0123456789ab" c`)
	f("quoted id alone gets the catalog; a qualified one stays",
		`select 1 from "0b9f1c2a-1234-4e8f-8bd1-0123456789ab", "aws:cloudtrail"."0b9f1c2a-1234-4e8f-8bd1-0123456789ab"`,
		`select 1 AS "_col0" from "aws:cloudtrail"."0b9f1c2a-1234-4e8f-8bd1-0123456789ab", "aws:cloudtrail"."0b9f1c2a-1234-4e8f-8bd1-0123456789ab"`)
	f("a UUID-shaped string in WHERE is not a table",
		"select 1 from t where id = '0b9f1c2a-1234-4e8f-8bd1-0123456789ab'",
		`select 1 AS "_col0" from t where id = '0b9f1c2a-1234-4e8f-8bd1-0123456789ab'`)
	f("functions inside strings, quoted identifiers and comments are untouched",
		`select 'element_at(x)', "element_at" /* element_at(y) */ -- json_parse(z)
from t`,
		`select 'element_at(x)' AS "_col0", "element_at" /* element_at(y) */ -- json_parse(z)
from t`)
	f("function names in any case; qualified and aliased names are not functions",
		"select Element_At(m, 'k'), t.replace(x), u.x from t AS split(a)",
		`select trino_element_at(m, 'k') AS "_col0", t.replace(x) AS "_col1", u.x from t AS split(a)`)
	f("FILTER clause of an aggregate is not the filter function",
		"select count(*) filter (where x > 1), filter(a, x -> x > 1) from t",
		`select count(*) filter (where x > 1) AS "_col0", list_filter(a, lambda x: x > 1) AS "_col1" from t`)
	f("lambdas with one and two parameters",
		"select transform(a, x -> x + 1), reduce(a, 0, (s, x) -> s + x, s -> s)",
		`select list_transform(a, lambda x: x + 1) AS "_col0", list_transform([list_reduce(a, lambda s, x: s + x, 0)], lambda s: s)[1] AS "_col1"`)
	f("nested Trino types in CAST",
		`select CAST(j AS map(varchar, array(row(a varchar, "B" bigint)))), TRY_CAST(y as timestamp(3) with time zone), cast(v as varbinary), cast(r as real)`,
		`select CAST(j AS MAP(VARCHAR, STRUCT(a VARCHAR, "B" BIGINT)[])) AS "_col0", TRY_CAST(y AS TIMESTAMPTZ) AS "_col1", trino_varbinary(v) AS "_col2", CAST(r AS FLOAT) AS "_col3"`)
	f("a divisor is checked for zero, the item keeps its name",
		"select a / b, c % d.e[1] x, 7 / 2 from t",
		`select a / trino_divisor(b) AS "_col0", c % trino_divisor(d.e[1]) AS x, 7 / 2 AS "_col2" from t`)
	f("CAST to JSON is to_json",
		"select cast(m as json)", `select to_json(m) AS "_col0"`)
	f("date_format with a literal pattern is strftime",
		"select date_format(eventtime, '%Y-%m-%d %H:%i')", `select strftime(eventtime, '%Y-%m-%d %H:%M') AS "_col0"`)
	f("Trino JSON path brackets become DuckDB quoted keys",
		`select json_extract_scalar(j, '$["a b"].c')`, `select trino_json_extract_scalar(j, '$."a b".c') AS "_col0"`)
	f("UNNEST of two arrays becomes a lateral select",
		"select * from t cross join unnest(a, b) as u(x, y)",
		"select * from t cross join (SELECT UNNEST(a), UNNEST(b)) as u(x, y)")
	f("UNNEST of a Lake map column expands key and value",
		"select * from t cross join unnest(requestparameters) as m(k, v)",
		"select * from t cross join (SELECT UNNEST(map_entries(requestparameters), max_depth := 2)) as m(k, v)")
	f("single-array UNNEST stays native",
		"select * from t cross join unnest(a) as u(x)", "select * from t cross join unnest(a) as u(x)")
	f("a line comment ends at a carriage return, as the engine reads it",
		"select 1 a -- c\r, 2 b", "select 1 AS a -- c\r, 2 AS b")
	f("block comments nest, as the engine reads them",
		"select 1 a /* x /* y */ , 2 b */, 3 c", "select 1 AS a /* x /* y */ , 2 b */, 3 AS c")
	f("trailing semicolons, leading and trailing comments dropped",
		"  -- head\nselect 1 -- tail ;\n; ;  ", `select 1 AS "_col0"`)
}

func TestRewriteRejects(t *testing.T) {
	f := func(name, in, wantErr string) {
		t.Helper()
		got, err := Rewrite(in)
		if err == nil {
			t.Errorf("%s: Rewrite(%q) = %q, want error containing %q", name, in, got, wantErr)
			return
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: Rewrite(%q): got error %q, want it to contain %q", name, in, err, wantErr)
		}
	}
	f("two statements", "select 1; select 2", "more than one statement")
	f("empty", " -- nothing\n ;", "empty query")
	f("unterminated string", "select 'abc", "unterminated string")
	f("unterminated quoted identifier", `select "abc`, "unterminated quoted identifier")
	f("unterminated comment", "select 1 /* x", "unterminated block comment")
	f("unterminated nested comment", "select 1 /* x /* y */", "unterminated block comment")
	f("unbalanced parenthesis", "select (1", "unclosed")
	f("stray closing bracket", "select 1)", "unbalanced")
	f("mismatched brackets", "select [1)", "closes")
	f("reduce needs four arguments", "select reduce(a, 0, (s, x) -> s + x)", "want 4 arguments")
	f("format_datetime needs a literal pattern", "select format_datetime(ts, p)", "string literal")
	f("unsupported MySQL specifier", "select date_format(ts, '%D')", "not supported")
	f("bad CAST type", "select cast(x as map(varchar))", "unsupported type")
}

func TestEDSIDShape(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"EXAMPLEf852-4e8f-8bd1-bcf6cEXAMPLE", 34},
		{"0b9f1c2a-1234-4e8f-8bd1-0123456789ab rest", 36},
		{"0b9f1c2a-1234-4e8f-8bd1-0123456789ab.x", 0}, // qualified: not a bare id
		{"abcd-efgh-ijkl-mnop-qrst-uvwx-yzab", 0},     // no digit, 7 groups
		{"my_table", 0}, // not hyphenated
		{"a-b-c-d", 0},  // too short
		{"0b9f1c2a-1234-4e8f-8bd1-0123456789ab_x", 0}, // runs into an identifier
	} {
		if got := edsIDLen(tt.in); got != tt.want {
			t.Errorf("edsIDLen(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestPlaceholdersFillEveryAWSForm(t *testing.T) {
	in := "<EDS ID> $EDS_ID <event_data_store_id> <event-data-store-ID> enter-eds-id-here ${date_filter} ${table_name}"
	got := Placeholders(in, Values{EDSID: "E1", TableName: "cur.t"})
	if want := "E1 E1 E1 E1 E1 TRUE cur.t"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
