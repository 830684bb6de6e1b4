package iceberg_test

import (
	"context"
	"testing"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/iceberg"
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
