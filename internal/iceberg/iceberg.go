// Package iceberg publishes every store as an Apache Iceberg table (format v2) over the store's
// own Parquet files: no second copy. The store's manifest stays the truth; Sync makes the table's
// current snapshot hold exactly the manifest's live files, as one snapshot (append, replace or
// delete), so a crash between the store's commit and the table's is repaired by the next Sync.
package iceberg

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	iceberggo "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	_ "github.com/apache/iceberg-go/catalog/sql" // the embedded SQL catalog
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/auditlake/auditlake/internal/lake"
)

// Namespace is the namespace of every table auditlake writes.
const Namespace = "auditlake"

// CatalogName is the name the catalog is opened under (the SQL catalog keys tables by it).
const CatalogName = "auditlake"

// TableName is a store's table name: its name, lower case, "-" and "." as "_" (Glue and Athena
// take neither).
func TableName(store string) string { return lake.TableName(store) }

// SQLProperties are the properties of the default catalog: SQLite in the data directory, the
// warehouse beside it (both URIs, their paths percent-encoded: SQLite decodes a "file:" name
// too, and a "?" or "#" would end its path).
func SQLProperties(dataDir string) iceberggo.Properties {
	abs, _ := filepath.Abs(dataDir)
	return iceberggo.Properties{
		"name":        CatalogName,
		"type":        "sql",
		"uri":         "file:" + escapePath(filepath.ToSlash(filepath.Join(abs, "iceberg", "catalog.db"))) + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)",
		"sql.driver":  sqliteshim.ShimName,
		"sql.dialect": "sqlite",
		"warehouse":   FileURI(filepath.Join(abs, "iceberg", "warehouse")),
	}
}

// Open opens the catalog props describe.
func Open(ctx context.Context, props iceberggo.Properties) (catalog.Catalog, error) {
	props = maps.Clone(props)
	name := props["name"]
	if name == "" {
		name = CatalogName
	}
	delete(props, "name")
	if strings.HasPrefix(props["uri"], "file:") {
		p := strings.TrimPrefix(strings.SplitN(props["uri"], "?", 2)[0], "file:")
		if d, err := url.PathUnescape(p); err == nil {
			p = d
		}
		if err := os.MkdirAll(filepath.Dir(filepath.FromSlash(p)), 0o755); err != nil {
			return nil, err
		}
	}
	if w, ok := LocalPath(props["warehouse"]); ok {
		if err := os.MkdirAll(w, 0o755); err != nil {
			return nil, err
		}
	}
	return catalog.Load(ctx, name, props)
}

// Result says what one Sync did.
type Result struct {
	Table      string // namespace.table
	Added      int
	Removed    int
	Files      int // live files after the sync
	SnapshotID int64
	Created    bool
	// Pending is set when the table cannot be created before the store is published: the
	// catalog has no default location for it (Glue without --warehouse, whose database has no
	// location). eds publish creates it at the S3 prefix.
	Pending bool
}

