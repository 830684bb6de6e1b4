package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cli"
)

// deleteBucketFile writes a CloudTrail file of DeleteBucket calls: each event is principal@time.
func deleteBucketFile(t *testing.T, name string, events ...string) string {
	t.Helper()
	var recs []string
	for i, e := range events {
		p, at, _ := strings.Cut(e, "@")
		recs = append(recs, fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/%s","accountId":"111122223333"},
"eventTime":"%s","eventSource":"s3.amazonaws.com","eventName":"DeleteBucket","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7",
"requestParameters":{"bucketName":"b%d"},"eventID":"%s-%s-%d","eventType":"AwsApiCall","readOnly":false,"managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`,
			p, at, i, name, p, i))
	}
	path := filepath.Join(t.TempDir(), name+".json")
	if err := os.WriteFile(path, []byte(`{"Records":[`+strings.Join(recs, ",")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func alertRows(t *testing.T, dir string, args ...string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	out := mustRun(t, 0, dir, append([]string{"alerts", "--format", "json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("alerts: %v\n%s", err, out)
	}
	return rows
}

// TestAlertGroupingAndStatus: matches of one rule by one principal in one window are one
// alert (one notification, counted); a later batch's matches in the same window raise the
// count without a notification; another principal or window is another alert. ack and close
// change the listed status (as later records), --status filters, and closed is final.
func TestAlertGroupingAndStatus(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	const secret = "a-webhook-secret-of-some-length"
	rcv, url := newWebhookReceiver(t, secret)
	mustRun(t, 0, dir, "rule", "add", "bucket-deleted", "--severity", "high", "--window", "1h",
		"--sql", "SELECT eventtime, eventid, eventname, useridentity.arn AS principal, recipientaccountid AS account, awsregion AS region FROM {events} WHERE eventname = 'DeleteBucket'")
	mustRun(t, 0, dir, "alert-target", "add", "ops", "--webhook", url, "--secret", secret)

	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", deleteBucketFile(t, "one",
		"alice@2026-12-04T10:05:00Z", "alice@2026-12-04T10:20:00Z", "alice@2026-12-04T10:59:00Z",
		"bob@2026-12-04T10:30:00Z", "alice@2026-12-04T12:01:00Z"))
	calls, got, bad := rcv.snapshot()
	if len(bad) > 0 || calls != 3 || len(got) != 3 {
		t.Fatalf("webhook: %d calls, %d alerts %v, bad %v", calls, len(got), got, bad)
	}
	counts := map[string]float64{}
	for _, a := range got {
		counts[strings.TrimPrefix(a["principal"].(string), "arn:aws:iam::111122223333:user/")+"@"+a["event_time"].(string)[11:13]] = a["count"].(float64)
	}
	if fmt.Sprint(counts) != "map[alice@10:3 alice@12:1 bob@10:1]" {
		t.Errorf("notified groups: %v", counts)
	}

	// Two more of alice's in the 10:00 window, in a later batch: no new notification.
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", deleteBucketFile(t, "two", "alice@2026-12-04T10:40:00Z", "alice@2026-12-04T10:41:00Z"))
	if calls, _, _ := rcv.snapshot(); calls != 3 {
		t.Errorf("a match in an alerted window was notified again: %d calls", calls)
	}
	rows := alertRows(t, dir)
	if len(rows) != 3 {
		t.Fatalf("alerts: %v", rows)
	}
	var aliceID string
	for _, r := range rows {
		if strings.HasSuffix(fmt.Sprint(r["principal"]), "/alice") && strings.Contains(fmt.Sprint(r["event_time"]), "10:05") {
			aliceID = fmt.Sprint(r["alert_id"])
			if fmt.Sprint(r["events"]) != "5" || r["status"] != "open" || r["sent_to"] != "ops" {
				t.Errorf("alice's 10:00 alert: %v", r)
			}
		}
	}
	if aliceID == "" {
		t.Fatalf("no alert for alice at 10:05: %v", rows)
	}

	mustRun(t, 0, dir, "alert", "ack", aliceID)
	if _, errOut, code := run(t, dir, "alert", "ack", aliceID); code != 1 || !strings.Contains(errOut, "acknowledged already") {
		t.Errorf("second ack: exit %d, want 1: %s", code, errOut)
	}
	if open := alertRows(t, dir, "--status", "open"); len(open) != 2 {
		t.Errorf("open after ack: %v", open)
	}
	if acked := alertRows(t, dir, "--status", "acknowledged"); len(acked) != 1 || acked[0]["alert_id"] != aliceID {
		t.Errorf("acknowledged: %v", acked)
	}
	mustRun(t, 0, dir, "alert", "close", aliceID)
	if closed := alertRows(t, dir, "--status", "closed"); len(closed) != 1 || fmt.Sprint(closed[0]["events"]) != "5" {
		t.Errorf("closed: %v", closed)
	}
	// Not a usage error: the command line is right, the alert's status refuses the change.
	for _, verb := range []string{"ack", "close"} {
		if _, errOut, code := run(t, dir, "alert", verb, aliceID); code != 1 || !strings.Contains(errOut, "is closed") || strings.Contains(errOut, "Usage:") {
			t.Errorf("%s of a closed alert: exit %d, want 1 without the synopsis: %s", verb, code, errOut)
		}
	}
	if _, _, code := run(t, dir, "alert", "ack", "no-such-alert"); code != 1 {
		t.Errorf("ack of an unknown alert: exit %d", code)
	}
	if _, _, code := run(t, dir, "alerts", "--status", "bogus"); code != 2 {
		t.Errorf("--status bogus: exit %d", code)
	}
	if out := mustRun(t, 0, dir, "rule", "show", "bucket-deleted"); !strings.Contains(out, "one per principal per 1h") {
		t.Errorf("rule show: %s", out)
	}
	// The status changes are records of their own: the alerts store keeps the alerts' records,
	// one per group and commit, which name the 7 matched events, each once.
	out := mustRun(t, 0, dir, "query", "--format", "csv", `SELECT eventname, count(*) AS n FROM "aws:cloudtrail"."auditlake-alerts" GROUP BY 1 ORDER BY 1`)
	if !strings.Contains(out, "AlertStatus,2") || !strings.Contains(out, "AlertDelivered,3") {
		t.Errorf("alerts store records:\n%s", out)
	}
	out = mustRun(t, 0, dir, "query", "--format", "csv", `SELECT count(*) AS n, count(DISTINCT id) AS ids FROM (SELECT unnest(json_extract_string(requestparameters['eventIds'], '$[*]')) AS id FROM "aws:cloudtrail"."auditlake-alerts" WHERE eventname = 'Alert')`)
	if !strings.Contains(out, "\n7,7") {
		t.Errorf("alerts store records:\n%s", out)
	}
	// Grouping by event: one alert per event.
	mustRun(t, 0, dir, "rule", "group", "bucket-deleted", "--by", "event")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", deleteBucketFile(t, "three", "carol@2026-12-04T11:00:00Z", "carol@2026-12-04T11:01:00Z"))
	if calls, _, _ := rcv.snapshot(); calls != 5 {
		t.Errorf("group by event: %d calls, want 5", calls)
	}
	if _, _, code := run(t, dir, "rule", "group", "bucket-deleted", "--by", "colour"); code != 2 {
		t.Errorf("group by colour: exit %d", code)
	}
}

// TestAlertsStoreRetention: auditlake-alerts is created with the default retention and honours
// eds update --retention-days like any store: alerts (and their status records) older than the
// retention, by their event's time, are purged; newer ones stay.
func TestAlertsStoreRetention(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "rule", "add", "bucket-deleted",
		"--sql", "SELECT eventtime, eventid, useridentity.arn AS principal FROM {events} WHERE eventname = 'DeleteBucket'")
	now := time.Now().UTC()
	old, recent := now.AddDate(0, 0, -40).Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339)
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", deleteBucketFile(t, "r", "alice@"+old, "bob@"+recent))
	rows := alertRows(t, dir)
	if len(rows) != 2 {
		t.Fatalf("alerts: %v", rows)
	}
	for _, r := range rows {
		mustRun(t, 0, dir, "alert", "ack", fmt.Sprint(r["alert_id"]))
	}
	var stores []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "eds", "list", "--all", "--output", "json")), &stores); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range stores {
		if s["name"] == "auditlake-alerts" {
			found = true
			if s["retention_days"] != float64(2557) || s["termination_protection"] != true {
				t.Errorf("alerts store: %v", s)
			}
		}
	}
	if !found {
		t.Errorf("no auditlake-alerts in %v", stores)
	}
	mustRun(t, 0, dir, "eds", "update", "auditlake-alerts", "--retention-days", "30", "--yes")
	rows = alertRows(t, dir)
	if len(rows) != 1 || !strings.HasSuffix(fmt.Sprint(rows[0]["principal"]), "/bob") || rows[0]["status"] != "acknowledged" {
		t.Errorf("after retention 30 days: %v", rows)
	}
	out := mustRun(t, 0, dir, "query", "--format", "csv", `SELECT count(*) AS n FROM "aws:cloudtrail"."auditlake-alerts"`)
	if !strings.Contains(out, "\n2") {
		t.Errorf("records left (bob's alert and its status): %s", out)
	}
}

