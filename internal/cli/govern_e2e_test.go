package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/server"
)

// testPrincipalHeader names the principal of a request to the test door (asTestCaller): it
// stands in for the authenticating middleware of the real server, which puts the principal of
// a valid access key in the request's context.
const testPrincipalHeader = "X-Test-Principal"

// asTestCaller puts the principal named by the request's X-Test-Principal header (user:NAME)
// into its context as access.Caller, as the auth door does; a request without it carries no
// caller.
func asTestCaller(t testing.TB, dir string, next http.Handler) http.Handler {
	reg := access.Open(dir)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name := r.Header.Get(testPrincipalHeader); name != "" {
			p, err := reg.Principal(name)
			if err != nil {
				t.Errorf("test door: %v", err)
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			r = r.WithContext(access.WithCaller(r.Context(), access.Caller{Principal: p, KeyID: "ALAKTEST" + strings.ToUpper(p.User),
				Door: access.DoorAPI, SourceIP: "192.0.2.7", UserAgent: r.UserAgent()}))
		}
		next.ServeHTTP(w, r)
	})
}

// governServer serves the JSON API of data directory dir (server.New over app.Backend, the
// caller set by the test door) with the audit log of the backend; the log is flushed when the
// test ends.
type governServer struct {
	url   string
	audit *auditlog.Log
	b     *app.Backend
	// keys, when set, holds a Bearer Authorization per principal (user:NAME), made on first
	// use: the requests go through the real serve's authentication instead of the test door.
	keys map[string]string
	dir  string
}

// startServedGovern is the JSON API of the real `serve` over dir (its own authentication):
// each principal's requests carry an access key of its own as a Bearer token.
func startServedGovern(t testing.TB, dir string) governServer {
	t.Helper()
	return governServer{url: serve(t, dir, io.Discard), keys: map[string]string{}, dir: dir}
}

// as makes req a request by principal: its Bearer key on the real server, else the test door's
// header.
func (g governServer) as(t testing.TB, req *http.Request, principal string) {
	t.Helper()
	if g.keys == nil {
		req.Header.Set(testPrincipalHeader, principal)
		return
	}
	if g.keys[principal] == "" {
		c, err := access.Open(g.dir).CreateKey(strings.TrimPrefix(principal, "user:"), nil)
		if err != nil {
			t.Fatal(err)
		}
		g.keys[principal] = "Bearer " + c.AccessKeyID + ":" + c.SecretAccessKey
	}
	req.Header.Set("Authorization", g.keys[principal])
}

func startGovernServer(t testing.TB, dir string, o app.Options) governServer {
	t.Helper()
	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := app.New(lk, o)
	b.Audit = auditlog.Open(lk)
	ts := httptest.NewServer(asTestCaller(t, dir, server.New(b, slog.New(slog.DiscardHandler), server.Options{})))
	t.Cleanup(func() {
		ts.Close()
		b.Close()
	})
	return governServer{url: ts.URL, audit: b.Audit, b: b}
}

// call sends a request as principal ("" for none) and decodes the JSON answer into v (when not
// nil); it returns the status.
func (g governServer) call(t testing.TB, principal, method, path, body string, v any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, g.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if principal != "" {
		g.as(t, req, principal)
	}
	req.Header.Set("User-Agent", "govern-test/1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s as %s: %v: %s", method, path, principal, err, b)
		}
	}
	if resp.StatusCode != http.StatusOK && testing.Verbose() {
		t.Logf("%s %s as %q: %d %s", method, path, principal, resp.StatusCode, b)
	}
	return resp.StatusCode
}

type apiQueryResult struct {
	Columns []struct{ Name string } `json:"columns"`
	Rows    [][]any                 `json:"rows"`
}

// query runs sql through POST /api/query as principal; it returns the status, the column names
// and the rows as text.
func (g governServer) query(t testing.TB, principal, sql string) (int, []string, [][]string) {
	t.Helper()
	var res apiQueryResult
	status := g.call(t, principal, http.MethodPost, "/api/query", mustJSON(t, map[string]any{"sql": sql, "max_rows": 100000}), &res)
	var cols []string
	for _, c := range res.Columns {
		cols = append(cols, c.Name)
	}
	rows := make([][]string, len(res.Rows))
	for i, r := range res.Rows {
		for _, v := range r {
			rows[i] = append(rows[i], fmt.Sprint(v))
		}
	}
	return status, cols, rows
}

