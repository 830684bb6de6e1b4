package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/server"
	"github.com/auditlake/auditlake/internal/server/servertest"
)

// testAccess is an access registry in a temporary data directory with one admin user.
func testAccess(t testing.TB) (*access.Registry, access.Credentials) {
	t.Helper()
	reg := access.Open(t.TempDir())
	admin, err := reg.CreateUser("admin", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	return reg, admin
}

func bearer(c access.Credentials) string { return "Bearer " + c.AccessKeyID + ":" + c.SecretAccessKey }

// bearerTransport adds an Authorization header to requests that carry none.
type bearerTransport struct {
	base          http.RoundTripper
	authorization string
}

func (b *bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" && r.Header.Get("Cookie") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", b.authorization)
	}
	base := b.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// clock is a settable time for server.SetClock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// authServer is a real server (httptest) with an access registry holding an admin and a
// reader, and a settable clock.
type authServer struct {
	ts            *httptest.Server
	srv           *server.Server
	reg           *access.Registry
	admin, reader access.Credentials
	backend       *testBackend
	clock         *clock
}

func newAuthServer(t *testing.T, opts server.Options) *authServer {
	t.Helper()
	a := &authServer{backend: newTestBackend(), clock: &clock{t: time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)}}
	a.reg, a.admin = testAccess(t)
	var err error
	if a.reader, err = a.reg.CreateUser("reader", false, nil); err != nil {
		t.Fatal(err)
	}
	opts.Access = a.reg
	a.srv = server.New(a.backend, slog.New(slog.DiscardHandler), opts)
	server.SetClock(a.srv, a.clock.now)
	a.ts = httptest.NewServer(a.srv)
	t.Cleanup(a.ts.Close)
	return a
}

// send makes a request with the given headers (a "Cookie" header is sent as it is) from a
// client that follows no redirects and keeps no cookies.
func send(t *testing.T, client *http.Client, method, u, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if client == nil {
		client = &http.Client{}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func loginBody(id, secret string) string {
	b, _ := json.Marshal(map[string]string{"access_key_id": id, "secret_access_key": secret})
	return string(b)
}

// login logs c in through POST /api/login and returns the Cookie header and the CSRF token.
func (a *authServer) login(t *testing.T, c access.Credentials) (cookie, csrf string) {
	t.Helper()
	resp, body := send(t, nil, "POST", a.ts.URL+"/api/login", loginBody(c.AccessKeyID, c.SecretAccessKey))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var info struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.Unmarshal(body, &info); err != nil || info.CSRF == "" {
		t.Fatalf("login answer has no csrf_token: %s", body)
	}
	return sessionCookie(t, resp), info.CSRF
}

func sessionCookie(t *testing.T, resp *http.Response) string {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "auditlake_session" && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("no session cookie in %q", resp.Header.Values("Set-Cookie"))
	return ""
}

const testQuery = `{"sql":"SELECT eventname FROM \"aws:cloudtrail\".\"` + storeID + `\""}`

// authenticatedPaths are the API requests that need credentials, one per endpoint.
var authenticatedPaths = [][3]string{
	{"GET", "/api/stores", ""},
	{"GET", "/api/tables", ""},
	{"POST", "/api/query", testQuery},
	{"GET", "/api/reports/launch-compliance?store=" + storeID, ""},
	{"GET", "/api/instances/i-0bbb000000000002", ""},
	{"GET", "/api/dashboards/activity?store=" + storeID, ""},
	{"GET", "/api/session", ""},
	{"POST", "/api/logout", "{}"},
	{"GET", "/api/no-such-endpoint", ""},
	{"DELETE", "/api/stores", ""},
}

// TestEveryAPIPathButHealthzNeedsCredentials: without credentials every API path answers 401
// with the one generic body and the backend is never called; /healthz, the dashboard's files and
// the login page do not need credentials.
func TestEveryAPIPathButHealthzNeedsCredentials(t *testing.T) {
	a := newAuthServer(t, server.Options{})
	var first []byte
	for _, p := range authenticatedPaths {
		resp, body := send(t, nil, p[0], a.ts.URL+p[1], p[2])
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: %d %s, want 401", p[0], p[1], resp.StatusCode, body)
		}
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", p[0], p[1])
		}
		if first == nil {
			first = body
		} else if !bytes.Equal(body, first) {
			t.Errorf("%s %s: 401 body %s differs from %s", p[0], p[1], body, first)
		}
	}
	if n := len(a.backend.sqlSeen()); n != 0 {
		t.Errorf("unauthenticated requests ran %d queries", n)
	}
	for _, path := range []string{"/healthz", "/", "/login"} {
		if resp, body := send(t, nil, "GET", a.ts.URL+path, ""); resp.StatusCode >= 400 {
			t.Errorf("GET %s without credentials: %d %s, want it open", path, resp.StatusCode, body)
		}
	}
}

