package lake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/engine/enginetest"
)

// retiredFiles is how many retired files m accounts for, in its list and segments.
func retiredFiles(m *Manifest) int {
	n := len(m.Retired)
	for _, s := range m.RetiredSegments {
		n += s.Files
	}
	return n
}

// setRetiredSpillAt sets retiredSpillAt for one test.
func setRetiredSpillAt(t *testing.T, n int) {
	old := retiredSpillAt
	retiredSpillAt = n
	t.Cleanup(func() { retiredSpillAt = old })
}

// replaceFiles commits n replacements of the store's live file cur, each a new file of w's tag
// (as a compaction or a collector's small-file merge does), and returns the new live file and
// the files retired.
func replaceFiles(t *testing.T, lk *Lake, id string, w *Writer, cur DataFile, n int) (DataFile, []string) {
	t.Helper()
	var retired []string
	for range n {
		next := writeData(t, lk, id, "data/eventdate=2026-01-01/"+w.filePrefix()+"x.parquet")
		if err := w.Commit([]DataFile{next}, []string{cur.Path}, nil); err != nil {
			t.Fatal(err)
		}
		retired = append(retired, cur.Path)
		cur = next
	}
	return cur, retired
}

func mustExist(t *testing.T, lk *Lake, id string, rels []string, when string) {
	t.Helper()
	for _, rel := range rels {
		if _, err := os.Stat(lk.AbsPath(id, rel)); err != nil {
			t.Fatalf("%s: retired file %s within the keep window is gone: %v", when, rel, err)
		}
	}
}

