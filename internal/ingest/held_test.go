package ingest

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestABulkLoadHoldsADayInFewFilesAndStoresTheSameRows: a load in many small batches writes
// each day's events into files held open across batches (lake.Writer.HoldFiles) — a few per
// day, where a file per batch left several for compaction to concatenate — and stores exactly
// the rows and EC2 lifecycle facts of the same load writing a file per batch, every one
// committed with its sources (a second run reads nothing again).
func TestABulkLoadHoldsADayInFewFilesAndStoresTheSameRows(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(generatetest.Trail(t, 60000, 1, 5), "AWSLogs")
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	load := func(name string, hold bool) (lake.Store, *Summary) {
		st, err := lk.Create(name, lake.CreateOptions{RetentionDays: 3653})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := CloudTrail(ctx, lk, st, Options{Sources: []string{src}, BatchRows: 3000, CommitEachBatch: !hold})
		if err != nil {
			t.Fatal(err)
		}
		return st, sum
	}
	held, hsum := load("held", true)
	perBatch, psum := load("perbatch", false)
	if hsum.EventsAdded != psum.EventsAdded || hsum.FilesCommitted != psum.FilesCommitted || hsum.FilesCommitted == 0 {
		t.Fatalf("held: %d events, %d files committed; a file per batch: %d, %d", hsum.EventsAdded, hsum.FilesCommitted, psum.EventsAdded, psum.FilesCommitted)
	}
	files := func(st lake.Store, facts bool) []string { return storeFiles(t, lk, st, facts) }
	// A file per day and holdBatches batches at most (the commits in between close the held
	// files; a batch handed over early, or a duplicate closing a file, adds one): a quarter of
	// the files written one per batch, which compaction merged.
	hf := files(held, false)
	written := len(hf) + hsum.Merged
	t.Logf("held: %d files left, %d merged; a file per batch: %d merged", len(hf), hsum.Merged, psum.Merged)
	if psum.Merged == 0 || 4*written > psum.Merged || 4*hsum.Merged > psum.Merged {
		t.Fatalf("held: %d files left, %d merged; a file per batch: %d merged", len(hf), hsum.Merged, psum.Merged)
	}
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rel := func(paths []string) string {
		return "read_parquet(" + engine.ListLiteral(paths) + ", hive_partitioning = false)"
	}
	if got, want := rowsAsJSON(t, db, rel(hf)), rowsAsJSON(t, db, rel(files(perBatch, false))); !slices.Equal(got, want) || len(got) != int(hsum.EventsAdded) {
		t.Fatalf("%d rows held, %d written a file per batch, or values differ", len(got), len(want))
	}
	factRows := func(paths []string) []string {
		return firstColumn(t, db, "SELECT to_json(x)::VARCHAR AS j FROM "+rel(paths)+" AS x ORDER BY j")
	}
	if got, want := factRows(files(held, true)), factRows(files(perBatch, true)); !slices.Equal(got, want) || len(got) < 100 {
		t.Fatalf("%d facts held, %d written a file per batch, or they differ", len(got), len(want))
	}
	again, err := CloudTrail(ctx, lk, held, Options{Sources: []string{src}, BatchRows: 3000})
	if err != nil || again.FilesIngested != 0 || again.EventsAdded != 0 {
		t.Fatalf("a second run ingested %d files, added %d events (%v)", again.FilesIngested, again.EventsAdded, err)
	}
}
