package cost

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/auditlake/auditlake/internal/engine"
)

// Register creates, in db, schema "DATABASE" and view "DATABASE"."TABLE" for every registered
// table, and allows the engine to read their files once it is sealed. internal/query calls it
// before sealing the engine. A table whose files are gone makes the query that reads it fail,
// not the session.
func Register(ctx context.Context, db *engine.DB, dataDir string) error {
	return RegisterFollowed(ctx, db, dataDir, nil)
}

// RegisterFollowed is Register that calls changed, when it is set, after the cache refresh
// changed the registry (a changed CSV file converted again, a removed one dropped) and before
// the cached files no table names any more are deleted: the Iceberg tables of the cost tables
// follow in the same step, while their files are still there. changed reports its own errors.
func RegisterFollowed(ctx context.Context, db *engine.DB, dataDir string, changed func()) error {
	tables, err := Tables(dataDir)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("resolve data dir %q: %w", dataDir, err)
	}
	var outside []string
	refreshed := 0
	for _, t := range tables {
		if stale(t) {
			fresh, err := refresh(ctx, db, abs, t)
			if err == nil {
				err = createView(ctx, db, fresh)
			}
			if err == nil {
				fresh.Periods, err = periods(ctx, db, fresh)
			}
			if err == nil {
				err = replaceTable(abs, t, fresh)
			}
			if err == nil {
				refreshed++
				continue
			}
			// Not refreshed (a changed file that no longer reads, say): the view reads the
			// files themselves, and a query that reads the table fails as it would have.
			t.Files = withoutCache(t.Files)
		}
		if err := createView(ctx, db, t); err != nil {
			return err
		}
		for _, f := range t.Files {
			if !strings.HasPrefix(f.Local, abs+string(filepath.Separator)) {
				outside = append(outside, f.Local)
			}
		}
	}
	if refreshed > 0 {
		if changed != nil {
			changed()
		}
		pruneCache(abs)
	}
	if len(outside) > 0 {
		if err := db.AllowPaths(ctx, outside); err != nil {
			return fmt.Errorf("allow cost files: %w", err)
		}
	}
	return nil
}

func createView(ctx context.Context, db *engine.DB, t Table) error {
	var q string
	if t.cached() {
		q = cachedViewSQL(t)
	} else {
		var err error
		if q, err = viewSQL(t, localPaths(t.Files)); err != nil {
			return err
		}
	}
	if err := db.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+engine.Ident(t.Database)); err != nil {
		return fmt.Errorf("register cost table %s: %w", t.Name(), err)
	}
	if err := db.Exec(ctx, "CREATE OR REPLACE VIEW "+engine.Ident(t.Database)+"."+engine.Ident(t.Table)+" AS "+q); err != nil {
		return fmt.Errorf("register cost table %s: %w", t.Name(), err)
	}
	return nil
}

func localPaths(files []File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Local
	}
	return out
}

// outputColumn is one column of a view: its name, its type and the raw columns it merges, or,
// for a partition column, the expression that derives it from the other columns (Fill: the files
// have the column, and the expression fills its empty cells).
type outputColumn struct {
	Name string
	Type string
	Raw  []string
	Expr string
	Fill bool
}

// partitionColumns are the columns Athena's integrations add from the object keys and that
// published cost queries filter on: year and month for CUR 1.0 (strings without zero padding,
// year = '2026' AND month = '3'), billing_period for CUR 2.0 and FOCUS Data Exports
// ('2026-03'). They are derived from the billing period start, or, for a table without that
// column whose files all sit in one billing period of the layout, from that period. Where the
// files already have the column (Athena Parquet's year=/month= partitions, CSV exported from
// Athena), it is kept and only its empty cells are filled.
func partitionColumns(t Table, cols []outputColumn) []outputColumn {
	have := map[string]bool{}
	start := ""
	for _, c := range cols {
		l := strings.ToLower(c.Name)
		have[l] = true
		if l == "bill_billing_period_start_date" || l == "billingperiodstart" {
			start = c.Name
		}
	}
	period := ""
	for i, f := range t.Files {
		if i == 0 || f.Period == period {
			period = f.Period
			continue
		}
		period = ""
		break
	}
	derive := func(fromStart, fromPeriod string) string {
		x := "CAST(NULL AS VARCHAR)"
		if start != "" {
			x = strings.ReplaceAll(fromStart, "$", engine.Ident(start))
		}
		if period != "" {
			x = "COALESCE(" + x + ", " + engine.Literal(fromPeriod) + ")"
		}
		return x
	}
	var out []outputColumn
	add := func(name, expr string) {
		out = append(out, outputColumn{Name: name, Type: typeVarchar, Expr: expr, Fill: have[name]})
	}
	switch t.Format {
	case FormatCUR1CSV, FormatCUR1Parquet:
		y, m := "", ""
		if len(period) == 7 {
			y, m = period[:4], strings.TrimPrefix(period[5:], "0")
		}
		add("year", derive("CAST(year($) AS VARCHAR)", y))
		add("month", derive("CAST(month($) AS VARCHAR)", m))
	case FormatCUR2, FormatFOCUS:
		add("billing_period", derive("strftime($, '%Y-%m')", period))
	}
	return out
}

