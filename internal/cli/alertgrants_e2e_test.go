package cli_test

import (
	"slices"
	"strings"
	"testing"
)

// TestAlertsObeyTheSourceStoresGrants: an alert carries values of the event it found (the
// principal's ARN, account, region, the event ids, a summary, all of it again in eventjson). A
// reader granted auditlake-alerts sees the alerts of a store only when it reads that store whole:
// one whose grant on the store hides a column, or limits its rows, or who has no grant on the
// store, sees none of its alerts — by SQL through the CLI's --as and the JSON API, and in GET
// /api/alerts — and a reader of the whole store, or of all, sees every one. Status changes (which
// carry no value of the store) stay readable, and fold into the alerts a reader sees.
func TestAlertsObeyTheSourceStoresGrants(t *testing.T) {
	dir, ids := alertsLake(t)
	mustRun(t, 0, dir, "alert", "ack", ids[0])
	for _, u := range []string{"carol", "dave", "erin", "frank", "gina"} {
		mustRun(t, 0, dir, "user", "create", u)
	}
	for _, u := range []string{"carol", "dave", "erin", "frank"} {
		mustRun(t, 0, dir, "grant", "select", "--on", "store:auditlake-alerts", "--to", "user:"+u)
	}
	mustRun(t, 0, dir, "grant", "select", "--on", "store:trail", "--to", "user:carol")
	mustRun(t, 0, dir, "grant", "select", "--on", "store:trail", "--to", "user:dave", "--exclude-columns", "useridentity,sourceipaddress")
	mustRun(t, 0, dir, "grant", "select", "--on", "store:trail", "--to", "user:erin", "--row-filter", "recipientaccountid = '000000000000'")
	mustRun(t, 0, dir, "grant", "select", "--on", "all", "--to", "user:gina")
	// frank has the alerts store alone.

	arns := strings.TrimSpace(mustRun(t, 0, dir, "query", "--format", "csv", `SELECT DISTINCT useridentity.arn FROM "aws:cloudtrail"."auditlake-alerts" WHERE eventname = 'Alert'`))
	if !strings.Contains(arns, "arn:aws") {
		t.Fatalf("fixture: the alerts name no principal ARN: %s", arns)
	}
	const count = `SELECT count(*) AS n FROM "aws:cloudtrail"."auditlake-alerts" WHERE eventname IN ('Alert', 'AlertsEvaluated')`
	all := strings.TrimSpace(mustRun(t, 0, dir, "query", "--format", "csv", count))
	g := startServedGovern(t, dir)
	for _, c := range []struct {
		who  string
		sees bool
	}{{"carol", true}, {"gina", true}, {"dave", false}, {"erin", false}, {"frank", false}} {
		want := "n\n0"
		if c.sees {
			want = all
		}
		if got := strings.TrimSpace(mustRun(t, 0, dir, "query", "--as", "user:"+c.who, "--format", "csv", count)); got != want {
			t.Errorf("query --as %s: %q, want %q", c.who, got, want)
		}
		// Every way to the principal's ARN: the column, eventjson, json_extract of it.
		for _, sql := range []string{
			`SELECT useridentity.arn FROM "aws:cloudtrail"."auditlake-alerts"`,
			`SELECT eventjson FROM "aws:cloudtrail"."auditlake-alerts"`,
			`SELECT json_extract_string(eventjson, '$.userIdentity.arn') FROM "aws:cloudtrail"."auditlake-alerts"`,
			`SELECT requestparameters['summary'] FROM "aws:cloudtrail"."auditlake-alerts"`,
		} {
			out := mustRun(t, 0, dir, "query", "--as", "user:"+c.who, "--format", "csv", sql)
			status, _, rows := g.query(t, "user:"+c.who, sql)
			if status != 200 {
				t.Fatalf("%s by the API as %s: %d", sql, c.who, status)
			}
			api := strings.Join(slices.Concat(rows...), "\n")
			for _, arn := range strings.Split(arns, "\n")[1:] {
				if c.sees != strings.Contains(out, arn) || c.sees != strings.Contains(api, arn) {
					t.Errorf("%s as %s: sees %s by --as %v, by the API %v; want %v", sql, c.who, arn, strings.Contains(out, arn), strings.Contains(api, arn), c.sees)
				}
			}
		}
		if !c.sees { // a cast that fails on a hidden alert's ARN would quote it in its error
			cast := `SELECT count(*) AS n FROM "aws:cloudtrail"."auditlake-alerts" WHERE CAST(CASE WHEN useridentity.arn LIKE 'arn:%' THEN useridentity.arn END AS INTEGER) = 1
				OR CAST(CASE WHEN requestparameters['summary'] LIKE '%arn:%' THEN requestparameters['summary'] END AS INTEGER) = 1`
			if got := strings.TrimSpace(mustRun(t, 0, dir, "query", "--as", "user:"+c.who, "--format", "csv", cast)); got != "n\n0" {
				t.Errorf("a failing cast as %s: %q", c.who, got)
			}
		}
		var v struct {
			Alerts []struct{ ID, Status string }
		}
		if code := g.call(t, "user:"+c.who, "GET", "/api/alerts", "", &v); code != 200 {
			t.Fatalf("GET /api/alerts as %s: %d", c.who, code)
		}
		var got []string
		for _, a := range v.Alerts {
			got = append(got, a.ID)
			if want := map[bool]string{true: "acknowledged", false: "open"}[a.ID == ids[0]]; a.Status != want {
				t.Errorf("alert %s as %s: %s, want %s", a.ID, c.who, a.Status, want)
			}
		}
		slices.Sort(got)
		if c.sees != slices.Equal(got, ids) || !c.sees && len(got) != 0 {
			t.Errorf("GET /api/alerts as %s: %v; the store holds %v", c.who, got, ids)
		}
	}
}
