package iceberg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	iceberggo "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/cost"
)

// CostNamespace is the namespace of the cost tables' Iceberg tables.
const CostNamespace = "auditlake_cost"

// CostTableName is the table name of cost table t in CostNamespace: "<database>_<table>",
// lower case, every character but a-z, 0-9 and _ as "_" (cur.billing → auditlake_cost.cur_billing).
func CostTableName(t cost.Table) string {
	return strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			return r
		}
		return '_'
	}, strings.ToLower(t.Database+"_"+t.Table))
}

// CostResult says what one cost table's sync did.
type CostResult struct {
	Name       string // the cost table, DATABASE.TABLE
	Table      string // namespace.table
	Files      int    // data files in the current snapshot
	Added      int
	Removed    int
	SnapshotID int64
	// Left are the files the table does not take, with the reason (their columns differ from
	// the first file's: an Iceberg table has one schema).
	Left []string
	// Dropped is set for a table whose cost table is no longer registered.
	Dropped bool
	// Pending is set when the catalog has no default location for the table (Glue without
	// --warehouse, whose database has no location): no table, and no error.
	Pending bool

	expired bool // snapshots older than the keep window were forgotten
}

// costFiles are the local Parquet files cost table t is read from: the converted files of a CSV
// table (the cache), the files themselves (or their local copies) of a Parquet one.
func costFiles(t cost.Table) []string {
	var out []string
	for _, f := range t.Files {
		p := f.Cache
		if p == "" && f.Kind == "parquet" {
			p = f.Local
		}
		if p == "" {
			continue
		}
		if abs, err := filepath.Abs(p); err == nil {
			out = append(out, abs)
		}
	}
	return out
}

// parquetSchema is the Arrow schema of a Parquet file.
func parquetSchema(p string) (*arrow.Schema, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	defer pf.Close()
	return pqarrow.FromParquet(pf.MetaData().Schema, nil, pf.MetaData().KeyValueMetadata())
}

// millisFields are the fields of sc (the table made from the Arrow schema s of its files)
// whose values the files hold in milliseconds (Parquet TIMESTAMP(MILLIS)): only top-level
// columns get bounds (iceberg-go keeps counts alone for nested fields).
func millisFields(s *arrow.Schema, sc *iceberggo.Schema) map[int]bool {
	out := map[int]bool{}
	if s == nil {
		return out
	}
	for _, f := range s.Fields() {
		if ts, ok := f.Type.(*arrow.TimestampType); ok && ts.Unit == arrow.Millisecond {
			if c, ok := sc.FindFieldByName(f.Name); ok {
				out[c.ID] = true
			}
		}
	}
	return out
}

