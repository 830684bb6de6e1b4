package cli_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cli"
	"github.com/auditlake/auditlake/internal/collect"
	"github.com/auditlake/auditlake/internal/collect/collecttest"
)

// runningCollect is `auditlake collect` run in-process until stop (SIGTERM's path: its context
// ends).
type runningCollect struct {
	cancel context.CancelFunc
	done   chan int
	errb   syncBuffer
}

func startCollect(t *testing.T, dir string) *runningCollect {
	ctx, cancel := context.WithCancel(context.Background())
	c := &runningCollect{cancel: cancel, done: make(chan int, 1)}
	go func() {
		c.done <- cli.Run(ctx, []string{"--data", dir, "collect"}, strings.NewReader(""), &c.errb, &c.errb)
	}()
	t.Cleanup(func() { c.stop(t) })
	return c
}

func (c *runningCollect) stop(t *testing.T) {
	c.cancel()
	if code, ok := <-c.done; ok {
		close(c.done)
		if code != 0 {
			t.Errorf("collect exited %d\n%s", code, c.errb.String())
		}
	}
}

// trailDelivery is a gzipped CloudTrail delivery file {"Records":[…]} of records.
func trailDelivery(t *testing.T, records ...json.RawMessage) []byte {
	b, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// realRunInstances returns the real RunInstances records of the samples: plaso's console launch of
// i-01234567890123456 without a launch template (a LookupEvents entry: its CloudTrailEvent),
// and panther's EKS node-group launch of i-07d06021b0da55115 from lt-07a0b5cea4ece8ffd.
func realRunInstances(t *testing.T) (plaso, panther json.RawMessage) {
	lines := func(path string, fn func(line []byte)) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			fn(sc.Bytes())
		}
	}
	lines(testdata("plaso-cloudtrail-lookupevents", "aws_cloudtrail.jsonl"), func(line []byte) {
		var e struct{ EventName, CloudTrailEvent string }
		if json.Unmarshal(line, &e) == nil && e.EventName == "RunInstances" && strings.Contains(e.CloudTrailEvent, "i-01234567890123456") {
			plaso = json.RawMessage(e.CloudTrailEvent)
		}
	})
	lines(testdata("panther-analysis-cloudtrail-tests", "panther_cloudtrail_rule_tests.jsonl"), func(line []byte) {
		var c struct {
			Log json.RawMessage `json:"log"`
		}
		if panther == nil && json.Unmarshal(line, &c) == nil && bytes.Contains(c.Log, []byte(`"RunInstances"`)) &&
			bytes.Contains(c.Log, []byte("i-07d06021b0da55115")) {
			panther = append(json.RawMessage{}, c.Log...)
		}
	})
	if plaso == nil || panther == nil {
		t.Fatal("the samples' RunInstances records are missing")
	}
	return plaso, panther
}

