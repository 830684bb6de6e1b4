package cli

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

const reportComplianceUsage = `Usage: auditlake report launch-compliance --eds NAME|ID [--cur DB.TABLE] [--config-eds NAME|ID] [--approved-template LT[:VERSIONS]]... [--approved-config FILE]
       [--require-autoscaling] [--from D] [--to D] [--account A]... [--format table|csv|json|jsonl|html] [--csv-safe] [--out FILE]

One row per launched EC2 instance: the launch template that defined it (resolved through the trail's
CreateLaunchTemplate/CreateLaunchTemplateVersion history), who launched it and how (Auto Scaling, EC2 Fleet,
Spot Fleet, EMR, EKS node group, console, CLI, SDK), when it ended, its run time and cost — and whether it
was launched from an approved template. An --approved-template is lt-… (every version), lt-…:3 or lt-…:1,2,
or a template name with the same versions. --approved-config reads
{"approved_templates":[{"id":"lt-…","versions":["1"]},{"name":"web-prod"}],"require_autoscaling":false}.
--require-autoscaling also requires the launch to come through Auto Scaling. With --config-eds, the Config
store's AWS::EC2::LaunchTemplate items also resolve template names to ids (and $Default/$Latest to numbers),
and auto_scaling_group comes from the instance's aws:autoscaling:groupName tag or else from the Auto Scaling
group items that listed the instance.`

const reportComplianceExamples = `  auditlake report launch-compliance --eds prod-trail --cur cur.cur_2026 --approved-template lt-0abc123 --format table
  auditlake report launch-compliance --eds prod-trail --cur cur.cur_2026 --approved-config approved.json --format html --out compliance.html`

const reportDailyUsage = `Usage: auditlake report daily-spend --eds NAME|ID --cur DB.TABLE [--config-eds NAME|ID] [--approved-template LT[:VERSIONS]]... [--approved-config FILE]
       [--require-autoscaling] [--from D] [--to D] [--account A]... [--format table|csv|json|jsonl|html] [--csv-safe] [--out FILE]

EC2 spend per usage day split by the approval status of the instance (approved, not_approved, no_template,
and unattributed for EC2 lines of no launched instance the trail knows).`

const reportDailyExamples = `  auditlake report daily-spend --eds prod-trail --cur cur.cur_2026 --approved-template lt-0abc123
  auditlake report daily-spend --eds prod-trail --cur cur.cur_2026 --approved-template lt-0abc123 --format html --out spend.html`

const instanceUsage = `Usage: auditlake instance --eds NAME|ID [--cur DB.TABLE] [--config-eds NAME|ID] [--format table|json|jsonl] [--approved-template LT[:VERSIONS]]... [--approved-config FILE] [--require-autoscaling] INSTANCE_ID

The audit trail of one instance, oldest first: its launch template's definition, the launch and who did it,
state changes, tag changes, the end of its life, and its cost per day.`

const instanceExamples = `  auditlake instance i-0123456789abcdef0 --eds prod-trail --cur cur.cur_2026`

// instanceID is an EC2 instance id, as the API accepts it.
var instanceID = regexp.MustCompile(`^i-[0-9a-f]{8,32}$`)

// multiFlag collects a repeated string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// approvalFlags are the approval inputs of every command that gives a launch verdict (the
// reports, instance, config-rule): the same flags, read the same way, so that their verdicts
// agree.
type approvalFlags struct {
	approved   multiFlag
	config     string
	requireASG bool
}

func addApprovalFlags(fs *flag.FlagSet) *approvalFlags {
	a := &approvalFlags{}
	fs.Var(&a.approved, "approved-template", "approved launch template: lt-… , lt-…:3, lt-…:1,2 or a name (repeatable)")
	fs.StringVar(&a.config, "approved-config", "", "JSON file with approved_templates and require_autoscaling")
	fs.BoolVar(&a.requireASG, "require-autoscaling", false, "also require the launch to come through Auto Scaling")
	return a
}

// apply adds the approved templates and the Auto Scaling requirement to p.
func (a *approvalFlags) apply(p *compliance.Params) error {
	for _, v := range a.approved {
		t, err := compliance.ParseApproved(v)
		if err != nil {
			return usagef("--approved-template: %v", err)
		}
		p.Approved.Templates = append(p.Approved.Templates, t)
	}
	p.RequireAutoScaling = p.RequireAutoScaling || a.requireASG
	if a.config != "" {
		c, err := compliance.LoadConfig(a.config)
		if err != nil {
			return usagef("--approved-config: %v", err)
		}
		p.Approved.Templates = append(p.Approved.Templates, c.Templates...)
		p.RequireAutoScaling = p.RequireAutoScaling || c.RequireAutoScaling
	}
	return nil
}

