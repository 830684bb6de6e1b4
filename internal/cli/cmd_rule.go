package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/sigma"
)

const ruleAddUsage = `Usage: auditlake rule add --sigma PATH
       auditlake rule add NAME --builtin launch-compliance|root-account-use|cloudtrail-logging-stopped|console-login-without-mfa [--approved-config FILE] [--severity S]
       auditlake rule add NAME --sql "SELECT … FROM {events} WHERE …" [--severity S]
       (any form) [--group-by principal|account|region|resource|event] [--window D]: one alert per key and window (default principal, 1h; auditlake rule group)

Registers detection rules (in <data>/rules.json), enabled. --sigma reads a Sigma YAML file or a directory of
them (searched recursively): rules for logsource product aws, service cloudtrail compile to SQL over a
CloudTrail store (docs/detections.md says how fields and modifiers map). A rule that uses what is not
supported is refused with its file, id and reason, the others are added, and the exit code is 3. Adding a
Sigma rule again updates it (same id) and keeps it enabled or disabled, and keeps its grouping (auditlake
rule group) unless --group-by or --window is given. --sql is one SELECT in the
Trino/Athena dialect of 'auditlake query' that reads only {events}: the events a hunt covers. --builtin
launch-compliance reports each instance launched outside the templates of --approved-config (the file
'report launch-compliance' reads). Severities: informational, low, medium, high, critical (a Sigma rule's is
its level).`

const ruleAddExamples = `  auditlake rule add --sigma ./sigma/rules/cloud/aws/cloudtrail/
  auditlake rule add non-approved-launch --builtin launch-compliance --approved-config approved.json
  auditlake rule add root-use --builtin root-account-use
  auditlake rule add big-spender --sql "SELECT eventtime, eventid, useridentity.arn AS principal FROM {events} WHERE eventname = 'RunInstances' AND requestparameters['instanceType'] LIKE '%.metal'" --severity high`

func runRuleAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "rule add")
	sigmaPath := fs.String("sigma", "", "a Sigma YAML file, or a directory of them")
	builtin := fs.String("builtin", "", "a built-in rule: "+builtinList())
	sql := fs.String("sql", "", "one SELECT reading {events}")
	severity := fs.String("severity", "", "informational, low, medium, high or critical (default: the built-in's, or medium)")
	approvedConfig := fs.String("approved-config", "", "launch-compliance: JSON file with approved_templates and require_autoscaling")
	groupBy := fs.String("group-by", "", "one alert per this key and window: principal (default), account, region, resource (instance) or event")
	window := fs.String("window", "", "the grouping window: 1m to 7d (default 1h)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := alerts.CheckGrouping(*groupBy, *window); err != nil {
		return usagef("%v", strings.TrimPrefix(err.Error(), "rule : "))
	}
	n := 0
	for _, s := range []string{*sigmaPath, *builtin, *sql} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return usagef("give exactly one of --sigma PATH, --builtin KIND or --sql QUERY")
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	if *sigmaPath != "" {
		if len(pos) > 0 {
			return usagef("--sigma takes no NAME: a Sigma rule is named by its id")
		}
		return addSigma(ctx, env, lk, *sigmaPath, *severity, *groupBy, *window)
	}
	if len(pos) != 1 {
		return usagef("name the rule: auditlake rule add NAME --builtin KIND | --sql QUERY")
	}
	r := rules.Rule{ID: pos[0], Title: pos[0], Enabled: true, Severity: *severity, GroupBy: *groupBy, Window: *window}
	switch {
	case *builtin != "":
		b, ok := rules.BuiltinNamed(*builtin)
		if !ok {
			return usagef("--builtin %q: want one of %s", *builtin, builtinList())
		}
		r.Kind, r.Builtin, r.Title, r.Description = rules.KindBuiltin, b.Name, b.Title, b.Description
		if r.Severity == "" {
			r.Severity = b.Severity
		}
		if b.Name == rules.LaunchCompliance {
			if *approvedConfig == "" {
				return usagef("--builtin launch-compliance needs --approved-config FILE (the approved launch templates)")
			}
			c, err := compliance.LoadConfig(*approvedConfig)
			if err != nil {
				return usagef("--approved-config: %v", err)
			}
			r.Approved = c
		} else if *approvedConfig != "" {
			return usagef("--approved-config is for --builtin launch-compliance only")
		}
	default:
		r.Kind, r.SQL = rules.KindSQL, *sql
	}
	if _, err := rules.Add(ctx, lk, r); err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(env.Stdout, "added rule %s (%s, %s)\n", r.ID, r.Kind, orDefault(r.Severity, "medium"))
	return nil
}

