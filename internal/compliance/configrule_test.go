package compliance_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/configitems"
	"github.com/auditlake/auditlake/internal/configitems/configtest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// storeScenario ingests the scenario (as a snapshot) into a new config store and opens a
// query session over it.
func storeScenario(t *testing.T) (*query.Session, lake.Store) {
	t.Helper()
	items, err := configtest.Items(configRoot)
	if err != nil {
		t.Fatal(err)
	}
	var file []map[string]any
	for _, it := range items {
		file = append(file, configtest.FileStyle(it))
	}
	src := filepath.Join(t.TempDir(), "snap.json")
	if err := os.WriteFile(src, configtest.Snapshot(file...), 0o644); err != nil {
		t.Fatal(err)
	}
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("cfg", lake.CreateOptions{Type: lake.TypeConfig})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.Config(context.Background(), lk, st, ingest.Options{Sources: []string{src}}); err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(context.Background(), lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, st
}

func evaluate(t *testing.T, approved []configitems.Approved) []configitems.Evaluation {
	t.Helper()
	s, st := storeScenario(t)
	ctx := context.Background()
	groups, err := compliance.LoadGroups(ctx, s, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := compliance.LoadTemplates(ctx, s, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	return configitems.EvaluateLaunchTemplate(groups, tmpl, approved)
}

type verdict struct{ group, at, template, version, managed, strict, reason string }

func verdicts(evals []configitems.Evaluation) []verdict {
	var out []verdict
	for _, e := range evals {
		v := verdict{group: e.Name, at: e.CaptureTime.Format("01-02T15"), managed: e.Managed, strict: e.Strict, reason: e.Reason, version: e.ResolvedVersion}
		if e.Template != nil {
			v.template = e.Template.ID
		}
		out = append(out, v)
	}
	return out
}

// A group whose definition changes from a launch configuration to an approved template's
// unapproved version, to an unapproved template, to the approved version, then is deleted; and
// a mixed-instances group on "$Latest", resolved through the template's own items, that later
// adds an override on an unapproved template. Verdicts worked out by hand from the managed
// rule's definition (aws-formats.md §5.1) and the allow-list web-approved:2.
func TestLaunchTemplateRuleVerdictsOverTime(t *testing.T) {
	A, R := configtest.ApprovedLT, configtest.RogueLT
	got := verdicts(evaluate(t, []configitems.Approved{{ID: A, Versions: []string{"2"}}}))
	C, N, NA := configitems.Compliant, configitems.NonCompliant, configitems.NotApplicable
	want := []verdict{
		// Group ARNs sort web-asg (…0001) before batch-asg (…0002).
		{"web-asg", "01-01T10", "", "", N, N, "uses launch configuration web-lc, not a launch template"},
		{"web-asg", "01-02T10", A, "1", C, N, "template " + A + " (web-approved) version 1 is not an approved version (approved: 2)"},
		{"web-asg", "01-03T10", R, "1", C, N, "template " + R + " (web-rogue) is not an approved template"},
		{"web-asg", "01-04T10", A, "2", C, C, "approved template " + A + " (web-approved) version 2"},
		{"web-asg", "01-06T10", "", "", NA, NA, "the group was deleted"},
		{"batch-asg", "01-02T12", A, "1", C, N, "template " + A + " (web-approved) version 1 ($Latest) is not an approved version (approved: 2)"},
		{"batch-asg", "01-04T12", A, "2", C, C, "approved template " + A + " (web-approved) version 2 ($Latest)"},
		{"batch-asg", "01-05T12", A, "2", C, N, "override: template " + R + " (web-rogue) is not an approved template"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d evaluations, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("evaluation %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
}

// Without an allow-list the managed verdicts are unchanged and nothing passes the strict check;
// an approval by name with no versions approves every version.
func TestLaunchTemplateRuleApprovalForms(t *testing.T) {
	for _, c := range []struct {
		name     string
		approved []configitems.Approved
		strict   string // strict verdicts of the 8 items, one letter each
	}{
		{"none approved", nil, "NNNNXNNN"},
		{"by name, every version", []configitems.Approved{{Name: configtest.ApprovedName}}, "NCNCXCCN"},
		{"both templates by id", []configitems.Approved{{ID: configtest.ApprovedLT}, {ID: configtest.RogueLT, Versions: []string{"1"}}}, "NCCCXCCC"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			var managed strings.Builder
			for _, e := range evaluate(t, c.approved) {
				b.WriteByte(map[string]byte{configitems.Compliant: 'C', configitems.NonCompliant: 'N', configitems.NotApplicable: 'X'}[e.Strict])
				managed.WriteByte(map[string]byte{configitems.Compliant: 'C', configitems.NonCompliant: 'N', configitems.NotApplicable: 'X'}[e.Managed])
			}
			if b.String() != c.strict || managed.String() != "NCCCXCCC" {
				t.Errorf("strict %s managed %s, want strict %s managed NCCCXCCC", b.String(), managed.String(), c.strict)
			}
		})
	}
}

func TestStateAtPicksEachGroupsItemInForce(t *testing.T) {
	evals := evaluate(t, []configitems.Approved{{ID: configtest.ApprovedLT, Versions: []string{"2"}}})
	f := func(at string, want string) {
		t.Helper()
		ts, _ := time.Parse(time.RFC3339, at)
		var got []string
		for _, e := range configitems.StateAt(evals, ts) {
			got = append(got, e.Name+"@"+e.CaptureTime.Format("01-02T15")+"="+e.Strict)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("StateAt(%s) = %v, want %s", at, got, want)
		}
	}
	f("2025-12-31T00:00:00Z", "")
	f("2026-01-01T10:00:00Z", "web-asg@01-01T10=NON_COMPLIANT")
	f("2026-01-03T23:00:00Z", "web-asg@01-03T10=NON_COMPLIANT batch-asg@01-02T12=NON_COMPLIANT")
	f("2026-01-04T23:00:00Z", "web-asg@01-04T10=COMPLIANT batch-asg@01-04T12=COMPLIANT")
	f("2026-01-07T00:00:00Z", "web-asg@01-06T10=NOT_APPLICABLE batch-asg@01-05T12=NON_COMPLIANT")
}

// The compliance report's two lookups: template name → id, and instance → group over time.
func TestLookupsForTheComplianceReport(t *testing.T) {
	s, st := storeScenario(t)
	ctx := context.Background()
	ids, err := compliance.LaunchTemplateIDs(ctx, s, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[configtest.ApprovedName] != configtest.ApprovedLT || ids[configtest.RogueName] != configtest.RogueLT {
		t.Errorf("LaunchTemplateIDs = %v", ids)
	}
	ms, err := compliance.InstanceGroups(ctx, s, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.InstanceID+":"+m.GroupName+":"+m.FirstSeen.Format("01-02")+".."+m.LastSeen.Format("01-02"))
		if m.GroupARN != configtest.GroupARN(configtest.WebGroup) {
			t.Errorf("%s: group ARN %s", m.InstanceID, m.GroupARN)
		}
	}
	want := "i-0aa00000000000001:web-asg:01-01..01-01 i-0aa00000000000002:web-asg:01-02..01-03 i-0aa00000000000003:web-asg:01-03..01-03 i-0aa00000000000004:web-asg:01-04..01-04"
	if strings.Join(got, " ") != want {
		t.Errorf("InstanceGroups:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

// configRoot is the repository root, where testdata/ lies.
const configRoot = "../.."
