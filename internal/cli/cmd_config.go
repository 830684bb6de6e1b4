package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/configitems"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
)

const ingestConfigUsage = `Usage: auditlake ingest config --eds NAME|ID [--from T] [--to T] [--profile P] [--region R] [--endpoint-url URL] SOURCE...

Reads AWS Config configuration items into a config event data store (auditlake eds create NAME --type config).
A SOURCE is a file, a directory (read recursively) or s3://bucket/prefix in Config's delivery layout
(AWSLogs/<account>/Config/<region>/<YYYY>/<M>/<D>/…, month and day not zero-padded). Every shape is read:
ConfigSnapshot and ConfigHistory files, ConfigurationItemChangeNotification messages, oversized change
notifications (the item is read from the S3 object the notification names), Config rule events, EventBridge
and SNS wrappers, and the output of 'aws configservice get-resource-config-history'; gzip or plain. Items are
deduplicated on resource id + capture time; --from/--to bound items by capture time. Exit code 3 means some
items were bad: they are listed and the good ones were committed.`

const ingestConfigExamples = `  auditlake eds create config-items --type config
  auditlake ingest config --eds config-items s3://my-config-bucket/AWSLogs/123456789012/Config/
  aws configservice get-resource-config-history --resource-type AWS::AutoScaling::AutoScalingGroup --resource-id web > h.json
  auditlake ingest config --eds config-items h.json`

const reportConfigRuleUsage = `Usage: auditlake report config-rule autoscaling-launch-template --eds NAME|ID [--approved-template LT[:VERSIONS]]...
       [--approved-config FILE] [--at TIME] [--format table|csv|json|jsonl] [--csv-safe]

Evaluates AWS Config's managed rule autoscaling-launch-template over every stored configuration item of
every Auto Scaling group: one row per group per configuration change, oldest first. managed_verdict is the
managed rule's (COMPLIANT when the group uses a launch template, directly or in a mixed instances policy);
strict_verdict is COMPLIANT only when the template and version — and those of mixed-instances overrides — are
on the approved list ($Latest and $Default are resolved through the template's own Config items at the
capture time). --at shows each group's state at one moment instead. Exit code 4 means a group's current
state (or its state at --at) is NON_COMPLIANT: by the strict check when approved templates are given,
otherwise by the managed rule.`

const reportConfigRuleExamples = `  auditlake report config-rule autoscaling-launch-template --eds config-items
  auditlake report config-rule autoscaling-launch-template --eds config-items --approved-template lt-0abc123:2,3 --format csv
  auditlake report config-rule autoscaling-launch-template --eds config-items --approved-template web-prod --at 2026-01-04T12:00:00Z`

func runIngestConfig(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "ingest config")
	eds := fs.String("eds", "", "config event data store name or id (required)")
	from := fs.String("from", "", "ingest only items captured at or after this date/time (UTC)")
	to := fs.String("to", "", "ingest only items captured up to this date (inclusive: all of that day) or before this time (UTC)")
	workers := fs.Int("workers", 0, "files decoded in parallel (default: one per CPU)")
	batch := fs.Int("batch", 0, "items per atomic commit (default 100000)")
	s3 := addS3Flags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *eds == "" {
		return usagef("--eds is required")
	}
	if len(pos) == 0 {
		return usagef("name at least one SOURCE: a file, a directory or s3://bucket/prefix")
	}
	fromT, toT, err := parseRange(*from, *to)
	if err != nil {
		return err
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	store, err := resolveStore(lk, *eds)
	if err != nil {
		return err
	}
	if err := checkWritable(store); err != nil {
		return err
	}
	if store.Type != lake.TypeConfig {
		return &HintError{Err: usagef("store %q is a store of type %s; Config items go into a config store", store.Name, store.Type),
			Hint: "auditlake eds create NAME --type config"}
	}
	sum, err := ingest.Config(ctx, lk, store, ingest.Options{
		Sources: pos, From: fromT, To: toT, Client: s3.client(), Log: env.Log,
		Progress: env.Stderr, Terminal: env.Terminal, Workers: *workers, BatchRows: *batch,
	})
	return finishIngest(ctx, env, store.Name, pos, "Config", "configuration items", sum, err)
}

