package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/lake"
)

// Target is a webhook that receives alerts: a POST of a JSON body {"alerts": [Alert…]} with
// the headers X-Auditlake-Timestamp (Unix seconds) and X-Auditlake-Signature,
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
type Target struct {
	Name    string    `json:"name"`
	Webhook string    `json:"webhook"`
	Secret  string    `json:"secret"`
	AddedAt time.Time `json:"added_at"`
}

type targetFile struct {
	Targets []Target `json:"targets"`
}

func targetsPath(lk *lake.Lake) string { return filepath.Join(lk.Dir, "alert-targets.json") }

var targetNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Targets lists the alert targets by name.
func Targets(lk *lake.Lake) ([]Target, error) {
	var f targetFile
	if err := atomicfile.ReadJSON(targetsPath(lk), &f); err != nil {
		return nil, err
	}
	sort.Slice(f.Targets, func(i, j int) bool { return f.Targets[i].Name < f.Targets[j].Name })
	return f.Targets, nil
}

// AddTarget registers a webhook target.
func AddTarget(lk *lake.Lake, t Target) error {
	if !targetNameRE.MatchString(t.Name) {
		return fmt.Errorf("invalid target name %q: use 1-64 letters, digits, '.', '_' or '-'", t.Name)
	}
	u, err := url.Parse(t.Webhook)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("invalid webhook URL %q: want http(s)://host/path", t.Webhook)
	}
	if len(t.Secret) < 16 {
		return fmt.Errorf("the webhook secret must be at least 16 characters (it signs every alert)")
	}
	if t.AddedAt.IsZero() {
		t.AddedAt = time.Now().UTC().Truncate(time.Second)
	}
	return atomicfile.UpdateJSON(targetsPath(lk), filepath.Join(lk.Dir, "rules.lock"), func(f *targetFile) error {
		if slices.ContainsFunc(f.Targets, func(o Target) bool { return o.Name == t.Name }) {
			return fmt.Errorf("an alert target named %q already exists", t.Name)
		}
		f.Targets = append(f.Targets, t)
		return nil
	})
}

// Sign returns the X-Auditlake-Signature of body sent at timestamp ts.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Delivery bounds the retries of one delivery.
type Delivery struct {
	Client *http.Client
	// Backoff is the wait before the first retry, doubled for each next one; MaxWait bounds
	// the total wait. Zero values: 1 s and 1 minute.
	Backoff, MaxWait time.Duration
}

// Send posts alerts to t, retrying (with backoff) a failed connection, a 429 or a 5xx answer
// until MaxWait has passed; another 4xx answer is final.
func (d Delivery) Send(ctx context.Context, t Target, alerts []Alert) error {
	body, err := json.Marshal(map[string]any{"alerts": alerts})
	if err != nil {
		return err
	}
	client, backoff, maxWait := d.Client, d.Backoff, d.MaxWait
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	if maxWait <= 0 {
		maxWait = time.Minute
	}
	deadline := time.Now().Add(maxWait)
	for attempt := 1; ; attempt++ {
		err := post(ctx, client, t, body)
		if err == nil {
			return nil
		}
		if final, ok := err.(finalError); ok {
			return fmt.Errorf("alert target %s: %w", t.Name, final.error)
		}
		if time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("alert target %s: gave up after %d attempts: %w", t.Name, attempt, err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff *= 2
	}
}

type finalError struct{ error }

func post(ctx context.Context, client *http.Client, t Target, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.Webhook, bytes.NewReader(body))
	if err != nil {
		return finalError{err}
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "auditlake-alerts")
	req.Header.Set("X-Auditlake-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Auditlake-Signature", Sign(t.Secret, ts, body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	default:
		return finalError{fmt.Errorf("HTTP %d (not retried)", resp.StatusCode)}
	}
}
