package cli

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/delivery"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/server"
)

func runQuery(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "query")
	format := formatFlag(fs, "table", "csv", "json", "jsonl")
	csvSafe := fs.Bool("csv-safe", false, csvSafeHelp)
	file := fs.String("f", "", "read the query from this file ('-' for standard input)")
	timeout := fs.Duration("timeout", 0, "cancel the query after this long (e.g. 30s); 0 = no limit")
	maxRows := fs.Int("max-rows", 0, "print at most this many rows; 0 = all")
	memory := fs.String("memory-limit", "2GB", "engine memory limit for the query")
	as := fs.String("as", "", "run the query as this principal (user:NAME, NAME or role:NAME): only what its grants show")
	maxBytes := byteSize(engine.DefaultMaxResultBytes)
	fs.Var(&maxBytes, "max-result-bytes", "largest result to collect, in bytes (e.g. 64MiB, 1GiB); 0 = no limit")
	maxTemp := byteSize(defaultMaxTempSize(env.DataDir))
	fs.Var(&maxTemp, "max-temp-size", "spill space of the query in <data>/tmp (default 10% of the free disk, at most 4GiB)")
	deliver := fs.String("deliver", "", "write the result as CloudTrail Lake delivers it (gzip CSV files and a signed result_sign.json) under s3://bucket/prefix or a local directory, instead of printing it")
	s3 := addS3Flags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	var sql string
	switch {
	case *file == "-":
		b, err := io.ReadAll(env.Stdin)
		if err != nil {
			return err
		}
		sql = string(b)
	case *file != "":
		b, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("read query file: %w", err)
		}
		sql = string(b)
	case len(pos) > 0:
		sql = strings.Join(pos, " ")
	default:
		if f, ok := env.Stdin.(*os.File); ok && f == os.Stdin {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				return usagef("give the query as an argument, with -f FILE, or on standard input")
			}
		}
		b, err := io.ReadAll(env.Stdin)
		if err != nil {
			return err
		}
		sql = string(b)
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	resultBytes := int64(maxBytes)
	if resultBytes == 0 {
		resultBytes = -1 // no limit
	}
	principal, err := principalFlag(env, *as)
	if err != nil {
		return err
	}
	if principal != nil {
		*as = principal.Name() // recorded as every door names it: user:bob, not what was typed
	}
	if st, err := lk.Resolve(auditlog.StoreName); err == nil {
		if l := strings.ToLower(sql); strings.Contains(l, st.Name) || strings.Contains(l, st.ID) {
			foldAudit(ctx, env, lk) // a query of the audit log sees the actions the spool holds
		}
	}
	s, err := query.Open(ctx, lk, query.Options{MemoryLimit: *memory, Timeout: *timeout, MaxRows: *maxRows, MaxResultBytes: resultBytes, MaxTempSize: int64(maxTemp), Principal: principal})
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	res, err := s.Run(ctx, sql)
	var auditErr error
	if res != nil {
		auditErr = auditQuery(ctx, env, *as, sql, res.Tables, int64(len(res.Rows)), time.Since(start), nil)
	} else {
		auditErr = auditQuery(ctx, env, *as, sql, nil, 0, time.Since(start), err)
	}
	if auditErr != nil {
		return auditErr // never a result that is not recorded
	}
	if err != nil {
		var (
			qe *engine.QueryError
			tl *engine.ResultTooLargeError
		)
		if errors.As(err, &tl) {
			return &HintError{Err: err, Hint: "raise the limit with --max-result-bytes (0 = none), or write fewer rows: --max-rows N"}
		}
		if errors.As(err, &qe) {
			return &HintError{Err: err, Hint: "tables are \"aws:cloudtrail\".\"<store id>\" (auditlake eds list); the dialect is Trino/Athena SQL"}
		}
		return err
	}
	if *deliver != "" {
		return deliverResult(ctx, env, *deliver, s3.client(), res)
	}
	if err := WriteResult(env.Stdout, *format, res, *csvSafe); err != nil {
		return err
	}
	if res.Truncated && *format != "table" { // the table says so under its rows
		fmt.Fprintf(env.Stderr, "%s, truncated by --max-rows\n", plural(len(res.Rows), "row", "rows"))
	}
	return nil
}

// csvSafeHelp is the help of --csv-safe, on every command that writes CSV through WriteResult.
const csvSafeHelp = "with --format csv, put ' before text cells that start with = + - @ tab or CR, which spreadsheets run as formulas (CSV injection); off by default, as scripts need the exact values"

