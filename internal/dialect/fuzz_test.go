package dialect_test

import (
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/dialect"
)

// FuzzRewrite checks that Rewrite never panics and returns either an error or SQL, and that
// rewriting is stable on its own output's shape: the output lexes again (Rewrite on it does not
// fail on tokenization).
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		sampleRunInstances, samplePrincipalByInstance, sampleUsersByAccount, sampleTopErrors,
		sampleConsoleLoginNoMFA, sampleTagHistory, seedCostByInstance, seedApprovalByDay,
		"select transform(a, x -> x + 1), reduce(a, 0, (s, x) -> s + x, s -> s) from t",
		"select * from t cross join unnest(a, b) with ordinality as u(x, y, n)",
		"select cast(x as array(row(a varchar, b map(varchar, json)))) from EXAMPLEf852-4e8f-8bd1-bcf6cEXAMPLE",
		"select date_format(ts, '%Y %i'), format_datetime(ts, 'yyyy''T'''), json_extract_scalar(j, '$[\"a\"]')",
		"select 'unterminated", "/* x", "select (1", "select 1; select 2",
		"VALUES ROW(1, 'a'), ROW(2, 'b')", "with c(x) as (values '10.0.0.0/8', 1 + 2) select * from c order by 1",
		"select eventtime year, user, count(*), a IS DISTINCT FROM b, INTERVAL '1' DAY from t",
		"select contains('10.0.0.0/8', cast(sourceipaddress as ipaddress)), try_cast(x as IPADDRESS), ipaddress '::1' from t",
		"select a / b, c % -d.e[1] x, 1 / case when y then 0 end, n * 100 / sum(n) over (partition by k), m / count(*) filter (where z) from t",
		"select concat(a, b || c), substr(s, 0), split_part(s, '/', 2), cast(j as varchar), try_cast(d as bigint), length(to_utf8(s)) from t",
		"select hour(eventtime at time zone 'UTC'), date_add('day', -1, current_date), date_trunc('week', cast(x as date)) from t tablesample bernoulli (10)",
		"select listagg(x, ',') within group (order by x desc), map_agg(k, v), array_distinct(a) from t group by g",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		out, err := dialect.Rewrite(sql)
		if err != nil {
			if out != "" {
				t.Fatalf("error %v with output %q", err, out)
			}
			return
		}
		if out == "" {
			t.Fatalf("Rewrite(%q) returned empty SQL without error", sql)
		}
		if _, err := dialect.Rewrite(out); err != nil && strings.Contains(err.Error(), "tokenize") {
			t.Fatalf("output of Rewrite(%q) = %q does not tokenize: %v", sql, out, err)
		}
	})
}

// BenchmarkRewrite10KB rewrites a 10 KB query made of the seed blog's join repeated under UNION
// ALL. The target is under a millisecond per rewrite (go test -bench Rewrite10KB
// ./internal/dialect/); it is a benchmark, not a unit test, because a loaded machine says
// nothing about the code.
func BenchmarkRewrite10KB(b *testing.B) {
	q := bigQuery()
	b.SetBytes(int64(len(q)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dialect.Rewrite(q); err != nil {
			b.Fatal(err)
		}
	}
}

func bigQuery() string {
	seed := strings.TrimSpace(fillSeed(seedApprovalByDay))
	var sb strings.Builder
	for sb.Len() < 10<<10 {
		if sb.Len() > 0 {
			sb.WriteString("\nUNION ALL\n")
		}
		sb.WriteString("SELECT * FROM (" + seed + ")")
	}
	return sb.String()
}