// addLaunchRuleAndWebhook adds the launch-compliance rule non-approved-launch (approved:
// lt-0aaaaaaaaaaaaaaa1 version 2) and the webhook target ops, a real receiver it returns.
func addLaunchRuleAndWebhook(t *testing.T, dir string) *webhookReceiver {
	const secret = "a-webhook-secret-of-some-length"
	rcv, url := newWebhookReceiver(t, secret)
	approved := filepath.Join(t.TempDir(), "approved.json")
	if err := os.WriteFile(approved, []byte(`{"approved_templates":[{"id":"lt-0aaaaaaaaaaaaaaa1","versions":["2"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, dir, "rule", "add", "non-approved-launch", "--builtin", "launch-compliance", "--approved-config", approved)
	mustRun(t, 0, dir, "alert-target", "add", "ops", "--webhook", url, "--secret", secret)
	return rcv
}

// waitFor polls cond until it holds, failing the test after limit: minutes, a bound for a hung
// process only, never what the step takes on an idle machine (collect starting, a poll, an ingest
// and its evaluation, a delivery: seconds idle, many times that on a loaded 2-core machine).
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCollectAlertsOnEveryCommit is issue 19's acceptance end to end: with `collect` running
// against an S3 bucket, a CloudTrail file holding a RunInstances from outside the approved
// templates, dropped into the bucket, gives exactly one HMAC-signed webhook call naming the
// instance, to a real HTTP server; a stop and restart of collect sends nothing again; a second
// file with another such launch gives exactly one more; a commit no process evaluated (the rule
// was off while it was ingested — as after a crash between a commit and its evaluation) is
// evaluated when collect starts, without a new file; and a restart that lost the evaluated-files
// cursor (a crash between the alerts' commit and the cursor) sends nothing twice.
func TestCollectAlertsOnEveryCommit(t *testing.T) {
	s3 := collecttest.NewS3(t, "trail")
	dir := t.TempDir()
	createStore(t, dir, "trail")
	rcv := addLaunchRuleAndWebhook(t, dir)
	mustRun(t, 0, dir, "source", "add", "org", "--eds", "trail", "s3://trail/AWSLogs/", "--every", "1s", "--endpoint-url", s3.URL)
	plaso, panther := realRunInstances(t)
	reg := collect.Open(dir)
	// polledAfter waits until the source has finished a poll that started after at.
	polledAfter := func(at time.Time) {
		t.Helper()
		waitFor(t, 2*time.Minute, "a poll", func() bool {
			st, err := reg.ReadState("org")
			return err == nil && st.CaughtUp.After(at)
		})
	}
	calls := func() int { n, _, _ := rcv.snapshot(); return n }

	c := startCollect(t, dir)
	landed := time.Now()
	s3.Put(t, "trail", collecttest.TrailKey("", "012345678901", "us-east-1", landed, "a1"), trailDelivery(t, plaso))
	waitFor(t, 3*time.Minute, "the webhook call", func() bool { return calls() >= 1 })
	t.Logf("file landed → webhook call: %s", time.Since(landed).Round(time.Millisecond))
	polledAfter(time.Now().Add(time.Second)) // later polls list the file again: no second call
	n, got, bad := rcv.snapshot()
	if n != 1 || len(got) != 1 || len(bad) > 0 {
		t.Fatalf("webhook: %d calls, alerts %v, bad signatures %v\n%s", n, got, bad, c.errb.String())
	}
	if a := got[0]; a["rule"] != "non-approved-launch" || a["severity"] != "high" || a["store"] != "trail" ||
		!strings.Contains(a["summary"].(string), "instance i-01234567890123456") {
		t.Errorf("alert: %v", a)
	}

	// Stop and restart: nothing is sent again.
	c.stop(t)
	c = startCollect(t, dir)
	polledAfter(time.Now())
	if n := calls(); n != 1 {
		t.Fatalf("after a restart: %d webhook calls, want still 1\n%s", n, c.errb.String())
	}

	// A second file with another launch outside the approved templates: exactly one more call.
	s3.Put(t, "trail", collecttest.TrailKey("", "111122223333", "us-west-2", time.Now(), "a2"), trailDelivery(t, panther))
	waitFor(t, 3*time.Minute, "the second webhook call", func() bool { return calls() >= 2 })
	polledAfter(time.Now().Add(time.Second))
	n, got, bad = rcv.snapshot()
	if n != 2 || len(got) != 2 || len(bad) > 0 {
		t.Fatalf("webhook: %d calls, alerts %v, bad %v", n, got, bad)
	}
	if s := got[1]["summary"].(string); !strings.Contains(s, "instance i-07d06021b0da55115") || strings.Contains(s, "i-01234567890123456") {
		t.Errorf("second alert: %v", got[1])
	}
	c.stop(t)

	// A commit that no process evaluated: collect evaluates it when it starts.
	mustRun(t, 0, dir, "rule", "disable", "non-approved-launch")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("compliance-derived"))
	mustRun(t, 0, dir, "rule", "enable", "non-approved-launch")
	c = startCollect(t, dir)
	waitFor(t, 3*time.Minute, "the evaluation of the commit made while no rule ran", func() bool { return calls() >= 3 })
	polledAfter(time.Now().Add(time.Second))
	// One call per alert (group): the derived commit's launches outside the templates — the
	// RunInstances of i-0d00000000000b001 and the instant CreateFleet's instance.
	var listed []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "alerts", "--format", "json")), &listed); err != nil {
		t.Fatal(err)
	}
	n, got, _ = rcv.snapshot()
	if n != len(listed) || n < 3 {
		t.Fatalf("webhook: %d calls, want one per alert: %d", n, len(listed))
	}
	var third []string
	for _, a := range got[2:] {
		third = append(third, a["summary"].(string))
	}
	if s := strings.Join(third, "\n"); !strings.Contains(s, "i-0d00000000000b001") || strings.Contains(s, "i-0d00000000000a001") {
		t.Errorf("alerts of the unevaluated commit:\n%s", s)
	}
	c.stop(t)

	// A restart that lost the cursor evaluates every file again: everything is known, nothing sent.
	cursors, _ := filepath.Glob(filepath.Join(dir, "alerts", "cursor-*.json"))
	if len(cursors) != 1 {
		t.Fatalf("cursors: %v", cursors)
	}
	if err := os.WriteFile(cursors[0], []byte(`{"files":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c = startCollect(t, dir)
	waitFor(t, 3*time.Minute, "the evaluation again", func() bool {
		b, _ := os.ReadFile(cursors[0])
		return !bytes.Equal(b, []byte(`{"files":[]}`))
	})
	c.stop(t)
	if n := calls(); n != len(listed) {
		t.Fatalf("after a restart without the cursor: %d webhook calls, want still %d\n%s", n, len(listed), c.errb.String())
	}
	var stored []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "alerts", "--format", "json")), &stored); err != nil {
		t.Fatal(err)
	}
	if _, got, _ := rcv.snapshot(); len(stored) != len(got) {
		t.Errorf("%d alerts stored, %d sent", len(stored), len(got))
	}
}

