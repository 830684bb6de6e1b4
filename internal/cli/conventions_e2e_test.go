package cli_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cli"
)

// complianceStore is a data dir whose store prod-trail holds the derived compliance records:
// five instances launched on 2026-09-01, three from web-prod version 2.
func complianceStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	createStore(t, dir, "prod-trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "prod-trail", testdata("compliance-derived"))
	return dir
}

// reportStatuses runs launch-compliance with args and returns each instance's status.
func reportStatuses(t *testing.T, dir string, args ...string) map[string]string {
	t.Helper()
	out := mustRun(t, 0, dir, append([]string{"report", "launch-compliance", "--eds", "prod-trail", "--format", "json"}, args...)...)
	var r struct {
		Rows []struct {
			InstanceID string `json:"instance_id"`
			Status     string `json:"status"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("launch-compliance --format json: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, row := range r.Rows {
		got[row.InstanceID] = row.Status
	}
	return got
}

// jsonLines parses out as JSON Lines, failing on a line that is not one JSON object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", sc.Text(), err)
		}
		rows = append(rows, row)
	}
	return rows
}

// TestInstanceGivesTheReportsVerdictWithTheSameApprovals reproduces issue 15.14: instance said
// "not approved" for instances the report calls approved and took no approval flags; with the
// same --approved-template or --approved-config, every instance's verdict is the report's. An
// invalid id is a usage error, an unknown one "not found" (exit 1), not "no launch" with exit 0.
func TestInstanceGivesTheReportsVerdictWithTheSameApprovals(t *testing.T) {
	dir := complianceStore(t)
	config := filepath.Join(t.TempDir(), "approved.json")
	os.WriteFile(config, []byte(`{"approved_templates":[{"name":"web-prod","versions":["2"]}]}`), 0o644)
	for _, approval := range [][]string{{"--approved-template", "web-prod:2"}, {"--approved-config", config}, {}} {
		want := reportStatuses(t, dir, approval...)
		approved := 0
		for id, status := range want {
			out := mustRun(t, 0, dir, append([]string{"instance", id, "--eds", "prod-trail", "--format", "json"}, approval...)...)
			var tr struct {
				Summary struct{ Status string } `json:"summary"`
			}
			if err := json.Unmarshal([]byte(out), &tr); err != nil {
				t.Fatal(err)
			}
			if tr.Summary.Status != status {
				t.Errorf("%v: instance %s says %q, the report %q", approval, id, tr.Summary.Status, status)
			}
			if status == "approved" {
				approved++
			}
		}
		if len(approval) > 0 && approved != 3 {
			t.Errorf("%v: %d approved instances, want the 3 of web-prod version 2", approval, approved)
		}
	}
	_, errOut, code := run(t, dir, "instance", "i-0123456789abcdef0", "--eds", "prod-trail")
	if code != cli.ExitFailure || !strings.Contains(errOut, "i-0123456789abcdef0 not found") {
		t.Errorf("unknown instance: exit %d, want %d and 'not found':\n%s", code, cli.ExitFailure, errOut)
	}
	for _, bad := range []string{"i-xyz", "i-", "0d00000000000a001", "i-0D00000000000A001'"} {
		if _, errOut, code := run(t, dir, "instance", bad, "--eds", "prod-trail"); code != cli.ExitUsage || !strings.Contains(errOut, "not an EC2 instance id") {
			t.Errorf("instance %q: exit %d, want %d (usage):\n%s", bad, code, cli.ExitUsage, errOut)
		}
	}
}

// TestDatesAreInclusiveAndAnEmptyRangeIsAnError reproduces issue 15.15: --to was exclusive in
// the CLI (--from 2026-09-01 --to 2026-09-01 found nothing), and from after to silently
// returned nothing. Dates are inclusive as in the API, for reports and ingest alike.
func TestDatesAreInclusiveAndAnEmptyRangeIsAnError(t *testing.T) {
	dir := complianceStore(t)
	if got := reportStatuses(t, dir, "--from", "2026-09-01", "--to", "2026-09-01"); len(got) != 5 {
		t.Errorf("--from 2026-09-01 --to 2026-09-01: %d instances, want the 5 launched that day", len(got))
	}
	if got := reportStatuses(t, dir, "--to", "2026-08-31"); len(got) != 0 {
		t.Errorf("--to 2026-08-31: %d instances, want none (all launched on 1 September)", len(got))
	}
	if got := reportStatuses(t, dir, "--to", "2026-09-01T11:00:00Z"); len(got) != 3 {
		t.Errorf("--to 2026-09-01T11:00:00Z: %d instances, want the 3 launched before 11:00 (a time is the exclusive end)", len(got))
	}
	for _, args := range [][]string{
		{"report", "launch-compliance", "--eds", "prod-trail"},
		{"report", "daily-spend", "--eds", "prod-trail", "--cur", "cur.none"},
		{"ingest", "cloudtrail", "--eds", "prod-trail", testdata("compliance-derived")},
	} {
		_, errOut, code := run(t, dir, append(args, "--from", "2026-09-02", "--to", "2026-09-01")...)
		if code != cli.ExitUsage || !strings.Contains(errOut, "the range is empty") {
			t.Errorf("%s with --from after --to: exit %d, want %d and 'the range is empty':\n%s", strings.Join(args[:2], " "), code, cli.ExitUsage, errOut)
		}
	}
	// Ingest: a date-only --to takes all of that day's events.
	other := t.TempDir()
	id := createStore(t, other, "day")
	mustRun(t, 0, other, "ingest", "cloudtrail", "--eds", "day", "--from", "2026-09-01", "--to", "2026-09-01", testdata("compliance-derived"))
	days := queryCSV(t, other, `SELECT count(*), count(DISTINCT CAST(eventtime AS date)) FROM "aws:cloudtrail"."`+id+`" WHERE CAST(eventtime AS date) = DATE '2026-09-01'`)
	all := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."prod-trail" WHERE CAST(eventtime AS date) = DATE '2026-09-01'`)
	if days[0][0] != all[0][0] || days[0][0] == "0" {
		t.Errorf("ingest --to 2026-09-01 kept %s of the %s events of that day", days[0][0], all[0][0])
	}
	out := mustRun(t, 0, dir, "help", "report", "daily-spend")
	if strings.Contains(out, "launch time") || !strings.Contains(out, "usage day") {
		t.Errorf("daily-spend's help must speak of usage days, not launch times:\n%s", out)
	}
}

// TestJSONIsOneDocumentAndJSONLinesOneRowALine reproduces issue 15.12: --format json printed
// JSON Lines. Now json is one document (an array of rows for query) and jsonl is JSON Lines,
// for query and every report; --output is the same flag as --format.
func TestJSONIsOneDocumentAndJSONLinesOneRowALine(t *testing.T) {
	dir := complianceStore(t)
	sql := `SELECT eventname, count(*) AS n FROM "aws:cloudtrail"."prod-trail" GROUP BY 1 ORDER BY 1`
	var rows []map[string]any
	for _, flag := range []string{"--format", "--output"} {
		out := mustRun(t, 0, dir, "query", flag, "json", sql)
		rows = nil
		if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) < 2 {
			t.Fatalf("query %s json is not one JSON array of rows: %v\n%s", flag, err, out)
		}
	}
	if lines := jsonLines(t, mustRun(t, 0, dir, "query", "--format", "jsonl", sql)); len(lines) != len(rows) || lines[0]["eventname"] != rows[0]["eventname"] {
		t.Errorf("query --format jsonl: %d lines, want %d rows as in json", len(lines), len(rows))
	}
	if out := mustRun(t, 0, dir, "query", "--format", "json", sql+" LIMIT 0"); strings.TrimSpace(out) != "[]" {
		t.Errorf("no rows as json: %q, want []", out)
	}
	if out := mustRun(t, 0, dir, "query", "SELECT 1 AS one"); !strings.HasSuffix(out, "(1 row)\n") {
		t.Errorf("one row is said in the singular:\n%s", out)
	}

	report := reportStatuses(t, dir, "--approved-template", "web-prod:2")
	lines := jsonLines(t, mustRun(t, 0, dir, "report", "launch-compliance", "--eds", "prod-trail", "--approved-template", "web-prod:2", "--output", "jsonl"))
	if len(lines) != len(report) {
		t.Errorf("launch-compliance jsonl: %d lines, want one per row (%d)", len(lines), len(report))
	}
	for _, l := range lines {
		if report[l["instance_id"].(string)] != l["status"] {
			t.Errorf("jsonl row %v disagrees with the json report", l)
		}
	}
	events := jsonLines(t, mustRun(t, 0, dir, "instance", "i-0d00000000000b001", "--eds", "prod-trail", "--format", "jsonl"))
	if len(events) != 2 || events[1]["kind"] != "end" {
		t.Errorf("instance jsonl: %v, want its 2 events", events)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "eds", "list", "--format", "json")), &list); err != nil || len(list) != 1 {
		t.Errorf("eds list --format json (alias of --output): %v %v", err, list)
	}
	_, errOut, code := run(t, dir, "query", "--format", "yaml", sql)
	if code != cli.ExitUsage || !strings.Contains(errOut, "want table, csv, json, jsonl") {
		t.Errorf("--format yaml: exit %d, want a usage error naming the formats:\n%s", code, errOut)
	}
}

