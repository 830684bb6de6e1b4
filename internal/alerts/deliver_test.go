package alerts_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestWebhookRetriesThenSucceeds: 503 and 429 answers are retried with backoff until the
// receiver takes the alert; every attempt carries a valid signature of its own timestamp.
func TestWebhookRetriesThenSucceeds(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	var calls atomic.Int32
	var badSig atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(r.Header.Get("X-Auditlake-Timestamp") + "." + string(body)))
		if r.Header.Get("X-Auditlake-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) || !strings.Contains(string(body), `"rule":"r1"`) {
			badSig.Add(1)
		}
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	d := alerts.Delivery{Backoff: 10 * time.Millisecond, MaxWait: 5 * time.Second}
	err := d.Send(context.Background(), alerts.Target{Name: "ops", Webhook: srv.URL, Secret: secret}, []alerts.Alert{{ID: "a", Rule: "r1"}})
	if err != nil || calls.Load() != 3 || badSig.Load() != 0 {
		t.Fatalf("err %v, %d calls, %d bad signatures", err, calls.Load(), badSig.Load())
	}
}

// TestWebhookRetryIsSignedWhenSent: a receiver that refuses a timestamp far from its clock (a
// replay) takes a retry: each attempt is signed anew with the time it is sent, as the docs say.
func TestWebhookRetryIsSignedWhenSent(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	var stamps []int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, err := strconv.ParseInt(r.Header.Get("X-Auditlake-Timestamp"), 10, 64)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(r.Header.Get("X-Auditlake-Timestamp") + "." + string(body)))
		if err != nil || !hmac.Equal([]byte(r.Header.Get("X-Auditlake-Signature")), []byte("sha256="+hex.EncodeToString(mac.Sum(nil)))) ||
			time.Since(time.Unix(ts, 0)).Abs() > 2*time.Second { // a tight replay window
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		stamps = append(stamps, ts)
		if len(stamps) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	d := alerts.Delivery{Backoff: 1100 * time.Millisecond, MaxWait: 10 * time.Second}
	if err := d.Send(context.Background(), alerts.Target{Name: "ops", Webhook: srv.URL, Secret: secret}, []alerts.Alert{{ID: "a", Rule: "r1"}}); err != nil {
		t.Fatal(err)
	}
	if len(stamps) != 2 || stamps[1] <= stamps[0] {
		t.Errorf("timestamps of the attempt and its retry: %v, want two, the retry's later", stamps)
	}
}

// TestWebhookGivesUp: a 4xx other than 429 is final; an unreachable target gives up within
// MaxWait with the attempts counted.
func TestWebhookGivesUp(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	d := alerts.Delivery{Backoff: 10 * time.Millisecond, MaxWait: time.Second}
	err := d.Send(context.Background(), alerts.Target{Name: "ops", Webhook: srv.URL, Secret: "x"}, nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 400 (not retried)") || calls.Load() != 1 {
		t.Errorf("400: %v after %d calls", err, calls.Load())
	}
	url := "http://127.0.0.1:1" // refuses: outside the ephemeral range, no test's listener can take it
	err = alerts.Delivery{Backoff: 20 * time.Millisecond, MaxWait: 100 * time.Millisecond}.Send(context.Background(), alerts.Target{Name: "gone", Webhook: url, Secret: "x"}, nil)
	if err == nil || !strings.Contains(err.Error(), "gave up after") {
		t.Errorf("unreachable: %v", err)
	}
}

// TestAddTargetChecks: a bad URL, no secret or a taken name is refused; a short secret is not
// (the receiver may have chosen it: alert-target add warns).
func TestAddTargetChecks(t *testing.T) {
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := alerts.Target{Name: "ops", Webhook: "https://hooks.example/alerts", Secret: "0123456789abcdef"}
	if err := alerts.AddTarget(lk, good); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []alerts.Target{
		good,
		{Name: "x", Webhook: "ftp://hooks.example/", Secret: good.Secret},
		{Name: "x", Webhook: "https:///nohost", Secret: good.Secret},
		{Name: "x", Webhook: good.Webhook},
		{Name: "../x", Webhook: good.Webhook, Secret: good.Secret},
	} {
		if err := alerts.AddTarget(lk, bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	if err := alerts.AddTarget(lk, alerts.Target{Name: "short", Webhook: good.Webhook, Secret: "s"}); err != nil {
		t.Errorf("a short secret: %v", err)
	}
	ts, err := alerts.Targets(lk)
	if err != nil || len(ts) != 2 {
		t.Errorf("targets %v %v", ts, err)
	}
}