// outputColumns maps the raw column names of a table to the view's columns: CUR names are
// normalised to the Athena form and columns that collide are merged; FOCUS names are kept.
func outputColumns(f Format, raw []string) []outputColumn {
	var out []outputColumn
	index := map[string]int{}
	for _, r := range raw {
		name := r
		if f != FormatFOCUS {
			name = AthenaName(r)
		}
		key := strings.ToLower(name)
		if i, ok := index[key]; ok {
			out[i].Raw = append(out[i].Raw, r)
			continue
		}
		index[key] = len(out)
		out = append(out, outputColumn{Name: name, Type: columnType(f, name), Raw: []string{r}})
	}
	return out
}

// viewSQL is the SELECT over the given files that renames and types t's columns.
func viewSQL(t Table, paths []string) (string, error) {
	if len(paths) == 0 {
		return "", fmt.Errorf("cost table %s has no files", t.Name())
	}
	cols := outputColumns(t.Format, t.RawColumns)
	return withPartitions(t, cols, typedSelect(cols, t.Files[0].Kind == "csv", nil, readerSQL(t, paths))), nil
}

// readerSQL is the table function that reads paths, files of t, with their raw columns.
func readerSQL(t Table, paths []string) string {
	if t.Files[0].Kind == "csv" {
		return csvFrom(paths, true)
	}
	return fmt.Sprintf("read_parquet(%s, union_by_name = true, hive_partitioning = %t, hive_types_autocast = false)", engine.ListLiteral(paths), t.Hive)
}

