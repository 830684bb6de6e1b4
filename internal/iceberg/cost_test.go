package iceberg_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
)

const testdata = "../../testdata"

// costRows is auditlake's own count of cost table name (its view, as queries read it).
func costRows(t *testing.T, dataDir, name string) int64 {
	t.Helper()
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := cost.Register(ctx, db, dataDir); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, "SELECT count(*) FROM "+name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// tableRows counts the rows of ident in cat by iceberg-go's own scan.
func tableRows(t *testing.T, cat catalog.Catalog, ident table.Identifier) int64 {
	t.Helper()
	ctx := context.Background()
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	return icebergtest.Rows(t, tbl)
}

func registerCost(t *testing.T, dataDir, name, src string) {
	t.Helper()
	if _, err := cost.RegisterSource(context.Background(), dataDir, cost.RegisterOptions{Name: name, Source: src}); err != nil {
		t.Fatalf("register %s %s: %v", name, src, err)
	}
}

// TestCostTablesAreCatalogued: a CSV cost table (read through its converted Parquet files) and
// a Parquet FOCUS table are Iceberg tables auditlake_cost.<db>_<table> over those files, holding
// the rows auditlake's own query counts; registering again with more files (new converted
// files) is followed, and a removed cost table's Iceberg table is dropped.
func TestCostTablesAreCatalogued(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := iceberg.Open(ctx, iceberg.SQLProperties(dir))
	if err != nil {
		t.Fatal(err)
	}
	csvDir := t.TempDir()
	copyFile(t, filepath.Join(testdata, "koku-cur-test-data", "test_cur.csv"), filepath.Join(csvDir, "a.csv"))
	registerCost(t, dir, "cur.billing", csvDir)

	// A Parquet FOCUS export, written by DuckDB from the sample CSV.
	pq := filepath.Join(t.TempDir(), "focus.parquet")
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, "COPY (SELECT * FROM read_csv("+engine.Literal(filepath.Join(testdata, "focus-sample-data", "focus_sample.csv"))+")) TO "+engine.Literal(pq)+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	registerCost(t, dir, "finops.focus-2024", pq)

	check := func(step string) {
		t.Helper()
		for name, ident := range map[string]table.Identifier{
			"cur.billing":         catalog.ToIdentifier("auditlake_cost", "cur_billing"),
			`finops."focus-2024"`: catalog.ToIdentifier("auditlake_cost", "finops_focus_2024"),
		} {
			if got, want := tableRows(t, cat, ident), costRows(t, dir, name); got != want || want == 0 {
				t.Fatalf("%s: the Iceberg table %v has %d rows, auditlake's query of %s %d", step, ident, got, name, want)
			}
		}
	}
	res, err := iceberg.SyncCosts(ctx, cat, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Added == 0 || res[1].Added == 0 {
		t.Fatalf("first sync: %+v", res)
	}
	check("after registration")
	again, err := iceberg.SyncCosts(ctx, cat, dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if again[i].Added+again[i].Removed != 0 || again[i].SnapshotID != res[i].SnapshotID {
			t.Fatalf("a sync with nothing new committed: %+v after %+v", again[i], res[i])
		}
	}

	// More files under the source, registered again: their converted files join the table.
	copyFile(t, filepath.Join(testdata, "koku-cur-test-data", "2023-06-01.csv"), filepath.Join(csvDir, "b.csv"))
	before := costRows(t, dir, "cur.billing")
	registerCost(t, dir, "cur.billing", csvDir)
	if costRows(t, dir, "cur.billing") <= before {
		t.Fatal("the second file added no rows; the test needs it to")
	}
	if _, err := iceberg.SyncCosts(ctx, cat, dir); err != nil {
		t.Fatal(err)
	}
	check("after registering more files")

	// A name that maps onto a catalogued table's is refused, naming both; the first keeps it.
	registerCost(t, dir, "cur_billing.x", csvDir)
	registerCost(t, dir, "cur.billing_x", csvDir)
	if _, err := iceberg.SyncCosts(ctx, cat, dir); err == nil || !strings.Contains(err.Error(), "cur_billing.x") || !strings.Contains(err.Error(), "auditlake_cost.cur_billing_x") {
		t.Fatalf("two cost tables on one Iceberg name: %v", err)
	}
	if got, want := tableRows(t, cat, catalog.ToIdentifier("auditlake_cost", "cur_billing_x")), costRows(t, dir, "cur_billing.x"); got != want {
		t.Fatalf("the Iceberg table both names map to has %d rows, the first registered %d", got, want)
	}
	for _, n := range []string{"cur_billing.x", "cur.billing_x"} {
		if err := cost.Remove(dir, n); err != nil {
			t.Fatal(err)
		}
	}

	// Removed: its table is dropped, the other stays.
	if err := cost.Remove(dir, "cur.billing"); err != nil {
		t.Fatal(err)
	}
	res, err = iceberg.SyncCosts(ctx, cat, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake_cost", "cur_billing")); !errors.Is(err, catalog.ErrNoSuchTable) {
		t.Fatalf("the removed cost table's Iceberg table is still there (%v): %+v", err, res)
	}
	if got, want := tableRows(t, cat, catalog.ToIdentifier("auditlake_cost", "finops_focus_2024")), costRows(t, dir, `finops."focus-2024"`); got != want {
		t.Fatalf("the other cost table's Iceberg table has %d rows, auditlake %d", got, want)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