// WriteResult prints a result as an aligned table, CSV (with a header), one JSON array of
// objects (json) or JSON Lines (jsonl), an object per row with the columns in order. With
// csvSafe, CSV text cells (and column names) a spreadsheet would take for a formula are
// neutralised (compliance.SafeCSVCell); numbers, times and nested values are never changed.
func WriteResult(w io.Writer, format string, res *engine.Result, csvSafe bool) error {
	switch format {
	case "csv", "json", "jsonl":
		out := newRowStream(w, format, res.Columns, csvSafe)
		for _, row := range res.Rows {
			if err := out.row(row); err != nil {
				return err
			}
		}
		return out.end()
	default:
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for i, c := range res.Columns {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, c.Name)
		}
		fmt.Fprintln(tw)
		for _, row := range res.Rows {
			for i, v := range row {
				if i > 0 {
					fmt.Fprint(tw, "\t")
				}
				s := formatValue(server.Present(v, res.Columns[i].Type))
				if v == nil {
					s = "NULL"
				}
				fmt.Fprint(tw, compliance.TerminalCell(s))
			}
			fmt.Fprintln(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		note := "(" + plural(len(res.Rows), "row", "rows")
		if res.Truncated {
			note += ", truncated"
		}
		fmt.Fprintln(w, note+")")
		return nil
	}
}

// rowStream writes a result row by row in format: csv and json/jsonl as the rows come (the
// same bytes WriteResult writes for the whole result), the table format at the end (its
// column widths need every row).
type rowStream struct {
	w       io.Writer
	format  string
	safe    bool
	res     *engine.Result // the table format's rows
	js      *jsonRows
	cw      *csv.Writer
	rec     []string // the csv record, reused
	columns []engine.Column
}

func newRowStream(w io.Writer, format string, columns []engine.Column, csvSafe bool) *rowStream {
	s := &rowStream{w: w, format: format, safe: csvSafe, columns: columns}
	switch format {
	case "csv":
		s.cw = csv.NewWriter(w)
		head := make([]string, len(columns))
		for i, c := range columns {
			head[i] = c.Name
			if csvSafe {
				head[i] = compliance.SafeCSVCell(c.Name)
			}
		}
		s.cw.Write(head)
	case "json", "jsonl":
		s.js = newJSONRows(w, format == "jsonl")
	default:
		s.res = &engine.Result{Columns: columns}
	}
	return s
}

func (s *rowStream) row(row []any) error {
	switch {
	case s.cw != nil:
		if len(s.rec) != len(row) {
			s.rec = make([]string, len(row))
		}
		rec := s.rec // csv.Writer.Write keeps nothing of it
		for i, v := range row {
			rec[i] = formatValue(server.Present(v, s.columns[i].Type))
			switch v.(type) { // the engine's text, not a date or interval Present made text
			case string, []byte:
				if s.safe {
					rec[i] = compliance.SafeCSVCell(rec[i])
				}
			}
		}
		return s.cw.Write(rec)
	case s.js != nil:
		obj := make(orderedRow, len(row))
		for i, v := range row {
			obj[i] = kv{s.columns[i].Name, jsonValue(server.Present(v, s.columns[i].Type))}
		}
		return s.js.add(obj)
	default: // a copy: callers may reuse row
		s.res.Rows = append(s.res.Rows, append([]any(nil), row...))
		return nil
	}
}

func (s *rowStream) end() error {
	switch {
	case s.cw != nil:
		s.cw.Flush()
		return s.cw.Error()
	case s.js != nil:
		return s.js.end()
	default:
		return WriteResult(s.w, s.format, s.res, s.safe)
	}
}

// jsonRows writes values as one JSON array, a value a line (json), or as JSON Lines (jsonl),
// as they come.
type jsonRows struct {
	bw    *bufio.Writer
	jsonl bool
	n     int
}

func newJSONRows(w io.Writer, jsonl bool) *jsonRows {
	return &jsonRows{bw: bufio.NewWriterSize(w, 1<<16), jsonl: jsonl}
}

func (j *jsonRows) add(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	switch {
	case j.jsonl:
	case j.n == 0:
		j.bw.WriteString("[\n")
	default:
		j.bw.WriteString(",\n")
	}
	j.n++
	j.bw.Write(b)
	if j.jsonl {
		j.bw.WriteByte('\n')
	}
	return nil
}

func (j *jsonRows) end() error {
	switch {
	case j.jsonl:
	case j.n == 0:
		j.bw.WriteString("[]\n")
	default:
		j.bw.WriteString("\n]\n")
	}
	return j.bw.Flush()
}

// writeJSONRows writes n rows as one JSON array, a row a line (json), or as JSON Lines (jsonl).
func writeJSONRows(w io.Writer, jsonl bool, n int, row func(i int) any) error {
	out := newJSONRows(w, jsonl)
	for i := range n {
		if err := out.add(row(i)); err != nil {
			return err
		}
	}
	return out.end()
}

type kv struct {
	k string
	v any
}

type orderedRow []kv

func (o orderedRow) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// jsonValue converts engine values to JSON-friendly ones (timestamps in RFC 3339, maps with
// string keys).
func jsonValue(v any) any {
	switch t := v.(type) {
	case time.Time:
		return t.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(t)
	case engine.Map:
		m := make(map[string]any, len(t))
		for k, val := range t {
			m[fmt.Sprint(k)] = jsonValue(val)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, val := range t {
			m[k] = jsonValue(val)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = jsonValue(val)
		}
		return out
	default:
		return v
	}
}

// formatValue renders a value for table and CSV output: scalars plainly, nested values as JSON.
func formatValue(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case time.Time:
		if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
			return t.UTC().Format("2006-01-02 15:04:05")
		}
		return t.UTC().Format("2006-01-02 15:04:05.999999")
	case []byte: // a varbinary: its bytes in hex, as Trino's CLI shows them (61 62 63)
		var b strings.Builder
		for i, c := range t {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%02x", c)
		}
		return b.String()
	case float64:
		return fmt.Sprint(t)
	case engine.Map, map[string]any, []any:
		b, err := json.Marshal(jsonValue(t))
		if err != nil {
			return fmt.Sprint(t)
		}
		return string(b)
	default:
		// A MAP as the engine's driver gives it (an ordered map): a JSON object in its order,
		// as arrays and rows are shown, not the driver's debugging text OrderedMap{k: v}.
		if _, _, ok := delivery.MapEntries(t); ok {
			if b, err := json.Marshal(t); err == nil {
				return string(b)
			}
		}
		return fmt.Sprint(t)
	}
}