// Sync makes the table of store hold exactly the store's live files as its current snapshot,
// creating the namespace and the table when they do not exist: one snapshot (append when files
// were only added, replace when they were rewritten with the same events, delete when they
// were only dropped, overwrite otherwise),
// or none when the table already matches. A store with no
// files and no table gets no table until its first file.
func Sync(ctx context.Context, cat catalog.Catalog, lk *lake.Lake, st lake.Store) (Result, error) {
	res := Result{Table: Namespace + "." + TableName(st.Name)}
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		return res, err
	}
	// A published store's files are uploaded before the snapshot that names them (publish.go).
	pub, published, err := currentPublication(lk.Dir, st.ID)
	if err != nil {
		return res, err
	}
	location := ""
	uri := func(rel string) string { return FileURI(lk.AbsPath(st.ID, rel)) }
	if published {
		ctx = pub.withS3(ctx)
		if _, err := push(ctx, lk, st, pub, m); err != nil {
			return res, err
		}
		location, uri = pub.Location(), pub.Object
	}
	var order []string
	for _, f := range m.Files {
		order = append(order, uri(f.Path))
	}
	ident := catalog.ToIdentifier(Namespace, TableName(st.Name))
	tbl, err := loadOwn(ctx, cat, ident, lk.Dir)
	if err == nil {
		err = claim(ctx, cat, lk, st, ident, tbl) // owner.go
	}
	if err == nil && location != "" && strings.TrimSuffix(tbl.Location(), "/") != location {
		// Published: the table moves to S3, a new table there (its history named local files).
		// (A catalog that writes the location back with a final "/" does not move it again.)
		if err = cat.DropTable(ctx, ident); err == nil {
			err = catalog.ErrNoSuchTable
		}
	}
	if errors.Is(err, catalog.ErrNoSuchTable) {
		if err := dropRenamed(ctx, cat, lk, st); err != nil { // owner.go
			return res, fmt.Errorf("iceberg table %s: %w", res.Table, err)
		}
		if len(order) == 0 {
			return res, nil
		}
		// The schema from the first file (a copy from S3 when the disk no longer holds it).
		first, release, lerr := lk.Local(ctx, st.ID, []string{m.Files[0].Path})
		if lerr != nil {
			release()
			return res, lerr
		}
		tbl, err = create(ctx, cat, ident, first[0], st, location)
		release()
		if location == "" && noDefaultLocation(err) {
			res.Pending = true
			return res, nil
		}
		res.Created = true
	}
	if err != nil {
		return res, fmt.Errorf("iceberg table %s: %w", res.Table, err)
	}
	props := iceberggo.Properties{"auditlake.store-id": st.ID, "auditlake.manifest-version": strconv.FormatInt(m.Version, 10)}
	// The column statistics of a new file come from its footer on the local disk, where the
	// writer just put it, not from its copy on S3.
	local := map[string]string{}
	if published {
		for _, f := range m.Files {
			if abs := lk.AbsPath(st.ID, f.Path); fileExists(abs) {
				local[uri(f.Path)] = abs
			}
		}
	}
	tbl, res.Added, res.Removed, err = commitLocalFiles(ctx, tbl, order, props, local, nil)
	if err == nil {
		// Only a CloudTrail store cuts eventjson and derives checksums; a Config or activity
		// store's files hold it whole (and have no checksum column). Its files are the ones
		// auditlake's own Parquet writer writes, delta encoded (vectorizationProps).
		cloudTrail := st.Type == lake.TypeCloudTrail || st.Type == ""
		tbl, err = markProperties(ctx, tbl, m, lk.WholeJSON(st.ID) || !cloudTrail, cloudTrail, cat.CatalogType() == catalog.SQL)
	}
	if err != nil {
		return res, fmt.Errorf("iceberg table %s: %w", res.Table, err)
	}
	res.Files = len(order)
	if s := tbl.CurrentSnapshot(); s != nil {
		res.SnapshotID = s.SnapshotID
	}
	return res, nil
}

// EventJSONProperty is the table property that says whether an engine reading the table's
// files as they are reads every event's eventjson and eventjsonchecksum: EventJSONWhole, or
// EventJSONCut while a file of the current snapshot is a file of an unpublished CloudTrail
// store (a Config or activity store never cuts its files): a cold
// one leaves out of eventjson the values other columns hold (auditlake's views put them
// back: ctparquet.ColdJSONSQL) and its checksum (null: the SHA-256 of the JSON put back), a
// hot one its checksum ("", the SHA-256 of eventjson: ingest leaves it to the reader). A
// published store's files are all whole (lake.WriteWholeJSON, before the first upload).
const (
	EventJSONProperty = "auditlake.eventjson"
	EventJSONWhole    = "whole"
	EventJSONCut      = "cut in cold files: eventjson leaves out the values of eventid, requestid, useridentity.accesskeyid, sharedeventid " +
		"and the long values of requestparameters, additionaleventdata, responseelements (control bytes in their place), eventjsonchecksum is null " +
		"(in hot files \"\": the SHA-256 of eventjson); " +
		"auditlake's own views put them back, eds publish writes every file whole"
)

// metadataProps bound the metadata files of a table that auditlake's own catalog keeps (the SQL
// catalog, the default): each snapshot writes a metadata file, which nothing deleted, so a
// commit a minute (continuous collection) left 1,440 a day for good; with these, iceberg-go
// deletes those past the last 20 after each commit (snapshots are kept by expiry, not by
// them). A REST or Glue catalog's tables keep that catalog's own settings.
var metadataProps = iceberggo.Properties{
	table.MetadataDeleteAfterCommitEnabledKey: "true",
	table.MetadataPreviousVersionsMaxKey:      "20",
}

// vectorizationProps turn off Spark's vectorized reads of a table whose files auditlake's
// Parquet writer (ctparquet) writes: strings not dictionary encoded are DELTA_LENGTH_BYTE_ARRAY
// and integers DELTA_BINARY_PACKED, in data pages v2, which Iceberg's vectorized reader did not
// read until 2025-2026 (apache/iceberg#13391, #15362). Spark uses it by default whenever the
// columns a query reads are all primitive (SELECT eventtime, eventid …), and failed: "Cannot
// support vectorized reads for column … with encoding DELTA_LENGTH_BYTE_ARRAY". Its row reader
// reads every encoding; other engines ignore the property. (Config and activity stores' files
// are DuckDB's: plain and dictionary encodings.)
var vectorizationProps = iceberggo.Properties{"read.parquet.vectorization.enabled": "false"}

