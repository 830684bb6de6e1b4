package app

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/server"
)

// TestBacktrackingPatternIsRefusedAtTheBackend: the query every door hands the backend (in the
// Trino dialect) with a LIKE pattern the engine would backtrack on without end is refused as a
// query error (400 at the JSON API, 42000 at the Postgres door), before it runs; the rewrite
// through the dialect does not hide it.
func TestBacktrackingPatternIsRefusedAtTheBackend(t *testing.T) {
	b := newTestBackend(t, Options{})
	caller := asOperator("192.0.2.1")
	for _, q := range []string{
		`SELECT x LIKE '%a%a%a%a%a%a%a%a%a%b' ESCAPE '\' FROM (SELECT repeat('a', 200) AS x)`,
		`SELECT count(*) FROM (SELECT repeat('a', 200) AS x) WHERE lower(x) LIKE '%a%a%a%a%a%a%a%a%a_b'`,
	} {
		_, err := b.Query(caller, q, 10)
		var qe *server.QueryError
		if !errors.As(err, &qe) || !strings.Contains(qe.Msg, "backtracking") {
			t.Errorf("%s: %v, want a query error saying the pattern backtracks", q, err)
		}
	}
}

// TestQuadraticFunctionsAreBounded: the engine's levenshtein of two long strings ran for hours
// (300,000 characters each), beyond the query's time limit. User SQL may not call it (nor
// damerau_levenshtein, jaro_similarity, …); Trino's levenshtein_distance refuses, as Trino does,
// inputs whose lengths multiply past 1,000,000, and answers the others.
func TestQuadraticFunctionsAreBounded(t *testing.T) {
	b := newTestBackend(t, Options{})
	caller := asOperator("192.0.2.1")
	for q, want := range map[string]string{
		`SELECT levenshtein(repeat('a', 300000), repeat('b', 300000))`:          "not allowed",
		`SELECT jaro_winkler_similarity(repeat('a', 300000), 'b')`:              "not allowed",
		`SELECT levenshtein_distance(repeat('a', 300000), repeat('b', 300000))`: "too large",
	} {
		_, err := b.Query(caller, q, 10)
		var qe *server.QueryError
		if !errors.As(err, &qe) || !strings.Contains(qe.Msg, want) {
			t.Errorf("%s: %v, want a query error saying %q", q, err, want)
		}
	}
	res, err := b.Query(caller, `SELECT levenshtein_distance('kitten', 'sitting'), levenshtein_distance(repeat('a', 1000), repeat('b', 1000))`, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Rows[0]); got != "[3 1000]" {
		t.Errorf("levenshtein_distance = %s, want [3 1000]", got)
	}
}
