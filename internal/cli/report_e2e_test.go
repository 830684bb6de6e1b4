package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportCommandsEndToEnd runs eds create, ingest and the three report commands in-process
// over the derived compliance records and checks the contract's JSON shapes and values.
func TestReportCommandsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "prod-trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "prod-trail", testdata("compliance-derived"))

	out := mustRun(t, 0, dir, "report", "launch-compliance", "--eds", "prod-trail", "--approved-template", "web-prod:2", "--format", "json")
	var r struct {
		Currency string
		Rows     []map[string]any
		Summary  map[string]float64
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("launch-compliance --format json: %v\n%s", err, out)
	}
	status := map[string]any{}
	for _, row := range r.Rows {
		status[row["instance_id"].(string)] = row["status"]
	}
	want := map[string]any{"i-0d00000000000a001": "approved", "i-0d00000000000a002": "approved", "i-0d00000000000a003": "approved",
		"i-0d00000000000b001": "not_approved", "i-0d00000000000c001": "not_approved"}
	if r.Currency != "USD" || len(status) != len(want) {
		t.Fatalf("rows %v, want %v", status, want)
	}
	for id, s := range want {
		if status[id] != s {
			t.Errorf("%s status %v, want %v", id, status[id], s)
		}
	}
	if r.Summary["instances"] != 5 || r.Summary["approved"] != 3 {
		t.Errorf("summary %v", r.Summary)
	}

	html := filepath.Join(dir, "c.html")
	mustRun(t, 0, dir, "report", "launch-compliance", "--eds", "prod-trail", "--approved-template", "web-prod", "--require-autoscaling", "--format", "html", "--out", html)
	b, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "under --require-autoscaling") {
		t.Errorf("--format html --out wrote %d bytes without the chart or the require-autoscaling reason (%v)", len(b), err)
	}

	out = mustRun(t, 0, dir, "instance", "i-0d00000000000b001", "--eds", "prod-trail", "--format", "json")
	var tr struct {
		InstanceID string `json:"instance_id"`
		Summary    map[string]any
		Events     []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.InstanceID != "i-0d00000000000b001" || tr.Summary["source_identity"] != "bob" || len(tr.Events) != 2 || tr.Events[1]["kind"] != "end" {
		t.Errorf("instance trail = %+v", tr)
	}
	_, _, code := run(t, dir, "report", "launch-compliance", "--eds", "prod-trail", "--format", "xml")
	if code != 2 {
		t.Errorf("--format xml exit %d, want 2", code)
	}
	_, _, code = run(t, dir, "report", "launch-compliance", "--eds", "prod-trail", "--approved-template", ":3")
	if code != 2 {
		t.Errorf("--approved-template :3 exit %d, want 2", code)
	}
}