// TestServeCollectionAlerts: serve runs the sources (no --no-collect) and evaluates the rules over
// what its collection commits: a launch outside the approved templates dropped into the bucket
// gives one signed webhook call, and the alert is on GET /api/alerts.
func TestServeCollectionAlerts(t *testing.T) {
	s3 := collecttest.NewS3(t, "trail")
	dir := t.TempDir()
	createStore(t, dir, "trail")
	rcv := addLaunchRuleAndWebhook(t, dir)
	mustRun(t, 0, dir, "source", "add", "org", "--eds", "trail", "s3://trail/AWSLogs/", "--every", "1s", "--endpoint-url", s3.URL)
	plaso, _ := realRunInstances(t)
	var logs syncBuffer
	base := serve(t, dir, &logs)
	s3.Put(t, "trail", collecttest.TrailKey("", "012345678901", "us-east-1", time.Now(), "s1"), trailDelivery(t, plaso))
	waitFor(t, 3*time.Minute, "the webhook call", func() bool { n, _, _ := rcv.snapshot(); return n >= 1 })
	n, got, bad := rcv.snapshot()
	if n != 1 || len(got) != 1 || len(bad) > 0 || !strings.Contains(got[0]["summary"].(string), "instance i-01234567890123456") {
		t.Fatalf("webhook: %d calls, %v, bad %v\n%s", n, got, bad, logs.String())
	}
	code, b := apiCall(t, "GET", base+"/api/alerts?rule=non-approved-launch", "")
	var v struct {
		Alerts []struct{ ID, Summary string }
	}
	if err := json.Unmarshal(b, &v); code != 200 || err != nil || len(v.Alerts) != 1 || v.Alerts[0].ID != got[0]["id"] {
		t.Errorf("GET /api/alerts: %d %s, want the alert sent", code, b)
	}
}

