package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/lake"
)

// Target is where alerts are sent. Kind says how:
//
//   - webhook (the default): a POST of a JSON body {"alerts": [Alert…]} with the headers
//     X-Auditlake-Timestamp (Unix seconds) and X-Auditlake-Signature,
//     "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body));
//   - slack: a POST of a Slack incoming-webhook body {"text": …, "blocks": […]} to Webhook;
//   - smtp: a plain-text mail through SMTP.Addr (STARTTLS when the server offers it).
type Target struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
	// Webhook is the URL of a webhook or slack target.
	Webhook string    `json:"webhook,omitempty"`
	Secret  string    `json:"secret,omitempty"`
	SMTP    *SMTP     `json:"smtp,omitempty"`
	AddedAt time.Time `json:"added_at"`
}

// The kinds of target.
const (
	KindWebhook = "webhook"
	KindSlack   = "slack"
	KindSMTP    = "smtp"
)

// KindOf is t's kind (a target registered before kinds existed is a webhook).
func (t Target) KindOf() string { return orDefault(t.Kind, KindWebhook) }

// Destination is where t sends, with its secrets left out: a webhook's path and query (a
// Slack webhook's path is its token, and many services — Discord, Teams, Zapier — put one in
// theirs) and a URL's user information are not shown, only the scheme and host. It is shown to
// readers of the alerts store (GET /api/alert-targets), not only to who added the target.
func (t Target) Destination() string {
	switch t.KindOf() {
	case KindSMTP:
		if t.SMTP == nil {
			return ""
		}
		return "smtp://" + t.SMTP.Addr + " " + t.SMTP.From + " → " + strings.Join(t.SMTP.To, ", ")
	default:
		u, err := url.Parse(t.Webhook)
		if err != nil {
			return "(invalid URL)"
		}
		out := u.Scheme + "://" + u.Host
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			out += "/…"
		}
		return out
	}
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

// WeakSecret is the length under which a webhook secret is easy to guess: accepted (the
// receiver may have chosen it), with a warning (alert-target add).
const WeakSecret = 16

// checkTarget says what is wrong with t, if anything.
func checkTarget(t Target) error {
	if !targetNameRE.MatchString(t.Name) {
		return fmt.Errorf("invalid target name %q: use 1-64 letters, digits, '.', '_' or '-'", t.Name)
	}
	switch t.KindOf() {
	case KindWebhook, KindSlack:
		u, err := url.Parse(t.Webhook)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("invalid webhook URL %q: want http(s)://host/path", t.Webhook)
		}
		if t.KindOf() == KindWebhook && t.Secret == "" {
			return fmt.Errorf("a webhook target needs a secret (it signs every alert)")
		}
		if t.SMTP != nil {
			return fmt.Errorf("a %s target has no SMTP settings", t.KindOf())
		}
	case KindSMTP:
		if t.SMTP == nil {
			return fmt.Errorf("an smtp target needs its server, sender and recipients")
		}
		if t.Webhook != "" || t.Secret != "" {
			return fmt.Errorf("an smtp target has no webhook URL or secret")
		}
		return t.SMTP.check()
	default:
		return fmt.Errorf("unknown alert target kind %q: want webhook, slack or smtp", t.Kind)
	}
	return nil
}

