package lake

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/auditlake/auditlake/internal/lifecycle"
)

// DataFile is one live Parquet file of a store.
type DataFile struct {
	// Path is relative to the store directory, with forward slashes.
	Path    string    `json:"path"`
	Date    string    `json:"date"` // the eventdate partition, YYYY-MM-DD
	Rows    int64     `json:"rows"`
	Bytes   int64     `json:"bytes"`
	MinTime time.Time `json:"min_time"`
	MaxTime time.Time `json:"max_time"`
	// Facts is the file of this file's EC2 lifecycle facts (package lifecycle), relative to the
	// store directory, "" when it has none; FactsVersion is the lifecycle.Version they were
	// computed with (0: never computed, as for files written before facts existed).
	Facts        string `json:"facts,omitempty"`
	FactsVersion int    `json:"facts_version,omitempty"`
	// Cold says the file was rewritten for a closed day (cold.go): pages at
	// ctparquet.ColdLevel, eventjsonchecksum derived on read where it could be.
	Cold bool `json:"cold,omitempty"`
	// Whole says a cold file holds whole eventjson and its stored checksums (a published
	// store's, KeepWholeJSON): nothing of it is left to its readers to put back.
	Whole bool `json:"whole,omitempty"`
}

// RetiredFile is a file no longer live that readers may still be using.
type RetiredFile struct {
	Path string    `json:"path"`
	At   time.Time `json:"at"`
}

// Manifest is the committed state of a store.
type Manifest struct {
	Version       int64         `json:"version"`
	Files         []DataFile    `json:"files"`
	StateSegments []string      `json:"state_segments,omitempty"`
	Retired       []RetiredFile `json:"retired,omitempty"`
	// RetiredSegments hold the retired data files past retiredSpillAt (retired.go).
	RetiredSegments []RetiredSegment `json:"retired_segments,omitempty"`
	CommittedAt     time.Time        `json:"committed_at"`
	// Writer is the tag of the writer that committed this version (orphans.go).
	Writer string `json:"writer,omitempty"`
}

// Rows is the number of events in the live files.
func (m *Manifest) Rows() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Rows
	}
	return n
}

// Bytes is the size of the live files.
func (m *Manifest) Bytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Bytes
	}
	return n
}

// FilesWithoutFacts counts the live files whose EC2 lifecycle facts are missing or were
// computed by another definition (lifecycle.Version); compaction computes them.
func (m *Manifest) FilesWithoutFacts() int {
	n := 0
	for _, f := range m.Files {
		if f.FactsVersion != lifecycle.Version {
			n++
		}
	}
	return n
}

// SourceState records that a source object was read into the store.
type SourceState struct {
	URI      string    `json:"uri"`
	Version  string    `json:"version"`
	Records  int       `json:"records"`
	Problems int       `json:"problems,omitempty"`
	At       time.Time `json:"at"`
	// Failed says why the source failed (unreadable, cut short, bad records): its good records
	// were committed, but it is not complete, so the next ingest reads and reports it again
	// until its version changes and it reads cleanly.
	Failed string `json:"failed,omitempty"`
}

// Complete reports whether the source was read whole at version: an ingest skips it.
func (s SourceState) Complete(version string) bool { return s.Version == version && s.Failed == "" }

func (l *Lake) manifestPath(id string) string { return filepath.Join(l.StoreDir(id), "manifest.json") }

// ReadManifest reads a store's committed manifest: an empty one before the first commit (no
// manifest, and no data file on disk but those of a first writer that has not committed). A
// manifest that is missing while other data files exist, or that is not one auditlake wrote
// (not JSON, truncated, "{}", paths outside the store), is a *ManifestError (ErrDamaged)
// naming the store and `auditlake eds repair`.
func (l *Lake) ReadManifest(id string) (*Manifest, error) { return l.readManifest(id, false) }

