package lake

import (
	"context"
	"fmt"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lifecycle"
)

// dayRecords returns n records of day (2026-04-01 + day) with ids prefix-0…, a minute apart
// from 10:00 plus offset minutes.
func dayRecords(day, n, offset int, prefix string) []*cloudtrail.Record {
	var recs []*cloudtrail.Record
	for i := range n {
		r := keyedRecord(fmt.Sprintf("%s-%d", prefix, i), "1", 0)
		r.EventTime = time.Date(2026, 4, 1+day, 10, offset+i, 0, 0, time.UTC)
		recs = append(recs, r)
	}
	return recs
}

// TestHeldFilesTakeADayAcrossBatchesAndStillFindDuplicates: a writer holding files writes a
// date's records of several batches into one file, closed when a batch has none of its date
// (a batch of only a duplicate of a record in it, dropped, has none), or when asked; a closed file describes all its parts (rows, time span) and
// the engine reads them all; nothing held is returned or pending, and a writer closed with a
// file held leaves no file behind.
func TestHeldFilesTakeADayAcrossBatchesAndStillFindDuplicates(t *testing.T) {
	ctx := context.Background()
	db, lk, s, w := heldWriter(t)
	pending := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.pending)
	}
	write := func(recs []*cloudtrail.Record, wantWritten int64) []DataFile {
		t.Helper()
		return writeBatch(t, db, w, recs, wantWritten)
	}
	// Batch 1: days 0 and 1, both held.
	if files := write(append(dayRecords(0, 40, 0, "a"), dayRecords(1, 40, 0, "b")...), 80); len(files) != 0 || !w.Held() || pending() != 0 {
		t.Fatalf("batch 1: %d files returned, held %v, %d pending", len(files), w.Held(), pending())
	}
	// Batch 2: more of day 1, and day 2; day 0 is done.
	files := write(append(dayRecords(1, 30, 100, "c"), dayRecords(2, 10, 0, "d")...), 40)
	if len(files) != 1 || files[0].Date != "2026-04-01" || files[0].Rows != 40 || pending() != 1 {
		t.Fatalf("batch 2: files %+v, %d pending; want day 0's file of 40 rows", files, pending())
	}
	// Batch 3: a duplicate of batch 1's day-1 record and new ones of day 2: the check drops the
	// duplicate, and day 1's file, of no record of the batch, closes.
	dup := dayRecords(1, 1, 0, "b")
	files = write(append(dup, dayRecords(2, 10, 20, "e")...), 10)
	if len(files) != 1 || files[0].Date != "2026-04-02" || files[0].Rows != 70 {
		t.Fatalf("batch 3: files %+v; want day 1's file of 70 rows", files)
	}
	day1 := files[0]
	if want := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC); !day1.MinTime.Equal(want) || !day1.MaxTime.Equal(want.Add(129*time.Minute)) {
		t.Fatalf("day 1's file spans %s to %s", day1.MinTime, day1.MaxTime)
	}
	last, err := w.CloseHeld()
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 1 || last[0].Date != "2026-04-03" || last[0].Rows != 20 || w.Held() || pending() != 3 {
		t.Fatalf("CloseHeld: %+v, held %v, %d pending", last, w.Held(), pending())
	}
	var all []DataFile
	all = append(all, write(dayRecords(0, 1, 0, "a"), 0)...) // a duplicate of a closed file: nothing written
	w.mu.Lock()
	all = append(all, w.pending...)
	w.mu.Unlock()
	if err := w.Commit(all, nil, nil); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range all {
		paths = append(paths, lk.AbsPath(s.ID, f.Path))
		var rows int64
		var lo, hi time.Time
		err := db.QueryRow(ctx, "SELECT count(*), min(eventtime), max(eventtime) FROM read_parquet("+engine.Literal(lk.AbsPath(s.ID, f.Path))+")").Scan(&rows, &lo, &hi)
		if err != nil {
			t.Fatal(err)
		}
		if rows != f.Rows || !lo.Equal(f.MinTime) || !hi.Equal(f.MaxTime) {
			t.Errorf("file %s reads %d rows from %s to %s, described as %d from %s to %s", f.Path, rows, lo, hi, f.Rows, f.MinTime, f.MaxTime)
		}
	}
	var total, distinct int64
	if err := db.QueryRow(ctx, "SELECT count(*), count(DISTINCT eventid) FROM read_parquet("+engine.ListLiteral(paths)+")").Scan(&total, &distinct); err != nil {
		t.Fatal(err)
	}
	if total != 130 || distinct != 130 || len(all) != 3 {
		t.Fatalf("%d events (%d distinct) in %d files, want 130 in 3", total, distinct, len(all))
	}

	// A writer closed holding a file leaves none.
	w.Close()
	w3 := beginWrite(t, lk, s.ID)
	w3.HoldFiles(true)
	if files, _, err := WriteRecords(ctx, db, w3, NewBatch(dayRecords(5, 10, 0, "z"))); err != nil || len(files) != 0 || !w3.Held() {
		t.Fatalf("held: %v %v", files, err)
	}
	w3.Close()
	var left []string
	filepath.WalkDir(lk.AbsPath(s.ID, "data/eventdate=2026-04-06"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Fatalf("a closed writer left its held file: %v", left)
	}
}

