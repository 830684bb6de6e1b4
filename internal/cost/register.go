package cost

import (
	"archive/zip"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/objstore"
)

// RegisterOptions says what to register and how to reach it.
type RegisterOptions struct {
	// Name is "DATABASE.TABLE".
	Name string
	// Source is a local file or directory, or s3://bucket/prefix.
	Source string
	// Format overrides detection when not FormatAuto.
	Format Format
	// S3 selects credentials, region and endpoint for S3 sources.
	S3 objstore.Options
	// Log receives progress; nil discards it.
	Log *slog.Logger
}

// Summary reports a registration.
type Summary struct {
	Table Table
	// Downloaded and Reused count S3 objects fetched into the cache and found there unchanged.
	Downloaded, Reused int
	// Warnings are doubts that did not stop the registration (files sharing some line items).
	Warnings []string
}

// Columns lists the view's columns with their types.
func (t Table) Columns() []engine.Column {
	var out []engine.Column
	cols := outputColumns(t.Format, t.RawColumns)
	for _, c := range cols {
		out = append(out, engine.Column{Name: c.Name, Type: c.Type})
	}
	for _, c := range partitionColumns(t, cols) {
		if !c.Fill {
			out = append(out, engine.Column{Name: c.Name, Type: c.Type})
		}
	}
	return out
}

