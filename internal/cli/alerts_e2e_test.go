package cli_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// webhookReceiver is a real HTTP server that checks each call's signature the way the docs
// say a receiver should, and keeps the alerts it got.
type webhookReceiver struct {
	mu     sync.Mutex
	calls  int
	alerts []map[string]any
	bad    []string
}

func newWebhookReceiver(t *testing.T, secret string) (*webhookReceiver, string) {
	rcv := &webhookReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(r.Header.Get("X-Auditlake-Timestamp") + "." + string(body)))
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		rcv.calls++
		if !hmac.Equal([]byte(r.Header.Get("X-Auditlake-Signature")), []byte(want)) || r.Method != http.MethodPost {
			rcv.bad = append(rcv.bad, r.Header.Get("X-Auditlake-Signature"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var v struct{ Alerts []map[string]any }
		if err := json.Unmarshal(body, &v); err != nil {
			rcv.bad = append(rcv.bad, string(body))
		}
		rcv.alerts = append(rcv.alerts, v.Alerts...)
	}))
	t.Cleanup(srv.Close)
	return rcv, srv.URL + "/alerts"
}

func (r *webhookReceiver) snapshot() (int, []map[string]any, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, append([]map[string]any{}, r.alerts...), append([]string{}, r.bad...)
}

