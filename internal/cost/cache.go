package cost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/objstore"
)

// A CSV cost file is converted once into a Parquet file in the cache, holding the view's
// columns already renamed and typed (typedSelect), so that queries neither parse CSV nor sniff
// it: a session binds the view from the registry (the table's columns and the cached files'
// names) and reads only the Parquet files. The files stay the truth: a cached file is named
// after its source's URI and version (S3 ETag, or size and modification time of a local file),
// and the table's columns, so a changed or re-delivered file gets a new one (a local source is
// checked at every session open with one stat; an S3 source when it is registered again), a
// removed local file leaves the view, and cached files no table names are pruned. A conversion
// writes a temporary file and renames it into place, so a crash never leaves a partial cached
// file under its final name; pruneCache removes the temporary files of crashed runs.

// cacheFormat changes when what a cached file holds changes, so that older files are not read.
const cacheFormat = "typed-v1"

// cacheName is the name of the Parquet file that holds f of table t converted.
func cacheName(t Table, f File) string {
	h := sha256.New()
	for _, s := range []string{cacheFormat, string(t.Format), f.URI, f.Version} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write([]byte(strings.Join(t.RawColumns, "\x00")))
	return "pq-" + hex.EncodeToString(h.Sum(nil))[:40] + ".parquet"
}

// cached reports whether t's views read converted files.
func (t Table) cached() bool {
	if !t.CSVCache {
		return false
	}
	for _, f := range t.Files {
		if f.Cache == "" {
			return false
		}
	}
	return true
}

// cachedViewSQL is t's view over its converted files: they hold the columns already typed, so
// only the partition columns are added. A table whose files are all gone is empty.
func cachedViewSQL(t Table) string {
	cols := outputColumns(t.Format, t.RawColumns)
	var names []string
	for _, c := range cols {
		names = append(names, engine.Ident(c.Name))
	}
	var q string
	if len(t.Files) == 0 {
		var sel []string
		for _, c := range cols {
			sel = append(sel, "CAST(NULL AS "+c.Type+") AS "+engine.Ident(c.Name))
		}
		q = "SELECT " + strings.Join(sel, ", ") + " WHERE false"
	} else {
		paths := make([]string, len(t.Files))
		for i, f := range t.Files {
			paths[i] = f.Cache
		}
		q = "SELECT " + strings.Join(names, ", ") + " FROM read_parquet(" + engine.ListLiteral(paths) + ", hive_partitioning = false)"
	}
	return withPartitions(t, cols, q)
}

// convertHook, when set (by tests), runs after a conversion has written its temporary file and
// before it is renamed into place; an error fails the conversion there.
var convertHook func(tmp string) error