// RegisterSource resolves opts.Source to the files that count, checks them, measures them and
// records the table (replacing an earlier registration of the same name). Nothing is recorded
// unless every file is readable as the detected format.
func RegisterSource(ctx context.Context, dataDir string, opts RegisterOptions) (Summary, error) {
	var sum Summary
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	database, table, err := SplitName(opts.Name)
	if err != nil {
		return sum, err
	}
	if opts.Format == "" {
		opts.Format = FormatAuto
	}
	dataDir, err = filepath.Abs(dataDir)
	if err != nil {
		return sum, fmt.Errorf("resolve data dir %q: %w", dataDir, err)
	}
	// Held shared until the registry names the files fetched into the cache (see pruneCache).
	unlockCache, err := atomicfile.Lock(cacheLock(dataDir), syscall.LOCK_SH)
	if err != nil {
		return sum, err
	}
	defer func() { unlockCache() }()
	client := objstore.New(opts.S3)
	var objs []objstore.Object
	if err := client.Walk(ctx, opts.Source, func(o objstore.Object) error { objs = append(objs, o); return nil }); err != nil {
		return sum, err
	}
	cands, hive, skipped, err := resolveLayout(ctx, client, objs)
	if err != nil {
		return sum, err
	}
	if len(cands) == 0 {
		return sum, fmt.Errorf("no cost files (.csv, .csv.gz, .csv.zip, .parquet) under %q", opts.Source)
	}

	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "512MB", Threads: 2})
	if err != nil {
		return sum, err
	}
	defer db.Close()

	t := Table{Database: database, Table: table, Source: opts.Source, RegisteredAt: time.Now().UTC().Truncate(time.Second),
		Hive: hive, Endpoint: opts.S3.EndpointURL, Region: opts.S3.Region, Profile: opts.S3.Profile, Skipped: skipped}
	headers := make([][]string, len(cands))
	detected := Format("")
	for i, c := range cands {
		local, fetched, err := materialise(ctx, client, dataDir, c.obj)
		if err != nil {
			return sum, err
		}
		if objstore.IsS3(c.obj.URI) {
			if fetched {
				sum.Downloaded++
			} else {
				sum.Reused++
			}
		}
		f := File{URI: c.obj.URI, Version: c.obj.Version(), Local: local, Kind: dataKind(c.obj.Key), Period: c.period}
		if i > 0 && f.Kind != t.Files[0].Kind {
			return sum, fmt.Errorf("source %q mixes CSV and Parquet files (%q, %q); register them as separate tables", opts.Source, t.Files[0].URI, f.URI)
		}
		var cols []string
		if f.Kind == "csv" {
			cols, err = csvHeader(local)
		} else {
			cols, err = parquetColumns(ctx, db, local, hive)
		}
		if err != nil {
			return sum, fmt.Errorf("read header of %q: %w", c.obj.URI, err)
		}
		ff := detectFormat(cols, f.Kind)
		if ff == "" {
			return sum, fmt.Errorf("%q is not a CUR or FOCUS file: its header (%s) has none of lineItem/…, line_item_…, BilledCost", c.obj.URI, firstN(cols, 5))
		}
		if detected == "" {
			detected = ff
		} else if ff != detected && opts.Format == FormatAuto {
			return sum, fmt.Errorf("%q looks like %s but earlier files look like %s; register them as separate tables or pass --format", c.obj.URI, ff, detected)
		}
		headers[i] = cols
		sum.Warnings = append(sum.Warnings, repeatedColumns(c.obj.URI, cols)...)
		t.Files = append(t.Files, f)
	}
	t.Format = detected
	if opts.Format != FormatAuto {
		t.Format = opts.Format
	}
	if (t.Format == FormatCUR1Parquet && t.Files[0].Kind != "parquet") || (t.Format == FormatCUR1CSV && t.Files[0].Kind != "csv") {
		return sum, fmt.Errorf("format %s does not match %s files under %q", t.Format, t.Files[0].Kind, opts.Source)
	}

	// Count every file on its own, so that an unreadable file (a ragged CSV row) is named, and
	// with the same scan check that its values parse (parseCheck).
	checks := make([]*parseCheck, len(t.Files))
	for i := range t.Files {
		one := t
		one.Files = t.Files[i : i+1]
		from := readerSQL(one, []string{t.Files[i].Local})
		isCSV := t.Files[i].Kind == "csv"
		var rawTypes map[string]string
		if !isCSV {
			cols, err := db.Describe(ctx, "SELECT * FROM "+from)
			if err != nil {
				return sum, fmt.Errorf("read %q: %w", t.Files[i].URI, err)
			}
			rawTypes = map[string]string{}
			for _, c := range cols {
				rawTypes[c.Name] = c.Type
			}
		}
		pc := newParseCheck(outputColumns(t.Format, headers[i]), isCSV, rawTypes, from)
		checks[i] = pc
		dest := []any{&t.Files[i].Rows}
		for j := range pc.n {
			dest = append(dest, &pc.n[j])
		}
		if err := db.QueryRow(ctx, pc.scanSQL()).Scan(dest...); err != nil {
			// DuckDB's sniffer can fail on a ragged row without saying where; name the line.
			if t.Files[i].Kind == "csv" {
				if line, fields, lerr := firstLongRow(t.Files[i].Local, len(headers[i])); lerr == nil {
					return sum, fmt.Errorf("read %q: CSV error on line %d: %d fields, the header has %d", t.Files[i].URI, line, fields, len(headers[i]))
				}
			}
			return sum, fmt.Errorf("read %q: %w", t.Files[i].URI, err)
		}
		if t.Files[i].Kind == "csv" {
			if err := checkWidth(ctx, db, t.Files[i], len(headers[i])); err != nil {
				return sum, err
			}
		}
	}
	keep, copies, warnings, err := dedupeCopies(ctx, db, t, headers, cands)
	if err != nil {
		return sum, err
	}
	t.Skipped = append(t.Skipped, copies...)
	for _, w := range sum.Warnings {
		log.Warn("cost file header", "table", t.Name(), "detail", w)
	}
	sum.Warnings = append(sum.Warnings, warnings...)
	files := t.Files
	t.Files = nil
	seen := map[string]bool{}
	for _, i := range keep {
		t.Files = append(t.Files, files[i])
		t.Rows += files[i].Rows
		for _, col := range headers[i] {
			if !seen[col] {
				seen[col] = true
				t.RawColumns = append(t.RawColumns, col)
			}
		}
	}
	for _, w := range warnings {
		log.Warn("cost files overlap", "table", t.Name(), "detail", w)
	}
	if t.Files[0].Kind == "csv" {
		for j, i := range keep {
			p, err := convert(ctx, db, dataDir, t, t.Files[j], headers[i])
			if err != nil {
				return sum, err
			}
			t.Files[j].Cache = p
		}
		t.CSVCache = true
	}
	for j, i := range keep {
		ws, err := unparsedValues(ctx, db, t.Files[j], checks[i])
		if err != nil {
			return sum, err
		}
		for _, w := range ws {
			log.Warn("cost values do not parse", "table", t.Name(), "detail", w)
		}
		sum.Warnings = append(sum.Warnings, ws...)
	}
	if err := createView(ctx, db, t); err != nil {
		return sum, err
	}
	t.Periods, err = periods(ctx, db, t)
	if err != nil {
		return sum, err
	}
	// A billing period after next month is a typing or clock error in the data (AWS delivers
	// the current month's estimate, not later ones): said, not refused.
	next := time.Now().UTC().AddDate(0, 1, 0).Format("2006-01")
	for _, p := range t.Periods {
		if p > next {
			w := fmt.Sprintf("%s: billing period %s is in the future", opts.Source, p)
			log.Warn("cost period", "table", t.Name(), "detail", w)
			sum.Warnings = append(sum.Warnings, w)
		}
	}
	log.Debug("cost table resolved", "table", t.Name(), "format", t.Format, "files", len(t.Files), "rows", t.Rows)

	err = updateRegistry(dataDir, func(r *registryFile) error {
		kept := r.Tables[:0]
		for _, old := range r.Tables {
			if old.Database != t.Database || old.Table != t.Table {
				kept = append(kept, old)
			}
		}
		r.Tables = append(kept, t)
		return nil
	})
	if err != nil {
		return sum, err
	}
	unlockCache()
	pruneCache(dataDir)
	sum.Table = t
	return sum, nil
}