// typedSelect is the SELECT over from (a CSV or Parquet reader) that renames and types cols.
// have, when not nil, holds the raw columns from has: the others read as typed NULLs (a CSV
// file without some of its table's columns, converted on its own).
func typedSelect(cols []outputColumn, csv bool, have map[string]bool, from string) string {
	var sel []string
	for _, c := range cols {
		_, typed := columnExprs(c, csv, have)
		sel = append(sel, typed+" AS "+engine.Ident(c.Name))
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + from
}

// columnExprs are output column c's value as read (raw: "" when the file has none of its raw
// columns) and as typed; typed is NULL where raw is not NULL only when raw did not parse as
// c's type.
func columnExprs(c outputColumn, csv bool, have map[string]bool) (raw, typed string) {
	var cols []string
	for _, r := range c.Raw {
		if have == nil || have[r] {
			cols = append(cols, r)
		}
	}
	if len(cols) == 0 {
		return "", "CAST(NULL AS " + c.Type + ")"
	}
	var parts []string
	for _, r := range cols {
		if csv {
			parts = append(parts, "NULLIF("+engine.Ident(r)+", '')")
		} else {
			parts = append(parts, engine.Ident(r))
		}
	}
	x := parts[0]
	if len(parts) > 1 {
		x = "COALESCE(" + strings.Join(parts, ", ") + ")"
	}
	switch {
	case c.Type == typeVarchar && csv:
		if len(parts) > 1 {
			return x, x
		}
		return engine.Ident(cols[0]), engine.Ident(cols[0])
	case c.Type == typeVarchar:
		return x, x
	case c.Type == typeTimestamp && csv:
		return x, "TRY_CAST(TRY_CAST(" + x + " AS TIMESTAMPTZ) AS TIMESTAMP)"
	case (c.Type == typeMapString || c.Type == typeMapDouble) && csv:
		return x, "TRY_CAST(TRY_CAST(" + x + " AS JSON) AS " + c.Type + ")"
	default:
		return x, "TRY_CAST(" + x + " AS " + c.Type + ")"
	}
}

// parseCheck finds the values of a cost file that do not parse as their column's type (the
// view reads them as NULL, as Athena does, and a sum over the column leaves them out). A CSV
// file, which the cache converts to typed Parquet anyway, has its scalar columns checked
// without a cast: its scan counts each one's values present, and the converted file's
// statistics its NULLs (nullsSQL); the difference is what did not parse. Other columns (a
// CSV file's JSON maps, whose NULLs the statistics do not give; a Parquet file's columns
// whose own type is text — a typed column cannot fail) are cast in the scan.
type parseCheck struct {
	cols  []outputColumn // the checked columns: typed, and present in the file
	raw   []string       // their values as read
	typed []string       // and as typed
	// viaStats says the column's failures are its values present (n) less its non-NULL values
	// in the converted file; otherwise n counts its failures.
	viaStats []bool
	n        []int64
	from     string // the file's reader
}

// newParseCheck is the check of the file from reads (a CSV file when csv), with its raw
// columns' types rawTypes (a Parquet file's).
func newParseCheck(cols []outputColumn, csv bool, rawTypes map[string]string, from string) *parseCheck {
	pc := &parseCheck{from: from}
	for _, c := range cols {
		if c.Type == typeVarchar {
			continue
		}
		raw, typed := columnExprs(c, csv, nil)
		if raw == "" {
			continue
		}
		text := csv
		for _, r := range c.Raw {
			t := rawTypes[r]
			text = text || t == "VARCHAR" || t == "BLOB"
		}
		if !text {
			continue
		}
		pc.cols, pc.raw, pc.typed = append(pc.cols, c), append(pc.raw, raw), append(pc.typed, typed)
		pc.viaStats = append(pc.viaStats, csv && c.Type != typeMapString && c.Type != typeMapDouble)
	}
	pc.n = make([]int64, len(pc.cols))
	return pc
}

// scanSQL counts the file's rows, then per checked column its values present (viaStats) or
// those that do not parse (into n).
func (pc *parseCheck) scanSQL() string {
	sel := []string{"count(*)"}
	for i, r := range pc.raw {
		if pc.viaStats[i] {
			sel = append(sel, "count("+r+")")
		} else {
			sel = append(sel, "count(*) FILTER (WHERE ("+r+") IS NOT NULL AND ("+pc.typed[i]+") IS NULL)")
		}
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + pc.from
}

// nullsSQL is the NULLs of each column of the typed Parquet file p, from its statistics.
func nullsSQL(p string) string {
	return "SELECT path_in_schema, sum(stats_null_count) FROM parquet_metadata(" + engine.Literal(p) + ") GROUP BY ALL"
}

// exampleSQL is one value of checked column i that does not parse.
func (pc *parseCheck) exampleSQL(i int) string {
	return "SELECT CAST(" + pc.raw[i] + " AS VARCHAR) FROM " + pc.from + " WHERE (" + pc.raw[i] + ") IS NOT NULL AND (" + pc.typed[i] + ") IS NULL LIMIT 1"
}

// withPartitions adds to q, the typed SELECT of t's columns cols, the partition columns Athena
// adds (partitionColumns).
func withPartitions(t Table, cols []outputColumn, q string) string {
	parts := partitionColumns(t, cols)
	if len(parts) == 0 {
		return q
	}
	var added, filled []string
	for _, c := range parts {
		if c.Fill {
			name := c.Name
			for _, oc := range cols {
				if strings.EqualFold(oc.Name, c.Name) {
					name = oc.Name
				}
			}
			filled = append(filled, "COALESCE(NULLIF("+engine.Ident(name)+", ''), "+c.Expr+") AS "+engine.Ident(name))
		} else {
			added = append(added, ", "+c.Expr+" AS "+engine.Ident(c.Name))
		}
	}
	star := "*"
	if len(filled) > 0 {
		star = "* REPLACE (" + strings.Join(filled, ", ") + ")"
	}
	return "SELECT " + star + strings.Join(added, "") + " FROM (" + q + ")"
}

// csvFrom reads CUR and FOCUS CSV files as text: RFC 4180 quoting (a quote inside a quoted
// field is doubled, as in the JSON of CUR 2.0 map columns), line breaks inside quoted fields
// allowed. nullPadding pads rows with fewer fields than the header with NULLs, as Athena's CSV
// SerDe does (Koku's files end rows early); rows with more fields than the header are caught at
// registration. Hive partitioning is off: DuckDB would otherwise add a column for every key=value
// directory in the path, such as CUR 2.0's data/BILLING_PERIOD=2026-03/, making the table wider
// than the header.
func csvFrom(paths []string, nullPadding bool) string {
	return fmt.Sprintf("read_csv(%s, header = true, all_varchar = true, union_by_name = true, delim = ',', quote = '\"', escape = '\"', hive_partitioning = false, null_padding = %t)", engine.ListLiteral(paths), nullPadding)
}