// TestAlertsOnCommitAtMostOnce: a RunInstances without an approved template, committed by
// ingest, gives exactly one signed webhook call naming the instance; evaluating again (a
// restart that lost the cursor) sends and stores nothing twice; a commit made while no rule
// was watching is evaluated by the next ingest (nothing skipped).
func TestAlertsOnCommitAtMostOnce(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	rcv := addLaunchRuleAndWebhook(t, dir)

	// plaso's console RunInstances of i-01234567890123456, without a launch template.
	_, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("plaso-cloudtrail-lookupevents"))
	if code != 0 || !strings.Contains(errOut, "alerts: 1 new") {
		t.Fatalf("ingest: %d\n%s", code, errOut)
	}
	calls, got, bad := rcv.snapshot()
	if calls != 1 || len(got) != 1 || len(bad) > 0 {
		t.Fatalf("webhook: %d calls, alerts %v, bad %v", calls, got, bad)
	}
	if a := got[0]; a["rule"] != "non-approved-launch" || !strings.Contains(a["summary"].(string), "instance i-01234567890123456") ||
		!strings.Contains(a["summary"].(string), "no_template") || a["severity"] != "high" {
		t.Errorf("alert: %v", a)
	}

	// A restart that lost the cursor evaluates the store's files again: nothing new.
	cursors, _ := filepath.Glob(filepath.Join(dir, "alerts", "cursor-*.json"))
	if len(cursors) != 1 {
		t.Fatalf("cursors: %v", cursors)
	}
	if err := os.WriteFile(cursors[0], []byte(`{"files":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// A commit while no rule is enabled (as if the process died before evaluating it): the
	// derived records hold more launches outside the approved template.
	mustRun(t, 0, dir, "rule", "disable", "non-approved-launch")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("compliance-derived"))
	mustRun(t, 0, dir, "rule", "enable", "non-approved-launch")
	_, errOut, code = run(t, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
	if code != 0 {
		t.Fatalf("ingest: %d %s", code, errOut)
	}
	// The unevaluated commit's launches outside the templates: the RunInstances of
	// i-0d00000000000b001 and the instant CreateFleet's i-0d00000000000c001 (two principals: two
	// alerts, one call each).
	calls, got, bad = rcv.snapshot()
	if calls != 3 || len(bad) > 0 {
		t.Fatalf("webhook: %d calls, bad %v\n%s", calls, bad, errOut)
	}
	seen := map[string]int{}
	for _, a := range got {
		seen[a["id"].(string)]++
		if strings.Contains(a["summary"].(string), "i-0d00000000000a001") {
			t.Errorf("an approved launch alerted: %v", a)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("alert %s sent %d times", id, n)
		}
	}
	later := ""
	for _, a := range got[1:] {
		later += a["summary"].(string) + "\n"
	}
	if !strings.Contains(later, "i-0d00000000000b001") || !strings.Contains(later, "i-0d00000000000c001") {
		t.Errorf("the launches committed while no rule ran were skipped: %v", got[1:])
	}

	// The alerts store holds each alert once.
	var stored []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "alerts", "--format", "json")), &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(got) {
		t.Errorf("%d alerts stored, %d sent", len(stored), len(got))
	}
	// Each launch once, though the lost cursor had every file evaluated again.
	if _, named, distinct := storedAlertEvents(t, dir); named != distinct || named != len(got) {
		t.Errorf("the alert records name %d events, %d distinct; want %d", named, distinct, len(got))
	}
	if out := mustRun(t, 0, dir, "alerts", "--rule", "nope", "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("alerts --rule nope: %s", out)
	}
	// --since: the alerts raised since then, whatever the time of their events.
	var recent []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "alerts", "--since", "1d", "--format", "json")), &recent); err != nil {
		t.Fatal(err)
	}
	if len(recent) != len(stored) {
		t.Errorf("alerts --since 1d: %d alerts, %d raised in this test", len(recent), len(stored))
	}
	if out := mustRun(t, 0, dir, "alerts", "--since", "2999-01-01", "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("alerts --since 2999-01-01: %s", out)
	}
}

// TestAggregateSQLRuleAlertIsStableEverywhere: an aggregate SQL rule's row names no region and
// no resource. Its alert lists them empty (not the alerts store's placeholder region "local"),
// and the webhook body carries every documented key — an empty resource too — whatever the rule.
func TestAggregateSQLRuleAlertIsStableEverywhere(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	const secret = "a-webhook-secret-of-some-length"
	rcv, url := newWebhookReceiver(t, secret)
	mustRun(t, 0, dir, "rule", "add", "stops", "--sql",
		"SELECT recipientaccountid AS account, count(*) AS n FROM {events} WHERE eventname = 'StopLogging' GROUP BY 1")
	mustRun(t, 0, dir, "alert-target", "add", "ops", "--webhook", url, "--secret", secret)
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))

	rows := alertRows(t, dir)
	if len(rows) != 1 {
		t.Fatalf("alerts: %v", rows)
	}
	if r := rows[0]; r["region"] != "" || r["rule"] != "stops" || r["account"] == "" || !strings.Contains(fmt.Sprint(r["summary"]), "n=1") {
		t.Errorf("listed alert: %v", r)
	}
	_, got, bad := rcv.snapshot()
	if len(got) != 1 || len(bad) > 0 {
		t.Fatalf("webhook: %v, bad %v", got, bad)
	}
	keys := []string{"id", "rule", "title", "severity", "store", "event_time", "event_ids", "principal",
		"account", "region", "summary", "status", "alerted_at", "resource", "group", "count"}
	for _, k := range keys {
		if _, ok := got[0][k]; !ok {
			t.Errorf("webhook body has no %q: %v", k, got[0])
		}
	}
	if len(got[0]) != len(keys) {
		t.Errorf("webhook body has %d keys, want the %d documented: %v", len(got[0]), len(keys), got[0])
	}
	if a := got[0]; a["region"] != "" || a["resource"] != "" || a["count"] != float64(1) || a["id"] != rows[0]["alert_id"] {
		t.Errorf("webhook alert: %v", a)
	}
}

// TestAggregateSQLRuleRowsAreEachAnAlert: an aggregate SQL rule's rows name no event; each
// distinct row is an alert of its own (grouped by account: one alert per account the rule
// returns), and the next commit's rows raise new alerts — before, every row had the one
// alert id of (rule, store, no event), so only the first row the rule ever returned was kept.
func TestAggregateSQLRuleRowsAreEachAnAlert(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "rule", "add", "per-account", "--group-by", "account", "--sql",
		"SELECT recipientaccountid AS account, count(*) AS n, max(eventtime) AS eventtime FROM {events} GROUP BY 1")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
	var rows []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "hunt", "--eds", "trail", "--rules", "per-account", "--format", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 {
		t.Fatalf("the samples hold %d accounts, want several", len(rows))
	}
	accounts := func() map[string]int {
		got := map[string]int{}
		for _, a := range alertRows(t, dir, "--rule", "per-account") {
			got[fmt.Sprint(a["account"])]++
		}
		return got
	}
	got := accounts()
	for _, r := range rows {
		if got[fmt.Sprint(r["account"])] != 1 {
			t.Errorf("account %v: %d alerts, want 1 (alerts by account %v)", r["account"], got[fmt.Sprint(r["account"])], got)
		}
	}
	if len(got) != len(rows) {
		t.Errorf("%d alerts for %d rows: %v", len(got), len(rows), got)
	}
	// Another commit's rows are alerts too.
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("plaso-cloudtrail-lookupevents"))
	if after := accounts(); len(after) <= len(got) {
		t.Errorf("the second commit raised no alert: before %v, after %v", got, after)
	}
}