// schemaKey names an Arrow schema's columns and types.
func schemaKey(s *arrow.Schema) string {
	h := sha256.New()
	for _, f := range s.Fields() {
		fmt.Fprintf(h, "%s\x00%s\x00", f.Name, f.Type)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// SyncCosts makes the Iceberg table of every registered cost table hold exactly the Parquet
// files it is read from (one snapshot per change), creating it unpartitioned with the first
// file's schema, recreating it when the columns change (a registration with other columns),
// and dropping the tables of cost tables no longer registered (their files are not touched).
// A failure of one table does not stop the others; their errors are joined. Syncs of one data
// directory run one at a time; the registry's version a sync brought every table up to is kept
// (costs.json), so that CostsBehind knows whether a sync was cut off (CatchUpCosts).
func SyncCosts(ctx context.Context, cat catalog.Catalog, dataDir string) ([]CostResult, error) {
	if err := os.MkdirAll(filepath.Join(dataDir, "iceberg"), 0o755); err != nil {
		return nil, err
	}
	unlock, err := atomicfile.Lock(filepath.Join(dataDir, "iceberg", "costs.lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlock()
	tables, version, err := cost.TablesVersion(dataDir)
	if err != nil {
		return nil, err
	}
	retain, err := costKeep(dataDir)
	if err != nil {
		return nil, err
	}
	var out []CostResult
	var errs, refused []error   // refused: the registry's own conflicts, not the catalog's failures
	changed := false            // a snapshot committed or expired, a table dropped: prune after
	keep := map[string]string{} // table name → the cost table it is
	for _, t := range tables {
		name := CostTableName(t)
		if other, ok := keep[name]; ok {
			// Two cost tables with one Iceberg name (cur.a_b and cur_a.b): the first keeps it.
			err := fmt.Errorf("cost table %s: its Iceberg table %s.%s is %s's already; register it under another name to catalogue it", t.Name(), CostNamespace, name, other)
			refused = append(refused, err)
			if rerr := RecordSync(dataDir, costStatusID(t.Name()), err); rerr != nil {
				errs = append(errs, rerr)
			}
			continue
		}
		keep[name] = t.Name()
		res, err := syncCost(ctx, cat, dataDir, t, retain)
		// Kept for cur show while the table is behind (a store's is kept for eds show);
		// cleared by the next sync that brings it up to the registry.
		if rerr := RecordSync(dataDir, costStatusID(t.Name()), err); rerr != nil {
			errs = append(errs, rerr)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("cost table %s: %w", t.Name(), err))
			continue
		}
		changed = changed || res.Added+res.Removed > 0 || res.expired
		out = append(out, res)
	}
	for ident, err := range cat.ListTables(ctx, catalog.ToIdentifier(CostNamespace)) {
		if errors.Is(err, catalog.ErrNoSuchNamespace) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("list %s: %w", CostNamespace, err))
			break
		}
		if name := ident[len(ident)-1]; keep[name] == "" {
			if cat.CatalogType() != catalog.SQL { // the embedded catalog is the data directory's own
				if tbl, err := cat.LoadTable(ctx, ident); err != nil || !ownCostTable(ctx, cat, tbl, dataDir) {
					continue // another installation's, in a shared catalog (or not a table to load)
				}
			}
			if err := cat.DropTable(ctx, ident); err != nil {
				errs = append(errs, fmt.Errorf("drop %s.%s: %w", CostNamespace, name, err))
				continue
			}
			out = append(out, CostResult{Table: CostNamespace + "." + name, Dropped: true})
			changed = true
		}
	}
	if len(errs) == 0 {
		// The files no retained snapshot names any more are deleted keep after that.
		if err := pruneCostData(ctx, cat, dataDir, retain, changed); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		// The failures kept for cost tables no longer registered are forgotten.
		registered := map[string]bool{}
		for _, t := range tables {
			registered[costStatusID(t.Name())] = true
		}
		if err := forgetSyncs(dataDir, func(id string) bool { return strings.HasPrefix(id, "cost:") && !registered[id] }); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		// Every table follows the registry as it was read (a name conflict stays until the
		// registry changes): a later start need not sync again.
		b, _ := json.Marshal(costsState{RegistryVersion: version})
		errs = append(errs, atomicfile.Write(costsStatePath(dataDir), b))
	}
	return out, errors.Join(append(refused, errs...)...)
}

// lakeIDProperty is the table property naming the lake (thisLake) that made a cost table.
const lakeIDProperty = "auditlake.lake-id"

// ownCostTable says whether tbl, a table of CostNamespace, is this data directory's: to drop
// when no registered cost table maps to it, to commit to when one does. The embedded SQL
// catalog is the data directory's own. A REST or Glue catalog may be shared by several
// installations, each cataloguing its own cost tables there: a table is this one's when this
// lake made it (lakeIDProperty) or, made by an earlier version without the property, when it
// names only files under this data directory's cost-data (where every cost table's files are
// linked).
func ownCostTable(ctx context.Context, cat catalog.Catalog, tbl *table.Table, dataDir string) bool {
	if cat.CatalogType() == catalog.SQL {
		return true
	}
	if tbl.Properties()["auditlake.cost-table"] == "" {
		return false
	}
	if made := tbl.Properties()[lakeIDProperty]; made != "" {
		id, err := thisLake(dataDir)
		return err == nil && made == id
	}
	files, err := Files(ctx, tbl)
	if err != nil {
		return false
	}
	for p := range files {
		if local, ok := LocalPath(p); !ok || !within(local, costDataDir(dataDir)) {
			return false
		}
	}
	return true
}

// costsState is what the last complete SyncCosts brought the cost tables' Iceberg tables up to.
type costsState struct {
	RegistryVersion string `json:"registry_version"`
}

func costsStatePath(dataDir string) string { return filepath.Join(dataDir, "iceberg", "costs.json") }

// CostsBehind reports whether the cost tables' Iceberg tables may be behind the registry: it
// changed (a registration, a removal, a session's cache refresh) since the last complete
// SyncCosts — a crash or a failed catalog between the two. It costs two small reads.
func CostsBehind(dataDir string) (bool, error) {
	tables, version, err := cost.TablesVersion(dataDir)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(costsStatePath(dataDir)); errors.Is(err, fs.ErrNotExist) {
		// Never synced completely (or by a version that kept no record): behind if there is
		// anything to catalogue.
		return len(tables) > 0, nil
	}
	var st costsState
	if err := atomicfile.ReadJSON(costsStatePath(dataDir), &st); err != nil {
		return false, err
	}
	return st.RegistryVersion != version, nil
}

// CatchUpCosts runs SyncCosts when CostsBehind: what a command that opens the catalog does
// first, so a crash between a cost cache refresh and its catalog update is repaired at the next
// start.
func CatchUpCosts(ctx context.Context, cat catalog.Catalog, dataDir string) ([]CostResult, error) {
	behind, err := CostsBehind(dataDir)
	if err != nil || !behind {
		return nil, err
	}
	return SyncCosts(ctx, cat, dataDir)
}

func syncCost(ctx context.Context, cat catalog.Catalog, dataDir string, t cost.Table, retain time.Duration) (CostResult, error) {
	res := CostResult{Name: t.Name(), Table: CostNamespace + "." + CostTableName(t)}
	ident := catalog.ToIdentifier(CostNamespace, CostTableName(t))
	var want []string
	var first, named0 *arrow.Schema // the first file's schema, and that of the file the table names for it
	for _, p := range costFiles(t) {
		s, err := parquetSchema(p)
		if err != nil {
			return res, err
		}
		if first == nil {
			first = s
		} else if schemaKey(s) != schemaKey(first) {
			res.Left = append(res.Left, p+": its columns differ from the first file's")
			continue
		}
		named, err := costDataFile(ctx, dataDir, p, hasNanos(s))
		if err != nil {
			return res, err
		}
		if named0 == nil {
			if named0 = s; hasNanos(s) {
				if named0, err = parquetSchema(named); err != nil {
					return res, err
				}
			}
		}
		want = append(want, FileURI(named))
	}
	tbl, err := loadOwn(ctx, cat, ident, dataDir)
	switch {
	case errors.Is(err, catalog.ErrNoSuchTable):
		tbl = nil
	case err != nil:
		return res, err
	case !ownCostTable(ctx, cat, tbl, dataDir):
		return res, fmt.Errorf("its Iceberg table %s.%s is another installation's, sharing the catalog: register it under another name to catalogue it", CostNamespace, CostTableName(t))
	case first != nil && tbl.Properties()["auditlake.schema"] != schemaKey(first):
		// Registered again with other columns: a new table (the old one named other columns).
		if err := cat.DropTable(ctx, ident); err != nil {
			return res, err
		}
		tbl = nil
	}
	if tbl == nil {
		if first == nil {
			return res, nil // no file yet: no table until there is one
		}
		sc, err := table.ArrowSchemaToIcebergWithFreshIDs(named0, false)
		if err != nil {
			return res, fmt.Errorf("schema: %w", err)
		}
		if err := cat.CreateNamespace(ctx, catalog.ToIdentifier(CostNamespace), nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
			return res, fmt.Errorf("namespace %s: %w", CostNamespace, err)
		}
		lakeID, err := thisLake(dataDir)
		if err != nil {
			return res, err
		}
		tbl, err = cat.CreateTable(ctx, ident, sc, catalog.WithProperties(iceberggo.Properties{
			"format-version":        "2",
			lakeIDProperty:          lakeID,
			"auditlake.cost-table":  t.Name(),
			"auditlake.cost-format": string(t.Format),
			"auditlake.cost-source": t.Source,
			"auditlake.schema":      schemaKey(first),
		}))
		if noDefaultLocation(err) {
			res.Pending = true
			return res, nil
		}
		if err != nil {
			return res, err
		}
	}
	tbl, res.Added, res.Removed, err = commitLocalFiles(ctx, tbl, want, iceberggo.Properties{"auditlake.cost-table": t.Name()}, nil, millisFields(named0, tbl.Schema()))
	if err != nil {
		return res, err
	}
	res.Files = len(want)
	if s := tbl.CurrentSnapshot(); s != nil {
		res.SnapshotID = s.SnapshotID
	}
	if retain > 0 {
		if res.expired, err = expireSnapshots(ctx, tbl, retain, res.Table); err != nil {
			return res, err
		}
	}
	return res, nil
}

// The cost tables' Iceberg tables do not name the cost cache's files themselves: the cache
// deletes a converted file as soon as no registration names it (a refreshed CSV file, a
// re-registration, a removal), while an older snapshot — one a reader elsewhere is still
// scanning — names it until the snapshot expires. So every file a table takes is named under
// <data>/iceberg/cost-data/ (a hard link to the cost file: no second copy; a copy where the
// file system refuses links), and such a file is deleted only when no snapshot the catalog
// retains names it and keep (catalog set --keep-retired, the window a store's retired files
// are kept for) has passed since, as a store's retired files are (lake.Hooks.KeepRetired).

func costDataDir(dataDir string) string { return filepath.Join(dataDir, "iceberg", "cost-data") }

// costDataState is when each file of costDataDir was first seen named by no retained snapshot.
func costDataState(dataDir string) string {
	return filepath.Join(dataDir, "iceberg", "cost-data.json")
}

// costKeep is how long the cost tables' files no retained snapshot names are kept: the
// catalog's --keep-retired window (the default one without a catalog set).
func costKeep(dataDir string) (time.Duration, error) {
	c, _, err := LoadConfig(dataDir)
	if err != nil {
		return 0, err
	}
	return c.Keep()
}

// costDataFile is the path under which the Iceberg tables name the local cost file p (an
// absolute path): <data>/iceberg/cost-data/<hash of p's path, size and time>-<p's name>, made
// when it is not there. When micros, it is a copy of p with its timestamps in microseconds
// (writeMicros), <hash>-us-<p's name>.
func costDataFile(ctx context.Context, dataDir, p string, micros bool) (string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d", p, st.Size(), st.ModTime().UnixNano())
	dir := costDataDir(dataDir)
	name := hex.EncodeToString(h.Sum(nil))[:16] + "-" + filepath.Base(p)
	if micros {
		name = hex.EncodeToString(h.Sum(nil))[:16] + "-us-" + filepath.Base(p)
	}
	named := filepath.Join(dir, name)
	if _, err := os.Lstat(named); err == nil {
		return named, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if micros {
		if err := writeMicros(ctx, p, named); err != nil {
			return "", fmt.Errorf("copy %s with its timestamps in microseconds for the Iceberg table: %w", p, err)
		}
	} else if err := os.Link(p, named); err != nil && !errors.Is(err, fs.ErrExist) {
		// Another file system, or one without links: a copy, renamed into place when whole.
		if err := copyInto(p, named); err != nil {
			return "", fmt.Errorf("keep %s for the Iceberg table: %w", p, err)
		}
	}
	return named, atomicfile.SyncDir(dir)
}

// hasNanos says whether a column of s, or a field nested in one, is a timestamp in nanoseconds
// (Parquet TIMESTAMP(NANOS), or INT96, which is read as nanoseconds): a type an Iceberg table
// holds only from format v3, which Athena does not read. The table of such a cost file names a
// copy with those timestamps in microseconds, the timestamp of format v2 (writeMicros).
func hasNanos(s *arrow.Schema) bool {
	var nanos func(arrow.DataType) bool
	nanos = func(dt arrow.DataType) bool {
		switch t := dt.(type) {
		case *arrow.TimestampType:
			return t.Unit == arrow.Nanosecond
		case arrow.NestedType:
			return slices.ContainsFunc(t.Fields(), func(f arrow.Field) bool { return nanos(f.Type) })
		}
		return false
	}
	return slices.ContainsFunc(s.Fields(), func(f arrow.Field) bool { return nanos(f.Type) })
}

// writeMicros writes the Parquet file from again, every timestamp in microseconds (the
// nanoseconds below a microsecond dropped; a millisecond one multiplied), to to (writeInto).
func writeMicros(ctx context.Context, from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	pf, err := file.NewParquetReader(src)
	if err != nil {
		return err
	}
	defer pf.Close()
	// A row group per batch (Write, not WriteBuffered, which holds a whole row group of up to
	// 64 Mi rows in memory): a CUR file of millions of line items is copied in bounded memory.
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 128 << 10}, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	return writeInto(to, func(out io.Writer) error {
		// (Wrapped: the writer closes what it writes to when it is a Closer.)
		w, err := pqarrow.NewFileWriter(rr.Schema(), struct{ io.Writer }{out}, parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd)),
			pqarrow.NewArrowWriterProperties(pqarrow.WithCoerceTimestamps(arrow.Microsecond), pqarrow.WithTruncatedTimestamps(true)))
		if err != nil {
			return err
		}
		for rr.Next() {
			if err := w.Write(rr.RecordBatch()); err != nil {
				w.Close()
				return err
			}
		}
		if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
			w.Close()
			return err
		}
		return w.Close()
	})
}

