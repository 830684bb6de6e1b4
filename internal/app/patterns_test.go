package app

import (
	"errors"
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
