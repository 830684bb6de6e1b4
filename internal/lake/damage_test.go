package lake

import (
	"context"
	"errors"
	"fmt"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// ingested commits n events over two days into a fresh CloudTrail store as ingest does
// (WriteRecords, then Commit with a source), and returns the store and its manifest.
func ingested(t *testing.T, n int) (*Lake, Store, *Manifest) {
	t.Helper()
	lk, s := newStore(t)
	db := enginetest.Open(t)
	w := beginWrite(t, lk, s.ID)
	defer w.Close() // the test's own writers come next
	for part := 0; part < 2; part++ {
		var recs []*cloudtrail.Record
		for i := 0; i < n/2; i++ {
			recs = append(recs, keyedRecord(fmt.Sprintf("ev-%d-%d", part, i), "111122223333", part*86400+i))
		}
		if part == 1 { // one launch: the second day's file has EC2 lifecycle facts
			set := `{"items":[{"instanceId":"i-0123456789abcdef0"}]}`
			recs[0].ResponseElements = cloudtrail.Map{{Key: "instancesSet", Value: &set}}
		}
		added, _, err := WriteRecords(context.Background(), db, w, NewBatch(recs))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(added, nil, []SourceState{{URI: fmt.Sprintf("src-%d.json", part), Version: "1", Records: n / 2}}); err != nil {
			t.Fatal(err)
		}
	}
	return lk, s, w.Manifest()
}

// filesUnder lists the files under a store's data and facts directories.
func filesUnder(t *testing.T, lk *Lake, id string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"data", "facts", "state"} {
		filepath.WalkDir(filepath.Join(lk.StoreDir(id), sub), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out = append(out, p)
			}
			return nil
		})
	}
	slices.Sort(out)
	return out
}

func wantDamaged(t *testing.T, err error, store string) {
	t.Helper()
	var me *ManifestError
	if !errors.Is(err, ErrDamaged) || !errors.As(err, &me) {
		t.Fatalf("err = %v, want a damaged-manifest error", err)
	}
	if !strings.Contains(err.Error(), `"`+store+`"`) || !strings.Contains(err.Error(), "auditlake eds repair "+store) {
		t.Fatalf("error does not name the store and the repair: %v", err)
	}
}