// TestFlagConventions: issue 15.22 — --version and version, a positional NAME for token create
// (the flag still works), usage printed once on -h and on a usage error.
func TestFlagConventions(t *testing.T) {
	dir := t.TempDir()
	v1 := mustRun(t, 0, dir, "--version")
	v2 := mustRun(t, 0, dir, "version")
	if v1 != v2 || !strings.HasPrefix(v1, "auditlake ") || len(strings.TrimSpace(v1)) <= len("auditlake") {
		t.Errorf("--version printed %q, version %q", v1, v2)
	}

	mustRun(t, 0, dir, "eds", "create", "app-events", "--type", "activity")
	mustRun(t, 0, dir, "channel", "create", "my-app", "--eds", "app-events")
	mustRun(t, 0, dir, "token", "create", "--channel", "my-app", "ci-pipeline")
	mustRun(t, 0, dir, "token", "create", "--channel", "my-app", "--name", "nightly")
	if out := mustRun(t, 0, dir, "token", "list"); !strings.Contains(out, "ci-pipeline") || !strings.Contains(out, "nightly") {
		t.Errorf("tokens created by argument and by --name are listed:\n%s", out)
	}
	if _, _, code := run(t, dir, "token", "create", "--channel", "my-app", "a", "--name", "b"); code != cli.ExitUsage {
		t.Errorf("two different names: exit %d, want %d", code, cli.ExitUsage)
	}

	out, errOut, code := run(t, dir, "eds", "list", "-h")
	if code != cli.ExitOK || strings.Count(out, "Usage:") != 1 || errOut != "" {
		t.Errorf("-h: exit %d, usage printed %d times:\n%s\n%s", code, strings.Count(out, "Usage:"), out, errOut)
	}
	out, errOut, code = run(t, dir, "eds", "list", "--bogus")
	if code != cli.ExitUsage || out != "" || strings.Count(errOut, "Usage:") != 1 || !strings.Contains(errOut, "-bogus") {
		t.Errorf("unknown flag: exit %d, want the error and the usage once on stderr, nothing on stdout:\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	_, errOut, _ = run(t, dir, "eds", "create")
	if strings.Count(errOut, "Usage:") != 1 {
		t.Errorf("a usage error prints the usage once:\n%s", errOut)
	}
}

// TestACommandGroupListsItsSubcommands: "help rule" printed the whole command list and "rule"
// alone said unknown command; both now list the group's subcommands (help: exit 0; the bare
// group, or an unknown subcommand of it: exit 2, on stderr).
func TestACommandGroupListsItsSubcommands(t *testing.T) {
	dir := t.TempDir()
	out := mustRun(t, 0, dir, "help", "rule")
	for _, want := range []string{"rule add", "rule coverage", "rule show", "auditlake help rule SUBCOMMAND"} {
		if !strings.Contains(out, want) {
			t.Errorf("help rule lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "eds create") {
		t.Errorf("help rule lists other commands:\n%s", out)
	}
	for _, args := range [][]string{{"rule"}, {"rule", "frob"}, {"eds"}} {
		out, errOut, code := run(t, dir, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, args[0]+" ") || strings.Contains(errOut, "cur register") {
			t.Errorf("auditlake %v: exit %d, want 2 and the group's subcommands on stderr\n%s", args, code, errOut)
		}
	}
}

// A DATE, TIME, UUID, INTERVAL and DECIMAL are shown as Trino prints them in every format of
// query (the table, CSV, JSON and JSON Lines): before, a date was a midnight timestamp, a time
// a day of year 1, a UUID 16 raw bytes, an interval and a decimal Go structs.
func TestQueryShowsDatesTimesUUIDsIntervalsAndDecimalsAsTrino(t *testing.T) {
	dir := t.TempDir()
	q := `SELECT DATE '2026-01-02' AS d, TIME '10:04:05.250' AS tm, CAST('8e5f1a2b-0c3d-4e5f-8a9b-0c1d2e3f4a5b' AS UUID) AS u,
		INTERVAL '1' DAY + INTERVAL '2' HOUR AS i, CAST(1.50 AS DECIMAL(5,2)) AS dec`
	want := []string{"2026-01-02", "10:04:05.250", "8e5f1a2b-0c3d-4e5f-8a9b-0c1d2e3f4a5b", "1 02:00:00.000", "1.50"}
	if got := mustRun(t, 0, dir, "query", "--format", "csv", q); got != "d,tm,u,i,dec\n"+strings.Join(want, ",")+"\n" {
		t.Errorf("csv:\n%s", got)
	}
	// A varbinary's bytes in hex, as Trino's CLI shows them, not raw bytes in a terminal or CSV.
	if got := mustRun(t, 0, dir, "query", "--format", "csv", `SELECT CAST('\x00\x1b\xff'::BLOB AS BLOB) AS b`); got != "b\n00 1b ff\n" {
		t.Errorf("a varbinary in csv: %q", got)
	}
	// A MAP as a JSON object in its order, as arrays and rows are shown, not the driver's
	// debugging text OrderedMap{b: 1, a: 2}.
	mq := `SELECT map(ARRAY['b','a'], ARRAY[1,2]) AS m, [map(ARRAY['k'], ARRAY['v'])] AS am`
	if got := mustRun(t, 0, dir, "query", "--format", "csv", mq); got != "m,am\n\"{\"\"b\"\":1,\"\"a\"\":2}\",\"[{\"\"k\"\":\"\"v\"\"}]\"\n" {
		t.Errorf("a map in csv: %q", got)
	}
	if got := mustRun(t, 0, dir, "query", mq); !strings.Contains(got, `{"b":1,"a":2}`) || strings.Contains(got, "OrderedMap") {
		t.Errorf("a map in the table:\n%s", got)
	}
	table := mustRun(t, 0, dir, "query", q)
	for _, w := range want {
		if !strings.Contains(table, w) {
			t.Errorf("the table has no %q:\n%s", w, table)
		}
	}
	for _, format := range []string{"json", "jsonl"} {
		out := strings.Trim(mustRun(t, 0, dir, "query", "--format", format, q), "[]\n")
		var row map[string]any
		if err := json.Unmarshal([]byte(out), &row); err != nil {
			t.Fatalf("%s: %v\n%s", format, err, out)
		}
		for i, k := range []string{"d", "tm", "u", "i", "dec"} {
			if row[k] != want[i] {
				t.Errorf("%s: %s is %#v, want %q", format, k, row[k], want[i])
			}
		}
	}
}