// TestDeadTargetIsQueuedAndVisible: with a target that refuses connections, ingest commits
// and stores the alert and exits 0; the notification stays queued, and alert-target list
// (table and JSON) shows the failure and the queue, with the Slack URL's token left out (the
// queue's delivery after a restart is internal/alerts TestQueueRetriesAcrossRestartAndSendsOnce).
// An SMTP password is never a flag.
func TestDeadTargetIsQueuedAndVisible(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	// Port 1: nothing listens there and no test can be given it (it is outside the ephemeral
	// range). The port of a closed test server was free for any listener another package's test
	// opened meanwhile (CI runs two at once); one that answered made the delivery succeed or fail
	// for good (a 404 is final) instead of being queued.
	deadURL := "http://127.0.0.1:1"
	mustRun(t, 0, dir, "rule", "add", "bucket-deleted",
		"--sql", "SELECT eventtime, eventid, useridentity.arn AS principal FROM {events} WHERE eventname = 'DeleteBucket'")
	mustRun(t, 0, dir, "alert-target", "add", "chat", "--slack-webhook", deadURL+"/services/T0/B0/TOKEN-SECRET")
	_, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "trail", deleteBucketFile(t, "d", "alice@"+time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)))
	if code != 0 || !strings.Contains(errOut, "queued for retry") {
		t.Fatalf("ingest: %d\n%s", code, errOut)
	}
	if rows := alertRows(t, dir); len(rows) != 1 || rows[0]["sent_to"] != "" {
		t.Errorf("alerts: %v", rows)
	}
	var list []map[string]any
	out := mustRun(t, 0, dir, "alert-target", "list", "--format", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0]["queued"] != float64(1) || list[0]["consecutive_failures"].(float64) < 1 || list[0]["last_error"] == "" ||
		list[0]["last_error_at"] == nil || list[0]["last_success"] != nil || list[0]["kind"] != "slack" {
		t.Errorf("list: %v", list)
	}
	table := mustRun(t, 0, dir, "alert-target", "list")
	if strings.Contains(out+table+errOut, "TOKEN-SECRET") || !strings.Contains(table, "chat") {
		t.Errorf("the Slack token shows, or the table lacks the target:\n%s\n%s\n%s", out, table, errOut)
	}
	// An SMTP password is never a flag.
	if _, errOut, code := run(t, dir, "alert-target", "add", "mail", "--smtp", "127.0.0.1:25", "--from", "a@example.com", "--to", "b@example.com", "--smtp-password", "x"); code != 2 {
		t.Errorf("--smtp-password: %d %s", code, errOut)
	}
	mustRun(t, 0, dir, "alert-target", "add", "mail", "--smtp", "127.0.0.1:25", "--from", "a@example.com", "--to", "b@example.com", "--to", "c@example.com",
		"--smtp-user", "u", "--smtp-password-env", "AUDITLAKE_TEST_SMTP_PASSWORD")
	if _, _, code := run(t, dir, "alert-target", "add", "x", "--smtp", "127.0.0.1:25", "--from", "a@example.com"); code != 2 {
		t.Errorf("smtp without --to: %d", code)
	}
	if _, _, code := run(t, dir, "alert-target", "remove", "nope"); code != 1 {
		t.Errorf("remove nope: %d", code)
	}
}