// readManifest is ReadManifest; locked says the caller holds the store's write lock.
func (l *Lake) readManifest(id string, locked bool) (*Manifest, error) {
	b, err := os.ReadFile(l.manifestPath(id))
	if errors.Is(err, os.ErrNotExist) {
		if files := l.dataFilesOnDisk(id); len(files) > 0 && !l.firstWriteOnly(id, files, locked) {
			return nil, l.manifestError(id, "is missing")
		}
		return &Manifest{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest of store %s: %w", id, err)
	}
	m, err := parseManifest(b)
	if err != nil {
		return nil, l.manifestError(id, err.Error())
	}
	return m, nil
}

// Snapshot returns the committed manifest and holds the store's read lock until release is
// called, so that no file it lists is deleted while the caller reads it.
func (l *Lake) Snapshot(id string) (m *Manifest, release func(), err error) {
	unlock, err := lockFile(filepath.Join(l.StoreDir(id), "read.lock"), syscall.LOCK_SH)
	if err != nil {
		return nil, nil, fmt.Errorf("lock store %s for reading: %w", id, err)
	}
	m, err = l.ReadManifest(id)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return m, unlock, nil
}

// AbsPath returns the absolute path of a file of store id.
func (l *Lake) AbsPath(id, rel string) string {
	return filepath.Join(l.StoreDir(id), filepath.FromSlash(rel))
}

// Writer is the single writer of a store: it holds write.lock from BeginWrite to Close.
type Writer struct {
	lake   *Lake
	id     string
	m      *Manifest
	unlock func()
	facts  bool // the store holds CloudTrail events: keep EC2 lifecycle facts beside its files
	// written are the data files this writer committed: a partition only this writer wrote is
	// laid out as a one-shot load would be, and compaction leaves it to the usual threshold.
	written map[string]bool
	// keys holds, by event date, the key hash of every record of the batches WriteRecords
	// wrote through this writer and the file it went to, and keyed the files whose keys it
	// holds: a record not in keys is new to them without asking the store (dropStored).
	keys  *keyIndex
	keyed map[string]bool
	// mu guards m and pending while one goroutine commits a batch and another writes the next
	// (ingest pipelines the two): pending are the files WriteRecords wrote that no commit has
	// named yet, which the next batch's dedupe must see as stored.
	mu      sync.Mutex
	pending []DataFile
	// tag marks the files this writer creates, and wrote says it created some (orphans.go).
	tag    string
	wrote  bool
	marked bool // the marker says this writer may have committed
	// fetched releases the copies of files kept on S3 only this writer read (remote.go).
	fetched []func()
	// enc writes the manifest at each commit, from the entries it encoded at the last one.
	enc manifestEncoder
	// hold keeps each date's data file open across batches (HoldFiles, held.go): held are
	// those open, closed those closed since WriteRecords last returned.
	hold   bool
	held   map[string]*heldFile
	closed []DataFile
}

// BeginWrite takes the store's write lock (waiting for another writer to finish), refuses a
// damaged store (ErrDamaged), removes the files left by writers that crashed (orphans.go), marks
// itself, and returns the writer.
func (l *Lake) BeginWrite(id string) (*Writer, error) {
	dir := l.StoreDir(id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(dir, "write.lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("lock store %s for writing: %w", id, err)
	}
	m, err := l.readManifest(id, true)
	if err != nil {
		unlock()
		return nil, err
	}
	// A file the manifest names that is missing or not Parquet: writes (dedupe, compaction,
	// purge) would fail on it, or carry on without its events.
	if err := l.CheckFiles(id, m).Err(l.storeName(id)); err != nil {
		unlock()
		return nil, err
	}
	w := &Writer{lake: l, id: id, m: m, unlock: unlock}
	if st, err := l.Resolve(id); err == nil {
		w.facts = st.Type == TypeCloudTrail || st.Type == ""
	}
	if err := w.removeOrphans(); err != nil {
		unlock()
		return nil, err
	}
	w.collectRetired()
	removeWholeJSONLeftovers(l, id)
	w.tag = NewUUID()[:13]
	if err := w.mark(false); err != nil {
		unlock()
		return nil, err
	}
	return w, nil
}

// Manifest is the writer's current view of the committed state.
func (w *Writer) Manifest() *Manifest { return w.m }

// DataDir is where new Parquet files go (under eventdate=… subdirectories).
func (w *Writer) DataDir() string { return filepath.Join(w.lake.StoreDir(w.id), "data") }

// Close removes the files this writer wrote and did not commit, and releases the write lock.
func (w *Writer) Close() {
	w.AbortHeld()
	if w.unlock != nil {
		w.lake.idle(w.id) // the follower done with this writer's commits, under its lock
	}
	for _, release := range w.fetched {
		release()
	}
	w.fetched = nil
	if w.unlock != nil {
		w.unmark()
		w.unlock()
		w.unlock = nil
	}
}

func removeEmptyDirs(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			p := filepath.Join(root, e.Name())
			removeEmptyDirs(p)
			os.Remove(p) // fails, harmlessly, when not empty
		}
	}
}