// TestEveryCredentialFailureGetsTheSame401: a wrong secret, an unknown key, a disabled user, a
// disabled key, an expired key, a malformed header, another scheme and a made-up session cookie
// all get 401 with the same body, by Bearer and by login alike: nothing says which part was
// wrong.
func TestEveryCredentialFailureGetsTheSame401(t *testing.T) {
	// Failures from one address would soon be rate limited; allow them all here.
	a := newAuthServer(t, server.Options{LoginFailuresPerKey: 100, LoginFailuresPerAddress: 100})
	disabled, err := a.reg.CreateUser("gone", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.reg.SetDisabled("gone", "", true); err != nil {
		t.Fatal(err)
	}
	oldKey, err := a.reg.CreateKey("reader", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.reg.SetDisabled("reader", oldKey.AccessKeyID, true); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	expired, err := a.reg.CreateKey("reader", &past)
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string][2]string{
		"wrong secret":  {a.reader.AccessKeyID, a.admin.SecretAccessKey},
		"unknown key":   {"ALAKAAAAAAAAAAAAAAAA", a.reader.SecretAccessKey},
		"disabled user": {disabled.AccessKeyID, disabled.SecretAccessKey},
		"disabled key":  {oldKey.AccessKeyID, oldKey.SecretAccessKey},
		"expired key":   {expired.AccessKeyID, expired.SecretAccessKey},
		"empty secret":  {a.reader.AccessKeyID, ""},
	}
	var want []byte
	check := func(what string, resp *http.Response, body []byte) {
		t.Helper()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", what, resp.StatusCode, body)
			return
		}
		if want == nil {
			want = body
		}
		if !bytes.Equal(body, want) {
			t.Errorf("%s: body %s, want the same as every other failure: %s", what, body, want)
		}
		if strings.Contains(strings.ToLower(string(body)), "disabled") || strings.Contains(strings.ToLower(string(body)), "expired") {
			t.Errorf("%s: body says what was wrong: %s", what, body)
		}
	}
	for what, c := range creds {
		resp, body := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Authorization", "Bearer "+c[0]+":"+c[1])
		check("bearer, "+what, resp, body)
		resp, body = send(t, nil, "POST", a.ts.URL+"/api/login", loginBody(c[0], c[1]))
		check("login, "+what, resp, body)
	}
	for what, h := range map[string][]string{
		"no colon":          {"Authorization", "Bearer " + a.reader.AccessKeyID},
		"basic scheme":      {"Authorization", "Basic " + a.reader.AccessKeyID + ":" + a.reader.SecretAccessKey},
		"made-up cookie":    {"Cookie", "auditlake_session=" + strings.Repeat("A", 43)},
		"no credentials":    {},
		"secret is key id":  {"Authorization", "Bearer " + a.reader.AccessKeyID + ":" + a.reader.AccessKeyID},
		"valid but spliced": {"Authorization", "Bearer " + a.admin.AccessKeyID + ":" + a.reader.SecretAccessKey},
		"huge key id":       {"Authorization", "Bearer " + strings.Repeat("A", 100000) + ":" + a.reader.SecretAccessKey},
	} {
		resp, body := send(t, nil, "GET", a.ts.URL+"/api/stores", "", h...)
		check(what, resp, body)
	}
}

// TestBearerAuthenticatesAndTheBackendSeesTheCaller: a valid key reaches the backend with an
// access.Caller naming the principal, key, door, address and user agent, and the principal is
// the client of the per-client admission limit.
func TestBearerAuthenticatesAndTheBackendSeesTheCaller(t *testing.T) {
	a := newAuthServer(t, server.Options{})
	resp, body := send(t, nil, "POST", a.ts.URL+"/api/query", testQuery, "Authorization", bearer(a.reader), "User-Agent", "audit-script/1.0")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("query with Bearer: %d %s", resp.StatusCode, body)
	}
	a.backend.mu.Lock()
	c, client := a.backend.lastCaller, a.backend.lastClient
	a.backend.mu.Unlock()
	if c.Principal.Name() != "user:reader" || c.KeyID != a.reader.AccessKeyID || c.Door != access.DoorAPI || c.SourceIP != "127.0.0.1" || c.UserAgent != "audit-script/1.0" {
		t.Errorf("caller = %+v (principal %s), want user:reader with its key through the api door from 127.0.0.1", c, c.Principal.Name())
	}
	if client != "user:reader" {
		t.Errorf("client of the admission limit = %q, want the principal user:reader", client)
	}
	// A bearer POST needs no CSRF token, and a bearer request never gets a cookie.
	if len(resp.Cookies()) != 0 {
		t.Errorf("a Bearer request set cookies %v", resp.Cookies())
	}
	resp, body = send(t, nil, "GET", a.ts.URL+"/api/session", "", "Authorization", bearer(a.admin))
	var info struct {
		Principal string `json:"principal"`
		Admin     bool   `json:"admin"`
		Door      string `json:"door"`
		CSRF      string `json:"csrf_token"`
	}
	if json.Unmarshal(body, &info) != nil || info.Principal != "user:admin" || !info.Admin || info.Door != "api" || info.CSRF != "" {
		t.Errorf("GET /api/session with Bearer: %d %s", resp.StatusCode, body)
	}
}

