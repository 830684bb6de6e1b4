package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
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
		req.Header.Set(testPrincipalHeader, principal)
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

// TestAPIMatrixEachPrincipalSeesExactlyItsGrants is issue 16's matrix through the JSON API
// (server.New over app.Backend, the caller set per request by a test door standing in for the
// auth middleware): an admin, a role member with a column- and row-filtered grant, a user with
// row-filtered grants and a user with none, on two stores and a cost table. /api/stores,
// /api/tables and /api/query show each exactly its granted tables, columns and rows, computed
// independently by the operator's unrestricted CLI query of the same predicates.
func TestAPIMatrixEachPrincipalSeesExactlyItsGrants(t *testing.T) {
	a := newAccessLake(t)
	g := startGovernServer(t, a.dir, app.Options{})
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
	// Without a caller (no door authenticated the request) the backend answers 401.
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
