package lake

import (
	"context"
	"fmt"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
)

// TestKeyIndexNeverForgetsAKeyWithinItsBound: every key added is found with its file, on any
// date, keys never added are not found (the old Bloom filter said "maybe" for one in 20 after
// ten million keys, and each "maybe" read every file of its date), and a hash added by two
// files is found without naming either.
func TestKeyIndexNeverForgetsAKeyWithinItsBound(t *testing.T) {
	x := newKeyIndex(defaultKeySlots)
	rng := rand.New(rand.NewPCG(5, 6))
	type key struct {
		date, file string
		h          uint64
	}
	var added []key
	for f := range 30 { // 200,000 keys a date, three dates: within the bound
		date := fmt.Sprintf("2026-09-%02d", 1+f%3)
		file := fmt.Sprintf("data/eventdate=%s/f%d.parquet", date, f)
		hs := make([]uint64, 20_000)
		for i := range hs {
			hs[i] = rng.Uint64() | 1
			added = append(added, key{date, file, hs[i]})
		}
		if gone := x.add(date, file, hs); len(gone) > 0 {
			t.Fatalf("file %d: %d files forgotten within the bound", f, len(gone))
		}
	}
	for _, k := range added {
		if file, ok := x.lookup(k.date, k.h); !ok || file != k.file {
			t.Fatalf("key %#x of %s: found %v in %q", k.h, k.file, ok, file)
		}
	}
	hits := 0
	for range 1_000_000 {
		if _, ok := x.lookup("2026-09-02", rng.Uint64()); ok {
			hits++
		}
	}
	if hits > 0 {
		t.Errorf("%d of 1,000,000 absent keys found", hits)
	}
	if _, ok := x.lookup("2026-09-04", added[0].h); ok {
		t.Error("a key found on a date it was not added to")
	}
	x.add("2026-09-01", "again.parquet", []uint64{added[0].h})
	if file, ok := x.lookup("2026-09-01", added[0].h); !ok || file != "" {
		t.Errorf("a hash of two files: found %v in %q, want found in no one file", ok, file)
	}
}

// TestKeyIndexForgetsTheLeastRecentDatesPastItsBound: past its slots, the index forgets the
// dates written least recently — and a date that outgrows the bound alone, itself — and says
// which files it forgot, so that they are checked against the store again.
func TestKeyIndexForgetsTheLeastRecentDatesPastItsBound(t *testing.T) {
	x := newKeyIndex(4 * minDateSlots)
	keys := func(n int, seed uint64) []uint64 {
		rng := rand.New(rand.NewPCG(seed, 1))
		hs := make([]uint64, n)
		for i := range hs {
			hs[i] = rng.Uint64() | 1
		}
		return hs
	}
	a, b, c := keys(500, 1), keys(500, 2), keys(1500, 3)
	for i, date := range []string{"d1", "d2", "d3"} {
		if gone := x.add(date, date+".parquet", [][]uint64{a, b, a}[i]); len(gone) > 0 {
			t.Fatalf("%s: forgot %v within the bound", date, gone)
		}
	}
	x.add("d1", "d1b.parquet", keys(10, 4)) // d1 is now the most recent
	gone := x.add("d4", "d4.parquet", c)    // needs one table's room: d2 goes, not d1
	if !slices.Equal(gone, []string{"d2.parquet"}) {
		t.Errorf("forgot %v, want d2's file", gone)
	}
	if _, ok := x.lookup("d2", b[0]); ok {
		t.Error("a forgotten date's key is still found")
	}
	if f, ok := x.lookup("d1", a[0]); !ok || f != "d1.parquet" {
		t.Errorf("the recent date's key: %v %q", ok, f)
	}
	gone = x.add("d4", "d4b.parquet", keys(3000, 5)) // d4 alone outgrows the bound
	slices.Sort(gone)
	if !slices.Equal(gone, []string{"d1.parquet", "d1b.parquet", "d3.parquet", "d4.parquet", "d4b.parquet"}) {
		t.Errorf("forgot %v, want every file", gone)
	}
	if x.slots != 0 || len(x.dates) != 0 {
		t.Errorf("%d slots in %d dates left", x.slots, len(x.dates))
	}
}

