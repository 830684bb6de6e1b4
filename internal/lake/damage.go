package lake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/ctparquet"
)

// ErrDamaged is returned (wrapped, as a *ManifestError) when a store's manifest is missing while
// data files are on disk, or is not a manifest auditlake wrote. Nothing reads or writes such a
// store — a write would take its files for orphans — until `auditlake eds repair` rebuilds the
// manifest from the files.
var ErrDamaged = errors.New("event data store is damaged")

// ManifestError says what is wrong with a store's manifest and how to recover.
type ManifestError struct {
	Store   string // the store's name (its id when the catalog does not know it)
	ID      string
	Problem string // "is missing", "is not valid JSON: …", …
	Files   int    // data files on disk
}

func (e *ManifestError) Error() string {
	return fmt.Sprintf("event data store %q (%s) is damaged: its manifest.json %s (%d data files on disk); "+
		"nothing was read or changed — rebuild the manifest from the files with: auditlake eds repair %s",
		e.Store, e.ID, e.Problem, e.Files, e.Store)
}

func (e *ManifestError) Unwrap() error { return ErrDamaged }

// manifestError builds the *ManifestError of store id.
func (l *Lake) manifestError(id, problem string) error {
	return &ManifestError{Store: l.storeName(id), ID: id, Problem: problem, Files: len(l.dataFilesOnDisk(id))}
}

