package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
)

// TestBacktrackingPatternsAreRefused: a user's LIKE, ILIKE or GLOB pattern with many wildcards
// made the engine backtrack over every position of the value for each of them, beyond the
// query's time limit (ILIKE '%a%a%a%a%a%a%a%a%a%b' over 200 a's held a core for good). Such
// patterns, and patterns not constant, are refused before the query runs; the linear forms run.
func TestBacktrackingPatternsAreRefused(t *testing.T) {
	ctx := context.Background()
	db, _, _ := sealedEngine(t, "")
	lim := engine.Limits{MaxRows: 10, Timeout: time.Minute}
	const from = " FROM (SELECT repeat('a', 200) AS x, '%a%a%a%b' AS p)"
	for _, q := range []string{
		"SELECT x ILIKE '%a%a%a%a%a%a%a%a%a%b'" + from,
		"SELECT x NOT ILIKE '%a%a%a%a%a%a%a%a%a%b'" + from,
		"SELECT x LIKE '%a%a%a%a%a%a%a%a%a%b' ESCAPE '\\'" + from,
		"SELECT x LIKE '%a%a%a%a%a%a%a%a%a_b'" + from,
		"SELECT x GLOB '*a*a*a*a*a*a*a*a*a*b'" + from,
		"SELECT like_escape(x, '%a%a%a%a%a%a%a%a%a%b', '\\')" + from,
		"SELECT x ~~* '%a%a%a%a%a%a%a%a%a%b'" + from,
		"SELECT count(*)" + from + " WHERE x ILIKE p",
		"SELECT x ILIKE '%a' || '%a%a%a%a%a%a%a%b'" + from,
	} {
		_, err := db.UserQuery(ctx, q, lim)
		wantQueryError(t, q, err, "")
	}
	for q, want := range map[string]bool{
		"SELECT x LIKE '%a%a%a%a%a%a%a%a%a%b'" + from:       false, // the engine's linear matcher
		"SELECT x NOT LIKE '%a%a%a%a%a%a%a%a%a%b%'" + from:  true,
		"SELECT x ILIKE '%aa%'" + from:                      true,
		"SELECT x ILIKE 'a%a'" + from:                       true,
		"SELECT x LIKE '%a\\%a\\%a\\%b' ESCAPE '\\'" + from: false, // escaped: one wildcard
		"SELECT x GLOB 'a*'" + from:                         true,
		"SELECT regexp_matches(x, '(.*a){9}.*b')" + from:    false,
		"SELECT x ILIKE NULL IS NULL" + from:                true,
	} {
		res, err := db.UserQuery(ctx, q, lim)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if got := res.Rows[0][0]; got != want {
			t.Errorf("%s = %v, want %v", q, got, want)
		}
	}
}