// TestCloneFactCopiesEveryString: a held file's facts outlive their records (cloneFact): every
// string and pointer field of lifecycle.Fact is copied, none left pointing into the record.
func TestCloneFactCopiesEveryString(t *testing.T) {
	var f lifecycle.Fact
	v := reflect.ValueOf(&f).Elem()
	for i := range v.NumField() {
		fv := v.Field(i)
		switch fv.Kind() {
		case reflect.String:
			fv.SetString(strings.Repeat("x", 3))
		case reflect.Pointer:
			fv.Set(reflect.New(fv.Type().Elem()))
		case reflect.Struct: // time.Time: a value
		default:
			t.Fatalf("field %s of kind %s: cloneFact does not know it", v.Type().Field(i).Name, fv.Kind())
		}
	}
	c := cloneFact(f)
	cv := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		a, b := v.Field(i), cv.Field(i)
		switch a.Kind() {
		case reflect.String:
			if a.String() != b.String() || (len(a.String()) > 0 && unsafe.StringData(a.String()) == unsafe.StringData(b.String())) {
				t.Errorf("field %s not copied", v.Type().Field(i).Name)
			}
		case reflect.Pointer:
			if b.IsNil() || a.Pointer() == b.Pointer() || !reflect.DeepEqual(a.Elem().Interface(), b.Elem().Interface()) {
				t.Errorf("field %s not copied", v.Type().Field(i).Name)
			}
		}
	}
}

// TestADuplicateOfAHeldFileLeavesItOpen: a batch with records of a held file's date, among
// them copies of records in it (one of the same id with another account, which is no copy),
// has the copies dropped by looking in the held file as it stands: the file stays held and
// takes the batch's new records, and closes into one file of every distinct record.
func TestADuplicateOfAHeldFileLeavesItOpen(t *testing.T) {
	ctx := context.Background()
	db, lk, s, w := heldWriter(t)
	write := func(recs []*cloudtrail.Record, wantWritten int64) {
		t.Helper()
		if files := writeBatch(t, db, w, recs, wantWritten); len(files) != 0 || !w.Held() {
			t.Fatalf("files %+v closed, held %v", files, w.Held())
		}
	}
	write(dayRecords(0, 40, 0, "a"), 40)
	write(dayRecords(0, 30, 100, "b"), 30)
	// Copies of records of both parts, a record of a copied id with another account, new ones.
	batch := append(dayRecords(0, 3, 0, "a"), dayRecords(0, 2, 100, "b")...)
	other := dayRecords(0, 1, 5, "a")[0]
	acct := "2"
	other.RecipientAccountID = &acct
	batch = append(batch, other)
	batch = append(batch, dayRecords(0, 10, 200, "c")...)
	write(batch, 11)
	files, err := w.CloseHeld()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Rows != 81 {
		t.Fatalf("closed %+v, want one file of 81 rows", files)
	}
	var total, distinct int64
	p := engine.Literal(lk.AbsPath(s.ID, files[0].Path))
	if err := db.QueryRow(ctx, "SELECT count(*), count(DISTINCT (eventid, recipientaccountid)) FROM read_parquet("+p+")").Scan(&total, &distinct); err != nil {
		t.Fatal(err)
	}
	if total != 81 || distinct != 81 {
		t.Fatalf("%d rows, %d distinct keys; want 81", total, distinct)
	}
}

// writeBatch writes recs as a batch with w, which must write wantWritten of them, and returns
// the files it closed.
func writeBatch(t *testing.T, db *engine.DB, w *Writer, recs []*cloudtrail.Record, wantWritten int64) []DataFile {
	t.Helper()
	files, n, err := WriteRecords(context.Background(), db, w, NewBatch(recs))
	if err != nil {
		t.Fatal(err)
	}
	if n != wantWritten {
		t.Fatalf("%d records written, want %d", n, wantWritten)
	}
	return files
}

// heldWriter returns an engine, and a writer holding files (HoldFiles) of a new store.
func heldWriter(t *testing.T) (*engine.DB, *Lake, Store, *Writer) {
	t.Helper()
	lk, s := newStore(t)
	w := beginWrite(t, lk, s.ID)
	w.HoldFiles(true)
	return enginetest.Open(t), lk, s, w
}
