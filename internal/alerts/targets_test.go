package alerts_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/lake"
)

func sampleAlert() alerts.Alert {
	return alerts.Alert{ID: "0f1e2d3c-0000-4000-8000-000000000001", Rule: "non-approved-launch", Title: "Launch outside approved templates <!channel>",
		Severity: "high", Store: "prod-trail", EventTime: time.Date(2026, 12, 4, 10, 5, 0, 0, time.UTC), EventIDs: []string{"e1", "e2", "e3"},
		Principal: "arn:aws:iam::111122223333:user/alice", Account: "111122223333", Region: "eu-west-1", Resource: "i-01234567890123456",
		Summary: "instance i-01234567890123456: no_template", Status: "open", Count: 3}
}

// TestSlackTargetBody: a Slack target POSTs an incoming-webhook body whose text and fields
// name the rule, severity, count, principal, account, region, instance and time, with Slack's
// control characters escaped.
func TestSlackTargetBody(t *testing.T) {
	var got struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type   string `json:"type"`
			Fields []struct{ Type, Text string }
		} `json:"blocks"`
	}
	var ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctype = r.Header.Get("Content-Type")
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &got); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	target := alerts.Target{Name: "chat", Kind: alerts.KindSlack, Webhook: srv.URL + "/services/T0/B0/SECRET"}
	if err := (alerts.Delivery{}).Send(context.Background(), target, []alerts.Alert{sampleAlert()}); err != nil {
		t.Fatal(err)
	}
	if ctype != "application/json" {
		t.Errorf("content type %q", ctype)
	}
	for _, want := range []string{"[HIGH]", "Launch outside approved templates &lt;!channel&gt;", "(3 events)", "user/alice"} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("text %q lacks %q", got.Text, want)
		}
	}
	if strings.Contains(got.Text, "<!channel>") {
		t.Errorf("text mentions the channel: %q", got.Text)
	}
	var fields []string
	for _, b := range got.Blocks {
		for _, f := range b.Fields {
			fields = append(fields, f.Text)
		}
	}
	all := strings.Join(fields, "\n")
	for _, want := range []string{"*Rule*\nnon-approved-launch", "*Severity*\nhigh", "*Events*\n3", "*Account*\n111122223333",
		"*Region*\neu-west-1", "*Resource*\ni-01234567890123456", "*Time*\n2026-12-04T10:05:00Z"} {
		if !strings.Contains(all, want) {
			t.Errorf("fields lack %q:\n%s", want, all)
		}
	}
	if d := target.Destination(); strings.Contains(d, "SECRET") || !strings.HasPrefix(d, "http://127.0.0.1") {
		t.Errorf("destination %q", d)
	}
}

// smtpServer is a real SMTP server (go-smtp) on 127.0.0.1 that offers STARTTLS and accepts
// AUTH PLAIN only over TLS, keeping the messages it receives.
type smtpServer struct {
	mu       sync.Mutex
	msgs     []received
	rcptCode int // when set, RCPT TO is refused with this code
	addr     string
	roots    *x509.CertPool
}

type received struct {
	from, user string
	to         []string
	tls        bool
	data       []byte
}

type smtpSession struct {
	srv *smtpServer
	c   *smtp.Conn
	msg received
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "auditlake" || pass != "pa55-word" {
			return errors.New("bad credentials")
		}
		s.msg.user = user
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error { s.msg.from = from; return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.rcptCode != 0 {
		return &smtp.SMTPError{Code: s.srv.rcptCode, Message: "no such mailbox"}
	}
	s.msg.to = append(s.msg.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = b
	_, s.msg.tls = s.c.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, s.msg)
	s.srv.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

func newSMTPServer(t *testing.T) *smtpServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	s := &smtpServer{roots: roots}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: s, c: c}, nil }))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

