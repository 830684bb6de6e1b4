package cli_test

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/configitems/configtest"
)

// configSources writes the scenario as a gzipped snapshot and, for the web group, an API
// history; it returns the directory.
func configSources(t *testing.T) string {
	t.Helper()
	items, err := configtest.Items(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var file, api []map[string]any
	for _, it := range items {
		file = append(file, configtest.FileStyle(it))
		api = append(api, configtest.APIStyle(it))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "snapshot.json.gz"), configtest.Gzip(configtest.Snapshot(file...)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "history.json"), configtest.APIHistory(api[3:8]...), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func createConfigStore(t *testing.T, dir, name string) string {
	t.Helper()
	out := mustRun(t, 0, dir, "eds", "create", name, "--type", "config", "--output", "json")
	var v struct{ ID, Type string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.ID) != 36 {
		t.Fatalf("eds create --type config printed %q (%v)", out, err)
	}
	return v.ID
}

func TestIngestConfigIsIdempotentAndQueryable(t *testing.T) {
	dir := t.TempDir()
	createConfigStore(t, dir, "cfg")
	src := configSources(t)
	out := mustRun(t, 0, dir, "ingest", "config", "--eds", "cfg", src)
	// 15 distinct items: 3 template, 8 group, 4 instance items; the 5 in the history are
	// duplicates of snapshot items.
	if !strings.Contains(out, "20 read, 15 added, 5 duplicates") {
		t.Fatalf("first ingest:\n%s", out)
	}
	out = mustRun(t, 0, dir, "ingest", "config", "--eds", "cfg", src)
	if !strings.Contains(out, "nothing new") {
		t.Fatalf("second ingest should skip unchanged files:\n%s", out)
	}
	rows := queryCSV(t, dir, `SELECT eventdata.resourcename, element_at(eventdata.configuration, 'launchConfigurationName'),
		json_extract_scalar(element_at(eventdata.configuration, 'launchTemplate'), '$.version')
		FROM "aws:cloudtrail"."cfg" WHERE eventdata.resourcetype = 'AWS::AutoScaling::AutoScalingGroup'
		AND eventdata.resourcename = 'web-asg' ORDER BY eventtime`)
	got := make([]string, len(rows))
	for i, r := range rows {
		got[i] = strings.Join(r, "|")
	}
	if want := "web-asg|web-lc|,web-asg||1,web-asg||1,web-asg||2,web-asg||"; strings.Join(got, ",") != want {
		t.Errorf("web-asg history through Trino SQL:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
}

func TestIngestConfigRejectsACloudTrailStoreAndReportsBadItems(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	src := configSources(t)
	if _, errOut, code := run(t, dir, "ingest", "config", "--eds", "trail", src); code != 2 || !strings.Contains(errOut, "--type config") {
		t.Errorf("config items into a cloudtrail store: exit %d, stderr %q; want 2 with a hint", code, errOut)
	}
	createConfigStore(t, dir, "cfg")
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"configurationItems":[
{"resourceType":"AWS::EC2::Instance","resourceId":"i-1","configurationItemCaptureTime":"2026-01-01T00:00:00Z"},
{"resourceType":"AWS::EC2::Instance","resourceId":"i-2"}]}`), 0o644)
	out, errOut, code := run(t, dir, "ingest", "config", "--eds", "cfg", bad)
	if code != 3 || !strings.Contains(errOut, "bad.json: record 2 (line 3): configuration item AWS::EC2::Instance i-2: configurationItemCaptureTime: missing") || !strings.Contains(out, "1 added") {
		t.Errorf("exit %d\nstdout %s\nstderr %s\nwant exit 3, item 2 reported, item 1 added", code, out, errOut)
	}
}

func TestReportConfigRuleVerdictsAndExitCodes(t *testing.T) {
	dir := t.TempDir()
	createConfigStore(t, dir, "cfg")
	mustRun(t, 0, dir, "ingest", "config", "--eds", "cfg", configSources(t))
	report := func(want int, extra ...string) [][]string {
		t.Helper()
		out := mustRun(t, want, dir, append([]string{"report", "config-rule", "autoscaling-launch-template", "--eds", "cfg", "--format", "csv"}, extra...)...)
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("not CSV: %v\n%s", err, out)
		}
		return recs
	}
	recs := report(4, "--approved-template", configtest.ApprovedLT+":2")
	head := strings.Join(recs[0], ",")
	if head != "group_name,group_arn,capture_time,item_status,launch_template_id,launch_template_name,launch_template_version,resolved_version,launch_configuration,managed_verdict,strict_verdict,reason" {
		t.Fatalf("header %s", head)
	}
	var got []string
	for _, r := range recs[1:] {
		got = append(got, r[0]+" "+r[2][:13]+" "+r[4]+":"+r[6]+"→"+r[7]+" "+r[8]+" "+r[9]+"/"+r[10])
	}
	A, R := configtest.ApprovedLT, configtest.RogueLT
	want := []string{
		"web-asg 2026-01-01 10 :→ web-lc NON_COMPLIANT/NON_COMPLIANT",
		"web-asg 2026-01-02 10 " + A + ":1→1  COMPLIANT/NON_COMPLIANT",
		"web-asg 2026-01-03 10 " + R + ":1→1  COMPLIANT/NON_COMPLIANT",
		"web-asg 2026-01-04 10 " + A + ":2→2  COMPLIANT/COMPLIANT",
		"web-asg 2026-01-06 10 :→  NOT_APPLICABLE/NOT_APPLICABLE",
		"batch-asg 2026-01-02 12 " + A + ":$Latest→1  COMPLIANT/NON_COMPLIANT",
		"batch-asg 2026-01-04 12 " + A + ":$Latest→2  COMPLIANT/COMPLIANT",
		"batch-asg 2026-01-05 12 " + A + ":$Latest→2  COMPLIANT/NON_COMPLIANT",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// On Jan 4 at 23:00 both groups run the approved template's version 2: exit 0.
	recs = report(0, "--approved-template", configtest.ApprovedName+":2", "--at", "2026-01-04T23:00:00Z")
	if len(recs) != 3 || recs[1][10] != "COMPLIANT" || recs[2][10] != "COMPLIANT" {
		t.Errorf("--at Jan 4 23:00: %v", recs)
	}
	// Without an allow-list only the managed rule decides the exit code: every live group uses a
	// template, so exit 0 even though nothing passes the strict check.
	recs = report(0)
	if len(recs) != 9 || recs[8][10] != "NON_COMPLIANT" || recs[8][9] != "COMPLIANT" {
		t.Errorf("no allow-list: %v", recs[len(recs)-1])
	}
	if _, _, code := run(t, dir, "report", "config-rule", "some-other-rule", "--eds", "cfg"); code != 2 {
		t.Errorf("an unknown rule: exit %d, want 2", code)
	}
	// --format json is one JSON array of the rows (it was JSON Lines), jsonl one row a line; the
	// message counts agree in number (issue 15.12).
	out, errOut, code := run(t, dir, "report", "config-rule", "autoscaling-launch-template", "--eds", "cfg", "--format", "json", "--at", "2026-01-04T23:00:00Z")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 2 || rows[0]["group_name"] == nil {
		t.Errorf("config-rule --format json: exit %d, %v, %d rows:\n%s", code, err, len(rows), out)
	}
	if !strings.Contains(errOut, "2 configuration items of 2 Auto Scaling groups evaluated; 0 groups NON_COMPLIANT") {
		t.Errorf("config-rule summary: %s", errOut)
	}
	if lines := jsonLines(t, mustRun(t, 0, dir, "report", "config-rule", "autoscaling-launch-template", "--eds", "cfg", "--output", "jsonl", "--at", "2026-01-04T23:00:00Z")); len(lines) != 2 {
		t.Errorf("config-rule --output jsonl: %d lines, want 2", len(lines))
	}
	_, errOut, _ = run(t, dir, "report", "config-rule", "autoscaling-launch-template", "--eds", "cfg", "--approved-template", configtest.ApprovedLT+":2", "--at", "2026-01-05T23:00:00Z")
	if !strings.Contains(errOut, "1 Auto Scaling group is NON_COMPLIANT") && !strings.Contains(errOut, "Auto Scaling groups are NON_COMPLIANT") {
		t.Errorf("config-rule verdict message: %s", errOut)
	}
	if strings.Contains(errOut, "1 Auto Scaling groups") || strings.Contains(errOut, "1 groups") {
		t.Errorf("a count of one in the plural: %s", errOut)
	}
}
