package alerts

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"
)

// SMTP is where an smtp target sends its mail. The password is never stored: it is read, at
// each delivery, from the environment variable PasswordEnv or the file PasswordFile.
type SMTP struct {
	Addr         string   `json:"addr"` // host:port
	From         string   `json:"from"`
	To           []string `json:"to"`
	User         string   `json:"user,omitempty"`
	PasswordEnv  string   `json:"password_env,omitempty"`
	PasswordFile string   `json:"password_file,omitempty"`
}

func (c *SMTP) check() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid SMTP server %q: want host:port (e.g. smtp.example:587)", c.Addr)
	}
	if _, err := mail.ParseAddress(c.From); err != nil || strings.ContainsAny(c.From, "\r\n") {
		return fmt.Errorf("invalid sender address %q", c.From)
	}
	if len(c.To) == 0 {
		return fmt.Errorf("an smtp target needs at least one recipient (--to)")
	}
	for _, to := range c.To {
		if _, err := mail.ParseAddress(to); err != nil || strings.ContainsAny(to, "\r\n") {
			return fmt.Errorf("invalid recipient address %q", to)
		}
	}
	switch {
	case c.User == "" && (c.PasswordEnv != "" || c.PasswordFile != ""):
		return fmt.Errorf("an SMTP password needs the user it authenticates (--smtp-user)")
	case c.User != "" && (c.PasswordEnv == "") == (c.PasswordFile == ""):
		return fmt.Errorf("SMTP user %q: give its password as exactly one of an environment variable (--smtp-password-env) or a file (--smtp-password-file)", c.User)
	}
	return nil
}

// password reads the SMTP password where the target says.
func (d Delivery) password(c *SMTP) (string, error) {
	if c.PasswordEnv != "" {
		getenv := d.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		pw := getenv(c.PasswordEnv)
		if pw == "" {
			return "", fmt.Errorf("the SMTP password's environment variable %s is not set", c.PasswordEnv)
		}
		return pw, nil
	}
	b, err := os.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("the SMTP password file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// sendMail mails alerts to the target's recipients: STARTTLS when the server offers it,
// then AUTH PLAIN when a user is set (net/smtp refuses it over a connection left in clear to
// another host than the local one). A 5xx reply is final; anything else is retried.
func (d Delivery) sendMail(ctx context.Context, t Target, alerts []Alert) error {
	c := t.SMTP
	if c == nil {
		return finalError{errors.New("no SMTP settings")}
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return finalError{err}
	}
	conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	// The conversation ends with ctx too (an ingest ending: Deliverer.CloseWithin), not only
	// at its own deadline.
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })()
	cl, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return smtpError(err)
	}
	defer cl.Close()
	if ok, _ := cl.Extension("STARTTLS"); ok {
		cfg := &tls.Config{}
		if d.TLS != nil {
			cfg = d.TLS.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		if err := cl.StartTLS(cfg); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if c.User != "" {
		pw, err := d.password(c)
		if err != nil {
			return err
		}
		if err := cl.Auth(smtp.PlainAuth("", c.User, pw, host)); err != nil {
			return smtpError(fmt.Errorf("AUTH: %w", err))
		}
	}
	if err := cl.Mail(address(c.From)); err != nil {
		return smtpError(fmt.Errorf("MAIL FROM: %w", err))
	}
	for _, to := range c.To {
		if err := cl.Rcpt(address(to)); err != nil {
			return smtpError(fmt.Errorf("RCPT TO %s: %w", address(to), err))
		}
	}
	w, err := cl.Data()
	if err != nil {
		return smtpError(fmt.Errorf("DATA: %w", err))
	}
	if _, err := w.Write(message(t, alerts, time.Now())); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return smtpError(fmt.Errorf("DATA: %w", err))
	}
	return cl.Quit()
}

// smtpError makes a permanent (5xx) reply final.
func smtpError(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return finalError{err}
	}
	return err
}

func address(s string) string {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return s
	}
	return a.Address
}

// oneLine is s with its control characters (a line break among them) as spaces: an alert's
// values come from events and SQL rules' rows, and a value with a line break would add a line
// of its own making to the mail ("Severity: low" under a high alert's fields).
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// message is the mail of alerts: the headers, then each alert's summary line and fields as
// quoted-printable UTF-8 text, each value on its one line (oneLine). Alert values never reach a
// header but the Subject, and there only with control characters removed and RFC 2047-encoded.
func message(t Target, alerts []Alert, now time.Time) []byte {
	var subject string
	switch len(alerts) {
	case 0:
		subject = "no alerts"
	case 1:
		subject = summaryLine(alerts[0])
	default:
		subject = fmt.Sprintf("%d alerts: %s", len(alerts), summaryLine(alerts[0]))
	}
	subject = oneLine("auditlake: " + subject)
	subject = clip(subject, 200)
	var id string
	if len(alerts) > 0 {
		id = alerts[0].ID
	}
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", t.SMTP.From)
	h("To", strings.Join(t.SMTP.To, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Date", now.UTC().Format(time.RFC1123Z))
	h("Message-ID", "<"+strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '<' || r == '>' || r == '@' {
			return -1
		}
		return r
	}, id+"."+t.Name)+"@auditlake>")
	h("X-Auditlake-Alert", strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return -1
		}
		return r
	}, id))
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	for i, a := range alerts {
		if i > 0 {
			qp.Write([]byte("\r\n"))
		}
		fmt.Fprintf(qp, "%s\r\n\r\n", oneLine(summaryLine(a)))
		for _, f := range alertFields(a) {
			fmt.Fprintf(qp, "%-10s %s\r\n", f[0]+":", oneLine(f[1]))
		}
	}
	qp.Close()
	return b.Bytes()
}