// unparsedValues are the warnings of file f, one per column of pc with values that do not
// parse, with their count and one of them; f is converted to the cache already, if CSV.
func unparsedValues(ctx context.Context, db *engine.DB, f File, pc *parseCheck) ([]string, error) {
	bad := slices.Clone(pc.n)
	if slices.Contains(pc.viaStats, true) {
		rows, err := db.Query(ctx, nullsSQL(f.Cache))
		if err != nil {
			return nil, fmt.Errorf("read the statistics of %q: %w", f.Cache, err)
		}
		nulls := map[string]sql.NullInt64{}
		for rows.Next() {
			var col string
			var n sql.NullInt64
			if err := rows.Scan(&col, &n); err != nil {
				rows.Close()
				return nil, err
			}
			nulls[col] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for i, c := range pc.cols {
			if pc.viaStats[i] {
				n, ok := nulls[c.Name]
				if !ok || !n.Valid {
					bad[i] = 0 // no statistics: not known
					continue
				}
				bad[i] = pc.n[i] - (f.Rows - n.Int64)
			}
		}
	}
	var out []string
	for i, c := range pc.cols {
		if bad[i] <= 0 {
			continue
		}
		var example sql.NullString
		if err := db.QueryRow(ctx, pc.exampleSQL(i)).Scan(&example); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("read %q: %w", f.URI, err)
		}
		out = append(out, fmt.Sprintf("%s: column %s has %d %s that %s not %s (e.g. %s) and %s as NULL",
			f.URI, c.Name, bad[i], plural(bad[i], "value", "values"), plural(bad[i], "is", "are"), typeWord(c.Type), oneLine(example.String, 40), plural(bad[i], "reads", "read")))
	}
	return out, nil
}

// repeatedColumns are the warnings of a header (of the file at uri) that names a column more
// than once (names differing only in case are one column to the SQL engine): only the first
// is read.
func repeatedColumns(uri string, cols []string) []string {
	var out []string
	seen := map[string]int{}
	for _, c := range cols {
		seen[strings.ToLower(c)]++
	}
	for _, c := range cols {
		if n := seen[strings.ToLower(c)]; n > 1 {
			out = append(out, fmt.Sprintf("%s: the header names column %s %d times; only the first is read", uri, strconv.Quote(c), n))
			seen[strings.ToLower(c)] = 0
		}
	}
	return out
}