func addSigma(ctx context.Context, env *Env, lk *lake.Lake, path, severity, groupBy, window string) error {
	compiled, refused, err := sigma.Load(path)
	if err != nil {
		return usagef("%v", err)
	}
	add := rules.FromSigma(compiled)
	doc := map[string]int{} // a rule's document in its file (a file of several)
	for _, r := range compiled {
		doc[r.ID] = r.Doc
	}
	// A file whose id (its file name when it has none) names a built-in or SQL rule would make
	// rules.Add refuse the whole directory: it is refused alone, as any other file.
	existing, err := rules.List(lk)
	if err != nil {
		return err
	}
	add = slices.DeleteFunc(add, func(r rules.Rule) bool {
		i := slices.IndexFunc(existing, func(o rules.Rule) bool { return o.ID == r.ID })
		if i < 0 || existing[i].Kind == rules.KindSigma {
			return false
		}
		refused = append(refused, &sigma.RefusedError{File: r.File, Doc: doc[r.ID], ID: r.ID, Reason: fmt.Sprintf(
			"a %s rule named %q exists: give this rule another id, or remove that one first (auditlake rule remove %s)", existing[i].Kind, r.ID, r.ID)})
		return true
	})
	for i := range add {
		if severity != "" {
			add[i].Severity = severity
		}
		add[i].GroupBy, add[i].Window = groupBy, window
	}
	var res rules.AddResult
	if len(add) > 0 {
		if res, err = rules.Add(ctx, lk, add...); err != nil {
			return usagef("%v", err)
		}
	}
	fmt.Fprintf(env.Stdout, "%d Sigma rules added, %d updated, %d refused\n", len(res.Added), len(res.Updated), len(refused))
	for _, r := range compiled {
		for _, w := range r.Warnings {
			fmt.Fprintf(env.Stderr, "warning: sigma rule %s (%s): %s\n", r.File, r.ID, w)
		}
	}
	for _, r := range refused {
		fmt.Fprintln(env.Stderr, r.Error())
	}
	if len(refused) > 0 {
		rest := "the others were added"
		if len(add) == 0 {
			rest = "no rule was added"
		}
		return &PartialError{Msg: fmt.Sprintf("%s refused (listed above); %s", plural(len(refused), "Sigma rule was", "Sigma rules were"), rest)}
	}
	return nil
}