// TestAPIMatrixEachPrincipalSeesExactlyItsGrants is issue 16's matrix through the JSON API of
// the real `serve`, each principal authenticated by a Bearer access key of its own: an admin, a role member with a column- and row-filtered grant, a user with
// row-filtered grants and a user with none, on two stores and a cost table. /api/stores,
// /api/tables and /api/query show each exactly its granted tables, columns and rows, computed
// independently by the operator's unrestricted CLI query of the same predicates.
func TestAPIMatrixEachPrincipalSeesExactlyItsGrants(t *testing.T) {
	a := newAccessLake(t)
	g := startServedGovern(t, a.dir)
	all := a.count(t, "", "SELECT count(*) FROM "+a.table())
	ec2 := a.count(t, "", "SELECT count(*) FROM "+a.table()+" WHERE "+bobFilter)
	carolRows := a.count(t, "", "SELECT count(*) FROM "+a.table()+" WHERE "+carolFilter+" OR eventsource = 'sts.amazonaws.com'")
	costRows := a.count(t, "", `SELECT count(*) FROM "cur"."koku"`)
	allCols := a.mustQueryAs(t, "", "SELECT * FROM "+a.table()+" LIMIT 1")[0]
	costCols := a.mustQueryAs(t, "", `SELECT * FROM "cur"."koku" LIMIT 1`)[0]
	var bobCols []string
	for _, c := range allCols {
		if slices.Contains(strings.Split(bobColumns, ","), c) {
			bobCols = append(bobCols, c)
		}
	}
	if all != "310" || ec2 == "0" || ec2 == all || carolRows == "0" || carolRows == all {
		t.Fatalf("fixture: %s events, %s EC2, %s carol's", all, ec2, carolRows)
	}
	trailID, otherID := "aws:cloudtrail."+a.id, "aws:cloudtrail."+a.other
	cases := []struct {
		principal   string
		stores      map[string]string   // name → events
		tables      map[string][]string // schema.name → columns (nil: every column the operator sees)
		trail, cost string              // SELECT count(*) of the trail and the cost table; "" = not found
		other       string
	}{
		{"user:alice", map[string]string{"trail": all, "other": all},
			map[string][]string{trailID: allCols, "aws:cloudtrail.trail": allCols, otherID: allCols, "aws:cloudtrail.other": allCols, "cur.koku": costCols},
			all, costRows, all},
		{"user:bob", map[string]string{"trail": ec2},
			map[string][]string{trailID: bobCols, "aws:cloudtrail.trail": bobCols, "cur.koku": costCols}, ec2, costRows, ""},
		{"user:carol", map[string]string{"trail": carolRows},
			map[string][]string{trailID: allCols, "aws:cloudtrail.trail": allCols}, carolRows, "", ""},
		{"user:dave", map[string]string{}, map[string][]string{}, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.principal, func(t *testing.T) {
			var stores struct {
				Stores []server.Store `json:"stores"`
			}
			if st := g.call(t, c.principal, http.MethodGet, "/api/stores", "", &stores); st != http.StatusOK {
				t.Fatalf("/api/stores: %d", st)
			}
			got := map[string]string{}
			for _, s := range stores.Stores {
				got[s.Name] = fmt.Sprint(s.Events)
				if c.principal != "user:alice" && s.Bytes != 0 {
					t.Errorf("/api/stores shows %s the bytes of store %s, which it reads only in part", c.principal, s.Name)
				}
			}
			if !maps.Equal(got, c.stores) {
				t.Errorf("/api/stores: %v, want %v", got, c.stores)
			}

			var tables struct {
				Tables []server.Table `json:"tables"`
			}
			if st := g.call(t, c.principal, http.MethodGet, "/api/tables", "", &tables); st != http.StatusOK {
				t.Fatalf("/api/tables: %d", st)
			}
			gotT := map[string][]string{}
			for _, tb := range tables.Tables {
				if tb.Schema == "aws:cloudtrail" && tb.Name == lake.AuditStore || (tb.Schema == "aws:cloudtrail" && isAuditID(t, a.dir, tb.Name)) {
					if c.principal != "user:alice" {
						t.Errorf("%s lists the audit store", c.principal)
					}
					continue
				}
				for _, col := range tb.Columns {
					gotT[tb.Schema+"."+tb.Name] = append(gotT[tb.Schema+"."+tb.Name], col.Name)
				}
			}
			if !maps.EqualFunc(gotT, c.tables, slices.Equal) {
				t.Errorf("/api/tables:\n got %v\nwant %v", gotT, c.tables)
			}

			for _, tc := range []struct{ table, want string }{
				{a.table(), c.trail}, {`"aws:cloudtrail"."trail"`, c.trail}, {`"aws:cloudtrail"."` + a.other + `"`, c.other},
				{`"aws:cloudtrail"."other"`, c.other}, {`"cur"."koku"`, c.cost},
			} {
				st, _, rows := g.query(t, c.principal, "SELECT count(*) FROM "+tc.table)
				switch {
				case tc.want == "" && st != http.StatusBadRequest:
					t.Errorf("%s on %s: status %d %v, want 400 does not exist", c.principal, tc.table, st, rows)
				case tc.want != "" && (st != http.StatusOK || rows[0][0] != tc.want):
					t.Errorf("%s on %s: status %d, %v rows, want %s", c.principal, tc.table, st, rows, tc.want)
				}
			}
			if want := c.tables[trailID]; want != nil {
				if st, cols, _ := g.query(t, c.principal, "SELECT * FROM "+a.table()+" LIMIT 1"); st != http.StatusOK || !slices.Equal(cols, want) {
					t.Errorf("SELECT * as %s: %d, columns %v, want %v", c.principal, st, cols, want)
				}
			}
		})
	}
	// The activity dashboard is queries as the principal: carol's counts are her rows, bob's
	// services are EC2 only, and a store dave may not read is not found.
	type dashboard struct {
		Widgets []struct {
			ID    string  `json:"id"`
			Rows  [][]any `json:"rows"`
			Error string  `json:"error"`
		} `json:"widgets"`
	}
	widget := func(d dashboard, id string) ([][]any, string) {
		for _, w := range d.Widgets {
			if w.ID == id {
				return w.Rows, w.Error
			}
		}
		t.Fatalf("no widget %s", id)
		return nil, ""
	}
	const span = "/api/dashboards/activity?store=trail&from=2000-01-01&to=2099-01-01"
	var carolDash, bobDash dashboard
	if st := g.call(t, "user:carol", http.MethodGet, span, "", &carolDash); st != http.StatusOK {
		t.Fatalf("carol's dashboard: %d", st)
	}
	// The widgets select by eventtime, which only her account's grant shows.
	acctRows := a.count(t, "", "SELECT count(*) FROM "+a.table()+" WHERE "+carolFilter)
	if rows, errMsg := widget(carolDash, "summary"); errMsg != "" || fmt.Sprint(rows[0][0]) != acctRows {
		t.Errorf("carol's dashboard summary: %v %s, want %s events", rows, errMsg, acctRows)
	}
	if st := g.call(t, "user:bob", http.MethodGet, span, "", &bobDash); st != http.StatusOK {
		t.Fatalf("bob's dashboard: %d", st)
	}
	if rows, errMsg := widget(bobDash, "top_services"); errMsg != "" || len(rows) != 1 || rows[0][0] != "ec2.amazonaws.com" || fmt.Sprint(rows[0][1]) != ec2 {
		t.Errorf("bob's top services: %v %s, want ec2.amazonaws.com with %s events", rows, errMsg, ec2)
	}
	if _, errMsg := widget(bobDash, "top_users"); errMsg == "" {
		t.Errorf("bob's top users widget reads useridentity, which his grant hides, and did not fail")
	}
	if st := g.call(t, "user:dave", http.MethodGet, span, "", nil); st != http.StatusNotFound {
		t.Errorf("dave's dashboard of a store he may not read: %d, want 404", st)
	}

	// Row for row, bob's view is the operator's filtered one, and carol's whole rows are her
	// account's.
	want := a.mustQueryAs(t, "", "SELECT "+bobColumns+" FROM "+a.table()+" WHERE "+bobFilter+" ORDER BY ALL")[1:]
	if st, _, got := g.query(t, "user:bob", "SELECT "+bobColumns+" FROM "+a.table()+" ORDER BY ALL"); st != http.StatusOK || len(got) != len(want) {
		t.Errorf("bob's rows: %d, %d of them, want %d", st, len(got), len(want))
	}
	st, _, rows := g.query(t, "user:carol", "SELECT DISTINCT recipientaccountid FROM "+a.table()+" WHERE awsregion IS NOT NULL")
	if st != http.StatusOK || len(rows) != 1 || rows[0][0] != carolAcct {
		t.Errorf("carol's whole rows are of accounts %v (%d), want only %s", rows, st, carolAcct)
	}
	// A store the principal may not read is not found by the reports either, in the words of
	// a store that does not exist.
	var hidden, absent struct {
		Error struct{ Code, Message string }
	}
	for _, c := range []struct {
		store string
		v     any
	}{{"other", &hidden}, {"nosuch", &absent}} {
		req, _ := http.NewRequest(http.MethodGet, g.url+"/api/reports/launch-compliance?store="+c.store, nil)
		g.as(t, req, "user:carol")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(c.v)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("carol's report on store %s: %d, want 404", c.store, resp.StatusCode)
		}
	}
	if strings.ReplaceAll(hidden.Error.Message, "other", "X") != strings.ReplaceAll(absent.Error.Message, "nosuch", "X") {
		t.Errorf("a hidden store answers %q, an absent one %q", hidden.Error.Message, absent.Error.Message)
	}
	// Without credentials the server answers 401.
	for _, path := range []string{"/api/stores", "/api/tables", "/api/reports/launch-compliance", "/api/instances/i-0123456789abcdef0"} {
		if st := g.call(t, "", http.MethodGet, path, "", nil); st != http.StatusUnauthorized {
			t.Errorf("GET %s without a caller: %d, want 401", path, st)
		}
	}
	if st, _, _ := g.query(t, "", "SELECT 1"); st != http.StatusUnauthorized {
		t.Errorf("POST /api/query without a caller: %d, want 401", st)
	}
}

