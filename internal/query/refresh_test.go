package query_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

func countOf(t *testing.T, s *query.Session, sql string) int64 {
	t.Helper()
	res, err := s.RunInternal(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	n, _ := res.Rows[0][0].(int64)
	return n
}

// TestRefreshSeesTheLakeAsANewSessionWould: a session kept open while stores change (events
// committed to an empty store and to one with files, a store created, one deleted) sees after
// Refresh what a new session sees, by name and by id; it holds no read lock after Release; and
// it is still sealed.
func TestRefreshSeesTheLakeAsANewSessionWould(t *testing.T) {
	ctx := context.Background()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := ingest.Options{Sources: []string{filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")}}
	full, err := lk.Create("full", lake.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(ctx, lk, full, src); err != nil {
		t.Fatal(err)
	}
	empty, err := lk.Create("empty", lake.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := lk.Create("gone", lake.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := countOf(t, s, "SELECT count(*) FROM "+named("full"))
	if n == 0 || countOf(t, s, "SELECT count(*) FROM "+named("empty")) != 0 {
		t.Fatalf("before: full %d events", n)
	}
	if !lk.ReadersActive(full.ID) {
		t.Fatal("an open session holds no read lock of its stores")
	}
	s.Release()
	if lk.ReadersActive(full.ID) || lk.ReadersActive(empty.ID) {
		t.Fatal("Release left a read lock held")
	}

	if _, err := ingest.CloudTrail(ctx, lk, empty, src); err != nil {
		t.Fatal(err)
	}
	born, err := lk.Create("born", lake.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(ctx, lk, born, src); err != nil {
		t.Fatal(err)
	}
	if err := lk.Delete(gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{named("empty"), named("born"), query.StoreTable(empty.ID), query.StoreTable(born.ID), named("full")} {
		if got := countOf(t, s, "SELECT count(*) FROM "+table); got != n {
			t.Errorf("after Refresh, %s has %d events, want %d", table, got, n)
		}
	}
	if _, err := s.RunInternal(ctx, "SELECT count(*) FROM "+named("gone")); err == nil {
		t.Error("a deleted store is still a table after Refresh")
	}
	if !lk.ReadersActive(born.ID) {
		t.Error("a refreshed session holds no read lock of its stores")
	}
	if _, err := s.Run(ctx, "SELECT * FROM read_csv('/etc/passwd')"); err == nil {
		t.Error("a refreshed session reads outside the lake")
	}
	if err := s.Refresh(ctx); err != nil { // twice: the views made by Refresh are replaced too
		t.Fatal(err)
	}
	if got := countOf(t, s, "SELECT count(*) FROM "+named("empty")); got != n {
		t.Errorf("after a second Refresh, empty has %d events, want %d", got, n)
	}

	r, err := query.Open(ctx, lk, query.Options{Principal: &access.Principal{User: "nobody"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Refresh(ctx); !errors.Is(err, query.ErrNotRefreshable) {
		t.Errorf("Refresh of a restricted session: %v, want ErrNotRefreshable", err)
	}
}

func named(store string) string { return engine.Ident(query.Schema) + "." + engine.Ident(store) }

// TestRefreshOfAStoreDamagedMeanwhile: a store damaged while a kept session was idle (a data
// file replaced by garbage) is, after Refresh, what it is in a new session: its queries fail
// naming the store, the other store answers; and once repaired by hand (the file back), the
// next Refresh reads it again.
func TestRefreshOfAStoreDamagedMeanwhile(t *testing.T) {
	ctx := context.Background()
	lk, good, bad := twoStores(t)
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := countOf(t, s, "SELECT count(*) FROM "+named("bad-one"))
	s.Release()
	m, err := lk.ReadManifest(bad.ID)
	if err != nil {
		t.Fatal(err)
	}
	p := lk.AbsPath(bad.ID, m.Files[0].Path)
	kept, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("not parquet at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatalf("a damaged store broke the Refresh: %v", err)
	}
	if _, err := s.RunInternal(ctx, "SELECT count(*) FROM "+named("bad-one")); err == nil || !errors.Is(s.Damaged(bad.ID), lake.ErrDamaged) {
		t.Errorf("the damaged store: query error %v, Damaged %v", err, s.Damaged(bad.ID))
	}
	if got := countOf(t, s, "SELECT count(*) FROM "+named("good-one")); got != n || s.Damaged(good.ID) != nil {
		t.Errorf("the healthy store: %d events (want %d), damaged %v", got, n, s.Damaged(good.ID))
	}
	s.Release()
	if err := os.WriteFile(p, kept, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countOf(t, s, "SELECT count(*) FROM "+named("bad-one")); got != n || s.Damaged(bad.ID) != nil {
		t.Errorf("repaired: %d events (want %d), damaged %v", got, n, s.Damaged(bad.ID))
	}
}
