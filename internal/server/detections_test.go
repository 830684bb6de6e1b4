package server_test

import (
	"net/http"
	"testing"

	"github.com/auditlake/auditlake/internal/server"
)

// TestDetectionEndpointsNeedAuthAndABackendThatKeepsAlerts: /api/alerts and /api/hunt are
// authenticated like the other /api routes, check their methods, and answer 501 from a backend
// without detections (the real one is tested in internal/cli: TestAlertsAndHuntAPI).
func TestDetectionEndpointsNeedAuthAndABackendThatKeepsAlerts(t *testing.T) {
	ts, _ := newTestServer(t, newTestBackend(), server.Options{})
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/api/alerts", "", http.StatusNotImplemented},
		{"POST", "/api/hunt", `{"store":"trail","rules":"all"}`, http.StatusNotImplemented},
		{"POST", "/api/alerts", "{}", http.StatusMethodNotAllowed},
		{"GET", "/api/hunt", "", http.StatusMethodNotAllowed},
	} {
		if resp, body := do(t, ts, c.method, c.path, c.body); resp.StatusCode != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, body, c.want)
		}
	}
	for _, path := range []string{"/api/alerts", "/api/hunt"} {
		resp, err := http.Get(ts.URL + path) // no credentials
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", path, resp.StatusCode)
		}
	}
}
