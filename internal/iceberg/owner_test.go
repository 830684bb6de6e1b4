package iceberg_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/catalog"

	"github.com/auditlake/auditlake/internal/iceberg"
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
	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := iceberg.Open(ctx, iceberg.SQLProperties(dir))
	if err != nil {
		t.Fatal(err)
	}
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
