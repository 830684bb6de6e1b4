package query_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/query"
)

// variantsIn counts the views' variants in session s's engine.
func variantsIn(t *testing.T, s *query.Session) int64 {
	t.Helper()
	res, err := s.RunInternal(context.Background(), "SELECT count(*) FROM duckdb_views() WHERE starts_with(view_name, ?)", query.VariantPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return res.Rows[0][0].(int64)
}

// TestARotationOfQueriesMakesEachVariantOnce: queries that add different things to one
// restricted view each run on a variant of it, made the first time and named by the next runs
// of any query that adds the same — a rotation of queries re-creates nothing — and every run
// gives the rows the session without the pushdown gives. The variants' names are the session's
// own: user SQL that names one is told it does not exist.
func TestARotationOfQueriesMakesEachVariantOnce(t *testing.T) {
	_, T, sessions := restrictedSessions(t)
	ctx := context.Background()
	bob, oracle := sessions["bob"][0], sessions["bob"][1]
	rotation := []string{
		"SELECT count(*) FROM {T} WHERE eventname = 'RunInstances'",
		"SELECT eventname, count(*) FROM {T} WHERE awsregion = 'us-east-1' GROUP BY 1",
		"SELECT useridentity.arn FROM {T} x WHERE x.eventname <> 'RunInstances'",
		// Text before the name that is not ASCII: the parse tree's offsets are in bytes.
		"SELECT 'é€😀' AS \"ünï\", count(*) FROM  \"aws:cloudtrail\" . {ID} WHERE eventname = 'RunInstances'",
		// The same additions as the first query (so is the one above), in other words: the
		// same variant.
		"SELECT count(*) AS n FROM {T} WHERE eventname = 'RunInstances'",
	}
	id := strings.Split(T, ".")[1]
	for round := range 3 {
		for i, q := range rotation {
			sql := strings.NewReplacer("{T}", T, "{ID}", id).Replace(q)
			got, gotErr := outcome(bob, sql)
			want, wantErr := outcome(oracle, sql)
			if !slices.Equal(got, want) || gotErr != wantErr || gotErr != "" {
				t.Errorf("round %d: %s\n  pushed:   %q %q\n  unpushed: %q %q", round, sql, got, gotErr, want, wantErr)
			}
			if run := query.RunText(bob, sql); !strings.Contains(run, query.VariantPrefix) {
				t.Errorf("query %d runs %q, not on a variant", i, run)
			}
		}
		if n := variantsIn(t, bob); n != 3 {
			t.Errorf("round %d: %d variants in the engine, want 3 (one per distinct set of additions)", round, n)
		}
	}
	run := query.RunText(bob, strings.ReplaceAll(rotation[0], "{T}", T))
	name := run[strings.Index(run, `"`+query.VariantPrefix):]
	name = name[:strings.Index(name[1:], `"`)+2]
	for _, sql := range []string{
		`SELECT count(*) FROM "aws:cloudtrail".` + name,
		`SELECT count(*) FROM ` + name,
	} {
		if _, err := bob.Run(ctx, sql); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("%s: %v, want does not exist", sql, err)
		}
	}
}

// TestQueriesThatCannotNameAVariantRunOnTheView: a query that names a column through its
// table's schema, or a view twice, runs as written on the session's own view, with the same
// rows as without the pushdown.
func TestQueriesThatCannotNameAVariantRunOnTheView(t *testing.T) {
	_, T, sessions := restrictedSessions(t)
	bob, oracle := sessions["bob"][0], sessions["bob"][1]
	for _, sql := range []string{
		"SELECT " + T + ".eventname FROM " + T + " WHERE eventname = 'RunInstances'",
		"SELECT count(*) FROM " + T + " a, " + T + " b WHERE a.eventname = 'RunInstances' AND a.eventtime = b.eventtime",
	} {
		got, gotErr := outcome(bob, sql)
		want, wantErr := outcome(oracle, sql)
		if !slices.Equal(got, want) || gotErr != wantErr {
			t.Errorf("%s\n  pushed:   %q %q\n  unpushed: %q %q", sql, got, gotErr, want, wantErr)
		}
		if run := query.RunText(bob, sql); run != "" {
			t.Errorf("%s runs %q", sql, run)
		}
	}
}

// TestVariantsAreBounded: a session keeps at most MaxVariants variants, dropping the least
// recently used, and a query whose variant was dropped makes it again.
func TestVariantsAreBounded(t *testing.T) {
	_, T, sessions := restrictedSessions(t)
	bob, oracle := sessions["bob"][0], sessions["bob"][1]
	first := "SELECT count(*) FROM " + T + " WHERE eventname = 'v-0'"
	for i := range query.MaxVariants + 5 {
		sql := fmt.Sprintf("SELECT count(*) FROM %s WHERE eventname = 'v-%d'", T, i)
		if _, err := bob.Run(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	if n := variantsIn(t, bob); n != query.MaxVariants {
		t.Errorf("%d variants in the engine, want %d", n, query.MaxVariants)
	}
	sql := "SELECT count(*) FROM " + T + " WHERE eventname = 'RunInstances'"
	for _, q := range []string{first, sql} {
		got, gotErr := outcome(bob, q)
		want, wantErr := outcome(oracle, q)
		if !slices.Equal(got, want) || gotErr != wantErr || gotErr != "" {
			t.Errorf("%s\n  pushed:   %q %q\n  unpushed: %q %q", q, got, gotErr, want, wantErr)
		}
	}
}
