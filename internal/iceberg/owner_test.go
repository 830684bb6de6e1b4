package iceberg_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestStoresWhoseNamesMapToOneTable: Org-Trail and org_trail map to one table name; eds create
// refuses the second name, and where an older data directory holds both, the second
// store's commits are refused (naming the first) instead of replacing the first's files, its
// deletion leaves the first's table alone, and a store created again under a deleted store's
// name gets a table of its own.
func TestStoresWhoseNamesMapToOneTable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lk, cat := openSQL(t, dir)
	var errs []error
	lk.Hooks = iceberg.Hooks(cat, lk, time.Hour, func(err error) { errs = append(errs, err) })
	first := ingestStore(t, lk, "Org-Trail", 1500, 2, 21)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ident := catalog.ToIdentifier("auditlake", "org_trail")
	rows := func() []string {
		tbl, err := cat.LoadTable(ctx, ident)
		if err != nil {
			t.Fatal(err)
		}
		return scanIDs(t, tbl, 0)
	}
	// eds create refuses such a name now (lake.ErrNameTaken); a data directory of an earlier
	// version may hold one, made here by renaming a store in its catalog file.
	if _, err := lk.Create("org.trail", lake.CreateOptions{}); !errors.Is(err, lake.ErrNameTaken) {
		t.Fatalf("a store named org.trail beside Org-Trail was created: %v", err)
	}
	second := createStore(t, lk, "org-trail-2")
	b, err := os.ReadFile(filepath.Join(dir, "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "catalog.json"), bytes.Replace(b, []byte(`"org-trail-2"`), []byte(`"org.trail"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if second, err = lk.Resolve(second.ID); err != nil || second.Name != "org.trail" {
		t.Fatalf("renamed in the catalog file: %+v, %v", second, err)
	}
	ingestMore(t, lk, second, 800, 1, 22)
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), "store Org-Trail's") {
		t.Fatalf("the second store's commits were not refused: %v", errs)
	}
	if got, want := rows(), storeIDs(t, lk, first); !equal(got, want) {
		t.Fatalf("the first store's table holds %d events after the second's commits, the store %d", len(got), len(want))
	}
	if err := lk.Delete(second.ID); err != nil {
		t.Fatal(err)
	}
	if got, want := rows(), storeIDs(t, lk, first); !equal(got, want) {
		t.Fatalf("the second store's deletion emptied the first's table: %d events, want %d", len(got), len(want))
	}
	if err := lk.Delete(first.ID); err != nil {
		t.Fatal(err)
	}
	errs = nil
	again := ingestStore(t, lk, "org-trail", 700, 1, 23)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got, want := rows(), storeIDs(t, lk, again); !equal(got, want) || len(want) == 0 {
		t.Fatalf("a store created under a deleted store's name: its table holds %d events, the store %d", len(got), len(want))
	}
}

