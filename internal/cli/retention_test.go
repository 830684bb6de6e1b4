package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeEvents writes a trail file with one event per given time.
func writeEvents(t *testing.T, dir string, times []time.Time, name func(i int) string) {
	t.Helper()
	var recs []map[string]any
	for i, tm := range times {
		recs = append(recs, map[string]any{
			"eventVersion": "1.08", "eventTime": tm.UTC().Format(time.RFC3339), "eventSource": "kms.amazonaws.com",
			"eventName": name(i), "awsRegion": "us-east-1", "eventID": "00000000-0000-4000-8000-" + strings.Repeat("0", 8) + itoa4(i),
			"recipientAccountId": "111122223333", "eventType": "AwsApiCall", "readOnly": true,
			"userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"},
		})
	}
	b, _ := json.Marshal(map[string]any{"Records": recs})
	if err := os.WriteFile(filepath.Join(dir, "events.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func itoa4(i int) string {
	s := "0000" + itoa(i)
	return s[len(s)-4:]
}

func TestRetentionIsEnforcedOnIngestAndByPurge(t *testing.T) {
	dir := t.TempDir()
	id := createStore(t, dir, "kept")
	mustRun(t, 0, dir, "eds", "update", "kept", "--retention-days", "30", "--yes")
	src := t.TempDir()
	now := time.Now().UTC()
	// 10 recent events (1..10 days old) and 5 older than 30 days.
	var times []time.Time
	for i := 1; i <= 10; i++ {
		times = append(times, now.Add(-time.Duration(i)*24*time.Hour))
	}
	for i := 0; i < 5; i++ {
		times = append(times, now.Add(-time.Duration(40+i)*24*time.Hour))
	}
	writeEvents(t, src, times, func(i int) string { return "Decrypt" })
	out := mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "kept", src)
	if !strings.Contains(out, "10 added") || !strings.Contains(out, "5 older than the store's retention") {
		t.Fatalf("ingest should keep the 10 events inside 30 days and say it left 5 out:\n%s", out)
	}
	// Raising retention keeps data; lowering it needs --yes and deletes what falls outside.
	mustRun(t, 0, dir, "eds", "update", "kept", "--retention-days", "60")
	if got := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."`+id+`"`)[0][0]; got != "10" {
		t.Fatalf("after raising retention: %s events, want 10", got)
	}
	_, errOut, code := run(t, dir, "eds", "update", "kept", "--retention-days", "7")
	if code == 0 || !strings.Contains(errOut, "--yes") {
		t.Fatalf("lowering retention without --yes: exit %d, %s", code, errOut)
	}
	out = mustRun(t, 0, dir, "eds", "update", "kept", "--retention-days", "7", "--yes")
	if !strings.Contains(out, "purged") {
		t.Fatalf("lowering retention should purge:\n%s", out)
	}
	// Events 1..6 days old remain; the 7-day-old one is at the boundary and goes.
	got := queryCSV(t, dir, `SELECT count(*), min(eventtime) >= now() - INTERVAL 7 DAY FROM "aws:cloudtrail"."`+id+`"`)
	if got[0][0] != "6" || got[0][1] != "true" {
		t.Fatalf("after lowering retention to 7 days: %v, want 6 events all newer than 7 days", got)
	}
	out = mustRun(t, 0, dir, "eds", "purge", "kept")
	if !strings.Contains(out, "purged 0 events") {
		t.Fatalf("a second purge has nothing to do:\n%s", out)
	}
}

func TestAdvancedEventSelectorsKeepNoisyEventsOut(t *testing.T) {
	dir := t.TempDir()
	sel := `[{"Name":"no KMS Decrypt","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"eventName","NotEquals":["Decrypt"]}]}]`
	mustRun(t, 0, dir, "eds", "create", "quiet", "--advanced-event-selectors", sel)
	_, errOut, code := run(t, dir, "eds", "create", "bad", "--advanced-event-selectors", `[{"FieldSelectors":[{"Field":"nope","Equals":["x"]}]}]`)
	if code == 0 || !strings.Contains(errOut, "unknown field") {
		t.Fatalf("invalid selectors: exit %d, %s", code, errOut)
	}
	src := t.TempDir()
	now := time.Now().UTC()
	times := []time.Time{now.Add(-time.Hour), now.Add(-2 * time.Hour), now.Add(-3 * time.Hour), now.Add(-4 * time.Hour)}
	writeEvents(t, src, times, func(i int) string { return []string{"Decrypt", "GenerateDataKey", "Decrypt", "CreateKey"}[i] })
	out := mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "quiet", src)
	if !strings.Contains(out, "2 added") || !strings.Contains(out, "2 left out by its advanced event selectors") {
		t.Fatalf("selectors should leave the 2 Decrypt events out:\n%s", out)
	}
	rows := queryCSV(t, dir, `SELECT eventname FROM "aws:cloudtrail"."quiet" ORDER BY 1`)
	if len(rows) != 2 || rows[0][0] != "CreateKey" || rows[1][0] != "GenerateDataKey" {
		t.Fatalf("kept events: %v", rows)
	}
}

func TestCompactMergesPartitionsWithoutChangingTheEvents(t *testing.T) {
	dir := t.TempDir()
	id := createStore(t, dir, "many")
	// Ten small ingests of the same day's events: ten files in one partition (noon yesterday:
	// an hour ago plus up to nine seconds could straddle midnight, two partitions).
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(-12 * time.Hour)
	for i := 0; i < 10; i++ {
		src := t.TempDir()
		writeEvents(t, src, []time.Time{now.Add(time.Duration(i) * time.Second)}, func(int) string { return "Decrypt" })
		// writeEvents numbers eventIDs from 0 per file: give each file its own id.
		b, _ := os.ReadFile(filepath.Join(src, "events.json"))
		b = []byte(strings.Replace(string(b), "00000000-0000-4000-8000-", "0000000"+itoa(i)+"-0000-4000-8000-", 1))
		os.WriteFile(filepath.Join(src, "events.json"), b, 0o644)
		mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "many", src)
	}
	before := queryCSV(t, dir, `SELECT count(*), count(DISTINCT eventid), min(eventtime), max(eventtime) FROM "aws:cloudtrail"."`+id+`"`)
	out := mustRun(t, 0, dir, "eds", "compact", "many")
	// Ingest already merged the small files once they were more than four; compact merges the rest.
	if !strings.Contains(out, "merged ") || !strings.Contains(out, "1 after") {
		t.Fatalf("compact: %s", out)
	}
	after := queryCSV(t, dir, `SELECT count(*), count(DISTINCT eventid), min(eventtime), max(eventtime) FROM "aws:cloudtrail"."`+id+`"`)
	if strings.Join(before[0], ",") != strings.Join(after[0], ",") || before[0][0] != "10" {
		t.Fatalf("events changed by compaction: before %v after %v", before, after)
	}
	var show struct {
		Files int `json:"files"`
	}
	json.Unmarshal([]byte(mustRun(t, 0, dir, "eds", "show", "many", "--output", "json")), &show)
	if show.Files != 1 {
		t.Fatalf("after compaction the partition has %d files, want 1", show.Files)
	}
}
