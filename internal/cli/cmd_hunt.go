package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/rules"
)

const huntUsage = `Usage: auditlake hunt --eds NAME|ID --rules all|ID,... [--from T] [--to T] [--format table|csv|json] [--csv-safe]

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
	format := formatFlag(fs, "table", "csv", "json")
	csvSafe := fs.Bool("csv-safe", false, csvSafeHelp)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ruleList == "" {
		return usagef("--rules is required: all, or rule ids separated by commas")
	}
	h, err := openHunt(ctx, env, *eds, *from, *to)
	if err != nil {
		return err
	}
	defer h.s.Close()
	run, err := selectRules(h, *ruleList)
	if err != nil {
		return err
	}
	start := time.Now()
	res := &engine.Result{}
	for _, c := range []string{"rule", "severity", "event_time", "event_id", "event_name", "principal", "account", "region", "source_ip", "summary"} {
		typ := "VARCHAR"
		if c == "event_time" {
			typ = "TIMESTAMP"
		}
		res.Columns = append(res.Columns, engine.Column{Name: c, Type: typ})
	}
	// Each match is written as the rule hands it on (csv, json, jsonl): a hunt over years holds a
	// slice of one rule's matches at a time (rules.Hunt.Stream), not all of them. The table
	// format needs every row for its widths.
	out := newRowStream(env.Stdout, *format, res.Columns, *csvSafe)
	matches := 0
	var failed []string
	hunt := rules.NewHunt(h.s, h.target)
	row := make([]any, len(res.Columns))
	var writeErr error
	for _, r := range run {
		n, err := hunt.Stream(ctx, r, func(m *rules.Match) error {
			row[0], row[1], row[2], row[3], row[4] = m.Rule, m.Severity, nil, m.EventID, m.EventName
			if !m.EventTime.IsZero() {
				row[2] = m.EventTime
			}
			row[5], row[6], row[7], row[8], row[9] = m.Principal, m.Account, m.Region, m.SourceIP, m.Summary
			writeErr = out.row(row)
			return writeErr
		})
		matches += n
		if writeErr != nil {
			return writeErr
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// One rule that cannot run (a SQL rule naming a column the store lacks) does not
			// stop the others; the matches it wrote before failing stay written.
			fmt.Fprintf(env.Stderr, "%v\n", err)
			failed = append(failed, r.ID)
		}
	}
	if err := out.end(); err != nil {
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

// selectRules returns the rules --rules names: all enabled ones, or the listed ids.
func selectRules(h *hunt, list string) ([]rules.Rule, error) {
	all, err := rules.List(h.lk)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(list) == "all" {
		var out []rules.Rule
		for _, r := range all {
			if r.Enabled {
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			return nil, &HintError{Err: &NotFoundError{Msg: "no enabled rules"}, Hint: "add rules with: auditlake rule add --sigma PATH"}
		}
		return out, nil
	}
	var out []rules.Rule
	for _, ref := range strings.Split(list, ",") {
		r, err := lookupRule(h.lk, strings.TrimSpace(ref))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