// reportFlags are the flags both reports share.
type reportFlags struct {
	eds, cur, configEDS, from, to, out string
	format                             *string
	approvals                          *approvalFlags
	accounts                           multiFlag
	csvSafe                            bool
}

func (f *reportFlags) params() (compliance.Params, error) {
	p := compliance.Params{Store: f.eds, Cost: f.cur, Accounts: f.accounts, ConfigStore: f.configEDS}
	if f.eds == "" {
		return p, usagef("--eds is required")
	}
	if err := f.approvals.apply(&p); err != nil {
		return p, err
	}
	from, to, err := parseRange(f.from, f.to)
	if err != nil {
		return p, err
	}
	if !from.IsZero() {
		p.From = &from
	}
	if !to.IsZero() {
		p.To = &to
	}
	return p, nil
}

// parseRange reads --from and --to by the one rule of every command and of the API (docs/api.md):
// dates are inclusive — a date-only --to covers all of that day (--to 2026-03-31 includes 31
// March 23:59:59.999) — and a --to with a time of day is the exclusive end, as in the API. It
// returns the half-open range [from, to), zero for a bound not given. A range with nothing in it
// (from after to) is a usage error rather than an empty answer.
func parseRange(from, to string) (time.Time, time.Time, error) {
	f, err := parseTimeFlag("from", from)
	if err != nil {
		return f, f, err
	}
	t, err := parseTimeFlag("to", to)
	if err != nil {
		return f, t, err
	}
	if !t.IsZero() && isDate(to) {
		t = t.AddDate(0, 0, 1)
	}
	if !f.IsZero() && !t.IsZero() && !f.Before(t) {
		return f, t, usagef("--from %s is after --to %s: the range is empty", from, to)
	}
	return f, t, nil
}

// isDate reports whether a --from/--to value is a date without a time.
func isDate(v string) bool {
	_, err := time.Parse(time.DateOnly, v)
	return err == nil
}

func newReportFlags(env *Env, name, rangeOf string) (*reportFlags, func(args []string) error) {
	f := &reportFlags{}
	fs := newFlags(env, name)
	fs.StringVar(&f.eds, "eds", "", "event data store name or id (required)")
	fs.StringVar(&f.cur, "cur", "", "registered cost table, e.g. cur.cur_2026")
	fs.StringVar(&f.configEDS, "config-eds", "", "Config event data store: template names from AWS::EC2::LaunchTemplate items, Auto Scaling group membership")
	f.approvals = addApprovalFlags(fs)
	fs.StringVar(&f.from, "from", "", "first "+rangeOf+" (inclusive), e.g. 2026-09-01")
	fs.StringVar(&f.to, "to", "", "last "+rangeOf+" (inclusive: a date covers all of that day), e.g. 2026-09-30")
	fs.Var(&f.accounts, "account", "only this account id (repeatable)")
	f.format = formatFlag(fs, "table", "csv", "json", "jsonl", "html")
	fs.BoolVar(&f.csvSafe, "csv-safe", false, csvSafeHelp)
	fs.StringVar(&f.out, "out", "", "write to FILE instead of standard output")
	return f, func(args []string) error {
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return usagef("unexpected argument %q", pos[0])
		}
		return nil
	}
}

// withOutput runs write against --out FILE (written whole, then renamed) or standard output.
func withOutput(env *Env, out string, write func(io.Writer) error) error {
	if out == "" {
		return write(env.Stdout)
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("create %q: %w", out, err)
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %q: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("write %q: %w", out, err)
	}
	return nil
}

func openReportSession(ctx context.Context, env *Env) (*query.Session, error) {
	lk, err := openLake(env)
	if err != nil {
		return nil, err
	}
	return query.Open(ctx, lk, query.Options{})
}

func runReportCompliance(ctx context.Context, env *Env, args []string) error {
	f, parse := newReportFlags(env, "report launch-compliance", "launch day")
	if err := parse(args); err != nil {
		return err
	}
	p, err := f.params()
	if err != nil {
		return err
	}
	start := time.Now()
	s, err := openReportSession(ctx, env)
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := compliance.LaunchCompliance(ctx, s, p)
	if err := auditReport(ctx, env, "launch-compliance", "", p, start, app.ReportRows(r), err); err != nil {
		return err
	}
	return writeReport(env, f.out, *f.format, f.csvSafe, r)
}

