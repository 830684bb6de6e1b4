package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/query"
)

const reportComplianceUsage = `Usage: auditlake report launch-compliance --eds NAME|ID [--cur DB.TABLE] [--config-eds NAME|ID] [--approved-template LT[:VERSIONS]]... [--approved-config FILE]
       [--require-autoscaling] [--from D] [--to D] [--account A]... [--format table|csv|json|html] [--csv-safe] [--out FILE]

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
       [--require-autoscaling] [--from D] [--to D] [--account A]... [--format table|csv|json|html] [--csv-safe] [--out FILE]

EC2 spend per usage day split by the approval status of the instance (approved, not_approved, no_template,
and unattributed for EC2 lines of no launched instance the trail knows).`

const reportDailyExamples = `  auditlake report daily-spend --eds prod-trail --cur cur.cur_2026 --approved-template lt-0abc123
  auditlake report daily-spend --eds prod-trail --cur cur.cur_2026 --approved-template lt-0abc123 --format html --out spend.html`

const instanceUsage = `Usage: auditlake instance --eds NAME|ID [--cur DB.TABLE] [--config-eds NAME|ID] [--format table|json] INSTANCE_ID

The audit trail of one instance, oldest first: its launch template's definition, the launch and who did it,
state changes, tag changes, the end of its life, and its cost per day.`

const instanceExamples = `  auditlake instance i-0123456789abcdef0 --eds prod-trail --cur cur.cur_2026`

// multiFlag collects a repeated string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// reportFlags are the flags both reports share.
type reportFlags struct {
	eds, cur, config, configEDS, from, to, format, out string
	approved, accounts                                 multiFlag
	requireASG, csvSafe                                bool
}

func (f *reportFlags) params() (compliance.Params, error) {
	p := compliance.Params{Store: f.eds, Cost: f.cur, Accounts: f.accounts, RequireAutoScaling: f.requireASG, ConfigStore: f.configEDS}
	if f.eds == "" {
		return p, usagef("--eds is required")
	}
	for _, v := range f.approved {
		a, err := compliance.ParseApproved(v)
		if err != nil {
			return p, usagef("--approved-template: %v", err)
		}
		p.Approved.Templates = append(p.Approved.Templates, a)
	}
	if f.config != "" {
		c, err := compliance.LoadConfig(f.config)
		if err != nil {
			return p, usagef("--approved-config: %v", err)
		}
		p.Approved.Templates = append(p.Approved.Templates, c.Templates...)
		p.RequireAutoScaling = p.RequireAutoScaling || c.RequireAutoScaling
	}
	for _, d := range []struct {
		name, v string
		dst     **time.Time
	}{{"--from", f.from, &p.From}, {"--to", f.to, &p.To}} {
		if d.v == "" {
			continue
		}
		t, err := parseDay(d.v)
		if err != nil {
			return p, usagef("%s: %v", d.name, err)
		}
		*d.dst = &t
	}
	switch f.format {
	case "table", "csv", "json", "html":
	default:
		return p, usagef("--format must be table, csv, json or html, not %q", f.format)
	}
	return p, nil
}

func parseDay(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse %q as a date (2026-09-01 or RFC 3339)", s)
}

func newReportFlags(env *Env, name string) (*reportFlags, func(args []string) error) {
	f := &reportFlags{}
	fs := newFlags(env, name)
	fs.StringVar(&f.eds, "eds", "", "event data store name or id (required)")
	fs.StringVar(&f.cur, "cur", "", "registered cost table, e.g. cur.cur_2026")
	fs.StringVar(&f.configEDS, "config-eds", "", "Config event data store: template names from AWS::EC2::LaunchTemplate items, Auto Scaling group membership")
	fs.Var(&f.approved, "approved-template", "approved launch template: lt-… , lt-…:3, lt-…:1,2 or a name (repeatable)")
	fs.StringVar(&f.config, "approved-config", "", "JSON file with approved_templates and require_autoscaling")
	fs.BoolVar(&f.requireASG, "require-autoscaling", false, "also require the launch to come through Auto Scaling")
	fs.StringVar(&f.from, "from", "", "first launch time (inclusive), e.g. 2026-09-01")
	fs.StringVar(&f.to, "to", "", "last launch time (exclusive)")
	fs.Var(&f.accounts, "account", "only this account id (repeatable)")
	fs.StringVar(&f.format, "format", "table", "table, csv, json or html")
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
	f, parse := newReportFlags(env, "report launch-compliance")
	if err := parse(args); err != nil {
		return err
	}
	p, err := f.params()
	if err != nil {
		return err
	}
	s, err := openReportSession(ctx, env)
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := compliance.LaunchCompliance(ctx, s, p)
	if err != nil {
		return err
	}
	return writeReport(env, f.out, f.format, f.csvSafe, r)
}

func runReportDaily(ctx context.Context, env *Env, args []string) error {
	f, parse := newReportFlags(env, "report daily-spend")
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
	s, err := openReportSession(ctx, env)
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := compliance.DailySpend(ctx, s, p)
	if err != nil {
		return err
	}
	return writeReport(env, f.out, f.format, f.csvSafe, r)
}

func runInstance(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "instance")
	eds := fs.String("eds", "", "event data store name or id (required)")
	cur := fs.String("cur", "", "registered cost table, e.g. cur.cur_2026")
	configEDS := fs.String("config-eds", "", "Config event data store: template names from AWS::EC2::LaunchTemplate items, Auto Scaling group membership")
	format := fs.String("format", "table", "table or json")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || !strings.HasPrefix(pos[0], "i-") {
		return usagef("give exactly one instance id (i-…)")
	}
	if *eds == "" {
		return usagef("--eds is required")
	}
	if *format != "table" && *format != "json" {
		return usagef("--format must be table or json, not %q", *format)
	}
	s, err := openReportSession(ctx, env)
	if err != nil {
		return err
	}
	defer s.Close()
	tr, err := compliance.Instance(ctx, s, pos[0], compliance.Params{Store: *eds, Cost: *cur, ConfigStore: *configEDS})
	if err != nil {
		return err
	}
	if *format == "json" {
		return compliance.WriteJSON(env.Stdout, tr)
	}
	return tr.WriteTable(env.Stdout)
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
		case "csv":
			return r.WriteCSV(w, csvSafe)
		case "html":
			return r.WriteHTML(w)
		}
		return r.WriteTable(w)
	})
}
