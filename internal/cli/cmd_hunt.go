package cli

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
)

const huntUsage = `Usage: auditlake hunt --eds NAME|ID --rules all|ID,... [--from T] [--to T] [--format table|csv|json|jsonl] [--csv-safe]

Runs rules over a time range of a store, one query per rule (per time slice of about 256k events for a
rule that may match more), and prints every match, each rule's oldest first, as it comes: the
rule, its severity, the event's time, id, name, principal, account, region and source address, and a
summary (for launch-compliance: the instance, its template, launcher and the reason). --rules all runs
every enabled rule; a list of ids (or titles) runs those, enabled or not. Only the store's files whose
time span overlaps --from/--to are read (partition pruning). A summary line (rules, matches, files read,
time) goes to standard error. A rule that fails is reported there, the others still run, and the exit
code is 3.`

const huntExamples = `  auditlake hunt --eds prod-trail --rules all --from 2025-01-01
  auditlake hunt --eds prod-trail --rules root-use,4db60cc0-36fb-42b7-9b58-a5b53019fb74 --format json`

func runHunt(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "hunt")
	eds := fs.String("eds", "", "event data store (required)")
	ruleList := fs.String("rules", "", "all (every enabled rule), or rule ids separated by commas (required)")
	from := fs.String("from", "", "first time or date (inclusive)")
	to := fs.String("to", "", "last date (inclusive) or exclusive end time")
	format := formatFlag(fs, "table", "csv", "json", "jsonl")
	csvSafe := fs.Bool("csv-safe", false, csvSafeHelp)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ruleList == "" {
		return usagef("--rules is required: all, or rule ids separated by commas")
	}
	start := time.Now()
	h, err := openHunt(ctx, env, *eds, *from, *to)
	if err != nil {
		return huntRefused(ctx, env, "hunt", *ruleList, *eds, start, err)
	}
	defer h.s.Close()
	run, err := selectRules(h, *ruleList)
	if err != nil {
		return huntRefused(ctx, env, "hunt", *ruleList, *eds, start, err)
	}
	// The matches are written as they come: the read must be recordable before the first.
	if err := checkAuditRead(env); err != nil {
		return err
	}
	// Each match is written as the rule hands it on (csv, json, jsonl): a hunt over years holds a
	// slice of one rule's matches at a time (rules.Hunt.Stream), not all of them. The table
	// format needs every row for its widths.
	write, end := huntWriter(env.Stdout, *format, huntColumns(), *csvSafe)
	matches := 0
	var failed []string
	hunt := rules.NewHunt(h.s, h.target)
	hunt.Prepare(ctx, run)
	var writeErr error
	for _, r := range run {
		n, err := hunt.Stream(ctx, r, func(m *rules.Match) error {
			writeErr = write(m)
			return writeErr
		})
		matches += n
		if writeErr != nil {
			return cmp.Or(auditRead(ctx, env, h.entry("hunt", run, matches), start, writeErr), writeErr)
		}
		if err != nil {
			if ctx.Err() != nil {
				return cmp.Or(auditRead(ctx, env, h.entry("hunt", run, matches), start, ctx.Err()), ctx.Err())
			}
			// One rule that cannot run (a SQL rule naming a column the store lacks) does not
			// stop the others; the matches it wrote before failing stay written.
			fmt.Fprintf(env.Stderr, "%v\n", err)
			failed = append(failed, r.ID)
		}
	}
	// Recorded as POST /api/hunt records it (a rule that failed is reported, not an error of
	// the hunt), before the table, or the last of the CSV, is written.
	if err := auditRead(ctx, env, h.entry("hunt", run, matches), start, nil); err != nil {
		return err
	}
	if err := end(); err != nil {
		return err
	}
	read, total := h.s.StoreFiles(h.target.Store.ID, h.target.From, h.target.To)
	fmt.Fprintf(env.Stderr, "%s, %s over %s (%d of %d files read) in %s\n", plural(len(run), "rule", "rules"), plural(matches, "match", "matches"),
		h.target.Store.Name, read, total, time.Since(start).Round(time.Millisecond))
	if len(failed) > 0 {
		return &PartialError{Msg: fmt.Sprintf("%s failed (above): %s", plural(len(failed), "rule", "rules"), strings.Join(failed, ", "))}
	}
	return nil
}

