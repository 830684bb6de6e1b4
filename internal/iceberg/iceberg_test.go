package iceberg_test

import (
	"bytes"
	"cmp"
	"context"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	icebergexpr "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
)

// scanIDs reads every eventid of the table at snapshot (0: current) through iceberg-go's own scan,
// an implementation independent of the files' writer.
func scanIDs(t *testing.T, tbl *table.Table, snapshot int64) []string {
	t.Helper()
	ctx := context.Background()
	opts := []table.ScanOption{table.WithSelectedFields("eventid")}
	if snapshot != 0 {
		opts = append(opts, table.WithSnapshotID(snapshot))
	}
	_, recs, err := tbl.Scan(opts...).ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		col := rec.Column(0).(*array.String)
		for i := 0; i < col.Len(); i++ {
			ids = append(ids, col.Value(i))
		}
		rec.Release()
	}
	sort.Strings(ids)
	return ids
}

// storeIDs reads every eventid of the store through the lake's own files.
func storeIDs(t *testing.T, lk *lake.Lake, st lake.Store) []string {
	t.Helper()
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range m.Files {
		rows, err := db.Query(ctx, "SELECT eventid FROM read_parquet("+engine.Literal(lk.AbsPath(st.ID, f.Path))+")")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		rows.Close()
	}
	sort.Strings(ids)
	return ids
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTableFollowsIngestCompactionAndDeletion(t *testing.T) {
	lk, cat := openSQL(t, t.TempDir())
	var hookErrs []error
	lk.Hooks = iceberg.Hooks(cat, lk, time.Hour, func(err error) { hookErrs = append(hookErrs, err) })
	followsStore(t, lk, cat, &hookErrs)
}

// followsStore ingests a store into lk (whose hooks keep its table in a catalog), compacts,
// purges and deletes it, and checks after each step that the table, read from reader (the same
// catalog, opened by the test) by iceberg-go's scan, holds exactly the store's rows, and that
// the snapshot before the compaction still reads whole. hookErrs collects the hooks' errors.
func followsStore(t *testing.T, lk *lake.Lake, cat catalog.Catalog, hookErrs *[]error) {
	t.Helper()
	ctx := context.Background()
	st := ingestStore(t, lk, "prod-trail", 6000, 3, 5)
	if len(*hookErrs) > 0 {
		t.Fatal(*hookErrs)
	}
	ident := catalog.ToIdentifier("auditlake", "prod_trail")
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	want := storeIDs(t, lk, st)
	if got := scanIDs(t, tbl, 0); !equal(got, want) {
		t.Fatalf("table holds %d events, store %d", len(got), len(want))
	}
	// Every snapshot holds what the store held after the commit it follows: the snapshots'
	// counts grow with each batch.
	var snaps []int64
	for _, s := range tbl.Metadata().Snapshots() {
		snaps = append(snaps, s.SnapshotID)
	}
	if len(snaps) < 2 {
		t.Fatalf("%d snapshots after a multi-batch ingest, want one per commit", len(snaps))
	}
	before := tbl.CurrentSnapshot().SnapshotID

	// Compaction replaces files: one replace snapshot, same events, and the snapshot before it
	// still reads whole (its files are kept: KeepRetired).
	if compact(t, lk, st) == 0 {
		t.Fatal("compaction merged nothing; the test needs a replace")
	}
	if len(*hookErrs) > 0 {
		t.Fatal(*hookErrs)
	}
	if tbl, err = cat.LoadTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	if got := scanIDs(t, tbl, 0); !equal(got, want) {
		t.Fatalf("after compaction the table holds %d events, store %d", len(got), len(want))
	}
	if got := scanIDs(t, tbl, before); !equal(got, want) {
		t.Fatalf("the snapshot before compaction reads %d events, want %d", len(got), len(want))
	}

	// Purge: the days before the newest one leave the store, and the table with them.
	purgeToNewestDay(t, lk, st)
	if len(*hookErrs) > 0 {
		t.Fatal(*hookErrs)
	}
	if tbl, err = cat.LoadTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	purged := storeIDs(t, lk, st)
	if got := scanIDs(t, tbl, 0); !equal(got, purged) || len(purged) >= len(want) {
		t.Fatalf("after the purge the table holds %d events, the store %d (before: %d)", len(got), len(purged), len(want))
	}

	// Deletion: a last snapshot with no files.
	if err := lk.Delete(st.ID); err != nil {
		t.Fatal(err)
	}
	if len(*hookErrs) > 0 {
		t.Fatal(*hookErrs)
	}
	if tbl, err = cat.LoadTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	if got := scanIDs(t, tbl, 0); len(got) != 0 {
		t.Fatalf("after deletion the table holds %d events", len(got))
	}
}

// ingested is a lake with one store of generated events over several days, and the catalog.
func ingested(t *testing.T, days int, hooks bool) (*lake.Lake, lake.Store, catalog.Catalog) {
	t.Helper()
	lk, cat := openSQL(t, t.TempDir())
	if hooks {
		lk.Hooks = iceberg.Hooks(cat, lk, time.Hour, func(err error) { t.Error(err) })
	}
	return lk, ingestStore(t, lk, "org-trail", 3000, days, 9), cat
}

// TestOneDayQueryPlansOnlyThatDaysFiles: the table is partitioned by day(eventtime), so a scan
// of one day plans that day's files and no other (engines prune the same way).
func TestOneDayQueryPlansOnlyThatDaysFiles(t *testing.T) {
	ctx := context.Background()
	lk, st, cat := ingested(t, 4, true)
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	byDay := map[string]map[string]bool{}
	for _, f := range m.Files {
		if byDay[f.Date] == nil {
			byDay[f.Date] = map[string]bool{}
		}
		byDay[f.Date][iceberg.FileURI(lk.AbsPath(st.ID, f.Path))] = true
	}
	if len(byDay) < 3 {
		t.Fatalf("%d days of files; the test needs several", len(byDay))
	}
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail"))
	if err != nil {
		t.Fatal(err)
	}
	for day, files := range byDay {
		start, _ := time.Parse("2006-01-02", day)
		filter := icebergexpr.NewAnd(
			icebergexpr.GreaterThanEqual(icebergexpr.Reference("eventtime"), icebergexpr.Timestamp(start.UnixMicro())),
			icebergexpr.LessThan(icebergexpr.Reference("eventtime"), icebergexpr.Timestamp(start.AddDate(0, 0, 1).UnixMicro())))
		tasks, err := tbl.Scan(table.WithRowFilter(filter)).PlanFiles(ctx)
		if err != nil {
			t.Fatal(err)
		}
		planned := map[string]bool{}
		for _, task := range tasks {
			planned[task.File.FilePath()] = true
		}
		if len(planned) != len(files) {
			t.Errorf("day %s: the scan plans %d files, the day has %d", day, len(planned), len(files))
		}
		for p := range planned {
			if !files[p] {
				t.Errorf("day %s: the scan plans %s of another day", day, p)
			}
		}
	}
}

// TestSyncCatchesUpAfterACrashBetweenTheTwoCommits: commits the table never saw (the process
// died after the store's manifest, before the snapshot) are caught up by the next Sync, in one
// snapshot, and a Sync with nothing new commits nothing.
func TestSyncCatchesUpAfterACrashBetweenTheTwoCommits(t *testing.T) {
	ctx := context.Background()
	lk, st, cat := ingested(t, 2, false) // no hooks: as if every snapshot commit was lost
	res, err := iceberg.Sync(ctx, cat, lk, st)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Added == 0 || res.Removed != 0 {
		t.Fatalf("first sync: %+v", res)
	}
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) {
		t.Fatalf("table holds %d events, store %d", len(got), len(want))
	}
	again, err := iceberg.Sync(ctx, cat, lk, st)
	if err != nil {
		t.Fatal(err)
	}
	if again.Added != 0 || again.Removed != 0 || again.SnapshotID != res.SnapshotID {
		t.Fatalf("a sync with nothing new committed a snapshot: %+v after %+v", again, res)
	}
}