// isAuditID says whether id is the audit store's id in data directory dir.
func isAuditID(t testing.TB, dir, id string) bool {
	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Resolve(lake.AuditStore)
	return err == nil && st.ID == id
}

// reportLake is a generated organization (store "org", cost table cur.gen) with alice (admin),
// bob (role finops: the seven columns of the EC2 rows of org, all of cur.gen) and carol
// (every column of org's and cur.gen's rows of one account, acct).
type reportLake struct {
	dir, acct string
}

func newReportLake(t *testing.T) reportLake {
	t.Helper()
	dir, src := t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "3000", "--seed", "5", "--cur", "--force")
	createStore(t, dir, "org")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "org", filepath.Join(src, "AWSLogs"))
	mustRun(t, 0, dir, "cur", "register", "cur.gen", filepath.Join(src, "cur"))
	rows := queryCSV(t, dir, `SELECT account_id FROM (SELECT recipientaccountid AS account_id, count(*) FILTER (WHERE eventname = 'RunInstances') AS n
		FROM "aws:cloudtrail"."org" GROUP BY 1) ORDER BY n DESC, 1 LIMIT 1`)
	r := reportLake{dir: dir, acct: rows[0][0]}
	mustRun(t, 0, dir, "user", "create", "alice", "--admin")
	mustRun(t, 0, dir, "user", "create", "bob")
	mustRun(t, 0, dir, "user", "create", "carol")
	mustRun(t, 0, dir, "role", "create", "finops")
	mustRun(t, 0, dir, "role", "add-member", "finops", "bob")
	mustRun(t, 0, dir, "grant", "select", "--on", "store:org", "--to", "role:finops",
		"--columns", "eventtime,eventname,eventsource,awsregion,recipientaccountid,requestparameters,responseelements", "--row-filter", bobFilter)
	mustRun(t, 0, dir, "grant", "select", "--on", "table:cur.gen", "--to", "role:finops")
	mustRun(t, 0, dir, "grant", "select", "--on", "store:org", "--to", "user:carol", "--row-filter", "recipientaccountid = '"+r.acct+"'")
	mustRun(t, 0, dir, "grant", "select", "--on", "table:cur.gen", "--to", "user:carol", "--row-filter", "line_item_usage_account_id = '"+r.acct+"'")
	return r
}

