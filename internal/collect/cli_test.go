package collect_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/collect"
	"github.com/auditlake/auditlake/internal/collect/collecttest"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestSourceCommands: add (with its usage errors), list as a table and JSON, show, pause (a
// paused source is not collected), resume, remove.
func TestSourceCommands(t *testing.T) {
	s3 := collecttest.NewS3(t, "trail")
	dir := t.TempDir()
	lk, _ := lake.Open(dir)
	if _, err := lk.Create("trail", lake.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := lk.Create("cfg", lake.CreateOptions{Type: lake.TypeConfig}); err != nil {
		t.Fatal(err)
	}
	d := []string{"--data", dir}
	at := time.Now().UTC().Add(-time.Hour)
	s3.Put(t, "trail", collecttest.TrailKey("o-abc123", "111111111111", "us-east-1", at, "a"), collecttest.TrailFile("111111111111", "us-east-1", at, "a", 3))

	for _, bad := range [][]string{
		{"source", "add", "x", "s3://trail/"},                                      // no --eds
		{"source", "add", "x", "--eds", "nope", "s3://trail/"},                     // no such store (exit 1)
		{"source", "add", "x", "--eds", "trail", "/local/path"},                    // not s3://
		{"source", "add", "x", "--eds", "trail"},                                   // nothing to read
		{"source", "add", "x", "--eds", "cfg", "s3://trail/"},                      // a config store for a trail
		{"source", "add", "x", "--eds", "trail", "--type", "nope", "s3://t/"},      // type
		{"source", "add", "x", "--type", "cur", "s3://billing/"},                   // cur without --table
		{"source", "add", "../x", "--eds", "trail", "s3://trail/"},                 // name
		{"source", "add", "x", "--eds", "trail", "--every", "1ms", "s3://t/"},      // interval
		{"source", "add", "x", "--eds", "trail", "--from", "yesterday", "s3://t/"}, // date
	} {
		want := 2
		if bad[3] == "--eds" && bad[4] == "nope" {
			want = 1
		}
		cliRun(t, want, append(d, bad...)...)
	}
	cliRun(t, 0, append(d, "source", "add", "org", "--eds", "trail", "s3://trail/AWSLogs/o-abc123/", "--every", "1m", "--endpoint-url", s3.URL)...)
	cliRun(t, 1, append(d, "source", "add", "org", "--eds", "trail", "s3://trail/AWSLogs/")...) // exists
	cliRun(t, 0, append(d, "source", "add", "billing", "--type", "cur", "--table", "cur.cur_2026", "s3://billing/cur/r/", "--every", "6h")...)
	cliRun(t, 0, append(d, "source", "add", "q", "--eds", "trail", "--sqs-queue-url", "https://sqs.us-east-1.amazonaws.com/111111111111/q")...)
	cliRun(t, 0, append(d, "source", "pause", "billing")...)
	cliRun(t, 0, append(d, "source", "pause", "q")...)

	out := cliRun(t, 0, append(d, "collect", "--once")...)
	if !strings.Contains(out, "org: ok") {
		t.Fatalf("collect --once:\n%s", out)
	}
	table := cliRun(t, 0, append(d, "source", "list")...)
	for _, col := range []string{"NAME", "TYPE", "TARGET", "STATE", "LAST RUN", "LAST FILE", "EVENTS ADDED", "LAG", "LAST ERROR"} {
		if !strings.Contains(table, col) {
			t.Errorf("source list has no %s column:\n%s", col, table)
		}
	}
	var list []collect.Status
	if err := json.Unmarshal([]byte(cliRun(t, 0, append(d, "source", "list", "--format", "json")...)), &list); err != nil {
		t.Fatal(err)
	}
	byName := map[string]collect.Status{}
	for _, s := range list {
		byName[s.Name] = s
	}
	if s := byName["org"]; s.Status != "ok" || s.Events != 3 || s.Target() != "trail" || len(s.Prefixes) != 1 {
		t.Errorf("org: %+v", s)
	}
	if s := byName["billing"]; s.Status != "paused" || s.Target() != "cur.cur_2026" || time.Duration(s.Every) != 6*time.Hour {
		t.Errorf("billing: %+v", s)
	}
	if s := byName["q"]; time.Duration(s.Every) != 5*time.Minute || s.QueueURL == "" {
		t.Errorf("q: %+v", s)
	}
	show := cliRun(t, 0, append(d, "source", "show", "org")...)
	if !strings.Contains(show, "state:        ok") || !strings.Contains(show, "3 events") {
		t.Errorf("source show:\n%s", show)
	}
	cliRun(t, 1, append(d, "source", "show", "nope")...)
	// A bad file beside good ones: collect --once commits the good and exits 3, as ingest does.
	late := at.Add(time.Minute)
	s3.Put(t, "trail", collecttest.TrailKey("o-abc123", "111111111111", "us-east-1", late, "b"), []byte("{\"Records\": [not json"))
	s3.Put(t, "trail", collecttest.TrailKey("o-abc123", "111111111111", "us-east-1", late, "c"), collecttest.TrailFile("111111111111", "us-east-1", late, "c", 2))
	if out := cliRun(t, 3, append(d, "collect", "--once")...); !strings.Contains(out, "org: problems, 5 events") {
		t.Errorf("collect --once with a bad file:\n%s", out)
	}
	// The bad file is kept on the source, with its reason and when it is read again.
	if show := cliRun(t, 0, append(d, "source", "show", "org")...); !strings.Contains(show, "failed files: 1") ||
		!strings.Contains(show, collecttest.TrailKey("o-abc123", "111111111111", "us-east-1", late, "b")+": ") || !strings.Contains(show, "1 reads, next read ") {
		t.Errorf("source show with a failed file:\n%s", show)
	}
	cliRun(t, 0, append(d, "source", "resume", "billing")...)
	cliRun(t, 0, append(d, "source", "remove", "billing")...)
	cliRun(t, 1, append(d, "source", "remove", "billing")...)
	if out := cliRun(t, 0, append(d, "source", "list")...); strings.Contains(out, "billing") {
		t.Errorf("removed source still listed:\n%s", out)
	}
}
