// Package cost makes billing files — CUR 1.0 (CSV or Athena Parquet), CUR 2.0 Data Exports and
// FOCUS — queryable in place as "DATABASE"."TABLE" views, without copying them into the store.
// Register resolves a source (a local path or an S3 prefix) to the files that count, honouring
// report manifests so that a billing period is never counted twice, downloads S3 objects into a
// cache keyed by ETag, checks the headers and records the result in <data>/cost/registry.json.
// At query time Register(ctx, db, dataDir) turns every recorded table into a view that renames
// the columns to the Athena-integration names and types them as Athena does.
package cost

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/dialect"
)

// Format is the kind of billing file a table holds.
type Format string

// Formats that Register understands. FormatAuto asks for detection.
const (
	FormatAuto        Format = "auto"
	FormatCUR1CSV     Format = "cur1-csv"
	FormatCUR1Parquet Format = "cur1-parquet"
	FormatCUR2        Format = "cur2"
	FormatFOCUS       Format = "focus"
)

// ParseFormat validates a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatAuto, FormatCUR1CSV, FormatCUR1Parquet, FormatCUR2, FormatFOCUS:
		return f, nil
	case "":
		return FormatAuto, nil
	}
	return "", fmt.Errorf("unknown cost format %q (want auto, cur1-csv, cur1-parquet, cur2 or focus)", s)
}

// ErrNotFound is returned (wrapped) for a table that is not registered.
var ErrNotFound = errors.New("cost table not registered")

// File is one data file of a table.
type File struct {
	// URI is where the file lives (a local path or s3://bucket/key).
	URI string `json:"uri"`
	// Version is the S3 ETag or, for a local file, size and modification time.
	Version string `json:"version"`
	// Local is the path DuckDB reads: the file itself, or its copy in the cache.
	Local string `json:"local"`
	// Kind is "csv" or "parquet".
	Kind string `json:"kind"`
	// Period is the billing period (YYYY-MM) the layout puts the file in; empty for loose files.
	Period string `json:"period,omitempty"`
	// Rows is the file's row count, measured at registration.
	Rows int64 `json:"rows"`
	// Cache is the Parquet file in the cache a CSV file is converted into (cache.go); queries
	// read it instead of the CSV.
	Cache string `json:"cache,omitempty"`
}

// Table is one registered cost table.
type Table struct {
	Database     string    `json:"database"`
	Table        string    `json:"table"`
	Source       string    `json:"source"`
	Format       Format    `json:"format"`
	RegisteredAt time.Time `json:"registered_at"`
	Files        []File    `json:"files"`
	// RawColumns is the union of the files' own column names, in first-seen order.
	RawColumns []string `json:"raw_columns"`
	// Hive is set when the files sit in year=/month= partitions whose keys become columns.
	Hive bool `json:"hive,omitempty"`
	// Periods are the billing periods (YYYY-MM) found in the data.
	Periods []string `json:"periods"`
	Rows    int64    `json:"rows"`
	// Skipped are the data files under the source that do not count, with the reason.
	Skipped []Skipped `json:"skipped,omitempty"`
	// Endpoint, Region and Profile are the S3 options the source was read with.
	Endpoint string `json:"endpoint_url,omitempty"`
	Region   string `json:"region,omitempty"`
	Profile  string `json:"profile,omitempty"`
	// CSVCache is set when the table's CSV files are read through their converted Parquet
	// files (File.Cache); it stays set when all the files are gone (an empty table).
	CSVCache bool `json:"csv_cache,omitempty"`
}

// Name is "DATABASE.TABLE".
func (t Table) Name() string { return t.Database + "." + t.Table }

type registryFile struct {
	Tables []Table `json:"tables"`
	// Version changes with every update of the registry (a random id), so that a follower of
	// the cost tables (their Iceberg tables) knows whether it has seen the registry as it is.
	Version string `json:"version,omitempty"`
}

func registryPath(dataDir string) string { return filepath.Join(dataDir, "cost", "registry.json") }

// CacheDir is where S3 objects and unzipped files are kept.
func CacheDir(dataDir string) string { return filepath.Join(dataDir, "cost", "cache") }

func registryLock(dataDir string) string { return filepath.Join(dataDir, "cost", "registry.lock") }