// A store that retires a file every commit (a collector) keeps at most retiredSpillAt retired
// data files in its manifest; the rest wait in segments, which no writer's orphan sweep takes
// for unnamed files — not at Close, not after a crash — and which go, files first, once their
// newest retirement is past the keep window.
func TestRetiredDataFilesPastTheLineWaitInSegments(t *testing.T) {
	setRetiredSpillAt(t, 3)
	lk, s := newStore(t)
	lk.Hooks = &Hooks{KeepRetired: time.Hour}
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur := writeData(t, lk, s.ID, "data/eventdate=2026-01-01/"+w.filePrefix()+"x.parquet")
	if err := w.Commit([]DataFile{cur}, nil, nil); err != nil {
		t.Fatal(err)
	}
	cur, retired := replaceFiles(t, lk, s.ID, w, cur, 20)
	m, err := lk.ReadManifest(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Retired) > 3 || len(m.RetiredSegments) == 0 || retiredFiles(m) != 20 {
		t.Fatalf("manifest lists %d retired files and %d segments accounting for %d in all; want ≤ 3 listed, 20 in all",
			len(m.Retired), len(m.RetiredSegments), retiredFiles(m))
	}
	var inSegments []string
	for _, seg := range m.RetiredSegments {
		files, err := lk.readRetiredSegment(s.ID, seg.Path)
		if err != nil || len(files) != seg.Files {
			t.Fatalf("segment %s: %d files (%v), the manifest says %d", seg.Path, len(files), err, seg.Files)
		}
		for _, f := range files {
			inSegments = append(inSegments, f.Path)
		}
	}
	for _, r := range m.Retired {
		inSegments = append(inSegments, r.Path)
	}
	slices.Sort(inSegments)
	if want := slices.Sorted(slices.Values(retired)); !slices.Equal(inSegments, want) {
		t.Fatalf("manifest and segments account for %v, want %v", inSegments, want)
	}
	mustExist(t, lk, s.ID, retired, "after the commits")
	w.Close() // sweeps the files of its tag that the manifest does not name
	mustExist(t, lk, s.ID, retired, "after the writer closed")

	// A writer that crashes after spilling: the next one removes its orphans, not its spilled
	// retired files.
	w2, err := lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur, more := replaceFiles(t, lk, s.ID, w2, cur, 8)
	retired = append(retired, more...)
	orphan := writeData(t, lk, s.ID, "data/eventdate=2026-01-02/"+w2.filePrefix()+"never-committed.parquet")
	w2.unlock() // the process died: no Close
	w3 := beginWrite(t, lk, s.ID)
	if _, err := os.Stat(lk.AbsPath(s.ID, orphan.Path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the crashed writer's uncommitted file survived: %v", err)
	}
	mustExist(t, lk, s.ID, retired, "after a crashed writer's orphans were removed")

	// eds repair keeps the segments and does not report their files as unaccounted.
	w3.Close()
	m, _ = lk.ReadManifest(s.ID)
	res, err := lk.Repair(context.Background(), enginetest.Open(t), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Manifest.RetiredSegments, m.RetiredSegments) || len(res.Unaccounted) != 0 {
		t.Fatalf("repair: segments %v (had %v), unaccounted %v", res.Manifest.RetiredSegments, m.RetiredSegments, res.Unaccounted)
	}
	mustExist(t, lk, s.ID, retired, "after eds repair")

	// Past the window: the segments' files go, then the segments.
	lk.Hooks.KeepRetired = time.Nanosecond
	w4 := beginWrite(t, lk, s.ID)
	last := writeData(t, lk, s.ID, "data/eventdate=2026-01-01/"+w4.filePrefix()+"y.parquet")
	if err := w4.Commit([]DataFile{last}, nil, nil); err != nil {
		t.Fatal(err)
	}
	m, err = lk.ReadManifest(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if retiredFiles(m) != 0 || len(m.RetiredSegments) != 0 {
		t.Fatalf("past the window the manifest still accounts for %d retired files in %d segments", retiredFiles(m), len(m.RetiredSegments))
	}
	for _, rel := range retired {
		if _, err := os.Stat(lk.AbsPath(s.ID, rel)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("retired file %s outlived the window: %v", rel, err)
		}
	}
	if segs, _ := filepath.Glob(filepath.Join(lk.StoreDir(s.ID), "retired", "*.jsonl")); len(segs) != 0 {
		t.Fatalf("segments left on disk: %v", segs)
	}
	for _, f := range m.Files {
		if _, err := os.Stat(lk.AbsPath(s.ID, f.Path)); err != nil {
			t.Fatalf("live file %s deleted: %v", f.Path, err)
		}
	}
}

// A segment that cannot be read is kept, with every file it may list, and the commits go on; a
// manifest naming a segment outside retired/ is refused as damaged.
func TestADamagedSegmentDeletesNothing(t *testing.T) {
	setRetiredSpillAt(t, 2)
	lk, s := newStore(t)
	lk.Hooks = &Hooks{KeepRetired: time.Hour}
	w := beginWrite(t, lk, s.ID)
	cur := writeData(t, lk, s.ID, "data/eventdate=2026-01-01/"+w.filePrefix()+"x.parquet")
	if err := w.Commit([]DataFile{cur}, nil, nil); err != nil {
		t.Fatal(err)
	}
	cur, retired := replaceFiles(t, lk, s.ID, w, cur, 3)
	m := w.Manifest()
	if len(m.RetiredSegments) != 1 {
		t.Fatalf("%d segments, want 1", len(m.RetiredSegments))
	}
	seg := lk.AbsPath(s.ID, m.RetiredSegments[0].Path)
	if err := os.WriteFile(seg, []byte("{\"path\": \"data/eventdate=2026-01-01/x.parq"), 0o644); err != nil {
		t.Fatal(err)
	}
	lk.Hooks.KeepRetired = time.Nanosecond
	if replaceFiles(t, lk, s.ID, w, cur, 1); len(w.Manifest().RetiredSegments) != 1 {
		t.Fatalf("the damaged segment was dropped: %v", w.Manifest().RetiredSegments)
	}
	mustExist(t, lk, s.ID, retired, "with a damaged segment") // all three were in it

	for _, bad := range []string{"../retired/x.jsonl", "retired/../../x.jsonl", "state/x.jsonl", "retired/x.json"} {
		b := []byte(`{"version": 3, "files": [], "retired_segments": [{"path": "` + bad + `", "files": 1, "newest": "2026-01-01T00:00:00Z"}], "committed_at": "2026-01-01T00:00:00Z"}`)
		if _, err := parseManifest(b); err == nil {
			t.Errorf("a manifest naming segment %q was taken", bad)
		}
	}
}