// TestLoginSetsAStrictHttpOnlySessionCookieAndLogoutEndsIt.
func TestLoginSetsAStrictHttpOnlySessionCookieAndLogoutEndsIt(t *testing.T) {
	a := newAuthServer(t, server.Options{})
	resp, body := send(t, nil, "POST", a.ts.URL+"/api/login", loginBody(a.reader.AccessKeyID, a.reader.SecretAccessKey))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "auditlake_session" {
			sc = c
		}
	}
	if sc == nil {
		t.Fatalf("no session cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	if !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/" || sc.Secure {
		t.Errorf("cookie %q: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", resp.Header.Get("Set-Cookie"))
	}
	if raw, err := base64.RawURLEncoding.DecodeString(sc.Value); err != nil || len(raw) != 32 {
		t.Errorf("session id %q: %d bytes (%v), want 256 random bits", sc.Value, len(raw), err)
	}
	cookie := sc.Name + "=" + sc.Value
	var info struct {
		Principal string `json:"principal"`
		Admin     bool   `json:"admin"`
		CSRF      string `json:"csrf_token"`
	}
	resp, body = send(t, nil, "GET", a.ts.URL+"/api/session", "", "Cookie", cookie)
	if resp.StatusCode != 200 || json.Unmarshal(body, &info) != nil || info.Principal != "user:reader" || info.Admin || info.CSRF == "" {
		t.Fatalf("GET /api/session: %d %s", resp.StatusCode, body)
	}
	resp, body = send(t, nil, "POST", a.ts.URL+"/api/query", testQuery, "Cookie", cookie, "X-CSRF-Token", info.CSRF)
	if resp.StatusCode != 200 {
		t.Fatalf("query with the session: %d %s", resp.StatusCode, body)
	}
	a.backend.mu.Lock()
	c := a.backend.lastCaller
	a.backend.mu.Unlock()
	if c.Door != access.DoorDashboard || c.KeyID != a.reader.AccessKeyID || c.Principal.Name() != "user:reader" {
		t.Errorf("caller through the session = %+v, want user:reader through the web door", c)
	}
	resp, body = send(t, nil, "POST", a.ts.URL+"/api/logout", "", "Cookie", cookie, "X-CSRF-Token", info.CSRF)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout does not clear the cookie: %q", resp.Header.Get("Set-Cookie"))
	}
	// The cookie a browser (or a thief) kept is dead on the server.
	if resp, body := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Cookie", cookie); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the logged-out cookie still works: %d %s", resp.StatusCode, body)
	}
}

// TestSessionEndsWhenItsUserOrKeyIsDisabled: the session is revalidated on every request.
func TestSessionEndsWhenItsUserOrKeyIsDisabled(t *testing.T) {
	a := newAuthServer(t, server.Options{})
	userCookie, _ := a.login(t, a.reader)
	keyCookie, _ := a.login(t, a.admin)
	for _, c := range []string{userCookie, keyCookie} {
		if resp, body := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Cookie", c); resp.StatusCode != 200 {
			t.Fatalf("fresh session: %d %s", resp.StatusCode, body)
		}
	}
	if err := a.reg.SetDisabled("reader", "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.RotateKey("admin", nil); err != nil { // disables the key the session used
		t.Fatal(err)
	}
	for what, c := range map[string]string{"user disabled": userCookie, "key rotated": keyCookie} {
		if resp, body := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Cookie", c); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: session still answers %d %s", what, resp.StatusCode, body)
		}
	}
	// Enabling the user again does not bring the ended session back.
	if err := a.reg.SetDisabled("reader", "", false); err != nil {
		t.Fatal(err)
	}
	if resp, _ := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Cookie", userCookie); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an ended session came back after the user was enabled: %d", resp.StatusCode)
	}
}