// TestSilentTargetDoesNotHoldTheIngest: a webhook that takes the request and never answers
// held an ingest's end for the HTTP client's timeout (10 s), twice (the attempt under way, then
// the last pass). The ingest now waits exitDeliveryGrace in all: the request is given up
// within it, the ingest exits 0 saying so, and the notification stays queued for a later run.
func TestSilentTargetDoesNotHoldTheIngest(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	cli.SetExitDeliveryGrace(t, 300*time.Millisecond)
	held := make(chan time.Duration, 4)
	release := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		io.Copy(io.Discard, r.Body) // read: the server then sees the client go
		select {
		case <-r.Context().Done(): // the client gave up
		case <-release:
		}
		held <- time.Since(start)
	}))
	defer silent.Close()
	defer close(release)
	mustRun(t, 0, dir, "rule", "add", "bucket-deleted",
		"--sql", "SELECT eventtime, eventid, useridentity.arn AS principal FROM {events} WHERE eventname = 'DeleteBucket'")
	mustRun(t, 0, dir, "alert-target", "add", "ops", "--webhook", silent.URL+"/alerts", "--secret", "0123456789abcdef")
	_, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "trail", deleteBucketFile(t, "d", "alice@"+time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)))
	if code != 0 || !strings.Contains(errOut, "no answer within 300ms of the last commit") || !strings.Contains(errOut, "queued for retry") {
		t.Fatalf("ingest: %d\n%s", code, errOut)
	}
	select {
	case d := <-held:
		if d > 5*time.Second {
			t.Errorf("the request was held %s: the ingest waited for the client's timeout", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the webhook got no request, or it was never given up")
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "alert-target", "list", "--format", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0]["queued"] != float64(1) {
		t.Errorf("list: %v", list)
	}
	if rows := alertRows(t, dir); len(rows) != 1 {
		t.Errorf("alerts: %v", rows)
	}
}

// TestRefusedDeliveryIsNotSaidToBeRetried: a target that answers HTTP 404 gets the
// notification once and it is dropped; ingest said "HTTP 404 (not retried) (queued for retry;
// …)". It says the notification is dropped, and the queue is empty.
func TestRefusedDeliveryIsNotSaidToBeRetried(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }))
	defer refusing.Close()
	mustRun(t, 0, dir, "rule", "add", "bucket-deleted",
		"--sql", "SELECT eventtime, eventid, useridentity.arn AS principal FROM {events} WHERE eventname = 'DeleteBucket'")
	mustRun(t, 0, dir, "alert-target", "add", "ops", "--webhook", refusing.URL+"/alerts", "--secret", "0123456789abcdef")
	_, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "trail", deleteBucketFile(t, "d", "alice@"+time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)))
	if code != 0 || !strings.Contains(errOut, "HTTP 404 (not retried): notification dropped (the alert is stored") || strings.Contains(errOut, "queued for retry") {
		t.Fatalf("ingest: %d\n%s", code, errOut)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "alert-target", "list", "--format", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0]["queued"] != float64(0) {
		t.Errorf("list: %v", list)
	}
}

