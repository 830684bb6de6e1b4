package compliance_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/query"
)

func approvals(t *testing.T, flags ...string) compliance.Approvals {
	t.Helper()
	var a compliance.Approvals
	for _, f := range flags {
		x, err := compliance.ParseApproved(f)
		if err != nil {
			t.Fatal(err)
		}
		a.Templates = append(a.Templates, x)
	}
	return a
}

func report(t *testing.T, s *query.Session, p compliance.Params) map[string]compliance.Row {
	t.Helper()
	if p.Store == "" {
		p.Store = "prod-trail"
	}
	r, err := compliance.LaunchCompliance(context.Background(), s, p)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]compliance.Row{}
	for _, row := range r.Rows {
		if _, dup := m[row.InstanceID]; dup {
			t.Errorf("instance %s has two rows", row.InstanceID)
		}
		m[row.InstanceID] = row
	}
	return m
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestLaunchComplianceRowsFollowEveryRule checks each row against answers worked out by hand from
// the fixture: every item of every successful RunInstances is a row (panther's maxCount-2 console
// call, the derived maxCount-3 call), CreateFleet instances no
// RunInstances names are rows, dry runs and failed calls are not; template by name + $Latest is
// resolved through CreateLaunchTemplate/CreateLaunchTemplateVersion; the template in Auto
// Scaling / fleet system tags is found; ends come from TerminateInstances (any item, not dry
// runs), Auto Scaling scale-in and BidEvictedEvent; cost is summed once per instance with Tax
// excluded and amortised effective cost.
func TestLaunchComplianceRowsFollowEveryRule(t *testing.T) {
	s := openFixture(t)
	got := report(t, s, compliance.Params{Cost: "cur.cur_2026", Approved: approvals(t, "lt-0aaaaaaaaaaaaaaa1:2")})

	type want struct {
		by, role, src, launcher, lt, ver, status, reason, end, endReason string
		hours, unblended, effective                                      float64
	}
	const na = ""
	dataEnd := "2026-09-02T10:00:00Z" // the last event of the fixture
	wants := map[string]want{
		"i-01234567890123456": {"arn:aws:iam::012345678901:user/fakeusername", na, na, "console", na, na, "no_template", "no launch template", "2022-02-07T22:23:18Z", "TerminateInstances by arn:aws:iam::012345678901:user/fakeusername", 253.0 / 3600, 0.05, 0.05},
		"i-0690cd354a0c3850c": {"arn:aws:sts::123412341234:assumed-role/SomeRole/person", "arn:aws:iam::123412341234:role/SomeRole", na, "console", na, na, "no_template", "no launch template", na, na, ts(dataEnd).Sub(ts("2022-10-14T00:35:36Z")).Hours(), 5, 5},
		"i-0d7e4b9be8a0de6ea": {"arn:aws:sts::123123123123:assumed-role/DevAdministrator/temp_user", "arn:aws:iam::123123123123:role/DevAdministrator", na, "console", na, na, "no_template", "no launch template", na, na, ts(dataEnd).Sub(ts("2022-10-20T14:16:43Z")).Hours(), 0, 0},
		"i-00000000000000000": {"arn:aws:sts::123456789012:assumed-role/ARole/user.name", "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/us-west-2/ARole", na, "console", na, na, "no_template", "no launch template", na, na, ts(dataEnd).Sub(ts("2024-04-02T15:13:06Z")).Hours(), 0, 0},
		"i-00000000000000001": {"arn:aws:sts::123456789012:assumed-role/ARole/user.name", "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/us-west-2/ARole", na, "console", na, na, "no_template", "no launch template", na, na, ts(dataEnd).Sub(ts("2024-04-02T16:46:24Z")).Hours(), 0, 0},
		"i-07d06021b0da55115": {"arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling", "arn:aws:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling", na, "eks_nodegroup", "lt-07a0b5cea4ece8ffd", "1", "not_approved", "template lt-07a0b5cea4ece8ffd is not in the approved list", "2024-12-17T06:41:07Z", "Auto Scaling scale-in", 12, 4, 4},
		"i-0d00000000000a001": {"arn:aws:iam::111122223333:user/alice", na, na, "cli", "lt-0aaaaaaaaaaaaaaa1", "2", "approved", "template lt-0aaaaaaaaaaaaaaa1 version 2 is approved", "2026-09-02T10:00:00Z", "TerminateInstances by arn:aws:iam::111122223333:user/alice", 24, 2.5, 2.5},
		"i-0d00000000000a002": {"arn:aws:iam::111122223333:user/alice", na, na, "cli", "lt-0aaaaaaaaaaaaaaa1", "2", "approved", "template lt-0aaaaaaaaaaaaaaa1 version 2 is approved", "2026-09-02T10:00:00Z", "TerminateInstances by arn:aws:iam::111122223333:user/alice", 24, 0, 0},
		"i-0d00000000000a003": {"arn:aws:iam::111122223333:user/alice", na, na, "cli", "lt-0aaaaaaaaaaaaaaa1", "2", "approved", "template lt-0aaaaaaaaaaaaaaa1 version 2 is approved", na, na, 24, 0.75, 0.75},
		"i-0d00000000000b001": {"arn:aws:sts::111122223333:assumed-role/deployer/bob-session", "arn:aws:iam::111122223333:role/deployer", "bob", "sdk", "lt-0bbbbbbbbbbbbbbb2", "1", "not_approved", "template lt-0bbbbbbbbbbbbbbb2 is not in the approved list", "2026-09-02T05:00:00Z", "Spot interruption (BidEvictedEvent)", 18, 0, 0.25},
		"i-0d00000000000c001": {"arn:aws:sts::111122223333:assumed-role/KarpenterNodeRole/karpenter", "arn:aws:iam::111122223333:role/KarpenterNodeRole", na, "ec2_fleet", "lt-0aaaaaaaaaaaaaaa1", "1", "not_approved", "template lt-0aaaaaaaaaaaaaaa1 version 1 is not in the approved list", na, na, 22, 0.3, 0.1},
	}
	var gotIDs, wantIDs []string
	for id := range got {
		gotIDs = append(gotIDs, id)
	}
	for id := range wants {
		wantIDs = append(wantIDs, id)
	}
	sort.Strings(gotIDs)
	sort.Strings(wantIDs)
	if len(gotIDs) != len(wantIDs) {
		t.Fatalf("rows for %v\nwant %v", gotIDs, wantIDs)
	}
	for i := range gotIDs {
		if gotIDs[i] != wantIDs[i] {
			t.Fatalf("rows for %v\nwant %v", gotIDs, wantIDs)
		}
	}
	for id, w := range wants {
		g := got[id]
		end := ""
		if g.TerminatedAt != nil {
			end = g.TerminatedAt.Format(time.RFC3339)
		}
		check := func(field, gotv, wantv string) {
			if gotv != wantv {
				t.Errorf("%s %s = %q, want %q", id, field, gotv, wantv)
			}
		}
		check("launched_by", g.LaunchedBy, w.by)
		check("role_arn", g.RoleARN, w.role)
		check("source_identity", g.SourceIdentity, w.src)
		check("launcher", g.Launcher, w.launcher)
		check("template_id", g.TemplateID, w.lt)
		check("template_version", g.TemplateVersion, w.ver)
		check("status", g.Status, w.status)
		check("reason", g.Reason, w.reason)
		check("terminated_at", end, w.end)
		check("end reason", g.EndReason, w.endReason)
		if d := g.RuntimeHours - w.hours; d > 0.001 || d < -0.001 {
			t.Errorf("%s runtime_hours = %v, want %v", id, g.RuntimeHours, w.hours)
		}
		if g.UnblendedCost != w.unblended || g.EffectiveCost != w.effective {
			t.Errorf("%s cost = %v/%v, want %v/%v", id, g.UnblendedCost, g.EffectiveCost, w.unblended, w.effective)
		}
	}
	if g := got["i-0d00000000000a001"]; g.TemplateName != "web-prod" {
		t.Errorf("template launched by name: template_name = %q, want web-prod", g.TemplateName)
	}
}