// namedElsewhere says whether retired file rel (relative to the store) may be named by a
// snapshot of the store's table in another engine — a data file — and so waits for
// Hooks.KeepRetired. The store's own files (facts, ingest-state segments) are read by no other
// engine: they go when no local reader holds them. Kept for the window as well, they were two
// thirds of the retired entries every commit's manifest carries (serve collecting a file every
// 2 s: 751 of 1,205 after 12 minutes, a day of them ~12 MB of manifest).
func namedElsewhere(rel string) bool {
	return !strings.HasPrefix(rel, "facts/") && !strings.HasPrefix(rel, "state/")
}

// collectRetired deletes retired files when no reader holds the read lock.
func (w *Writer) collectRetired() {
	if len(w.m.Retired) == 0 && len(w.m.RetiredSegments) == 0 {
		return
	}
	unlock, err := lockFile(filepath.Join(w.lake.StoreDir(w.id), "read.lock"), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		return // readers are active; try at the next commit
	}
	defer unlock()
	next := *w.m
	next.Retired = nil
	var keep time.Duration
	if w.lake.Hooks != nil {
		keep = w.lake.Hooks.KeepRetired
	}
	var gone []RetiredFile
	for _, r := range w.m.Retired {
		if keep > 0 && time.Since(r.At) < keep && namedElsewhere(r.Path) {
			next.Retired = append(next.Retired, r)
		} else {
			gone = append(gone, r)
		}
	}
	// The files first, then the manifest that forgets them: a crash between the two leaves
	// retired entries naming missing files, never files no manifest names (orphans.go).
	waiting, err := w.collectSegments(w.m, keep)
	if err != nil {
		return
	}
	if len(gone) == 0 && len(waiting) == len(w.m.RetiredSegments) {
		return
	}
	next.RetiredSegments = waiting
	next.Version++
	next.CommittedAt = time.Now().UTC()
	for _, r := range gone {
		if err := os.Remove(w.lake.AbsPath(w.id, r.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return
		}
	}
	if err := w.writeManifest(&next); err != nil {
		return
	}
	w.mu.Lock()
	w.m = &next
	w.mu.Unlock()
}

// Commit atomically replaces the files named in removed with added and records sources as read.
// It may run beside WriteRecords of the next batch (one commit at a time, in order).
// The added files (and their facts files) must already be written under the store directory.
// An added file whose path is already live replaces its entry: the same data with new facts.
// Removed files and replaced facts are retired.
func (w *Writer) Commit(added []DataFile, removed []string, sources []SourceState) error {
	root := w.lake.StoreDir(w.id)
	next := Manifest{Version: w.m.Version + 1, CommittedAt: time.Now().UTC()}
	next.StateSegments = append(next.StateSegments, w.m.StateSegments...)
	next.Retired = append(next.Retired, w.m.Retired...)
	next.RetiredSegments = append(next.RetiredSegments, w.m.RetiredSegments...)
	if len(sources) > 0 {
		var replaced []string
		var err error
		if sources, replaced, err = w.mergeSegments(sources); err != nil {
			return err
		}
		next.StateSegments = next.StateSegments[:len(next.StateSegments)-len(replaced)]
		for _, seg := range replaced {
			next.Retired = append(next.Retired, RetiredFile{Path: seg, At: next.CommittedAt})
		}
		w.mu.Lock()
		w.wrote = true
		w.mu.Unlock()
		seg := fmt.Sprintf("state/%08d-%s.jsonl", next.Version, w.tag)
		var b strings.Builder
		enc := json.NewEncoder(&b)
		for _, s := range sources {
			if err := enc.Encode(s); err != nil {
				return err
			}
		}
		if err := WriteFileAtomic(filepath.Join(root, filepath.FromSlash(seg)), []byte(b.String())); err != nil {
			return fmt.Errorf("write ingest state: %w", err)
		}
		next.StateSegments = append(next.StateSegments, seg)
	}
	dirs := map[string]bool{}
	for _, f := range added {
		for _, rel := range []string{f.Path, f.Facts} {
			if rel == "" {
				continue
			}
			p := w.lake.AbsPath(w.id, rel)
			if err := SyncFile(p); err != nil {
				return fmt.Errorf("sync %q: %w", p, err)
			}
			dirs[filepath.Dir(p)] = true
		}
	}
	for d := range dirs {
		if err := SyncDir(d); err != nil {
			return err
		}
		SyncDir(filepath.Dir(d))
	}
	old := make(map[string]DataFile, len(w.m.Files))
	for _, f := range w.m.Files {
		old[f.Path] = f
	}
	retire := func(rel string) { next.Retired = append(next.Retired, RetiredFile{Path: rel, At: next.CommittedAt}) }
	gone := map[string]bool{}
	for _, r := range removed {
		gone[r] = true
		retire(r)
		if f := old[r]; f.Facts != "" {
			retire(f.Facts)
		}
	}
	for _, f := range added {
		if o, ok := old[f.Path]; ok && !gone[f.Path] {
			gone[f.Path] = true
			if o.Facts != "" && o.Facts != f.Facts {
				retire(o.Facts)
			}
		}
	}
	for _, f := range w.m.Files {
		if !gone[f.Path] {
			next.Files = append(next.Files, f)
		}
	}
	next.Files = append(next.Files, added...)
	if w.written == nil {
		w.written = map[string]bool{}
	}
	for _, f := range added {
		if _, ok := old[f.Path]; !ok {
			w.written[f.Path] = true
		}
	}
	sort.Slice(next.Files, func(i, j int) bool {
		if next.Files[i].Date != next.Files[j].Date {
			return next.Files[i].Date < next.Files[j].Date
		}
		return next.Files[i].Path < next.Files[j].Path
	})
	if err := w.spillRetired(&next); err != nil {
		return err
	}
	if err := w.writeManifest(&next); err != nil {
		return err
	}
	w.mu.Lock()
	w.m = &next
	w.pending = slices.DeleteFunc(w.pending, func(f DataFile) bool {
		return slices.ContainsFunc(added, func(a DataFile) bool { return a.Path == f.Path })
	})
	w.mu.Unlock()
	w.lake.committed(w.id)
	w.collectRetired()
	return nil
}

// Follow runs the lake's commit hooks for the committed state, as after a commit: a table a crash
// left behind its store (between the store's commit and the table's) catches up; one that is not
// behind is left as it is.
func (w *Writer) Follow() { w.lake.committed(w.id) }

func (w *Writer) writeManifest(m *Manifest) error {
	m.Writer = w.tag
	b, err := w.enc.encode(m)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(w.lake.manifestPath(w.id), append(b, '\n')); err != nil {
		return fmt.Errorf("commit store %s: %w", w.id, err)
	}
	if w.tag != "" && !w.marked {
		// After this writer's first manifest: its marker says it committed, so that an older
		// manifest put back after a crash is found. Set after the rename, never before: a
		// crash between the two would otherwise leave a marker claiming a commit that never
		// happened, and the next reader or writer would take the store for damaged. A marker
		// left unflagged is harmless (the manifest names this writer), so a failure here does
		// not undo the commit.
		if err := w.mark(true); err == nil {
			w.marked = true
		}
	}
	return nil
}

// LoadSources reads the ingest state: the latest state of every source read into the store.
func (w *Writer) LoadSources() (map[string]SourceState, error) {
	out := map[string]SourceState{}
	for _, seg := range w.m.StateSegments {
		p := w.lake.AbsPath(w.id, seg)
		f, err := os.Open(p)
		if err != nil {
			return nil, w.stateDamaged(seg, err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for sc.Scan() {
			var s SourceState
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				f.Close()
				return nil, w.stateDamaged(seg, err)
			}
			out[s.URI] = s
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, w.stateDamaged(seg, err)
		}
	}
	return out, nil
}

// storeName is the name of store id in the catalog (its id when the catalog does not know it).
func (l *Lake) storeName(id string) string {
	if st, err := l.Resolve(id); err == nil {
		return st.Name
	}
	return id
}

// stateDamaged is the error of an ingest-state segment that cannot be read (ErrDamaged).
func (w *Writer) stateDamaged(seg string, err error) error {
	name := w.lake.storeName(w.id)
	return DamagedError(fmt.Sprintf("event data store %q is damaged: its ingest state %s cannot be read (%v); "+
		"drop it with: auditlake eds repair %s", name, seg, err, name))
}
