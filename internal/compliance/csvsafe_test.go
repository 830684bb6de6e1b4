package compliance_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/compliance"
)

// TestReportCSVSafeNeutralisesEventTextAndKeepsNumbers: the launch-compliance CSV carries text
// from events (who launched, template and group names); with safe, a cell a spreadsheet would
// run as a formula gets a leading ', while negative costs (credits) stay numbers. Without it the
// values are exact (issue 14, item 12).
func TestReportCSVSafeNeutralisesEventTextAndKeepsNumbers(t *testing.T) {
	r := &compliance.Report{Currency: "USD", Rows: []compliance.Row{{
		InstanceID: "i-1", AccountID: "111122223333", Region: "us-east-1", LaunchedAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		LaunchedBy: `=HYPERLINK("http://evil.example","x")`, Launcher: "console", AutoScalingGroup: "@SUM(A1)",
		TemplateID: "lt-1", TemplateName: "+cmd", TemplateVersion: "1", Status: "not_approved", Reason: "-x",
		RuntimeHours: 2, UnblendedCost: -5, EffectiveCost: -0.25,
	}}}
	row := func(safe bool) map[string]string {
		var b bytes.Buffer
		if err := r.WriteCSV(&b, safe); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&b).ReadAll()
		if err != nil || len(recs) != 2 {
			t.Fatalf("not CSV of one row: %v\n%s", err, b.String())
		}
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = recs[1][i]
		}
		return m
	}
	exact, safe := row(false), row(true)
	for col, want := range map[string][2]string{
		"launched_by":        {`=HYPERLINK("http://evil.example","x")`, `'=HYPERLINK("http://evil.example","x")`},
		"auto_scaling_group": {"@SUM(A1)", "'@SUM(A1)"},
		"template_name":      {"+cmd", "'+cmd"},
		"reason":             {"-x", "'-x"},
		"launcher":           {"console", "console"},
		"unblended_cost":     {"-5", "-5"},
		"effective_cost":     {"-0.25", "-0.25"},
		"launched_at":        {"2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"},
	} {
		if exact[col] != want[0] || safe[col] != want[1] {
			t.Errorf("%s: plain %q, safe %q; want %q, %q", col, exact[col], safe[col], want[0], want[1])
		}
	}
	if !strings.HasPrefix(compliance.SafeCSVCell("\t=1"), "'") || compliance.SafeCSVCell("\r=1") != "'\r=1" || compliance.SafeCSVCell("") != "" {
		t.Errorf("tab, carriage return or empty cell mishandled")
	}
}