// TestSessionEndsWhenItsUserOrKeyIsDisabledEvenIfEnabledBeforeItsNextRequest: disabling a user
// or a key ends its sessions and login links at once, not at their next request — enabled again
// before that request, a cookie or link made before the disable stayed usable (a stolen cookie
// came back with the user). A new login after the enable works.
func TestSessionEndsWhenItsUserOrKeyIsDisabledEvenIfEnabledBeforeItsNextRequest(t *testing.T) {
	a := newAuthServer(t, server.Options{})
	userCookie, _ := a.login(t, a.reader)
	keyCookie, _ := a.login(t, a.admin)
	link, err := a.srv.LoginLink("reader")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct{ user, key string }{{"reader", ""}, {"admin", a.admin.AccessKeyID}} {
		if err := a.reg.SetDisabled(d.user, d.key, true); err != nil {
			t.Fatal(err)
		}
		if err := a.reg.SetDisabled(d.user, d.key, false); err != nil {
			t.Fatal(err)
		}
	}
	for what, c := range map[string]string{"user disabled and enabled": userCookie, "key disabled and enabled": keyCookie} {
		if resp, body := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Cookie", c); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: the session made before still answers %d %s", what, resp.StatusCode, body)
		}
	}
	if resp, _ := send(t, nil, "GET", a.ts.URL+link, ""); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("login link made before the user was disabled and enabled: %d, want 401 without a cookie", resp.StatusCode)
	}
	for _, c := range []access.Credentials{a.reader, a.admin} {
		cookie, _ := a.login(t, c)
		if resp, body := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Cookie", cookie); resp.StatusCode != 200 {
			t.Errorf("%s logged in after the enable: %d %s", c.User, resp.StatusCode, body)
		}
	}
}

// TestSessionEndsAfterIdleTimeoutAndLifetime.
func TestSessionEndsAfterIdleTimeoutAndLifetime(t *testing.T) {
	a := newAuthServer(t, server.Options{SessionIdle: 10 * time.Minute, SessionLifetime: time.Hour})
	get := func(cookie string) int {
		resp, _ := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Cookie", cookie)
		return resp.StatusCode
	}
	idle, _ := a.login(t, a.reader)
	a.clock.add(9 * time.Minute)
	if code := get(idle); code != 200 {
		t.Fatalf("session used within its idle timeout: %d", code)
	}
	a.clock.add(11 * time.Minute)
	if code := get(idle); code != 401 {
		t.Errorf("session idle 11 minutes (timeout 10): %d, want 401", code)
	}
	busy, _ := a.login(t, a.reader)
	for range 7 { // used every 9 minutes: never idle, but past its lifetime
		a.clock.add(9 * time.Minute)
		get(busy)
	}
	if code := get(busy); code != 401 {
		t.Errorf("session 63 minutes old (lifetime 1h): %d, want 401", code)
	}
}

// TestCSRFRefusesCookieRequestsWithoutTheTokenOrFromAnotherSite: a state-changing request with
// the session cookie needs the session's token in X-CSRF-Token and a same-origin source; a
// refused request runs nothing.
func TestCSRFRefusesCookieRequestsWithoutTheTokenOrFromAnotherSite(t *testing.T) {
	a := newAuthServer(t, server.Options{})
	cookie, csrf := a.login(t, a.reader)
	_, otherCSRF := a.login(t, a.admin)
	tests := []struct {
		name    string
		headers []string
	}{
		{"no token", nil},
		{"wrong token", []string{"X-CSRF-Token", csrf + "x"}},
		{"another session's token", []string{"X-CSRF-Token", otherCSRF}},
		{"empty token", []string{"X-CSRF-Token", ""}},
		{"cross-site by Sec-Fetch-Site", []string{"X-CSRF-Token", csrf, "Sec-Fetch-Site", "cross-site"}},
		{"same-site subdomain by Sec-Fetch-Site", []string{"X-CSRF-Token", csrf, "Sec-Fetch-Site", "same-site"}},
		{"cross-origin by Origin", []string{"X-CSRF-Token", csrf, "Origin", "https://evil.example"}},
	}
	before := len(a.backend.sqlSeen())
	for _, tt := range tests {
		for _, path := range []string{"/api/query", "/api/logout"} {
			resp, body := send(t, nil, "POST", a.ts.URL+path, testQuery, append([]string{"Cookie", cookie}, tt.headers...)...)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s, POST %s: %d %s, want 403", tt.name, path, resp.StatusCode, body)
			}
		}
	}
	if n := len(a.backend.sqlSeen()) - before; n != 0 {
		t.Errorf("refused requests ran %d queries", n)
	}
	// The session survived the refused logouts, and the right token from the same origin works.
	resp, body := send(t, nil, "POST", a.ts.URL+"/api/query", testQuery, "Cookie", cookie, "X-CSRF-Token", csrf,
		"Origin", a.ts.URL, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("same-origin POST with the token: %d %s", resp.StatusCode, body)
	}
	// GET needs no token; login from another site is refused.
	if resp, body := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Cookie", cookie); resp.StatusCode != 200 {
		t.Errorf("GET with the cookie: %d %s", resp.StatusCode, body)
	}
	resp, body = send(t, nil, "POST", a.ts.URL+"/api/login", loginBody(a.reader.AccessKeyID, a.reader.SecretAccessKey), "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("cross-site login: %d %s cookies %v, want 403 and no cookie", resp.StatusCode, body, resp.Cookies())
	}
}

