package lake

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Retired data files past the line: segments.
//
// A data file a commit replaces waits Hooks.KeepRetired (a day by default with a catalog) before
// it is deleted, so that other engines' queries on older snapshots of the store's table can read
// it. A store that commits every few seconds (serve or collect) retires about one file a commit:
// ~50,000 a day at a commit every 2 s. Listed in the manifest, they were most of it (~130 bytes
// each, ~6 MB), which every commit rewrote and every reader — each query session, evaluation and
// sync — read. Past retiredSpillAt entries, a commit moves the retired data files of the manifest
// into a segment file (retired/<version>-<writer tag>.jsonl, one entry a line, written and synced
// before the manifest that names it), and the manifest keeps only the segment's name, its number
// of files and its newest retirement time. Nothing reads a segment until that newest time is
// past the keep window: collectRetired then deletes its files, then the segment, then writes the
// manifest that forgets it (a crash between leaves a manifest naming files or a segment that are
// gone, which is harmless; never a file that no manifest or segment names). The files of a
// segment are so kept up to one segment's span (retiredSpillAt commits) longer than the window,
// never shorter. A writer deciding whether a file of its tag is an orphan (sweep) reads the
// segments only when it finds such a file the manifest does not name.

// retiredSpillAt is how many retired data files the manifest lists before a commit moves them to
// a segment; a variable for tests.
var retiredSpillAt = 256

// RetiredSegment names a file of retired data files (see above).
type RetiredSegment struct {
	Path string `json:"path"`
	// Files is how many files it lists; Newest is the latest time one of them was retired.
	Files  int       `json:"files"`
	Newest time.Time `json:"newest"`
}

// spillRetired moves next's retired data files into a new segment when more than retiredSpillAt
// of them are listed. The store's own files (facts, state) stay listed: they go at the next
// commit without local readers.
func (w *Writer) spillRetired(next *Manifest) error {
	n := 0
	for _, r := range next.Retired {
		if namedElsewhere(r.Path) {
			n++
		}
	}
	if n <= retiredSpillAt {
		return nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	seg := RetiredSegment{Path: fmt.Sprintf("retired/%08d-%s.jsonl", next.Version, w.tag), Files: n}
	var own []RetiredFile
	for _, r := range next.Retired {
		if !namedElsewhere(r.Path) {
			own = append(own, r)
			continue
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
		if r.At.After(seg.Newest) {
			seg.Newest = r.At
		}
	}
	if err := WriteFileAtomic(w.lake.AbsPath(w.id, seg.Path), b.Bytes()); err != nil {
		return fmt.Errorf("write retired files of store %s: %w", w.id, err)
	}
	next.Retired = own
	next.RetiredSegments = append(next.RetiredSegments, seg)
	return nil
}

// readRetiredSegment reads the files a segment lists; none when it is gone (a collection that
// deleted it crashed before writing the manifest that forgets it).
func (l *Lake) readRetiredSegment(id, rel string) ([]RetiredFile, error) {
	b, err := os.ReadFile(l.AbsPath(id, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []RetiredFile
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var r RetiredFile
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("retired segment %s, line %d: %v", rel, line, err)
		}
		if !relOK(r.Path, "data/", ".parquet") {
			return nil, fmt.Errorf("retired segment %s, line %d: %q is not a data file inside the store", rel, line, r.Path)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// inRetiredSegments returns a test of whether a file is listed in one of m's segments, which
// reads them at its first call. A segment it cannot read makes every file count as listed: a
// sweep then deletes nothing it might need.
func (l *Lake) inRetiredSegments(id string, m *Manifest) func(rel string) bool {
	var listed map[string]bool
	unreadable := false
	return func(rel string) bool {
		if listed == nil {
			listed = map[string]bool{}
			for _, s := range m.RetiredSegments {
				files, err := l.readRetiredSegment(id, s.Path)
				if err != nil {
					unreadable = true
				}
				for _, r := range files {
					listed[r.Path] = true
				}
			}
		}
		return unreadable || listed[rel]
	}
}

// collectSegments deletes the files of the segments of m whose newest retirement is keep ago
// (every one when keep is 0), then the segments, and returns the segments still waiting. A
// segment it cannot read is kept, with its files: its damage is never a reason to delete.
func (w *Writer) collectSegments(m *Manifest, keep time.Duration) (waiting []RetiredSegment, err error) {
	var live map[string]bool
	for _, s := range m.RetiredSegments {
		if keep > 0 && time.Since(s.Newest) < keep {
			waiting = append(waiting, s)
			continue
		}
		files, rerr := w.lake.readRetiredSegment(w.id, s.Path)
		if rerr != nil {
			waiting = append(waiting, s)
			continue
		}
		if live == nil {
			live = m.named()
		}
		for _, r := range files {
			if live[r.Path] {
				continue // live again (eds repair adopted it): not this segment's to delete
			}
			if err := os.Remove(w.lake.AbsPath(w.id, r.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		if err := os.Remove(w.lake.AbsPath(w.id, s.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return waiting, nil
}
