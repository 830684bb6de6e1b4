package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/server/servertest"
)

// alertsLake is a data directory whose store trail holds the real plaso and derived launches,
// ingested with the launch-compliance rule enabled (a real evaluation stored the alerts), an
// admin alice and a user bob granted the store trail but not auditlake-alerts.
func alertsLake(t *testing.T) (dir string, alertIDs []string) {
	t.Helper()
	dir = t.TempDir()
	createStore(t, dir, "trail")
	addLaunchRuleAndWebhook(t, dir)
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("plaso-cloudtrail-lookupevents"))
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("compliance-derived"))
	mustRun(t, 0, dir, "user", "create", "alice", "--admin")
	mustRun(t, 0, dir, "user", "create", "bob")
	mustRun(t, 0, dir, "grant", "select", "--on", "store:trail", "--to", "user:bob")
	var stored []struct {
		AlertID string `json:"alert_id"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "alerts", "--format", "json")), &stored); err != nil {
		t.Fatal(err)
	}
	for _, a := range stored {
		alertIDs = append(alertIDs, a.AlertID)
	}
	slices.Sort(alertIDs)
	if len(alertIDs) < 2 {
		t.Fatalf("fixture: %d alerts", len(alertIDs))
	}
	return dir, alertIDs
}

// TestAlertsAndHuntAPI: GET /api/alerts lists the stored alerts as the CLI does, filtered by
// rule, status and since; a caller whose grants do not show auditlake-alerts gets 403; POST
// /api/hunt finds what auditlake hunt finds, refuses bad requests with 400, and a store the
// caller may not read is not found.
func TestAlertsAndHuntAPI(t *testing.T) {
	dir, ids := alertsLake(t)
	g := startServedGovern(t, dir)
	const alice, bob = "user:alice", "user:bob"
	list := func(q string) (int, []string) {
		t.Helper()
		var v struct {
			Alerts []struct {
				ID, Rule, Status string
				Count            int64
				EventIDs         []string `json:"event_ids"`
			}
		}
		code := g.call(t, alice, "GET", "/api/alerts"+q, "", &v)
		var got []string
		for _, a := range v.Alerts {
			got = append(got, a.ID)
			if a.Count != 1 || len(a.EventIDs) != 1 || a.Rule != "non-approved-launch" || a.Status != "open" {
				t.Errorf("alert %+v: want one event of non-approved-launch, open", a)
			}
		}
		slices.Sort(got)
		return code, got
	}
	if code, got := list(""); code != 200 || !slices.Equal(got, ids) {
		t.Errorf("alerts: %d %v, want %v", code, got, ids)
	}
	if code, got := list("?rule=non-approved-launch&status=open&since=2000-01-01"); code != 200 || !slices.Equal(got, ids) {
		t.Errorf("alerts of the rule: %d %v", code, got)
	}
	// since: the alerts raised since then, whatever the time of their events (older than an
	// hour here).
	if code, got := list("?since=1h"); code != 200 || !slices.Equal(got, ids) {
		t.Errorf("alerts raised in the last hour: %d %v, want %v", code, got, ids)
	}
	for _, q := range []string{"?rule=nope", "?status=resolved", "?since=2999-01-01"} {
		if code, got := list(q); code != 200 || len(got) != 0 {
			t.Errorf("alerts%s: %d %v, want none", q, code, got)
		}
	}
	for _, q := range []string{"?since=yesterday", "?limit=0"} {
		if code, _ := list(q); code != 400 {
			t.Errorf("alerts%s: %d, want 400", q, code)
		}
	}
	if code := g.call(t, bob, "GET", "/api/alerts", "", nil); code != 403 {
		t.Errorf("bob's alerts: %d, want 403", code)
	}

	var cli []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "hunt", "--eds", "trail", "--rules", "all", "--format", "json")), &cli); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{alice, bob} { // bob may read trail: the hunt runs as him
		var h struct {
			Matches []struct {
				EventID string `json:"event_id"`
			}
			Rules []string
		}
		if code := g.call(t, who, "POST", "/api/hunt", `{"store":"trail","rules":"all"}`, &h); code != 200 || len(h.Matches) != len(cli) || len(cli) == 0 || len(h.Rules) != 1 {
			t.Errorf("hunt as %s: %d %+v; the CLI found %d", who, code, h, len(cli))
		}
	}
	// max_rows bounds the matches, as a query's rows: the first ones, the same as the CLI's.
	var first struct {
		Matches []struct {
			EventID string `json:"event_id"`
		}
		Truncated  bool
		MaxMatches int `json:"max_matches"`
	}
	if code := g.call(t, alice, "POST", "/api/hunt", `{"store":"trail","rules":"all","max_rows":1}`, &first); code != 200 || len(first.Matches) != 1 ||
		!first.Truncated || first.MaxMatches != 1 || len(cli) < 2 || first.Matches[0].EventID != cli[0]["event_id"] {
		t.Errorf("hunt with max_rows 1: %d %+v; the CLI found %d", code, first, len(cli))
	}
	var none struct{ Matches []any }
	if code := g.call(t, alice, "POST", "/api/hunt", `{"store":"trail","rules":"all","from":"2030-01-01"}`, &none); code != 200 || none.Matches == nil || len(none.Matches) != 0 {
		t.Errorf("hunt of 2030: %d %+v", code, none)
	}
	for _, c := range []struct {
		who, body string
		want      int
	}{
		{alice, `{"store":"trail"}`, 400}, // no rules
		{alice, `{"rules":"all"}`, 400},   // no store
		{alice, `{"store":"trail","rules":"all","from":"x"}`, 400},
		{alice, `{"store":"trail","rules":"all","from":"2001-01-01","to":"2000-01-01"}`, 400},
		{alice, `{"store":"trail","rules":"all","max_rows":-1}`, 400},
		{alice, `{"store":"trail","rules":"all","max_rows":100000000}`, 400},
		{alice, `{"store":"trail","rules":"no-such-rule"}`, 404},
		{alice, `{"store":"nope","rules":"all"}`, 404},
		{bob, `{"store":"auditlake-alerts","rules":"all"}`, 404}, // not granted to bob: not found, as if absent
	} {
		if code := g.call(t, c.who, "POST", "/api/hunt", c.body, nil); code != c.want {
			t.Errorf("hunt %s as %s: %d, want %d", c.body, c.who, code, c.want)
		}
	}
}

// TestAlertsPageInChromium: the dashboard's Alerts page, after a real login, lists the alerts a
// real evaluation stored (the same ids as auditlake alerts), filters them by rule, runs a hunt
// whose matches are those of auditlake hunt, and tells a user whose grants do not show
// auditlake-alerts so.
func TestAlertsPageInChromium(t *testing.T) {
	browser := servertest.Chromium(t)
	dir, ids := alertsLake(t)
	var logs syncBuffer
	base := serve(t, dir, &logs)
	shots := servertest.ScreenshotDir(t, "browser-real")
	var hunted []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "hunt", "--eds", "trail", "--rules", "all", "--format", "json")), &hunted); err != nil {
		t.Fatal(err)
	}
	_, ctx, do := servertest.StartChromium(t, browser, shots, "alerts-failed.png", &logs)
	eval := evalIn(t, ctx)
	reg := access.Open(dir)
	login := func(user string) {
		t.Helper()
		key, err := reg.CreateKey(user, nil)
		if err != nil {
			t.Fatal(err)
		}
		do("log in as "+user,
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(chromedp.CSS(`#access-key-id`)),
			chromedp.SendKeys(chromedp.CSS(`#access-key-id`), key.AccessKeyID),
			chromedp.SendKeys(chromedp.CSS(`#secret-access-key`), key.SecretAccessKey),
			chromedp.Click(chromedp.CSS(`#login`)),
			chromedp.WaitVisible(chromedp.CSS(`#principal`)),
		)
	}

	login("alice")
	do("open the Alerts page", chromedp.Click(chromedp.CSS(`#nav a[data-route=alerts]`)), chromedp.WaitVisible(chromedp.CSS(`#alerts tbody tr`)))
	var shown []string
	eval(`[...document.querySelectorAll('#alerts tbody tr')].map(r => r.dataset.alert).sort()`, &shown)
	if !slices.Equal(shown, ids) {
		t.Errorf("the Alerts page lists %v, want the stored alerts %v", shown, ids)
	}
	var header []string
	eval(`[...document.querySelectorAll('#alerts thead th')].map(th => th.textContent)`, &header)
	if !slices.Equal(header, []string{"Time", "Rule", "Severity", "Principal", "Account", "Region", "Summary", "Count", "Status"}) {
		t.Errorf("columns %v", header)
	}
	var text string
	eval(`document.querySelector('#alerts').textContent`, &text)
	for _, want := range []string{"instance i-01234567890123456", "non-approved-launch", "high", "open", "fakeusername"} {
		if !strings.Contains(text, want) {
			t.Errorf("the alerts table does not show %q", want)
		}
	}
	var targetsHidden bool
	eval(`document.querySelector('#alert-targets-panel').hidden`, &targetsHidden)
	if !targetsHidden { // GET /api/alert-targets answers (issue 19's delivery work): the target is listed
		var names []string
		eval(`[...document.querySelectorAll('#alert-targets tbody tr')].map(r => r.dataset.target)`, &names)
		if !slices.Equal(names, []string{"ops"}) {
			t.Errorf("alert targets %v, want [ops]", names)
		}
	}
	if buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(shots, "alerts.png"), buf, 0o644)
	}

	do("filter by another rule",
		chromedp.SendKeys(chromedp.CSS(`#alert-filters input[name=rule]`), "no-such-rule"),
		chromedp.Click(chromedp.CSS(`#alert-filters button`)),
		chromedp.WaitVisible(chromedp.CSS(`#alerts-panel .empty`)))

	do("run a hunt",
		chromedp.Click(chromedp.CSS(`#hunt-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`#hunt-results tbody tr`)))
	var events []string
	eval(`[...document.querySelectorAll('#hunt-results tbody tr')].map(r => r.dataset.event)`, &events)
	if len(events) != len(hunted) {
		t.Errorf("the hunt shows %d matches, auditlake hunt %d", len(events), len(hunted))
	}
	if buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(shots, "hunt.png"), buf, 0o644)
	}
	do("log out", chromedp.Click(chromedp.CSS(`#logout`)), chromedp.WaitVisible(chromedp.CSS(`#access-key-id`)))

	login("bob")
	do("bob's Alerts page", route("#/alerts"), chromedp.WaitVisible(chromedp.CSS(`#alerts-forbidden`)))
	var rows int
	eval(`document.querySelectorAll('#alerts tbody tr').length`, &rows)
	if rows != 0 {
		t.Errorf("bob sees %d alerts", rows)
	}
}