// copyInto copies file from to to (writeInto).
func copyInto(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	return writeInto(to, func(out io.Writer) error {
		_, err := io.Copy(out, src)
		return err
	})
}

// writeInto writes a temporary file beside to with write, syncs it, then renames it to to: a
// reader sees the whole file or none.
func writeInto(to string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(to), ".copy-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), to)
}

// pruneCostData deletes the files of costDataDir that no snapshot of a cost table's Iceberg
// table names when keep has passed since that was first seen; a file named again is kept. It
// reads the snapshots only when changed (a snapshot committed or expired, a table dropped) or
// when files wait for their deletion. A table the catalog cannot list or read leaves every file.
func pruneCostData(ctx context.Context, cat catalog.Catalog, dataDir string, keep time.Duration, changed bool) error {
	retired := map[string]time.Time{}
	if err := atomicfile.ReadJSON(costDataState(dataDir), &retired); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if !changed && len(retired) == 0 {
		return nil
	}
	entries, err := os.ReadDir(costDataDir(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	named := map[string]bool{}
	for ident, err := range cat.ListTables(ctx, catalog.ToIdentifier(CostNamespace)) {
		if errors.Is(err, catalog.ErrNoSuchNamespace) {
			break
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", CostNamespace, err)
		}
		tbl, err := cat.LoadTable(ctx, ident)
		if err != nil {
			return err
		}
		snaps := tbl.Metadata().Snapshots()
		if keep == 0 { // no window (--keep-retired 0): only the current snapshot keeps its files
			snaps = nil
			if cur := tbl.CurrentSnapshot(); cur != nil {
				snaps = []table.Snapshot{*cur}
			}
		}
		for _, s := range snaps {
			tasks, err := tbl.Scan(table.WithSnapshotID(s.SnapshotID)).PlanFiles(ctx)
			if err != nil {
				return fmt.Errorf("%s: snapshot %d: %w", strings.Join(ident, "."), s.SnapshotID, err)
			}
			for _, t := range tasks {
				if p, ok := LocalPath(t.File.FilePath()); ok {
					named[filepath.Base(p)] = true
				}
			}
		}
	}
	now := time.Now().UTC()
	next := map[string]time.Time{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case named[name]:
		case strings.HasPrefix(name, ".copy-"): // a crashed copy (copies run under costs.lock)
			os.Remove(filepath.Join(costDataDir(dataDir), name))
		default:
			at, seen := retired[name]
			if !seen {
				at = now
			}
			if now.Sub(at) >= keep {
				if err := os.Remove(filepath.Join(costDataDir(dataDir), name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					next[name] = at
				}
				continue
			}
			next[name] = at
		}
	}
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	return atomicfile.Write(costDataState(dataDir), b)
}