// TestRenamedStoreTakesItsTableAlong: eds update --name changes the table name a store maps to.
// At the store's next sync its table is made under the new name and the one under the old name
// dropped; a store created under the old name gets a table of its own, whichever of the two
// syncs first, and no two tables share a location. Before, the renamed store's next sync made
// a new table and left the old one in the catalog naming files the lake then deleted, and the
// new store's syncs were refused for good ("the table is store <renamed>'s … rename one of the
// stores") while eds show showed it the other store's table.
func TestRenamedStoreTakesItsTableAlong(t *testing.T) {
	ctx := context.Background()
	lk, cat := openSQL(t, t.TempDir())
	lk.Hooks = iceberg.Hooks(cat, lk, time.Hour, func(err error) { t.Error(err) })
	rename := func(st lake.Store, name string) lake.Store {
		t.Helper()
		st, err := lk.Update(st.ID, func(s *lake.Store) error { s.Name = name; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// tables checks that the namespace holds exactly the tables of stores, by name, each the
	// store's, holding exactly its events, each at a location of its own.
	tables := func(stores map[string]lake.Store) {
		t.Helper()
		var names []string
		for id, err := range cat.ListTables(ctx, catalog.ToIdentifier("auditlake")) {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, id[len(id)-1])
		}
		if len(names) != len(stores) {
			t.Fatalf("tables %v, want those of %d stores", names, len(stores))
		}
		at := map[string]string{}
		for _, name := range names {
			st, ok := stores[name]
			if !ok {
				t.Fatalf("table %s is no store's table (tables %v)", name, names)
			}
			tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", name))
			if err != nil {
				t.Fatal(err)
			}
			if owner := tbl.Properties()["auditlake.store-id"]; owner != st.ID {
				t.Fatalf("table %s is store %s's, want %s's", name, owner, st.ID)
			}
			if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) {
				t.Fatalf("table %s holds %d events, store %s %d", name, len(got), st.Name, len(want))
			}
			if other, ok := at[tbl.Location()]; ok {
				t.Fatalf("tables %s and %s share the location %s", name, other, tbl.Location())
			}
			at[tbl.Location()] = name
		}
	}

	// The renamed store syncs first (its next commit).
	a := ingestStore(t, lk, "prod-trail", 2000, 2, 3)
	a = rename(a, "archive-trail")
	ingestMore(t, lk, a, 500, 1, 4)
	tables(map[string]lake.Store{"archive_trail": a})
	b := ingestStore(t, lk, "prod-trail", 1000, 1, 5)
	tables(map[string]lake.Store{"archive_trail": a, "prod_trail": b})

	// The store created under the old name syncs first; until then it shows no table (the
	// table its name maps to is the renamed store's).
	b = rename(b, "old-trail")
	hooks := lk.Hooks
	lk.Hooks = nil
	c := createStore(t, lk, "prod-trail")
	if info, ok, err := iceberg.Describe(ctx, cat, c); err != nil || ok {
		t.Fatalf("the new store is shown another store's table: %+v, %v", info, err)
	}
	lk.Hooks = hooks
	ingestMore(t, lk, c, 800, 1, 6)
	if _, err := iceberg.Sync(ctx, cat, lk, b); err != nil {
		t.Fatal(err)
	}
	tables(map[string]lake.Store{"archive_trail": a, "old_trail": b, "prod_trail": c})

	// A renamed store deleted before its next sync leaves no table.
	a = rename(a, "gone-trail")
	if err := lk.Delete(a.ID); err != nil {
		t.Fatal(err)
	}
	tables(map[string]lake.Store{"old_trail": b, "prod_trail": c})
}

// TestTablesOfStoresDeletedWithoutTheirCatalogAreEmptied: a store deleted while its table did
// not follow — the catalog turned off (catalog set none) or failing at eds delete, which goes on
// whatever the table says — left its table naming the deleted files for good, so every scan of
// it in another engine failed ("no such file"), and a published store's objects and publication
// stayed on S3 for good. catalog sync (EmptyDeleted) commits the table's last snapshot without
// files, as the deletion would have, deletes the published store's objects, and leaves alone a
// table whose files are not this data directory's (another installation sharing the catalog).
func TestTablesOfStoresDeletedWithoutTheirCatalogAreEmptied(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	dir, lk := catalogLake(t, iceberg.Config{Type: "sql"})
	closer, err := iceberg.Attach(ctx, lk, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	defer closer()
	cat := configured(t, dir)
	// Another data directory's store, whose table is in this catalog.
	other, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	foreign := ingestStore(t, other, "other-trail", 500, 1, 33)
	if _, err := iceberg.Sync(ctx, cat, other, foreign); err != nil {
		t.Fatal(err)
	}
	local := ingestStore(t, lk, "local-trail", 1000, 2, 31)
	pubd := ingestStore(t, lk, "pub-trail", 1000, 2, 32)
	if _, err := iceberg.Publish(ctx, lk, pubd, iceberg.Publication{To: "s3://lake/pub/", EndpointURL: s3.URL, Region: "us-east-1"}); err != nil {
		t.Fatal(err)
	}
	led, err := lk.ReadManifest(pubd.ID)
	if err != nil {
		t.Fatal(err)
	}

	// The catalog as catalog sync opens it: with the publication's S3 settings.
	cat = configured(t, dir)
	lk.Hooks = nil // the deletions are not followed
	for _, st := range []lake.Store{local, pubd} {
		if err := lk.Delete(st.ID); err != nil {
			t.Fatal(err)
		}
	}
	emptied, err := iceberg.EmptyDeleted(ctx, cat, lk)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(emptied, []string{"auditlake.local_trail", "auditlake.pub_trail"}) {
		t.Fatalf("emptied %v, want the two deleted stores' tables", emptied)
	}
	for _, name := range []string{"local_trail", "pub_trail"} {
		tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", name))
		if err != nil {
			t.Fatal(err)
		}
		if s := tbl.CurrentSnapshot(); s == nil || s.Summary.Operation != table.OpDelete || s.Summary.Properties["total-data-files"] != "0" {
			t.Fatalf("%s: current snapshot %+v; want a delete leaving no file", name, s)
		}
		if n := icebergtest.Rows(t, tbl); n != 0 {
			t.Fatalf("%s holds %d rows after its store's deletion", name, n)
		}
	}
	if _, ok, err := iceberg.LoadPublication(dir, pubd.ID); err != nil || ok {
		t.Fatalf("the deleted store's publication is still recorded (%v)", err)
	}
	for _, f := range led.Files {
		if _, err := s3.Backend.HeadObject("lake", "pub/"+f.Path); err == nil {
			t.Errorf("the deleted store's object pub/%s is still on S3", f.Path)
		}
	}
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "other_trail"))
	if err != nil {
		t.Fatal(err)
	}
	if n := icebergtest.Rows(t, tbl); n != 500 {
		t.Fatalf("another data directory's table holds %d rows, want its 500", n)
	}
	if again, err := iceberg.EmptyDeleted(ctx, cat, lk); err != nil || len(again) != 0 {
		t.Fatalf("a second catch-up emptied %v (%v)", again, err)
	}
}