// otherAddressClient connects from 127.0.0.2: another client address on the same machine.
func otherAddressClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
}

// TestFailedAuthenticationsAreRateLimitedPerKeyID: after 5 failures (logins and Bearer alike)
// for one access key id, even its right secret gets 429 with Retry-After, from any address,
// until the window has passed; other keys are not affected.
func TestFailedAuthenticationsAreRateLimitedPerKeyID(t *testing.T) {
	a := newAuthServer(t, server.Options{})
	for i := range 5 {
		var resp *http.Response
		if i%2 == 0 {
			resp, _ = send(t, nil, "POST", a.ts.URL+"/api/login", loginBody(a.reader.AccessKeyID, fmt.Sprint("guess", i)))
		} else {
			resp, _ = send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Authorization", "Bearer "+a.reader.AccessKeyID+":guess")
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	for _, client := range []*http.Client{nil, otherAddressClient()} {
		resp, body := send(t, client, "POST", a.ts.URL+"/api/login", loginBody(a.reader.AccessKeyID, a.reader.SecretAccessKey))
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || len(resp.Cookies()) != 0 {
			t.Errorf("right secret after 5 failures: %d Retry-After %q %s, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		resp, body = send(t, client, "GET", a.ts.URL+"/api/stores", "", "Authorization", bearer(a.reader))
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("right Bearer after 5 failures: %d %s, want 429", resp.StatusCode, body)
		}
	}
	if resp, body := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Authorization", bearer(a.admin)); resp.StatusCode != 200 {
		t.Errorf("another key from the same address: %d %s, want 200", resp.StatusCode, body)
	}
	a.clock.add(15*time.Minute + time.Second)
	if resp, body := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Authorization", bearer(a.reader)); resp.StatusCode != 200 {
		t.Errorf("right secret after the window: %d %s, want 200", resp.StatusCode, body)
	}
}

// TestFailedAuthenticationsAreRateLimitedPerAddress: 20 failures from one address with ever new
// key ids block that address, even with a right key, while another address gets in.
func TestFailedAuthenticationsAreRateLimitedPerAddress(t *testing.T) {
	a := newAuthServer(t, server.Options{})
	for i := range 20 {
		resp, _ := send(t, nil, "POST", a.ts.URL+"/api/login", loginBody(fmt.Sprintf("ALAKGUESS%011d", i), "x"))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp, body := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Authorization", bearer(a.admin))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("right key from the blocked address: %d %s, want 429 with Retry-After", resp.StatusCode, body)
	}
	if resp, body := send(t, otherAddressClient(), "GET", a.ts.URL+"/api/stores", "", "Authorization", bearer(a.admin)); resp.StatusCode != 200 {
		t.Errorf("right key from another address: %d %s, want 200", resp.StatusCode, body)
	}
}

// TestLoginLinkWorksOnceAndExpires: a one-time link logs a browser in and redirects to the
// dashboard; used again, expired, or opened from another site it is refused.
func TestLoginLinkWorksOnceAndExpires(t *testing.T) {
	a := newAuthServer(t, server.Options{})
	link, err := a.srv.LoginLink("admin")
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := send(t, nil, "GET", a.ts.URL+link, "", "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("link opened from another site: %d, want 401 without a cookie", resp.StatusCode)
	}
	// A HEAD (a link checker, a chat preview) neither logs in nor uses the link up.
	if resp, _ := send(t, nil, "HEAD", a.ts.URL+link, ""); resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 0 {
		t.Errorf("HEAD of the link: %d with %d cookies, want 200 without one", resp.StatusCode, len(resp.Cookies()))
	}
	if resp, _ := send(t, nil, "HEAD", a.ts.URL+"/login?token=made-up", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD of a made-up link: %d, want the same 200 as a valid one's", resp.StatusCode)
	}
	resp, body := send(t, nil, "GET", a.ts.URL+link, "", "Sec-Fetch-Site", "none")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("first use: %d Location %q %s, want 303 to /", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	cookie := sessionCookie(t, resp)
	resp, body = send(t, nil, "GET", a.ts.URL+"/api/session", "", "Cookie", cookie)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"principal":"user:admin"`) {
		t.Errorf("session from the link: %d %s", resp.StatusCode, body)
	}
	if resp, body := send(t, nil, "GET", a.ts.URL+link, ""); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("second use: %d %s, want 401 without a cookie", resp.StatusCode, body)
	}
	late, err := a.srv.LoginLink("admin")
	if err != nil {
		t.Fatal(err)
	}
	a.clock.add(server.LoginLinkTTL + time.Second)
	if resp, _ := send(t, nil, "GET", a.ts.URL+late, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired link: %d, want 401", resp.StatusCode)
	}
	if resp, _ := send(t, nil, "GET", a.ts.URL+"/login?token=made-up", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("made-up token: %d, want 401", resp.StatusCode)
	}
	// A link for a user disabled after it was made does not log in.
	gone, err := a.srv.LoginLink("reader")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.reg.SetDisabled("reader", "", true); err != nil {
		t.Fatal(err)
	}
	if resp, _ := send(t, nil, "GET", a.ts.URL+gone, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("link of a disabled user: %d, want 401", resp.StatusCode)
	}
	for _, user := range []string{"reader", "nobody"} {
		if _, err := a.srv.LoginLink(user); err == nil {
			t.Errorf("LoginLink(%q) for a disabled or unknown user: no error", user)
		}
	}
}

// TestServeSpeaksTLSWithASecureCookie: with a certificate the server answers HTTPS only, and the
// session cookie is Secure.
func TestServeSpeaksTLSWithASecureCookie(t *testing.T) {
	cert := servertest.SelfSigned(t)
	reg, admin := testAccess(t)
	addr, _ := serveOnLoopback(t, server.Options{Access: reg, TLS: &tls.Config{Certificates: []tls.Certificate{cert.TLS}}})
	base := "https://" + addr
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}}}
	resp, body := send(t, client, "GET", base+"/api/stores", "", "Authorization", bearer(admin))
	if resp.StatusCode != 200 || resp.TLS == nil || !strings.Contains(string(body), storeID) {
		t.Fatalf("HTTPS with Bearer: %d TLS %v %s", resp.StatusCode, resp.TLS != nil, body)
	}
	resp, body = send(t, client, "POST", base+"/api/login", loginBody(admin.AccessKeyID, admin.SecretAccessKey))
	if resp.StatusCode != 200 {
		t.Fatalf("login over HTTPS: %d %s", resp.StatusCode, body)
	}
	var secure bool
	for _, c := range resp.Cookies() {
		secure = secure || (c.Name == "auditlake_session" && c.Secure && c.HttpOnly && c.SameSite == http.SameSiteStrictMode)
	}
	if !secure {
		t.Errorf("session cookie over HTTPS %q, want Secure; HttpOnly; SameSite=Strict", resp.Header.Values("Set-Cookie"))
	}
	// Plain HTTP to the TLS port gets nothing.
	plain, err := http.Get("http://" + addr + "/healthz")
	if err == nil {
		b, _ := io.ReadAll(plain.Body)
		plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Errorf("plain HTTP on the TLS port answered 200: %s", b)
		}
	}
}

// fakeAddrListener reports another address than the one it listens on.
type fakeAddrListener struct {
	net.Listener
	addr net.Addr
}

func (f fakeAddrListener) Addr() net.Addr { return f.addr }

// TestPlainHTTPOnANonLoopbackAddressIsRefusedUnlessInsecureHTTP.
func TestPlainHTTPOnANonLoopbackAddressIsRefusedUnlessInsecureHTTP(t *testing.T) {
	reg, _ := testAccess(t)
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return fakeAddrListener{ln, &net.TCPAddr{IP: net.IPv4(0, 0, 0, 0), Port: ln.Addr().(*net.TCPAddr).Port}}
	}
	err := server.New(newTestBackend(), slog.New(slog.DiscardHandler), server.Options{Access: reg}).ServeListener(context.Background(), listen())
	if !errors.Is(err, server.ErrInsecureListen) || !strings.Contains(err.Error(), "--insecure-http") {
		t.Errorf("plain HTTP on 0.0.0.0: %v, want ErrInsecureListen naming --insecure-http", err)
	}
	ln := listen()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.New(newTestBackend(), slog.New(slog.DiscardHandler), server.Options{Access: reg, InsecureHTTP: true}).ServeListener(ctx, ln)
	}()
	resp, err := http.Get("http://" + ln.(fakeAddrListener).Listener.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("with InsecureHTTP: %v %v, want /healthz answered", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve with InsecureHTTP: %v", err)
	}
}

// TestLoginGivesANewSessionIDAndEndsTheOldOne: a login never keeps a session id the browser
// brought (no session fixation), and the old session ends.
func TestLoginGivesANewSessionIDAndEndsTheOldOne(t *testing.T) {
	a := newAuthServer(t, server.Options{})
	old, _ := a.login(t, a.reader)
	resp, body := send(t, nil, "POST", a.ts.URL+"/api/login", loginBody(a.admin.AccessKeyID, a.admin.SecretAccessKey), "Cookie", old)
	if resp.StatusCode != 200 {
		t.Fatalf("second login: %d %s", resp.StatusCode, body)
	}
	if fresh := sessionCookie(t, resp); fresh == old {
		t.Errorf("login kept the session id the browser brought")
	}
	if resp, _ := send(t, nil, "GET", a.ts.URL+"/api/stores", "", "Cookie", old); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the session before the new login still works: %d", resp.StatusCode)
	}
}

// BenchmarkAuthenticatedRequest is the cost of one authenticated request (GET /api/session,
// which does nothing else) by Bearer key and by session cookie: the registry's files are read
// and the key checked on every request.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	reg, admin := testAccess(b)
	srv := server.New(newTestBackend(), slog.New(slog.DiscardHandler), server.Options{Access: reg})
	login := httptest.NewRecorder()
	srv.ServeHTTP(login, httptest.NewRequest("POST", "/api/login", strings.NewReader(loginBody(admin.AccessKeyID, admin.SecretAccessKey))))
	cookie := login.Result().Cookies()[0]
	for _, tc := range []struct{ name, header, value string }{
		{"bearer", "Authorization", bearer(admin)},
		{"session", "Cookie", cookie.Name + "=" + cookie.Value},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest("GET", "/api/session", nil)
				r.Header.Set(tc.header, tc.value)
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// TestACallerSetByTheEmbeddingProgramIsKept: a program that embeds the server and authenticated
// a request itself (a context value, which no client can send) is served as that caller; a
// request without one still needs credentials, whatever headers it carries.
func TestACallerSetByTheEmbeddingProgramIsKept(t *testing.T) {
	a := newAuthServer(t, server.Options{})
	p, err := a.reg.Principal("reader")
	if err != nil {
		t.Fatal(err)
	}
	embedded := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Embedder-Says") == "reader" {
			r = r.WithContext(access.WithCaller(r.Context(), access.Caller{Principal: p, KeyID: "embedded", Door: access.DoorInternal}))
		}
		a.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(embedded.Close)
	resp, body := send(t, nil, "POST", embedded.URL+"/api/query", testQuery, "X-Embedder-Says", "reader")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("query with the embedder's caller: %d %s", resp.StatusCode, body)
	}
	a.backend.mu.Lock()
	c, client := a.backend.lastCaller, a.backend.lastClient
	a.backend.mu.Unlock()
	if c.Principal.Name() != "user:reader" || c.KeyID != "embedded" || client != "user:reader" {
		t.Errorf("caller %+v, client %q: want the embedder's user:reader", c, client)
	}
	if resp, body := send(t, nil, "POST", embedded.URL+"/api/query", testQuery, "X-Embedder-Says", "nobody"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a request the embedder did not authenticate: %d %s, want 401", resp.StatusCode, body)
	}
}

// TestTwoAuthorizationHeadersAreRefused: a request with two Authorization headers — the same
// key twice, two keys, a key and garbage in either order — is 400 and runs nothing: the server
// does not pick one (a proxy in front may have checked another).
func TestTwoAuthorizationHeadersAreRefused(t *testing.T) {
	a := newAuthServer(t, server.Options{})
	for name, hs := range map[string][]string{
		"the same key twice":     {bearer(a.reader), bearer(a.reader)},
		"reader then admin":      {bearer(a.reader), bearer(a.admin)},
		"garbage then admin":     {"Bearer x:y", bearer(a.admin)},
		"admin then a SigV4 one": {bearer(a.admin), "AWS4-HMAC-SHA256 Credential=x"},
	} {
		req, err := http.NewRequest("POST", a.ts.URL+"/api/query", strings.NewReader(testQuery))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for _, h := range hs {
			req.Header.Add("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, resp.StatusCode, body)
		}
	}
	a.backend.mu.Lock()
	defer a.backend.mu.Unlock()
	if a.backend.lastCaller.Principal != nil {
		t.Errorf("a refused request reached the backend as %s", a.backend.lastCaller.Principal.Name())
	}
}

// TestOneUserCannotEndOthersSessionsByLoggingInAgain: the session store ends its oldest session
// when full, so one user logging in again and again ended every other user's; now a user holds
// at most MaxSessionsPerUser, their own oldest ending first, and the admin's session stays.
func TestOneUserCannotEndOthersSessionsByLoggingInAgain(t *testing.T) {
	a := newAuthServer(t, server.Options{MaxSessions: 6, MaxSessionsPerUser: 2})
	login := func(id, secret string) string {
		t.Helper()
		resp, body := send(t, nil, "POST", a.ts.URL+"/api/login", loginBody(id, secret))
		if resp.StatusCode != 200 {
			t.Fatalf("login: %d %s", resp.StatusCode, body)
		}
		return sessionCookie(t, resp)
	}
	live := func(cookie string) bool {
		resp, _ := send(t, nil, "GET", a.ts.URL+"/api/session", "", "Cookie", cookie)
		return resp.StatusCode == 200
	}
	admin := login(a.admin.AccessKeyID, a.admin.SecretAccessKey)
	var reader []string
	for range 10 {
		a.clock.add(time.Second)
		reader = append(reader, login(a.reader.AccessKeyID, a.reader.SecretAccessKey))
	}
	if !live(admin) {
		t.Fatal("the admin's session ended after another user logged in 10 times")
	}
	for i, c := range reader {
		if want := i >= len(reader)-2; live(c) != want {
			t.Errorf("the reader's session %d of %d: live %v, want %v (only the newest 2)", i+1, len(reader), !want, want)
		}
	}
}

// TestALoginWithoutASecretRecordsNoHugeKeyID: a dashboard login naming an access key id longer
// than any (100 KiB, within the body limit) and no secret is a failed authentication of the
// address alone, as one with a secret is: the key id it named was kept whole in the limiter's
// memory for the window and went whole into the audit log's Authenticate record, so clients
// that need no credentials could add up to 60 MiB a minute to the audit log, which never drops
// an entry, and hold gigabytes of the server's memory.
func TestALoginWithoutASecretRecordsNoHugeKeyID(t *testing.T) {
	failures := server.NewFailureLimiter(server.Options{})
	var mu sync.Mutex
	var got []server.Failure
	failures.Report(func(f server.Failure) { mu.Lock(); got = append(got, f); mu.Unlock() })
	a := newAuthServer(t, server.Options{Failures: failures})
	huge := strings.Repeat("A", 100<<10)
	for _, secret := range []string{"", "wrong"} {
		if resp, body := send(t, nil, "POST", a.ts.URL+"/api/login", loginBody(huge, secret)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("secret %q: %d %s, want 401", secret, resp.StatusCode, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d failures reported, want 2", len(got))
	}
	for _, f := range got {
		if f.KeyID != "" || f.Door != access.DoorDashboard {
			t.Errorf("reported a failure at %s with a key id of %d bytes, want none (it is longer than any)", f.Door, len(f.KeyID))
		}
	}
}

// TestABlockedAddressGets429ForALoginWithoutASecret: once an address has its limit of failures,
// a dashboard login from it without a secret (or without a key id), and a request whose
// Authorization is no Bearer key id and secret, are refused with 429 like every other attempt,
// and are not more Authenticate records of the audit log: they were answered 401 and recorded,
// so a blocked client could go on adding a record per request (up to the minute's cap).
func TestABlockedAddressGets429ForALoginWithoutASecret(t *testing.T) {
	failures := server.NewFailureLimiter(server.Options{LoginFailuresPerAddress: 2})
	var mu sync.Mutex
	reported := 0
	failures.Report(func(server.Failure) { mu.Lock(); reported++; mu.Unlock() })
	a := newAuthServer(t, server.Options{Failures: failures})
	for i, c := range [][2]string{{"ALAKNOSUCHKEY0000001", "wrong"}, {"ALAKNOSUCHKEY0000002", "wrong"}, {"ALAKNOSUCHKEY0000003", ""}, {"", "wrong"}} {
		want := http.StatusUnauthorized
		if i >= 2 {
			want = http.StatusTooManyRequests
		}
		if resp, body := send(t, nil, "POST", a.ts.URL+"/api/login", loginBody(c[0], c[1])); resp.StatusCode != want {
			t.Errorf("login %d (%q, %q): %d %s, want %d", i+1, c[0], c[1], resp.StatusCode, body, want)
		}
	}
	for _, h := range []string{"Bearer ALAKNOSUCHKEY0000004", "Basic eDp5"} {
		if resp, body := send(t, nil, "GET", a.ts.URL+"/api/session", "", "Authorization", h); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("Authorization %q: %d %s, want 429", h, resp.StatusCode, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if reported != 2 {
		t.Errorf("%d failures reported, want the 2 before the address was blocked", reported)
	}
}
