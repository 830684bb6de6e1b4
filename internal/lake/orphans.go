package lake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// Orphan cleanup: which files a writer may delete.
//
// A writer deletes a file that no manifest names only when it knows the file was written by a
// writer that did not finish. The rule:
//
//  1. Every writer has a tag (13 random characters). BeginWrite, holding write.lock, writes
//     writers/<tag>.json (synced) recording the manifest version it starts from; every file the
//     writer then creates carries the tag in its name (data and facts files "part-<tag>-…",
//     state and retired segments "<version>-<tag>.jsonl"). Before its first manifest, the writer sets
//     "committed" in its marker; every manifest records the tag of the writer that wrote it.
//  2. Close, still holding the lock, removes the writer's own files that the manifest on disk
//     does not name (a batch written and never committed), then its marker. A writer that
//     crashed leaves its marker.
//  3. BeginWrite, holding the lock, reads the manifest. Only when it is valid (ReadManifest) and
//     is the latest for every marker — written by that writer, or, when the marker says it never
//     committed, the version it started from — does it delete the unnamed files carrying a
//     marker's tag, and then the marker. A manifest that is missing, invalid, or an older copy
//     put back stops the writer before anything is deleted (ErrDamaged: eds repair).
//
// Why this never deletes committed data: while a writer holds the lock nobody else commits, so
// the latest manifest after a crashed writer is its own last one (or the one it started from);
// a file carrying its tag that this manifest does not name is one it never committed, or a
// committed file that a later commit of its own retired — whose events live on in the file that
// replaced it, or were purged. Tags are never reused. Files without a marked tag (another
// tool's, or left by versions before markers) are never deleted: `eds repair` reports them.
// Retired files are deleted before the manifest that forgets them is written, so a crash
// between the two leaves a retired entry naming a missing file, never an unnamed file. A
// retired data file may be named in a segment rather than the manifest (retired.go): a file
// that a segment lists is not an orphan either.

// writerMarker is the content of writers/<tag>.json.
type writerMarker struct {
	BaseVersion int64 `json:"base_version"`
	// Committed is set once the writer's first manifest has been written (renamed into place).
	Committed bool `json:"committed,omitempty"`
}

// current says whether m can be the latest manifest given that writer tag, marked mk, did not
// finish: nobody else committed while it held the lock, so the latest manifest is one it
// wrote, or — when it never wrote one — the one it started from.
func (mk writerMarker) current(tag string, m *Manifest) bool {
	return m.Writer == tag || (!mk.Committed && m.Version == mk.BaseVersion)
}

func (l *Lake) markerDir(id string) string { return filepath.Join(l.StoreDir(id), "writers") }

// fileTag returns the writer tag in a store file's base name ("" when it carries none): data
// and facts files "part-<tag>-…parquet", state and retired segments "<8 digits>-<tag>.jsonl".
func fileTag(base string) string {
	const n = 13
	if rest, ok := strings.CutPrefix(base, "part-"); ok && len(rest) > n && rest[n] == '-' {
		return rest[:n]
	}
	if len(base) > 9+n && base[8] == '-' && strings.HasSuffix(base, ".jsonl") && base[9+n:] == ".jsonl" {
		return base[9 : 9+n]
	}
	return ""
}

// crashedWriters reads the markers of writers that did not finish, by tag. Unreadable markers
// are left alone (their files are not deleted).
func (l *Lake) crashedWriters(id string) (map[string]writerMarker, error) {
	entries, err := os.ReadDir(l.markerDir(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]writerMarker{}
	for _, e := range entries {
		tag, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(e.Name(), ".") || len(tag) != 13 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(l.markerDir(id), e.Name()))
		if err != nil {
			return nil, err
		}
		var m writerMarker
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		out[tag] = m
	}
	return out, nil
}

// firstWriteOnly says whether files, the data files of a store without manifest, are all a
// first writer's that has not committed: each carries the tag of a marker that starts from no
// manifest (version 0) and has not committed — or, for a reader (locked false) while a writer
// holds the lock, is committing its first manifest now. Then the store is empty, not damaged.
func (l *Lake) firstWriteOnly(id string, files []string, locked bool) bool {
	markers, err := l.crashedWriters(id)
	if err != nil || len(markers) == 0 {
		return false
	}
	active := false
	if !locked {
		unlock, err := lockFile(filepath.Join(l.StoreDir(id), "write.lock"), syscall.LOCK_SH|syscall.LOCK_NB)
		if err != nil {
			active = true
		} else {
			unlock()
		}
	}
	for _, rel := range files {
		mk, ok := markers[fileTag(path.Base(rel))]
		if !ok || mk.BaseVersion != 0 || (mk.Committed && !active) {
			return false
		}
	}
	return true
}

