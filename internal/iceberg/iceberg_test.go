package iceberg_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate"
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
	ctx := context.Background()
	src := t.TempDir()
	cfg := generate.DefaultConfig()
	cfg.Out, cfg.Events, cfg.Days, cfg.Seed = src, 6000, 3, 5
	if _, err := generate.Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := iceberg.Open(ctx, iceberg.SQLProperties(dir))
	if err != nil {
		t.Fatal(err)
	}
	var hookErrs []error
	lk.Hooks = iceberg.Hooks(cat, lk, time.Hour, func(err error) { hookErrs = append(hookErrs, err) })
	st, err := lk.Create("prod-trail", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{filepath.Join(src, "AWSLogs")}, BatchRows: 1000}); err != nil {
		t.Fatal(err)
	}
	if len(hookErrs) > 0 {
		t.Fatal(hookErrs)
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
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	merged, err := lake.Compact(ctx, db, w, true)
	w.Close()
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if merged == 0 {
		t.Fatal("compaction merged nothing; the test needs a replace")
	}
	if len(hookErrs) > 0 {
		t.Fatal(hookErrs)
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

	// Deletion: a last snapshot with no files.
	if err := lk.Delete(st.ID); err != nil {
		t.Fatal(err)
	}
	if len(hookErrs) > 0 {
		t.Fatal(hookErrs)
	}
	if tbl, err = cat.LoadTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	if got := scanIDs(t, tbl, 0); len(got) != 0 {
		t.Fatalf("after deletion the table holds %d events", len(got))
	}
}