// TestCollectAlertsSurviveSIGKILL: `collect` killed (SIGKILL) at random moments while files with
// launches outside the approved templates keep landing, and restarted: in the end every launch has
// exactly one stored alert (nothing skipped, nothing twice), and no alert reached the webhook twice.
func TestCollectAlertsSurviveSIGKILL(t *testing.T) {
	s3 := collecttest.NewS3(t, "trail")
	dir := t.TempDir()
	createStore(t, dir, "trail")
	rcv := addLaunchRuleAndWebhook(t, dir)
	// One alert per launch: the same principal's launches in one hour are otherwise one alert
	// (grouping, docs/detections.md), and this test counts launches.
	mustRun(t, 0, dir, "rule", "group", "non-approved-launch", "--by", "event")
	mustRun(t, 0, dir, "source", "add", "org", "--eds", "trail", "s3://trail/AWSLogs/", "--every", "1s", "--endpoint-url", s3.URL)
	plaso, _ := realRunInstances(t)
	var rec map[string]any
	if err := json.Unmarshal(plaso, &rec); err != nil {
		t.Fatal(err)
	}
	landed := 0
	land := func() {
		landed++
		rec["eventID"] = fmt.Sprintf("0000kill-0000-4000-8000-%012d", landed)
		b, _ := json.Marshal(rec)
		// The real launch, of another instance each time.
		b = bytes.ReplaceAll(b, []byte("i-01234567890123456"), []byte(fmt.Sprintf("i-0kill%012d", landed)))
		s3.Put(t, "trail", collecttest.TrailKey("", "012345678901", "us-east-1", time.Now(), fmt.Sprintf("k%d", landed)), trailDelivery(t, b))
	}
	rounds := 5
	if testing.Short() {
		rounds = 2
	}
	for round := range rounds {
		cmd := child("--data", dir, "collect")
		var errb syncBuffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			land()
			time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		}
		// Kill it once it committed some of the files (or after 5 s), at a random moment after.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if st, err := collect.Open(dir).ReadState("org"); err == nil && st.Files >= int64(landed-2) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(rand.IntN(800)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		t.Logf("round %d: killed; %d launches landed, %d webhook calls", round, landed, func() int { n, _, _ := rcv.snapshot(); return n }())
	}
	// A last run that is not killed evaluates whatever is left.
	c := startCollect(t, dir)
	storedIDs := func() []string {
		var stored []struct {
			AlertID string `json:"alert_id"`
			Summary string
		}
		json.Unmarshal([]byte(mustRun(t, 0, dir, "alerts", "--format", "json")), &stored)
		var ids []string
		for _, a := range stored {
			ids = append(ids, a.AlertID+" "+strings.Fields(a.Summary)[1])
		}
		return ids
	}
	waitFor(t, 3*time.Minute, "an alert for every launch", func() bool { return len(storedIDs()) >= landed })
	c.stop(t)
	ids := storedIDs()
	instances := map[string]int{}
	for _, s := range ids {
		instances[strings.Fields(s)[1]]++
	}
	if len(ids) != landed || len(instances) != landed {
		t.Errorf("%d alerts stored for %d instances, %d launches landed", len(ids), len(instances), landed)
	}
	_, got, bad := rcv.snapshot()
	sent := map[string]int{}
	for _, a := range got {
		sent[a["id"].(string)]++
	}
	for id, n := range sent {
		if n != 1 {
			t.Errorf("alert %s sent %d times", id, n)
		}
	}
	if len(bad) > 0 {
		t.Errorf("bad signatures: %v", bad)
	}
	t.Logf("%d launches, %d alerts stored, %d sent (an alert whose process was killed after its commit and before its delivery is stored, not sent: at most once)", landed, len(ids), len(sent))
}