// TestBatchesOfOneWriterAreDeduplicatedWithOrWithoutItsIndex: a writer's later batches drop
// the records its earlier batches wrote — at the same instants as new records, in files it
// wrote and in a file another writer wrote before — whether its key index holds their keys,
// has forgotten them (a bound too small for any date) or is not consulted at all (a new
// writer).
func TestBatchesOfOneWriterAreDeduplicatedWithOrWithoutItsIndex(t *testing.T) {
	ctx := context.Background()
	db := enginetest.Open(t)
	rec := keyedRecord
	// Batch 0 comes from an earlier writer; batches 1-2 from the writer under test. Every
	// duplicate shares its original's eventtime, and each new record shares an instant with one.
	batches := [][]*cloudtrail.Record{
		{rec("old-1", "1", 0), rec("old-2", "1", 50)},
		{rec("a", "1", 10), rec("b", "1", 20), rec("c", "2", 30)},
		{rec("a", "1", 10), rec("a", "2", 10), rec("old-2", "1", 50), rec("d", "1", 20), rec("c", "2", 30), rec("e", "2", 30), rec("f", "1", 25)},
	}
	wantAdded := []int64{2, 3, 4} // batch 2: "a" of account 2, "d", "e", "f"
	for _, mode := range []string{"index", "forgetful", "new writer"} {
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
			if mode == "forgetful" {
				w.keys, w.keyed = newKeyIndex(minDateSlots/2), map[string]bool{}
			}
			write(w, 1)
			switch mode {
			case "forgetful":
				if len(w.keyed) != 0 || len(w.keys.dates) != 0 {
					t.Fatalf("a bound too small for a date keeps %d files, %d dates", len(w.keyed), len(w.keys.dates))
				}
			case "index":
				if len(w.keyed) != 1 {
					t.Fatalf("%d files keyed after a batch of one date, want 1", len(w.keyed))
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
	db := enginetest.Open(t)
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

// TestADuplicateIsCheckedAgainstTheOneFileHoldingIt: in a bulk load, each batch's file of a
// date spans much of the day, so every later record lies in the time span of most of the
// date's files. A duplicate of a record this writer wrote is checked against the file the
// record went to only — the other files of its date, here made unreadable, are not read (the
// Bloom filter's "maybe" read them all: the dedupe check grew with the store) — and a new
// record at the same instant is kept.
func TestADuplicateIsCheckedAgainstTheOneFileHoldingIt(t *testing.T) {
	ctx := context.Background()
	db := enginetest.Open(t)
	lk, s := newStore(t)
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var files []DataFile
	for b := range 3 { // three files of one date, each spanning seconds 0..100
		var recs []*cloudtrail.Record
		for sec := 0; sec <= 100; sec += 10 {
			recs = append(recs, keyedRecord(fmt.Sprintf("b%d-%d", b, sec), "1", sec))
		}
		added, _, err := WriteRecords(ctx, db, w, NewBatch(recs))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(added, nil, nil); err != nil {
			t.Fatal(err)
		}
		files = append(files, added...)
	}
	for _, f := range files[:2] {
		if err := os.WriteFile(lk.AbsPath(s.ID, f.Path), []byte("PAR1 not Parquet any more PAR1"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	added, n, err := WriteRecords(ctx, db, w, NewBatch([]*cloudtrail.Record{keyedRecord("b2-50", "1", 50), keyedRecord("new-50", "1", 50)}))
	if err != nil {
		t.Fatalf("a duplicate of the last file's record read the other files: %v", err)
	}
	if n != 1 || len(added) != 1 {
		t.Fatalf("%d records written to %d files, want the new one alone", n, len(added))
	}
	var ids []string
	rows, err := db.Query(ctx, "SELECT eventid FROM read_parquet("+engine.Literal(lk.AbsPath(s.ID, added[0].Path))+")")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	if !slices.Equal(ids, []string{"new-50"}) {
		t.Errorf("the new file holds %v, want [new-50]", ids)
	}
}

// TestTheNextWriterTakesTheIndexOfThePrevious: a process that commits to a store under a new
// writer each time (the alerts of each evaluation) hands each writer's index to the next
// (Keys, UseKeys). The next writer drops a duplicate of the records the earlier ones wrote
// without reading their files (here made unreadable), keeps a new record at the same instant,
// and still checks the files another writer added in between against the store — and an
// index of another store is ignored.
func TestTheNextWriterTakesTheIndexOfThePrevious(t *testing.T) {
	ctx := context.Background()
	db := enginetest.Open(t)
	lk, s := newStore(t)
	write := func(w *Writer, want int64, recs ...*cloudtrail.Record) []DataFile {
		t.Helper()
		files, n, err := WriteRecords(ctx, db, w, NewBatch(recs))
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%d records written, want %d", n, want)
		}
		if err := w.Commit(files, nil, nil); err != nil {
			t.Fatal(err)
		}
		return files
	}
	w := beginWrite(t, lk, s.ID)
	if w.Keys() != nil {
		t.Fatal("a writer that wrote nothing has an index")
	}
	mine := write(w, 2, keyedRecord("a", "1", 10), keyedRecord("b", "1", 90))
	keys := w.Keys()
	w.Close()
	// Another writer adds a record inside the span of the first file.
	other := beginWrite(t, lk, s.ID)
	write(other, 1, keyedRecord("x", "1", 50))
	other.Close()
	w = beginWrite(t, lk, s.ID)
	_, s2 := newStore(t)
	w.UseKeys(&Keys{store: s2.ID, idx: newKeyIndex(defaultKeySlots), keyed: map[string]bool{"x": true}}) // ignored
	w.UseKeys(keys)
	if len(w.keyed) != 1 {
		t.Fatalf("%d files keyed after UseKeys, want the first writer's 1", len(w.keyed))
	}
	// "a" is the first writer's: dropped (its file read for it alone); "e" new at its instant.
	write(w, 1, keyedRecord("a", "1", 10), keyedRecord("e", "1", 10))
	for _, f := range mine {
		if err := os.WriteFile(lk.AbsPath(s.ID, f.Path), []byte("PAR1 not Parquet any more PAR1"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// New records inside the first writer's file's span do not read it (unreadable now); "x"
	// is the other writer's, read and dropped.
	write(w, 2, keyedRecord("x", "1", 50), keyedRecord("c", "1", 50), keyedRecord("d", "1", 10))
	w.Close()
}