// markProperties sets tbl's EventJSONProperty for the files of manifest m, vectorizationProps
// when delta (the files are auditlake's writer's), and, when own (the SQL catalog's table),
// metadataProps, when they change; whole says every file of the store holds whole JSON
// (lake.WholeJSON; a Config or activity store's files always do).
func markProperties(ctx context.Context, tbl *table.Table, m *lake.Manifest, whole, delta, own bool) (*table.Table, error) {
	want := iceberggo.Properties{EventJSONProperty: EventJSONWhole}
	if delta {
		maps.Copy(want, vectorizationProps)
	}
	for _, f := range m.Files {
		if f.Cold && !f.Whole || !f.Cold && !whole {
			want[EventJSONProperty] = EventJSONCut
			break
		}
	}
	if own {
		maps.Copy(want, metadataProps)
	}
	set := iceberggo.Properties{}
	for k, v := range want {
		if tbl.Properties()[k] != v {
			set[k] = v
		}
	}
	if len(set) == 0 {
		return tbl, nil
	}
	tx := tbl.NewTransaction()
	if err := tx.SetProperties(set); err != nil {
		return tbl, err
	}
	return tx.Commit(ctx)
}

// commitFiles makes the current snapshot of tbl hold exactly the data files want, as one
// snapshot with the summary properties props: an append when files are only added, a replace
// when they replace files with the same events (rewritten), a delete when files are only
// dropped (dropFilter), an overwrite otherwise, none when it
// holds them already. It returns the table as committed and how many files were added and
// removed.
func commitFiles(ctx context.Context, tbl *table.Table, want []string, props iceberggo.Properties) (_ *table.Table, added, removed int, err error) {
	return commitLocalFiles(ctx, tbl, want, props, nil, nil)
}

// commitLocalFiles is commitFiles where local names, by data file path, the local copy of a file
// (a published store's file, named by its S3 URI): its statistics are read from the local
// footer rather than through the table's file IO; and millis are the fields whose values the
// files hold in milliseconds (microBounds).
func commitLocalFiles(ctx context.Context, tbl *table.Table, want []string, props iceberggo.Properties, local map[string]string, millis map[int]bool) (_ *table.Table, added, removed int, err error) {
	var base *int64 // the snapshot the commit builds on
	if s := tbl.CurrentSnapshot(); s != nil {
		base = &s.SnapshotID
	}
	have, err := filePaths(ctx, tbl)
	if err != nil {
		return tbl, 0, 0, err
	}
	wanted := make(map[string]bool, len(want))
	var add, del []string
	for _, p := range want {
		wanted[p] = true
		if !have[p] {
			add = append(add, p)
		}
	}
	for p := range have {
		if !wanted[p] {
			del = append(del, p)
		}
	}
	if len(add) == 0 && len(del) == 0 {
		return tbl, 0, 0, nil
	}
	slices.Sort(del)
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return tbl, 0, 0, err
	}
	fsys = localFirst{IO: fsys, local: local}
	adds, err := dataFiles(ctx, fsys, tbl, add, millis)
	if err != nil {
		return tbl, 0, 0, err
	}
	tx := tbl.NewTransaction()
	var same []iceberggo.DataFile
	if len(del) > 0 && len(adds) > 0 {
		if same, err = rewritten(ctx, tbl, del, adds); err != nil {
			return tbl, 0, 0, err
		}
	}
	var drop iceberggo.BooleanExpression
	if len(adds) == 0 {
		if drop, err = dropFilter(ctx, tbl, del); err != nil {
			return tbl, 0, 0, err
		}
	}
	if drop != nil {
		// Files dropped and none added (a purge of whole days, the store's deletion): a
		// "delete", as Java Iceberg's DeleteFiles commits it, the files DELETED entries.
		// iceberg-go writes one only for a row filter, which drop selects exactly del by.
		if err = tx.Delete(ctx, drop, props); err == nil && !dropped(tx, len(del)) {
			tx, drop = tbl.NewTransaction(), nil // not what it planned: the overwrite below
		}
	}
	switch {
	case drop != nil:
	case len(del) == 0:
		err = tx.AddDataFiles(ctx, adds, props, table.WithoutDuplicateCheck())
	case same != nil:
		// The same events in new files: a "replace", which incremental readers skip.
		err = tx.NewRewrite(props).Apply(same, adds, nil).Commit(ctx)
	default:
		// The files to delete are named by path (the transaction finds them in the snapshot).
		dels := make([]iceberggo.DataFile, len(del))
		for i, p := range del {
			b, berr := iceberggo.NewDataFileBuilder(tbl.Spec(), iceberggo.EntryContentData, p, iceberggo.ParquetFile, nil, nil, nil, 0, 0)
			if berr != nil {
				return tbl, 0, 0, fmt.Errorf("data file %s: %w", p, berr)
			}
			dels[i] = b.Build()
		}
		err = tx.ReplaceDataFilesWithDataFiles(ctx, dels, adds, props)
	}
	if err != nil {
		return tbl, 0, 0, err
	}
	if tbl, err = tx.Commit(ctx); err != nil {
		return tbl, 0, 0, fmt.Errorf("commit: %w", err)
	}
	// The new snapshot holds exactly want unless the catalog made the commit replay on a
	// snapshot committed meanwhile (its parent is not the one planned from).
	if s := tbl.CurrentSnapshot(); s != nil && equalID(s.ParentSnapshotID, base) {
		rememberPaths(tbl, s.SnapshotID, wanted)
	}
	return tbl, len(add), len(del), nil
}