// AddTarget registers a target.
func AddTarget(lk *lake.Lake, t Target) error {
	if err := checkTarget(t); err != nil {
		return err
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

// RemoveTarget forgets a target, its queued deliveries and its health (a target added again
// under the name starts afresh).
func RemoveTarget(lk *lake.Lake, name string) error {
	err := atomicfile.UpdateJSON(targetsPath(lk), filepath.Join(lk.Dir, "rules.lock"), func(f *targetFile) error {
		i := slices.IndexFunc(f.Targets, func(o Target) bool { return o.Name == name })
		if i < 0 {
			return fmt.Errorf("alert target %q: %w", name, ErrTargetNotFound)
		}
		f.Targets = slices.Delete(f.Targets, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	return updateQueue(lk, func(q *queueFile) error {
		delete(q.Health, name)
		q.Pending = slices.DeleteFunc(q.Pending, func(p queued) bool { return p.Target == name })
		for k := range q.Done {
			if strings.HasPrefix(k, name+"\x00") {
				delete(q.Done, k)
			}
		}
		return nil
	})
}

// ErrTargetNotFound is returned for a target name that is not registered.
var ErrTargetNotFound = errors.New("no such alert target")

// Sign returns the X-Auditlake-Signature of body sent at timestamp ts.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Delivery says how alerts are sent and how failures are retried.
type Delivery struct {
	Client *http.Client
	// TLS is the SMTP client's configuration for STARTTLS (nil: the system's roots); its
	// ServerName is set to the server's host when empty.
	TLS *tls.Config
	// Backoff is the wait before the first retry, doubled for each next one (with jitter) up
	// to MaxBackoff. Send gives up when MaxWait has passed; the queue (DeliverDue) when a
	// delivery has been failing for GiveUpAfter. Zero values: 30 s (Send: 1 s), 1 h, 1 minute
	// and 24 h.
	Backoff, MaxBackoff, MaxWait, GiveUpAfter time.Duration
	// Getenv reads the SMTP password's environment variable; nil: os.Getenv.
	Getenv func(string) string
}

// Send sends alerts to t, retrying (with backoff) in this call a failed connection, a 429 or a
// 5xx answer until MaxWait has passed; another 4xx answer (a 5xx SMTP reply) is final. The
// queue (Enqueue, DeliverDue) retries across runs instead.
func (d Delivery) Send(ctx context.Context, t Target, alerts []Alert) error {
	backoff, maxWait := d.Backoff, d.MaxWait
	if backoff <= 0 {
		backoff = time.Second
	}
	if maxWait <= 0 {
		maxWait = time.Minute
	}
	deadline := time.Now().Add(maxWait)
	for attempt := 1; ; attempt++ {
		err := d.attempt(ctx, t, alerts)
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

// attempt makes one delivery of alerts to t; a finalError is not worth retrying.
func (d Delivery) attempt(ctx context.Context, t Target, alerts []Alert) error {
	switch t.KindOf() {
	case KindSMTP:
		return d.sendMail(ctx, t, alerts)
	case KindSlack:
		body, err := json.Marshal(slackBody(alerts))
		if err != nil {
			return finalError{err}
		}
		return d.post(ctx, t, body, nil)
	case KindWebhook:
		body, err := json.Marshal(webhookBody(alerts))
		if err != nil {
			return finalError{err}
		}
		return d.post(ctx, t, body, func(h http.Header) {
			ts := time.Now().Unix()
			h.Set("X-Auditlake-Timestamp", strconv.FormatInt(ts, 10))
			h.Set("X-Auditlake-Signature", Sign(t.Secret, ts, body))
		})
	default:
		return finalError{fmt.Errorf("unknown target kind %q", t.Kind)}
	}
}

type finalError struct{ error }

// webhookBody is the webhook's JSON body, {"alerts": [...]}: every documented key of each alert
// always (Alert has no omitempty), so a receiver's schema does not depend on the rule — an empty
// resource or region is "", event_ids a list, group the alert's id and count at least 1 (a
// notification queued by an older version may have neither).
func webhookBody(alerts []Alert) map[string][]Alert {
	out := make([]Alert, len(alerts))
	for i, a := range alerts {
		a.Group, a.Count = orDefault(a.Group, a.ID), a.count()
		if a.EventIDs == nil {
			a.EventIDs = []string{}
		}
		out[i] = a
	}
	return map[string][]Alert{"alerts": out}
}

func (d Delivery) post(ctx context.Context, t Target, body []byte, sign func(http.Header)) error {
	client := d.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.Webhook, bytes.NewReader(body))
	if err != nil {
		return finalError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "auditlake-alerts")
	if sign != nil {
		sign(req.Header)
	}
	resp, err := client.Do(req)
	if err != nil {
		return redactURL(err)
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

// redactURL drops the URL from a client error: a Slack webhook's URL is its secret, and the
// error is shown in the target's health.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