func readRegistry(dataDir string) (registryFile, error) {
	var r registryFile
	if err := atomicfile.ReadJSON(registryPath(dataDir), &r); err != nil {
		return r, fmt.Errorf("read cost registry: %w", err)
	}
	return r, nil
}

// updateRegistry applies fn to the registry under the registry's lock and replaces the file
// atomically, so that concurrent registrations and removals all keep their change.
func updateRegistry(dataDir string, fn func(*registryFile) error) error {
	err := atomicfile.UpdateJSON(registryPath(dataDir), registryLock(dataDir), func(r *registryFile) error {
		if err := fn(r); err != nil {
			return err
		}
		sort.Slice(r.Tables, func(i, j int) bool { return r.Tables[i].Name() < r.Tables[j].Name() })
		r.Version = rand.Text()
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("update cost registry: %w", err)
	}
	return err
}

// Tables returns the registered tables, sorted by name.
func Tables(dataDir string) ([]Table, error) {
	r, err := readRegistry(dataDir)
	if err != nil {
		return nil, err
	}
	return r.Tables, nil
}

// TablesVersion returns the registered tables and the registry's version, which changes with
// every change of the registry (a registration, a removal, a cache refresh): "" before the first.
func TablesVersion(dataDir string) ([]Table, string, error) {
	r, err := readRegistry(dataDir)
	if err != nil {
		return nil, "", err
	}
	return r.Tables, r.Version, nil
}

// Lookup returns one registered table by "DATABASE.TABLE".
func Lookup(dataDir, name string) (Table, error) {
	db, tb, err := SplitName(name)
	if err != nil {
		return Table{}, err
	}
	tables, err := Tables(dataDir)
	if err != nil {
		return Table{}, err
	}
	for _, t := range tables {
		if t.Database == db && t.Table == tb {
			return t, nil
		}
	}
	return Table{}, fmt.Errorf("%s: %w", name, ErrNotFound)
}

// Remove forgets a table. The source files are not touched; cached copies no other table uses
// are deleted.
func Remove(dataDir, name string) error {
	db, tb, err := SplitName(name)
	if err != nil {
		return err
	}
	err = updateRegistry(dataDir, func(r *registryFile) error {
		var kept []Table
		for _, t := range r.Tables {
			if t.Database != db || t.Table != tb {
				kept = append(kept, t)
			}
		}
		if len(kept) == len(r.Tables) {
			return fmt.Errorf("%s: %w", name, ErrNotFound)
		}
		r.Tables = kept
		return nil
	})
	if err != nil {
		return err
	}
	pruneCache(dataDir)
	return nil
}

// cacheLock is held shared by every registration from before it fetches files into the cache
// until the registry names them, and exclusively while unused cached files are deleted, so that
// one command never deletes what another is about to register.
func cacheLock(dataDir string) string { return filepath.Join(dataDir, "cost", "cache.lock") }

// pruneCache deletes cached files that no registered table refers to. It does nothing while a
// registration is under way (it runs again after the next one); failures only leave files
// behind.
func pruneCache(dataDir string) {
	unlock, err := atomicfile.Lock(cacheLock(dataDir), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		return
	}
	defer unlock()
	r, err := readRegistry(dataDir)
	if err != nil {
		return
	}
	used := map[string]bool{}
	for _, t := range r.Tables {
		for _, f := range t.Files {
			used[filepath.Clean(f.Local)] = true
			if f.Cache != "" {
				used[filepath.Clean(f.Cache)] = true
			}
		}
	}
	dir := CacheDir(dataDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		// Temporary files (".fetch-*", ".unzip-*", ".convert-*") are made only under the
		// shared lock, so with the exclusive lock held they are a crashed run's leftovers.
		if !used[p] {
			os.Remove(p)
		}
	}
}

// SplitName splits "DATABASE.TABLE"; both parts are required and the name must have exactly one
// dot.
func SplitName(name string) (database, table string, err error) {
	database, table, ok := strings.Cut(name, ".")
	if !ok || database == "" || table == "" || strings.Contains(table, ".") {
		return "", "", fmt.Errorf("table name %q: want DATABASE.TABLE", name)
	}
	if strings.EqualFold(database, dialect.CloudTrailCatalog) || strings.EqualFold(database, "main") {
		return "", "", fmt.Errorf("table name %q: database %q is reserved", name, database)
	}
	return database, table, nil
}
