package cli_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/cli"
	"github.com/auditlake/auditlake/internal/server"
	"github.com/auditlake/auditlake/internal/server/servertest"
)

// org is a generated organization ingested into a data directory, with the cost files
// registered as cur.gen and the generator's approved launch templates.
type org struct {
	dir, src string
	storeID  string
	approved []string // launch template ids
}

// newOrg generates 20000 events of a small organization with cost files and loads them
// through the CLI, as a user would before running serve.
func newOrg(t testing.TB) *org {
	t.Helper()
	o := &org{dir: t.TempDir(), src: t.TempDir()}
	mustRunTB(t, o.dir, "generate", "--out", o.src, "--events", "20000", "--seed", "5", "--cur", "--force")
	out := mustRunTB(t, o.dir, "eds", "create", "org", "--output", "json")
	var st struct{ ID string }
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.ID == "" {
		t.Fatalf("eds create printed %q: %v", out, err)
	}
	o.storeID = st.ID
	mustRunTB(t, o.dir, "ingest", "cloudtrail", "--eds", "org", filepath.Join(o.src, "AWSLogs"))
	mustRunTB(t, o.dir, "cur", "register", "cur.gen", filepath.Join(o.src, "cur"))
	b, err := os.ReadFile(filepath.Join(o.src, "approved-templates.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Approved []struct{ ID string } `json:"approved_templates"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("approved-templates.json: %v", err)
	}
	for _, a := range cfg.Approved {
		o.approved = append(o.approved, a.ID)
	}
	if len(o.approved) == 0 {
		t.Fatal("the generator approved no launch template; the compliance checks would be vacuous")
	}
	return o
}

// mustRunTB is mustRun for tests and benchmarks alike: it fails unless the command exits 0.
func mustRunTB(t testing.TB, dir string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), append([]string{"--data", dir}, args...), strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("auditlake %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String()
}

// testAdminUser is the admin user serve makes in a data directory for the test's requests.
const testAdminUser = "test-admin"

// served maps the base URL of each server serve started to what its requests need: the
// Authorization header of testAdminUser's key, and serve's standard output (the login link).
var served sync.Map // base URL → servedInfo

type servedInfo struct {
	authorization string
	stdout        *syncBuffer
}

// adminAuthorization gives the data directory an admin user (testAdminUser, or a new key of
// it when it exists) and returns its Bearer Authorization header.
func adminAuthorization(t testing.TB, dir string) string {
	t.Helper()
	reg := access.Open(dir)
	c, err := reg.CreateUser(testAdminUser, true, nil)
	if errors.Is(err, access.ErrExists) {
		c, err = reg.CreateKey(testAdminUser, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + c.AccessKeyID + ":" + c.SecretAccessKey
}

// loginLinkOf is the one-time login link that serve --login-link printed for base.
func loginLinkOf(t testing.TB, base string) string {
	t.Helper()
	v, _ := served.Load(base)
	out := v.(servedInfo).stdout.String()
	link := regexp.MustCompile(`open (\S+/login\?token=\S+) to log in as`).FindStringSubmatch(out)
	if link == nil || !strings.HasPrefix(link[1], base+"/") {
		t.Fatalf("serve --login-link printed no login link for %s: %q", base, out)
	}
	return link[1]
}

// readerAuthorization makes a user without grants and returns its Bearer Authorization header.
func readerAuthorization(t testing.TB, dir, name string) string {
	t.Helper()
	c, err := access.Open(dir).CreateUser(name, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + c.AccessKeyID + ":" + c.SecretAccessKey
}

// authorize adds the Authorization header of the server req goes to (see served), unless req
// has one.
func authorize(req *http.Request) {
	if req.Header.Get("Authorization") != "" {
		return
	}
	if v, ok := served.Load(req.URL.Scheme + "://" + req.URL.Host); ok {
		req.Header.Set("Authorization", v.(servedInfo).authorization)
	}
}

// serve starts `auditlake serve` in-process on a free loopback port and returns its base URL.
// The data directory gets an admin user whose key apiCall and authorize send. The server's log
// goes to logw (io.Discard is fine). Cleanup stops it and checks it exited 0.
//
// The port is one the kernel gave a listener that is closed before serve listens on it: in the
// meantime (serve opens the lake and the engine first: seconds on a loaded machine) another
// process — CI runs the packages' tests at once — may take it. serve then exits with "address
// already in use", and is started again on another port.
func serve(t testing.TB, dir string, logw io.Writer, extra ...string) string {
	t.Helper()
	base, _ := serveDoors(t, dir, logw, false, nil, extra)
	return base
}

// serveTLS is serve over HTTPS (extra has --tls-cert and --tls-key) with a certificate pool
// trusts; it returns the https base URL.
func serveTLS(t testing.TB, dir string, logw io.Writer, pool *x509.CertPool, extra ...string) string {
	t.Helper()
	base, _ := serveDoors(t, dir, logw, false, pool, extra)
	return base
}

// servePG is serve with the Postgres door too (--pg-listen) on another free loopback port; both
// ports are picked again when serve lost either. It returns the base URL and the Postgres address.
func servePG(t testing.TB, dir string, logw io.Writer, extra ...string) (base, pgAddr string) {
	t.Helper()
	return serveDoors(t, dir, logw, true, nil, extra)
}

// serveDoors is serve (HTTPS when pool is not nil: the certificate pool that trusts serve's
// certificate), with the Postgres door too when pg; both ports are picked again when serve lost
// either.
func serveDoors(t testing.TB, dir string, logw io.Writer, pg bool, pool *x509.CertPool, extra []string) (string, string) {
	t.Helper()
	authorization := adminAuthorization(t, dir)
	for attempt := 1; ; attempt++ {
		args, pgAddr := extra, ""
		if pg {
			pgAddr = freeLoopbackAddr(t)
			args = append([]string{"--pg-listen", pgAddr}, extra...)
		}
		base, lost := startServe(t, dir, authorization, logw, args, freeLoopbackAddr(t), pool)
		if !lost {
			return base, pgAddr
		}
		if attempt == 3 {
			t.Fatalf("serve lost its port to another process %d times", attempt)
		}
		t.Logf("serve on %s: address already in use; again on another port", base)
	}
}

// serveInProcess serves srv on a loopback listener it hands to the server (no port to lose)
// until the test ends, and returns its base URL; the cleanup checks that it stopped cleanly.
func serveInProcess(t testing.TB, srv *server.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// freeLoopbackAddr is a loopback address with a port the kernel just gave a listener, closed.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe is one try of serve on addr (HTTPS when pool, which trusts serve's certificate,
// is not nil); lost says that the port was taken before serve listened.
func startServe(t testing.TB, dir, authorization string, logw io.Writer, extra []string, addr string, pool *x509.CertPool) (base string, lost bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"--data", dir, "serve", "--listen", addr}, extra...)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	base = "http://" + addr
	// A probe answered by nothing (a listener of another process on a lost port accepts and
	// never answers) must not hang: each waits 5 s at most.
	probe := &http.Client{Timeout: 5 * time.Second}
	if pool != nil {
		base = "https://" + addr
		probe.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	exited, code := make(chan struct{}), 0
	go func() {
		code = cli.Run(ctx, args, strings.NewReader(""), stdout, io.MultiWriter(logw, stderr))
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
			if code != 0 && !lost {
				t.Errorf("serve exited %d after cancel, want 0", code)
			}
		case <-time.After(2 * time.Minute): // a hung serve only: stopping waits up to its 10 s grace, then closes sessions
			t.Errorf("serve did not stop within 2 minutes of cancel")
		}
	})
	// The answer is serve's only once serve has said it listens on addr: the holder of a lost
	// port (another package's test server, a webhook receiver) may answer /healthz 200 too, and
	// the test would then talk to it. Over TLS only serve's certificate is trusted anyway.
	listening := "msg=serving url=" + base + "/\n"
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := probe.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(stderr.String(), listening) {
				served.Store(base, servedInfo{authorization, stdout})
				return base, false
			}
		}
		select {
		case <-exited:
			if strings.Contains(stderr.String(), "address already in use") {
				return base, true
			}
			t.Fatalf("serve exited %d before answering /healthz:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve on %s did not answer /healthz within 60s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeHelperTellsALostPortFromAFailure: when another process holds the port serve's
// helper picked (a listener here), serve exits with "address already in use" and the helper
// says the port was lost — serve then starts again on another port — instead of failing the
// test; on a free port the same try serves. Over HTTP and over TLS alike, and over HTTP also when
// the holder answers /healthz 200 as serve does (another package's test server, a webhook
// receiver): the helper must not take it for serve.
func TestServeHelperTellsALostPortFromAFailure(t *testing.T) {
	certFile, keyFile, pool := writeCert(t)
	for _, door := range []struct {
		name    string
		extra   []string
		pool    *x509.CertPool
		answers bool // the port's holder answers every request 200
	}{
		{"http", nil, nil, false},
		{"http, the holder answers 200", nil, nil, true},
		{"tls", []string{"--tls-cert", certFile, "--tls-key", keyFile}, pool, false},
	} {
		t.Run(door.name, func(t *testing.T) {
			dir := t.TempDir()
			authorization := adminAuthorization(t, dir)
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			if door.answers {
				holder := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
				go holder.Serve(taken)
				defer holder.Close()
			}
			if _, lost := startServe(t, dir, authorization, io.Discard, door.extra, taken.Addr().String(), door.pool); !lost {
				t.Fatalf("serve on a port another listener holds (%s) was not reported lost", taken.Addr())
			}
			base, lost := startServe(t, dir, authorization, io.Discard, door.extra, freeLoopbackAddr(t), door.pool)
			if lost {
				t.Fatalf("serve on a free port was reported lost")
			}
			if door.pool != nil {
				return // startServe had /healthz answered over TLS
			}
			if code, _ := apiCall(t, "GET", base+"/api/stores", ""); code != http.StatusOK {
				t.Fatalf("GET /api/stores after the second try: %d", code)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the server's log writes while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// apiCall sends a request and returns the status and the raw body.
func apiCall(t testing.TB, method, u, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	authorize(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want JSON", method, u, ct)
	}
	return resp.StatusCode, b
}

// decodeNumbers unmarshals JSON keeping numbers as json.Number, so values compare exactly.
func decodeNumbers(t testing.TB, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("response is not the expected JSON: %v\n%s", err, b)
	}
}

type queryAnswer struct {
	Columns []struct{ Name, Type string }
	Rows    [][]any
	Count   int  `json:"row_count"`
	Trunc   bool `json:"truncated"`
}

type errorAnswer struct {
	Error struct{ Code, Message string }
}

// TestServeAPIAnswersFromTheRealEngine starts the real `auditlake serve` over a generated
// organization and checks every API endpoint against what the CLI computes from the same data
// directory, and each kind of bad request against its status and JSON error.
func TestServeAPIAnswersFromTheRealEngine(t *testing.T) {
	o := newOrg(t)
	var logs syncBuffer
	base := serve(t, o.dir, &logs, "--approved-config", filepath.Join(o.src, "approved-templates.json"))
	table := `"aws:cloudtrail"."` + o.storeID + `"`

	t.Run("stores lists the store with its event count", func(t *testing.T) {
		code, b := apiCall(t, "GET", base+"/api/stores", "")
		var got struct {
			Stores []struct {
				ID, Name string
				Events   int64
			}
		}
		decodeNumbers(t, b, &got)
		if code != 200 || len(got.Stores) != 1 || got.Stores[0].ID != o.storeID || got.Stores[0].Name != "org" || got.Stores[0].Events != 20000 {
			t.Fatalf("GET /api/stores = %d %s, want the one store org with 20000 events", code, b)
		}
	})

	t.Run("tables lists the store and the cost table with their columns", func(t *testing.T) {
		code, b := apiCall(t, "GET", base+"/api/tables", "")
		var got struct {
			Tables []struct {
				Schema, Name, Kind string
				Columns            []struct{ Name, Type string }
			}
		}
		decodeNumbers(t, b, &got)
		if code != 200 {
			t.Fatalf("GET /api/tables = %d %s", code, b)
		}
		cols := map[string]map[string]string{}
		for _, tb := range got.Tables {
			m := map[string]string{}
			for _, c := range tb.Columns {
				m[c.Name] = c.Type
			}
			cols[tb.Kind+" "+tb.Schema+"."+tb.Name] = m
		}
		eds, cost := cols["eds aws:cloudtrail."+o.storeID], cols["cost cur.gen"]
		if eds == nil || cost == nil {
			t.Fatalf("tables %v, want eds aws:cloudtrail.%s and cost cur.gen", reflect.ValueOf(cols).MapKeys(), o.storeID)
		}
		for name, typ := range map[string]string{"eventid": "VARCHAR", "eventtime": "TIMESTAMP", "requestparameters": "MAP(VARCHAR, VARCHAR)"} {
			if eds[name] != typ {
				t.Errorf("store column %s has type %q, want %q", name, eds[name], typ)
			}
		}
		for _, name := range []string{"line_item_resource_id", "line_item_unblended_cost", "line_item_usage_start_date"} {
			if cost[name] == "" {
				t.Errorf("cost table has no column %s (has %d columns)", name, len(cost))
			}
		}
	})

	t.Run("queries return the rows the CLI returns", func(t *testing.T) {
		for _, sql := range []string{
			`SELECT eventname, count(*) AS n FROM ` + table + ` GROUP BY 1 ORDER BY 2 DESC, 1`,
			`SELECT count(*), count(DISTINCT eventid) FROM ` + table + ` WHERE eventname = 'RunInstances'`,
			`SELECT recipientaccountid, awsregion, count(*) FROM ` + table + ` WHERE errorcode IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`,
			`SELECT json_extract_scalar(element_at(requestparameters, 'launchTemplate'), '$.launchTemplateId') AS lt, count(*) FROM ` + table +
				` WHERE eventname = 'RunInstances' GROUP BY 1 ORDER BY 1 NULLS FIRST`,
			`SELECT line_item_product_code, count(*), round(sum(line_item_unblended_cost), 4) FROM cur.gen GROUP BY 1 ORDER BY 1`,
		} {
			want := queryCSV(t, o.dir, sql)
			code, b := apiCall(t, "POST", base+"/api/query", mustJSON(t, map[string]any{"sql": sql}))
			var got queryAnswer
			decodeNumbers(t, b, &got)
			if code != 200 {
				t.Errorf("%s: status %d %s", sql, code, b)
				continue
			}
			if got.Count != len(want) || len(got.Rows) != len(want) || got.Trunc {
				t.Errorf("%s: %d rows (row_count %d, truncated %v), CLI %d", sql, len(got.Rows), got.Count, got.Trunc, len(want))
				continue
			}
			if len(want) == 0 {
				t.Errorf("%s: no rows; the comparison proves nothing", sql)
			}
			for i := range want {
				if g := textRow(got.Rows[i]); !reflect.DeepEqual(g, want[i]) {
					t.Errorf("%s: row %d = %v, CLI %v", sql, i, g, want[i])
					break
				}
			}
		}
	})

	t.Run("max_rows truncates and says so", func(t *testing.T) {
		code, b := apiCall(t, "POST", base+"/api/query", mustJSON(t, map[string]any{"sql": "SELECT eventid FROM " + table, "max_rows": 7}))
		var got queryAnswer
		decodeNumbers(t, b, &got)
		if code != 200 || got.Count != 7 || len(got.Rows) != 7 || !got.Trunc {
			t.Fatalf("max_rows 7 over 20000 events: %d, %d rows, truncated %v", code, len(got.Rows), got.Trunc)
		}
	})

	errorCases := []struct {
		name, method, path, body string
		wantStatus               int
		wantCode, wantInMessage  string
	}{
		{"unknown store in a report is 404", "GET", "/api/reports/launch-compliance?store=nosuch", "", 404, "not_found", `nosuch`},
		{"unknown store in daily spend is 404", "GET", "/api/reports/daily-spend?store=nosuch&cost=cur.gen", "", 404, "not_found", `nosuch`},
		{"unknown store on the activity dashboard is 404", "GET", "/api/dashboards/activity?store=nosuch", "", 404, "not_found", `"nosuch" not found`},
		{"unknown instance is 404", "GET", "/api/instances/i-0123456789abcdef0", "", 404, "not_found", "i-0123456789abcdef0"},
		{"instance id that is not one is 400", "GET", "/api/instances/web-1", "", 400, "bad_request", "not an EC2 instance id"},
		{"unknown report is 404", "GET", "/api/reports/no-such-report", "", 404, "not_found", "no-such-report"},
		{"malformed SQL is 400 with the engine's message", "POST", "/api/query", `{"sql":"SELEC nonsense"}`, 400, "query_error", `syntax error at or near "SELEC"`},
		{"unknown column is 400 naming it", "POST", "/api/query", `{"sql":"SELECT nosuchcolumn FROM ` + jsonStr(table) + `"}`, 400, "query_error", "nosuchcolumn"},
		{"COPY TO is refused with 400", "POST", "/api/query", `{"sql":"COPY (SELECT 1) TO '/tmp/auditlake-e2e.csv'"}`, 400, "query_error", "only SELECT"},
		{"ATTACH is refused with 400", "POST", "/api/query", `{"sql":"ATTACH '/tmp/x.db' AS x"}`, 400, "query_error", "only SELECT"},
		{"a query past its timeout is 504", "POST", "/api/query",
			`{"sql":"SELECT count(*) FROM range(100000000) a, range(100000000) b","timeout_seconds":0.5}`, 504, "timeout", "timed out after 0.5s"},
		{"a bad from date is 400", "GET", "/api/reports/launch-compliance?from=yesterday", "", 400, "bad_request", "from"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			code, b := apiCall(t, tc.method, base+tc.path, tc.body)
			var got errorAnswer
			decodeNumbers(t, b, &got)
			if code != tc.wantStatus || got.Error.Code != tc.wantCode || !strings.Contains(got.Error.Message, tc.wantInMessage) {
				t.Errorf("%s %s = %d %s, want %d %s with %q", tc.method, tc.path, code, b, tc.wantStatus, tc.wantCode, tc.wantInMessage)
			}
			if strings.Contains(got.Error.Message, o.dir) {
				t.Errorf("error message shows the data directory: %s", got.Error.Message)
			}
		})
	}
	if _, err := os.Stat("/tmp/auditlake-e2e.csv"); err == nil {
		t.Errorf("the refused COPY wrote its file")
	}

	approved := strings.Join(o.approved, ",")
	cliApproved := []string{"--approved-config", filepath.Join(o.src, "approved-templates.json")}

	t.Run("launch-compliance equals the CLI report", func(t *testing.T) {
		code, b := apiCall(t, "GET", base+"/api/reports/launch-compliance?"+url.Values{"cost": {"cur.gen"}, "approved": {approved}}.Encode(), "")
		var got, want map[string]any
		decodeNumbers(t, b, &got)
		decodeNumbers(t, []byte(mustRun(t, 0, o.dir, append([]string{"report", "launch-compliance", "--eds", "org", "--cur", "cur.gen", "--format", "json"}, cliApproved...)...)), &want)
		if code != 200 {
			t.Fatalf("status %d %s", code, b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("API summary %v\nCLI summary %v", got["summary"], want["summary"])
		}
		s, _ := got["summary"].(map[string]any)
		if fmt.Sprint(s["instances"]) != "127" || fmt.Sprint(s["approved"]) == "0" || fmt.Sprint(s["not_approved"]) == "0" {
			t.Errorf("summary %v: want 127 instances, some approved and some not", s)
		}
	})

	t.Run("serve --approved-config is the default allow-list", func(t *testing.T) {
		code, b := apiCall(t, "GET", base+"/api/reports/launch-compliance?"+url.Values{"cost": {"cur.gen"}}.Encode(), "")
		var got, want map[string]any
		decodeNumbers(t, b, &got)
		decodeNumbers(t, []byte(mustRun(t, 0, o.dir, append([]string{"report", "launch-compliance", "--eds", "org", "--cur", "cur.gen", "--format", "json"}, cliApproved...)...)), &want)
		if code != 200 || !reflect.DeepEqual(got["summary"], want["summary"]) {
			t.Errorf("status %d; API summary without approved= %v, CLI with --approved-config %v", code, got["summary"], want["summary"])
		}
	})

	t.Run("daily-spend equals the CLI report", func(t *testing.T) {
		code, b := apiCall(t, "GET", base+"/api/reports/daily-spend?"+url.Values{"cost": {"cur.gen"}, "approved": {approved}, "store": {"org"}}.Encode(), "")
		var got, want map[string]any
		decodeNumbers(t, b, &got)
		decodeNumbers(t, []byte(mustRun(t, 0, o.dir, append([]string{"report", "daily-spend", "--eds", "org", "--cur", "cur.gen", "--format", "json"}, cliApproved...)...)), &want)
		rows, _ := got["rows"].([]any)
		if code != 200 || len(rows) < 30 {
			t.Fatalf("status %d, %d rows: %.300s", code, len(rows), b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("API daily spend differs from the CLI's:\nAPI %.400s\nCLI %.400v", b, want)
		}
	})

	t.Run("instance page data equals the CLI trail", func(t *testing.T) {
		var rep struct {
			Rows []struct {
				ID     string `json:"instance_id"`
				Status string
			}
		}
		decodeNumbers(t, []byte(mustRun(t, 0, o.dir, "report", "launch-compliance", "--eds", "org", "--format", "json")), &rep)
		if len(rep.Rows) == 0 {
			t.Fatal("no instance to look at")
		}
		id := rep.Rows[len(rep.Rows)/2].ID
		code, b := apiCall(t, "GET", base+"/api/instances/"+id+"?cost=cur.gen", "")
		var got, want map[string]any
		decodeNumbers(t, b, &got)
		decodeNumbers(t, []byte(mustRun(t, 0, o.dir, "instance", id, "--eds", "org", "--cur", "cur.gen", "--format", "json")), &want)
		if code != 200 || got["instance_id"] != id {
			t.Fatalf("GET /api/instances/%s = %d %.300s", id, code, b)
		}
		if ev, _ := got["events"].([]any); len(ev) < 2 {
			t.Errorf("instance %s has %d trail events, want at least its launch and a state change", id, len(ev))
		}
		// The API says which cost table it read (the CLI names it with --cur).
		if got["cost_table"] != "cur.gen" {
			t.Errorf("API trail of %s: cost_table %v, want cur.gen", id, got["cost_table"])
		}
		delete(got, "cost_table")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("API trail of %s differs from the CLI's:\nAPI %.600s", id, b)
		}
	})

	t.Run("every activity widget answers from the engine", func(t *testing.T) {
		code, b := apiCall(t, "GET", base+"/api/dashboards/activity?store=org", "")
		var got struct {
			Bucket  string
			Widgets []struct {
				ID, Error string
				Columns   []struct{ Name string }
				Rows      [][]any
			}
		}
		decodeNumbers(t, b, &got)
		if code != 200 || len(got.Widgets) != 9 {
			t.Fatalf("activity = %d with %d widgets: %.300s", code, len(got.Widgets), b)
		}
		if got.Bucket != "day" {
			t.Errorf("bucket %q for a month of events, want day", got.Bucket)
		}
		for _, w := range got.Widgets {
			if w.Error != "" || len(w.Rows) == 0 {
				t.Errorf("widget %s: error %q, %d rows", w.ID, w.Error, len(w.Rows))
			}
		}
		byID := map[string][][]any{}
		for _, w := range got.Widgets {
			byID[w.ID] = w.Rows
		}
		// The summary and the time series agree with the CLI's counts over the same store.
		want := queryCSV(t, o.dir, `SELECT count(*), count(*) FILTER (WHERE errorcode IS NOT NULL AND errorcode <> ''), count(DISTINCT eventsource) FROM `+table)
		if s := byID["summary"]; len(s) != 1 || fmt.Sprint(s[0][0]) != want[0][0] || fmt.Sprint(s[0][1]) != want[0][1] || fmt.Sprint(s[0][3]) != want[0][2] {
			t.Errorf("summary widget %v, CLI count/errors/services %v", s, want[0])
		}
		var sum int64
		for _, r := range byID["events_over_time"] {
			n, _ := r[1].(json.Number).Int64()
			sum += n
		}
		if fmt.Sprint(sum) != want[0][0] {
			t.Errorf("events over time add up to %d, store holds %s", sum, want[0][0])
		}
		wantTop := queryCSV(t, o.dir, `SELECT eventname, count(*) FROM `+table+` GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`)
		if g := byID["top_events"]; len(g) != len(wantTop) || len(g) == 0 || !reflect.DeepEqual(textRow(g[0]), wantTop[0]) {
			t.Errorf("top events %v, CLI %v", g, wantTop)
		}
	})

	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the server logged errors:\n%s", grepLines(logs.String(), "level=ERROR"))
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonStr escapes s for use inside a JSON string literal written by hand.
func jsonStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// textRow renders API values as the CLI's CSV does: numbers as written, NULL as empty.
func textRow(r []any) []string {
	out := make([]string, len(r))
	for i, v := range r {
		if v != nil {
			out[i] = fmt.Sprint(v)
		}
	}
	return out
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDashboardInChromiumAgainstRealServe drives headless Chromium through every page of a real
// `auditlake serve` over a generated organization: the compliance chart's per-status and per-day
// totals equal the daily-spend API, the table lists exactly the instances not launched from an
// approved template, a row click opens that instance's trail, the SQL editor runs a typed query
// (Ctrl-Enter) and shows a bad query's error, the activity page draws every widget without an
// error, and no page scrolls sideways at 1280×800 or 390×844. Screenshots of each page at both
// sizes go to $ARTIFACTS/browser-real (else a kept temporary directory named in the log).
func TestDashboardInChromiumAgainstRealServe(t *testing.T) {
	browser := servertest.Chromium(t)
	o := newOrg(t)
	var logs syncBuffer
	base := serve(t, o.dir, &logs, "--login-link", testAdminUser)
	link := loginLinkOf(t, base)
	shots := servertest.ScreenshotDir(t, "browser-real")
	approved := strings.Join(o.approved, ",")
	table := `"aws:cloudtrail"."` + o.storeID + `"`

	// What the chart and the table must show, from the API.
	q := url.Values{"store": {o.storeID}, "cost": {"cur.gen"}, "approved": {approved}}
	var daily struct {
		Rows []struct {
			Day, Status string
			Unblended   float64 `json:"unblended_cost"`
		}
	}
	if code, b := apiCall(t, "GET", base+"/api/reports/daily-spend?"+q.Encode(), ""); code != 200 || json.Unmarshal(b, &daily) != nil {
		t.Fatalf("daily-spend: %d %.300s", code, b)
	}
	wantTotals, wantDays := map[string]float64{}, map[string]float64{}
	for _, r := range daily.Rows {
		wantTotals[r.Status] += r.Unblended
		wantDays[r.Day] += r.Unblended
	}
	var rep struct {
		Rows []struct {
			ID        string `json:"instance_id"`
			Status    string
			Unblended float64 `json:"unblended_cost"`
			Effective float64 `json:"effective_cost"`
		}
	}
	if code, b := apiCall(t, "GET", base+"/api/reports/launch-compliance?"+q.Encode(), ""); code != 200 || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("launch-compliance: %d %.300s", code, b)
	}
	wantBad := map[string]bool{}
	for _, r := range rep.Rows {
		if r.Status != "approved" {
			wantBad[r.ID] = true
		}
	}
	if len(wantBad) == 0 || len(wantBad) == len(rep.Rows) || len(wantDays) < 20 {
		t.Fatalf("generated data has %d non-approved of %d instances over %d days: the checks would be vacuous", len(wantBad), len(rep.Rows), len(wantDays))
	}

	_, ctx, do := servertest.StartChromium(t, browser, shots, "failed.png", nil)
	eval := evalIn(t, ctx)
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
	noErrorPanel := func(page string) {
		t.Helper()
		var errs []string
		eval(`[...document.querySelectorAll('main .error')].map(e => e.textContent)`, &errs)
		if len(errs) > 0 {
			t.Errorf("%s shows errors: %q", page, errs)
		}
	}
	compliance := "#/compliance?" + q.Encode()

	// The link serve --login-link printed logs the browser in (as make demo does) and works once.
	do("open the login link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#principal`)))
	var who string
	eval(`document.querySelector('#principal').textContent`, &who)
	if who != "user:"+testAdminUser {
		t.Errorf("logged in by the link as %q, want user:%s", who, testAdminUser)
	}
	if resp, err := http.Get(link); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the login link used a second time: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	// Compliance: chart totals per status and per day, and the table of non-approved instances.
	do("open the compliance page",
		chromedp.Navigate(base+"/"+compliance),
		chromedp.WaitVisible(chromedp.CSS(`#spend-chart canvas`)),
		chromedp.WaitVisible(chromedp.CSS(`#noncompliant tbody tr`)),
	)
	var gotTotals, gotDays map[string]float64
	var rowIDs []string
	var title string
	eval(`JSON.parse(document.querySelector('#spend-chart').dataset.totals)`, &gotTotals)
	eval(`JSON.parse(document.querySelector('#spend-chart').dataset.dayTotals)`, &gotDays)
	eval(`[...document.querySelectorAll('#noncompliant tbody tr')].map(r => r.dataset.instance)`, &rowIDs)
	eval(`document.querySelector('#spend-title').textContent`, &title)
	shot("compliance-1280")
	noErrorPanel("compliance page")
	if title == "" {
		t.Errorf("the spend chart has no title")
	}
	for st, want := range wantTotals {
		if math.Abs(gotTotals[st]-want) > 0.006 {
			t.Errorf("chart total for %s = %.2f, daily-spend API %.2f", st, gotTotals[st], want)
		}
	}
	if len(gotDays) != len(wantDays) {
		t.Errorf("chart has %d days, daily-spend API %d", len(gotDays), len(wantDays))
	}
	for d, want := range wantDays {
		if math.Abs(gotDays[d]-want) > 0.006 {
			t.Errorf("bar stack for %s = %.2f, daily-spend API %.2f", d, gotDays[d], want)
		}
	}
	gotBad := map[string]bool{}
	for _, id := range rowIDs {
		gotBad[id] = true
	}
	if len(rowIDs) != len(wantBad) || !reflect.DeepEqual(gotBad, wantBad) {
		t.Errorf("table lists %d instances, the report has %d not approved", len(rowIDs), len(wantBad))
	}

	// A row click opens the instance's page with its audit trail.
	clicked := rowIDs[len(rowIDs)/2]
	var trail struct{ Events []struct{ Kind string } }
	if code, b := apiCall(t, "GET", base+"/api/instances/"+clicked+"?cost=cur.gen&store="+o.storeID, ""); code != 200 || json.Unmarshal(b, &trail) != nil {
		t.Fatalf("instance %s: %d %.300s", clicked, code, b)
	}
	do("open the instance page by a row click",
		chromedp.ScrollIntoView(chromedp.CSS(`#noncompliant tr[data-instance="`+clicked+`"]`)),
		chromedp.Click(chromedp.CSS(`#noncompliant tr[data-instance="`+clicked+`"] td:nth-child(3)`)),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li`)),
	)
	var hash string
	var kinds []string
	eval(`location.hash`, &hash)
	eval(`[...document.querySelectorAll('#timeline li')].map(li => li.dataset.kind)`, &kinds)
	do("let the cost chart draw", chromedp.Sleep(300*time.Millisecond))
	shot("instance-1280")
	noErrorPanel("instance page")
	if !strings.HasPrefix(hash, "#/instance/"+clicked) {
		t.Errorf("after the row click location.hash = %q, want the page of %s", hash, clicked)
	}
	if len(kinds) != len(trail.Events) || len(kinds) == 0 {
		t.Errorf("timeline of %s has %d entries %v, API %d events", clicked, len(kinds), kinds, len(trail.Events))
	}

	// An instance page opened without cost= in the URL (a bookmark, a link from elsewhere) reads
	// the only cost table; it used to show $0. A Savings Plan-covered instance (its usage negated
	// in the unblended cost) shows its effective cost beside the unblended one, an on-demand one
	// does not.
	var sp, onDemand string
	var spUnblended, spEffective float64
	for _, r := range rep.Rows {
		switch {
		case sp == "" && r.Effective > 0 && math.Abs(r.Unblended-r.Effective) >= 0.01:
			sp, spUnblended, spEffective = r.ID, r.Unblended, r.Effective
		case onDemand == "" && r.Unblended > 0 && r.Unblended == r.Effective:
			onDemand = r.ID
		}
	}
	if sp == "" || onDemand == "" {
		t.Fatalf("generated data has no Savings Plan-covered (%q) or on-demand (%q) billed instance", sp, onDemand)
	}
	do("open a Savings Plan instance's page without cost=",
		route("#/instance/"+sp+"?store="+o.storeID),
		chromedp.WaitVisible(chromedp.CSS(`#instance-cost[data-instance="`+sp+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#instance-cost-chart canvas`)),
		chromedp.Sleep(300*time.Millisecond),
	)
	var shown struct {
		Unblended, Effective, Table, Total, EffectiveTotal string
		Note                                               bool
		Back                                               string
	}
	eval(`(() => { const c = document.querySelector('#instance-cost'), ch = document.querySelector('#instance-cost-chart');
		return {Unblended: c.dataset.unblended, Effective: c.dataset.effective, Note: !!c.querySelector('.effective'),
			Table: document.querySelector('#instance-cost-table').textContent, Total: ch.dataset.total, EffectiveTotal: ch.dataset.effectiveTotal,
			Back: document.querySelector('main p.sub a').getAttribute('href')}; })()`, &shown)
	shot("instance-sp-1280")
	noErrorPanel("instance page without cost=")
	num := func(s string) float64 { f, _ := strconv.ParseFloat(s, 64); return f }
	if math.Abs(num(shown.Unblended)-spUnblended) > 1e-9 || math.Abs(num(shown.Effective)-spEffective) > 1e-9 || !shown.Note || shown.Table != "cur.gen" {
		t.Errorf("instance %s without cost=: shows %+v; want unblended %v, effective %v beside it, table cur.gen", sp, shown, spUnblended, spEffective)
	}
	if math.Abs(num(shown.Total)-spUnblended) > 0.006 || math.Abs(num(shown.EffectiveTotal)-spEffective) > 0.006 {
		t.Errorf("instance %s cost chart totals %s / %s, want %.2f / %.2f", sp, shown.Total, shown.EffectiveTotal, spUnblended, spEffective)
	}
	if !strings.Contains(shown.Back, "cost=cur.gen") {
		t.Errorf("the way back to the report %q does not keep the cost table", shown.Back)
	}
	do("open an on-demand instance's page without cost=",
		route("#/instance/"+onDemand+"?store="+o.storeID),
		chromedp.WaitVisible(chromedp.CSS(`#instance-cost[data-instance="`+onDemand+`"]`)),
	)
	var noteOnDemand bool
	eval(`!!document.querySelector('#instance-cost .effective')`, &noteOnDemand)
	if noteOnDemand {
		t.Errorf("on-demand instance %s shows a Savings Plan effective cost", onDemand)
	}

	// Activity dashboard: every widget drawn, none with an error.
	do("open the activity page",
		route("#/activity?store="+o.storeID),
		chromedp.WaitVisible(chromedp.CSS(`[data-widget="events_over_time"] canvas`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-widget="top_services"] canvas`)),
		chromedp.Sleep(300*time.Millisecond),
	)
	var widgets []string
	eval(`[...document.querySelectorAll('[data-widget]')].map(w => w.dataset.widget)`, &widgets)
	shot("activity-1280")
	noErrorPanel("activity page")
	if len(widgets) != 8 {
		t.Errorf("activity page shows widgets %v, want 8 panels besides the summary", widgets)
	}

	// SQL editor: type a query, Ctrl-Enter, the rows are the CLI's.
	sql := `SELECT eventname, count(*) AS n FROM ` + table + ` GROUP BY 1 ORDER BY 2 DESC, 1`
	want := queryCSV(t, o.dir, sql)
	ctrl := chromedp.KeyModifiers(chromedp.ModifierCtrl)
	do("open the SQL page", route("#/sql"), chromedp.WaitVisible(chromedp.CSS(`.cm-content`)), chromedp.WaitVisible(chromedp.CSS(`#schema summary`)))
	do("type a query", chromedp.Click(chromedp.CSS(`.cm-content`)), chromedp.KeyEvent("a", ctrl), chromedp.SendKeys(chromedp.CSS(`.cm-content`), sql))
	do("run it with Ctrl-Enter", chromedp.KeyEvent("\r", ctrl), chromedp.WaitVisible(chromedp.CSS(`#result-table tbody tr`)))
	var cells [][]string
	var status string
	eval(`[...document.querySelectorAll('#result-table tbody tr')].map(r => [...r.querySelectorAll('td')].map(td => td.textContent))`, &cells)
	eval(`document.querySelector('#sql-status').textContent`, &status)
	shot("sql-1280")
	if len(cells) != len(want) {
		t.Errorf("result table has %d rows, CLI %d", len(cells), len(want))
	} else {
		for i := range want {
			if len(cells[i]) < 2 || cells[i][0] != want[i][0] || strings.ReplaceAll(cells[i][1], ",", "") != want[i][1] {
				t.Errorf("result row %d = %v, CLI %v", i, cells[i], want[i])
				break
			}
		}
	}
	if !strings.HasPrefix(status, fmt.Sprintf("%d rows", len(want))) {
		t.Errorf("status = %q, want it to start with %d rows", status, len(want))
	}
	do("a bad query shows its error",
		chromedp.Click(chromedp.CSS(`.cm-content`)), chromedp.KeyEvent("a", ctrl),
		chromedp.SendKeys(chromedp.CSS(`.cm-content`), `SELECT nosuchcolumn FROM `+table),
		chromedp.KeyEvent("\r", ctrl),
		chromedp.WaitVisible(chromedp.CSS(`#query-error`)),
	)
	var errText string
	eval(`document.querySelector('#query-error').textContent`, &errText)
	shot("sql-error-1280")
	if !strings.Contains(errText, "nosuchcolumn") {
		t.Errorf("error shown = %q, want the engine's message naming nosuchcolumn", errText)
	}

	// Both sizes: every page fits without sideways scrolling of the page itself.
	pages := []struct{ name, hash, ready string }{
		{"compliance", compliance, `#spend-chart canvas`},
		{"instance", "#/instance/" + clicked + "?cost=cur.gen&store=" + o.storeID, `#timeline li`},
		{"activity", "#/activity?store=" + o.storeID, `[data-widget="top_services"] canvas`},
		{"sql", "#/sql", `.cm-content`},
	}
	for _, size := range []struct{ w, h int64 }{{1280, 800}, {390, 844}} {
		for _, pg := range pages {
			do(fmt.Sprintf("%s at %d px", pg.name, size.w),
				chromedp.EmulateViewport(size.w, size.h),
				route("#/"),
				route(pg.hash),
				chromedp.WaitVisible(chromedp.CSS(pg.ready)),
				chromedp.Sleep(400*time.Millisecond),
			)
			var overflow int
			eval(`document.documentElement.scrollWidth - window.innerWidth`, &overflow)
			if size.w != 1280 || pg.name == "instance" || pg.name == "compliance" {
				shot(fmt.Sprintf("%s-%d", pg.name, size.w))
			}
			noErrorPanel(fmt.Sprintf("%s at %d px", pg.name, size.w))
			if overflow > 0 {
				t.Errorf("%s at %d px is %d px wider than the screen", pg.name, size.w, overflow)
			}
		}
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the server logged errors:\n%s", grepLines(logs.String(), "level=ERROR"))
	}
}

// evalIn returns eval: the JSON value of a JavaScript expression in the page, into v.
func evalIn(t *testing.T, ctx context.Context) func(expr string, v any) {
	return func(expr string, v any) {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("JSON.stringify("+expr+")"))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		if err := json.Unmarshal([]byte(s), v); err != nil {
			t.Fatalf("evaluate %s: %v in %q", expr, err, s)
		}
	}
}

// route goes to a page of the dashboard by its location hash.
func route(hash string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[string]("location.hash = "+strconv.Quote(hash))(ctx, tg)
		return err
	})
}