// dataFiles reads the Iceberg data file entries (statistics from each footer, ~100 columns'
// each) of paths, a file per core at a time: a commit adds a file per day and batch, and a
// catch-up (catalog set, a first sync, eds publish) every live file of the store. The bounds
// of the fields millis are made microseconds (microBounds).
func dataFiles(ctx context.Context, fsys iceio.IO, tbl *table.Table, paths []string, millis map[int]bool) ([]iceberggo.DataFile, error) {
	out := make([]iceberggo.DataFile, len(paths))
	errs := make([]error, len(paths))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(paths)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(paths); i = int(next.Add(1) - 1) {
				// Sort order 0: no claim on how the file is sorted, as AddFiles makes none.
				out[i], errs[i] = table.FileToDataFile(ctx, fsys, paths[i], tbl.Schema(), tbl.Spec(), 0, tbl.Properties())
				if errs[i] == nil && len(millis) > 0 {
					out[i], errs[i] = microBounds(out[i], tbl.Spec(), millis)
				}
				if errs[i] != nil {
					errs[i] = fmt.Errorf("data file %s: %w", paths[i], errs[i])
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first in paths' order, as one at a time found it
		}
	}
	return out, nil
}

// microBounds returns df with the bounds of the fields millis in microseconds: timestamps a
// Parquet file holds in milliseconds (TIMESTAMP(MILLIS): Spark's and parquet-mr's writers,
// DuckDB's TIMESTAMP_MS), whose footer bounds iceberg-go copies as they are, while the spec
// keeps a timestamp's bounds in microseconds — a thousand times too small, they made engines
// prune the file for any time after 1970.
func microBounds(df iceberggo.DataFile, spec iceberggo.PartitionSpec, millis map[int]bool) (iceberggo.DataFile, error) {
	lo, hi := df.LowerBoundValues(), df.UpperBoundValues()
	for _, bounds := range []map[int][]byte{lo, hi} {
		for id, b := range bounds {
			if millis[id] && len(b) == 8 {
				bounds[id] = binary.LittleEndian.AppendUint64(nil, uint64(int64(binary.LittleEndian.Uint64(b))*1000))
			}
		}
	}
	b, err := iceberggo.NewDataFileBuilder(spec, df.ContentType(), df.FilePath(), df.FileFormat(), df.Partition(), nil, nil, df.Count(), df.FileSizeBytes())
	if err != nil {
		return nil, err
	}
	b.ColumnSizes(df.ColumnSizes()).ValueCounts(df.ValueCounts()).NullValueCounts(df.NullValueCounts()).
		NaNValueCounts(df.NaNValueCounts()).DistinctValueCounts(df.DistinctValueCounts()).
		LowerBoundValues(lo).UpperBoundValues(hi).SplitOffsets(df.SplitOffsets())
	if k := df.KeyMetadata(); k != nil {
		b.KeyMetadata(k)
	}
	if id := df.SortOrderID(); id != nil {
		b.SortOrderID(*id)
	}
	return b.Build(), nil
}

// rewritten returns the data files of tbl's current snapshot at the paths del when adds hold
// the same events as they do, as far as their entries tell: in every partition (day) as many
// rows over the same span of its source column (eventtime); nil otherwise, or for a table
// without such a partition (a cost table). A store's commit that removes files either rewrites
// them (compaction, a day going cold, whole JSON: the same events) or purges, which leaves
// fewer events in every day it touches; and a sync that catches up several commits where a
// purge and an ingest left a day as many rows still changed its earliest time (the purge
// removed the earliest events; a later ingest adds none older than them, retention refuses).
func rewritten(ctx context.Context, tbl *table.Table, del []string, adds []iceberggo.DataFile) ([]iceberggo.DataFile, error) {
	src, ok := timeSource(tbl)
	if !ok {
		return nil, nil
	}
	type span struct {
		rows   int64
		lo, hi int64
	}
	summarize := func(files []iceberggo.DataFile) map[string]span {
		out := map[string]span{}
		for _, df := range files {
			lo, hi := df.LowerBoundValues()[src], df.UpperBoundValues()[src]
			if len(lo) != 8 || len(hi) != 8 {
				return nil
			}
			s, l, h := span{}, int64(binary.LittleEndian.Uint64(lo)), int64(binary.LittleEndian.Uint64(hi))
			key := fmt.Sprint(df.Partition())
			if c, ok := out[key]; ok {
				s, l, h = c, min(c.lo, l), max(c.hi, h)
			}
			out[key] = span{rows: s.rows + df.Count(), lo: l, hi: h}
		}
		return out
	}
	gone := make(map[string]bool, len(del))
	for _, p := range del {
		gone[p] = true
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, err
	}
	var old []iceberggo.DataFile
	for _, t := range tasks {
		if gone[t.File.FilePath()] {
			old = append(old, t.File)
		}
	}
	before, after := summarize(old), summarize(adds)
	if len(old) != len(del) || before == nil || after == nil || !maps.Equal(before, after) {
		return nil, nil
	}
	return old, nil
}

