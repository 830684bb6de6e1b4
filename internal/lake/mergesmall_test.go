package lake

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
)

// TestMergeSmallKeepsTheMergedFileKeyed: commits of a few records each, a writer after writer
// handing on its keys (the alerts of each evaluation), leave a day at most threshold+1 small
// files: past threshold, MergeSmall merges them into one sorted file holding every record once.
// The next writer drops a duplicate of a merged record and adds new records inside the merged
// file's span without reading it (it is keyed in place of the files it merged: here made
// unreadable); a merge that takes in a file another writer wrote leaves its file unkeyed.
func TestMergeSmallKeepsTheMergedFileKeyed(t *testing.T) {
	ctx := context.Background()
	db := enginetest.Open(t)
	lk, s := newStore(t)
	var keys *Keys
	ids := map[string]bool{}
	var broken string // a file made unreadable while the writer writes (after its start)
	commit := func(merge bool, recs ...*cloudtrail.Record) (added []DataFile, removed []string) {
		t.Helper()
		w := beginWrite(t, lk, s.ID)
		defer w.Close()
		w.UseKeys(keys)
		if broken != "" {
			saved, err := os.ReadFile(broken)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(broken, []byte("PAR1 not Parquet any more PAR1"), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(broken, saved, 0o644)
		}
		files, _, err := WriteRecords(ctx, db, w, NewBatch(recs))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(files, nil, nil); err != nil {
			t.Fatal(err)
		}
		if merge {
			if added, removed, err = MergeSmall(ctx, db, w, 3); err != nil {
				t.Fatal(err)
			}
		}
		keys = w.Keys()
		return added, removed
	}
	stored := func() []string {
		t.Helper()
		m, err := lk.ReadManifest(s.ID)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, f := range m.Files {
			paths = append(paths, engine.Literal(lk.AbsPath(s.ID, f.Path)))
		}
		res, err := db.Query(ctx, "SELECT eventid FROM read_parquet(["+strings.Join(paths, ", ")+"]) ORDER BY eventid")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		var out []string
		for res.Next() {
			var id string
			res.Scan(&id)
			out = append(out, id)
		}
		return out
	}
	var merged []DataFile
	for i := range 4 {
		id := fmt.Sprintf("e%d", i)
		ids[id] = true
		added, removed := commit(true, keyedRecord(id, "1", 10*i))
		switch {
		case i < 3 && len(removed) > 0:
			t.Fatalf("commit %d: %d files merged, want none within the threshold", i, len(removed))
		case i == 3 && (len(removed) != 4 || len(added) != 1):
			t.Fatalf("commit %d: %d files merged into %d, want 4 into 1", i, len(removed), len(added))
		}
		merged = added
	}
	if m, _ := lk.ReadManifest(s.ID); len(m.Files) != 1 || m.Files[0].Path != merged[0].Path {
		t.Fatalf("live files %v, want the merged one", m.Files)
	}
	if got := stored(); !slices.Equal(got, []string{"e0", "e1", "e2", "e3"}) {
		t.Fatalf("the store holds %v after the merge", got)
	}
	// The merged file is keyed: a duplicate of e1 is found in it (read for e1 alone); then,
	// unreadable, it is not read for new records inside its span.
	commit(false, keyedRecord("e1", "1", 10))
	if got := stored(); !slices.Equal(got, []string{"e0", "e1", "e2", "e3"}) {
		t.Fatalf("the store holds %v after a duplicate of a merged record", got)
	}
	broken = lk.AbsPath(s.ID, merged[0].Path)
	commit(false, keyedRecord("n1", "1", 15), keyedRecord("n2", "1", 25))
	broken = ""
	// Another writer's file merged in: the merged file is unkeyed, so a record inside its span
	// is checked against it — and a duplicate of the other writer's record is dropped.
	other := beginWrite(t, lk, s.ID)
	files, _, err := WriteRecords(ctx, db, other, NewBatch([]*cloudtrail.Record{keyedRecord("x", "1", 20)}))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Commit(files, nil, nil); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if _, removed := commit(true, keyedRecord("n3", "1", 35)); len(removed) == 0 {
		t.Fatal("no merge past the threshold")
	}
	commit(false, keyedRecord("x", "1", 20), keyedRecord("n4", "1", 21))
	if got := stored(); !slices.Equal(got, []string{"e0", "e1", "e2", "e3", "n1", "n2", "n3", "n4", "x"}) {
		t.Fatalf("the store holds %v", got)
	}
}