func builtinList() string {
	var names []string
	for _, b := range rules.Builtins {
		names = append(names, b.Name)
	}
	return strings.Join(names, ", ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func runRuleList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "rule list")
	output := formatFlag(fs, "table", "json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	all, err := rules.List(lk)
	if err != nil {
		return err
	}
	if *output == "json" {
		out := []map[string]any{}
		for _, r := range all {
			row := map[string]any{"id": r.ID, "title": r.Title, "kind": r.Kind, "severity": r.Severity, "enabled": r.Enabled, "added_at": r.AddedAt}
			if r.LastFailure != nil {
				row["last_failure"] = r.LastFailure
			}
			if w := rules.Warnings(r, false); len(w) > 0 {
				row["warnings"] = w
			}
			out = append(out, row)
		}
		return writeJSON(env.Stdout, out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSEVERITY\tENABLED\tTITLE")
	for _, r := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", r.ID, r.Kind, r.Severity, r.Enabled, r.Title)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The table keeps its columns; rules whose last evaluation at a commit failed are named
	// on standard error.
	for _, r := range all {
		if f := r.LastFailure; f != nil {
			fmt.Fprintf(env.Stderr, "rule %s failed at %s on %s: %s (auditlake rule show %s)\n", r.ID, f.At.Format(time.RFC3339), f.Store, f.Error, r.ID)
		}
		for _, w := range rules.Warnings(r, false) {
			fmt.Fprintf(env.Stderr, "warning: rule %s: %s\n", r.ID, w)
		}
	}
	return nil
}

func lookupRule(lk *lake.Lake, ref string) (rules.Rule, error) {
	r, err := rules.Get(lk, ref)
	if errors.Is(err, rules.ErrNotFound) {
		return r, &HintError{Err: &NotFoundError{Msg: err.Error()}, Hint: "list rules with: auditlake rule list"}
	}
	return r, err
}

// ruleArg parses the flags of a command that names one rule, and finds the rule.
func ruleArg(env *Env, fs *flag.FlagSet, args []string) (*lake.Lake, rules.Rule, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, rules.Rule{}, err
	}
	if len(pos) != 1 {
		return nil, rules.Rule{}, usagef("name one rule (its id, or its title)")
	}
	lk, err := openLake(env)
	if err != nil {
		return nil, rules.Rule{}, err
	}
	r, err := lookupRule(lk, pos[0])
	return lk, r, err
}

func runRuleShow(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "rule show")
	output := formatFlag(fs, "text", "json")
	_, r, err := ruleArg(env, fs, args)
	if err != nil {
		return err
	}
	if *output == "json" {
		return writeJSON(env.Stdout, r)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\ntitle:\t%s\nkind:\t%s\nseverity:\t%s\nenabled:\t%t\nadded:\t%s\n", r.ID, r.Title, r.Kind, r.Severity, r.Enabled, r.AddedAt.Format(time.RFC3339))
	if r.Description != "" {
		fmt.Fprintf(tw, "description:\t%s\n", r.Description)
	}
	if r.File != "" {
		fmt.Fprintf(tw, "file:\t%s\n", r.File)
	}
	if r.Builtin != "" {
		fmt.Fprintf(tw, "builtin:\t%s\n", r.Builtin)
	}
	if a := r.Approved; a != nil {
		var list []string
		for _, t := range a.Templates {
			ref := t.ID
			if ref == "" {
				ref = t.Name
			}
			if len(t.Versions) > 0 {
				ref += " versions " + strings.Join(t.Versions, ",")
			}
			list = append(list, ref)
		}
		if len(list) == 0 {
			list = []string{"none: every launch is reported"}
		}
		fmt.Fprintf(tw, "approved templates:\t%s\n", strings.Join(list, "; "))
		fmt.Fprintf(tw, "require auto scaling:\t%t\n", a.RequireAutoScaling)
	}
	if r.SQL != "" {
		fmt.Fprintf(tw, "sql:\t%s\n", r.SQL)
	}
	fmt.Fprintf(tw, "alerts:\tone per %s per %s (auditlake rule group)\n", orDefault(r.GroupBy, alerts.DefaultGroupBy), orDefault(r.Window, "1h"))
	for _, w := range rules.Warnings(r, true) {
		fmt.Fprintf(tw, "warning:\t%s\n", w)
	}
	if f := r.LastFailure; f != nil {
		fmt.Fprintf(tw, "last failure:\t%s on store %s (%d since added): %s\n", f.At.Format(time.RFC3339), f.Store, f.Failures, f.Error)
		fmt.Fprintf(tw, "not evaluated:\tevents %s to %s in %d files (auditlake hunt --eds %s --rules %s --from %s)\n",
			f.From.Format(time.RFC3339), f.To.Format(time.RFC3339), f.Files, f.Store, r.ID, f.From.Format("2006-01-02"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if p, err := rules.Predicate(r); err == nil && p != "" {
		fmt.Fprintf(env.Stdout, "\nSQL predicate over a store's columns:\n%s\n", p)
	}
	if r.Sigma != "" {
		fmt.Fprintf(env.Stdout, "\nSigma rule:\n%s\n", strings.TrimRight(r.Sigma, "\n"))
	}
	return nil
}

var (
	runRuleDisable = runRuleChange("rule disable", "disabled", func(lk *lake.Lake, ref string) (rules.Rule, error) { return rules.SetEnabled(lk, ref, false) })
	runRuleEnable  = runRuleChange("rule enable", "enabled", func(lk *lake.Lake, ref string) (rules.Rule, error) { return rules.SetEnabled(lk, ref, true) })
	runRuleRemove  = runRuleChange("rule remove", "removed", rules.Remove)
)

// runRuleChange runs rule disable, enable and remove.
func runRuleChange(cmd, done string, fn func(*lake.Lake, string) (rules.Rule, error)) func(context.Context, *Env, []string) error {
	return func(ctx context.Context, env *Env, args []string) error {
		lk, r, err := ruleArg(env, newFlags(env, cmd), args)
		if err != nil {
			return err
		}
		r, err = fn(lk, r.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "rule %s %s\n", r.ID, done)
		return nil
	}
}

const ruleCoverageUsage = `Usage: auditlake rule coverage --eds NAME|ID [--from T] [--to T] [--format table|csv|json]

Every registered rule (enabled or not) with the number of events (for launch-compliance: instances) it
matches in the store, most first; rules that match nothing are listed too. A rule that fails is reported
on standard error with no count, and the exit code is 3.`

func runRuleCoverage(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "rule coverage")
	eds := fs.String("eds", "", "event data store (required)")
	from := fs.String("from", "", "first time or date (inclusive)")
	to := fs.String("to", "", "last date (inclusive) or exclusive end time")
	format := formatFlag(fs, "table", "csv", "json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	start := time.Now()
	h, err := openHunt(ctx, env, *eds, *from, *to)
	if err != nil {
		return huntRefused(ctx, env, "rule coverage", "all", *eds, start, err)
	}
	defer h.s.Close()
	all, err := rules.List(h.lk)
	if err != nil {
		return err
	}
	res := &engine.Result{Columns: []engine.Column{{Name: "rule", Type: "VARCHAR"}, {Name: "title", Type: "VARCHAR"}, {Name: "kind", Type: "VARCHAR"},
		{Name: "severity", Type: "VARCHAR"}, {Name: "enabled", Type: "BOOLEAN"}, {Name: "matches", Type: "BIGINT"}}}
	counts := make([]int, len(all))
	var failed []string
	// The rules run as a hunt of them all runs them (Prepare: the rules without a prefilter
	// counted in one shared scan, the rules that admit the same events read together), their
	// matches counted as they are handed on, none kept.
	hunt := rules.NewHunt(h.s, h.target)
	hunt.Prepare(ctx, all)
	for i, r := range all {
		n, err := hunt.Stream(ctx, r, func(*rules.Match) error { return nil })
		if err != nil {
			if ctx.Err() != nil {
				return cmp.Or(auditRead(ctx, env, h.entry("rule coverage", all, 0), start, ctx.Err()), ctx.Err())
			}
			fmt.Fprintf(env.Stderr, "%v\n", err)
			failed = append(failed, r.ID)
			counts[i] = -1
			continue
		}
		counts[i] = n
	}
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return counts[order[a]] > counts[order[b]] })
	for _, i := range order {
		r := all[i]
		var n any = int64(counts[i])
		if counts[i] < 0 {
			n = nil // the rule failed
		}
		res.Rows = append(res.Rows, []any{r.ID, r.Title, r.Kind, r.Severity, r.Enabled, n})
	}
	// Recorded as a hunt of every rule is, a row a rule; never a result that is not recorded.
	if err := auditRead(ctx, env, h.entry("rule coverage", all, len(res.Rows)), start, nil); err != nil {
		return err
	}
	if err := WriteResult(env.Stdout, *format, res, false); err != nil {
		return err
	}
	if len(failed) > 0 {
		return &PartialError{Msg: fmt.Sprintf("%s failed (above): %s", plural(len(failed), "rule", "rules"), strings.Join(failed, ", "))}
	}
	return nil
}

// hunt is an open session over one store and the time range a hunt or coverage covers.
type hunt struct {
	lk     *lake.Lake
	s      *query.Session
	target rules.Target
}

func openHunt(ctx context.Context, env *Env, eds, from, to string) (*hunt, error) {
	if eds == "" {
		return nil, usagef("--eds is required")
	}
	f, t, err := parseRange(from, to)
	if err != nil {
		return nil, err
	}
	lk, err := openLake(env)
	if err != nil {
		return nil, err
	}
	st, err := resolveStore(lk, eds)
	if err != nil {
		return nil, err
	}
	if st.Type != lake.TypeCloudTrail {
		return nil, usagef("store %s is a store of type %s: rules run over CloudTrail stores", st.Name, st.Type)
	}
	if st.Name == auditlog.StoreName {
		foldAudit(ctx, env, lk) // as a query of the audit log: the rules see the actions the spool holds
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		return nil, err
	}
	if bad := s.Damaged(st.ID); bad != nil {
		s.Close()
		return nil, bad
	}
	return &hunt{lk: lk, s: s, target: rules.Target{Store: st, From: f, To: t}}, nil
}