// TestSnapshotsOlderThanTheWindowExpire: with a window shorter than the gaps between commits,
// the next commit's follow-up forgets the old snapshots; the current one reads whole.
func TestSnapshotsOlderThanTheWindowExpire(t *testing.T) {
	ctx := context.Background()
	lk, st, cat := ingested(t, 2, false)
	if _, err := iceberg.Sync(ctx, cat, lk, st); err != nil {
		t.Fatal(err)
	}
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Compact(ctx, db, w, true); err != nil {
		t.Fatal(err)
	}
	w.Close()
	db.Close()
	if _, err := iceberg.Sync(ctx, cat, lk, st); err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tbl.Metadata().Snapshots()); n < 2 {
		t.Fatalf("%d snapshots before expiry; the test needs two", n)
	}
	time.Sleep(20 * time.Millisecond)
	if err := iceberg.Expire(ctx, cat, st, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if tbl, err = cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail")); err != nil {
		t.Fatal(err)
	}
	if n := len(tbl.Metadata().Snapshots()); n != 1 {
		t.Fatalf("%d snapshots after expiry, want the current one", n)
	}
	if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) {
		t.Fatalf("after expiry the table holds %d events, store %d", len(got), len(want))
	}
}

// TestOldMetadataFilesAreDeleted: each snapshot writes a metadata file; in the SQL catalog's
// tables those past the last 20 are deleted after each commit (a commit a minute left 1,440 a
// day for good), and the table reads the same.
func TestOldMetadataFilesAreDeleted(t *testing.T) {
	ctx := context.Background()
	lk, st, cat := ingested(t, 1, false)
	for i := range 30 {
		ingestMore(t, lk, st, 200, 1, uint64(100+i))
		if _, err := iceberg.Sync(ctx, cat, lk, st); err != nil {
			t.Fatal(err)
		}
	}
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tbl.Metadata().Snapshots()); n < 30 {
		t.Fatalf("%d snapshots: the test needs one per sync", n)
	}
	files, err := filepath.Glob(filepath.Join(strings.TrimPrefix(tbl.Location(), "file://"), "metadata", "*.metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 || len(files) > 21 {
		t.Fatalf("%d metadata files after 30 syncs, want at most 21 (the current one and 20 before it)", len(files))
	}
	if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) || len(want) != 9000 {
		t.Fatalf("the table holds %d events, the store %d (want 9000)", len(got), len(want))
	}
}

