package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/server"
)

// channelBackend is the test backend that also receives audit events: it authenticates a
// channel token (an access key) against the real registry, as the app's backend does, and
// accepts every call.
type channelBackend struct {
	*testBackend
	reg *access.Registry
}

func (b channelBackend) Authenticate(ctx context.Context, authorization, userAgent string) (context.Context, error) {
	if _, ok := access.CallerFrom(ctx); ok {
		return ctx, nil
	}
	cred, ok := strings.CutPrefix(authorization, "Bearer ")
	id, secret, ok2 := strings.Cut(cred, ":")
	if !ok || !ok2 {
		return ctx, server.ErrUnauthorized
	}
	p, err := b.reg.Authenticate(id, secret)
	if errors.Is(err, access.ErrUnauthenticated) {
		return ctx, server.ErrUnauthorized
	}
	if err != nil {
		return ctx, err
	}
	return access.WithCaller(ctx, access.Caller{Principal: p, KeyID: id, Door: access.DoorChannel}), nil
}

func (b channelBackend) PutAuditEvents(ctx context.Context, channel, externalID string, entries []json.RawMessage) (*server.PutAuditEventsResult, error) {
	return &server.PutAuditEventsResult{Successful: []server.AuditEventSuccess{}, Failed: []server.AuditEventFailure{}}, nil
}

// TestFailedChannelTokensAreRateLimitedLikeOtherBearerFailures: wrong secrets sent to the
// audit-event endpoints count against the key id and the address as failed logins and Bearer
// requests do: after 5 the right secret gets 429 with Retry-After there and on the JSON API,
// another key still gets in, and after the window the right secret works again; 20 malformed
// tokens from one address block that address.
func TestFailedChannelTokensAreRateLimitedLikeOtherBearerFailures(t *testing.T) {
	reg, admin := testAccess(t)
	tok, err := reg.CreateUser("putter", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)}
	srv := server.New(channelBackend{newTestBackend(), reg}, slog.New(slog.DiscardHandler), server.Options{Access: reg})
	server.SetClock(srv, c.now)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	put := func(client *http.Client, authorization string) *http.Response {
		resp, _ := send(t, client, "POST", ts.URL+"/api/channels/ch/events", `{"auditEvents":[{"id":"1","eventData":"{}"}]}`, "Authorization", authorization)
		return resp
	}
	if resp := put(nil, bearer(tok)); resp.StatusCode != 200 {
		t.Fatalf("right token: %d, want 200", resp.StatusCode)
	}
	for i := range 5 {
		path := "/api/channels/ch/events"
		if i%2 == 1 {
			path = "/PutAuditEvents?channelArn=ch"
		}
		resp, _ := send(t, nil, "POST", ts.URL+path, `{"auditEvents":[{"id":"1","eventData":"{}"}]}`, "Authorization", "Bearer "+tok.AccessKeyID+":guess")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d on %s: %d, want 401", i+1, path, resp.StatusCode)
		}
	}
	for _, client := range []*http.Client{nil, otherAddressClient()} {
		if resp := put(client, bearer(tok)); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("right token after 5 failures: %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if resp, body := send(t, client, "GET", ts.URL+"/api/stores", "", "Authorization", bearer(tok)); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("the same key on the JSON API after 5 channel failures: %d %s, want 429", resp.StatusCode, body)
		}
	}
	if resp := put(nil, bearer(admin)); resp.StatusCode != 200 {
		t.Errorf("another key from the same address: %d, want 200", resp.StatusCode)
	}
	c.add(15*time.Minute + time.Second)
	if resp := put(nil, bearer(tok)); resp.StatusCode != 200 {
		t.Errorf("right token after the window: %d, want 200", resp.StatusCode)
	}
	for i := range 20 {
		if resp := put(otherAddressClient(), "Bearer no-colon-"+strings.Repeat("x", i)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("malformed token %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	if resp := put(otherAddressClient(), bearer(admin)); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right token from an address that sent 20 malformed ones: %d, want 429", resp.StatusCode)
	}
	if resp := put(nil, bearer(admin)); resp.StatusCode != 200 {
		t.Errorf("right token from another address: %d, want 200", resp.StatusCode)
	}
}
