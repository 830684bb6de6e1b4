package iceberg_test

import (
	"context"
	"maps"
	"strconv"
	"testing"
	"time"

	iceberggo "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/lake"
)

// newSnapshots are the snapshots of tbl committed after the first n, oldest first.
func newSnapshots(tbl *table.Table, n int) []table.Snapshot {
	return tbl.Metadata().Snapshots()[n:]
}

// TestRewritesAreReplaceSnapshots: a compaction, and a closed day going cold, rewrite files
// without changing the events. The spec's operation for that is "replace", which incremental
// readers skip (Spark's streaming source, changelog scans); "overwrite" makes Spark's
// streaming read fail (or, told to skip overwrites, miss real ones) and a changelog report
// every compacted event as deleted and inserted again. A purge drops events: never "replace";
// nor a catch-up of several commits whose events changed.
func TestRewritesAreReplaceSnapshots(t *testing.T) {
	ctx := context.Background()
	lk, st, cat := ingested(t, 3, true)
	ident := catalog.ToIdentifier("auditlake", "org_trail")
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	n, rows := len(tbl.Metadata().Snapshots()), tbl.CurrentSnapshot().Summary.Properties["total-records"]
	if compact(t, lk, st) == 0 {
		t.Fatal("compaction merged nothing; the test needs a rewrite")
	}
	if tbl, err = cat.LoadTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	rewrites := newSnapshots(tbl, n)
	if len(rewrites) == 0 {
		t.Fatal("no snapshot after the compaction")
	}
	for _, s := range rewrites {
		if s.Summary.Operation != table.OpReplace || s.Summary.Properties["total-records"] != rows {
			t.Errorf("compaction snapshot %d: operation %q, %s records (before %s); want replace, the same records",
				s.SnapshotID, s.Summary.Operation, s.Summary.Properties["total-records"], rows)
		}
	}

	n = len(tbl.Metadata().Snapshots())
	purgeToNewestDay(t, lk, st)
	if tbl, err = cat.LoadTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	for _, s := range newSnapshots(tbl, n) {
		if s.Summary.Operation == table.OpReplace {
			t.Errorf("purge snapshot %d is a replace: it dropped events", s.SnapshotID)
		}
	}

	// A catch-up of an ingest and a compaction in one snapshot: events were added.
	lk.Hooks = nil
	ingestMore(t, lk, st, 2000, 1, 11)
	if compact(t, lk, st) == 0 {
		t.Fatal("compaction merged nothing; the test needs a rewrite")
	}
	n = len(tbl.Metadata().Snapshots())
	if _, err := iceberg.Sync(ctx, cat, lk, st); err != nil {
		t.Fatal(err)
	}
	if tbl, err = cat.LoadTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	caught := newSnapshots(tbl, n)
	if len(caught) != 1 || caught[0].Summary.Operation == table.OpReplace {
		t.Fatalf("catch-up of an ingest and a compaction: %d snapshots, the last %q; want one that is not a replace",
			len(caught), tbl.CurrentSnapshot().Summary.Operation)
	}
	if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) {
		t.Fatalf("the table holds %d events, the store %d", len(got), len(want))
	}
}