// huntColumns are the columns of a hunt's output, a match a row.
func huntColumns() []engine.Column {
	var cols []engine.Column
	for _, c := range []string{"rule", "severity", "event_time", "event_id", "event_name", "principal", "account", "region", "source_ip", "summary"} {
		typ := "VARCHAR"
		if c == "event_time" {
			typ = "TIMESTAMP"
		}
		cols = append(cols, engine.Column{Name: c, Type: typ})
	}
	return cols
}

// huntWriter returns how the hunt writes each match in format, and how it ends. CSV is written
// by huntCSV, the same bytes as the row stream's encoding/csv without a value and a string per
// cell: a hunt can write millions of matches.
func huntWriter(w io.Writer, format string, columns []engine.Column, safe bool) (write func(*rules.Match) error, end func() error) {
	if format == "csv" {
		c := &huntCSV{w: bufio.NewWriterSize(w, 1<<20), safe: safe}
		for i, col := range columns {
			if i > 0 {
				c.buf = append(c.buf, ',')
			}
			c.buf = c.cell(c.buf, col.Name)
		}
		c.buf = append(c.buf, '\n')
		return c.match, c.end
	}
	out := newRowStream(w, format, columns, safe)
	row := make([]any, len(columns))
	return func(m *rules.Match) error {
		row[0], row[1], row[2], row[3], row[4] = m.Rule, m.Severity, nil, m.EventID, m.EventName
		if !m.EventTime.IsZero() {
			row[2] = m.EventTime
		}
		row[5], row[6], row[7], row[8], row[9] = m.Principal, m.Account, m.Region, m.SourceIP, m.Summary
		return out.row(row)
	}, out.end
}

// huntCSV writes a hunt's matches as CSV lines: each cell as encoding/csv.Writer writes it (with
// --csv-safe, a text cell as compliance.SafeCSVCell makes it), the time as formatValue does.
//
// A hunt writes a rule's matches one after the other, most within the same second as the one
// before when a rule matches most events: the rule's and severity's cells and the time's
// second are kept from the match before.
type huntCSV struct {
	w    *bufio.Writer
	buf  []byte
	safe bool
	// rule and severity are the last match's, prefix their cells and the commas after them.
	rule, severity string
	prefix         []byte
	// day is the last match's day in days since 1970 (UTC), dayText it formatted with the
	// space after it.
	day     int64
	dayText []byte
}

func (c *huntCSV) match(m *rules.Match) error {
	b := c.buf
	if c.prefix == nil || m.Rule != c.rule || m.Severity != c.severity {
		c.rule, c.severity = m.Rule, m.Severity
		c.prefix = append(c.cell(c.prefix[:0], m.Rule), ',')
		c.prefix = append(c.cell(c.prefix, m.Severity), ',')
	}
	b = append(b, c.prefix...)
	if !m.EventTime.IsZero() { // formatValue's: digits, '-', ':', ' ' and '.', never quoted
		b = c.appendTime(b, m.EventTime)
	}
	for _, v := range [...]string{m.EventID, m.EventName, m.Principal, m.Account, m.Region, m.SourceIP, m.Summary} {
		b = append(b, ',')
		b = c.cell(b, v)
	}
	b = append(b, '\n')
	_, err := c.w.Write(b)
	c.buf = b[:0]
	return err
}

// appendTime appends t as t.UTC().AppendFormat(b, "2006-01-02 15:04:05.999999") does: the
// day as formatted for the match before when it is the same (a hunt's matches come in time
// order), the time of day's digits, then the fraction (its microseconds, trailing zeros and a
// bare point left out). AppendFormat for every match was 2 % of a hunt's CPU over 10M events.
func (c *huntCSV) appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	sec := t.Unix()
	day, s := sec/86400, sec%86400
	if s < 0 { // before 1970: the day before, and its second
		day, s = day-1, s+86400
	}
	if c.dayText == nil || day != c.day {
		c.day = day
		c.dayText = t.AppendFormat(c.dayText[:0], "2006-01-02 ")
	}
	b = append(b, c.dayText...)
	h, m := s/3600, s/60%60
	s %= 60
	b = append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+s/10), byte('0'+s%10))
	us := t.Nanosecond() / 1000
	if us == 0 {
		return b
	}
	var frac [7]byte
	frac[0] = '.'
	for i := 6; i >= 1; i-- {
		frac[i] = byte('0' + us%10)
		us /= 10
	}
	n := 7
	for frac[n-1] == '0' {
		n--
	}
	return append(b, frac[:n]...)
}