// timeSource is the field id of the timestamp column (eventtime) tbl is partitioned by, the
// one partition field of a store's table; false for a table without one (a cost table).
func timeSource(tbl *table.Table) (int, bool) {
	spec := tbl.Spec()
	if spec.NumFields() != 1 || len(spec.Field(0).SourceIDs) != 1 {
		return 0, false
	}
	src := spec.Field(0).SourceIDs[0]
	f, ok := tbl.Schema().FindFieldByID(src)
	return src, ok && (f.Type.Equals(iceberggo.PrimitiveTypes.Timestamp) || f.Type.Equals(iceberggo.PrimitiveTypes.TimestampTz))
}

// dropFilter is a row filter under which iceberg-go's Delete drops exactly the data files del
// of tbl's current snapshot whole, touching no other and rewriting none: true when del is
// every file, else ranges of the time column (timeSource) that hold every row of each file of
// del — bounds known, no nulls — and meet no other file's span; nil when the files' statistics
// cannot say so (the commit is then an overwrite).
func dropFilter(ctx context.Context, tbl *table.Table, del []string) (iceberggo.BooleanExpression, error) {
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, err
	}
	gone := make(map[string]bool, len(del))
	for _, p := range del {
		gone[p] = true
	}
	type span struct{ lo, hi int64 }
	var drop, keep []span
	src, ok := timeSource(tbl)
	for _, t := range tasks {
		if len(t.DeleteFiles)+len(t.EqualityDeleteFiles)+len(t.DeletionVectorFiles) > 0 {
			return nil, nil // rows deleted by delete files: not whole files
		}
		df := t.File
		lo, hi := df.LowerBoundValues()[src], df.UpperBoundValues()[src]
		known := ok && len(lo) == 8 && len(hi) == 8
		s := span{}
		if known {
			s = span{int64(binary.LittleEndian.Uint64(lo)), int64(binary.LittleEndian.Uint64(hi))}
		}
		if !gone[t.File.FilePath()] {
			if !known && df.Count() > 0 {
				ok = false
			}
			keep = append(keep, s)
			continue
		}
		if nulls, counted := df.NullValueCounts()[src]; !known || !counted || nulls != 0 || df.Count() <= 0 {
			ok = false
		}
		drop = append(drop, s)
	}
	if len(drop) != len(del) || len(tasks) == 0 {
		return nil, nil
	}
	if len(keep) == 0 {
		return iceberggo.AlwaysTrue{}, nil
	}
	if !ok {
		return nil, nil
	}
	meets := func(s span) bool {
		return slices.ContainsFunc(keep, func(k span) bool { return k.hi >= s.lo && k.lo <= s.hi })
	}
	// Adjacent spans of dropped files merge while no kept file lies in between (a purge
	// drops every day before a cutoff: one range).
	slices.SortFunc(drop, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	var ranges []span
	for _, s := range drop {
		if meets(s) {
			return nil, nil
		}
		if n := len(ranges); n > 0 {
			if m := (span{ranges[n-1].lo, max(ranges[n-1].hi, s.hi)}); !meets(m) {
				ranges[n-1] = m
				continue
			}
		}
		ranges = append(ranges, s)
	}
	col, _ := tbl.Schema().FindColumnName(src)
	var out iceberggo.BooleanExpression = iceberggo.AlwaysFalse{}
	for _, r := range ranges {
		in := iceberggo.NewAnd(iceberggo.GreaterThanEqual(iceberggo.Reference(col), iceberggo.Timestamp(r.lo)),
			iceberggo.LessThanEqual(iceberggo.Reference(col), iceberggo.Timestamp(r.hi)))
		out = iceberggo.NewOr(out, in)
	}
	return out, nil
}

// dropped says whether the snapshot tx stages deletes n data files and adds none: what
// dropFilter planned.
func dropped(tx *table.Transaction, n int) bool {
	st, err := tx.StagedTable()
	if err != nil || st.CurrentSnapshot() == nil || st.CurrentSnapshot().Summary == nil {
		return false
	}
	p := st.CurrentSnapshot().Summary.Properties
	return p["deleted-data-files"] == strconv.Itoa(n) && (p["added-data-files"] == "" || p["added-data-files"] == "0")
}

