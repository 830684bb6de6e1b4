package cli_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cli"
	"github.com/auditlake/auditlake/internal/server/servertest"
)

// TestServeRefusesPlainHTTPOffLoopbackAndBadTLSFlags: serve on a non-loopback address without
// TLS is a usage error naming --insecure-http; half a certificate pair is a usage error; a
// certificate that does not load, or a login link for an unknown user, is an error before
// anything listens.
func TestServeRefusesPlainHTTPOffLoopbackAndBadTLSFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"all interfaces", []string{"--listen", "0.0.0.0:0"}, cli.ExitUsage, "--insecure-http"},
		{"empty host", []string{"--listen", ":0"}, cli.ExitUsage, "--tls-cert"},
		{"a host name", []string{"--listen", "audit.example.com:8080"}, cli.ExitUsage, "not a loopback address"},
		{"cert without key", []string{"--tls-cert", "c.pem"}, cli.ExitUsage, "--tls-cert and --tls-key go together"},
		{"missing cert files", []string{"--listen", "0.0.0.0:0", "--tls-cert", filepath.Join(dir, "no.pem"), "--tls-key", filepath.Join(dir, "no-key.pem")}, cli.ExitFailure, "no.pem"},
		{"login link for an unknown user", []string{"--listen", "127.0.0.1:0", "--login-link", "nobody"}, cli.ExitFailure, `user "nobody"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, dir, append([]string{"serve"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("serve %s: exit %d, stderr %q; want exit %d naming %q", strings.Join(tt.args, " "), code, stderr, tt.wantCode, tt.wantErr)
			}
		})
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key as PEM files and
// returns their paths and a pool that trusts the certificate.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	c := servertest.SelfSigned(t)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, c.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, c.Pool
}

// TestServeOverTLSAuthenticatesEveryAPIPath: serve --tls-cert/--tls-key speaks HTTPS; the API
// answers a user's Bearer key, refuses a request without one (401), and the login link logs in
// with a Secure session cookie, once.
func TestServeOverTLSAuthenticatesEveryAPIPath(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 0, dir, "eds", "create", "trail")
	out := mustRun(t, 0, dir, "user", "create", "alice", "--admin", "--output", "json")
	var alice struct {
		ID     string `json:"access_key_id"`
		Secret string `json:"secret_access_key"`
	}
	if err := json.Unmarshal([]byte(out), &alice); err != nil {
		t.Fatalf("user create printed %q: %v", out, err)
	}
	certFile, keyFile, pool := writeCert(t)
	// serve picks its port again when another process took it before serve listened.
	base := serveTLS(t, dir, io.Discard, pool, "--tls-cert", certFile, "--tls-key", keyFile, "--login-link", "alice")
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(path, authorization string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := get("/api/stores", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/stores without a key: %d %s, want 401", resp.StatusCode, body)
	}
	if resp, body := get("/api/stores", "Bearer "+alice.ID+":"+alice.Secret); resp.StatusCode != 200 || !strings.Contains(body, `"name":"trail"`) {
		t.Errorf("GET /api/stores with alice's key over TLS: %d %s", resp.StatusCode, body)
	}
	link := strings.TrimPrefix(loginLinkOf(t, base), base) // loginLinkOf wants it under base, https://

	resp, _ := get(link, "")
	var secure bool
	for _, c := range resp.Cookies() {
		secure = secure || (c.Name == "auditlake_session" && c.Secure && c.HttpOnly)
	}
	if resp.StatusCode != http.StatusSeeOther || !secure {
		t.Errorf("login link over TLS: %d, cookies %q; want 303 with a Secure HttpOnly session cookie", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	if resp, _ := get(link, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login link used twice: %d, want 401", resp.StatusCode)
	}
}