// cell appends text cell s.
func (c *huntCSV) cell(b []byte, s string) []byte {
	if c.safe {
		s = compliance.SafeCSVCell(s)
	}
	return appendCSVField(b, s)
}

func (c *huntCSV) end() error {
	if _, err := c.w.Write(c.buf); err != nil { // the header of a hunt without matches
		return err
	}
	c.buf = c.buf[:0]
	return c.w.Flush()
}

// appendCSVField appends field as encoding/csv.Writer (comma ',', no CRLF) writes it: quoted,
// with quotes doubled, when it holds a quote, comma, CR or LF, is \., or starts with a space.
func appendCSVField(b []byte, field string) []byte {
	quote := field == `\.` || hasCSVSpecial(field)
	if !quote && field != "" {
		if c := field[0]; c < utf8.RuneSelf {
			quote = c == ' ' || c >= '\t' && c <= '\r'
		} else {
			r, _ := utf8.DecodeRuneInString(field)
			quote = unicode.IsSpace(r)
		}
	}
	if !quote {
		return append(b, field...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(field, '"')
		if i < 0 {
			break
		}
		b = append(b, field[:i+1]...)
		b = append(b, '"')
		field = field[i+1:]
	}
	b = append(b, field...)
	return append(b, '"')
}

// csvSpecial are the bytes that make encoding/csv quote a field wherever they are.
var csvSpecial = [256]bool{'"': true, ',': true, '\r': true, '\n': true}

// hasCSVSpecial reports whether s holds one of csvSpecial's bytes, looking at eight bytes at a
// time (a hunt writes millions of cells, most without one).
func hasCSVSpecial(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	has := func(x uint64, b byte) bool { // x holds byte b (exact: no false positives)
		y := x ^ (ones * uint64(b))
		return (y-ones)&^y&highs != 0
	}
	for len(s) >= 8 {
		x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		if has(x, '"') || has(x, ',') || has(x, '\r') || has(x, '\n') {
			return true
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if csvSpecial[s[i]] {
			return true
		}
	}
	return false
}

// entry is the audit entry of a hunt (or a rule coverage, command) of rules over h's store
// that returned rows: as POST /api/hunt records a hunt.
func (h *hunt) entry(command string, run []rules.Rule, rows int) auditlog.Entry {
	ids := make([]string, len(run))
	for i, r := range run {
		ids[i] = r.ID
	}
	return auditlog.Entry{SQL: fmt.Sprintf("-- auditlake %s: rules %s over %s", command, strings.Join(ids, ","), h.target.Store.Name),
		Tables: []string{query.Schema + "." + h.target.Store.ID}, Rows: int64(rows)}
}

// huntRefused records a hunt (or a rule coverage, command) of rules over store that failed
// before it read anything, as POST /api/hunt records one (a reader probing for store names or
// rules shows in the log), and returns its error.
func huntRefused(ctx context.Context, env *Env, command, ruleList, store string, start time.Time, err error) error {
	e := auditlog.Entry{SQL: fmt.Sprintf("-- auditlake %s: rules %s over %s", command, ruleList, store)}
	return cmp.Or(auditRead(ctx, env, e, start, err), err)
}

// selectRules returns the rules --rules names: all enabled ones, or the listed ids (rules.Select).
func selectRules(h *hunt, list string) ([]rules.Rule, error) {
	out, err := rules.Select(h.lk, strings.Split(list, ","))
	switch {
	case errors.Is(err, rules.ErrNoEnabled):
		return nil, &HintError{Err: &NotFoundError{Msg: "no enabled rules"}, Hint: "add rules with: auditlake rule add --sigma PATH"}
	case errors.Is(err, rules.ErrNoneNamed):
		return nil, usagef("--rules %q names no rule: all, or rule ids separated by commas", list)
	case errors.Is(err, rules.ErrNotFound):
		return nil, &HintError{Err: &NotFoundError{Msg: err.Error()}, Hint: "list rules with: auditlake rule list"}
	}
	return out, err
}
