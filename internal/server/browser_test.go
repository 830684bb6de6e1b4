package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditlake/auditlake/internal/server"
	"github.com/auditlake/auditlake/internal/server/servertest"
	"github.com/auditlake/auditlake/web"
)

func TestDashboardInChromium(t *testing.T) {
	browser := servertest.Chromium(t)
	b := newTestBackend()
	reg, admin := testAccess(t)
	ts := httptest.NewServer(server.New(b, slog.New(slog.DiscardHandler), server.Options{Assets: web.Assets(), Access: reg, Sources: sourcesDoc}))
	defer ts.Close()
	shots := servertest.ScreenshotDir(t, "browser")
	_, ctx, do := servertest.StartChromium(t, browser, shots, "failed.png", nil)
	attr := func(sel, name string) string {
		t.Helper()
		r, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
		if err != nil || !r.Exists {
			t.Fatalf("attribute %s of %s: exists %v, %v", name, sel, r.Exists, err)
		}
		return r.Value
	}
	// route changes the page's hash: Navigate to a URL that differs only in its fragment
	// waits for a load event that never comes.
	route := func(hash string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[string]("location.hash = "+strconv.Quote(hash))(ctx, tg)
			return err
		})
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Compliance: the chart's totals per status and per day are the fleet's costs summed here.
	wantTotals := map[string]float64{}
	wantDays := map[string]float64{}
	for _, in := range b.instances {
		for d, c := range in.daily {
			wantTotals[in.row["status"].(string)] += c
			wantDays[d] += c
		}
	}
	// Without a session the dashboard shows the login page; a wrong secret is refused there.
	do("open the dashboard: the login page",
		chromedp.Navigate(ts.URL+"/#/compliance"),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
	)
	if d := evalJS[string](t, ctx, `getComputedStyle(document.getElementById('nav')).display`); d != "none" {
		t.Errorf("the navigation shows (display %s) before login", d)
	}
	do("a wrong secret is refused",
		chromedp.SendKeys(chromedp.CSS(`#access-key-id`), admin.AccessKeyID),
		chromedp.SendKeys(chromedp.CSS(`#secret-access-key`), "not-the-secret"),
		chromedp.Click(chromedp.CSS(`#login`)),
		chromedp.WaitVisible(chromedp.CSS(`#login-error`)),
	)
	shot("login-error-1280")
	if msg := evalJS[string](t, ctx, `document.querySelector('#login-error').textContent`); !strings.Contains(msg, "not valid") {
		t.Errorf("login error shown = %q", msg)
	}
	// The session cookie is HttpOnly: the page's script never sees it.
	evalJS[string](t, ctx, `document.querySelector('#secret-access-key').value = ''`)
	do("log in",
		chromedp.SendKeys(chromedp.CSS(`#secret-access-key`), admin.SecretAccessKey),
		chromedp.Click(chromedp.CSS(`#login`)),
		chromedp.WaitVisible(chromedp.CSS(`#spend-chart canvas`)),
		chromedp.WaitVisible(chromedp.CSS(`#noncompliant tbody tr`)),
	)
	if who, cookies := evalJS[string](t, ctx, `document.querySelector('#principal').textContent`), evalJS[string](t, ctx, `document.cookie`); who != "user:admin" || cookies != "" {
		t.Errorf("after login the top bar names %q and document.cookie is %q; want user:admin and no readable cookie", who, cookies)
	}
	var gotTotals, gotDays map[string]float64
	if err := json.Unmarshal([]byte(attr(`#spend-chart`, "data-totals")), &gotTotals); err != nil {
		t.Fatalf("data-totals: %v", err)
	}
	if err := json.Unmarshal([]byte(attr(`#spend-chart`, "data-day-totals")), &gotDays); err != nil {
		t.Fatalf("data-day-totals: %v", err)
	}
	dayCount := attr(`#spend-chart`, "data-days")
	rowIDs := evalJS[[]string](t, ctx, `[...document.querySelectorAll('#noncompliant tbody tr')].map(r => r.dataset.instance)`)
	groups := evalJS[[]string](t, ctx, `[...document.querySelectorAll('#noncompliant tbody td.asg')].map(td => td.textContent)`)
	shot("compliance-1280")
	for st, want := range wantTotals {
		if math.Abs(gotTotals[st]-want) > 0.005 {
			t.Errorf("chart total for %s = %.2f, want %.2f", st, gotTotals[st], want)
		}
	}
	if len(gotDays) != len(wantDays) || dayCount != fmt.Sprint(len(wantDays)) {
		t.Errorf("chart has %d days (data-days %s), want %d", len(gotDays), dayCount, len(wantDays))
	}
	for d, want := range wantDays {
		if math.Abs(gotDays[d]-want) > 0.005 {
			t.Errorf("bar stack for %s = %.2f, want %.2f", d, gotDays[d], want)
		}
	}
	// Not-approved and no-template instances, most expensive first; the approved one is absent.
	if want := []string{"i-0bbb000000000002", "i-0ccc000000000003"}; strings.Join(rowIDs, ",") != strings.Join(want, ",") {
		t.Errorf("non-compliant table rows = %v, want %v", rowIDs, want)
	}
	if want := "web-asg,—"; strings.Join(groups, ",") != want {
		t.Errorf("Auto Scaling group column = %v, want %s", groups, want)
	}

	// A row click opens that instance's page with its audit trail and cost.
	do("open instance page by row click",
		chromedp.Click(chromedp.CSS(`#noncompliant tr[data-instance="i-0bbb000000000002"] td:nth-child(3)`)),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li`)),
		chromedp.WaitVisible(chromedp.CSS(`#instance-cost-chart canvas`)),
	)
	hash := evalJS[string](t, ctx, `location.hash`)
	kinds := evalJS[[]string](t, ctx, `[...document.querySelectorAll('#timeline li')].map(li => li.dataset.kind)`)
	costTotal := attr(`#instance-cost-chart`, "data-total")
	shot("instance-1280")
	if !strings.HasPrefix(hash, "#/instance/i-0bbb000000000002") {
		t.Errorf("after row click location.hash = %q, want the instance page", hash)
	}
	if want := "template,launch,tags,end"; strings.Join(kinds, ",") != want {
		t.Errorf("timeline kinds = %v, want %s", kinds, want)
	}
	if costTotal != "4.35" {
		t.Errorf("instance cost chart total = %s, want 4.35", costTotal)
	}

	// Activity dashboard.
	do("open activity page",
		route("#/activity?store="+storeID),
		chromedp.WaitVisible(chromedp.CSS(`[data-widget="events_over_time"] canvas`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-widget="top_services"] canvas`)),
		chromedp.Sleep(200*time.Millisecond),
	)
	widgets := evalJS[[]string](t, ctx, `[...document.querySelectorAll('[data-widget]')].map(w => w.dataset.widget)`)
	shot("activity-1280")
	if len(widgets) != 8 {
		t.Errorf("activity page shows widgets %v, want 8 panels besides the summary", widgets)
	}

	// SQL editor: type, Ctrl-Enter, rows.
	ctrl := chromedp.KeyModifiers(chromedp.ModifierCtrl)
	do("open the SQL page",
		route("#/sql"),
		chromedp.WaitVisible(chromedp.CSS(`.cm-content`)),
		chromedp.WaitVisible(chromedp.CSS(`#schema summary`)),
	)
	do("type a query", chromedp.Click(chromedp.CSS(`.cm-content`)), chromedp.KeyEvent("a", ctrl),
		chromedp.SendKeys(chromedp.CSS(`.cm-content`), `SELECT eventtime, eventname, awsregion FROM "aws:cloudtrail"."`+storeID+`"`))
	do("run it with Ctrl-Enter", chromedp.KeyEvent("\r", ctrl), chromedp.WaitVisible(chromedp.CSS(`#result-table tbody tr`)))
	nRows := evalJS[int](t, ctx, `document.querySelectorAll('#result-table tbody tr').length`)
	status := evalJS[string](t, ctx, `document.querySelector('#sql-status').textContent`)
	shot("sql-1280")
	if nRows != 6 {
		t.Errorf("result table has %d rows, want 6", nRows)
	}
	if !strings.HasPrefix(status, "6 rows") {
		t.Errorf("status = %q, want it to start with 6 rows", status)
	}

	do("a bad query shows its error",
		chromedp.Click(chromedp.CSS(`.cm-content`)),
		chromedp.KeyEvent("a", ctrl),
		chromedp.SendKeys(chromedp.CSS(`.cm-content`), `SELEC nonsense`),
		chromedp.KeyEvent("\r", ctrl),
		chromedp.WaitVisible(chromedp.CSS(`#query-error`)),
	)
	errText := evalJS[string](t, ctx, `document.querySelector('#query-error').textContent`)
	shot("sql-error-1280")
	if !strings.Contains(errText, `syntax error at or near "SELEC"`) {
		t.Errorf("error shown = %q, want the engine's syntax error", errText)
	}

	// The CSV download: text cells that start like a formula (= + - @, tab, CR) get a leading ',
	// numbers and every value of a numeric column (-5, "-3.50") stay exact (issue 14, item 12).
	do("run a query whose cells start like formulas",
		chromedp.Click(chromedp.CSS(`.cm-content`)),
		chromedp.KeyEvent("a", ctrl),
		chromedp.SendKeys(chromedp.CSS(`.cm-content`), `SELECT * FROM `+hostileTable),
		chromedp.KeyEvent("\r", ctrl),
		chromedp.WaitVisible(chromedp.CSS(`#result-table tbody tr`)),
	)
	// Keep the Blob the page downloads, then read its text.
	evalJS[bool](t, ctx, `(() => { window.__downloads = []; const make = URL.createObjectURL;
		URL.createObjectURL = (b) => { window.__downloads.push(b); return make.call(URL, b); }; return true; })()`)
	evalJS[bool](t, ctx, `(() => { [...document.querySelectorAll('button')].find((b) => b.textContent === 'Download CSV').click(); return true; })()`)
	csvText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__downloads[window.__downloads.length - 1].text()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("read the downloaded CSV: %v", err)
	}
	wantCSV := "name,delta,note,amount\r\n" +
		`"'=HYPERLINK(""http://evil.example"",""x"")",-5,'+1,-3.50` + "\r\n" +
		"'@SUM(A1),7,'\tcmd,2.00\r\n" +
		"plain,-1,'-x,\r\n" +
		"a=b,0,\"'\r=1\",-0.01\r\n"
	if csvText != wantCSV {
		t.Errorf("downloaded CSV:\n%q\nwant\n%q", csvText, wantCSV)
	}
	// A link's query (#/sql?q=…) fills the editor and waits for Run: it must never run on load,
	// or one click on a crafted link starts any query (issue 14 item 1).
	linkSQL := `SELECT eventname, awsregion FROM "aws:cloudtrail"."` + storeID + `"`
	b.mu.Lock()
	ran := len(b.queries)
	b.mu.Unlock()
	do("open a link with a query",
		route("#/compliance"),
		chromedp.WaitVisible(chromedp.CSS(`#spend-chart canvas`)),
		route("#/sql?q="+url.QueryEscape(linkSQL)),
		chromedp.WaitVisible(chromedp.CSS(`.cm-content`)),
		chromedp.WaitVisible(chromedp.CSS(`#schema summary`)),
	)
	linkStatus := evalJS[string](t, ctx, `document.querySelector('#sql-status').textContent`)
	editor := evalJS[string](t, ctx, `document.querySelector('.cm-content').innerText`)
	tables := evalJS[int](t, ctx, `document.querySelectorAll('#result-table').length`)
	b.mu.Lock()
	ranOnLoad := b.queries[ran:]
	b.mu.Unlock()
	shot("sql-link-1280")
	if !strings.Contains(linkStatus, "press Run") || tables != 0 || len(ranOnLoad) != 0 {
		t.Errorf("opening #/sql?q=…: status %q, %d result tables, queries run %q; want the query waiting for Run", linkStatus, tables, ranOnLoad)
	}
	if strings.TrimSpace(editor) != linkSQL {
		t.Errorf("editor holds %q, want the link's query %q", editor, linkSQL)
	}
	do("run the link's query with the Run button", chromedp.Click(chromedp.CSS(`#run`)), chromedp.WaitVisible(chromedp.CSS(`#result-table tbody tr`)))
	b.mu.Lock()
	last := b.queries[len(b.queries)-1]
	b.mu.Unlock()
	if last != linkSQL {
		t.Errorf("Run sent %q, want the link's query", last)
	}

	// The SQL page's POSTs above went with the session cookie, so they carried the CSRF token;
	// without it the server refuses the same request.
	if st := evalJS[int](t, ctx, `(async () => (await fetch('api/query', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"sql":"SELECT 1"}'})).status)()`, chromedp.EvalAwaitPromise); st != 403 {
		t.Errorf("a POST without the CSRF header from the page: %d, want 403", st)
	}

	// Sources: each source's state and last error, each store's newest event and lag.
	do("open sources page", route("#/sources"), chromedp.WaitVisible(chromedp.CSS(`#sources tbody tr`)),
		chromedp.WaitVisible(chromedp.CSS(`#store-freshness tbody tr`)))
	states := evalJS[[]string](t, ctx, `[...document.querySelectorAll('#sources tbody tr')].map(r => r.dataset.source + ":" + r.dataset.state + ":" + r.lastElementChild.textContent)`)
	shot("sources-1280")
	if want := "org-trail:ok:—,queue:error:access denied: AccessDenied"; strings.Join(states, ",") != want {
		t.Errorf("sources page rows %v, want %s", states, want)
	}

	// Phone width: every page fits 390 px without sideways scrolling of the page itself.
	for _, page := range []string{"compliance", "instance/i-0bbb000000000002", "activity", "sql", "sources"} {
		name := strings.SplitN(page, "/", 2)[0]
		do("narrow "+page,
			chromedp.EmulateViewport(390, 844),
			route("#/"+page),
			chromedp.WaitVisible(chromedp.CSS(`main .panel`)),
			chromedp.Sleep(400*time.Millisecond),
		)
		overflow := evalJS[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`)
		shot(name + "-390")
		if overflow > 0 {
			t.Errorf("%s at 390 px is %d px wider than the screen", page, overflow)
		}
	}
	// Logout ends the session on the server and shows the login page again.
	do("log out",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Click(chromedp.CSS(`#logout`)),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
	)
	shot("logged-out-1280")
	if st := evalJS[int](t, ctx, `(async () => (await fetch('api/stores')).status)()`, chromedp.EvalAwaitPromise); st != 401 {
		t.Errorf("GET api/stores after logout: %d, want 401", st)
	}
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// sourcesDoc is what GET /api/sources answers in the browser test: the document collect's
// Overview makes (collect's own tests hold that), one healthy source and one failing.
func sourcesDoc(context.Context) (any, error) {
	return map[string]any{
		"sources": []map[string]any{
			{"name": "org-trail", "type": "cloudtrail", "store": "prod-trail", "uri": "s3://trail/AWSLogs/o-abc123/", "status": "ok",
				"last_run": "2026-12-04T10:00:00Z", "last_file": "s3://trail/AWSLogs/o-abc123/111111111111/CloudTrail/us-east-1/2026/12/04/f.json.gz",
				"events_added": 1234, "files_added": 5, "caught_up": "2026-12-04T10:00:00Z", "lag_ns": 42e9},
			{"name": "queue", "type": "cloudtrail", "store": "prod-trail", "sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/1/q", "status": "error",
				"last_run": "2026-12-04T10:00:00Z", "events_added": 0, "files_added": 0, "lag_ns": 0, "last_error": "access denied: AccessDenied"},
		},
		"stores": []map[string]any{{"id": "x", "name": "prod-trail", "type": "cloudtrail", "rows": 1234, "files": 3,
			"newest_event": "2026-12-04T09:59:00Z", "lag_seconds": 61}},
	}, nil
}