// TestDroppedFilesAreDeleteSnapshots: a purge that only drops whole files (the days past the
// retention) and the deletion of a store remove files and add none. Java Iceberg labels that
// "delete" (its DeleteFiles), with the files as DELETED manifest entries; an "overwrite" says
// rows may have been written too, so a reader of the table's history (Spark's streaming
// source with streaming-skip-delete-snapshots, a changelog) takes the purge for a rewrite.
func TestDroppedFilesAreDeleteSnapshots(t *testing.T) {
	ctx := context.Background()
	lk, st, cat := ingested(t, 3, true)
	ident := catalog.ToIdentifier("auditlake", "org_trail")
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	newest := m.Files[0].Date
	for _, f := range m.Files {
		newest = max(newest, f.Date)
	}
	var from time.Time // the first event of the newest day: the cutoff keeps that day whole
	dropped := map[string]bool{}
	for _, f := range m.Files {
		if f.Date != newest {
			dropped[iceberg.FileURI(lk.AbsPath(st.ID, f.Path))] = true
		} else if from.IsZero() || f.MinTime.Before(from) {
			from = f.MinTime
		}
	}
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	n := len(tbl.Metadata().Snapshots())
	short := st
	short.RetentionDays = 1
	var pr lake.PurgeResult
	write(t, lk, st, func(db *engine.DB, w *lake.Writer) (err error) {
		pr, err = lake.Purge(ctx, db, w, short, from.Add(24*time.Hour))
		return err
	})
	if pr.FilesDropped != len(dropped) || pr.FilesRewitten != 0 {
		t.Fatalf("purge dropped %d files and rewrote %d; the test needs it to drop the %d files of the older days only",
			pr.FilesDropped, pr.FilesRewitten, len(dropped))
	}
	if tbl, err = cat.LoadTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	purge := newSnapshots(tbl, n)
	if len(purge) != 1 {
		t.Fatalf("%d snapshots after the purge, want 1", len(purge))
	}
	want := storeIDs(t, lk, st)
	checkDelete(t, tbl, purge[0], dropped, pr.Events, int64(len(want)))
	if got := scanIDs(t, tbl, 0); !equal(got, want) {
		t.Fatalf("after the purge the table holds %d events, the store %d", len(got), len(want))
	}

	// The store's deletion: a last snapshot without files.
	n = len(tbl.Metadata().Snapshots())
	rest := mustFiles(t, tbl)
	if err := lk.Delete(st.ID); err != nil {
		t.Fatal(err)
	}
	if tbl, err = cat.LoadTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	last := newSnapshots(tbl, n)
	if len(last) != 1 {
		t.Fatalf("%d snapshots after the store's deletion, want 1", len(last))
	}
	checkDelete(t, tbl, last[0], rest, int64(len(want)), 0)
}

// checkDelete checks that snapshot s of tbl is a "delete" of exactly the files gone (their
// events, deleted, leaving total), named as DELETED entries of its manifests.
func checkDelete(t *testing.T, tbl *table.Table, s table.Snapshot, gone map[string]bool, deleted, total int64) {
	t.Helper()
	p := s.Summary.Properties
	if s.Summary.Operation != table.OpDelete || p["deleted-data-files"] != strconv.Itoa(len(gone)) || p["added-data-files"] != "" ||
		p["deleted-records"] != strconv.FormatInt(deleted, 10) || p["total-records"] != strconv.FormatInt(total, 10) {
		t.Errorf("snapshot %d: operation %q, summary %v; want delete, %d files and %d records deleted, %d records left",
			s.SnapshotID, s.Summary.Operation, p, len(gone), deleted, total)
	}
	fsys, err := tbl.FS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.Manifests(fsys)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, mf := range ms {
		for e, err := range mf.Entries(fsys, false) {
			if err != nil {
				t.Fatal(err)
			}
			if e.Status() == iceberggo.EntryStatusDELETED && e.SnapshotID() == s.SnapshotID {
				named[e.DataFile().FilePath()] = true
			} else if e.Status() == iceberggo.EntryStatusADDED && e.SnapshotID() == s.SnapshotID {
				t.Errorf("snapshot %d adds %s", s.SnapshotID, e.DataFile().FilePath())
			}
		}
	}
	if !maps.Equal(named, gone) {
		t.Errorf("snapshot %d: its manifests' DELETED entries are %d files, want the %d it dropped", s.SnapshotID, len(named), len(gone))
	}
}

// mustFiles are the data files of tbl's current snapshot.
func mustFiles(t *testing.T, tbl *table.Table) map[string]bool {
	t.Helper()
	files, err := iceberg.Files(context.Background(), tbl)
	if err != nil {
		t.Fatal(err)
	}
	return files
}
