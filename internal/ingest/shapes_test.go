package ingest_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// repackTrail writes the records of every delivery file under src into dst as files of perFile
// records each — issue 21's second data shape, few large files, as albench -repack-out makes
// it (generate.Repack) — and returns how many records it wrote.
func repackTrail(t *testing.T, src, dst string, perFile int) int {
	t.Helper()
	_, records, err := generate.Repack(src, dst, perFile)
	if err != nil {
		t.Fatal(err)
	}
	return records
}

// storeRows is every row of a store, all columns, as JSON text, in eventid order.
func storeRows(t *testing.T, s *query.Session, store string) []string {
	t.Helper()
	res, err := s.Run(context.Background(), `SELECT to_json(x)::VARCHAR FROM "aws:cloudtrail".`+engine.Ident(store)+
		` AS x ORDER BY eventid, recipientaccountid`)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(res.Rows))
	for i, r := range res.Rows {
		out[i] = r[0].(string)
	}
	return out
}

// Issue 21 target 6: ingest is tuned on two shapes of the same trail — many small delivery
// files, and few large ones (a busy trail's 5,000 events a file), whose records are decoded in
// place, held until their file ends and cut across batches. Whichever the shape, the store
// holds the same rows, every column alike.
func TestTheSameEventsInSmallOrLargeFilesGiveTheSameStore(t *testing.T) {
	ctx := context.Background()
	const events = 6000
	gen := generatetest.Trail(t, events, 3, 21)
	small := filepath.Join(gen, "AWSLogs")
	large := filepath.Join(t.TempDir(), "AWSLogs")
	records := repackTrail(t, small, large, 2500)

	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	added := map[string]int64{}
	for _, shape := range []struct{ name, dir string }{{"small", small}, {"large", large}} {
		st, err := lk.Create(shape.name, lake.CreateOptions{RetentionDays: 3653})
		if err != nil {
			t.Fatal(err)
		}
		// Batches of 1,000 events: a large file's records end up in three batches.
		sum, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{shape.dir}, Workers: 2, BatchRows: 1000})
		if err != nil {
			t.Fatal(err)
		}
		checkArithmetic(t, shape.name, sum)
		if sum.Errors > 0 || sum.FilesFailed > 0 || sum.Records != records {
			t.Fatalf("%s files: %d records read of %d, %d errors, %d files failed: %v", shape.name, sum.Records, records, sum.Errors, sum.FilesFailed, sum.Problems)
		}
		added[shape.name] = sum.EventsAdded
	}
	if added["small"] != added["large"] || added["small"] < int64(events) {
		t.Fatalf("events added: %d from small files, %d from large ones (generated %d)", added["small"], added["large"], events)
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, want := storeRows(t, s, "large"), storeRows(t, s, "small")
	if int64(len(want)) != added["small"] {
		t.Fatalf("the small files' store holds %d rows, %d were added", len(want), added["small"])
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("row %d differs:\nlarge files %s\nsmall files %s", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows from large files, %d from small ones", len(got), len(want))
	}
}