// named is every file a manifest references, relative to the store directory.
func (m *Manifest) named() map[string]bool {
	live := map[string]bool{}
	for _, f := range m.Files {
		live[f.Path] = true
		if f.Facts != "" {
			live[f.Facts] = true
		}
	}
	for _, r := range m.Retired {
		live[r.Path] = true
	}
	for _, s := range m.StateSegments {
		live[s] = true
	}
	for _, s := range m.RetiredSegments {
		live[s.Path] = true
	}
	return live
}

// removeOrphans applies rule 3 at BeginWrite: the unnamed files of crashed writers are deleted,
// then their markers. With no marker (the usual case) it reads no directory.
func (w *Writer) removeOrphans() error {
	crashed, err := w.lake.crashedWriters(w.id)
	if err != nil || len(crashed) == 0 {
		return err
	}
	for tag, mk := range crashed {
		if !mk.current(tag, w.m) {
			return w.lake.manifestError(w.id, fmt.Sprintf("is not the latest (version %d, while writer %s, started from version %d, did not finish): it was replaced by an older copy",
				w.m.Version, tag, mk.BaseVersion))
		}
	}
	tags := map[string]bool{}
	for tag := range crashed {
		tags[tag] = true
	}
	if err := w.sweep(w.m, tags); err != nil {
		return err
	}
	for tag := range crashed {
		if err := os.Remove(filepath.Join(w.lake.markerDir(w.id), tag+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// sweep deletes the files carrying one of tags that m does not name, and the temporary files
// of atomic writes that never completed (only a write-lock holder writes them).
func (w *Writer) sweep(m *Manifest, tags map[string]bool) error {
	live := m.named()
	spilled := w.lake.inRetiredSegments(w.id, m)
	root := w.lake.StoreDir(w.id)
	for _, sub := range []string{"data", "facts", "state", "retired"} {
		err := filepath.WalkDir(filepath.Join(root, sub), func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			tmp := strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".tmp-")
			if live[rel] || !(tmp || tags[fileTag(d.Name())]) || (!tmp && sub == "data" && spilled(rel)) {
				return nil
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove orphan %q: %w", p, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(root, ".manifest.json.tmp-*"))
	markerTmps, _ := filepath.Glob(filepath.Join(root, "writers", ".*.tmp-*"))
	for _, t := range append(tmps, markerTmps...) {
		os.Remove(t)
	}
	removeEmptyDirs(filepath.Join(root, "data"))
	removeEmptyDirs(filepath.Join(root, "facts"))
	return nil
}

// mark writes the writer's marker (rule 1); committed is set before its first manifest.
func (w *Writer) mark(committed bool) error {
	b, _ := json.Marshal(writerMarker{BaseVersion: w.m.Version, Committed: committed})
	if err := WriteFileAtomic(filepath.Join(w.lake.markerDir(w.id), w.tag+".json"), b); err != nil {
		return fmt.Errorf("mark writer of store %s: %w", w.id, err)
	}
	return nil
}

// unmark applies rule 2 at Close: the writer's uncommitted files are removed, by the manifest
// on disk (a commit that failed after its rename named its files), then its marker. When the
// manifest cannot be read the marker stays, and the next writer decides.
func (w *Writer) unmark() {
	if w.tag == "" {
		return
	}
	w.mu.Lock()
	wrote := w.wrote
	w.mu.Unlock()
	if wrote {
		m, err := w.lake.readManifest(w.id, true)
		if err != nil || w.sweep(m, map[string]bool{w.tag: true}) != nil {
			return
		}
	}
	os.Remove(filepath.Join(w.lake.markerDir(w.id), w.tag+".json"))
}

// filePrefix returns a fresh name prefix for the data files of one write, carrying the writer's
// tag: "part-<tag>-<8 random>-".
func (w *Writer) filePrefix() string {
	w.mu.Lock()
	w.wrote = true
	w.mu.Unlock()
	return "part-" + w.tag + "-" + NewUUID()[:8] + "-"
}
