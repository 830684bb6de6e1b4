package iceberg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow"
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
	var out []CostResult
	var errs, refused []error   // refused: the registry's own conflicts, not the catalog's failures
	keep := map[string]string{} // table name → the cost table it is
	for _, t := range tables {
		name := CostTableName(t)
		if other, ok := keep[name]; ok {
			// Two cost tables with one Iceberg name (cur.a_b and cur_a.b): the first keeps it.
			refused = append(refused, fmt.Errorf("cost table %s: its Iceberg table %s.%s is %s's already; register it under another name to catalogue it", t.Name(), CostNamespace, name, other))
			continue
		}
		keep[name] = t.Name()
		res, err := syncCost(ctx, cat, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("cost table %s: %w", t.Name(), err))
			continue
		}
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
			if err := cat.DropTable(ctx, ident); err != nil {
				errs = append(errs, fmt.Errorf("drop %s.%s: %w", CostNamespace, name, err))
				continue
			}
			out = append(out, CostResult{Table: CostNamespace + "." + name, Dropped: true})
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

func syncCost(ctx context.Context, cat catalog.Catalog, t cost.Table) (CostResult, error) {
	res := CostResult{Name: t.Name(), Table: CostNamespace + "." + CostTableName(t)}
	ident := catalog.ToIdentifier(CostNamespace, CostTableName(t))
	var want []string
	var first *arrow.Schema
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
		want = append(want, FileURI(p))
	}
	tbl, err := cat.LoadTable(ctx, ident)
	switch {
	case errors.Is(err, catalog.ErrNoSuchTable):
		tbl = nil
	case err != nil:
		return res, err
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
		sc, err := table.ArrowSchemaToIcebergWithFreshIDs(first, false)
		if err != nil {
			return res, fmt.Errorf("schema: %w", err)
		}
		if err := cat.CreateNamespace(ctx, catalog.ToIdentifier(CostNamespace), nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
			return res, fmt.Errorf("namespace %s: %w", CostNamespace, err)
		}
		tbl, err = cat.CreateTable(ctx, ident, sc, catalog.WithProperties(iceberggo.Properties{
			"format-version":        "2",
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
	tbl, res.Added, res.Removed, err = commitFiles(ctx, tbl, want, iceberggo.Properties{"auditlake.cost-table": t.Name()})
	if err != nil {
		return res, err
	}
	res.Files = len(want)
	if s := tbl.CurrentSnapshot(); s != nil {
		res.SnapshotID = s.SnapshotID
	}
	return res, nil
}