// TestSMTPTargetSTARTTLSAuthAndMessage: the mail goes through STARTTLS (the server offers it
// and accepts AUTH only over TLS), authenticates with the password of the environment
// variable, reaches every recipient, and has the headers and the body the docs describe.
func TestSMTPTargetSTARTTLSAuthAndMessage(t *testing.T) {
	srv := newSMTPServer(t)
	target := alerts.Target{Name: "mail", Kind: alerts.KindSMTP, SMTP: &alerts.SMTP{Addr: srv.addr, From: "auditlake <auditlake@example.com>",
		To: []string{"secops@example.com", "Oncall <oncall@example.com>"}, User: "auditlake", PasswordEnv: "AUDITLAKE_SMTP_PASSWORD"}}
	env := func(k string) string {
		if k == "AUDITLAKE_SMTP_PASSWORD" {
			return "pa55-word"
		}
		return ""
	}
	a := sampleAlert()
	a.Title = "Launch\r\nBcc: evil@example.com"
	// Values from events and SQL rules' rows: a line break in one must not make a line of the
	// body (a forged "Severity: low" under the alert's fields).
	a.Summary += "\r\nSeverity:  low"
	a.Resource += "\nRegion:    us-east-1"
	d := alerts.Delivery{TLS: &tls.Config{RootCAs: srv.roots}, Getenv: env, MaxWait: time.Millisecond}
	if err := d.Send(context.Background(), target, []alerts.Alert{a}); err != nil {
		t.Fatal(err)
	}
	if len(srv.msgs) != 1 {
		t.Fatalf("%d messages", len(srv.msgs))
	}
	m := srv.msgs[0]
	if !m.tls || m.user != "auditlake" || m.from != "auditlake@example.com" || strings.Join(m.to, ",") != "secops@example.com,oncall@example.com" {
		t.Errorf("envelope: tls %v user %q from %q to %v", m.tls, m.user, m.from, m.to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.data)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	if h.Get("From") != "auditlake <auditlake@example.com>" || h.Get("To") != "secops@example.com, Oncall <oncall@example.com>" ||
		h.Get("X-Auditlake-Alert") != a.ID || h.Get("Bcc") != "" || h.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("headers: %v", h)
	}
	if subj := h.Get("Subject"); !strings.Contains(subj, "[HIGH] Launch  Bcc: evil@example.com (3 events) by arn:aws:iam::111122223333:user/alice") {
		t.Errorf("subject %q", subj)
	}
	if _, err := mail.ParseDate(h.Get("Date")); err != nil {
		t.Errorf("date %q: %v", h.Get("Date"), err)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	for _, line := range strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n") {
		if strings.HasPrefix(line, "Severity:  low") || strings.HasPrefix(line, "Region:    us-east-1") {
			t.Errorf("an alert value's line break made a line of the body: %q\n%s", line, body)
		}
	}
	for _, want := range []string{"Principal: arn:aws:iam::111122223333:user/alice", "Account:   111122223333", "Region:    eu-west-1",
		"Resource:  i-01234567890123456", "Time:      2026-12-04T10:05:00Z", "Events:    3", "Summary:   instance i-01234567890123456: no_template"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}

	// A wrong password is refused by the server; a 5xx reply to RCPT is final.
	bad := d
	bad.Getenv = func(string) string { return "wrong" }
	if err := bad.Send(context.Background(), target, []alerts.Alert{a}); err == nil || !strings.Contains(err.Error(), "AUTH") {
		t.Errorf("wrong password: %v", err)
	}
	srv.rcptCode = 550
	if err := d.Send(context.Background(), target, []alerts.Alert{a}); err == nil || strings.Contains(err.Error(), "gave up") || !strings.Contains(err.Error(), "550") {
		t.Errorf("550 on RCPT: %v", err)
	}
}

// TestAddTargetKinds: Slack and SMTP targets are checked when added; the password is named,
// never given; list shows destinations without secrets.
func TestAddTargetKinds(t *testing.T) {
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := []alerts.Target{
		{Name: "chat", Kind: alerts.KindSlack, Webhook: "https://hooks.slack.com/services/T0/B0/XXXXSECRET"},
		{Name: "mail", Kind: alerts.KindSMTP, SMTP: &alerts.SMTP{Addr: "smtp.example:587", From: "a@example.com", To: []string{"b@example.com", "c@example.com"}, User: "u", PasswordFile: "/run/secrets/smtp"}},
		{Name: "ops", Webhook: "https://hooks.example/alerts?token=SECRET", Secret: "0123456789abcdef"},
	}
	for _, g := range good {
		if err := alerts.AddTarget(lk, g); err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
	}
	for _, bad := range []alerts.Target{
		{Name: "x", Kind: alerts.KindSlack, Webhook: "hooks.slack.com/services/T0"},
		{Name: "x", Kind: alerts.KindSMTP, SMTP: &alerts.SMTP{Addr: "smtp.example", From: "a@example.com", To: []string{"b@example.com"}}},
		{Name: "x", Kind: alerts.KindSMTP, SMTP: &alerts.SMTP{Addr: "smtp.example:587", From: "not an address", To: []string{"b@example.com"}}},
		{Name: "x", Kind: alerts.KindSMTP, SMTP: &alerts.SMTP{Addr: "smtp.example:587", From: "a@example.com"}},
		{Name: "x", Kind: alerts.KindSMTP, SMTP: &alerts.SMTP{Addr: "smtp.example:587", From: "a@example.com", To: []string{"b@example.com\r\nBcc: e@example.com"}}},
		{Name: "x", Kind: alerts.KindSMTP, SMTP: &alerts.SMTP{Addr: "smtp.example:587", From: "a@example.com", To: []string{"b@example.com"}, User: "u"}},
		{Name: "x", Kind: alerts.KindSMTP, SMTP: &alerts.SMTP{Addr: "smtp.example:587", From: "a@example.com", To: []string{"b@example.com"}, PasswordEnv: "P"}},
		{Name: "x", Kind: "pager", Webhook: "https://x.example/"},
	} {
		if err := alerts.AddTarget(lk, bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	list, err := alerts.Status(lk)
	if err != nil || len(list) != 3 {
		t.Fatalf("status %v %v", list, err)
	}
	want := map[string]string{"chat": "https://hooks.slack.com/…", "mail": "smtp://smtp.example:587 a@example.com → b@example.com, c@example.com", "ops": "https://hooks.example/…"}
	for _, s := range list {
		if s.Destination != want[s.Name] || s.Queued != 0 || s.LastSuccess != nil {
			t.Errorf("%s: %+v", s.Name, s)
		}
	}
	if err := alerts.RemoveTarget(lk, "chat"); err != nil {
		t.Fatal(err)
	}
	if err := alerts.RemoveTarget(lk, "chat"); !errors.Is(err, alerts.ErrTargetNotFound) {
		t.Errorf("remove twice: %v", err)
	}
}
