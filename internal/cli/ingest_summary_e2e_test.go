package cli_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cli"
)

// trailDay is when trailFile's events start: 01:00 two days before the tests started, the same
// for every file of a run (event i is i seconds later, within that day for up to 23 hours), so
// that an event repeated in two files is the same event in the same date partition even when
// the files are written on both sides of a second or of midnight UTC.
var trailDay = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2).Add(time.Hour)

// trailFile writes a delivery file of n events with ids first.. at recent times, gzipped when
// name ends in .gz, and returns its bytes.
func trailFile(t *testing.T, path string, first, n int) []byte {
	t.Helper()
	day := trailDay
	var recs []string
	for i := first; i < first+n; i++ {
		recs = append(recs, fmt.Sprintf(`{"eventVersion":"1.08","eventTime":%q,"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","eventID":"00000000-0000-4000-8000-%012d","recipientAccountId":"111122223333","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}}`,
			day.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i))
	}
	b := []byte(`{"Records":[` + strings.Join(recs, ",") + `]}`)
	if strings.HasSuffix(path, ".gz") {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(b)
		zw.Close()
		b = z.Bytes()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// checkSummaryOnce fails unless the ingest summary is printed once and ends with a newline,
// and its counts agree in number.
func checkSummaryOnce(t *testing.T, out string) {
	t.Helper()
	for _, line := range []string{"files: ", "events: "} {
		if strings.Count(out, line) != 1 {
			t.Errorf("the summary line %q is printed %d times:\n%s", line, strings.Count(out, line), out)
		}
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("the summary does not end with a newline: %q", out)
	}
	if m := regexp.MustCompile(`\b1 (files|events|errors|warnings)\b`).FindString(out); m != "" {
		t.Errorf("%q: a count of one in the plural:\n%s", m, out)
	}
}

// TestFailedFileStaysFailedUntilItChanges reproduces issue 15.13 with a truncated .json.gz and a
// text file: both exit 3 on every run while unchanged (a cron job keeps the signal); the
// restored file then ingests cleanly and the next run has nothing new.
func TestFailedFileStaysFailedUntilItChanges(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "failing")
	src := t.TempDir()
	gz := filepath.Join(src, "trail.json.gz")
	whole := trailFile(t, gz, 0, 3000)
	if err := os.WriteFile(gz, whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(src, "notes.json")
	if err := os.WriteFile(notes, []byte("not JSON at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		out, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "failing", src)
		if code != cli.ExitPartial {
			t.Fatalf("run %d: exit %d, want %d (partial)\n%s\n%s", attempt, code, cli.ExitPartial, out, errOut)
		}
		if strings.Contains(out, "nothing new") || !strings.Contains(out, "2 failed") {
			t.Fatalf("run %d: both unchanged failed files must be failed again:\n%s", attempt, out)
		}
		if !strings.Contains(errOut, gz+": ") || !strings.Contains(errOut, notes+": not CloudTrail JSON: ") {
			t.Fatalf("run %d: each failed file is named with what is wrong:\n%s", attempt, errOut)
		}
		checkSummaryOnce(t, out)
	}
	os.Remove(notes)
	if err := os.WriteFile(gz, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, cli.ExitOK, dir, "ingest", "cloudtrail", "--eds", "failing", src)
	if !strings.Contains(out, "3000 read") || !strings.Contains(out, "1 ingested") {
		t.Fatalf("the restored file is read whole:\n%s", out)
	}
	checkSummaryOnce(t, out)
	if got := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."failing"`)[0][0]; got != "3000" {
		t.Fatalf("store holds %s events, want 3000", got)
	}
	out = mustRun(t, cli.ExitOK, dir, "ingest", "cloudtrail", "--eds", "failing", src)
	if !strings.HasPrefix(out, "nothing new to ingest into failing\n") {
		t.Fatalf("after the restored file was read, nothing is new:\n%s", out)
	}
	checkSummaryOnce(t, out)
}

// TestSummariesSayPlainlyWhatHappened: issue 15.20's cases — a directory without CloudTrail
// files, an empty file, a text file — and a summary whose counts add up.
func TestSummariesSayPlainlyWhatHappened(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "plain")
	none := t.TempDir()
	os.WriteFile(filepath.Join(none, "README.txt"), []byte("hello"), 0o644)
	_, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "plain", none)
	if code != cli.ExitFailure || !strings.Contains(errOut, "no CloudTrail files found in "+none) {
		t.Fatalf("a directory without CloudTrail files: exit %d, want %d and a message naming it:\n%s", code, cli.ExitFailure, errOut)
	}

	empty := filepath.Join(t.TempDir(), "empty.json")
	os.WriteFile(empty, nil, 0o644)
	out, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "plain", empty)
	if code != cli.ExitOK || !strings.Contains(errOut, empty+": warning: empty") || !strings.Contains(out, "1 empty") || strings.Contains(out, "ingested") {
		t.Fatalf("an empty file: exit %d\n%s\n%s", code, out, errOut)
	}
	checkSummaryOnce(t, out)

	text := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(text, []byte("hello\n"), 0o644)
	out, errOut, code = run(t, dir, "ingest", "cloudtrail", "--eds", "plain", text)
	if code != cli.ExitPartial || !strings.Contains(errOut, text+": not CloudTrail JSON: ") || !strings.Contains(out, "1 failed") ||
		strings.Contains(out, "ingested") || strings.Contains(errOut, "good events were ingested") || !strings.Contains(errOut, "nothing was added") {
		t.Fatalf("a text file: exit %d\n%s\n%s", code, out, errOut)
	}
	checkSummaryOnce(t, out)

	// Counts add up: read = the sum of what happened to each record.
	src := t.TempDir()
	trailFile(t, filepath.Join(src, "a.json"), 0, 40)
	trailFile(t, filepath.Join(src, "b.json"), 30, 20) // 10 duplicates of a.json
	out = mustRun(t, cli.ExitOK, dir, "ingest", "cloudtrail", "--eds", "plain", src)
	m := regexp.MustCompile(`events: (\d+) read, (\d+) added, (\d+) duplicates\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no events line:\n%s", out)
	}
	read, _ := strconv.Atoi(m[1])
	added, _ := strconv.Atoi(m[2])
	dups, _ := strconv.Atoi(m[3])
	if read != 60 || added != 50 || dups != 10 {
		t.Fatalf("%d read, %d added, %d duplicates; want 60 = 50 + 10", read, added, dups)
	}
	checkSummaryOnce(t, out)
}

// TestInterruptedIngestSaysWhatItCommitted reproduces issue 15.21: Ctrl-C (the context
// cancelled, as main does on SIGINT) after some commits exits with the partial code and says
// how many events from how many files were committed — the number the store then holds — and
// the next run continues where it stopped.
func TestInterruptedIngestSaysWhatItCommitted(t *testing.T) {
	dir := t.TempDir()
	id := createStore(t, dir, "cut")
	src := t.TempDir()
	const files, per = 150, 40
	for f := range files {
		trailFile(t, filepath.Join(src, fmt.Sprintf("f%03d.json", f)), f*per, per)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // cancel once the first batch is committed
		manifest := filepath.Join(dir, "stores", id, "manifest.json")
		for ctx.Err() == nil {
			if _, err := os.Stat(manifest); err == nil {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var out, errb bytes.Buffer
	code := cli.Run(ctx, []string{"--data", dir, "ingest", "cloudtrail", "--eds", "cut", "--batch", "40", "--workers", "1", src}, strings.NewReader(""), &out, &errb)
	if code != cli.ExitPartial {
		t.Fatalf("exit %d, want %d (partial)\n%s\n%s", code, cli.ExitPartial, out.String(), errb.String())
	}
	m := regexp.MustCompile(`interrupted: (\d+) events? committed from (\d+) files?; run again to continue\n`).FindStringSubmatch(errb.String())
	if m == nil || strings.Contains(errb.String(), "context canceled") {
		t.Fatalf("the interruption must say what was committed, not 'context canceled':\n%s", errb.String())
	}
	if n, _ := strconv.Atoi(m[1]); n == 0 || n == files*per {
		t.Fatalf("interrupted after %d of %d events: the test wants an interruption mid-way", n, files*per)
	}
	if got := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."cut"`)[0][0]; got != m[1] {
		t.Fatalf("said %s events committed, the store holds %s", m[1], got)
	}
	// Interrupted before anything was committed: said too, with the same exit code.
	done, stop := context.WithCancel(context.Background())
	stop()
	errb.Reset()
	if code := cli.Run(done, []string{"--data", dir, "ingest", "cloudtrail", "--eds", "cut", src}, strings.NewReader(""), &out, &errb); code != cli.ExitPartial ||
		!strings.Contains(errb.String(), "interrupted") || strings.Contains(errb.String(), "context canceled") {
		t.Fatalf("interrupted at once: exit %d, want %d and 'interrupted':\n%s", code, cli.ExitPartial, errb.String())
	}
	mustRun(t, cli.ExitOK, dir, "ingest", "cloudtrail", "--eds", "cut", src)
	if got := queryCSV(t, dir, `SELECT count(*), count(DISTINCT eventid) FROM "aws:cloudtrail"."cut"`)[0]; got[0] != strconv.Itoa(files*per) || got[1] != got[0] {
		t.Fatalf("after the second run the store holds %v events, want %d distinct", got, files*per)
	}
}
