package awsapi

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestKeptQueriesOutliveARestartAndExpire: with a Dir, a finished query's result is read back
// from disk once memory let it go, a new manager on the same Dir (a restarted server) still
// answers for it (to its owner only), and past Keep it is forgotten and its files deleted.
func TestKeptQueriesOutliveARestartAndExpire(t *testing.T) {
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := app.New(lk, app.Options{})
	defer b.Close()
	dir := filepath.Join(t.TempDir(), "queries")
	start := time.Now()
	clock := func() time.Time { return start }
	log := slog.New(slog.DiscardHandler)
	ctx := access.WithCaller(context.Background(), access.Caller{Principal: access.Operator(), Door: access.DoorAWS})
	run := func(m *manager, sql string) *query {
		t.Helper()
		q := &query{owner: "user:alice", statement: sql}
		if err := m.start(ctx, q); err != nil {
			t.Fatal(err)
		}
		<-q.done
		if s := m.snapshot(q); s.status != StatusFinished {
			t.Fatalf("%s: %+v", sql, s)
		}
		return q
	}
	want := [][]string{{"42", "a"}, {"43", "b"}}
	check := func(m *manager, id string) {
		t.Helper()
		q := m.get("user:alice", id)
		if q == nil {
			t.Fatalf("query %s is not kept", id)
		}
		cols, rows, err := m.result(q)
		if err != nil || !slices.Equal(cols, []string{"n", "s"}) || len(rows) != 2 || !slices.Equal(rows[0], want[0]) || !slices.Equal(rows[1], want[1]) {
			t.Fatalf("result of %s: %v %v %v", id, cols, rows, err)
		}
		if m.get("user:bob", id) != nil {
			t.Fatalf("another principal finds query %s", id)
		}
	}

	m := newManager(b, QueryOptions{Dir: dir, MaxKeptBytes: 1}, clock, log)
	first := run(m, "SELECT * FROM (VALUES (42, 'a'), (43, 'b')) t(n, s) ORDER BY n")
	run(m, "SELECT 1 AS one") // pushes the first result out of memory: it is on disk
	if first.held || !first.onDisk {
		t.Fatalf("first result: held %v, on disk %v", first.held, first.onDisk)
	}
	check(m, first.id)
	m.close()

	restarted := newManager(b, QueryOptions{Dir: dir}, clock, log)
	check(restarted, first.id)
	if q := restarted.get("user:alice", first.id); q.active() || restarted.cancelQuery(q) != StatusFinished {
		t.Errorf("a kept query must stay FINISHED")
	}
	restarted.close()
	for _, e := range mustReadDir(t, dir) {
		if info, err := e.Info(); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600 (results are private)", e.Name(), info.Mode())
		}
	}

	later := func() time.Time { return start.Add(8 * 24 * time.Hour) }
	expired := newManager(b, QueryOptions{Dir: dir}, later, log)
	if expired.get("user:alice", first.id) != nil {
		t.Errorf("a query older than Keep is still answered")
	}
	if left := mustReadDir(t, dir); len(left) != 0 {
		t.Errorf("files of expired queries left: %v", left)
	}
}

func mustReadDir(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	e, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
