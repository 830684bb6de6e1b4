package lake

import (
	"context"
	"fmt"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
)

// datedRecords returns n records on each of days consecutive dates from 2026-04-01, a minute
// apart within each day, with distinct event ids.
func datedRecords(days, n int) []*cloudtrail.Record {
	var recs []*cloudtrail.Record
	for d := range days {
		recs = append(recs, dayRecords(d, n, 0, fmt.Sprintf("d%d", d))...)
	}
	return recs
}

// TestABatchOfManyDatesIsWrittenAsAFilePerDateInDateOrder: WriteRecords writes the files of a
// batch's dates at once (more dates than CPUs here); each date still gets one file of its own
// records, with its bounds, in date order, and the engine reads each back whole.
func TestABatchOfManyDatesIsWrittenAsAFilePerDateInDateOrder(t *testing.T) {
	ctx := context.Background()
	db := enginetest.Open(t)
	lk, s := newStore(t)
	w := beginWrite(t, lk, s.ID)
	const days, perDay = 7, 40
	files, n, err := WriteRecords(ctx, db, w, NewBatch(datedRecords(days, perDay)))
	if err != nil {
		t.Fatal(err)
	}
	if n != days*perDay || len(files) != days {
		t.Fatalf("%d records in %d files, want %d in %d", n, len(files), days*perDay, days)
	}
	for d, f := range files {
		date := time.Date(2026, 4, 1+d, 0, 0, 0, 0, time.UTC)
		if f.Date != date.Format(time.DateOnly) || !strings.HasPrefix(f.Path, "data/eventdate="+f.Date+"/") {
			t.Errorf("file %d: date %s, path %s; want date %s", d, f.Date, f.Path, date.Format(time.DateOnly))
		}
		if f.Rows != perDay || !f.MinTime.Equal(date.Add(10*time.Hour)) || !f.MaxTime.Equal(date.Add(10*time.Hour+(perDay-1)*time.Minute)) {
			t.Errorf("file %s: %d rows from %s to %s", f.Path, f.Rows, f.MinTime, f.MaxTime)
		}
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
	if err := w.Commit(files, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// TestADateThatCannotBeWrittenLeavesNoFileOfItsBatch: when one date's file of a batch cannot be
// created, WriteRecords fails naming it, and the files of the batch's other dates — written at
// the same time — are removed, none left pending.
func TestADateThatCannotBeWrittenLeavesNoFileOfItsBatch(t *testing.T) {
	ctx := context.Background()
	db := enginetest.Open(t)
	lk, s := newStore(t)
	w := beginWrite(t, lk, s.ID)
	// A plain file where the fourth date's directory goes.
	blocked := lk.AbsPath(s.ID, "data/eventdate=2026-04-04")
	if err := os.MkdirAll(filepath.Dir(blocked), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocked, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, _, err := WriteRecords(ctx, db, w, NewBatch(datedRecords(6, 30)))
	if err == nil || !strings.Contains(err.Error(), "eventdate=2026-04-04") {
		t.Fatalf("WriteRecords: files %v, error %v; want an error naming eventdate=2026-04-04", files, err)
	}
	if len(files) != 0 {
		t.Errorf("files returned after the error: %v", files)
	}
	var left []string
	filepath.WalkDir(lk.AbsPath(s.ID, "."), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("files of the failed batch left behind: %v", left)
	}
	w.mu.Lock()
	pending := len(w.pending)
	w.mu.Unlock()
	if pending != 0 {
		t.Errorf("%d files pending after the failed batch", pending)
	}
}
