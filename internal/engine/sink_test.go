package engine_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/auditlake/auditlake/internal/engine"
)

// The sink (engine.SinkFuncName) hands its query's sink every row of its arguments once, a
// NULL as "", from the engine's threads (two here, over chunks of many row groups), and the
// query counts them; values are copied before the sink returns, so later chunks do not change
// them.
func TestSinkHandsOnEveryValueOnce(t *testing.T) {
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 300_000
	var mu sync.Mutex
	var got []string
	calls := 0
	sink := func(cols [][]string) {
		if len(cols) != 2 || len(cols[0]) != len(cols[1]) {
			t.Errorf("%d columns", len(cols))
			return
		}
		kept := make([]string, len(cols[0]))
		for i, v := range cols[0] {
			kept[i] = strings.Clone(v) + "|" + cols[1][i]
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, kept...)
		calls++
	}
	q := "SELECT count(" + engine.SinkFuncName + "(v, (i % 10)::VARCHAR)) FROM (SELECT i, CASE WHEN i % 1000 = 7 THEN NULL ELSE 'value ' || i || repeat('x', (i % 40)::INTEGER) END AS v FROM range(" + strconv.Itoa(n) + ") t(i) WHERE i % 3 <> 0)"
	var count int64
	if err := db.QueryRow(engine.WithSink(ctx, sink), q).Scan(&count); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range n {
		switch {
		case i%3 == 0:
		case i%1000 == 7:
			want = append(want, "|"+strconv.Itoa(i%10))
		default:
			want = append(want, "value "+strconv.Itoa(i)+strings.Repeat("x", i%40)+"|"+strconv.Itoa(i%10))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if count != int64(len(want)) || !slices.Equal(got, want) {
		t.Fatalf("count %d, %d values handed on (%d calls), want %d", count, len(got), calls, len(want))
	}
	if calls < 2 {
		t.Errorf("%d calls: the values came in one chunk", calls)
	}

	// Without a sink (a user's query), the query fails.
	var x int64
	if err := db.QueryRow(ctx, "SELECT count("+engine.SinkFuncName+"('a'))").Scan(&x); err == nil || !strings.Contains(err.Error(), "internal to auditlake") {
		t.Errorf("without a sink: %v", err)
	}
}

// A reader restricted to some tables (RestrictTables) does not find the sink.
func TestSinkIsNotForARestrictedReader(t *testing.T) {
	ctx := context.Background()
	db, _, _ := sealedEngine(t, "")
	if err := db.Exec(ctx, "CREATE VIEW v AS SELECT 'a' AS j"); err != nil {
		t.Fatal(err)
	}
	db.RestrictTables([][2]string{{"main", "v"}, {"", "v"}})
	for _, q := range []string{
		"SELECT count(" + engine.SinkFuncName + "(j)) FROM v",
		`SELECT "` + strings.ToUpper(engine.SinkFuncName) + `"(j) FROM v`,
		"SELECT system.main." + engine.SinkFuncName + "(j) FROM v",
		"SELECT * FROM v WHERE " + engine.SinkFuncName + "(j)",
	} {
		_, err := db.UserQuery(ctx, q, engine.Limits{})
		wantQueryError(t, q, err, "does not exist")
	}
}
