package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cli"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/query"
)

// TestMain lets the test binary act as the auditlake command, so crash tests can kill a real
// ingest process without building a separate binary.
func TestMain(m *testing.M) {
	if os.Getenv("AUDITLAKE_TEST_CHILD") == "1" {
		os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// crashInput writes files derived from the real stratus samples: each file holds every stratus
// record under fresh, deterministic eventIDs, plus records repeated from the previous file (as
// CloudTrail re-delivers). It returns the number of distinct events.
func crashInput(t *testing.T, dir string, files int) int {
	t.Helper()
	srcs, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs", "*.json"))
	var base []map[string]any
	for _, p := range srcs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var recs []map[string]any
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Fatal(err)
		}
		base = append(base, recs...)
	}
	distinct := 0
	var prev []map[string]any
	for f := 0; f < files; f++ {
		var recs []map[string]any
		for i, r := range base {
			c := make(map[string]any, len(r))
			for k, v := range r {
				c[k] = v
			}
			c["eventID"] = fmt.Sprintf("%08d-0000-4000-8000-%012d", f, i)
			recs = append(recs, c)
			distinct++
		}
		recs = append(recs, prev...) // re-delivered duplicates
		if len(recs) > 20 {
			prev = recs[:20]
		}
		b, _ := json.Marshal(map[string]any{"Records": recs})
		name := filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail", "us-east-1", "2024", "08", "01",
			fmt.Sprintf("111122223333_CloudTrail_us-east-1_20240801T%04dZ_crash%08d.json", f, f))
		os.MkdirAll(filepath.Dir(name), 0o755)
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return distinct
}

func child(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "AUDITLAKE_TEST_CHILD=1")
	return cmd
}

// TestIngestSurvivesSIGKILLAtRandomMoments kills ingest at random moments, resumes it, and
// checks that the store then holds exactly the input's distinct events: none lost, none twice.
// `make stress` (AUDITLAKE_STRESS=1) runs 50 kills; make test a short run.
func TestIngestSurvivesSIGKILLAtRandomMoments(t *testing.T) {
	runs := 6
	if os.Getenv("AUDITLAKE_STRESS") != "" {
		runs = 50
	}
	src := t.TempDir()
	want := crashInput(t, src, 24)
	rng := rand.New(rand.NewPCG(42, uint64(runs)))
	killed := 0
	for run := 0; run < runs; run++ {
		data := t.TempDir()
		if out, err := child("--data", data, "eds", "create", "crash").CombinedOutput(); err != nil {
			t.Fatalf("eds create: %v %s", err, out)
		}
		// Small batches: many commits, so kills land in every phase.
		cmd := child("--data", data, "ingest", "cloudtrail", "--eds", "crash", "--batch", "700", src)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(50+rng.IntN(1500)) * time.Millisecond
		time.Sleep(delay)
		if cmd.Process.Signal(syscall.SIGKILL) == nil {
			if err := cmd.Wait(); err != nil {
				killed++
			}
		}
		// Resume; run it twice to show the second resume adds nothing.
		for i := 0; i < 2; i++ {
			if b, err := child("--data", data, "ingest", "cloudtrail", "--eds", "crash", src).CombinedOutput(); err != nil {
				t.Fatalf("run %d: resume after kill at %s failed: %v\n%s", run, delay, err, b)
			}
		}
		total, distinct := countEvents(t, data)
		if total != int64(want) || distinct != int64(want) {
			t.Fatalf("run %d (kill after %s): store holds %d events (%d distinct), want exactly %d", run, delay, total, distinct, want)
		}
	}
	t.Logf("%d runs, %d killed mid-ingest, 0 events lost, 0 duplicates", runs, killed)
	if f := os.Getenv("AUDITLAKE_FIGURES"); f != "" {
		os.WriteFile(f, []byte("crash_runs="+strconv.Itoa(runs)+" killed="+strconv.Itoa(killed)+" lost=0 duplicates=0\n"), 0o644)
	}
}

