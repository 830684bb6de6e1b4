package rules

import (
	"context"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"testing"
)

// TestCountMatchesCountsAsFilter: countMatches counts the rows where a predicate is true — not
// false, not NULL — as count(*) FILTER (WHERE …) does, for predicates whose terms are NULL
// on some rows (a missing field), and in a GROUP BY as Hunt.Prepare runs it.
func TestCountMatchesCountsAsFilter(t *testing.T) {
	ctx := context.Background()
	db := enginetest.Open(t)
	rows := "(VALUES (1, 'a', 1), (1, NULL, 0), (1, 'b', NULL), (2, 'A', 2), (2, NULL, NULL), (2, 'ab', 0), (3, 'x', 5)) AS events(g, s, n)"
	for _, pred := range []string{
		"true", "false", "NULL::BOOLEAN",
		"s = 'a'",
		"lower(s) = lower('A')",
		"NOT coalesce(lower(s) = 'a', false)",
		"s = 'a' OR n > 1",
		"s <> 'a' AND n IS NULL",
		"NOT (s = 'b' OR n = 0)",
		"contains(s, 'b') AND regexp_matches(s, '.+b')",
		"n <> 0 AND 10 // n > 2",
		"s IN ('a', 'ab') OR (n IS NULL AND s IS NULL)",
	} {
		var want, got string
		if err := db.QueryRow(ctx, "SELECT string_agg(c::VARCHAR, ',' ORDER BY g) FROM (SELECT g, count(*) FILTER (WHERE "+pred+") AS c FROM "+rows+" GROUP BY g)").Scan(&want); err != nil {
			t.Fatalf("%s: %v", pred, err)
		}
		if err := db.QueryRow(ctx, "SELECT string_agg(c::VARCHAR, ',' ORDER BY g) FROM (SELECT g, "+countMatches(pred)+" AS c FROM "+rows+" GROUP BY g)").Scan(&got); err != nil {
			t.Fatalf("%s: %v", pred, err)
		}
		if got != want {
			t.Errorf("%s: counts %s, FILTER counts %s", pred, got, want)
		}
	}
}