func runReportDaily(ctx context.Context, env *Env, args []string) error {
	f, parse := newReportFlags(env, "report daily-spend", "usage day")
	if err := parse(args); err != nil {
		return err
	}
	p, err := f.params()
	if err != nil {
		return err
	}
	if p.Cost == "" {
		return usagef("--cur is required")
	}
	start := time.Now()
	s, err := openReportSession(ctx, env)
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := compliance.DailySpend(ctx, s, p)
	if err := auditReport(ctx, env, "daily-spend", "", p, start, app.ReportRows(r), err); err != nil {
		return err
	}
	return writeReport(env, f.out, *f.format, f.csvSafe, r)
}

func runInstance(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "instance")
	eds := fs.String("eds", "", "event data store name or id (required)")
	cur := fs.String("cur", "", "registered cost table, e.g. cur.cur_2026")
	configEDS := fs.String("config-eds", "", "Config event data store: template names from AWS::EC2::LaunchTemplate items, Auto Scaling group membership")
	approvals := addApprovalFlags(fs)
	format := formatFlag(fs, "table", "json", "jsonl")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give exactly one instance id (i-…), got %d arguments", len(pos))
	}
	if !instanceID.MatchString(pos[0]) {
		return usagef("%q is not an EC2 instance id: i- and 8 to 32 hexadecimal digits (i-0123456789abcdef0)", pos[0])
	}
	if *eds == "" {
		return usagef("--eds is required")
	}
	p := compliance.Params{Store: *eds, Cost: *cur, ConfigStore: *configEDS}
	if err := approvals.apply(&p); err != nil {
		return err
	}
	start := time.Now()
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	if _, err := resolveStore(lk, *eds); err != nil {
		return auditReport(ctx, env, "instance", pos[0], p, start, 0, err)
	}
	s, err := openReportSession(ctx, env)
	if err != nil {
		return err
	}
	defer s.Close()
	tr, err := compliance.Instance(ctx, s, pos[0], p)
	if err == nil && tr.Summary == nil && len(tr.Events) == 0 { // as the API's 404
		err = &NotFoundError{Msg: fmt.Sprintf("instance %s not found: no event in store %s names it", pos[0], *eds)}
	}
	if err := auditReport(ctx, env, "instance", pos[0], p, start, app.ReportRows(tr), err); err != nil {
		return err
	}
	switch *format {
	case "json":
		return compliance.WriteJSON(env.Stdout, tr)
	case "jsonl":
		return writeJSONLines(env.Stdout, tr)
	}
	return tr.WriteTable(env.Stdout)
}

// auditReport records report name (or instance id's trail) with parameters p, which showed
// rows or failed with err, as the API's report endpoints record it (app.ReportEntry), and
// returns the error to end the command with: the audit log's when the read cannot be recorded
// (never a result that is not recorded), else err.
func auditReport(ctx context.Context, env *Env, name, id string, p compliance.Params, start time.Time, rows int, err error) error {
	var e auditlog.Entry
	if lk, lerr := lake.Open(env.DataDir); lerr == nil {
		e = app.ReportEntry(lk, name, id, p)
	}
	e.Rows = int64(rows)
	return cmp.Or(auditRead(ctx, env, e, start, err), err)
}

// renderable is a report that prints itself in every --format.
type renderable interface {
	WriteCSV(w io.Writer, safe bool) error
	WriteHTML(io.Writer) error
	WriteTable(io.Writer) error
}

// writeReport prints r in format to out (a file) or standard output.
func writeReport(env *Env, out, format string, csvSafe bool, r renderable) error {
	return withOutput(env, out, func(w io.Writer) error {
		switch format {
		case "json":
			return compliance.WriteJSON(w, r)
		case "jsonl":
			return writeJSONLines(w, r)
		case "csv":
			return r.WriteCSV(w, csvSafe)
		case "html":
			return r.WriteHTML(w)
		}
		return r.WriteTable(w)
	})
}

// writeJSONLines writes the rows of a report — an instance trail's events — as JSON Lines.
// (--format json writes the whole report as one document, as the API answers it.)
func writeJSONLines(w io.Writer, r any) error {
	switch r := r.(type) {
	case *compliance.Report:
		return writeJSONRows(w, true, len(r.Rows), func(i int) any { return &r.Rows[i] })
	case *compliance.Daily:
		return writeJSONRows(w, true, len(r.Rows), func(i int) any { return &r.Rows[i] })
	case *compliance.Trail:
		return writeJSONRows(w, true, len(r.Events), func(i int) any { return &r.Events[i] })
	}
	return fmt.Errorf("no JSON Lines form for %T", r)
}