// launchRows decodes a launch-compliance report's rows.
type launchReport struct {
	Rows []struct {
		InstanceID    string  `json:"instance_id"`
		AccountID     string  `json:"account_id"`
		Status        string  `json:"status"`
		UnblendedCost float64 `json:"unblended_cost"`
	} `json:"rows"`
}

type dailyReport struct {
	Rows []struct {
		Day       string  `json:"day"`
		Status    string  `json:"status"`
		Unblended float64 `json:"unblended_cost"`
	} `json:"rows"`
}

// TestAPIReportsRunAsThePrincipal: launch-compliance, daily-spend and an instance's trail
// through the JSON API show each principal what its grants allow — the admin the operator's
// report; carol (one account's rows of the store and of the cost table) the operator's report
// of that account, and that account's cost lines only; bob, whose grant hides columns the
// reports read, a 400 that names one — and an instance outside carol's rows is as absent
// for her as one that does not exist.
func TestAPIReportsRunAsThePrincipal(t *testing.T) {
	r := newReportLake(t)
	g := startServedGovern(t, r.dir)
	const q = "?store=org&cost=cur.gen"

	var cliAll, cliAcct, alice, carol launchReport
	decode := func(s string, v any) {
		if err := json.Unmarshal([]byte(s), v); err != nil {
			t.Fatalf("%v: %.200s", err, s)
		}
	}
	decode(mustRun(t, 0, r.dir, "report", "launch-compliance", "--eds", "org", "--cur", "cur.gen", "--format", "json"), &cliAll)
	decode(mustRun(t, 0, r.dir, "report", "launch-compliance", "--eds", "org", "--cur", "cur.gen", "--account", r.acct, "--format", "json"), &cliAcct)
	if st := g.call(t, "user:alice", http.MethodGet, "/api/reports/launch-compliance"+q, "", &alice); st != http.StatusOK {
		t.Fatalf("alice: %d", st)
	}
	if st := g.call(t, "user:carol", http.MethodGet, "/api/reports/launch-compliance"+q, "", &carol); st != http.StatusOK {
		t.Fatalf("carol: %d", st)
	}
	if len(cliAcct.Rows) == 0 || len(cliAcct.Rows) == len(cliAll.Rows) {
		t.Fatalf("fixture: %d instances in all, %d of account %s", len(cliAll.Rows), len(cliAcct.Rows), r.acct)
	}
	if !reflect.DeepEqual(alice.Rows, cliAll.Rows) {
		t.Errorf("alice's launch-compliance differs from the operator's: %d rows vs %d", len(alice.Rows), len(cliAll.Rows))
	}
	if !reflect.DeepEqual(carol.Rows, cliAcct.Rows) {
		t.Errorf("carol's launch-compliance differs from the operator's of account %s:\n got %+v\nwant %+v", r.acct, carol.Rows, cliAcct.Rows)
	}
	var bobErr struct {
		Error struct{ Code, Message string }
	}
	for _, name := range []string{"launch-compliance", "daily-spend"} {
		if st := g.call(t, "user:bob", http.MethodGet, "/api/reports/"+name+q, "", nil); st != http.StatusBadRequest {
			t.Errorf("bob's %s: %d, want 400", name, st)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, g.url+"/api/reports/launch-compliance"+q, nil)
	g.as(t, req, "user:bob")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		json.NewDecoder(resp.Body).Decode(&bobErr)
		resp.Body.Close()
	}
	if !strings.Contains(bobErr.Error.Message, "which the grants of user:bob do not show") {
		t.Errorf("bob's report error %q does not say a column is hidden by his grants", bobErr.Error.Message)
	}

	// Daily spend: alice's is the operator's; carol's sums only her account's EC2 lines, each
	// attributed by her own launch report.
	var cliDaily, aliceDaily, carolDaily dailyReport
	decode(mustRun(t, 0, r.dir, "report", "daily-spend", "--eds", "org", "--cur", "cur.gen", "--format", "json"), &cliDaily)
	if st := g.call(t, "user:alice", http.MethodGet, "/api/reports/daily-spend"+q, "", &aliceDaily); st != http.StatusOK || !reflect.DeepEqual(aliceDaily, cliDaily) {
		t.Errorf("alice's daily-spend (%d) differs from the operator's", st)
	}
	if st := g.call(t, "user:carol", http.MethodGet, "/api/reports/daily-spend"+q, "", &carolDaily); st != http.StatusOK {
		t.Fatalf("carol's daily-spend: %d", st)
	}
	status := map[string]string{}
	for _, row := range cliAcct.Rows {
		status[row.InstanceID] = row.Status
	}
	want := map[string]float64{}
	for _, l := range queryCSV(t, r.dir, `SELECT strftime(line_item_usage_start_date::TIMESTAMP, '%Y-%m-%d'), line_item_resource_id, sum(line_item_unblended_cost::DOUBLE)
		FROM cur.gen WHERE line_item_usage_account_id = '`+r.acct+`' AND line_item_product_code = 'AmazonEC2'
		AND coalesce(line_item_line_item_type, '') NOT IN ('Tax', 'Refund', 'Credit') GROUP BY 1, 2`) {
		st, ok := status[l[1]]
		if !ok {
			st = "unattributed"
		}
		v, _ := strconv.ParseFloat(l[2], 64)
		want[l[0]+" "+st] += v
	}
	got := map[string]float64{}
	for _, row := range carolDaily.Rows {
		got[row.Day+" "+row.Status] += row.Unblended
	}
	if len(got) != len(want) {
		t.Errorf("carol's daily-spend has %d day×status rows, want %d", len(got), len(want))
	}
	for k, w := range want {
		if math.Abs(got[k]-w) > 1e-6 {
			t.Errorf("carol's daily-spend %s = %v, want %v", k, got[k], w)
		}
	}

	// An instance of carol's account: her trail is the admin's; one of another account is not
	// found for her, as an id that does not exist.
	var mine, other string
	for _, row := range cliAll.Rows {
		switch {
		case row.AccountID == r.acct && mine == "":
			mine = row.InstanceID
		case row.AccountID != r.acct && other == "":
			other = row.InstanceID
		}
	}
	var aliceTrail, carolTrail struct {
		InstanceID string `json:"instance_id"`
		Events     []any  `json:"events"`
	}
	if st := g.call(t, "user:alice", http.MethodGet, "/api/instances/"+mine+q, "", &aliceTrail); st != http.StatusOK {
		t.Fatalf("alice's trail of %s: %d", mine, st)
	}
	if st := g.call(t, "user:carol", http.MethodGet, "/api/instances/"+mine+q, "", &carolTrail); st != http.StatusOK || !reflect.DeepEqual(carolTrail, aliceTrail) {
		t.Errorf("carol's trail of %s (%d, %d events) differs from alice's (%d events)", mine, st, len(carolTrail.Events), len(aliceTrail.Events))
	}
	if st := g.call(t, "user:alice", http.MethodGet, "/api/instances/"+other+q, "", nil); st != http.StatusOK {
		t.Errorf("alice's trail of %s: %d", other, st)
	}
	for _, id := range []string{other, "i-0000000000000dead"} {
		if st := g.call(t, "user:carol", http.MethodGet, "/api/instances/"+id+q, "", nil); st != http.StatusNotFound {
			t.Errorf("carol's trail of %s: %d, want 404", id, st)
		}
	}
	if st := g.call(t, "user:bob", http.MethodGet, "/api/instances/"+mine+q, "", nil); st != http.StatusBadRequest {
		t.Errorf("bob's trail of %s: %d, want 400", mine, st)
	}
	// A store or cost table the principal may not read is not found, as one that does not exist.
	for _, path := range []string{"/api/reports/launch-compliance?store=nosuch", "/api/reports/daily-spend?store=org&cost=cur.nosuch"} {
		if st := g.call(t, "user:carol", http.MethodGet, path, "", nil); st != http.StatusNotFound {
			t.Errorf("carol GET %s: %d, want 404", path, st)
		}
	}
}

