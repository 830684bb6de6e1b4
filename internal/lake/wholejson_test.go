package lake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// coldRecord is event i of day d (2026-04-01 + d) with an id and a map value long enough to
// be cut from its JSON, and its checksum stored.
func coldRecord(d, i int) *cloudtrail.Record {
	id := fmt.Sprintf("%08d-de8d-4eca-aedc-%012d", d, i)
	val := fmt.Sprintf("i-%016x", d*1000+i)
	r := keyedRecord(id, "1", 0)
	r.EventTime = time.Date(2026, 4, 1+d, 10, i%60, i/60, 0, time.UTC)
	r.RequestParameters = cloudtrail.Map{{Key: "instanceId", Value: &val}}
	r.EventJSON = fmt.Sprintf(`{"eventID":%q,"requestParameters":{"instanceId":%q}}`, id, val)
	sum := sha256.Sum256([]byte(r.EventJSON))
	r.EventJSONChecksum = hex.EncodeToString(sum[:])
	return r
}

// WriteWholeJSON writes the whole copies of a store's cut cold files without its write lock —
// another writer commits meanwhile, here one that drops a cut file — and takes the lock only
// to commit them: every live cold file is then whole (JSON and checksum stored, no marker),
// the dropped file's copy is not committed and no copy is left, and every event reads as it
// was delivered.
func TestWholeJSONIsWrittenWithoutTheWriteLockAndCommittedUnderIt(t *testing.T) {
	ctx := context.Background()
	db := enginetest.Open(t)
	lk, s := newStore(t)
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*cloudtrail.Record
	for d := range 6 {
		for i := range 50 {
			recs = append(recs, coldRecord(d, i))
		}
	}
	files, _, err := WriteRecords(ctx, db, w, NewBatch(recs))
	if err == nil {
		err = w.Commit(files, nil, nil)
	}
	if err == nil {
		_, err = Compact(ctx, db, w, true)
	}
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	m, err := lk.ReadManifest(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var cut []DataFile
	for _, f := range m.Files {
		if f.Cold && !f.Whole {
			cut = append(cut, f)
		}
	}
	if len(cut) < 2 {
		t.Fatalf("%d cut cold files after the compaction, want the closed days'", len(cut))
	}
	victim := cut[0]
	var marked int64
	if err := db.QueryRow(ctx, "SELECT count(*) FROM read_parquet("+engine.Literal(lk.AbsPath(s.ID, victim.Path))+") WHERE contains(eventjson, chr(1)) AND contains(eventjson, chr(5))").Scan(&marked); err != nil || marked == 0 {
		t.Fatalf("the cold file's JSON is not cut (%d rows, %v)", marked, err)
	}

	wholeJSONWritten = func() {
		got := make(chan *Writer, 1)
		go func() {
			w, err := lk.BeginWrite(s.ID)
			if err != nil {
				t.Error(err)
			}
			got <- w
		}()
		var w *Writer
		select {
		case w = <-got:
		case <-time.After(2 * time.Minute):
			t.Fatal("another writer waits for the write lock while the copies are written")
		}
		if w == nil {
			return
		}
		defer w.Close()
		if err := w.Commit(nil, []string{victim.Path}, nil); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { wholeJSONWritten = nil })
	n, err := WriteWholeJSON(ctx, db, lk, s.ID)
	if err != nil || n != len(cut)-1 {
		t.Fatalf("WriteWholeJSON: %d files, %v; want %d", n, err, len(cut)-1)
	}
	if !lk.WholeJSON(s.ID) {
		t.Error("no whole-JSON marker")
	}
	if m, err = lk.ReadManifest(s.ID); err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	var live []string
	var rows int64
	for _, f := range m.Files {
		named[f.Path] = true
		live = append(live, lk.AbsPath(s.ID, f.Path))
		rows += f.Rows
		if f.Path == victim.Path || f.Cold && !f.Whole {
			t.Errorf("live after WriteWholeJSON: %+v", f)
		}
	}
	for _, r := range m.Retired {
		named[r.Path] = true
	}
	filepath.WalkDir(lk.StoreDir(s.ID), func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(lk.StoreDir(s.ID), p)
		if err == nil && strings.HasSuffix(p, ".parquet") && !strings.HasPrefix(rel, "facts") && !named[filepath.ToSlash(rel)] {
			t.Errorf("a file no manifest names: %s", rel)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(lk.StoreDir(s.ID), wholeJSONTmp)); !os.IsNotExist(err) {
		t.Errorf("the copies' directory is left (%v)", err)
	}
	// Copies left by a run that stopped before its commit go at the next writer's start.
	left := filepath.Join(lk.StoreDir(s.ID), wholeJSONTmp, "left.parquet")
	if err := os.MkdirAll(filepath.Dir(left), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(left, []byte("PAR1 a copy PAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	w2, err := lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	w2.Close()
	if _, err := os.Stat(filepath.Dir(left)); !os.IsNotExist(err) {
		t.Errorf("the copies left by a stopped run are still there (%v)", err)
	}
	want := map[string][2]string{}
	for _, r := range recs {
		want[r.EventID] = [2]string{r.EventJSON, r.EventJSONChecksum}
	}
	rs, err := db.Query(ctx, "SELECT eventid, eventjson, eventjsonchecksum FROM read_parquet("+engine.ListLiteral(live)+")")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var read int64
	for rs.Next() {
		var id, js, sum string
		if err := rs.Scan(&id, &js, &sum); err != nil {
			t.Fatal(err)
		}
		if w := want[id]; js != w[0] || sum != w[1] {
			t.Errorf("event %s reads %q %s, was delivered as %q %s", id, js, sum, w[0], w[1])
		}
		read++
	}
	if err := rs.Err(); err != nil || read != rows || read != int64(len(recs))-victim.Rows {
		t.Errorf("%d rows read (%v), the manifest says %d, want %d", read, err, rows, int64(len(recs))-victim.Rows)
	}
}