// TestApprovalRulesByIDVersionNameAndAutoScaling checks the approval verdict under each way of
// approving: all versions by id, listed versions, by name, from a config file, and the stricter
// --require-autoscaling reading.
func TestApprovalRulesByIDVersionNameAndAutoScaling(t *testing.T) {
	s := openFixture(t)
	cfg := filepath.Join(t.TempDir(), "approved.json")
	if err := os.WriteFile(cfg, []byte(`{"approved_templates":[{"id":"lt-07a0b5cea4ece8ffd"},{"name":"web-prod","versions":["1"]}],"require_autoscaling":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := compliance.LoadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		p       compliance.Params
		want    map[string]string // instance → status
		reasons map[string]string
	}{
		{"id approves every version", compliance.Params{Approved: approvals(t, "lt-0aaaaaaaaaaaaaaa1")},
			map[string]string{"i-0d00000000000a001": "approved", "i-0d00000000000c001": "approved", "i-0d00000000000b001": "not_approved", "i-07d06021b0da55115": "not_approved", "i-01234567890123456": "no_template"}, nil},
		{"listed versions only", compliance.Params{Approved: approvals(t, "lt-0aaaaaaaaaaaaaaa1:1,3", "lt-0bbbbbbbbbbbbbbb2:1")},
			map[string]string{"i-0d00000000000a001": "not_approved", "i-0d00000000000c001": "approved", "i-0d00000000000b001": "approved"},
			map[string]string{"i-0d00000000000a001": "template lt-0aaaaaaaaaaaaaaa1 version 2 is not in the approved list"}},
		{"by name", compliance.Params{Approved: approvals(t, "web-prod:2")},
			map[string]string{"i-0d00000000000a002": "approved", "i-0d00000000000c001": "not_approved"}, nil},
		{"require autoscaling", compliance.Params{Approved: approvals(t, "lt-0aaaaaaaaaaaaaaa1", "lt-07a0b5cea4ece8ffd"), RequireAutoScaling: true},
			map[string]string{"i-07d06021b0da55115": "approved", "i-0d00000000000a001": "not_approved", "i-0d00000000000c001": "not_approved"},
			map[string]string{"i-0d00000000000a001": "launched directly (not through Auto Scaling) under --require-autoscaling"}},
		{"config file", compliance.Params{Approved: c.Approvals, RequireAutoScaling: c.RequireAutoScaling},
			map[string]string{"i-07d06021b0da55115": "approved", "i-0d00000000000c001": "not_approved", "i-0d00000000000a001": "not_approved"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := report(t, s, tt.p)
			for id, want := range tt.want {
				if got[id].Status != want {
					t.Errorf("%s status = %q (%s), want %q", id, got[id].Status, got[id].Reason, want)
				}
			}
			for id, want := range tt.reasons {
				if got[id].Reason != want {
					t.Errorf("%s reason = %q, want %q", id, got[id].Reason, want)
				}
			}
		})
	}
}

// TestSummaryCountsAndCostAreNotDuplicated: the summary adds each instance's cost once, though
// TerminateInstances, StopInstances and CreateTags also name instances; filters by time and
// account narrow the rows.
func TestSummaryCountsAndCostAreNotDuplicated(t *testing.T) {
	s := openFixture(t)
	r, err := compliance.LaunchCompliance(context.Background(), s, compliance.Params{Store: "prod-trail", Cost: "cur.cur_2026", Approved: approvals(t, "lt-0aaaaaaaaaaaaaaa1:2")})
	if err != nil {
		t.Fatal(err)
	}
	// By hand: EC2 lines of launched instances, Tax excluded: 2.50+0.75+0+0.30+0.05+4.00+5.00.
	want := compliance.Summary{Instances: 11, Approved: 3, NotApproved: 3, NoTemplate: 5, Unblended: 12.6, Effective: 12.65, NotApprovedCost: 9.35}
	if r.Summary != want {
		t.Errorf("summary = %+v\nwant      %+v", r.Summary, want)
	}
	from, to := ts("2026-09-01T00:00:00Z"), ts("2026-09-01T11:30:00Z")
	got := report(t, s, compliance.Params{Cost: "cur.cur_2026", From: &from, To: &to, Accounts: []string{"111122223333"}})
	if len(got) != 4 {
		t.Errorf("2026-09-01 00:00–11:30 in 111122223333: %d rows, want 4 (a001-a003, b001)", len(got))
	}
}
