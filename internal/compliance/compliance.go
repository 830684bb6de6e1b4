// Package compliance computes auditlake's launch-template compliance report: one row per
// launched EC2 instance with the template that defined it, who launched it, when it lived and
// what it cost; the daily EC2 spend split by approval status; and the audit trail of one
// instance. The SQL lives in the .sql files beside this code and runs in a query.Session; the
// rules that need history (template names, $Latest/$Default) and the approval verdict run in Go
// over the per-instance rows.
package compliance

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/auditlake/auditlake/internal/query"
)

//go:embed *.sql
var sqlFiles embed.FS

// Status values of a row.
const (
	StatusApproved     = "approved"
	StatusNotApproved  = "not_approved"
	StatusNoTemplate   = "no_template"
	StatusUnattributed = "unattributed" // daily spend only: EC2 lines of no known launched instance
)

// Launcher kinds.
const (
	LauncherAutoScaling = "autoscaling"
	LauncherEC2Fleet    = "ec2_fleet"
	LauncherSpotFleet   = "spot_fleet"
	LauncherEMR         = "emr"
	LauncherEKS         = "eks_nodegroup"
	LauncherConsole     = "console"
	LauncherCLI         = "cli"
	LauncherSDK         = "sdk"
	LauncherOther       = "other"
)

// Params select what a report covers.
type Params struct {
	Store string // event data store name or id
	Cost  string // cost table ("db.table"); empty = no cost
	// From and To bound the launch time: From inclusive, To exclusive.
	From, To *time.Time
	Accounts []string
	Approved Approvals
	// RequireAutoScaling also requires the launch to come through Auto Scaling.
	RequireAutoScaling bool
	// ConfigStore is a Config event data store (name or id) whose AWS::EC2::LaunchTemplate items
	// resolve template names to ids (besides the trail's CreateLaunchTemplate events) and whose
	// Auto Scaling group items say which group an instance belonged to. Empty = no Config lookups.
	ConfigStore string
}

// Row is one launched instance.
type Row struct {
	InstanceID     string    `json:"instance_id"`
	AccountID      string    `json:"account_id"`
	Region         string    `json:"region"`
	LaunchedAt     time.Time `json:"launched_at"`
	LaunchedBy     string    `json:"launched_by"`
	RoleARN        string    `json:"role_arn"`
	SourceIdentity string    `json:"source_identity"`
	Launcher       string    `json:"launcher"`
	// AutoScalingGroup is the instance's aws:autoscaling:groupName tag at launch or, failing
	// that, the group whose Config items listed it (with Params.ConfigStore); empty otherwise.
	AutoScalingGroup string     `json:"auto_scaling_group"`
	TemplateID       string     `json:"template_id"`
	TemplateName     string     `json:"template_name"`
	TemplateVersion  string     `json:"template_version"`
	Status           string     `json:"status"`
	Reason           string     `json:"reason"`
	TerminatedAt     *time.Time `json:"terminated_at"`
	RuntimeHours     float64    `json:"runtime_hours"`
	UnblendedCost    float64    `json:"unblended_cost"`
	EffectiveCost    float64    `json:"effective_cost"`

	// EndReason says how the instance ended (TerminateInstances by …, Auto Scaling scale-in, Spot
	// interruption); LaunchEventID is the launch event. Neither is part of the report JSON.
	EndReason     string `json:"-"`
	LaunchEventID string `json:"-"`
	viaASG        bool
}

// Summary totals a report.
type Summary struct {
	Instances   int     `json:"instances"`
	Approved    int     `json:"approved"`
	NotApproved int     `json:"not_approved"`
	NoTemplate  int     `json:"no_template"`
	Unblended   float64 `json:"unblended_cost"`
	Effective   float64 `json:"effective_cost"`
	// NotApprovedCost is the unblended cost of every instance that is not approved
	// (not_approved and no_template): the money spent outside approved templates.
	NotApprovedCost float64 `json:"not_approved_cost"`
}

// Report is the launch-compliance report.
type Report struct {
	Currency string  `json:"currency"`
	Rows     []Row   `json:"rows"`
	Summary  Summary `json:"summary"`
}

func render(name string, data any) (string, error) {
	b, err := sqlFiles.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	t, err := template.New(name).Parse(string(b))
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", name, err)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return out.String(), nil
}

func timeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// LaunchCompliance builds the report.
func LaunchCompliance(ctx context.Context, s *query.Session, p Params) (*Report, error) {
	rows, _, err := launches(ctx, s, p)
	if err != nil {
		return nil, err
	}
	r := &Report{Currency: "USD", Rows: rows}
	if r.Rows == nil {
		r.Rows = []Row{}
	}
	for _, row := range rows {
		r.Summary.Instances++
		switch row.Status {
		case StatusApproved:
			r.Summary.Approved++
		case StatusNotApproved:
			r.Summary.NotApproved++
		case StatusNoTemplate:
			r.Summary.NoTemplate++
		}
		r.Summary.Unblended += row.UnblendedCost
		r.Summary.Effective += row.EffectiveCost
		if row.Status != StatusApproved {
			r.Summary.NotApprovedCost += row.UnblendedCost
		}
	}
	r.Summary.Unblended, r.Summary.Effective, r.Summary.NotApprovedCost = round(r.Summary.Unblended), round(r.Summary.Effective), round(r.Summary.NotApprovedCost)
	return r, nil
}

