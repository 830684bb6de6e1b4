package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/server"
)

// newTestServer serves b with an access registry in a temporary directory (unless opts names
// one) whose admin's Bearer key ts.Client() sends with every request that carries no
// Authorization of its own.
func newTestServer(t *testing.T, b server.Backend, opts server.Options) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	var admin access.Credentials
	if opts.Access == nil {
		opts.Access, admin = testAccess(t)
	}
	ts := httptest.NewServer(server.New(b, log, opts))
	t.Cleanup(ts.Close)
	if admin.AccessKeyID != "" {
		ts.Client().Transport = &bearerTransport{ts.Client().Transport, bearer(admin)}
	}
	return ts, &logs
}

type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func do(t *testing.T, ts *httptest.Server, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestAPIAnswersStatusAndJSONErrorForEachRequestKind(t *testing.T) {
	ts, _ := newTestServer(t, newTestBackend(), server.Options{MaxBodyBytes: 4096})
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantCode                 string // error code; "" for success
		wantInBody               string
	}{
		{"health", "GET", "/healthz", "", 200, "", `"status":"ok"`},
		{"stores list", "GET", "/api/stores", "", 200, "", storeID},
		{"tables list cost and eds", "GET", "/api/tables", "", 200, "", `"kind":"cost"`},
		{"query rows", "POST", "/api/query", `{"sql":"SELECT eventname FROM \"aws:cloudtrail\".\"` + storeID + `\""}`, 200, "", `"RunInstances"`},
		{"malformed sql is 400 with engine message", "POST", "/api/query", `{"sql":"SELEC nonsense"}`, 400, "query_error", "syntax error at or near"},
		{"unknown column is 400", "POST", "/api/query", `{"sql":"SELECT nosuch FROM \"aws:cloudtrail\".\"` + storeID + `\""}`, 400, "query_error", "nosuch"},
		{"empty sql is 400", "POST", "/api/query", `{"sql":"   "}`, 400, "bad_request", "sql is empty"},
		{"broken json is 400", "POST", "/api/query", `{"sql":`, 400, "bad_request", "not valid JSON"},
		{"unknown field is 400", "POST", "/api/query", `{"query":"SELECT 1"}`, 400, "bad_request", "unknown field"},
		{"trailing data is 400", "POST", "/api/query", `{"sql":"SELECT 1"} {}`, 400, "bad_request", "after the JSON object"},
		{"max_rows over limit is 400", "POST", "/api/query", `{"sql":"SELECT 1","max_rows":100000000}`, 400, "bad_request", "max_rows"},
		{"negative timeout is 400", "POST", "/api/query", `{"sql":"SELECT 1","timeout_seconds":-1}`, 400, "bad_request", "timeout_seconds"},
		{"oversized body is 413", "POST", "/api/query", `{"sql":"` + strings.Repeat("x", 5000) + `"}`, 413, "body_too_large", "4096 bytes"},
		{"query by GET is 405", "GET", "/api/query", "", 405, "method_not_allowed", "use POST"},
		{"stores by POST is 405", "POST", "/api/stores", "{}", 405, "method_not_allowed", "use GET"},
		{"unknown endpoint is JSON 404", "GET", "/api/nope", "", 404, "not_found", "/api/nope"},
		{"compliance report", "GET", "/api/reports/launch-compliance?store=" + storeID, "", 200, "", `"not_approved_cost"`},
		{"report unknown store is 404", "GET", "/api/reports/launch-compliance?store=no-such-store", "", 404, "not_found", "no-such-store"},
		{"unknown report is 404", "GET", "/api/reports/no-such-report", "", 404, "not_found", "no-such-report"},
		{"bad from is 400", "GET", "/api/reports/daily-spend?from=yesterday", "", 400, "bad_request", "from"},
		{"from after to is 400", "GET", "/api/reports/daily-spend?from=2026-09-05&to=2026-09-01", "", 400, "bad_request", "before"},
		{"short account is 400", "GET", "/api/reports/daily-spend?account=1234", "", 400, "bad_request", "12-digit"},
		{"instance", "GET", "/api/instances/i-0bbb000000000002", "", 200, "", `"RunInstances"`},
		{"unknown instance is 404", "GET", "/api/instances/i-0fff00000000000f", "", 404, "not_found", "i-0fff00000000000f"},
		{"malformed instance id is 400", "GET", "/api/instances/not-an-instance", "", 400, "bad_request", "EC2 instance id"},
		{"activity unknown store is 404", "GET", "/api/dashboards/activity?store=nope", "", 404, "not_found", `store \"nope\" not found`},
		{"activity bad to is 400", "GET", "/api/dashboards/activity?store=" + storeID + "&to=2026-13-01", "", 400, "bad_request", "to"},
		{"activity widgets", "GET", "/api/dashboards/activity?store=" + storeID, "", 200, "", `"top_services"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, ts, tt.method, tt.path, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if tt.wantCode != "" {
				var e apiErr
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("error body is not JSON: %v: %s", err, body)
				}
				if e.Error.Code != tt.wantCode {
					t.Errorf("error code = %q, want %q (%s)", e.Error.Code, tt.wantCode, body)
				}
			}
			if !bytes.Contains(body, []byte(tt.wantInBody)) {
				t.Errorf("body does not contain %q: %s", tt.wantInBody, body)
			}
			if tt.wantStatus == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

func TestQueryPastTimeoutIs504WithSeconds(t *testing.T) {
	ts, _ := newTestServer(t, newTestBackend(), server.Options{})
	// The test backend's sleep() returns only when its context ends: an answer at all means
	// the timeout stopped the query.
	resp, body := do(t, ts, "POST", "/api/query", `{"sql":"SELECT sleep(60)","timeout_seconds":0.2}`)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status = %d, want 504: %s", resp.StatusCode, body)
	}
	var e apiErr
	json.Unmarshal(body, &e)
	if got, want := e.Error.Message, "query timed out after 0.2s"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}

func TestQueryTruncatesAtMaxRows(t *testing.T) {
	ts, _ := newTestServer(t, newTestBackend(), server.Options{})
	resp, body := do(t, ts, "POST", "/api/query", `{"sql":"SELECT eventtime, eventname FROM \"aws:cloudtrail\".\"`+storeID+`\"","max_rows":2}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got struct {
		Columns   []server.Column `json:"columns"`
		Rows      [][]any         `json:"rows"`
		RowCount  int             `json:"row_count"`
		Truncated bool            `json:"truncated"`
		MaxRows   int             `json:"max_rows"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := [][]any{{"2026-09-01T08:00:00Z", "RunInstances"}, {"2026-09-01T08:05:00Z", "CreateTags"}}
	if !reflect.DeepEqual(got.Rows, want) || got.RowCount != 2 || !got.Truncated || got.MaxRows != 2 {
		t.Errorf("got rows %v count %d truncated %v max %d; want %v, 2, true, 2", got.Rows, got.RowCount, got.Truncated, got.MaxRows, want)
	}
	if len(got.Columns) != 2 || got.Columns[0] != (server.Column{Name: "eventtime", Type: "TIMESTAMP"}) {
		t.Errorf("columns = %v", got.Columns)
	}
}

func TestQueryIsCancelledWhenClientGoesAway(t *testing.T) {
	b := newTestBackend()
	ts, _ := newTestServer(t, b, server.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/api/query", strings.NewReader(`{"sql":"SELECT sleep(600)"}`))
	done := make(chan error, 1)
	go func() {
		resp, err := ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	var qctx context.Context
	// The bounds stop a hung server only: on a loaded machine a step takes seconds.
	for deadline := time.Now().Add(time.Minute); qctx == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b.mu.Lock()
		qctx = b.lastCtx
		b.mu.Unlock()
	}
	if qctx == nil {
		t.Fatal("backend never received the query")
	}
	cancel()
	select {
	case <-qctx.Done():
		if !errors.Is(qctx.Err(), context.Canceled) {
			t.Errorf("query context ended with %v, want context.Canceled", qctx.Err())
		}
	case <-time.After(time.Minute):
		t.Fatal("query context still live a minute after the client went away")
	}
	<-done
}

// failingBackend fails every call with an internal error that must not reach the caller.
type failingBackend struct{ *testBackend }

func (failingBackend) Stores(ctx context.Context) ([]server.Store, error) {
	return nil, errors.New("open /var/secret/catalog.db: permission denied")
}

func TestInternalErrorIs500WithoutDetailsAndIsLogged(t *testing.T) {
	ts, logs := newTestServer(t, failingBackend{newTestBackend()}, server.Options{})
	resp, body := do(t, ts, "GET", "/api/stores", "")
	if resp.StatusCode != 500 {
		t.Fatalf("status = %d, want 500", resp.StatusCode)
	}
	if bytes.Contains(body, []byte("/var/secret")) {
		t.Errorf("response leaks internal detail: %s", body)
	}
	if !strings.Contains(logs.String(), "/var/secret/catalog.db") {
		t.Errorf("log lacks the internal error: %s", logs)
	}
	if !strings.Contains(logs.String(), `"msg":"http request"`) || !strings.Contains(logs.String(), `"status":500`) {
		t.Errorf("no structured request log line with the status: %s", logs)
	}
}

func TestReportParamsReachBackendParsed(t *testing.T) {
	b := newTestBackend()
	ts, _ := newTestServer(t, b, server.Options{})
	resp, body := do(t, ts, "GET", "/api/reports/launch-compliance?store="+storeID+"&cost=cur.cur_2026&from=2026-09-01&to=2026-09-30&account=111122223333,444455556666&approved=lt-0a1&approved=lt-0c3", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	from := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC) // a date as upper bound includes that day
	want := server.ReportParams{Store: storeID, Cost: "cur.cur_2026", From: &from, To: &to,
		Accounts: []string{"111122223333", "444455556666"}, ApprovedTemplates: []string{"lt-0a1", "lt-0c3"}}
	b.mu.Lock()
	got := b.lastParams
	b.mu.Unlock()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("params = %+v\nwant %+v", got, want)
	}
}

// TestApprovedVersionListsStayWithTheirTemplate: in a comma-separated approved list, versions
// after "template:" belong to that template ("lt-0a1:1,2,web-tier" is two templates).
func TestApprovedVersionListsStayWithTheirTemplate(t *testing.T) {
	b := newTestBackend()
	ts, _ := newTestServer(t, b, server.Options{})
	resp, body := do(t, ts, "GET", "/api/reports/launch-compliance?store="+storeID+"&approved=lt-0a1:1,2,web-tier,lt-0c3:$Latest,3&approved=lt-0d4", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	want := []string{"lt-0a1:1,2", "web-tier", "lt-0c3:$Latest,3", "lt-0d4"}
	b.mu.Lock()
	got := b.lastParams.ApprovedTemplates
	b.mu.Unlock()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("approved = %q, want %q", got, want)
	}
}

// TestActivitySQLReadsTheBackendsTableAndUsesServerMadeTimeLiterals: the widgets read the
// table the backend names (quoted by the engine's rules there), with time literals the server
// makes from parsed times.
func TestActivitySQLReadsTheBackendsTableAndUsesServerMadeTimeLiterals(t *testing.T) {
	b := newTestBackend()
	b.stores = append(b.stores, server.Store{ID: `we"ird`, Name: "odd", Table: `"aws:cloudtrail"."we""ird"`})
	ts, _ := newTestServer(t, b, server.Options{})

	resp, body := do(t, ts, "GET", "/api/dashboards/activity?store=we%22ird&from=2026-09-01&to=2026-09-01", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	sqls := b.sqlSeen()
	if len(sqls) != 9 {
		t.Fatalf("ran %d widget queries, want 9", len(sqls))
	}
	for _, sql := range sqls {
		if !strings.Contains(sql, `FROM "aws:cloudtrail"."we""ird"`) {
			t.Errorf("store id not quoted as an identifier:\n%s", sql)
		}
		if !strings.Contains(sql, "eventtime >= TIMESTAMP '2026-09-01 00:00:00.000000' AND eventtime < TIMESTAMP '2026-09-02 00:00:00.000000'") {
			t.Errorf("time filter missing or wrong:\n%s", sql)
		}
	}
	var got struct {
		Bucket  string `json:"bucket"`
		Widgets []struct {
			ID string `json:"id"`
		} `json:"widgets"`
	}
	json.Unmarshal(body, &got)
	if got.Bucket != "hour" {
		t.Errorf("bucket for a one-day range = %q, want hour", got.Bucket)
	}

	// A hostile time parameter is refused before any SQL runs.
	before := len(b.sqlSeen())
	resp, _ = do(t, ts, "GET", "/api/dashboards/activity?store="+storeID+"&from=2026-09-01'%20OR%201=1--", "")
	if resp.StatusCode != 400 {
		t.Errorf("hostile from: status %d, want 400", resp.StatusCode)
	}
	if n := len(b.sqlSeen()); n != before {
		t.Errorf("hostile from ran %d queries, want 0", n-before)
	}
}

func TestActivityDefaultsToTheStoresEventRangeByDay(t *testing.T) {
	b := newTestBackend()
	ts, _ := newTestServer(t, b, server.Options{})
	_, body := do(t, ts, "GET", "/api/dashboards/activity?store="+storeID, "")
	var got struct {
		From, To time.Time
		Bucket   string
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	wantFrom, wantTo := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 9, 8, 0, 0, 0, 0, time.UTC)
	if !got.From.Equal(wantFrom) || !got.To.Equal(wantTo) || got.Bucket != "day" {
		t.Errorf("range %s..%s by %s, want %s..%s by day", got.From, got.To, got.Bucket, wantFrom, wantTo)
	}
}

// valuesBackend returns one row of engine values that encoding/json cannot take as they are.
type valuesBackend struct{ *testBackend }

type uuidish [4]byte

func (u uuidish) String() string { return "0a0b0c0d" }

func (valuesBackend) Query(ctx context.Context, sql string, maxRows int) (*server.Result, error) {
	return &server.Result{
		Columns: []server.Column{{"m", "MAP(VARCHAR, VARCHAR)"}, {"nan", "DOUBLE"}, {"blob", "BLOB"}, {"u", "UUID"}, {"list", "VARCHAR[]"}},
		Rows:    [][]any{{map[any]any{"MFAUsed": "Yes"}, nanValue(), []byte{0xff, 0x00}, uuidish{10, 11, 12, 13}, []any{"a", map[any]any{int32(1): "x"}}}},
	}, nil
}

func nanValue() float64 { var z float64; return z / z }

func TestQueryEncodesEngineValuesJSONCannotTake(t *testing.T) {
	ts, _ := newTestServer(t, valuesBackend{newTestBackend()}, server.Options{})
	resp, body := do(t, ts, "POST", "/api/query", `{"sql":"SELECT 1"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got struct{ Rows [][]any }
	json.Unmarshal(body, &got)
	want := [][]any{{map[string]any{"MFAUsed": "Yes"}, "NaN", "/wA=", "0a0b0c0d", []any{"a", map[string]any{"1": "x"}}}}
	if !reflect.DeepEqual(got.Rows, want) {
		t.Errorf("rows = %#v\nwant %#v", got.Rows, want)
	}
}

func TestPageSaysAssetsNotBuiltWhenMissing(t *testing.T) {
	ts, _ := newTestServer(t, newTestBackend(), server.Options{})
	resp, body := do(t, ts, "GET", "/", "")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("assets not built: run make web")) {
		t.Errorf("status %d body %s; want 200 with the not-built notice", resp.StatusCode, body)
	}
}

func TestAssetsServeFilesAndIndexForOtherPaths(t *testing.T) {
	assets := fstest.MapFS{
		"index.html":        {Data: []byte("<html>dashboard</html>")},
		"assets/app-123.js": {Data: []byte("console.log(1)")},
	}
	ts, _ := newTestServer(t, newTestBackend(), server.Options{Assets: assets})
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
		wantCache  string
	}{
		{"/", 200, "dashboard", "no-cache"},
		{"/compliance", 200, "dashboard", "no-cache"},
		{"/assets/app-123.js", 200, "console.log", "public, max-age=31536000, immutable"},
		{"/assets/missing.js", 404, "not found", ""},
	}
	for _, tt := range tests {
		resp, body := do(t, ts, "GET", tt.path, "")
		if resp.StatusCode != tt.wantStatus || !bytes.Contains(body, []byte(tt.wantBody)) {
			t.Errorf("%s: status %d body %q; want %d containing %q", tt.path, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
		}
		if tt.wantCache != "" && resp.Header.Get("Cache-Control") != tt.wantCache {
			t.Errorf("%s: Cache-Control %q, want %q", tt.path, resp.Header.Get("Cache-Control"), tt.wantCache)
		}
	}
}

func TestServeStopsGracefullyOnCancel(t *testing.T) {
	reg, _ := testAccess(t)
	s := server.New(newTestBackend(), slog.New(slog.DiscardHandler), server.Options{ShutdownGrace: 2 * time.Second, Access: reg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz status %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v, want nil after cancel", err)
		}
	case <-time.After(time.Minute): // a hung Serve only (the grace is 2 s)
		t.Fatal("Serve did not return within a minute of cancel")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}