// convert writes f (a CSV file of table t, whose header is header) into the cache as Parquet
// with t's typed columns, unless that is there already, and returns its path.
func convert(ctx context.Context, db *engine.DB, dataDir string, t Table, f File, header []string) (string, error) {
	dir := CacheDir(dataDir)
	final := filepath.Join(dir, cacheName(t, f))
	if st, err := os.Stat(final); err == nil && st.Mode().IsRegular() {
		return final, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create cache dir %q: %w", dir, err)
	}
	tmpf, err := os.CreateTemp(dir, ".convert-*.parquet")
	if err != nil {
		return "", fmt.Errorf("create cache file in %q: %w", dir, err)
	}
	tmp := tmpf.Name()
	tmpf.Close()
	defer os.Remove(tmp) // nothing left behind when the rename did not happen
	have := map[string]bool{}
	for _, c := range header {
		have[c] = true
	}
	q := typedSelect(outputColumns(t.Format, t.RawColumns), true, have, csvFrom([]string{f.Local}, true))
	if err := db.Exec(ctx, "COPY ("+q+") TO "+engine.Literal(tmp)+" (FORMAT parquet, COMPRESSION zstd)"); err != nil {
		return "", fmt.Errorf("convert %q to Parquet: %w", f.URI, err)
	}
	if convertHook != nil {
		if err := convertHook(tmp); err != nil {
			return "", fmt.Errorf("convert %q to Parquet: %w", f.URI, err)
		}
	}
	if err := syncFile(tmp); err != nil {
		return "", fmt.Errorf("convert %q to Parquet: %w", f.URI, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("store %q in cache: %w", f.URI, err)
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return "", err
	}
	return final, nil
}

func syncFile(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// localVersion is the version a local source file has now (objstore.Object.Version), and
// whether it still exists.
func localVersion(p string) (string, bool, error) {
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return objstore.Object{Size: st.Size(), ModTime: st.ModTime()}.Version(), true, nil
}

// stale reports whether t's converted files no longer match its files: a local source file
// changed or removed, or a cached file missing. It costs a stat per file.
func stale(t Table) bool {
	if !t.CSVCache && (len(t.Files) == 0 || t.Files[0].Kind != "csv") {
		return false
	}
	if !t.CSVCache {
		return true // registered before CSV files were converted
	}
	for _, f := range t.Files {
		if f.Cache == "" {
			return true
		}
		if _, err := os.Stat(f.Cache); err != nil {
			return true
		}
		if objstore.IsS3(f.URI) {
			continue
		}
		v, ok, err := localVersion(f.URI)
		if err != nil || !ok || v != f.Version {
			return true
		}
	}
	return false
}

// refresh brings the converted files of CSV table t up to date with its files: a changed local
// file is read again (its new columns join the table's), a removed one leaves the table, and
// any file without its cached Parquet is converted. It returns the table as it now is.
func refresh(ctx context.Context, db *engine.DB, dataDir string, t Table) (Table, error) {
	unlock, err := atomicfile.Lock(cacheLock(dataDir), syscall.LOCK_SH)
	if err != nil {
		return t, err
	}
	defer unlock()
	client := objstore.New(objstore.Options{})
	var files []File
	for _, f := range t.Files {
		if !objstore.IsS3(f.URI) {
			st, err := os.Stat(f.URI)
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed: the files are the truth
			}
			if err != nil {
				return t, err
			}
			o := objstore.Object{URI: f.URI, Key: filepath.ToSlash(f.URI), Size: st.Size(), ModTime: st.ModTime()}
			if v := o.Version(); v != f.Version {
				local, _, err := materialise(ctx, client, dataDir, o)
				if err != nil {
					return t, err
				}
				f.Version, f.Local, f.Cache = v, local, ""
			}
		}
		files = append(files, f)
	}
	t.Files = files
	headers := make([][]string, len(files))
	seen := map[string]bool{}
	for _, c := range t.RawColumns {
		seen[c] = true
	}
	for i, f := range files {
		h, err := csvHeader(f.Local)
		if err != nil {
			return t, fmt.Errorf("read header of %q: %w", f.URI, err)
		}
		headers[i] = h
		for _, c := range h {
			if !seen[c] {
				seen[c] = true
				t.RawColumns = append(t.RawColumns, c)
			}
		}
	}
	t.Rows = 0
	t.CSVCache = true
	for i := range t.Files {
		p, err := convert(ctx, db, dataDir, t, t.Files[i], headers[i])
		if err != nil {
			return t, err
		}
		t.Files[i].Cache = p
		if err := db.QueryRow(ctx, "SELECT num_rows FROM parquet_file_metadata("+engine.Literal(p)+")").Scan(&t.Files[i].Rows); err != nil {
			return t, fmt.Errorf("read cached %q: %w", t.Files[i].URI, err)
		}
		t.Rows += t.Files[i].Rows
	}
	return t, nil
}

// withoutCache returns files that read the CSV files themselves.
func withoutCache(files []File) []File {
	out := make([]File, len(files))
	for i, f := range files {
		f.Cache = ""
		out[i] = f
	}
	return out
}

// replaceTable records refreshed in the registry in place of old, unless the table was
// registered again or removed in the meantime (then that registration stands).
func replaceTable(dataDir string, old, refreshed Table) error {
	return updateRegistry(dataDir, func(r *registryFile) error {
		for i, t := range r.Tables {
			if t.Database == old.Database && t.Table == old.Table && t.RegisteredAt.Equal(old.RegisteredAt) {
				r.Tables[i] = refreshed
			}
		}
		return nil
	})
}