// plural is one when n is 1, else many.
func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// typeWord names a view column type for a user.
func typeWord(typ string) string {
	switch typ {
	case typeTimestamp:
		return "a timestamp"
	case typeMapString:
		return "a JSON object"
	case typeMapDouble:
		return "a JSON object of numbers"
	}
	return "a number"
}

// oneLine is s quoted, on one line and cut to about n characters.
func oneLine(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strconv.Quote(s)
}

// periods lists the billing periods in the data, falling back to the layout's.
func periods(ctx context.Context, db *engine.DB, t Table) ([]string, error) {
	col := ""
	for _, c := range t.Columns() {
		if strings.EqualFold(c.Name, "bill_billing_period_start_date") || strings.EqualFold(c.Name, "BillingPeriodStart") {
			col = c.Name
		}
	}
	set := map[string]bool{}
	if col != "" {
		rows, err := db.Query(ctx, "SELECT DISTINCT strftime("+engine.Ident(col)+", '%Y-%m') FROM "+engine.Ident(t.Database)+"."+engine.Ident(t.Table)+" WHERE "+engine.Ident(col)+" IS NOT NULL")
		if err != nil {
			return nil, fmt.Errorf("read billing periods of %s: %w", t.Name(), err)
		}
		defer rows.Close()
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				return nil, err
			}
			set[p] = true
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read billing periods of %s: %w", t.Name(), err)
		}
	}
	for _, f := range t.Files {
		if f.Period != "" {
			set[f.Period] = true
		}
	}
	out := sortedKeys(set)
	if out == nil {
		out = []string{}
	}
	return out, nil
}

func firstN(cols []string, n int) string {
	if len(cols) > n {
		return strings.Join(cols[:n], ", ") + ", …"
	}
	return strings.Join(cols, ", ")
}

var reSnakeCUR = regexp.MustCompile(`^(identity_line_item_id|line_item_[a-z_]+)$`)

// detectFormat names the format a header belongs to, or "" when it is not a cost file.
func detectFormat(cols []string, kind string) Format {
	has := map[string]bool{}
	slash, snake := false, false
	for _, c := range cols {
		has[strings.ToLower(c)] = true
		if strings.HasPrefix(c, "lineItem/") || strings.HasPrefix(c, "identity/") {
			slash = true
		}
		if reSnakeCUR.MatchString(c) {
			snake = true
		}
	}
	switch {
	case has["billedcost"] && (has["chargeperiodstart"] || has["effectivecost"]):
		return FormatFOCUS
	case slash:
		return FormatCUR1CSV
	case snake && (has["product"] || has["resource_tags"] || has["bill_payer_account_name"]):
		return FormatCUR2
	case snake && kind == "parquet":
		return FormatCUR1Parquet
	case snake:
		return FormatCUR1CSV
	}
	return ""
}

// csvHeader reads the first record of a CSV file (gzip-compressed when named .gz).
func csvHeader(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(strings.ToLower(p), ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer gz.Close()
		r = gz
	}
	return readCSVHeader(r)
}

// readCSVHeader reads the first CSV record of r, without a leading byte-order mark.
func readCSVHeader(r io.Reader) ([]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	rec, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file")
	}
	if err != nil {
		return nil, err
	}
	if len(rec) > 0 {
		rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
	}
	return rec, nil
}

func parquetColumns(ctx context.Context, db *engine.DB, p string, hive bool) ([]string, error) {
	cols, err := db.Describe(ctx, fmt.Sprintf("SELECT * FROM read_parquet(%s, hive_partitioning = %t, hive_types_autocast = false)", engine.Literal(p), hive))
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out, err
}

var reUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// materialise returns a local path DuckDB can read for o: the file itself when it is local and
// not zipped; otherwise a copy in the cache named after the object's version, fetched (and
// unzipped) only when no copy of that version is there. fetched reports a download or unzip.
func materialise(ctx context.Context, c *objstore.Client, dataDir string, o objstore.Object) (local string, fetched bool, err error) {
	zipped := strings.HasSuffix(strings.ToLower(o.Key), ".zip")
	if !objstore.IsS3(o.URI) && !zipped {
		abs, err := filepath.Abs(o.URI)
		return abs, false, err
	}
	base := path.Base(o.Key)
	if zipped {
		base = strings.TrimSuffix(base, path.Ext(base))
	}
	dir := CacheDir(dataDir)
	local = filepath.Join(dir, reUnsafe.ReplaceAllString(o.Version(), "_")+"-"+reUnsafe.ReplaceAllString(base, "_"))
	if _, err := os.Stat(local); err == nil {
		return local, false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("create cache dir %q: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".fetch-*")
	if err != nil {
		return "", false, fmt.Errorf("create cache file in %q: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	r, err := c.Open(ctx, o.URI)
	if err != nil {
		tmp.Close()
		return "", false, err
	}
	_, err = io.Copy(tmp, r)
	r.Close()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", false, fmt.Errorf("download %q: %w", o.URI, err)
	}
	src := tmp.Name()
	if zipped {
		out, err := unzipCSV(src, dir)
		if err != nil {
			return "", false, fmt.Errorf("unzip %q: %w", o.URI, err)
		}
		defer os.Remove(out)
		src = out
	}
	if err := os.Rename(src, local); err != nil {
		return "", false, fmt.Errorf("store %q in cache: %w", o.URI, err)
	}
	return local, true, nil
}

// unzipCSV extracts the one CSV file of a CUR .csv.zip into a temporary file in dir.
func unzipCSV(src, dir string) (string, error) {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return "", err
	}
	defer zr.Close()
	var entries []*zip.File
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			entries = append(entries, f)
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	if len(entries) != 1 {
		return "", fmt.Errorf("want one file in the archive, found %d", len(entries))
	}
	in, err := entries[0].Open()
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, ".unzip-*")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(out.Name())
		return "", err
	}
	if err := out.Close(); err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

// checkWidth refuses a CSV file with a row longer than its header. DuckDB's padding reader
// widens the table instead of failing, so the width is compared and the strict reader, whose
// error names the line, is run to say where.
func checkWidth(ctx context.Context, db *engine.DB, f File, header int) error {
	rows, err := db.Query(ctx, "DESCRIBE SELECT * FROM "+csvFrom([]string{f.Local}, true))
	if err != nil {
		// The sniffer can fail on a ragged row without saying where; name the line.
		if line, fields, lerr := firstLongRow(f.Local, header); lerr == nil {
			return fmt.Errorf("read %q: CSV error on line %d: %d fields, the header has %d", f.URI, line, fields, header)
		}
		return fmt.Errorf("read %q: %w", f.URI, err)
	}
	var names []string
	for rows.Next() {
		var name string
		var rest [5]any
		if err := rows.Scan(&name, &rest[0], &rest[1], &rest[2], &rest[3], &rest[4]); err == nil {
			names = append(names, name)
		}
	}
	rows.Close()
	if len(names) <= header {
		return nil
	}
	line, fields, err := firstLongRow(f.Local, header)
	if err != nil {
		// No record is longer than the header: the reader added columns of its own.
		return fmt.Errorf("read %q: the CSV reader finds %d columns, the header has %d (extra: %s)", f.URI, len(names), header, firstN(names[header:], 5))
	}
	return fmt.Errorf("read %q: CSV error on line %d: %d fields, the header has %d", f.URI, line, fields, header)
}

// firstLongRow finds the first record with more than header fields; it runs only on the error
// path, so reading the whole file again in Go is acceptable.
func firstLongRow(p string, header int) (line, fields int, err error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(strings.ToLower(p), ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return 0, 0, err
		}
		defer gz.Close()
		r = gz
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return 0, 0, errors.New("a row has more fields than the header")
		}
		if err != nil {
			return 0, 0, err
		}
		if len(rec) > header {
			l, _ := cr.FieldPos(0)
			return l, len(rec), nil
		}
	}
}