// planned keeps, by table, the data file paths of the last snapshot this process committed or
// planned: the next sync of a table whose current snapshot is still that one does not read
// every manifest again (PlanFiles reads one manifest per append, so a sync after each commit
// read a number of manifests that grew with the table's snapshots). A snapshot's files never
// change; a snapshot committed elsewhere has another id, and is planned.
var planned struct {
	sync.Mutex
	m map[string]plannedFiles
}

type plannedFiles struct {
	snapshot int64
	paths    map[string]bool
}

func equalID(a, b *int64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func plannedKey(tbl *table.Table) string {
	return strings.Join(tbl.Identifier(), ".") + " " + tbl.Location()
}

func rememberPaths(tbl *table.Table, snapshot int64, paths map[string]bool) {
	planned.Lock()
	defer planned.Unlock()
	if planned.m == nil {
		planned.m = map[string]plannedFiles{}
	}
	planned.m[plannedKey(tbl)] = plannedFiles{snapshot: snapshot, paths: paths}
}

// filePaths are the data file paths of the table's current snapshot (read-only: the map may be
// shared with later calls).
func filePaths(ctx context.Context, tbl *table.Table) (map[string]bool, error) {
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return map[string]bool{}, nil
	}
	planned.Lock()
	p, ok := planned.m[plannedKey(tbl)]
	planned.Unlock()
	if ok && p.snapshot == cur.SnapshotID {
		return p.paths, nil
	}
	out, err := Files(ctx, tbl)
	if err != nil {
		return nil, err
	}
	rememberPaths(tbl, cur.SnapshotID, out)
	return out, nil
}

// noDefaultLocation reports whether err is iceberg-go's refusal to create a table without a
// location in a catalog that has no default one (it has no sentinel error for it).
func noDefaultLocation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no default path set")
}

// FileURI is how a table names a local file: a file:// URI, its path percent-encoded
// (escapePath) as iceberg-go decodes every path it opens, so that a space, "#", "?", "%" or a
// letter outside ASCII in the data directory's path names the file and no other.
func FileURI(abs string) string { return "file://" + escapePath(filepath.ToSlash(abs)) }

// escapePath percent-encodes every byte of the slash-separated path p that a URI's path does not
// hold as it is (RFC 3986: unreserved characters, sub-delims, ":", "@" and "/" stay), so a path
// of those alone is named as earlier versions named it.
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// LocalPath is the local path a file:// URI (a table's location, a data file) names, decoded as
// iceberg-go decodes it; false for any other URI.
func LocalPath(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, "file://")
	if !ok {
		return "", false
	}
	if u, err := url.Parse(uri); err == nil && u.Host == "" {
		rest = u.Path
	}
	return filepath.FromSlash(rest), true
}