// auditRecord is the part of an audit log record the tests check.
type auditRecord struct {
	EventName    string `json:"eventName"`
	UserIdentity struct {
		PrincipalID string `json:"principalId"`
		AccessKeyID string `json:"accessKeyId"`
	} `json:"userIdentity"`
	SourceIPAddress   string         `json:"sourceIPAddress"`
	UserAgent         string         `json:"userAgent"`
	ErrorCode         string         `json:"errorCode"`
	RequestParameters map[string]any `json:"requestParameters"`
	ResponseElements  struct {
		TablesRead   []string `json:"tablesRead"`
		RowsReturned int64    `json:"rowsReturned"`
	} `json:"responseElements"`
	AdditionalEventData struct {
		Door string `json:"door"`
	} `json:"additionalEventData"`
}

// TestAPIQueriesAndReportsAreAuditedAndOnlyGranteesReadTheLog: every query and report through
// the backend is a StartQuery record of the audit store with the caller's principal, key, door,
// address and user agent, the SQL, the tables read, the rows and the outcome; only principals
// granted the audit store read it, and nobody deletes from it.
func TestAPIQueriesAndReportsAreAuditedAndOnlyGranteesReadTheLog(t *testing.T) {
	a := newAccessLake(t)
	g := startGovernServer(t, a.dir, app.Options{})
	good := "SELECT eventname FROM " + a.table() + " ORDER BY eventtime LIMIT 3"
	bad := "SELECT nosuchcolumn FROM " + a.table()
	if st, _, _ := g.query(t, "user:bob", good); st != http.StatusOK {
		t.Fatalf("bob's query: %d", st)
	}
	if st, _, _ := g.query(t, "user:bob", bad); st != http.StatusBadRequest {
		t.Fatalf("bob's bad query: %d", st)
	}
	if st := g.call(t, "user:carol", http.MethodGet, "/api/reports/launch-compliance?store=trail", "", nil); st != http.StatusOK {
		t.Fatalf("carol's report: %d", st)
	}
	if err := g.audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	audit := `"aws:cloudtrail"."` + lake.AuditStore + `"`
	st, _, rows := g.query(t, "user:alice", "SELECT eventjson FROM "+audit+" WHERE eventname = 'StartQuery' ORDER BY eventtime")
	if st != http.StatusOK {
		t.Fatalf("alice reads the audit log: %d", st)
	}
	var recs []auditRecord
	for _, r := range rows {
		var rec auditRecord
		if err := json.Unmarshal([]byte(r[0]), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.AdditionalEventData.Door == access.DoorAPI {
			recs = append(recs, rec)
		}
	}
	if len(recs) != 3 {
		t.Fatalf("%d StartQuery records of the API, want 3: %+v", len(recs), recs)
	}
	q, failed, rep := recs[0], recs[1], recs[2]
	if q.UserIdentity.PrincipalID != "user:bob" || q.UserIdentity.AccessKeyID != "ALAKTESTBOB" || q.SourceIPAddress != "192.0.2.7" ||
		q.UserAgent != "govern-test/1" || q.RequestParameters["queryStatement"] != good || q.ErrorCode != "" ||
		!slices.Equal(q.ResponseElements.TablesRead, []string{"aws:cloudtrail." + a.id}) || q.ResponseElements.RowsReturned != 3 {
		t.Errorf("bob's query is recorded as %+v", q)
	}
	if failed.RequestParameters["queryStatement"] != bad || failed.ErrorCode != "QueryFailed" {
		t.Errorf("bob's failed query is recorded as %+v", failed)
	}
	if rep.UserIdentity.PrincipalID != "user:carol" || rep.RequestParameters["report"] != "launch-compliance" ||
		!slices.Contains(rep.ResponseElements.TablesRead, "aws:cloudtrail."+a.id) {
		t.Errorf("carol's report is recorded as %+v", rep)
	}

	// Only a principal granted the audit store reads it; nobody deletes from it.
	for _, p := range []string{"user:bob", "user:carol", "user:dave"} {
		if st, _, rows := g.query(t, p, "SELECT count(*) FROM "+audit); st != http.StatusBadRequest {
			t.Errorf("%s reads the audit log: %d %v", p, st, rows)
		}
	}
	mustRun(t, 0, a.dir, "grant", "select", "--on", "store:"+lake.AuditStore, "--to", "user:dave")
	if st, _, rows := g.query(t, "user:dave", "SELECT count(*) FROM "+audit+" WHERE eventname = 'StartQuery'"); st != http.StatusOK || rows[0][0] == "0" {
		t.Errorf("dave, granted the audit log, reads %v (%d)", rows, st)
	}
	for _, sql := range []string{"DELETE FROM " + audit, "DROP TABLE " + audit, "UPDATE " + audit + " SET eventname = 'x'"} {
		if st, _, _ := g.query(t, "user:alice", sql); st != http.StatusBadRequest {
			t.Errorf("admin's %q: %d, want 400", sql, st)
		}
	}
	if _, _, code := run(t, a.dir, "eds", "delete", lake.AuditStore, "--yes"); code == 0 {
		t.Errorf("eds delete %s succeeded", lake.AuditStore)
	}
	if err := g.audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _, rows := g.query(t, "user:alice", "SELECT count(*) FROM "+audit+" WHERE eventname = 'StartQuery'"); st != http.StatusOK || rows[0][0] == "0" {
		t.Errorf("the audit log after the attempts: %v (%d)", rows, st)
	}
	mustRun(t, 0, a.dir, "validate-logs", "--audit-log") // exit 0: every record is covered by its digest
}

// TestChannelTokensAreAccessKeysWithAPutGrant: a channel token is a user's access key with a put
// grant on the channel (grant put validates the channel); both PutAuditEvents endpoints take it
// as Bearer KEYID:SECRET and check the grant through the access layer at every call: a grant,
// a revoke, a disabled user and a deleted token take effect at once; deleting a channel removes
// the grants on it.
func TestChannelTokensAreAccessKeysWithAPutGrant(t *testing.T) {
	cs := startChannelServer(t)
	ev := func(id string) []byte {
		return requestBody(t, map[string]string{"id": id, "eventData": auditEventData(t, "u-"+id, "CreateUser", "2026-03-01T10:00:00Z", channelAccount, nil)})
	}
	if out := mustRun(t, 0, cs.dir, "token", "list"); !strings.Contains(out, "e2e") || !strings.Contains(out, "my-app") {
		t.Errorf("token list:\n%s", out)
	}
	apiURL := cs.base + "/api/channels/my-app/events"
	if status, res := post(t, apiURL, cs.token, ev("a-1")); status != http.StatusOK || len(res.Successful) != 1 {
		t.Fatalf("/api/channels with the token: %d %+v", status, res)
	}
	var carol access.Credentials
	if err := json.Unmarshal([]byte(mustRun(t, 0, cs.dir, "user", "create", "carol", "--output", "json")), &carol); err != nil {
		t.Fatal(err)
	}
	key := carol.AccessKeyID + ":" + carol.SecretAccessKey
	for _, u := range []string{cs.putURL, apiURL} {
		if status, res := post(t, u, key, ev("c-1")); status != http.StatusForbidden || res.Error == nil || res.Error.Code != "AccessDeniedException" {
			t.Errorf("a key without the grant at %s: %d %+v, want 403", u, status, res.Error)
		}
	}
	if _, errOut, code := run(t, cs.dir, "grant", "put", "--on", "channel:no-such-channel", "--to", "user:carol"); code == 0 || !strings.Contains(errOut, "no such channel") {
		t.Errorf("grant put on a missing channel: exit %d: %s", code, errOut)
	}
	if _, errOut, code := run(t, cs.dir, "grant", "put", "--on", "store:app-events", "--to", "user:carol"); code == 0 || !strings.Contains(errOut, "channel:") {
		t.Errorf("grant put on a store: exit %d: %s", code, errOut)
	}
	mustRun(t, 0, cs.dir, "grant", "put", "--on", "channel:"+cs.arn, "--to", "user:carol")
	if status, _ := post(t, cs.putURL, key, ev("c-2")); status != http.StatusOK {
		t.Errorf("after grant put, carol's call: %d", status)
	}
	mustRun(t, 0, cs.dir, "revoke", "put", "--on", "channel:my-app", "--from", "user:carol")
	if status, _ := post(t, cs.putURL, key, ev("c-3")); status != http.StatusForbidden {
		t.Errorf("after revoke, carol's call: %d, want 403", status)
	}
	mustRun(t, 0, cs.dir, "user", "disable", "e2e")
	if status, _ := post(t, cs.putURL, cs.token, ev("a-2")); status != http.StatusUnauthorized {
		t.Errorf("the disabled token's call: %d, want 401", status)
	}
	mustRun(t, 0, cs.dir, "user", "enable", "e2e")
	mustRun(t, 0, cs.dir, "token", "delete", "e2e")
	if status, _ := post(t, cs.putURL, cs.token, ev("a-3")); status != http.StatusUnauthorized {
		t.Errorf("the deleted token's call: %d, want 401", status)
	}
	if _, _, code := run(t, cs.dir, "token", "delete", "carol"); code == 0 {
		t.Errorf("token delete of a user without a put grant succeeded")
	}
	mustRun(t, 0, cs.dir, "token", "create", "--channel", "my-app", "again")
	mustRun(t, 0, cs.dir, "channel", "delete", "my-app")
	if out := mustRun(t, 0, cs.dir, "grants", "--output", "json"); strings.Contains(out, "channel:") {
		t.Errorf("grants on the deleted channel remain:\n%s", out)
	}
	if got := queryCSV(t, cs.dir, `SELECT count(*) FROM "aws:cloudtrail"."app-events"`); got[0][0] != "2" {
		t.Errorf("the store holds %s events, want the 2 accepted", got[0][0])
	}
}