func runReportConfigRule(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "report config-rule")
	eds := fs.String("eds", "", "config event data store name or id (required)")
	var approved multiFlag
	fs.Var(&approved, "approved-template", "approved launch template: lt-… or a name, optionally :VERSION[,VERSION…] (repeatable)")
	approvedConfig := fs.String("approved-config", "", `JSON file {"approved_templates":[{"id":"lt-…","versions":["2"]},{"name":"web-prod"}]}`)
	at := fs.String("at", "", "show each group's state at this date/time (UTC) instead of every change")
	format := formatFlag(fs, "table", "csv", "json", "jsonl")
	csvSafe := fs.Bool("csv-safe", false, csvSafeHelp)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != configitems.RuleAutoScalingLaunchTemplate {
		return usagef("name the rule: auditlake report config-rule %s (the only rule evaluated so far)", configitems.RuleAutoScalingLaunchTemplate)
	}
	if *eds == "" {
		return usagef("--eds is required")
	}
	atT, err := parseTimeFlag("at", *at)
	if err != nil {
		return err
	}
	var list []configitems.Approved
	add := func(a compliance.ApprovedTemplate) {
		list = append(list, configitems.Approved{ID: a.ID, Name: a.Name, Versions: a.Versions})
	}
	for _, v := range approved {
		a, err := compliance.ParseApproved(v)
		if err != nil {
			return usagef("--approved-template: %v", err)
		}
		add(a)
	}
	if *approvedConfig != "" {
		c, err := compliance.LoadConfig(*approvedConfig)
		if err != nil {
			return usagef("--approved-config: %v", err)
		}
		for _, a := range c.Templates {
			add(a)
		}
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	store, err := resolveStore(lk, *eds)
	if err != nil {
		return err
	}
	if store.Type != lake.TypeConfig {
		return usagef("store %q is a store of type %s; the rule is evaluated over a config store", store.Name, store.Type)
	}
	start := time.Now()
	s, err := openReportSession(ctx, env)
	if err != nil {
		return err
	}
	defer s.Close()
	groups, err := compliance.LoadGroups(ctx, s, store.ID)
	if err != nil {
		return auditReport(ctx, env, "config-rule", "", compliance.Params{Store: store.Name}, start, 0, err)
	}
	templates, err := compliance.LoadTemplates(ctx, s, store.ID)
	if err != nil {
		return auditReport(ctx, env, "config-rule", "", compliance.Params{Store: store.Name}, start, 0, err)
	}
	evals := configitems.EvaluateLaunchTemplate(groups, templates, list)
	current := configitems.StateAt(evals, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if !atT.IsZero() {
		evals = configitems.StateAt(evals, atT)
		current = evals
	}
	if err := auditReport(ctx, env, "config-rule", "", compliance.Params{Store: store.Name}, start, len(evals), nil); err != nil {
		return err
	}
	if err := WriteResult(env.Stdout, *format, ruleResult(evals), *csvSafe); err != nil {
		return err
	}
	bad := 0
	for _, e := range current {
		v := e.Managed
		if len(list) > 0 {
			v = e.Strict
		}
		if v == configitems.NonCompliant {
			bad++
		}
	}
	fmt.Fprintf(env.Stderr, "%s of %s evaluated; %s NON_COMPLIANT now%s\n",
		plural(len(evals), "configuration item", "configuration items"), plural(len(current), "Auto Scaling group", "Auto Scaling groups"),
		plural(bad, "group", "groups"), map[bool]string{true: " (strict check)", false: " (managed rule)"}[len(list) > 0])
	if bad > 0 {
		verb := map[bool]string{true: "is", false: "are"}[bad == 1]
		return &InvalidError{Msg: fmt.Sprintf("%s %s NON_COMPLIANT", plural(bad, "Auto Scaling group", "Auto Scaling groups"), verb)}
	}
	return nil
}

// ruleResult lays evaluations out as a result table.
func ruleResult(evals []configitems.Evaluation) *engine.Result {
	cols := []string{"group_name", "group_arn", "capture_time", "item_status", "launch_template_id", "launch_template_name",
		"launch_template_version", "resolved_version", "launch_configuration", "managed_verdict", "strict_verdict", "reason"}
	res := &engine.Result{}
	for _, c := range cols {
		typ := "VARCHAR"
		if c == "capture_time" {
			typ = "TIMESTAMP"
		}
		res.Columns = append(res.Columns, engine.Column{Name: c, Type: typ})
	}
	for _, e := range evals {
		var id, name, version any
		if e.Template != nil {
			id, name, version = nz(e.Template.ID), nz(e.Template.Name), nz(e.Template.Version)
		}
		res.Rows = append(res.Rows, []any{e.Name, e.ARN, e.CaptureTime, e.Status, id, name, version, nz(e.ResolvedVersion),
			nz(e.LaunchConfiguration), e.Managed, e.Strict, e.Reason})
	}
	return res
}

// nz is nil (NULL) for an empty string.
func nz(s string) any {
	if s == "" {
		return nil
	}
	return s
}
