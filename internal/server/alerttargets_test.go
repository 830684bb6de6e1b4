package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/server"
)

// TestAlertTargetsForManagersAndAlertReaders: GET /api/alert-targets answers the list to an
// admin, 403 to a user without a grant on the alerts store, the list once the user may read
// that store; and it is behind authentication.
func TestAlertTargetsForManagersAndAlertReaders(t *testing.T) {
	const alertsID = "0a0b0c0d-0000-4000-8000-00000000a1e7"
	list := []map[string]any{{"name": "ops", "kind": "webhook", "destination": "https://hooks.example/alerts", "last_success": nil,
		"last_error": "HTTP 503", "last_error_at": "2026-12-05T00:00:00Z", "consecutive_failures": 3, "queued": 2}}
	a := newAuthServer(t, server.Options{AlertTargets: func(ctx context.Context) (any, string, error) { return list, alertsID, nil }})
	get := func(c access.Credentials) (int, []map[string]any) {
		resp, body := send(t, nil, "GET", a.ts.URL+"/api/alert-targets", "", "Authorization", bearer(c))
		var v []map[string]any
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
		}
		return resp.StatusCode, v
	}
	if code, v := get(a.admin); code != http.StatusOK || len(v) != 1 || v[0]["name"] != "ops" || v[0]["queued"] != float64(2) || v[0]["consecutive_failures"] != float64(3) {
		t.Errorf("admin: %d %v", code, v)
	}
	if code, _ := get(a.reader); code != http.StatusForbidden {
		t.Errorf("reader without a grant: %d", code)
	}
	if _, err := a.reg.AddGrant(access.Grant{Privilege: access.Select, Principal: "user:reader", Resource: "store:" + alertsID}, nil); err != nil {
		t.Fatal(err)
	}
	if code, v := get(a.reader); code != http.StatusOK || len(v) != 1 {
		t.Errorf("reader of the alerts store: %d %v", code, v)
	}
	if resp, _ := send(t, nil, "GET", a.ts.URL+"/api/alert-targets", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous: %d", resp.StatusCode)
	}
}
