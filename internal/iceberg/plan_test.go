package iceberg_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	iceberggo "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
)

// commitRecords writes n events of day into store st and commits them, one file, through a
// writer of its own (whose Close waits for the table to follow).
func commitRecords(t *testing.T, lk *lake.Lake, st lake.Store, tag string, n int, day time.Time) {
	t.Helper()
	write(t, lk, st, func(db *engine.DB, w *lake.Writer) error {
		return w.Commit([]lake.DataFile{writeBatch(t, db, w, tag, n, day)}, nil, nil)
	})
}

// manifestGets is how many times the manifests (not the manifest lists) under prefix were read.
func manifestGets(s3 *icebergtest.S3, prefix string) int {
	n := 0
	for k, c := range s3.Gets(prefix) {
		if strings.HasSuffix(k, ".avro") && !strings.Contains(k, "/snap-") {
			n += c
		}
	}
	return n
}

// TestSyncAfterACommitReadsNoManifestOfEarlierSnapshots: the sync that follows an append does
// not read the manifests of the snapshots before it (it read every one of them, so a sync cost
// more with every commit): this process knows the files of the snapshot it committed last. A
// snapshot committed by someone else (here: iceberg-go directly, dropping one file) is not
// known, and the next sync reads the table's manifests and brings it back to the store.
func TestSyncAfterACommitReadsNoManifestOfEarlierSnapshots(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	lk, st, pub, cat := publishedStore(t, s3)
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{generated(t, 2000, 4, 5)}, BatchRows: 200, CommitEachBatch: true}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		commitRecords(t, lk, st, fmt.Sprintf("warm-%d", i), 20, time.Date(2026, 4, 1+i, 10, 0, 0, 0, time.UTC))
	}
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "trail"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tbl.Metadata().Snapshots()); n < 5 {
		t.Fatalf("%d snapshots; the test needs several", n)
	}
	before := manifestGets(s3, "lake/trail/metadata/")
	commitRecords(t, lk, st, "append", 20, time.Date(2026, 4, 9, 10, 0, 0, 0, time.UTC))
	if got := manifestGets(s3, "lake/trail/metadata/") - before; got != 0 {
		t.Fatalf("the sync after one append read %d manifests", got)
	}
	tableIsStore(t, s3, lk, st, pub, cat)

	// A snapshot committed elsewhere: one file dropped from the table behind this process.
	if tbl, err = cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "trail")); err != nil {
		t.Fatal(err)
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil || len(tasks) < 2 {
		t.Fatalf("%d files planned (%v)", len(tasks), err)
	}
	tx := tbl.NewTransaction()
	if err := tx.ReplaceDataFilesWithDataFiles(ctx, []iceberggo.DataFile{tasks[0].File}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := iceberg.Follow(ctx, cat, lk, st, time.Hour); err != nil {
		t.Fatal(err)
	}
	tableIsStore(t, s3, lk, st, pub, cat)
}