// Files are the data files of the table's current snapshot.
// They are read from the table's manifests (not from what this process remembers).
func Files(ctx context.Context, tbl *table.Table) (map[string]bool, error) {
	out := map[string]bool{}
	if tbl.CurrentSnapshot() == nil {
		return out, nil
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tasks {
		out[t.File.FilePath()] = true
	}
	return out, nil
}

// localFirst opens the files local names (data file path → local path) from the local disk,
// every other file through IO.
type localFirst struct {
	iceio.IO
	local map[string]string
}

func (l localFirst) Open(name string) (iceio.File, error) {
	if p, ok := l.local[name]; ok {
		return os.Open(p)
	}
	return l.IO.Open(name)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Hooks are the lake hooks that keep every store's table in cat following its manifest: a sync
// after each commit, an emptying snapshot before a store is deleted, and retired files kept for
// keep (the snapshot expiry window) so a query elsewhere on an older snapshot keeps its files;
// and the cost tables' tables following a query session's cost cache refresh (SyncCosts).
func Hooks(cat catalog.Catalog, lk *lake.Lake, keep time.Duration, onErr func(error)) *lake.Hooks {
	return &lake.Hooks{
		Committed: func(id string) error {
			st, err := lk.Resolve(id)
			if err != nil {
				return err
			}
			// The store's publication, decided once for the write session (uploadEarly
			// decides it at the session's first file).
			if _, _, err := sessionPublication(lk.Dir, id); err != nil {
				return err
			}
			_, err = Follow(context.Background(), cat, lk, st, keep)
			return err
		},
		Written: func(id, rel string) { uploadEarly(lk, id, rel) },
		Deleting: func(st lake.Store) error {
			if err := Empty(context.Background(), cat, lk, st); err != nil {
				return err
			}
			return Unpublish(context.Background(), lk, st)
		},
		KeepRetired: keep,
		OnError:     onErr,
		CostsChanged: func() error {
			_, err := SyncCosts(context.Background(), cat, lk.Dir)
			return err
		},
	}
}

// loadOwn loads table ident from cat. In the data directory dataDir's own catalog (the embedded
// SQL one), a table whose metadata is gone or lies outside dataDir is dropped from the catalog
// and reported as catalog.ErrNoSuchTable, so that it is made again from the store (the store is
// the truth): the data directory was moved (its catalog names the metadata files by their
// absolute paths, which are gone, and so are the data files they name: every commit's sync
// failed for good), or copied (its catalog names the original's files, and committing there
// would change the original's table). Its metadata files stay where they are.
func loadOwn(ctx context.Context, cat catalog.Catalog, ident table.Identifier, dataDir string) (*table.Table, error) {
	tbl, err := cat.LoadTable(ctx, ident)
	if cat.CatalogType() != catalog.SQL {
		return tbl, err
	}
	var local string
	isLocal := false
	if err == nil {
		local, isLocal = LocalPath(tbl.Location())
	}
	switch {
	case err != nil && errors.Is(err, os.ErrNotExist):
	case isLocal && !within(local, dataDir):
	default:
		return tbl, err
	}
	if err := cat.DropTable(ctx, ident); err != nil && !errors.Is(err, catalog.ErrNoSuchTable) {
		return nil, fmt.Errorf("drop the table whose metadata is not in this data directory: %w", err)
	}
	return nil, catalog.ErrNoSuchTable
}

// Empty commits a snapshot without files to the table of store st of lk (its store is being
// deleted); a table a rename of the store left under its former name is dropped (dropRenamed).
func Empty(ctx context.Context, cat catalog.Catalog, lk *lake.Lake, st lake.Store) error {
	ident := catalog.ToIdentifier(Namespace, TableName(st.Name))
	tbl, err := loadOwn(ctx, cat, ident, lk.Dir)
	if errors.Is(err, catalog.ErrNoSuchTable) {
		return dropRenamed(ctx, cat, lk, st)
	}
	if err != nil {
		return err
	}
	if owner := tbl.Properties()["auditlake.store-id"]; owner != "" && owner != st.ID {
		return nil // another store's table (owner.go): not this store's to empty
	}
	if _, _, _, err := commitFiles(ctx, tbl, nil, iceberggo.Properties{"auditlake.store-id": st.ID, "auditlake.deleted": "true"}); err != nil {
		return fmt.Errorf("iceberg table %s.%s: %w", Namespace, TableName(st.Name), err)
	}
	return nil
}

// Expire forgets the snapshots of store st's table older than keep (the current one always
// stays), so metadata does not grow without bound; the lake deletes the files they alone named
// when keep has passed (lake.Hooks.KeepRetired), so the table never deletes data files itself.
// Without a window (keep 0) only MaxSnapshots bounds the snapshots.
func Expire(ctx context.Context, cat catalog.Catalog, st lake.Store, keep time.Duration) error {
	if keep <= 0 {
		keep = math.MaxInt64
	}
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier(Namespace, TableName(st.Name)))
	if errors.Is(err, catalog.ErrNoSuchTable) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = expireSnapshots(ctx, tbl, keep, Namespace+"."+TableName(st.Name))
	return err
}

// expireSnapshots forgets the snapshots of tbl (named name) older than keep, the current one
// always kept; expired says whether there were any.
func expireSnapshots(ctx context.Context, tbl *table.Table, keep time.Duration, name string) (expired bool, err error) {
	keep = min(keep, countWindow(tbl.Metadata().Snapshots(), time.Now()))
	cur := tbl.CurrentSnapshot()
	for _, s := range tbl.Metadata().Snapshots() {
		if (cur == nil || s.SnapshotID != cur.SnapshotID) && time.Since(time.UnixMilli(s.TimestampMs)) > keep {
			expired = true
			break
		}
	}
	if !expired {
		return false, nil
	}
	tx := tbl.NewTransaction()
	if err := tx.ExpireSnapshots(table.WithOlderThan(keep), table.WithRetainLast(1), table.WithPostCommit(false)); err != nil {
		return false, fmt.Errorf("iceberg table %s: expire snapshots: %w", name, err)
	}
	after, err := tx.Commit(ctx)
	if err != nil {
		return false, err
	}
	if err := deleteExpiredMetadata(ctx, tbl, after); err != nil {
		return true, fmt.Errorf("iceberg table %s: snapshots expired, their metadata files not all deleted: %w", name, err)
	}
	return true, nil
}

// MaxSnapshots bounds how many snapshots a table keeps, whatever the keep window: every
// snapshot is in the table's metadata file, which each commit writes whole (and uploads, for a
// published store) and each load parses — ~1.6 KB a snapshot, so a day of a commit every 2 s
// (collect with a queue) would make it ~70 MB. Past MaxSnapshots+snapshotSlack snapshots the
// oldest are expired down to MaxSnapshots (the slack makes that one expiry every
// snapshotSlack commits, not one each). Data files are not affected: the lake and the
// publication delete a retired file only when the keep window has passed since it left the
// store (KeepRetired, collect), so a query planned on an expired snapshot keeps its files.
var (
	MaxSnapshots  = 500
	snapshotSlack = 50
)

// countWindow is the age past which a table of snapshots snaps has more than MaxSnapshots
// newer ones, as an expiry window at now; a longer one than any keep window when the table has
// at most MaxSnapshots+snapshotSlack.
func countWindow(snaps []table.Snapshot, now time.Time) time.Duration {
	if len(snaps) <= MaxSnapshots+snapshotSlack {
		return math.MaxInt64
	}
	ts := make([]int64, len(snaps))
	for i, s := range snaps {
		ts[i] = s.TimestampMs
	}
	slices.Sort(ts)
	slices.Reverse(ts)
	oldest, next := ts[MaxSnapshots-1], ts[MaxSnapshots] // the oldest kept, the newest expired
	// Expiry measures ages from its own (later) now: half the gap to the next older snapshot
	// keeps the oldest kept one in.
	margin := min(time.Duration(oldest-next)*time.Millisecond/2, time.Minute)
	return now.Sub(time.UnixMilli(oldest)) + margin
}

// deleteExpiredMetadata deletes the manifest lists and manifests that only the snapshots of
// before (the table as it was) that after (as committed) no longer has named. iceberg-go's own
// clean-up (WithPostCommit) would also delete the data files, which are the store's (the lake
// deletes them, KeepRetired) and none of the table's to delete; without it each expired
// snapshot left its manifest list and its new manifests (~16 KB) for good: 23 MB a day at a
// commit a minute.
//
// A snapshot's manifests are its parent's, some dropped, and the ones it wrote (new files), so
// the snapshots that name a manifest are a chain from the one that added it. An expired
// snapshot's manifest is still named by a kept snapshot only if it is named by a kept one
// whose parent is not kept (the chain enters the kept snapshots there) or was added by a kept
// one: those manifest lists are read, not every kept snapshot's (a day of snapshots at a
// commit a minute is 1,440). A snapshot another engine cherry-picked (published-wap-id,
// source-snapshot-id in its summary) may name the picked snapshot's manifests outside that
// chain: its list is read too. Only files under the table's metadata directory are deleted
// (the files auditlake's writer put there); a table with gc.enabled false keeps them all. An
// expired snapshot whose list cannot be read leaves its files (nothing names it any more).
func deleteExpiredMetadata(ctx context.Context, before, after *table.Table) error {
	if v, ok := after.Properties()[table.GCEnabledKey]; ok && !strings.EqualFold(v, "true") {
		return nil
	}
	kept := map[int64]bool{}
	for _, s := range after.Metadata().Snapshots() {
		kept[s.SnapshotID] = true
	}
	var expired []table.Snapshot
	for _, s := range before.Metadata().Snapshots() {
		if !kept[s.SnapshotID] {
			expired = append(expired, s)
		}
	}
	if len(expired) == 0 {
		return nil
	}
	fsys, err := before.FS(ctx)
	if err != nil {
		return err
	}
	named := map[string]bool{} // manifests and manifest lists a kept snapshot names
	for _, s := range after.Metadata().Snapshots() {
		named[s.ManifestList] = true
		if s.ParentSnapshotID != nil && kept[*s.ParentSnapshotID] && !picked(s) {
			continue
		}
		if err := nameManifests(fsys, s, named); err != nil {
			return err
		}
	}
	dir := strings.TrimSuffix(after.Location(), "/") + "/metadata/"
	var errs []error
	remove := func(p string) {
		if named[p] || !strings.HasPrefix(p, dir) {
			return
		}
		named[p] = true // once
		if err := fsys.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, s := range expired {
		ms, err := s.Manifests(fsys)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("snapshot %d: %w", s.SnapshotID, err))
			}
			continue
		}
		for _, m := range ms {
			if !kept[m.SnapshotID()] {
				remove(m.FilePath())
			}
		}
		remove(s.ManifestList)
	}
	return errors.Join(errs...)
}

// nameManifests adds the paths of snapshot s's manifests (read from its manifest list) to named.
func nameManifests(fsys iceio.IO, s table.Snapshot, named map[string]bool) error {
	ms, err := s.Manifests(fsys)
	if err != nil {
		return fmt.Errorf("snapshot %d: %w", s.SnapshotID, err)
	}
	for _, m := range ms {
		named[m.FilePath()] = true
	}
	return nil
}

// picked says whether snapshot s was cherry-picked from another (Iceberg's summary properties
// of a cherry-pick).
func picked(s table.Snapshot) bool {
	if s.Summary == nil {
		return false
	}
	p := s.Summary.Properties
	return p["published-wap-id"] != "" || p["source-snapshot-id"] != ""
}
