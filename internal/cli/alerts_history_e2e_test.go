package cli_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestHistoryIsNotAlertedWhenCompactionRewritesIt: the events a store held when it was first
// watched count as evaluated ("history is for hunt", docs/detections.md), and so they stay
// when compaction (or the ingest's own cold rewrite) replaces their files: the rewritten files
// are evaluated again, leaving out the events of the evaluated files they replaced. Before, they
// were checked against the stored alerts only, which name none of the history's events: every
// match in a backfill ingested before the first rule was alerted at the first compaction.
func TestHistoryIsNotAlertedWhenCompactionRewritesIt(t *testing.T) {
	dir := t.TempDir()
	gen := func(start, days, events, seed string) string {
		src := t.TempDir()
		mustRun(t, 0, t.TempDir(), "generate", "--out", src, "--events", events, "--days", days, "--seed", seed, "--start", start)
		return filepath.Join(src, "AWSLogs")
	}
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", gen("2026-03-01", "3", "3000", "3"))
	mustRun(t, 0, dir, "rule", "add", "root-use", "--builtin", "root-account-use", "--group-by", "event")
	var history []json.RawMessage
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "hunt", "--eds", "trail", "--rules", "root-use", "--format", "json")), &history); err != nil || len(history) == 0 {
		t.Fatalf("the history has no root-use match to test with: %v", err)
	}
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", gen("2026-03-10", "1", "800", "4"))
	mustRun(t, 0, dir, "eds", "compact", "trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", gen("2026-03-12", "1", "800", "5"))
	var got []struct {
		EventTime string `json:"event_time"`
		Rule      string `json:"rule"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "alerts", "--format", "json")), &got); err != nil {
		t.Fatal(err)
	}
	recent := 0
	for _, a := range got {
		if strings.HasPrefix(a.EventTime, "2026-03-0") {
			t.Fatalf("an alert on the history (%d matches, ingested before the first rule): %+v", len(history), a)
		}
		recent++
	}
	if recent == 0 {
		t.Fatal("no alert on the events ingested after the rule was added")
	}
}
