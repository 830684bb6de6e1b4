package iceberg_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	icebergexpr "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
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

// costCatalog is a data directory with the SQL catalog set and CSV cost table cur.billing
// registered over two files in a directory (a.csv, b.csv), catalogued as cur register does;
// reader is the catalog opened by the test.
func costCatalog(t *testing.T) (dir, csvDir string, reader catalog.Catalog) {
	t.Helper()
	ctx := context.Background()
	dir, csvDir = t.TempDir(), t.TempDir()
	if err := iceberg.SaveConfig(dir, iceberg.Config{Type: "sql"}); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(testdata, "koku-cur-test-data", "test_cur.csv"), filepath.Join(csvDir, "a.csv"))
	copyFile(t, filepath.Join(testdata, "koku-cur-test-data", "2023-06-01.csv"), filepath.Join(csvDir, "b.csv"))
	registerCost(t, dir, "cur.billing", csvDir)
	reader, err := iceberg.Open(ctx, iceberg.SQLProperties(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iceberg.SyncCosts(ctx, reader, dir); err != nil {
		t.Fatal(err)
	}
	return dir, csvDir, reader
}

// costFollows checks that cur.billing's Iceberg table names exactly the converted files the
// registry names now and holds the rows auditlake's own query counts; it returns the table.
func costFollows(t *testing.T, step, dir string, reader catalog.Catalog) *table.Table {
	t.Helper()
	ct, err := cost.Lookup(dir, "cur.billing")
	if err != nil {
		t.Fatal(err)
	}
	tbl, files := costTableFiles(t, reader)
	if len(files) != len(ct.Files) {
		t.Fatalf("%s: the Iceberg table names %d files, the registry %d", step, len(files), len(ct.Files))
	}
	for _, f := range ct.Files {
		if !namesFile(t, files, f.Cache) {
			t.Fatalf("%s: the Iceberg table does not name the converted file of %s (%s): %v", step, f.URI, f.Cache, files)
		}
	}
	if got, want := icebergtest.Rows(t, tbl), costRows(t, dir, "cur.billing"); got != want || want == 0 {
		t.Fatalf("%s: the Iceberg table has %d rows, auditlake's query %d", step, got, want)
	}
	return tbl
}

// namesFile reports whether one of files (file:// URIs) is the file p (the same file: the
// tables name a link to it under <data>/iceberg/cost-data).
func namesFile(t *testing.T, files map[string]bool, p string) bool {
	t.Helper()
	want, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	for f := range files {
		if got, err := os.Stat(strings.TrimPrefix(f, "file://")); err == nil && os.SameFile(got, want) {
			return true
		}
	}
	return false
}

// costTableFiles loads cur.billing's Iceberg table from reader, with the data files of its
// current snapshot.
func costTableFiles(t *testing.T, reader catalog.Catalog) (*table.Table, map[string]bool) {
	t.Helper()
	ctx := context.Background()
	tbl, err := reader.LoadTable(ctx, catalog.ToIdentifier("auditlake_cost", "cur_billing"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := iceberg.Files(ctx, tbl)
	if err != nil {
		t.Fatal(err)
	}
	return tbl, files
}

// rewriteCSV rewrites the CSV file p with its header and first n rows (a re-delivered file
// with other contents: another size, another modification time).
func rewriteCSV(t *testing.T, p string, n int) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if err := os.WriteFile(p, []byte(strings.Join(lines[:n+1], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, future, future); err != nil {
		t.Fatal(err)
	}
}

// openSession opens a query session on lk, as every query does: it refreshes the cost cache.
func openSession(t *testing.T, lk *lake.Lake) {
	t.Helper()
	s, err := query.Open(context.Background(), lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestCostTableFollowsTheCacheRefresh: when a query session's cache refresh converts a changed
// CSV file again or drops a removed one, the cost table's Iceberg table follows in the same
// step — a new snapshot naming the new converted files, none of the old — with the catalog
// attached as every command attaches it (no catalog sync, no cur register).
func TestCostTableFollowsTheCacheRefresh(t *testing.T) {
	dir, csvDir, reader := costCatalog(t)
	lk, errs := attachREST(t, dir, iceberg.Config{Type: "sql"}) // as every command attaches it
	before := costFollows(t, "registered", dir, reader)
	rows := icebergtest.Rows(t, before)

	rewriteCSV(t, filepath.Join(csvDir, "a.csv"), 7) // changed: converted again
	openSession(t, lk)
	if len(*errs) > 0 {
		t.Fatal(*errs)
	}
	changed := costFollows(t, "a changed file", dir, reader)
	if changed.CurrentSnapshot().SnapshotID == before.CurrentSnapshot().SnapshotID || icebergtest.Rows(t, changed) >= rows {
		t.Fatalf("the changed file's refresh committed no snapshot with fewer rows (%d rows before)", rows)
	}

	if err := os.Remove(filepath.Join(csvDir, "b.csv")); err != nil { // removed: dropped
		t.Fatal(err)
	}
	openSession(t, lk)
	if len(*errs) > 0 {
		t.Fatal(*errs)
	}
	removed := costFollows(t, "a removed file", dir, reader)
	if removed.CurrentSnapshot().SnapshotID == changed.CurrentSnapshot().SnapshotID {
		t.Fatal("the removed file's refresh committed no snapshot")
	}
	if behind, err := iceberg.CostsBehind(dir); behind || err != nil {
		t.Fatalf("after the refreshes the cost tables are behind the registry (%v)", err)
	}

	// A session with nothing to refresh commits nothing.
	openSession(t, lk)
	if same := costFollows(t, "nothing changed", dir, reader); same.CurrentSnapshot().SnapshotID != removed.CurrentSnapshot().SnapshotID {
		t.Fatal("a session with nothing to refresh committed a snapshot")
	}
}

// TestCostCatalogCatchesUpAfterACrash: a crash between the cost cache refresh (the registry
// names the new converted files) and the catalog's update — a session without the catalog's
// hooks leaves exactly that state — is repaired at the next start (attaching the catalog, as
// every command does) or by catalog sync; a start with nothing behind commits nothing.
func TestCostCatalogCatchesUpAfterACrash(t *testing.T) {
	ctx := context.Background()
	dir, csvDir, reader := costCatalog(t)
	start := func() {
		t.Helper()
		lk, err := lake.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		closer, err := iceberg.Attach(ctx, lk, func(err error) { t.Error(err) })
		if err != nil {
			t.Fatal(err)
		}
		closer()
	}
	crash := func(change func()) {
		t.Helper()
		change()
		lk, err := lake.Open(dir) // no hooks: the process died before the catalog's update
		if err != nil {
			t.Fatal(err)
		}
		openSession(t, lk)
		if behind, err := iceberg.CostsBehind(dir); !behind || err != nil {
			t.Fatalf("after the cut-off refresh the cost tables are not behind (%v); the test needs them to be", err)
		}
	}
	_, old := costTableFiles(t, reader)
	crash(func() { rewriteCSV(t, filepath.Join(csvDir, "a.csv"), 5) })
	if _, now := costTableFiles(t, reader); !maps.Equal(now, old) {
		t.Fatal("the table changed without its update")
	}
	start()
	tbl := costFollows(t, "next start", dir, reader)
	if behind, err := iceberg.CostsBehind(dir); behind || err != nil {
		t.Fatalf("after the next start the cost tables are behind (%v)", err)
	}
	snap := tbl.CurrentSnapshot().SnapshotID
	start()
	if tbl = costFollows(t, "a start with nothing behind", dir, reader); tbl.CurrentSnapshot().SnapshotID != snap {
		t.Fatal("a start with nothing behind committed a snapshot")
	}

	crash(func() { os.Remove(filepath.Join(csvDir, "b.csv")) })
	if _, err := iceberg.SyncCosts(ctx, reader, dir); err != nil { // catalog sync
		t.Fatal(err)
	}
	costFollows(t, "catalog sync", dir, reader)
	if behind, err := iceberg.CostsBehind(dir); behind || err != nil {
		t.Fatalf("after catalog sync the cost tables are behind (%v)", err)
	}

	// No record of a complete sync (a data directory catalogued before there was one): behind
	// while cost tables are registered, caught up at the next start.
	if err := os.Remove(filepath.Join(dir, "iceberg", "costs.json")); err != nil {
		t.Fatal(err)
	}
	if behind, err := iceberg.CostsBehind(dir); !behind || err != nil {
		t.Fatalf("without a record of a complete sync the cost tables are not behind (%v)", err)
	}
	start()
	if behind, err := iceberg.CostsBehind(dir); behind || err != nil {
		t.Fatalf("after the next start the cost tables are behind (%v)", err)
	}
}

// scanSnapshot counts the rows of snapshot id of tbl by iceberg-go's own scan.
func scanSnapshot(t *testing.T, tbl *table.Table, id int64) int64 {
	t.Helper()
	_, recs, err := tbl.Scan(table.WithSnapshotID(id)).ToArrowRecords(context.Background())
	if err != nil {
		t.Fatalf("scan of snapshot %d: %v", id, err)
	}
	var n int64
	for rec, err := range recs {
		if err != nil {
			t.Fatalf("scan of snapshot %d: %v", id, err)
		}
		n += rec.NumRows()
		rec.Release()
	}
	return n
}

// TestOlderCostSnapshotKeepsItsFiles: a cost table's snapshot from before a cache refresh (a
// changed CSV file converted again, the old converted file pruned from the cache), a
// re-registration and a removal still scans whole — all its rows — through iceberg-go's scan,
// both planned before the change and read after it, and loaded again from the catalog after
// it; the files only expired snapshots named are deleted once the keep window has passed.
func TestOlderCostSnapshotKeepsItsFiles(t *testing.T) {
	ctx := context.Background()
	dir, csvDir, reader := costCatalog(t)
	lk, errs := attachREST(t, dir, iceberg.Config{Type: "sql"}) // as every command attaches it
	first, _ := costTableFiles(t, reader)
	firstID, firstRows := first.CurrentSnapshot().SnapshotID, icebergtest.Rows(t, first)
	// A scan that starts before the refresh: its plan is made now, its files read after.
	_, before, err := first.Scan().ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := cost.Lookup(dir, "cur.billing")
	if err != nil {
		t.Fatal(err)
	}
	oldCache := ct.Files[0].Cache

	rewriteCSV(t, filepath.Join(csvDir, "a.csv"), 3) // converted again; the old file is pruned
	openSession(t, lk)
	if len(*errs) > 0 {
		t.Fatal(*errs)
	}
	if _, err := os.Stat(oldCache); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the cache kept the replaced converted file %s (%v); the test needs it pruned", oldCache, err)
	}
	second := costFollows(t, "refreshed", dir, reader)
	if second.CurrentSnapshot().SnapshotID == firstID {
		t.Fatal("the refresh committed no snapshot")
	}
	var n int64
	for rec, err := range before {
		if err != nil {
			t.Fatalf("a scan started before the refresh failed after it: %v", err)
		}
		n += rec.NumRows()
		rec.Release()
	}
	if n != firstRows {
		t.Fatalf("a scan started before the refresh read %d rows after it, the snapshot has %d", n, firstRows)
	}
	if got := scanSnapshot(t, second, firstID); got != firstRows {
		t.Fatalf("the snapshot before the refresh scans %d rows after it, it had %d", got, firstRows)
	}

	// Registered again with one file fewer (other columns: a new table), then removed: every
	// snapshot still scans whole.
	secondID, secondRows := second.CurrentSnapshot().SnapshotID, icebergtest.Rows(t, second)
	if err := os.Remove(filepath.Join(csvDir, "b.csv")); err != nil {
		t.Fatal(err)
	}
	registerCost(t, dir, "cur.billing", csvDir)
	if _, err := iceberg.SyncCosts(ctx, reader, dir); err != nil {
		t.Fatal(err)
	}
	third := costFollows(t, "registered again", dir, reader)
	// (Registered with other columns, the table is a new one: the older snapshots are read
	// through the table as a reader loaded it before.)
	for id, rows := range map[int64]int64{firstID: firstRows, secondID: secondRows} {
		if got := scanSnapshot(t, second, id); got != rows {
			t.Fatalf("snapshot %d scans %d rows after the re-registration, it had %d", id, got, rows)
		}
	}
	if err := cost.Remove(dir, "cur.billing"); err != nil {
		t.Fatal(err)
	}
	if _, err := iceberg.SyncCosts(ctx, reader, dir); err != nil {
		t.Fatal(err)
	}
	thirdID, thirdRows := third.CurrentSnapshot().SnapshotID, icebergtest.Rows(t, third)
	if got := scanSnapshot(t, third, thirdID); got != thirdRows { // the dropped table's last snapshot
		t.Fatalf("the dropped table's last snapshot scans %d rows, it had %d", got, thirdRows)
	}
	kept, err := os.ReadDir(filepath.Join(dir, "iceberg", "cost-data"))
	if err != nil || len(kept) == 0 {
		t.Fatalf("no cost files kept for the older snapshots (%v)", err)
	}

	// The keep window passed: the next sync deletes what no retained snapshot names.
	if err := iceberg.SaveConfig(dir, iceberg.Config{Type: "sql", KeepRetired: "1ms"}); err != nil {
		t.Fatal(err)
	}
	registerCost(t, dir, "cur.billing", csvDir)
	for range 2 { // the first sync sees them unnamed, the next one (keep later) deletes them
		time.Sleep(5 * time.Millisecond)
		if _, err := iceberg.SyncCosts(ctx, reader, dir); err != nil {
			t.Fatal(err)
		}
	}
	now := costFollows(t, "after the keep window", dir, reader)
	left, err := os.ReadDir(filepath.Join(dir, "iceberg", "cost-data"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != len(now.Metadata().Snapshots()) || len(now.Metadata().Snapshots()) != 1 {
		t.Fatalf("after the keep window %d cost files are kept for %d snapshots (one file each)", len(left), len(now.Metadata().Snapshots()))
	}
}

// TestCostTableBoundsOfMillisecondTimestamps: a Parquet cost file may hold its timestamps in
// milliseconds (Parquet TIMESTAMP(MILLIS): Spark's and parquet-mr's writers, DuckDB's
// TIMESTAMP_MS). The table's column is an Iceberg timestamp, whose bounds the spec keeps in
// microseconds; copied from the footer as they are, they were a thousand times too small
// (1970), so an engine pruning on them skipped the file for any recent time: a filter on the
// charge period read no row.
func TestCostTableBoundsOfMillisecondTimestamps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, cat := openSQL(t, dir)
	db, pq, tbl := focusTable(t, dir, cat, "focus_ms", "ChargePeriodStart::TIMESTAMP_MS AS ChargePeriodStart, ChargePeriodEnd::TIMESTAMP_MS AS ChargePeriodEnd")
	// The truth, from the file: its first and last charge period start, and the rows from the
	// middle of the range on.
	var lo, hi, mid, rows int64
	q := "SELECT epoch_us(min(ChargePeriodStart)), epoch_us(max(ChargePeriodStart)) FROM read_parquet(" + engine.Literal(pq) + ")"
	r, err := db.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		if err := r.Scan(&lo, &hi); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	mid = lo + (hi-lo)/2
	r, err = db.Query(ctx, "SELECT count(*) FROM read_parquet("+engine.Literal(pq)+") WHERE epoch_us(ChargePeriodStart) >= "+strconv.FormatInt(mid, 10))
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		if err := r.Scan(&rows); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	if lo == hi || rows == 0 {
		t.Fatalf("charge periods %d..%d, %d rows from the middle on; the test needs a range", lo, hi, rows)
	}
	f, ok := tbl.Schema().FindFieldByName("ChargePeriodStart")
	if !ok {
		t.Fatal("no ChargePeriodStart in the table")
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("%d files planned (%v)", len(tasks), err)
	}
	df := tasks[0].File
	if got, want := []int64{bound(df.LowerBoundValues()[f.ID]), bound(df.UpperBoundValues()[f.ID])}, []int64{lo, hi}; !slices.Equal(got, want) {
		t.Errorf("bounds of ChargePeriodStart %v µs, the file's values span %v µs", got, want)
	}
	// Engines prune on the bounds: a scan from the middle of the charge periods on plans the
	// file. (iceberg-go's own reader cannot filter rows on a millisecond column; Spark's and
	// Trino's read TIMESTAMP(MILLIS) files.)
	filter := icebergexpr.GreaterThanEqual(icebergexpr.Reference("ChargePeriodStart"), icebergexpr.Timestamp(mid))
	if tasks, err := tbl.Scan(table.WithRowFilter(filter)).PlanFiles(ctx); err != nil || len(tasks) != 1 {
		t.Fatalf("a scan from the middle of the charge periods on plans %d files (%v); the file holds %d of its rows", len(tasks), err, rows)
	}
}

// focusTable writes the FOCUS sample to a Parquet file with the columns replace (a DuckDB
// REPLACE list) makes, registers it as the cost table finops.<name> of the data directory dir,
// syncs the cost tables to cat and loads the table; db is an engine, closed with the test.
func focusTable(t *testing.T, dir string, cat catalog.Catalog, name, replace string) (db *engine.DB, pq string, tbl *table.Table) {
	t.Helper()
	ctx := context.Background()
	pq = filepath.Join(t.TempDir(), "focus.parquet")
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Exec(ctx, "COPY (SELECT * REPLACE ("+replace+") FROM read_csv("+
		engine.Literal(filepath.Join(testdata, "focus-sample-data", "focus_sample.csv"))+")) TO "+engine.Literal(pq)+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	registerCost(t, dir, "finops."+name, pq)
	if _, err := iceberg.SyncCosts(ctx, cat, dir); err != nil {
		t.Fatal(err)
	}
	if tbl, err = cat.LoadTable(ctx, catalog.ToIdentifier("auditlake_cost", "finops_"+name)); err != nil {
		t.Fatal(err)
	}
	return db, pq, tbl
}

// bound decodes a timestamp bound (little-endian int64), or -1 when there is none.
func bound(b []byte) int64 {
	if len(b) != 8 {
		return -1
	}
	return int64(binary.LittleEndian.Uint64(b))
}

// TestCostTableOfNanosecondTimestamps: a Parquet cost file may hold its timestamps in
// nanoseconds (Parquet TIMESTAMP(NANOS): pandas' and DuckDB's TIMESTAMP_NS; INT96, Spark's
// legacy timestamps, read as nanoseconds too), a type an Iceberg table has only from format
// v3, which Athena does not read. The cost table got no Iceberg table, and every command that
// opens the catalog, and every catalog sync, failed on it for good ("timestamp_ns is not
// supported until v3"), though cur show said it would catch up. The table names a copy of the
// file with those columns in microseconds, the v2 timestamp: iceberg-go's scan reads every row
// with the file's times (to the microsecond), and the bounds are the file's.
func TestCostTableOfNanosecondTimestamps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, cat := openSQL(t, dir)
	// 123 ns past each microsecond: the copy keeps the microseconds.
	db, pq, tbl := focusTable(t, dir, cat, "focus_ns", "make_timestamp_ns(epoch_ns(ChargePeriodStart) + 123) AS ChargePeriodStart")
	if got, want := icebergtest.Rows(t, tbl), costRows(t, dir, `"finops"."focus_ns"`); got != want || got == 0 {
		t.Fatalf("the table holds %d rows, the cost table %d", got, want)
	}
	f, ok := tbl.Schema().FindFieldByName("ChargePeriodStart")
	if !ok || !f.Type.Equals(icebergexpr.PrimitiveTypes.Timestamp) {
		t.Fatalf("ChargePeriodStart is %v in the table, want timestamp", f.Type)
	}
	var want []int64 // the file's times, in microseconds (epoch_ns / 1000)
	r, err := db.Query(ctx, "SELECT epoch_ns(ChargePeriodStart) // 1000 FROM read_parquet("+engine.Literal(pq)+") ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var v int64
		if err := r.Scan(&v); err != nil {
			t.Fatal(err)
		}
		want = append(want, v)
	}
	r.Close()
	_, recs, err := tbl.Scan(table.WithSelectedFields("ChargePeriodStart")).ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		col, ok := rec.Column(0).(*array.Timestamp)
		if !ok || col.DataType().(*arrow.TimestampType).Unit != arrow.Microsecond {
			t.Fatalf("the scan reads ChargePeriodStart as %s", rec.Column(0).DataType())
		}
		for i := range col.Len() {
			got = append(got, int64(col.Value(i)))
		}
		rec.Release()
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("the scan reads %d times %v…, the file holds %v…", len(got), got[:min(3, len(got))], want[:min(3, len(want))])
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("%d files planned (%v)", len(tasks), err)
	}
	df := tasks[0].File
	if lo, hi := bound(df.LowerBoundValues()[f.ID]), bound(df.UpperBoundValues()[f.ID]); lo != want[0] || hi != want[len(want)-1] {
		t.Errorf("bounds of ChargePeriodStart %d..%d µs, the file's values span %d..%d µs", lo, hi, want[0], want[len(want)-1])
	}

	// The same file with INT96 timestamps (as Spark writes them by default).
	src, err := os.Open(pq)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	pf, err := file.NewParquetReader(src)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 20}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := fr.ReadTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Release()
	i96 := filepath.Join(t.TempDir(), "focus96.parquet")
	out, err := os.Create(i96)
	if err != nil {
		t.Fatal(err)
	}
	if err := pqarrow.WriteTable(rows, out, 1<<20, nil, pqarrow.NewArrowWriterProperties(pqarrow.WithDeprecatedInt96Timestamps(true), pqarrow.WithCoerceTimestamps(arrow.Nanosecond))); err != nil {
		t.Fatal(err)
	}
	var typ string
	if err := db.QueryRow(ctx, "SELECT type FROM parquet_schema("+engine.Literal(i96)+") WHERE name = 'ChargePeriodStart'").Scan(&typ); err != nil || typ != "INT96" {
		t.Fatalf("ChargePeriodStart is %s (%v), the test needs INT96", typ, err)
	}
	registerCost(t, dir, "finops.focus_96", i96)
	if _, err := iceberg.SyncCosts(ctx, cat, dir); err != nil {
		t.Fatal(err)
	}
	tbl, err = cat.LoadTable(ctx, catalog.ToIdentifier("auditlake_cost", "finops_focus_96"))
	if err != nil {
		t.Fatal(err)
	}
	if got := icebergtest.Rows(t, tbl); got != int64(len(want)) {
		t.Fatalf("the INT96 file's table holds %d rows, the file %d", got, len(want))
	}
}

// TestSharedCatalogKeepsAnotherLakesCostTables: two data directories (two auditlake nodes)
// sharing one REST or Glue catalog each catalogue their own cost tables under auditlake_cost.
// A sync dropped every table of the namespace its own registry did not name — the other node's
// too, at each of its syncs. It drops only its own now (made by this lake, its files under this
// data directory), as a store table's emptying leaves another installation's alone.
func TestSharedCatalogKeepsAnotherLakesCostTables(t *testing.T) {
	ctx := context.Background()
	srv := icebergtest.NewREST(t, icebergtest.RESTOptions{})
	cat, err := iceberg.Open(ctx, icebergexpr.Properties{"type": "rest", "uri": srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	nodeA, nodeB := t.TempDir(), t.TempDir()
	for _, c := range []struct{ dir, name string }{{nodeA, "cur.billing"}, {nodeB, "cur.other"}, {nodeB, "cur.gone"}} {
		csvDir := t.TempDir()
		copyFile(t, filepath.Join(testdata, "koku-cur-test-data", "test_cur.csv"), filepath.Join(csvDir, "a.csv"))
		registerCost(t, c.dir, c.name, csvDir)
	}
	for _, dir := range []string{nodeA, nodeB} {
		if _, err := iceberg.SyncCosts(ctx, cat, dir); err != nil {
			t.Fatal(err)
		}
	}
	// Tables made by an earlier version have no auditlake.lake-id: told by their files.
	for _, name := range []string{"cur_billing", "cur_gone"} {
		tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake_cost", name))
		if err != nil {
			t.Fatal(err)
		}
		tx := tbl.NewTransaction()
		if err := tx.RemoveProperties([]string{"auditlake.lake-id"}); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := cost.Remove(nodeB, "cur.gone"); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{nodeB, nodeA} {
		if _, err := iceberg.SyncCosts(ctx, cat, dir); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake_cost", "cur_gone")); !errors.Is(err, catalog.ErrNoSuchTable) {
		t.Errorf("node B's unregistered cost table cur.gone is still catalogued (%v)", err)
	}
	for _, name := range []string{"cur_billing", "cur_other"} {
		if n := tableRows(t, cat, catalog.ToIdentifier("auditlake_cost", name)); n == 0 {
			t.Errorf("auditlake_cost.%s holds no rows", name)
		}
	}

	// Node B registering a cost table of the same name, over other files (of other columns),
	// is refused: it neither drops node A's table to make its own nor commits its files there.
	billing := catalog.ToIdentifier("auditlake_cost", "cur_billing")
	want := tableRows(t, cat, billing)
	csvDir := t.TempDir()
	copyFile(t, filepath.Join(testdata, "koku-cur-test-data", "2023-06-01.csv"), filepath.Join(csvDir, "b.csv"))
	registerCost(t, nodeB, "cur.billing", csvDir)
	if _, err := iceberg.SyncCosts(ctx, cat, nodeB); err == nil || !strings.Contains(err.Error(), "cur.billing") {
		t.Errorf("node B's sync of its own cur.billing: %v; want it refused, naming it", err)
	}
	if got := tableRows(t, cat, billing); got != want {
		t.Errorf("node A's cur_billing holds %d rows after node B's sync, %d before", got, want)
	}
}
