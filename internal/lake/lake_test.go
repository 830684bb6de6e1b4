package lake

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

func newStore(t *testing.T) (*Lake, Store) {
	t.Helper()
	lk, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := lk.Create("store-one", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return lk, s
}

// beginWrite begins a write of store id, closed with the test (closing it before is harmless).
func beginWrite(t *testing.T, lk *Lake, id string) *Writer {
	t.Helper()
	w, err := lk.BeginWrite(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// keyedRecord is a record of eventID id in account acct, sec seconds after 2026-04-01 10:00 UTC:
// just what dedupe and the writer read.
func keyedRecord(id, acct string, sec int) *cloudtrail.Record {
	src, name := "ec2.amazonaws.com", "RunInstances"
	return &cloudtrail.Record{EventID: id, RecipientAccountID: &acct, EventSource: &src, EventName: &name,
		EventTime: time.Date(2026, 4, 1, 10, 0, sec, 0, time.UTC), EventJSON: fmt.Sprintf(`{"eventID":%q}`, id)}
}

// writeData writes a fake data file under the store, as a writer would before committing.
func writeData(t *testing.T, lk *Lake, id, rel string) DataFile {
	t.Helper()
	p := lk.AbsPath(id, rel)
	os.MkdirAll(filepath.Dir(p), 0o755)
	content := []byte("PAR1 a stand-in PAR1") // what CheckFiles looks at: the magic bytes and the size
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return DataFile{Path: rel, Date: "2026-01-01", Rows: 1, Bytes: int64(len(content)), MinTime: time.Unix(0, 0), MaxTime: time.Unix(0, 0)}
}

func TestUncommittedFilesOfACrashedWriterAreRemovedByTheNextWriter(t *testing.T) {
	lk, s := newStore(t)
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	kept := writeData(t, lk, s.ID, "data/eventdate=2026-01-01/part-a.parquet")
	if err := w.Commit([]DataFile{kept}, nil, []SourceState{{URI: "a.json", Version: "1"}}); err != nil {
		t.Fatal(err)
	}
	// A "crash": a file written under the writer's tag, never committed, and the lock released
	// without Close (the process died).
	orphan := writeData(t, lk, s.ID, "data/eventdate=2026-01-02/"+w.filePrefix()+"b.parquet")
	w.unlock()

	w, err = lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := os.Stat(lk.AbsPath(s.ID, orphan.Path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("orphan file survived the next writer: %v", err)
	}
	if _, err := os.Stat(lk.AbsPath(s.ID, kept.Path)); err != nil {
		t.Fatalf("committed file was removed: %v", err)
	}
	src, err := w.LoadSources()
	if err != nil || src["a.json"].Version != "1" {
		t.Fatalf("ingest state lost: %v %v", src, err)
	}
}

func TestRetiredFilesWaitForReaders(t *testing.T) {
	lk, s := newStore(t)
	w := beginWrite(t, lk, s.ID)
	old := writeData(t, lk, s.ID, "data/eventdate=2026-01-01/part-old.parquet")
	if err := w.Commit([]DataFile{old}, nil, nil); err != nil {
		t.Fatal(err)
	}
	// A reader holds a snapshot listing the old file.
	m, release, err := lk.Snapshot(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 1 || m.Files[0].Path != old.Path {
		t.Fatalf("snapshot: %+v", m.Files)
	}
	repl := writeData(t, lk, s.ID, "data/eventdate=2026-01-01/part-new.parquet")
	if err := w.Commit([]DataFile{repl}, []string{old.Path}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lk.AbsPath(s.ID, old.Path)); err != nil {
		t.Fatalf("a retired file was deleted while a reader used it: %v", err)
	}
	release()
	// The next commit, with no reader left, deletes it.
	if err := w.Commit(nil, nil, []SourceState{{URI: "x", Version: "1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lk.AbsPath(s.ID, old.Path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("retired file not deleted after readers left: %v", err)
	}
	m, err = lk.ReadManifest(s.ID)
	if err != nil || len(m.Files) != 1 || m.Files[0].Path != repl.Path || len(m.Retired) != 0 {
		t.Fatalf("manifest after swap: %+v %v", m, err)
	}
}

// TestOnlyDataFilesWaitForTheKeepWindow: with a keep window (Iceberg tables, whose older
// snapshots other engines may read), a retired data file stays for the window, while the
// store's own retired files — a data file's facts, ingest-state segments merged away — go at
// the next commit with no reader, as nothing outside the store names them (kept for the
// window, they were two thirds of the retired entries every commit's manifest carried).
func TestOnlyDataFilesWaitForTheKeepWindow(t *testing.T) {
	lk, s := newStore(t)
	lk.Hooks = &Hooks{KeepRetired: time.Hour}
	w := beginWrite(t, lk, s.ID)
	old := writeData(t, lk, s.ID, "data/eventdate=2026-01-01/part-old.parquet")
	old.Facts = writeData(t, lk, s.ID, "facts/v1/eventdate=2026-01-01/part-old.parquet").Path
	if err := w.Commit([]DataFile{old}, nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := range maxSegments + 1 { // enough ingest-state segments to be merged
		if err := w.Commit(nil, nil, []SourceState{{URI: fmt.Sprintf("s3://b/k%d", i), Version: "1"}}); err != nil {
			t.Fatal(err)
		}
	}
	repl := writeData(t, lk, s.ID, "data/eventdate=2026-01-01/part-new.parquet")
	if err := w.Commit([]DataFile{repl}, []string{old.Path}, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(nil, nil, []SourceState{{URI: "s3://b/last", Version: "1"}}); err != nil {
		t.Fatal(err)
	}
	m, err := lk.ReadManifest(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Retired) != 1 || m.Retired[0].Path != old.Path {
		t.Fatalf("retired %v, want the old data file alone", m.Retired)
	}
	if _, err := os.Stat(lk.AbsPath(s.ID, old.Path)); err != nil {
		t.Fatalf("the retired data file was deleted within the window: %v", err)
	}
	if _, err := os.Stat(lk.AbsPath(s.ID, old.Facts)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the retired facts file is still there: %v", err)
	}
	segs, _ := filepath.Glob(filepath.Join(lk.StoreDir(s.ID), "state", "*.jsonl"))
	if len(segs) != len(m.StateSegments) {
		t.Fatalf("%d state segments on disk, the manifest names %d", len(segs), len(m.StateSegments))
	}
	got, err := w.LoadSources()
	if err != nil || len(got) != maxSegments+2 {
		t.Fatalf("%d sources read after the merges (%v), want %d", len(got), err, maxSegments+2)
	}
}

func TestCatalogRules(t *testing.T) {
	lk, s := newStore(t)
	f := func(name string, err error, wantErr bool) {
		t.Helper()
		if (err != nil) != wantErr {
			t.Errorf("%s: err = %v, want error %v", name, err, wantErr)
		}
	}
	_, err := lk.Create("store-one", CreateOptions{})
	f("duplicate name", err, true)
	_, err = lk.Create("x", CreateOptions{})
	f("name too short", err, true)
	_, err = lk.Create("0e4b2f3c-1111-4aaa-8bbb-123456789012", CreateOptions{})
	f("name that looks like an id", err, true)
	_, err = lk.Create("too-long-retention", CreateOptions{RetentionDays: 3654})
	f("retention above 3653", err, true)
	_, err = lk.Create("bad-type", CreateOptions{Type: "insights"})
	f("unknown type", err, true)
	got, err := lk.Resolve(s.ID)
	f("resolve by id", err, false)
	if got.Name != "store-one" || got.RetentionDays != DefaultRetentionDays {
		t.Errorf("resolved %+v", got)
	}
	if _, err := lk.Update(s.ID, func(st *Store) error { st.TerminationProtection = true; return nil }); err != nil {
		t.Fatal(err)
	}
	f("delete protected", lk.Delete(s.ID), true)
	if _, err := lk.Update(s.ID, func(st *Store) error { st.TerminationProtection = false; return nil }); err != nil {
		t.Fatal(err)
	}
	f("delete", lk.Delete(s.ID), false)
	if _, err := os.Stat(lk.StoreDir(s.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store files left after delete")
	}
}

func TestMergeGroupsBoundTheBytesOfEachMerge(t *testing.T) {
	f := func(sizes []int64, want [][]int) {
		t.Helper()
		var files []DataFile
		for i, n := range sizes {
			files = append(files, DataFile{Path: string(rune('a' + i)), Bytes: n})
		}
		var got [][]int
		for _, g := range mergeGroups(files) {
			var idx []int
			for _, f := range g {
				idx = append(idx, int(f.Path[0]-'a'))
			}
			got = append(got, idx)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("mergeGroups(%v) = %v, want %v", sizes, got, want)
		}
	}
	const mb = 1 << 20
	f([]int64{1 * mb, 1 * mb, 1 * mb}, [][]int{{0, 1, 2}})
	f([]int64{20 * mb, 20 * mb, 20 * mb, 1 * mb}, [][]int{{2, 3}}) // a and b alone: nothing to merge
	f([]int64{10 * mb, 10 * mb, 10 * mb, 10 * mb, 10 * mb}, [][]int{{0, 1, 2}, {3, 4}})
	f([]int64{40 * mb}, nil)
}

// Two stores whose names give one Iceberg table name (lower case, '-' and '.' as '_') would
// write one table: the second name is refused, at creation and by a rename, naming the table;
// a rename is held to the naming rules too. A store may take a variant of its own name.
func TestStoreNamesThatShareATableNameAreRefused(t *testing.T) {
	lk, s := newStore(t) // store-one
	other, err := lk.Create("app-events", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app.events", "APP-events", "app_events", "App.Events"} {
		_, err := lk.Create(name, CreateOptions{})
		if !errors.Is(err, ErrNameTaken) || !strings.Contains(err.Error(), "auditlake.app_events") {
			t.Errorf("create %q: %v, want ErrNameTaken naming auditlake.app_events", name, err)
		}
		_, err = lk.Update(s.ID, func(st *Store) error { st.Name = name; return nil })
		if !errors.Is(err, ErrNameTaken) {
			t.Errorf("rename to %q: %v, want ErrNameTaken", name, err)
		}
	}
	for _, name := range []string{"x", "bad name", "0e4b2f3c-1111-4aaa-8bbb-123456789012"} {
		if _, err := lk.Update(s.ID, func(st *Store) error { st.Name = name; return nil }); !errors.Is(err, ErrInvalidName) {
			t.Errorf("rename to %q: %v, want ErrInvalidName", name, err)
		}
	}
	if _, err := lk.Update(other.ID, func(st *Store) error { st.Name = "App.Events"; return nil }); err != nil {
		t.Errorf("a store renamed to a variant of its own name: %v", err)
	}
	if got, err := lk.Resolve(s.ID); err != nil || got.Name != "store-one" {
		t.Errorf("refused renames changed the store: %+v %v", got, err)
	}
}
