package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileRulesNeitherStallNorBlockACommit: a Sigma value whose wildcards made the engine
// backtrack without end (`*a*a*a*a*a*a*a*a*a*b` over a 200-character user agent stalled the
// evaluation of a commit and a hunt for good) is added and evaluated at ingest and in a hunt,
// which finish with its match; rules past the bounds (a regular expression too large for the
// engine, too many wildcards) are refused with file, id and reason while the others load (exit
// 3); a SQL rule whose LIKE would backtrack is refused (exit 2).
func TestHostileRulesNeitherStallNorBlockACommit(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	rulesDir := t.TempDir()
	sigmaRule := func(file, id, sel string) {
		t.Helper()
		body := "title: " + id + "\nid: " + id + "\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    " + sel + "\n  condition: sel\n"
		if err := os.WriteFile(filepath.Join(rulesDir, file), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sigmaRule("stall.yml", "stall", `userAgent: '`+strings.Repeat("*a", 9)+`*b'`)
	sigmaRule("big-re.yml", "big-re", `userAgent|re: '[\p{L}\p{N}]{1000}x'`)
	sigmaRule("many-wild.yml", "many-wild", `userAgent: '`+strings.Repeat("*a", 65)+`'`)
	out, errOut, code := run(t, dir, "rule", "add", "--sigma", rulesDir)
	if code != 3 || !strings.Contains(out, "1 Sigma rule") ||
		!strings.Contains(errOut, "big-re.yml (big-re) refused: search sel: userAgent|re: the regular expression is too large for the engine") ||
		!strings.Contains(errOut, "many-wild.yml (many-wild) refused: userAgent: a value has more than 64 wildcards") {
		t.Fatalf("rule add --sigma: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := run(t, dir, "rule", "add", "like-stall", "--sql",
		"SELECT eventtime, eventid, eventname FROM {events} WHERE useragent LIKE '%a%a%a%a%a%a%a%a%a%b' ESCAPE '\\'"); code != 2 || !strings.Contains(errOut, "backtracking") {
		t.Errorf("SQL rule with a backtracking LIKE: exit %d %s", code, errOut)
	}

	long := strings.Repeat("a", 200)
	recs := []string{
		`{"eventVersion":"1.08","eventID":"only-a","eventTime":"2026-12-04T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","recipientAccountId":"111122223333","userAgent":"` + long + `"}`,
		`{"eventVersion":"1.08","eventID":"a-then-b","eventTime":"2026-12-04T10:01:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","recipientAccountId":"111122223333","userAgent":"` + long + `b"}`,
	}
	trail := filepath.Join(t.TempDir(), "trail.json")
	if err := os.WriteFile(trail, []byte(`{"Records":[`+strings.Join(recs, ",")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", trail)
	var alerts []struct {
		Rule      string `json:"rule"`
		Events    int    `json:"events"`
		EventTime string `json:"event_time"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "alerts", "--format", "json")), &alerts); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || alerts[0].Rule != "stall" || alerts[0].Events != 1 || alerts[0].EventTime != "2026-12-04T10:01:00Z" {
		t.Errorf("alerts after the commit: %+v, want one of rule stall for the event a-then-b (10:01)", alerts)
	}
	var matches []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "hunt", "--eds", "trail", "--rules", "all", "--format", "json")), &matches); err != nil {
		t.Fatal(err)
	}
	if len(matches) != 1 || matches[0]["event_id"] != "a-then-b" {
		t.Errorf("hunt: %v, want the one event a-then-b", matches)
	}
}
