package lake

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
)

// TestKeyFilterNeverForgetsAKey: every key added is reported as maybe present, and keys never
// added mostly are not.
func TestKeyFilterNeverForgetsAKey(t *testing.T) {
	f := newKeyFilter()
	rng := rand.New(rand.NewPCG(5, 6))
	added := make([]uint64, 200_000)
	for i := range added {
		added[i] = rng.Uint64()
		f.add(added[i])
	}
	for _, h := range added {
		if !f.mayContain(h) {
			t.Fatalf("key %#x was added but is reported absent", h)
		}
	}
	hits := 0
	for range 100_000 {
		if f.mayContain(rng.Uint64()) {
			hits++
		}
	}
	if hits > 100 { // about 3 expected at this load
		t.Errorf("%d of 100,000 absent keys reported present", hits)
	}
}

// TestBatchesOfOneWriterAreDeduplicatedWithOrWithoutItsFilter: a writer's later batches drop the
// records its earlier batches wrote — at the same instants as new records, in files it wrote and
// in a file another writer wrote before — whether its key filter answers "no" for the new ones,
// "maybe" for every key (a saturated filter) or is not consulted at all (a new writer).
func TestBatchesOfOneWriterAreDeduplicatedWithOrWithoutItsFilter(t *testing.T) {
	ctx := context.Background()
	db := openEngine(t)
	rec := keyedRecord
	// Batch 0 comes from an earlier writer; batches 1-2 from the writer under test. Every
	// duplicate shares its original's eventtime, and each new record shares an instant with one.
	batches := [][]*cloudtrail.Record{
		{rec("old-1", "1", 0), rec("old-2", "1", 50)},
		{rec("a", "1", 10), rec("b", "1", 20), rec("c", "2", 30)},
		{rec("a", "1", 10), rec("a", "2", 10), rec("old-2", "1", 50), rec("d", "1", 20), rec("c", "2", 30), rec("e", "2", 30), rec("f", "1", 25)},
	}
	wantAdded := []int64{2, 3, 4} // batch 2: "a" of account 2, "d", "e", "f"
	for _, mode := range []string{"filter", "saturated", "new writer"} {
		t.Run(mode, func(t *testing.T) {
			lk, s := newStore(t)
			write := func(w *Writer, i int) {
				t.Helper()
				files, n, err := WriteRecords(ctx, db, w, NewBatch(append([]*cloudtrail.Record(nil), batches[i]...)))
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Commit(files, nil, nil); err != nil {
					t.Fatal(err)
				}
				if n != wantAdded[i] {
					t.Errorf("batch %d: %d records written, want %d", i, n, wantAdded[i])
				}
			}
			w, err := lk.BeginWrite(s.ID)
			if err != nil {
				t.Fatal(err)
			}
			write(w, 0)
			w.Close()
			w, err = lk.BeginWrite(s.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			write(w, 1)
			switch mode {
			case "saturated":
				for i := range w.keys.blocks {
					w.keys.blocks[i] = [8]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
				}
			case "new writer":
				w.Close()
				if w, err = lk.BeginWrite(s.ID); err != nil {
					t.Fatal(err)
				}
				if len(w.keyed) != 0 {
					t.Fatal("a new writer starts with keyed files")
				}
			}
			write(w, 2)
		})
	}
}

// TestABatchWrittenBeforeTheLastCommitIsDeduplicatedAgainstIt: ingest writes a batch while the
// previous batch's commit runs. The files written but not yet committed must count as stored:
// a duplicate of their records is dropped, a new record at the same instant kept, and the two
// commits leave every key once.
func TestABatchWrittenBeforeTheLastCommitIsDeduplicatedAgainstIt(t *testing.T) {
	ctx := context.Background()
	db := openEngine(t)
	rec := func(id string, sec int) *cloudtrail.Record { return keyedRecord(id, "1", sec) }
	lk, s := newStore(t)
	w := beginWrite(t, lk, s.ID)
	first, n1, err := WriteRecords(ctx, db, w, NewBatch([]*cloudtrail.Record{rec("a", 10), rec("b", 20)}))
	if err != nil || n1 != 2 {
		t.Fatalf("first batch: %d written, %v", n1, err)
	}
	// Not committed yet. The next batch repeats "a" and "b" and adds "c" at b's instant.
	second, n2, err := WriteRecords(ctx, db, w, NewBatch([]*cloudtrail.Record{rec("a", 10), rec("c", 20), rec("b", 20)}))
	if err != nil {
		t.Fatal(err)
	}
	if n2 != 1 {
		t.Errorf("second batch: %d records written, want 1 (c)", n2)
	}
	if err := w.Commit(first, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(second, nil, nil); err != nil {
		t.Fatal(err)
	}
	if len(w.pending) != 0 {
		t.Errorf("%d files still pending after their commits", len(w.pending))
	}
	var files []string
	for _, f := range w.Manifest().Files {
		files = append(files, lk.AbsPath(s.ID, f.Path))
	}
	var rows, keys int
	if err := db.QueryRow(ctx, "SELECT count(*), count(DISTINCT eventid) FROM read_parquet("+engine.ListLiteral(files)+")").Scan(&rows, &keys); err != nil {
		t.Fatal(err)
	}
	if rows != 3 || keys != 3 {
		t.Errorf("store holds %d rows of %d keys, want 3 of 3", rows, keys)
	}
}