// dataFilesOnDisk lists the Parquet files under a store's data directory, relative to the store
// directory with forward slashes, in path order.
func (l *Lake) dataFilesOnDisk(id string) []string {
	root := l.StoreDir(id)
	var out []string
	filepath.WalkDir(filepath.Join(root, "data"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(d.Name(), ".parquet") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	return out
}

// parseManifest decodes and validates a manifest: auditlake writes version 1 and up, and every
// path it names stays inside the store, under the directory of its kind. A manifest that fails
// is never trusted: its files would be taken for orphans, and its retired list names files to
// delete.
func parseManifest(b []byte) (*Manifest, error) {
	m, ok := decodeWritten(b)
	if !ok {
		var err error
		if m, err = decodeManifest(b); err != nil {
			return nil, err
		}
	}
	return checkManifest(m)
}

// checkManifest returns m if it is valid, else what is wrong with it.
func checkManifest(m *Manifest) (*Manifest, error) {
	if m.Version < 1 {
		return nil, fmt.Errorf("is not a committed manifest (version %d; auditlake's first commit is version 1)", m.Version)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if err := checkRel(f.Path, "data/", ".parquet"); err != nil {
			return nil, fmt.Errorf("names a bad data file: %v", err)
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("names data file %q twice", f.Path)
		}
		seen[f.Path] = true
		if _, err := time.Parse(time.DateOnly, f.Date); err != nil || partitionDate(f.Path) != f.Date {
			return nil, fmt.Errorf("names data file %q with date %q outside its partition", f.Path, f.Date)
		}
		if f.Rows < 0 || f.Bytes < 0 {
			return nil, fmt.Errorf("gives data file %q a negative size", f.Path)
		}
		if f.Facts != "" {
			if err := checkRel(f.Facts, "facts/", ".parquet"); err != nil {
				return nil, fmt.Errorf("names a bad facts file: %v", err)
			}
		}
	}
	for _, s := range m.StateSegments {
		if err := checkRel(s, "state/", ".jsonl"); err != nil {
			return nil, fmt.Errorf("names a bad state segment: %v", err)
		}
	}
	for _, r := range m.Retired {
		if !relOK(r.Path, "data/", ".parquet") && !relOK(r.Path, "facts/", ".parquet") && !relOK(r.Path, "state/", ".jsonl") {
			return nil, fmt.Errorf("names a bad retired file: %q is not a data, facts or state file inside the store", r.Path)
		}
	}
	for _, s := range m.RetiredSegments {
		if err := checkRel(s.Path, "retired/", ".jsonl"); err != nil {
			return nil, fmt.Errorf("names a bad retired segment: %v", err)
		}
		if s.Files < 0 {
			return nil, fmt.Errorf("gives retired segment %q a negative count", s.Path)
		}
	}
	return m, nil
}

// decodeManifest decodes a manifest as any JSON (decodeWritten reads the layout auditlake
// writes faster).
func decodeManifest(b []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("is empty")
		}
		return nil, fmt.Errorf("is not valid JSON (%v)", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("is not valid JSON (data after the manifest object)")
	}
	return &m, nil
}

// checkRel checks that rel is a clean relative path under dir with the given suffix.
func checkRel(rel, dir, suffix string) error {
	if !relOK(rel, dir, suffix) {
		return fmt.Errorf("%q is not a %s…%s path inside the store", rel, dir, suffix)
	}
	return nil
}

// relOK is checkRel without the error (a retired file is one of three kinds: the kinds it is
// not were an error's text each, for each of tens of thousands of entries at every read).
func relOK(rel, dir, suffix string) bool {
	return rel != "" && isClean(rel) && !strings.Contains(rel, "\\") && strings.HasPrefix(rel, dir) &&
		strings.HasSuffix(rel, suffix) && !strings.Contains(rel, "/../") && !strings.HasPrefix(rel, "/")
}

// isClean says whether path.Clean(rel) is rel, without cleaning (a busy store's manifest names
// tens of thousands of retired files, each checked at every read): a relative path without an
// empty segment or a trailing slash, none of whose segments begins with a dot, is clean; the
// others are left to path.Clean.
func isClean(rel string) bool {
	if rel == "" || rel[0] == '/' || rel[len(rel)-1] == '/' {
		return path.Clean(rel) == rel
	}
	for i := 0; i < len(rel); i++ {
		switch {
		case rel[i] == '.' && (i == 0 || rel[i-1] == '/'):
			return path.Clean(rel) == rel
		case rel[i] == '/' && rel[i-1] == '/':
			return false
		}
	}
	return true
}

// FileDamage is a file a manifest names that cannot be read as what the manifest says it is.
type FileDamage struct {
	Path    string `json:"path"` // relative to the store directory
	Problem string `json:"problem"`
}

// Health is what CheckStore found: "ok", or "damaged" with the manifest's problem or the
// damaged files.
type Health struct {
	Status       string       `json:"status"`
	Problem      string       `json:"problem,omitempty"`
	DamagedFiles []FileDamage `json:"damaged_files,omitempty"`
}

// Columns returns the schema of a store type as (name, DuckDB type) pairs.
func Columns(typ string) []struct{ Name, Type string } {
	switch typ {
	case TypeConfig:
		return ConfigColumns
	case TypeActivity:
		return ActivityColumns
	}
	return ctparquet.CloudTrailColumns
}

// Store health statuses.
const (
	StatusOK      = "ok"
	StatusDamaged = "damaged"
)

// Err is the health as an error wrapping ErrDamaged (nil when the store is ok), naming the
// store, the damaged files and the repair.
func (h Health) Err(name string) error {
	if h.Status != StatusDamaged {
		return nil
	}
	if h.Problem != "" {
		return &damagedError{h.Problem}
	}
	parts := make([]string, len(h.DamagedFiles))
	for i, d := range h.DamagedFiles {
		parts[i] = d.Path + " (" + d.Problem + ")"
	}
	return &damagedError{fmt.Sprintf("event data store %q is damaged: %s; nothing was read — "+
		"set the damaged files aside and rebuild its manifest with: auditlake eds repair %s", name, strings.Join(parts, ", "), name)}
}

// DamagedError returns an ErrDamaged error with message msg.
func DamagedError(msg string) error { return &damagedError{msg} }

type damagedError struct{ msg string }

func (e *damagedError) Error() string { return e.msg }
func (e *damagedError) Unwrap() error { return ErrDamaged }

// CheckStore reads a store's manifest and checks its files cheaply (CheckFiles).
func (l *Lake) CheckStore(id string) (*Manifest, Health) {
	m, err := l.ReadManifest(id)
	if err != nil {
		return nil, Health{Status: StatusDamaged, Problem: err.Error()}
	}
	return m, l.CheckFiles(id, m)
}

// CheckFiles checks that every file m names is a Parquet file of the size m records: it exists,
// has that size (data files), and starts and ends with Parquet's magic bytes. It reads 8 bytes a
// file, so a session can check every store when it opens; a file damaged inside (its footer or
// pages) is found by the query that reads it, which names it.
//
// A file kept on S3 only (remote.go) is not on the disk and is not missing: its object was
// checked when it was uploaded, and its copy is checked against its size and MD5 when fetched.
func (l *Lake) CheckFiles(id string, m *Manifest) Health {
	h := Health{Status: StatusOK}
	r, err := l.ReadRemote(id)
	if err != nil {
		return Health{Status: StatusDamaged, Problem: err.Error()}
	}
	for _, f := range m.Files {
		if l.Evicted(id, r, f.Path) {
			// the data file is on S3 only; its facts file stays on the disk
		} else if p := checkParquetFile(l.AbsPath(id, f.Path), f.Bytes); p != "" {
			h.DamagedFiles = append(h.DamagedFiles, FileDamage{Path: f.Path, Problem: p})
		}
		if f.Facts != "" {
			if p := checkParquetFile(l.AbsPath(id, f.Facts), -1); p != "" {
				h.DamagedFiles = append(h.DamagedFiles, FileDamage{Path: f.Facts, Problem: p})
			}
		}
	}
	if len(h.DamagedFiles) > 0 {
		h.Status = StatusDamaged
	}
	return h
}

// checkParquetFile returns what is wrong with the Parquet file at p ("" when nothing is): size
// is its expected size, -1 when unknown.
func checkParquetFile(p string, size int64) string {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "missing"
	}
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	if size >= 0 && st.Size() != size {
		return fmt.Sprintf("%d bytes, the manifest records %d", st.Size(), size)
	}
	if st.Size() < 12 {
		return fmt.Sprintf("%d bytes: too short for a Parquet file", st.Size())
	}
	var head, tail [4]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return err.Error()
	}
	if _, err := f.ReadAt(tail[:], st.Size()-4); err != nil {
		return err.Error()
	}
	if string(head[:]) != "PAR1" || string(tail[:]) != "PAR1" {
		return "not a Parquet file (no magic bytes)"
	}
	return ""
}
