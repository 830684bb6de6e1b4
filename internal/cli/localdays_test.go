package cli_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cli"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
)

// TestEDSLocalDaysThroughTheCLI: eds publish --local-days 1 --cache-size, eds show (text and
// JSON), a query through the CLI that reads every day, eds update --local-days 0, and the bad
// inputs (a negative number, an unpublished store).
func TestEDSLocalDaysThroughTheCLI(t *testing.T) {
	s3 := icebergtest.NewS3(t, "lake")
	dir := t.TempDir()
	src := t.TempDir()
	start := time.Now().UTC().AddDate(0, 0, -5).Format(time.DateOnly)
	mustRun(t, 0, t.TempDir(), "generate", "--out", src, "--events", "3000", "--days", "6", "--seed", "9", "--start", start)
	id := createStore(t, dir, "trail")
	createStore(t, dir, "other")
	mustRun(t, 0, dir, "catalog", "set", "sql")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", filepath.Join(src, "AWSLogs"))
	mustRun(t, 0, dir, "eds", "compact", "trail")
	const all = `SELECT date(eventtime), count(*), min(eventid), max(eventid) FROM "aws:cloudtrail"."trail" GROUP BY 1 ORDER BY 1`
	want := fmt.Sprint(queryCSV(t, dir, all))

	out := mustRun(t, 0, dir, "eds", "publish", "trail", "--to", "s3://lake/trail/", "--endpoint-url", s3.URL, "--region", "us-east-1", "--local-days", "1", "--cache-size", "64MiB")
	if !strings.Contains(out, "published to s3://lake/trail/") {
		t.Fatalf("eds publish said: %s", out)
	}
	show := mustRun(t, 0, dir, "eds", "show", "trail")
	if !strings.Contains(show, "local days:") || !strings.Contains(show, "of 64.0 MiB") {
		t.Fatalf("eds show does not show the local days and the cache's size:\n%s", show)
	}
	var v struct {
		Status      string `json:"status"`
		RemoteFiles int    `json:"remote_files"`
		Published   struct {
			LocalDays  int   `json:"local_days"`
			CacheBytes int64 `json:"cache_bytes"`
		} `json:"published"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "eds", "show", "trail", "--output", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Status != "ok" || v.RemoteFiles == 0 || v.Published.LocalDays != 1 || v.Published.CacheBytes != 64<<20 {
		t.Fatalf("eds show --output json after --local-days 1: %+v", v)
	}
	// Run again with one of the two: the other stays as configured (the cache size is not
	// reset to its default by --local-days alone, nor the local days by --cache-size alone).
	for _, step := range []struct {
		flags      []string
		days       int
		cacheBytes int64
	}{
		{[]string{"--local-days", "2"}, 2, 64 << 20},
		{[]string{"--cache-size", "48MiB"}, 2, 48 << 20},
		{nil, 2, 48 << 20},
		{[]string{"--local-days", "1"}, 1, 48 << 20},
	} {
		mustRun(t, 0, dir, append([]string{"eds", "publish", "trail", "--to", "s3://lake/trail/", "--endpoint-url", s3.URL, "--region", "us-east-1"}, step.flags...)...)
		if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "eds", "show", "trail", "--output", "json")), &v); err != nil {
			t.Fatal(err)
		}
		if v.Published.LocalDays != step.days || v.Published.CacheBytes != step.cacheBytes {
			t.Fatalf("eds publish again with %v: local days %d, cache %d; want %d, %d", step.flags, v.Published.LocalDays, v.Published.CacheBytes, step.days, step.cacheBytes)
		}
	}
	if got := fmt.Sprint(queryCSV(t, dir, all)); got != want {
		t.Fatalf("the query through the CLI after eviction returns\n%s\nwant\n%s", got, want)
	}
	mustRun(t, 0, dir, "query", "--format", "csv", `SELECT count(*) FROM "aws:cloudtrail"."`+id+`" WHERE eventtime < TIMESTAMP '`+start+` 12:00:00'`)

	out = mustRun(t, 0, dir, "eds", "update", "trail", "--local-days", "0")
	if !strings.Contains(out, "0 files on S3 only") {
		t.Fatalf("eds update --local-days 0 said: %s", out)
	}
	v.RemoteFiles, v.Published.LocalDays = -1, -1 // absent from the JSON when 0
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "eds", "show", "trail", "--output", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.RemoteFiles != -1 || v.Published.LocalDays != -1 {
		t.Fatalf("after --local-days 0: %+v", v)
	}
	s3.Down(true)
	if got := fmt.Sprint(queryCSV(t, dir, all)); got != want {
		t.Fatalf("after --local-days 0, with S3 down, the query returns\n%s\nwant\n%s", got, want)
	}
	s3.Down(false)

	if _, errOut, code := run(t, dir, "eds", "update", "trail", "--local-days", "-2"); code != cli.ExitUsage || !strings.Contains(errOut, "--local-days -2") {
		t.Fatalf("--local-days -2: exit %d, %s", code, errOut)
	}
	if _, errOut, code := run(t, dir, "eds", "update", "other", "--local-days", "3"); code != cli.ExitFailure || !strings.Contains(errOut, "not published") {
		t.Fatalf("--local-days on an unpublished store: exit %d, %s", code, errOut)
	}
}

// TestEDSPublishRefusesNegativeLocalDays: eds publish --local-days -3 was taken as "not given"
// (its default is -1) and published the store keeping every day, where eds update --local-days
// -3 is a usage error; both now refuse it before anything is uploaded.
func TestEDSPublishRefusesNegativeLocalDays(t *testing.T) {
	s3 := icebergtest.NewS3(t, "lake")
	dir, src := t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "300", "--days", "1", "--seed", "2")
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", src)
	for _, n := range []string{"-3", "-1"} {
		_, errOut, code := run(t, dir, "eds", "publish", "trail", "--to", "s3://lake/trail/", "--endpoint-url", s3.URL, "--region", "us-east-1", "--local-days", n)
		if code != 2 || !strings.Contains(errOut, "--local-days "+n) {
			t.Fatalf("eds publish --local-days %s: exit %d, want 2 naming the flag\n%s", n, code, errOut)
		}
	}
	if got := s3.Stored("lake/"); len(got) != 0 {
		t.Fatalf("a refused eds publish uploaded %v", got)
	}
	if show := mustRun(t, 0, dir, "eds", "show", "trail"); strings.Contains(show, "published:") {
		t.Fatalf("a refused eds publish published the store:\n%s", show)
	}
}