// TestExpiredSnapshotsLeaveNoMetadataFiles: each snapshot writes a manifest list and manifests,
// which iceberg-go deletes with the data files when a snapshot expires (auditlake's lake
// deletes those); auditlake deletes them itself. After snapshots of appends and of a
// compaction expire, the metadata directory holds exactly the manifest lists and manifests of
// the snapshots kept (none left over, none missing), and each kept snapshot scans whole.
func TestExpiredSnapshotsLeaveNoMetadataFiles(t *testing.T) {
	ctx := context.Background()
	lk, st, cat := ingested(t, 2, true) // retired files kept an hour: old snapshots read
	syncs := func(seed uint64) {
		for i := range 4 {
			ingestMore(t, lk, st, 300, 2, seed+uint64(i))
			if i == 2 {
				compact(t, lk, st)
			}
			if _, err := iceberg.Sync(ctx, cat, lk, st); err != nil {
				t.Fatal(err)
			}
		}
	}
	load := func() *table.Table {
		tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail"))
		if err != nil {
			t.Fatal(err)
		}
		return tbl
	}
	// check: the files of the metadata directory (but metadata.json files) are exactly those
	// the kept snapshots name, and each kept snapshot reads.
	check := func(wantSnapshots int) {
		t.Helper()
		tbl := load()
		snaps := tbl.Metadata().Snapshots()
		if len(snaps) != wantSnapshots {
			t.Fatalf("%d snapshots kept, want %d", len(snaps), wantSnapshots)
		}
		checkKeptMetadata(t, tbl, lk, st)
	}
	if _, err := iceberg.Sync(ctx, cat, lk, st); err != nil {
		t.Fatal(err)
	}
	syncs(200)
	older := len(load().Metadata().Snapshots())
	mark := time.Now()
	time.Sleep(60 * time.Millisecond)
	syncs(300)
	newer := len(load().Metadata().Snapshots()) - older
	if older < 4 || newer < 4 {
		t.Fatalf("%d and %d snapshots; the test needs several of each", older, newer)
	}
	// The snapshots before mark expire, those after it stay.
	if err := iceberg.Expire(ctx, cat, st, time.Since(mark)-30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	check(newer)
	time.Sleep(20 * time.Millisecond)
	if err := iceberg.Expire(ctx, cat, st, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	check(1)
}

// TestSnapshotsPastTheCapExpireOldestFirst: a table keeps at most MaxSnapshots snapshots
// whatever the keep window (a commit every few seconds made a day's metadata file tens of MB):
// past MaxSnapshots plus the slack, the oldest expire down to MaxSnapshots, their manifest
// lists and manifests deleted; within the slack nothing expires; the kept ones all read.
func TestSnapshotsPastTheCapExpireOldestFirst(t *testing.T) {
	ctx := context.Background()
	// The syncs are the test's own (a lake hook's expiry would run the cap in the background);
	// retired files are kept an hour, so old snapshots read.
	lk, st, cat := ingested(t, 2, false)
	lk.Hooks = &lake.Hooks{KeepRetired: time.Hour}
	load := func() *table.Table {
		tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail"))
		if err != nil {
			t.Fatal(err)
		}
		return tbl
	}
	ids := func(tbl *table.Table) []int64 {
		var out []int64
		for _, s := range tbl.Metadata().Snapshots() {
			out = append(out, s.SnapshotID)
		}
		slices.Sort(out)
		return out
	}
	commit := func(seed uint64) {
		ingestMore(t, lk, st, 200, 2, seed)
		if _, err := iceberg.Sync(ctx, cat, lk, st); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Millisecond) // snapshots a few milliseconds apart, as commits are
	}
	seed := uint64(900)
	for range 5 {
		commit(seed)
		seed++
	}
	// The table is at the cap plus its slack: nothing expires.
	n := len(load().Metadata().Snapshots())
	if n < 4 {
		t.Fatalf("%d snapshots, the test needs 4", n)
	}
	capped := n - 2
	iceberg.SetSnapshotCap(t, capped, 2)
	if err := iceberg.Expire(ctx, cat, st, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := len(load().Metadata().Snapshots()); got != n {
		t.Fatalf("%d snapshots after an expiry within the cap and its slack, want all %d", got, n)
	}
	commit(seed)
	before := load()
	var newest []int64
	snaps := slices.Clone(before.Metadata().Snapshots())
	slices.SortFunc(snaps, func(a, b table.Snapshot) int { return cmp.Compare(b.TimestampMs, a.TimestampMs) })
	for _, s := range snaps[:capped] {
		newest = append(newest, s.SnapshotID)
	}
	slices.Sort(newest)
	if err := iceberg.Expire(ctx, cat, st, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	after := load()
	if got := ids(after); !slices.Equal(got, newest) {
		t.Fatalf("kept snapshots %v, want the %d newest %v (of %v)", got, capped, newest, ids(before))
	}
	checkKeptMetadata(t, after, lk, st)
	// Without a keep window (--keep-retired 0) the cap alone bounds them.
	for range 3 {
		seed++
		commit(seed)
	}
	before = load()
	if err := iceberg.Expire(ctx, cat, st, 0); err != nil {
		t.Fatal(err)
	}
	if got := len(load().Metadata().Snapshots()); got != capped {
		t.Fatalf("%d snapshots after an expiry without a window, want %d (%d before)", got, capped, len(before.Metadata().Snapshots()))
	}
}

// TestSweepDeletesOnlyOldMetadataFilesNothingNames: metadata files no snapshot or metadata log
// names (left by expiry before it deleted them, or by a crash) are deleted once older than the
// keep window; a named file, however old, and an unnamed one younger than the window (a
// manifest a commit in another process is writing) stay, and the table reads the same.
func TestSweepDeletesOnlyOldMetadataFilesNothingNames(t *testing.T) {
	ctx := context.Background()
	lk, st, cat := ingested(t, 2, true)
	for i := range 3 {
		ingestMore(t, lk, st, 300, 2, uint64(500+i))
	}
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail"))
	if err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimPrefix(tbl.Location(), "file://") + "/metadata"
	before, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	for _, e := range before { // every named file made old: age alone must not delete it
		if err := os.Chtimes(filepath.Join(dir, e.Name()), old, old); err != nil {
			t.Fatal(err)
		}
	}
	orphans := map[string]bool{"snap-1-0-0bad.avro": true, "0bad-m0.avro": true, "00000-0bad.metadata.json": true}
	stay := []string{"fresh-m0.avro", "notes.txt"}
	for name := range orphans {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("left over"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range stay {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("kept"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(filepath.Join(dir, "notes.txt"), old, old); err != nil {
		t.Fatal(err)
	}
	// Another data directory whose catalog names this one's table (a copy of it) leaves it alone.
	other, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if swept, err := iceberg.Sweep(ctx, cat, other, st, 24*time.Hour); err != nil || swept.Files != 0 {
		t.Fatalf("a sweep from another data directory deleted %d files (%v)", swept.Files, err)
	}
	swept, err := iceberg.Sweep(ctx, cat, lk, st, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if swept.Files != len(orphans) || swept.Bytes != int64(len(orphans)*len("left over")) {
		t.Fatalf("swept %+v, want the %d old files nothing names", swept, len(orphans))
	}
	after, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}
	for _, e := range after {
		left[e.Name()] = true
	}
	for _, e := range before {
		if !left[e.Name()] {
			t.Errorf("%s, named by the table, was deleted", e.Name())
		}
	}
	for name := range orphans {
		if left[name] {
			t.Errorf("%s, old and named by nothing, is left", name)
		}
	}
	for _, name := range stay {
		if !left[name] {
			t.Errorf("%s (younger than the window, or no metadata file) was deleted", name)
		}
	}
	if tbl, err = cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail")); err != nil {
		t.Fatal(err)
	}
	for _, s := range tbl.Metadata().Snapshots() {
		scanIDs(t, tbl, s.SnapshotID)
	}
	if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) {
		t.Fatalf("after the sweep the table holds %d events, the store %d", len(got), len(want))
	}
}

// TestMovedOrCopiedDataDirectoryGetsItsOwnTables: the embedded catalog names a table's metadata
// by its absolute path, so a data directory moved elsewhere named files that were gone (every
// sync failed for good) and a copy named the original's (its commits changed the original's
// table). The next sync makes the table again in the data directory it runs in, holding the
// store's rows; the original's table is left as it was.
func TestMovedOrCopiedDataDirectoryGetsItsOwnTables(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	first := filepath.Join(base, "first")
	lk, err := lake.Open(first)
	if err != nil {
		t.Fatal(err)
	}
	st := ingestStore(t, lk, "org-trail", 2000, 2, 21)
	cat, err := iceberg.Open(ctx, iceberg.SQLProperties(first))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iceberg.Sync(ctx, cat, lk, st); err != nil {
		t.Fatal(err)
	}
	closeCatalog(cat)
	// sync opens dir's lake and catalog and syncs the store; the table must be in dir and hold
	// the store's rows.
	sync := func(dir string) (*lake.Lake, catalog.Catalog) {
		t.Helper()
		lk, cat := openSQL(t, dir)
		t.Cleanup(func() { closeCatalog(cat) })
		if _, err := iceberg.Sync(ctx, cat, lk, st); err != nil {
			t.Fatalf("sync in %s: %v", dir, err)
		}
		tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tbl.Location(), "file://"+dir+"/") {
			t.Fatalf("the table of %s is at %s", dir, tbl.Location())
		}
		if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) || len(want) == 0 {
			t.Fatalf("the table of %s holds %d events, the store %d", dir, len(got), len(want))
		}
		return lk, cat
	}
	moved := filepath.Join(base, "moved")
	if err := os.Rename(first, moved); err != nil {
		t.Fatal(err)
	}
	_, movedCat := sync(moved)
	before, err := movedCat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail"))
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(base, "copied")
	if err := os.CopyFS(copied, os.DirFS(moved)); err != nil {
		t.Fatal(err)
	}
	copyLake, _ := sync(copied)
	ingestMore(t, copyLake, st, 500, 1, 22) // the copy's commits
	sync(copied)
	after, err := movedCat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail"))
	if err != nil {
		t.Fatal(err)
	}
	if after.MetadataLocation() != before.MetadataLocation() {
		t.Fatalf("the copy's syncs changed the original's table: %s, then %s", before.MetadataLocation(), after.MetadataLocation())
	}
}

// closeCatalog closes cat if it holds something open (the SQL catalog's database).
func closeCatalog(cat catalog.Catalog) {
	if c, ok := cat.(catalog.Closer); ok {
		c.Close()
	}
}

// checkKeptMetadata fails the test unless tbl's metadata directory holds exactly the manifest
// lists and manifests its snapshots name (besides metadata files: none left over, none
// missing), every snapshot scans, and the current one holds the events of store st.
func checkKeptMetadata(t *testing.T, tbl *table.Table, lk *lake.Lake, st lake.Store) {
	t.Helper()
	fsys, err := tbl.FS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, s := range tbl.Metadata().Snapshots() {
		named[s.ManifestList] = true
		ms, err := s.Manifests(fsys)
		if err != nil {
			t.Fatalf("snapshot %d: %v", s.SnapshotID, err)
		}
		for _, m := range ms {
			named[m.FilePath()] = true
		}
		if s.SnapshotID != tbl.CurrentSnapshot().SnapshotID {
			scanIDs(t, tbl, s.SnapshotID) // reads, or fails the test
		}
	}
	dir := strings.TrimPrefix(tbl.Location(), "file://") + "/metadata"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := "file://" + dir + "/" + e.Name()
		if !strings.HasSuffix(e.Name(), ".metadata.json") && !named[p] {
			t.Errorf("%s is left, named by no kept snapshot", e.Name())
		}
		delete(named, p)
	}
	for p := range named {
		t.Errorf("%s is gone, named by a kept snapshot", p)
	}
	if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) {
		t.Fatalf("the table holds %d events, the store %d", len(got), len(want))
	}
}

// TestConfigAndActivityTablesSayTheirEventJSONIsWhole: the table property auditlake.eventjson
// tells an engine whether it may trust eventjson as the files hold it. Only a CloudTrail store
// cuts its cold files and leaves its hot files' checksums to derive; a Config or activity
// store's files hold every event's JSON whole and have no eventjsonchecksum column. Their
// tables said "cut in cold files: … eventjsonchecksum is null", sending readers to auditlake's
// views for JSON they hold whole.
func TestConfigAndActivityTablesSayTheirEventJSONIsWhole(t *testing.T) {
	ctx := context.Background()
	lk, cat := openSQL(t, t.TempDir())
	lk.Hooks = iceberg.Hooks(cat, lk, time.Hour, func(err error) { t.Error(err) })
	cfg, err := lk.Create("config-items", lake.CreateOptions{Type: lake.TypeConfig, RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.Config(ctx, lk, cfg, ingest.Options{Sources: []string{filepath.Join(testdata, "cloud-custodian-event-and-config-fixtures", "config")}}); err != nil {
		t.Fatal(err)
	}
	act := activityStore(t, lk, "app-events")
	trail := ingestStore(t, lk, "org-trail", 500, 1, 3)
	for _, c := range []struct {
		st   lake.Store
		want string
	}{{cfg, iceberg.EventJSONWhole}, {act, iceberg.EventJSONWhole}, {trail, iceberg.EventJSONCut}} {
		tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", iceberg.TableName(c.st.Name)))
		if err != nil {
			t.Fatal(err)
		}
		if got := tbl.Properties()[iceberg.EventJSONProperty]; got != c.want {
			t.Errorf("%s store %s: %s is %q, want %q", c.st.Type, c.st.Name, iceberg.EventJSONProperty, got, c.want)
		}
	}
}

// TestAthenaViewOfAStoreWhoseNameStartsWithADigit: a store may be named 2024-app (eds create
// takes a leading digit, as CloudTrail Lake does); its table is auditlake.2024_app. Trino, whose
// SQL Athena's views are, refuses an identifier that starts with a digit unless it is quoted
// ("identifiers must not start with a digit"), so the view athena ddl printed — FROM
// auditlake.2024_app — could not be created. The view's SELECT is run here as DuckDB, whose
// parser refuses such identifiers as Trino's does, reads it over a table of that name.
func TestAthenaViewOfAStoreWhoseNameStartsWithADigit(t *testing.T) {
	ctx := context.Background()
	lk, cat := openSQL(t, t.TempDir())
	lk.Hooks = iceberg.Hooks(cat, lk, time.Hour, func(err error) { t.Error(err) })
	st := activityStore(t, lk, "2024-app")
	tbl, err := iceberg.LoadTable(ctx, cat, st)
	if err != nil {
		t.Fatal(err)
	}
	ddl, err := iceberg.AthenaDDL(tbl, st, "s3://lake/2024-app/")
	if err != nil {
		t.Fatal(err)
	}
	_, view, ok := strings.Cut(ddl, "CREATE OR REPLACE VIEW ")
	if !ok {
		t.Fatalf("no view in the DDL:\n%s", ddl)
	}
	_, sel, _ := strings.Cut(view, " AS ")
	sel, _, _ = strings.Cut(sel, ";")
	db := enginetest.Open(t)
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, `CREATE SCHEMA auditlake; CREATE TABLE auditlake."2024_app" AS SELECT * FROM read_parquet(`+engine.Literal(lk.AbsPath(st.ID, m.Files[0].Path))+`)`); err != nil {
		t.Fatal(err)
	}
	if n := countOf(t, db, "SELECT count(*) FROM ("+sel+")"); n != 1 {
		t.Fatalf("the view reads %d rows, the store holds 1", n)
	}
}

// TestTablesOfDeltaEncodedFilesTurnVectorizedReadsOff: auditlake's Parquet writer encodes
// strings that are not dictionary encoded DELTA_LENGTH_BYTE_ARRAY and integers
// DELTA_BINARY_PACKED (in data pages v2). Iceberg's vectorized Parquet reader for Spark, used
// by default whenever the columns a query reads are all primitive (SELECT eventtime, eventid
// …), read neither until 2025-2026 (apache/iceberg#13391, #15362): such a query failed with
// "Cannot support vectorized reads for column … with encoding DELTA_LENGTH_BYTE_ARRAY". A table whose files
// use them carries read.parquet.vectorization.enabled=false, which Spark's Iceberg reader
// honours (its row reader reads every encoding) and other engines ignore.
func TestTablesOfDeltaEncodedFilesTurnVectorizedReadsOff(t *testing.T) {
	ctx := context.Background()
	lk, cat := openSQL(t, t.TempDir())
	lk.Hooks = iceberg.Hooks(cat, lk, time.Hour, func(err error) { t.Error(err) })
	trail := ingestStore(t, lk, "org-trail", 500, 1, 3)
	act := activityStore(t, lk, "app-events")
	for _, st := range []lake.Store{trail, act} {
		m, err := lk.ReadManifest(st.ID)
		if err != nil {
			t.Fatal(err)
		}
		var delta []string
		for _, f := range m.Files {
			delta = append(delta, deltaEncoded(t, lk.AbsPath(st.ID, f.Path))...)
		}
		tbl, err := iceberg.LoadTable(ctx, cat, st)
		if err != nil {
			t.Fatal(err)
		}
		got := tbl.Properties()["read.parquet.vectorization.enabled"]
		if len(delta) > 0 && got != "false" {
			t.Errorf("%s store %s: its files encode %s, and its table's read.parquet.vectorization.enabled is %q", st.Type, st.Name, delta[:min(len(delta), 3)], got)
		}
	}
}

// deltaEncoded are the columns of the Parquet file at path that a delta encoding encodes, with
// the encoding.
func deltaEncoded(t *testing.T, path string) (out []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	file, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range file.Metadata().RowGroups {
		for _, c := range rg.Columns {
			for _, e := range c.MetaData.Encoding {
				if e == format.DeltaLengthByteArray || e == format.DeltaBinaryPacked || e == format.DeltaByteArray {
					out = append(out, strings.Join(c.MetaData.PathInSchema, ".")+" "+e.String())
				}
			}
		}
	}
	return out
}

// TestDataDirectoryWithURICharactersInItsPath: a table names its location, metadata, manifests
// and data files by URI, so a data directory whose path holds a space, "#", "?", "%" or a
// letter outside ASCII (a home directory "/home/José/audit lake") needs them percent-encoded
// as iceberg-go encodes the location: unencoded, "#" and "?" cut the path (no table at all:
// "mkdir …: not a directory"), "%" is an invalid escape, and a space or "é" left the table's
// encoded location outside the data directory, so every commit dropped the table and made it
// again (one snapshot, no history). The table keeps one snapshot per commit, every data file
// path decodes to the store's file, iceberg-go's scan reads the store's events, and catalog
// sync's sweep finds its metadata directory.
func TestDataDirectoryWithURICharactersInItsPath(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "José's audit lake #1 ?50%zz %41")
	lk, cat := openSQL(t, dir)
	lk.Hooks = iceberg.Hooks(cat, lk, time.Hour, func(err error) { t.Error(err) })
	st := ingestStore(t, lk, "org-trail", 3000, 2, 9)
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tbl.Metadata().Snapshots()); n != 3 {
		t.Errorf("%d snapshots after 3 commits; want 3 (a table made again drops its history)", n)
	}
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	store := map[string]bool{}
	for _, f := range m.Files {
		store[lk.AbsPath(st.ID, f.Path)] = true
	}
	paths := map[string]bool{}
	for p := range mustFiles(t, tbl) {
		u, err := url.Parse(p)
		if err != nil || u.Scheme != "file" {
			t.Fatalf("data file %q is not a file URI: %v", p, err)
		}
		paths[filepath.FromSlash(u.Path)] = true
	}
	if !maps.Equal(paths, store) {
		t.Errorf("the table's data files decode to %v, the store's are %v", paths, store)
	}
	if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) {
		t.Fatalf("the table holds %d events, the store %d", len(got), len(want))
	}
	// A metadata file nothing names: catalog sync's sweep of the table's directory deletes it,
	// and only it, every file made old (the files the table names are told by their URIs).
	u, err := url.Parse(tbl.Location())
	if err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(filepath.FromSlash(u.Path), "metadata")
	if err := os.WriteFile(filepath.Join(meta, "snap-1-0-0bad.avro"), []byte("left over"), 0o644); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(meta)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	for _, e := range entries {
		if err := os.Chtimes(filepath.Join(meta, e.Name()), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if swept, err := iceberg.Sweep(ctx, cat, lk, st, 24*time.Hour); err != nil || swept.Files != 1 {
		t.Fatalf("the sweep deleted %d files (%v); want the one nothing names", swept.Files, err)
	}
}
