package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/rules"
)

// TestRulesAndHuntEndToEnd: Sigma rules are added from a directory (a bad file beside them is
// refused by name and the others still load, exit 3), built-in and SQL rules by name; hunt runs
// the enabled rules over the stratus-red-team detonations with partition pruning; disable,
// enable, remove and coverage do what they say.
func TestRulesAndHuntEndToEnd(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))

	rulesDir := filepath.Join(t.TempDir(), "rules")
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"aws_cloudtrail_disable_logging.yml", "aws_cloudtrail_console_login_success_without_mfa.yml", "aws_sts_assumerole_misuse.yml"} {
		data, err := os.ReadFile(testdata("sigma-aws-cloudtrail-rules", "rules", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rulesDir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bad := "title: bad\nid: bad-rule-1\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    userAgent|windash: '-x'\n  condition: sel\n"
	if err := os.WriteFile(filepath.Join(rulesDir, "bad.yml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, dir, "rule", "add", "--sigma", rulesDir)
	if code != 3 || !strings.Contains(out, "3 Sigma rules added") || !strings.Contains(errOut, "bad.yml (bad-rule-1) refused: search sel: userAgent|windash: modifier windash is not supported") {
		t.Fatalf("rule add --sigma: exit %d\n%s\n%s", code, out, errOut)
	}
	mustRun(t, 0, dir, "rule", "add", "root-use", "--builtin", "root-account-use")
	mustRun(t, 0, dir, "rule", "add", "failed-calls", "--severity", "low", "--sql",
		"SELECT eventtime, eventid, eventname, useridentity.arn AS principal FROM {events} WHERE errorcode = 'AccessDenied'")
	if _, errOut, code := run(t, dir, "rule", "add", "sneaky", "--sql", "SELECT * FROM {events}, read_text('/etc/passwd')"); code != 2 || !strings.Contains(errOut, "not allowed") {
		t.Errorf("SQL rule reading a file: exit %d %s", code, errOut)
	}
	if _, errOut, code := run(t, dir, "rule", "add", "x", "--builtin", "launch-compliance"); code != 2 || !strings.Contains(errOut, "--approved-config") {
		t.Errorf("launch-compliance without approvals: exit %d %s", code, errOut)
	}
	// rule show says which templates a launch-compliance rule approves.
	approved := filepath.Join(t.TempDir(), "approved.json")
	if err := os.WriteFile(approved, []byte(`{"approved_templates":[{"id":"lt-0abc"},{"name":"web","versions":["2","3"]}],"require_autoscaling":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, dir, "rule", "add", "launches", "--builtin", "launch-compliance", "--approved-config", approved)
	if show := mustRun(t, 0, dir, "rule", "show", "launches"); !strings.Contains(show, "lt-0abc; web versions 2,3") || !strings.Contains(show, "require auto scaling:  true") {
		t.Errorf("rule show of a launch-compliance rule does not say its approvals:\n%s", show)
	}
	mustRun(t, 0, dir, "rule", "remove", "launches")

	var list []struct {
		ID      string `json:"id"`
		Enabled bool   `json:"enabled"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "rule", "list", "--output", "json")), &list); err != nil || len(list) != 5 {
		t.Fatalf("rule list: %v %v", list, err)
	}

	type match struct {
		Rule, EventID, EventName string
		Time                     string `json:"event_time"`
	}
	hunt := func(args ...string) ([]match, string) {
		t.Helper()
		out, errOut, code := run(t, dir, append([]string{"hunt", "--eds", "trail", "--format", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("hunt %v: exit %d %s", args, code, errOut)
		}
		var rows []map[string]any
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("hunt output: %v\n%s", err, out)
		}
		var ms []match
		for _, r := range rows {
			ms = append(ms, match{Rule: r["rule"].(string), EventID: r["event_id"].(string), EventName: r["event_name"].(string), Time: r["event_time"].(string)})
		}
		return ms, errOut
	}
	count := func(ms []match, rule string) int {
		n := 0
		for _, m := range ms {
			if m.Rule == rule {
				n++
			}
		}
		return n
	}
	const trailRule, mfaRule, assumeRule = "4db60cc0-36fb-42b7-9b58-a5b53019fb74", "77caf516-34e5-4df9-b4db-20744fea0a60", "905d389b-b853-46d0-9d3d-dea0d3a3cd49"
	all, summary := hunt("--rules", "all")
	// --format jsonl: the same matches, an object a line (docs/detections.md).
	jsonl := strings.Split(strings.TrimSuffix(mustRun(t, 0, dir, "hunt", "--eds", "trail", "--rules", "all", "--format", "jsonl"), "\n"), "\n")
	if len(jsonl) != len(all) {
		t.Fatalf("hunt --format jsonl: %d lines, --format json %d matches", len(jsonl), len(all))
	}
	for i, l := range jsonl {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil || r["event_id"] != all[i].EventID {
			t.Fatalf("hunt --format jsonl line %d: %q (%v), want the json format's match %+v", i+1, l, err, all[i])
		}
	}
	if count(all, trailRule) != 2 || count(all, mfaRule) != 1 || count(all, assumeRule) == 0 || count(all, "failed-calls") == 0 {
		t.Errorf("hunt all: %v", all)
	}
	if !strings.Contains(summary, "5 rules") {
		t.Errorf("summary: %s", summary)
	}
	// Partition pruning: a one-day range reads only that day's files.
	day, summary := hunt("--rules", "all", "--from", "2024-08-02", "--to", "2024-08-02")
	for _, m := range day {
		if !strings.HasPrefix(m.Time, "2024-08-02") {
			t.Errorf("match outside the range: %+v", m)
		}
	}
	if count(day, mfaRule) != 1 || count(day, trailRule) != 0 {
		t.Errorf("one day: %v", day)
	}
	var read, total int
	if i := strings.Index(summary, "("); i < 0 || !strings.Contains(summary, "files read") {
		t.Fatalf("summary: %s", summary)
	} else if _, err := fmt.Sscanf(summary[i:], "(%d of %d files read)", &read, &total); err != nil || read == 0 || read >= total {
		t.Errorf("files read: %d of %d (%v) in %q", read, total, err, summary)
	}

	mustRun(t, 0, dir, "rule", "disable", trailRule)
	if ms, _ := hunt("--rules", "all"); count(ms, trailRule) != 0 {
		t.Error("a disabled rule ran in --rules all")
	}
	if ms, _ := hunt("--rules", trailRule+",root-use"); count(ms, trailRule) != 2 || len(ms) != 2 {
		t.Errorf("named rules: %v", ms)
	}
	mustRun(t, 0, dir, "rule", "enable", "AWS CloudTrail Important Change") // by title
	show := mustRun(t, 0, dir, "rule", "show", trailRule)
	if !strings.Contains(show, "SQL predicate") || !strings.Contains(show, "StopLogging") {
		t.Errorf("rule show:\n%s", show)
	}
	mustRun(t, 0, dir, "rule", "remove", "failed-calls")
	if _, errOut, code := run(t, dir, "rule", "show", "failed-calls"); code != 1 || !strings.Contains(errOut, "rule not found") {
		t.Errorf("removed rule: %d %s", code, errOut)
	}

	var cov []struct {
		Rule    string `json:"rule"`
		Matches int    `json:"matches"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "rule", "coverage", "--eds", "trail", "--format", "json")), &cov); err != nil || len(cov) != 4 {
		t.Fatalf("coverage: %v %v", cov, err)
	}
	i := slices.IndexFunc(cov, func(c struct {
		Rule    string `json:"rule"`
		Matches int    `json:"matches"`
	}) bool {
		return c.Rule == trailRule
	})
	if i < 0 || cov[i].Matches != 2 || cov[len(cov)-1].Matches > cov[0].Matches {
		t.Errorf("coverage: %+v", cov)
	}
	// A rule that fails at run time is reported; the others still run (exit 3).
	mustRun(t, 0, dir, "rule", "add", "broken", "--sql", "SELECT no_such_column FROM {events}")
	out, errOut, code = run(t, dir, "hunt", "--eds", "trail", "--rules", "all", "--format", "csv")
	if code != 3 || !strings.Contains(errOut, "rule broken") || !strings.Contains(out, trailRule) {
		t.Errorf("hunt with a broken rule: exit %d\n%s", code, errOut)
	}
	// Coverage runs the rules as the hunt of them all does: each rule's count is its rows in
	// the hunt, the broken rule has no count, and the exit code is 3.
	covOut, errOut, code := run(t, dir, "rule", "coverage", "--eds", "trail", "--format", "json")
	var counts []struct {
		Rule    string `json:"rule"`
		Matches *int   `json:"matches"`
	}
	if err := json.Unmarshal([]byte(covOut), &counts); err != nil || code != 3 || !strings.Contains(errOut, "rule broken") || len(counts) != 5 {
		t.Fatalf("coverage with a broken rule: exit %d, %v\n%s\n%s", code, err, covOut, errOut)
	}
	for _, c := range counts {
		rows := 0
		for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			if strings.HasPrefix(line, c.Rule+",") {
				rows++
			}
		}
		if (c.Rule == "broken") != (c.Matches == nil) || (c.Matches != nil && *c.Matches != rows) {
			t.Errorf("coverage of %s: %v, the hunt's rows %d", c.Rule, c.Matches, rows)
		}
	}
	// The table has every row the CSV has (the hunt hands its rows on in one reused slice).
	table, _, _ := run(t, dir, "hunt", "--eds", "trail", "--rules", "all")
	lines := strings.Split(strings.TrimSpace(out), "\n")[1:]
	if !strings.Contains(table, fmt.Sprintf("(%d rows)", len(lines))) {
		t.Errorf("hunt as a table: not the %d rows of the CSV:\n%s", len(lines), table)
	}
	for _, line := range lines {
		if f := strings.Split(line, ","); len(f) < 4 || !strings.Contains(table, f[3]) {
			t.Errorf("hunt as a table: no row of the CSV's %q", line)
		}
	}
	if _, errOut, code := run(t, dir, "hunt", "--eds", "trail"); code != 2 || !strings.Contains(errOut, "--rules is required") {
		t.Errorf("hunt without --rules: %d %s", code, errOut)
	}
	if _, errOut, code := run(t, dir, "hunt", "--eds", "trail", "--rules", "nope"); code != 1 || !strings.Contains(errOut, "rule not found") {
		t.Errorf("hunt of an unknown rule: %d %s", code, errOut)
	}
}

// TestARuleFailingAtIngestIsShownAndKeepsNoOtherFromAlerting: a SQL rule that passes `rule
// add` and fails on the events (a CAST) does not stop the others' alerts: ingest says which
// rule failed and why (exit 0: the events are stored), `rule show` and `rule list --output
// json` keep the failure and the events it did not evaluate, and `alerts` has the others'.
func TestARuleFailingAtIngestIsShownAndKeepsNoOtherFromAlerting(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "rule", "add", "castfail", "--sql", "SELECT * FROM {events} WHERE CAST(eventname AS integer) = 1")
	mustRun(t, 0, dir, "rule", "add", "password-data", "--sql", "SELECT * FROM {events} WHERE eventname = 'GetPasswordData'")
	_, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
	if code != 0 || !strings.Contains(errOut, "alerts: rule castfail failed: Conversion Error") || strings.Contains(errOut, "evaluation failed") {
		t.Fatalf("ingest: exit %d\n%s", code, errOut)
	}
	show := mustRun(t, 0, dir, "rule", "show", "castfail")
	if !strings.Contains(show, "last failure:") || !strings.Contains(show, "on store trail") || !strings.Contains(show, "auditlake hunt --eds trail --rules castfail --from 2024-") {
		t.Errorf("rule show:\n%s", show)
	}
	var list []struct {
		ID          string         `json:"id"`
		LastFailure *rules.Failure `json:"last_failure"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "rule", "list", "--output", "json")), &list); err != nil || len(list) != 2 {
		t.Fatalf("rule list: %v %v", list, err)
	}
	for _, r := range list {
		if failed := r.LastFailure != nil; failed != (r.ID == "castfail") {
			t.Errorf("rule %s: last failure %+v", r.ID, r.LastFailure)
		}
	}
	if out := mustRun(t, 0, dir, "alerts", "--rule", "password-data"); strings.Contains(out, "(0 rows)") {
		t.Errorf("the working rule raised no alert:\n%s", out)
	}
}

// TestAlertsOfARuleNamedByTitle: `alerts --rule` takes a rule's title as rule show, hunt and
// rule disable do; it filtered on the id only, so the title of a Sigma rule (whose id is a
// UUID) listed nothing, with exit 0. An id that no rule has (one removed) still filters.
func TestAlertsOfARuleNamedByTitle(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "rule", "add", "--sigma", testdata("sigma-aws-cloudtrail-rules", "rules", "aws_cloudtrail_disable_logging.yml"))
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
	const id = "4db60cc0-36fb-42b7-9b58-a5b53019fb74"
	byID := alertRows(t, dir, "--rule", id)
	if len(byID) == 0 {
		t.Fatal("the rule raised no alert")
	}
	if byTitle := alertRows(t, dir, "--rule", "AWS CloudTrail Important Change"); len(byTitle) != len(byID) || byTitle[0]["rule"] != id {
		t.Errorf("alerts --rule TITLE: %v, want the %d alerts of %s", byTitle, len(byID), id)
	}
	mustRun(t, 0, dir, "rule", "remove", id)
	if rows := alertRows(t, dir, "--rule", id); len(rows) != len(byID) {
		t.Errorf("alerts --rule of a removed rule's id: %v", rows)
	}
}