// round keeps money to 1e-10 so that float sums print as the cents they are.
func round(f float64) float64 {
	const k = 1e10
	if f < 0 {
		return -float64(int64(-f*k+0.5)) / k
	}
	return float64(int64(f*k+0.5)) / k
}

// factsTable is the session's temporary table of the EC2 lifecycle facts a report reads.
const factsTable = "auditlake_ec2_facts"

// ec2Facts copies the EC2 lifecycle facts of store id (launches, ends, template changes; see
// package lifecycle) into a temporary table of the session and returns its name. The lake keeps
// them beside every data file, so this reads a few plain columns of a few rows per instance;
// for a store whose files predate them, they are computed from the events.
func ec2Facts(ctx context.Context, s *query.Session, id string) (string, error) {
	rel, _ := s.Facts(id)
	if err := s.ExecInternal(ctx, `CREATE OR REPLACE TEMP TABLE `+factsTable+` AS SELECT * FROM `+rel); err != nil {
		return "", fmt.Errorf("read EC2 lifecycle facts: %w", err)
	}
	return factsTable, nil
}

// launches runs launches.sql and applies the Go-side rules. It also returns the cost table.
func launches(ctx context.Context, s *query.Session, p Params) ([]Row, *costTable, error) {
	var out []Row
	cost, err := eachLaunch(ctx, s, p, func(r *Row) error {
		out = append(out, *r)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if out == nil {
		out = []Row{}
	}
	return out, cost, nil
}

// EachLaunch hands fn the report's rows one at a time, in the report's order (launch time, then
// instance id), without holding them: the launch-compliance rule of a hunt writes its matches
// as they come. *Row is reused for the next row. An error from fn stops it and is returned.
func EachLaunch(ctx context.Context, s *query.Session, p Params, fn func(*Row) error) error {
	_, err := eachLaunch(ctx, s, p, fn)
	return err
}

// eachLaunch runs launches.sql, applies the Go-side rules to each row and hands it to fn. It
// also returns the cost table.
func eachLaunch(ctx context.Context, s *query.Session, p Params, fn func(*Row) error) (*costTable, error) {
	id, err := storeID(s, p.Store)
	if err != nil {
		return nil, err
	}
	var cost *costTable
	if p.Cost != "" {
		if cost, err = openCost(ctx, s, p.Cost); err != nil {
			return nil, err
		}
	}
	facts, err := ec2Facts(ctx, s, id)
	if err != nil {
		return nil, err
	}
	hist, err := loadTemplates(ctx, s, facts)
	if err != nil {
		return nil, err
	}
	var cfg *configLookups
	if p.ConfigStore != "" {
		if cfg, err = loadConfig(ctx, s, p.ConfigStore); err != nil {
			return nil, err
		}
		cfg.addNames(hist)
	}
	q, err := render("launches.sql", map[string]string{"Facts": facts, "Cost": cost.perInstance()})
	if err != nil {
		return nil, err
	}
	var dataEnd *time.Time
	if t := s.LastEventTime(id); !t.IsZero() {
		dataEnd = &t
	}
	var fnErr error
	_, err = s.EachInternal(ctx, q, func(v []any) error {
		f := launchFacts{
			instanceID: str(v[0]), account: str(v[1]), region: str(v[2]), at: tm(v[3]), eventID: str(v[4]),
			principal: str(v[5]), issuer: str(v[6]), sourceIdentity: str(v[7]), invokedBy: str(v[8]),
			userAgent: str(v[9]), console: str(v[10]), clientToken: str(v[11]),
			ltID: str(v[12]), ltName: str(v[13]), ltVersion: str(v[14]), lifecycle: str(v[16]),
		}
		f.tags = parseTags(str(v[15]))
		row := launchRow(f, hist, cfg, p)
		row.UnblendedCost, row.EffectiveCost = round(num(v[19])), round(num(v[20]))
		end := tm(v[21])
		if t, ok := v[17].(time.Time); ok {
			t = t.UTC()
			row.TerminatedAt, row.EndReason, end = &t, str(v[18]), t
		}
		if end.IsZero() || end.Before(f.at) {
			end = f.at
		}
		row.RuntimeHours = float64(int64(end.Sub(f.at).Hours()*1000+0.5)) / 1000
		fnErr = fn(&row)
		return fnErr
	}, timeArg(p.From), timeArg(p.To), strings.Join(p.Accounts, ","), timeArg(dataEnd))
	switch {
	case fnErr != nil:
		return nil, fnErr
	case err != nil:
		return nil, fmt.Errorf("launch-compliance over %q: %w", p.Store, err)
	}
	return cost, nil
}

// launchRow is the row of launch f without what the SQL adds (cost, end, runtime): who and
// how, the template as it stood at launch time (hist), and the verdict.
func launchRow(f launchFacts, hist *history, cfg *configLookups, p Params) Row {
	row := Row{
		InstanceID: f.instanceID, AccountID: f.account, Region: f.region, LaunchedAt: f.at,
		LaunchedBy: f.principal, RoleARN: f.issuer, SourceIdentity: f.sourceIdentity,
		LaunchEventID: f.eventID,
	}
	row.Launcher, row.viaASG = classify(f)
	row.TemplateID, row.TemplateName, row.TemplateVersion = hist.resolve(f)
	row.TemplateVersion = cfg.version(row.TemplateID, row.TemplateVersion, f.at)
	if row.AutoScalingGroup = f.tags["aws:autoscaling:groupName"]; row.AutoScalingGroup == "" {
		row.AutoScalingGroup = cfg.group(row.InstanceID, f.at)
	}
	row.Status, row.Reason = verdict(row, p)
	return row
}

// verdict applies the approval rules to a row.
func verdict(r Row, p Params) (status, reason string) {
	if r.TemplateID == "" && r.TemplateName == "" {
		return StatusNoTemplate, "no launch template"
	}
	ref := r.TemplateID
	if ref == "" {
		ref = r.TemplateName
	}
	known, ok := p.Approved.match(r.TemplateID, r.TemplateName, r.TemplateVersion)
	switch {
	case !known:
		return StatusNotApproved, fmt.Sprintf("template %s is not in the approved list", ref)
	case !ok:
		return StatusNotApproved, fmt.Sprintf("template %s version %s is not in the approved list", ref, r.TemplateVersion)
	case p.RequireAutoScaling && !r.viaASG:
		return StatusNotApproved, "launched directly (not through Auto Scaling) under --require-autoscaling"
	}
	return StatusApproved, fmt.Sprintf("template %s version %s is approved", ref, r.TemplateVersion)
}

// launchFacts are the columns of one launch the Go rules read.
type launchFacts struct {
	instanceID, account, region, eventID string
	at                                   time.Time
	principal, issuer, sourceIdentity    string
	invokedBy, userAgent, console        string
	clientToken, ltID, ltName, ltVersion string
	lifecycle                            string
	tags                                 map[string]string
}

func parseTags(js string) map[string]string {
	if js == "" {
		return nil
	}
	var items []struct{ Key, Value string }
	if err := json.Unmarshal([]byte(js), &items); err != nil {
		return nil
	}
	m := make(map[string]string, len(items))
	for _, t := range items {
		m[t.Key] = t.Value
	}
	return m
}

func hasTagPrefix(tags map[string]string, prefixes ...string) bool {
	for k := range tags {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
	}
	return false
}

// classify names the launcher and says whether the launch came through Auto Scaling.
func classify(f launchFacts) (string, bool) {
	ua, inv := strings.ToLower(f.userAgent), strings.ToLower(f.invokedBy)
	issuer := f.issuer + " " + f.principal
	via := func(svc string) bool { return strings.Contains(ua, svc) || strings.Contains(inv, svc) }
	asg := via("autoscaling.amazonaws.com") || f.tags["aws:autoscaling:groupName"] != "" ||
		strings.Contains(issuer, "AWSServiceRoleForAutoScaling")
	switch {
	case via("elasticmapreduce") || hasTagPrefix(f.tags, "aws:elasticmapreduce:"):
		return LauncherEMR, asg
	case via("eks.amazonaws.com") || via("eks-nodegroup.amazonaws.com") || hasTagPrefix(f.tags, "eks:nodegroup-name", "eks:cluster-name", "aws:eks:") ||
		strings.Contains(issuer, "AWSServiceRoleForAmazonEKSNodegroup"):
		return LauncherEKS, asg
	case asg:
		return LauncherAutoScaling, true
	case via("spotfleet.amazonaws.com") || strings.Contains(issuer, "AWSServiceRoleForEC2SpotFleet") || f.tags["aws:ec2spot:fleet-request-id"] != "":
		return LauncherSpotFleet, false
	case via("ec2fleet.amazonaws.com") || f.tags["aws:ec2:fleet-id"] != "" || strings.HasPrefix(f.clientToken, "fleet-") ||
		strings.HasPrefix(f.clientToken, "fleet:") || strings.Contains(issuer, "AWSServiceRoleForEC2Fleet"):
		return LauncherEC2Fleet, false
	case strings.EqualFold(f.console, "true") || via("console.") || via("signin.amazonaws.com") || strings.HasPrefix(ua, "mozilla/"):
		return LauncherConsole, false
	case strings.HasPrefix(ua, "aws-cli/") || strings.Contains(ua, " aws-cli/"):
		return LauncherCLI, false
	case strings.Contains(ua, "boto3") || strings.Contains(ua, "botocore") || strings.Contains(ua, "aws-sdk-") ||
		strings.Contains(ua, "aws-go-sdk") || strings.Contains(ua, "aws-internal") || strings.Contains(ua, "terraform") ||
		strings.Contains(ua, "aws sdk"):
		return LauncherSDK, false
	}
	return LauncherOther, false
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

func tm(v any) time.Time {
	if t, ok := v.(time.Time); ok {
		return t.UTC()
	}
	return time.Time{}
}

func num(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	}
	return 0
}
