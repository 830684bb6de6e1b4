package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/server/servertest"
)

// TestDashboardGrantsInChromiumWithRealLogin is issue 16's matrix through the dashboard: the
// real `serve` (real auth), headless Chromium, and for the admin alice and the row- and
// column-filtered reader bob (role finops: five columns of the EC2 rows of store trail) a login
// on the login page with an access key id and secret, as a user does. The stores list (the
// activity page's store choice) and the SQL page's tables show only the granted stores; the SQL
// page's result table shows exactly the granted columns (SELECT *) and rows (bob: the EC2 rows
// only, fewer than alice's), each computed independently by the operator's unrestricted CLI
// query; a query naming a column bob's grant hides shows an error; logout ends the session.
func TestDashboardGrantsInChromiumWithRealLogin(t *testing.T) {
	browser := servertest.Chromium(t)
	a := newAccessLake(t)
	var logs syncBuffer
	base := serve(t, a.dir, &logs)
	shots := servertest.ScreenshotDir(t, "browser-real")

	// Independent answers, from the operator's CLI.
	allCols := a.mustQueryAs(t, "", "SELECT * FROM "+a.table()+" LIMIT 1")[0]
	var bobCols []string
	for _, c := range allCols {
		if slices.Contains(strings.Split(bobColumns, ","), c) {
			bobCols = append(bobCols, c)
		}
	}
	const bySource = "SELECT eventsource, count(*) AS n FROM %s %s GROUP BY 1 ORDER BY 1"
	allBySource := queryCSV(t, a.dir, fmt.Sprintf(bySource, a.table(), ""))
	ec2BySource := queryCSV(t, a.dir, fmt.Sprintf(bySource, a.table(), "WHERE "+bobFilter))
	if len(ec2BySource) != 1 || len(allBySource) < 3 || len(bobCols) != 5 {
		t.Fatalf("fixture: %d sources, %d EC2 rows, bob's columns %v", len(allBySource), len(ec2BySource), bobCols)
	}

	_, ctx, do := servertest.StartChromium(t, browser, shots, "grants-failed.png", &logs)
	eval := evalIn(t, ctx)
	ctrl := chromedp.KeyModifiers(chromedp.ModifierCtrl)
	// runSQL types sql into the editor, runs it, and returns the result table's header and
	// rows, or the error shown.
	runSQL := func(sql string) (header []string, rows [][]string, errText string) {
		t.Helper()
		do("run "+sql,
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := chromedp.Evaluate[bool]("(document.querySelector('#results').replaceChildren(), true)")(ctx, tg)
				return err
			}),
			chromedp.Click(chromedp.CSS(`.cm-content`)), chromedp.KeyEvent("a", ctrl),
			chromedp.SendKeys(chromedp.CSS(`.cm-content`), sql),
			chromedp.KeyEvent("\r", ctrl),
			chromedp.WaitVisible(chromedp.CSS(`#result-table tbody tr, #query-error, #results .empty`)),
		)
		eval(`(() => { const e = document.querySelector('#query-error'); return e ? e.textContent : ""; })()`, &errText)
		eval(`[...document.querySelectorAll('#result-table thead th')].map(th => th.textContent)`, &header)
		eval(`[...document.querySelectorAll('#result-table tbody tr')].map(r => [...r.querySelectorAll('td')].map(td => td.textContent.replaceAll(',', '')))`, &rows)
		return header, rows, errText
	}

	reg := access.Open(a.dir)
	cases := []struct {
		user     string
		stores   []string // names in the stores list
		tables   []string // schema.name in the SQL page's tables (each store by id and by name; bar the audit store)
		cols     []string
		bySource [][]string
		hidden   bool // SELECT useridentity is refused
	}{
		{"alice", []string{"other", "trail"}, []string{"aws:cloudtrail." + a.id, "aws:cloudtrail." + a.other, "aws:cloudtrail.other", "aws:cloudtrail.trail", "cur.koku"}, allCols, allBySource, false},
		{"bob", []string{"trail"}, []string{"aws:cloudtrail." + a.id, "aws:cloudtrail.trail", "cur.koku"}, bobCols, ec2BySource, true},
	}
	for _, c := range cases {
		slices.Sort(c.tables)
	}
	for _, c := range cases {
		key, err := reg.CreateKey(c.user, nil)
		if err != nil {
			t.Fatal(err)
		}
		do("log in as "+c.user+" on the login page",
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(chromedp.CSS(`#access-key-id`)),
			chromedp.SendKeys(chromedp.CSS(`#access-key-id`), key.AccessKeyID),
			chromedp.SendKeys(chromedp.CSS(`#secret-access-key`), key.SecretAccessKey),
			chromedp.Click(chromedp.CSS(`#login`)),
			chromedp.WaitVisible(chromedp.CSS(`#principal`)),
		)
		var who string
		eval(`document.querySelector('#principal').textContent`, &who)
		if who != "user:"+c.user {
			t.Errorf("logged in as %q, want user:%s", who, c.user)
		}

		// The stores list: the activity page's choice of store.
		do(c.user+"'s stores list", route("#/activity"), chromedp.WaitVisible(chromedp.CSS(`select[name=store]`)))
		var stores []string
		eval(`[...document.querySelectorAll('select[name=store] option')].map(o => o.textContent).sort()`, &stores)
		if !slices.Equal(stores, c.stores) {
			t.Errorf("%s's stores list shows %v, want %v", c.user, stores, c.stores)
		}

		do(c.user+"'s SQL page", route("#/sql"), chromedp.WaitVisible(chromedp.CSS(`.cm-content`)), chromedp.WaitVisible(chromedp.CSS(`#schema summary`)))
		var tables []string
		eval(`[...document.querySelectorAll('#schema summary span:first-child')].map(s => s.textContent).sort()`, &tables)
		var shownTables []string
		for _, tb := range tables {
			if name, ok := strings.CutPrefix(tb, "aws:cloudtrail."); ok && (name == "auditlake-audit" || isAuditID(t, a.dir, name)) {
				if c.user != "alice" {
					t.Errorf("%s's SQL page lists the audit store", c.user)
				}
				continue
			}
			shownTables = append(shownTables, tb)
		}
		if !slices.Equal(shownTables, c.tables) {
			t.Errorf("%s's SQL page lists tables %v, want %v", c.user, shownTables, c.tables)
		}

		header, _, errText := runSQL("SELECT * FROM " + a.table() + " LIMIT 1")
		if errText != "" || !slices.Equal(header, c.cols) {
			t.Errorf("SELECT * as %s shows columns %v (%s), want %v", c.user, header, errText, c.cols)
		}
		header, rows, errText := runSQL(fmt.Sprintf(bySource, a.table(), ""))
		if errText != "" || !slices.Equal(header, []string{"eventsource", "n"}) || !slices.EqualFunc(rows, c.bySource, slices.Equal) {
			t.Errorf("events by source as %s: %v %v (%s), want %v", c.user, header, rows, errText, c.bySource)
		}
		_, rows, errText = runSQL("SELECT useridentity FROM " + a.table() + " LIMIT 5")
		switch {
		case c.hidden && (errText == "" || len(rows) > 0):
			t.Errorf("SELECT useridentity as %s, whose grant hides it: rows %v, no error", c.user, rows)
		case c.hidden && !strings.Contains(errText, "useridentity"):
			t.Errorf("SELECT useridentity as %s: error %q does not name the column", c.user, errText)
		case !c.hidden && (errText != "" || len(rows) != 5):
			t.Errorf("SELECT useridentity as %s: %d rows, error %q", c.user, len(rows), errText)
		}
		if buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(filepath.Join(shots, "grants-"+c.user+".png"), buf, 0o644)
		}
		do("log out "+c.user, chromedp.Click(chromedp.CSS(`#logout`)), chromedp.WaitVisible(chromedp.CSS(`#access-key-id`)))
	}
}