func TestALostOrInvalidManifestIsAnErrorAndNoWriterDeletesTheFiles(t *testing.T) {
	for name, content := range map[string]*string{
		"deleted":      nil,
		"empty object": ptr("{}"),
		"empty file":   ptr(""),
		"null":         ptr("null"),
		"truncated":    ptr(`{"version": 3, "files": [{"path": "data/eventdate=2026-04-01/x.par`),
		"garbage":      ptr("\x00\x01PAR1 not json"),
		"two objects":  ptr(`{"version": 1} {"version": 2}`),
		"path escapes": ptr(`{"version": 4, "retired": [{"path": "../../../catalog.json"}]}`),
		"bad date":     ptr(`{"version": 4, "files": [{"path": "data/eventdate=2026-04-01/a.parquet", "date": "2026-04-02"}]}`),
	} {
		t.Run(name, func(t *testing.T) {
			lk, s, _ := ingested(t, 40)
			before := filesUnder(t, lk, s.ID)
			if content == nil {
				os.Remove(lk.manifestPath(s.ID))
			} else {
				os.WriteFile(lk.manifestPath(s.ID), []byte(*content), 0o644)
			}
			_, err := lk.ReadManifest(s.ID)
			wantDamaged(t, err, s.Name)
			_, _, err = lk.Snapshot(s.ID)
			wantDamaged(t, err, s.Name)
			_, err = lk.BeginWrite(s.ID)
			wantDamaged(t, err, s.Name)
			if after := filesUnder(t, lk, s.ID); !slices.Equal(before, after) {
				t.Fatalf("files changed by a refused writer:\nbefore %v\nafter  %v", before, after)
			}
			if h := lk.CheckFiles(s.ID, &Manifest{}); h.Status != StatusOK {
				t.Fatalf("an empty manifest has damaged files: %+v", h)
			}
			if _, h := lk.CheckStore(s.ID); h.Status != StatusDamaged || !strings.Contains(h.Problem, "eds repair") {
				t.Fatalf("CheckStore = %+v", h)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestANewStoreWithoutManifestIsEmptyNotDamaged(t *testing.T) {
	lk, s := newStore(t)
	m, err := lk.ReadManifest(s.ID)
	if err != nil || len(m.Files) != 0 {
		t.Fatalf("ReadManifest of a new store = %+v, %v", m, err)
	}
}

func TestRepairRebuildsALostManifestFromTheFilesWithEveryRowAndFact(t *testing.T) {
	lk, s, want := ingested(t, 40)
	os.WriteFile(lk.manifestPath(s.ID), []byte("{}"), 0o644)
	res, err := lk.Repair(context.Background(), enginetest.Open(t), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.FromManifest || res.Files != len(want.Files) || res.Rows != want.Rows() || len(res.Dropped) != 0 || res.Segments != 2 {
		t.Fatalf("repair = %+v, want %d files, %d rows, 2 segments", res, len(want.Files), want.Rows())
	}
	m, err := lk.ReadManifest(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version <= want.Version {
		t.Errorf("repaired manifest version %d, not after %d", m.Version, want.Version)
	}
	for i, f := range m.Files {
		g := want.Files[i]
		if f.Path != g.Path || f.Rows != g.Rows || f.Bytes != g.Bytes || !f.MinTime.Equal(g.MinTime) || !f.MaxTime.Equal(g.MaxTime) ||
			f.Facts != g.Facts || f.FactsVersion != g.FactsVersion {
			t.Errorf("file %d:\n got %+v\nwant %+v", i, f, g)
		}
	}
	// The store takes writes again, and knows its sources.
	w := beginWrite(t, lk, s.ID)
	src, err := w.LoadSources()
	if err != nil || len(src) != 2 {
		t.Fatalf("sources after repair: %v %v", src, err)
	}
}

func TestRepairComputesMissingFactsAndQuarantinesADamagedFile(t *testing.T) {
	lk, s, want := ingested(t, 40)
	// One fact file gone, one data file truncated to garbage, the manifest gone.
	var launches *DataFile
	for i := range want.Files {
		if want.Files[i].Facts != "" {
			launches = &want.Files[i]
		}
	}
	if launches == nil {
		t.Fatal("no file with facts: RunInstances records should have some")
	}
	os.Remove(lk.AbsPath(s.ID, launches.Facts))
	bad := want.Files[0]
	if bad.Path == launches.Path {
		bad = want.Files[1]
	}
	os.WriteFile(lk.AbsPath(s.ID, bad.Path), []byte("garbage, not parquet"), 0o644)
	os.Remove(lk.manifestPath(s.ID))

	res, err := lk.Repair(context.Background(), enginetest.Open(t), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 1 || res.Rows != want.Rows()-bad.Rows || res.FactsComputed != 1 {
		t.Fatalf("repair = %+v", res)
	}
	if len(res.Dropped) != 1 || res.Dropped[0].Path != bad.Path || len(res.Quarantined) != 1 {
		t.Fatalf("damaged file not reported: %+v", res)
	}
	if _, err := os.Stat(lk.AbsPath(s.ID, res.Quarantined[0])); err != nil {
		t.Fatalf("quarantined file not kept: %v", err)
	}
	m, _ := lk.ReadManifest(s.ID)
	if h := lk.CheckFiles(s.ID, m); h.Status != StatusOK || m.Files[0].Facts != launches.Facts {
		t.Fatalf("after repair: %+v, facts %q", h, m.Files[0].Facts)
	}
}

func TestCheckFilesNamesMissingTruncatedAndGarbageFiles(t *testing.T) {
	lk, s, m := ingested(t, 40)
	if h := lk.CheckFiles(s.ID, m); h.Status != StatusOK {
		t.Fatalf("healthy store: %+v", h)
	}
	os.WriteFile(lk.AbsPath(s.ID, m.Files[0].Path), []byte("garbage"), 0o644)
	os.Remove(lk.AbsPath(s.ID, m.Files[1].Path))
	h := lk.CheckFiles(s.ID, m)
	if h.Status != StatusDamaged || len(h.DamagedFiles) != 2 || h.DamagedFiles[1].Problem != "missing" {
		t.Fatalf("CheckFiles = %+v", h)
	}
	err := h.Err(s.Name)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), m.Files[0].Path) || !strings.Contains(err.Error(), "eds repair "+s.Name) {
		t.Fatalf("Err = %v", err)
	}
	// With a valid manifest, repair drops the missing file and quarantines the garbage one.
	res, err := lk.Repair(context.Background(), enginetest.Open(t), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !res.FromManifest || res.Files != 0 || len(res.Dropped) != 2 || len(res.Quarantined) != 1 {
		t.Fatalf("repair = %+v", res)
	}
}

func TestOrphanCleanupKeepsFilesNoCrashedWriterMarked(t *testing.T) {
	lk, s, m := ingested(t, 20)
	// A file no manifest names and no writer tagged: another tool's, or an old version's.
	foreign := writeData(t, lk, s.ID, "data/eventdate=2026-04-01/part-foreign.parquet")
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	// This writer writes a file and dies before committing it.
	mine := writeData(t, lk, s.ID, "data/eventdate=2026-04-01/"+w.filePrefix()+"x.parquet")
	w.unlock()
	w, err = lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := os.Stat(lk.AbsPath(s.ID, mine.Path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the crashed writer's uncommitted file survived: %v", err)
	}
	if _, err := os.Stat(lk.AbsPath(s.ID, foreign.Path)); err != nil {
		t.Errorf("a file no writer marked was deleted: %v", err)
	}
	for _, f := range m.Files {
		if _, err := os.Stat(lk.AbsPath(s.ID, f.Path)); err != nil {
			t.Errorf("committed file deleted: %v", err)
		}
	}
	if ms, _ := os.ReadDir(lk.markerDir(s.ID)); len(ms) != 0 {
		t.Errorf("markers left after a clean close: %v", ms)
	}
}

func TestAnOlderManifestPutBackStopsTheWriterBeforeItDeletesAnything(t *testing.T) {
	lk, s := newStore(t)
	db := enginetest.Open(t)
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	write := func(id string) {
		added, _, err := WriteRecords(context.Background(), db, w, NewBatch([]*cloudtrail.Record{keyedRecord(id, "1", 0)}))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(added, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	write("a")
	backup, _ := os.ReadFile(lk.manifestPath(s.ID))
	w.Close()
	w, err = lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	write("b")
	w.unlock() // dies: its marker stays
	before := filesUnder(t, lk, s.ID)
	os.WriteFile(lk.manifestPath(s.ID), backup, 0o644)
	_, err = lk.BeginWrite(s.ID)
	wantDamaged(t, err, s.Name)
	if after := filesUnder(t, lk, s.ID); !slices.Equal(before, after) {
		t.Fatalf("files deleted under an older manifest:\nbefore %v\nafter  %v", before, after)
	}
	// Repair takes the files on disk: both events.
	res, err := lk.Repair(context.Background(), db, s.ID)
	if err != nil || res.FromManifest || res.Rows != 2 {
		t.Fatalf("repair = %+v, %v", res, err)
	}
}

func TestRepairSetsAsideAFileWhoseEventsAreAllInAnother(t *testing.T) {
	lk, s, m := ingested(t, 40)
	db := enginetest.Open(t)
	// A compaction's input that a reader kept from deletion: the merged file holds its events.
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	input := m.Files[0]
	copyPath := "data/eventdate=" + input.Date + "/" + w.filePrefix() + "merged.parquet"
	b, _ := os.ReadFile(lk.AbsPath(s.ID, input.Path))
	os.WriteFile(lk.AbsPath(s.ID, copyPath), b, 0o644)
	w.Close() // the copy is not committed: Close removes it, as it should
	os.WriteFile(lk.AbsPath(s.ID, copyPath), b, 0o644)
	os.Remove(lk.manifestPath(s.ID))
	res, err := lk.Repair(context.Background(), db, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != m.Rows() || res.Files != len(m.Files) || len(res.Quarantined) != 1 || res.Duplicates != 0 {
		t.Fatalf("repair = %+v, want %d rows in %d files and one file set aside", res, m.Rows(), len(m.Files))
	}
}

func TestAGarbageStateSegmentIsDamagedAndRepairDropsIt(t *testing.T) {
	lk, s, m := ingested(t, 20)
	os.WriteFile(lk.AbsPath(s.ID, m.StateSegments[0]), []byte("{not json"), 0o644)
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.LoadSources()
	w.Close()
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), m.StateSegments[0]) || !strings.Contains(err.Error(), "eds repair "+s.Name) {
		t.Fatalf("LoadSources = %v", err)
	}
	res, err := lk.Repair(context.Background(), enginetest.Open(t), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !res.FromManifest || res.Rows != m.Rows() || res.Segments != 1 || res.StateCleared || len(res.Dropped) != 1 {
		t.Fatalf("repair = %+v", res)
	}
	w, err = lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if src, err := w.LoadSources(); err != nil || len(src) != 1 {
		t.Fatalf("sources after repair: %v %v", src, err)
	}
}

func TestAFirstWriteNotYetCommittedIsAnEmptyStoreNotADamagedOne(t *testing.T) {
	lk, s := newStore(t)
	db := enginetest.Open(t)
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	added, _, err := WriteRecords(context.Background(), db, w, NewBatch([]*cloudtrail.Record{keyedRecord("a", "1", 0)}))
	if err != nil || len(added) != 1 {
		t.Fatalf("WriteRecords: %v %v", added, err)
	}
	// A reader while the first writer runs: nothing committed yet.
	if m, err := lk.ReadManifest(s.ID); err != nil || len(m.Files) != 0 {
		t.Fatalf("reader during the first write: %+v, %v", m, err)
	}
	w.unlock() // the first writer dies before its first commit
	if m, err := lk.ReadManifest(s.ID); err != nil || len(m.Files) != 0 {
		t.Fatalf("reader after the first writer died: %+v, %v", m, err)
	}
	w, err = lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatalf("the next writer refused: %v", err)
	}
	w.Close()
	if files := filesUnder(t, lk, s.ID); len(files) != 0 {
		t.Fatalf("the dead first writer's files were not removed: %v", files)
	}
}