func countEvents(t *testing.T, data string) (total, distinct int64) {
	t.Helper()
	lk, err := lake.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(context.Background(), lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Run(context.Background(), `SELECT count(*), count(DISTINCT eventid) FROM "aws:cloudtrail"."crash"`)
	if err != nil {
		t.Fatal(err)
	}
	checkFacts(t, s)
	return res.Rows[0][0].(int64), res.Rows[0][1].(int64)
}

// checkFacts checks that the EC2 lifecycle facts kept beside the files of the session's first
// store are those of the events it holds, row for row.
func checkFacts(t *testing.T, s *query.Session) {
	t.Helper()
	id := s.Stores[0].ID
	stored, _ := s.Facts(id)
	computed := "(" + lifecycle.SQL(`"aws:cloudtrail".`+engine.Ident(id)) + ")"
	diff, err := s.RunInternal(context.Background(), "SELECT (SELECT count(*) FROM (SELECT * FROM "+stored+" EXCEPT ALL SELECT * FROM "+computed+
		")) + (SELECT count(*) FROM (SELECT * FROM "+computed+" EXCEPT ALL SELECT * FROM "+stored+"))")
	if err != nil {
		t.Fatal(err)
	}
	if n := diff.Rows[0][0].(int64); n != 0 {
		t.Errorf("%d EC2 lifecycle facts differ from the store's events", n)
	}
}

// TestConcurrentReadersSeeConsistentStatesAndNeverFail runs queries in a loop while an ingest
// commits many small batches: no query fails because a file moved or vanished, no reader sees an
// event twice, and the store never shrinks.
func TestConcurrentReadersSeeConsistentStatesAndNeverFail(t *testing.T) {
	src := t.TempDir()
	want := crashInput(t, src, 12)
	data := t.TempDir()
	if out, err := child("--data", data, "eds", "create", "crash").CombinedOutput(); err != nil {
		t.Fatalf("eds create: %v %s", err, out)
	}
	cmd := child("--data", data, "ingest", "cloudtrail", "--eds", "crash", "--batch", "500", "--workers", "1", src)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	queries := 0
	var last int64
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("ingest: %v\n%s", err, out.String())
			}
			finished = true
		default:
		}
		total, distinct := countEvents(t, data)
		if total != distinct {
			t.Fatalf("a reader saw %d events but only %d distinct", total, distinct)
		}
		if total < last {
			t.Fatalf("a reader saw the store shrink from %d to %d events", last, total)
		}
		last = total
		queries++
	}
	total, _ := countEvents(t, data)
	if total != int64(want) {
		t.Fatalf("after ingest: %d events, want %d", total, want)
	}
	if queries < 3 {
		t.Logf("only %d queries overlapped the ingest", queries)
	}
	if !strings.Contains(out.String(), "added") {
		t.Fatalf("ingest output: %s", out.String())
	}
}

