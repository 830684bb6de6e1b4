package compliance_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/compliance"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", name, got)
	}
}

// TestDailySpendSplitsEC2LinesByStatus: worked by hand from costCSV with lt-0aaaaaaaaaaaaaaa1:2
// approved. Tax and the S3 line are excluded; the never-launched i-0fff… and the volume are
// unattributed.
func TestDailySpendSplitsEC2LinesByStatus(t *testing.T) {
	s := openFixture(t)
	d, err := compliance.DailySpend(context.Background(), s, compliance.Params{Store: "prod-trail", Cost: "cur.cur_2026", Approved: approvals(t, "lt-0aaaaaaaaaaaaaaa1:2")})
	if err != nil {
		t.Fatal(err)
	}
	want := []compliance.DayRow{
		{Day: "2022-02-07", Status: "no_template", Unblended: 0.05, Effective: 0.05},
		{Day: "2022-10-14", Status: "no_template", Unblended: 2, Effective: 2},
		{Day: "2022-10-15", Status: "no_template", Unblended: 3, Effective: 3},
		{Day: "2024-12-16", Status: "not_approved", Unblended: 4, Effective: 4},
		{Day: "2026-09-01", Status: "approved", Unblended: 1.75, Effective: 1.75},
		{Day: "2026-09-01", Status: "not_approved", Unblended: 0.3, Effective: 0.35},
		{Day: "2026-09-01", Status: "unattributed", Unblended: 10.25, Effective: 10.25},
		{Day: "2026-09-02", Status: "approved", Unblended: 1.5, Effective: 1.5},
	}
	if len(d.Rows) != len(want) {
		t.Fatalf("daily rows = %+v\nwant %+v", d.Rows, want)
	}
	for i := range want {
		if d.Rows[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, d.Rows[i], want[i])
		}
	}
	var html, csv bytes.Buffer
	if err := d.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteCSV(&csv, false); err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, html.String())
	golden(t, "daily-spend.html", html.Bytes())
	golden(t, "daily-spend.csv", csv.Bytes())
}

// checkSelfContained: one file, no script, no external resource, a chart with axis labels,
// currency and a legend.
func checkSelfContained(t *testing.T, html string) {
	t.Helper()
	for _, bad := range []string{"<script", "http://", "https://cdn", "src=", "<link"} {
		if strings.Contains(strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("html output contains %q: not self-contained", bad)
		}
	}
	for _, want := range []string{"<svg", "(UTC)</text>", "cost (USD)", ">not approved</text>", ">unattributed</text>", "<table>"} {
		if !strings.Contains(html, want) {
			t.Errorf("html output lacks %q", want)
		}
	}
}

// TestReportCSVAndHTMLGolden pins the launch-compliance CSV and HTML output.
func TestReportCSVAndHTMLGolden(t *testing.T) {
	s := openFixture(t)
	r, err := compliance.LaunchCompliance(context.Background(), s, compliance.Params{Store: "prod-trail", Cost: "cur.cur_2026", Approved: approvals(t, "lt-0aaaaaaaaaaaaaaa1:2")})
	if err != nil {
		t.Fatal(err)
	}
	var html, csv bytes.Buffer
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteCSV(&csv, false); err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, html.String())
	golden(t, "launch-compliance.html", html.Bytes())
	golden(t, "launch-compliance.csv", csv.Bytes())
}

// TestInstanceTrailTellsTheLifeInOrder: the audit trail of i-0d00000000000a001 — its template's
// two definition events, the launch by name, the dry-run terminate marked as not applied, and
// the real terminate as its end — and its cost per day without the Tax line.
func TestInstanceTrailTellsTheLifeInOrder(t *testing.T) {
	s := openFixture(t)
	tr, err := compliance.Instance(context.Background(), s, "i-0d00000000000a001", compliance.Params{Store: "prod-trail", Cost: "cur.cur_2026", Approved: approvals(t, "web-prod")})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Summary == nil || tr.Summary.Status != "approved" || tr.Summary.TemplateVersion != "2" {
		t.Fatalf("summary = %+v", tr.Summary)
	}
	var got []string
	for _, e := range tr.Events {
		got = append(got, e.Kind+" "+e.EventName+" "+e.Detail)
	}
	want := []string{
		"template CreateLaunchTemplate CreateLaunchTemplate of the instance's template",
		"template CreateLaunchTemplateVersion CreateLaunchTemplateVersion of the instance's template",
		"launch RunInstances launched by arn:aws:iam::111122223333:user/alice (cli), template lt-0aaaaaaaaaaaaaaa1 version 2; approved",
		"state TerminateInstances Terminate (failed: Client.DryRunOperation, not applied)",
		"end TerminateInstances TerminateInstances by arn:aws:iam::111122223333:user/alice",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantCost := []compliance.DayCost{{Day: "2026-09-01", Unblended: 1, Effective: 1}, {Day: "2026-09-02", Unblended: 1.5, Effective: 1.5}}
	if len(tr.DailyCost) != 2 || tr.DailyCost[0] != wantCost[0] || tr.DailyCost[1] != wantCost[1] {
		t.Errorf("daily cost = %+v, want %+v", tr.DailyCost, wantCost)
	}
}