// TestBrokenDeliveryQueueLosesNotificationsNotAlerts: a delivery queue file that cannot be
// read does not stop the evaluation: the alert is stored (and the ingest succeeds), and the
// lost notification is reported.
func TestBrokenDeliveryQueueLosesNotificationsNotAlerts(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "rule", "add", "bucket-deleted",
		"--sql", "SELECT eventtime, eventid, useridentity.arn AS principal FROM {events} WHERE eventname = 'DeleteBucket'")
	mustRun(t, 0, dir, "alert-target", "add", "ops", "--webhook", "http://127.0.0.1:1/x", "--secret", "0123456789abcdef")
	if err := os.MkdirAll(filepath.Join(dir, "alerts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts", "deliveries.json"), []byte(`{"pending": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "trail", deleteBucketFile(t, "q", "alice@"+time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)))
	if code != 0 || !strings.Contains(errOut, "1 notifications not queued (the alerts are stored)") || !strings.Contains(errOut, "deliveries.json") {
		t.Fatalf("ingest: %d\n%s", code, errOut)
	}
	if rows := alertRows(t, dir); len(rows) != 1 {
		t.Errorf("alerts: %v", rows)
	}
	if _, errOut, code := run(t, dir, "alert-target", "list"); code == 0 || !strings.Contains(errOut, "deliveries.json") {
		t.Errorf("list with a broken queue: %d %s", code, errOut)
	}
}

// TestAlertTargetSecretAsGiven: the 'alert-target add ops --webhook URL --secret S' takes
// any secret the receiver chose: a short one is added with a warning, none is refused.
func TestAlertTargetSecretAsGiven(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := run(t, dir, "alert-target", "add", "ops", "--webhook", "https://hooks.example/alerts", "--secret", "S")
	if code != 0 || !strings.Contains(out, "added alert target ops") || !strings.Contains(errOut, "warning: the secret of ops has fewer than 16 characters") {
		t.Fatalf("short secret: exit %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = run(t, dir, "alert-target", "add", "long", "--webhook", "https://hooks.example/alerts", "--secret", "a-webhook-secret-of-some-length")
	if code != 0 || strings.Contains(errOut, "warning") {
		t.Fatalf("long secret: exit %d\n%s", code, errOut)
	}
	if _, errOut, code = run(t, dir, "alert-target", "add", "none", "--webhook", "https://hooks.example/alerts"); code != 2 || !strings.Contains(errOut, "needs --secret") {
		t.Fatalf("no secret: exit %d\n%s", code, errOut)
	}
}