// TestPurgeSurvivesSIGKILL kills a retention purge at random moments and resumes it: the store
// ends with exactly the events inside the retention, and every query succeeds throughout.
func TestPurgeSurvivesSIGKILL(t *testing.T) {
	runs := 4
	if os.Getenv("AUDITLAKE_STRESS") != "" {
		runs = 20
	}
	src := t.TempDir()
	now := time.Now().UTC()
	var recs []map[string]any
	inside := 0
	for i := 0; i < 6000; i++ {
		// Spread over 60 days, never within two hours of the 30-day boundary.
		age := time.Duration(i%1440)*time.Hour + 30*time.Minute
		if d := age - 30*24*time.Hour; d > -2*time.Hour && d < 2*time.Hour {
			age += 4 * time.Hour
		}
		if age < 30*24*time.Hour {
			inside++
		}
		recs = append(recs, map[string]any{"eventVersion": "1.08", "eventTime": now.Add(-age).Format(time.RFC3339),
			"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances", "awsRegion": "us-east-1",
			"eventID": fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "recipientAccountId": "111122223333",
			"requestParameters": map[string]any{"filterSet": map[string]any{"items": []any{map[string]any{"name": "x", "i": i}}}}})
	}
	b, _ := json.Marshal(map[string]any{"Records": recs})
	if err := os.WriteFile(filepath.Join(src, "events.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, uint64(runs)))
	for run := 0; run < runs; run++ {
		data := t.TempDir()
		for _, args := range [][]string{{"eds", "create", "crash"}, {"ingest", "cloudtrail", "--eds", "crash", "--batch", "1000", src}} {
			if out, err := child(append([]string{"--data", data}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v %s", args, err, out)
			}
		}
		cmd := child("--data", data, "eds", "update", "crash", "--retention-days", "30", "--yes")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rng.IntN(400)) * time.Millisecond
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if total, distinct := countEvents(t, data); total != distinct {
			t.Fatalf("run %d: after a kill mid-purge a reader saw duplicates (%d/%d)", run, total, distinct)
		}
		// The kill may have landed before the retention change was saved: set it again, then purge.
		for _, args := range [][]string{{"eds", "update", "crash", "--retention-days", "30", "--yes"}, {"eds", "purge", "crash"}} {
			if out, err := child(append([]string{"--data", data}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("run %d: %v: %v %s", run, args, err, out)
			}
		}
		if total, distinct := countEvents(t, data); total != int64(inside) || distinct != total {
			t.Fatalf("run %d (kill after %s): %d events (%d distinct) after purge, want %d", run, delay, total, distinct, inside)
		}
	}
}

// TestConcatenatingCompactionSurvivesSIGKILL kills a bulk load at random moments — while it
// writes batches and while its end-of-run compaction concatenates a day's files of full row
// groups (ctparquet/concat.go) — resumes it, and checks that the store then holds exactly the
// input's distinct events, with their EC2 lifecycle facts, and that the day was merged.
// `make stress` (AUDITLAKE_STRESS=1) runs 30 kills; make test a short run.
func TestConcatenatingCompactionSurvivesSIGKILL(t *testing.T) {
	runs := 4
	if os.Getenv("AUDITLAKE_STRESS") != "" {
		runs = 30
	}
	src := generatetest.Trail(t, 24000, 1, 9)
	// Batches of 2,500 events: about ten files of the day, each over a quarter of a row group.
	ingestArgs := []string{"ingest", "cloudtrail", "--eds", "crash", "--batch", "2500", src}
	clean := t.TempDir()
	var took time.Duration // of an uninterrupted load: kills land anywhere in it
	for _, args := range [][]string{{"eds", "create", "crash"}, ingestArgs} {
		start := time.Now()
		if out, err := child(append([]string{"--data", clean}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
		took = time.Since(start)
	}
	want, _ := countEvents(t, clean)
	if files := dayFiles(t, clean); files > 3 {
		t.Fatalf("an uninterrupted load left %d files in its busiest day: nothing was concatenated", files)
	}
	rng := rand.New(rand.NewPCG(7, uint64(runs)))
	killed := 0
	for run := 0; run < runs; run++ {
		data := t.TempDir()
		if out, err := child("--data", data, "eds", "create", "crash").CombinedOutput(); err != nil {
			t.Fatalf("eds create: %v %s", err, out)
		}
		cmd := child(append([]string{"--data", data}, ingestArgs...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rng.Int64N(int64(took)))
		time.Sleep(delay)
		if cmd.Process.Signal(syscall.SIGKILL) == nil {
			if err := cmd.Wait(); err != nil {
				killed++
			}
		}
		for i := 0; i < 2; i++ {
			if b, err := child(append([]string{"--data", data}, ingestArgs...)...).CombinedOutput(); err != nil {
				t.Fatalf("run %d: resume after kill at %s failed: %v\n%s", run, delay, err, b)
			}
		}
		total, distinct := countEvents(t, data)
		if total != want || distinct != want {
			t.Fatalf("run %d (kill after %s): store holds %d events (%d distinct), want exactly %d", run, delay, total, distinct, want)
		}
	}
	t.Logf("%d runs, %d killed mid-ingest, 0 events lost, 0 duplicates", runs, killed)
}

// dayFiles is the number of data files of the store's busiest date partition.
func dayFiles(t *testing.T, data string) int {
	t.Helper()
	lk, err := lake.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Resolve("crash")
	if err != nil {
		t.Fatal(err)
	}
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	most := 0
	for _, f := range m.Files {
		per[f.Date]++
		most = max(most, per[f.Date])
	}
	return most
}
