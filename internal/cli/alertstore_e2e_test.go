package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storedAlertEvents returns, from the Alert records of auditlake-alerts, how many records there
// are, how many (rule, event id) pairs they name and how many distinct ones.
func storedAlertEvents(t *testing.T, dir string) (records, named, distinct int) {
	t.Helper()
	out := mustRun(t, 0, dir, "query", "--format", "csv", `SELECT (SELECT count(*) FROM "aws:cloudtrail"."auditlake-alerts" WHERE eventname = 'Alert'),
	count(*), count(DISTINCT (rule, id)) FROM (SELECT requestparameters['rule'] AS rule, unnest(json_extract_string(requestparameters['eventIds'], '$[*]')) AS id
	FROM "aws:cloudtrail"."auditlake-alerts" WHERE eventname = 'Alert')`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if _, err := fmt.Sscanf(lines[len(lines)-1], "%d,%d,%d", &records, &named, &distinct); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return records, named, distinct
}

// TestAlertRecordsPerGroupAtMostOnce: a commit's matches are stored as one alert record per rule
// and group (principal and hour here), naming its events — not one record per matched event —
// and each matched event is named once per rule however the evaluation is interrupted: a crash
// between the alerts' commit and the cursor (the marker committed with the alerts says the files
// are evaluated), a crash before the alerts' commit (the files are evaluated again), a cursor
// lost or reset by hand, and compaction rewriting evaluated files into a new one.
func TestAlertRecordsPerGroupAtMostOnce(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	rule := filepath.Join(t.TempDir(), "bucket_deleted.yml")
	if err := os.WriteFile(rule, []byte(`title: Bucket deleted
id: 6f0c8a1e-1f2b-4c3d-8e4f-5a6b7c8d9e0f
status: test
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventSource: s3.amazonaws.com
    eventName: DeleteBucket
  condition: selection
level: high
`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, dir, "rule", "add", "--sigma", rule)
	ingest := func(name string, events ...string) string {
		t.Helper()
		_, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "trail", deleteBucketFile(t, name, events...))
		if code != 0 {
			t.Fatalf("ingest %s: %d\n%s", name, code, errOut)
		}
		return errOut
	}
	events := 5
	ingest("one", "alice@2026-12-04T10:05:00Z", "alice@2026-12-04T10:20:00Z", "alice@2026-12-04T10:59:00Z",
		"bob@2026-12-04T10:30:00Z", "alice@2026-12-04T12:01:00Z")
	if records, named, distinct := storedAlertEvents(t, dir); records != 3 || named != events || distinct != events {
		t.Fatalf("after the first commit: %d records naming %d events (%d distinct); want 3 records (alice 10h, bob 10h, alice 12h) naming 5", records, named, distinct)
	}
	rows := alertRows(t, dir)
	counts := map[string]string{}
	for _, r := range rows {
		counts[fmt.Sprint(r["principal"])+" "+fmt.Sprint(r["event_time"])] = fmt.Sprint(r["events"])
	}
	if len(rows) != 3 || counts["arn:aws:iam::111122223333:user/alice 2026-12-04T10:05:00Z"] != "3" {
		t.Errorf("alerts: %v", counts)
	}

	cursors, _ := filepath.Glob(filepath.Join(dir, "alerts", "cursor-*.json"))
	if len(cursors) != 1 {
		t.Fatalf("cursors: %v", cursors)
	}
	readCursor := func() map[string]any {
		t.Helper()
		var c map[string]any
		data, err := os.ReadFile(cursors[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	writeCursor := func(c map[string]any) {
		t.Helper()
		data, _ := json.Marshal(c)
		if err := os.WriteFile(cursors[0], data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	markers := func() map[string]string {
		t.Helper()
		out := mustRun(t, 0, dir, "query", "--format", "csv", `SELECT eventid, strftime(eventtime, '%Y-%m-%d') FROM "aws:cloudtrail"."auditlake-alerts" WHERE eventname = 'AlertsEvaluated'`)
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			id, date, _ := strings.Cut(l, ",")
			m[id] = date
		}
		return m
	}

	// A crash after the alerts' commit, before the cursor: the cursor names the evaluation in
	// flight, and the marker committed with its alerts is found.
	before, markersBefore := readCursor(), markers()
	ingest("two", "carol@2026-12-04T10:40:00Z")
	events++
	after := readCursor()
	var token, date string
	for id, d := range markers() {
		if _, ok := markersBefore[id]; !ok {
			token, date = id, d
		}
	}
	if token == "" {
		t.Fatal("no marker committed with the second commit's alerts")
	}
	var added []any
	for _, f := range after["files"].([]any) {
		if !strings.Contains(fmt.Sprint(before["files"]), fmt.Sprint(f)) {
			added = append(added, f)
		}
	}
	writeCursor(map[string]any{"files": before["files"], "format": after["format"], "inflight": map[string]any{"token": token, "date": date, "files": added}})
	ingest("three", "dave@2026-12-04T10:41:00Z")
	events++
	if records, named, distinct := storedAlertEvents(t, dir); named != events || distinct != events {
		t.Fatalf("after a crash between the alerts and the cursor: %d records naming %d events (%d distinct), want %d", records, named, distinct, events)
	}

	// A crash before the alerts' commit: a commit made while no rule ran, named in flight by a
	// marker that was never committed, is evaluated.
	mustRun(t, 0, dir, "rule", "disable", "6f0c8a1e-1f2b-4c3d-8e4f-5a6b7c8d9e0f")
	beforeFour := readCursor()
	ingest("four", "erin@2026-12-04T10:42:00Z")
	mustRun(t, 0, dir, "rule", "enable", "6f0c8a1e-1f2b-4c3d-8e4f-5a6b7c8d9e0f")
	beforeFour["inflight"] = map[string]any{"token": "00000000-0000-4000-8000-000000000000", "date": "2026-12-04", "files": []any{}}
	writeCursor(beforeFour)
	ingest("five", "frank@2026-12-04T10:43:00Z")
	events += 2
	if records, named, distinct := storedAlertEvents(t, dir); named != events || distinct != events {
		t.Fatalf("after a crash before the alerts' commit: %d records naming %d events (%d distinct), want %d", records, named, distinct, events)
	}

	// A cursor reset by hand (as an older version's, which has no format): every file is
	// evaluated against the stored alerts.
	writeCursor(map[string]any{"files": []any{}})
	errOut := ingest("six", "grace@2026-12-04T10:44:00Z")
	events++
	if records, named, distinct := storedAlertEvents(t, dir); named != events || distinct != events {
		t.Fatalf("after a reset cursor: %d records naming %d events (%d distinct), want %d\n%s", records, named, distinct, events, errOut)
	}

	// Compaction merges the evaluated files of the day into one: its events are not named again.
	mustRun(t, 0, dir, "eds", "compact", "trail")
	errOut = ingest("seven", "heidi@2026-12-04T10:45:00Z")
	events++
	if !strings.Contains(errOut, "replaced evaluated ones checked against the stored alerts") {
		t.Errorf("the compacted file was not checked against the stored alerts:\n%s", errOut)
	}
	if records, named, distinct := storedAlertEvents(t, dir); named != events || distinct != events {
		t.Fatalf("after compaction: %d records naming %d events (%d distinct), want %d\n%s", records, named, distinct, events, errOut)
	}
	total := 0
	for _, r := range alertRows(t, dir) {
		var n int
		fmt.Sscan(fmt.Sprint(r["events"]), &n)
		total += n
	}
	if total != events {
		t.Errorf("auditlake alerts counts %d events, want %d", total, events)
	}
}
