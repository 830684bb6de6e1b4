package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/rules"
)

const alertTargetAddUsage = `Usage: auditlake alert-target add NAME --webhook URL --secret S
       auditlake alert-target add NAME --slack-webhook URL
       auditlake alert-target add NAME --smtp HOST:PORT --from ADDR --to ADDR [--to ADDR…]
                                       [--smtp-user U (--smtp-password-env VAR | --smtp-password-file FILE)]

New alerts (one per rule, key and window: see auditlake rule group) are sent to every target:

  --webhook        a POST of JSON {"alerts":[{id, rule, title, severity, store, event_time, event_ids,
                   principal, account, region, summary, status, alerted_at, resource, group, count}]},
                   with X-Auditlake-Timestamp (Unix seconds) and X-Auditlake-Signature: sha256=HEX, the
                   HMAC-SHA256 under S of "TIMESTAMP.BODY" (a secret of fewer than 16 characters is
                   accepted with a warning: it is easy to guess).
  --slack-webhook  a Slack incoming webhook: {"text": …, "blocks": […]} summarising each alert.
  --smtp           a plain-text mail from --from to each --to, with STARTTLS when the server offers it.
                   The password is never given on the command line nor stored: --smtp-password-env
                   names an environment variable, --smtp-password-file a file, read at each delivery
                   (so the variable must be set for the process that delivers: ingest, collect, serve).

Delivery runs beside ingest and never holds up a commit. A failure (a refused connection, HTTP 429 or
5xx, an SMTP 4xx reply) is retried with backoff (30 s doubling up to 1 h, with jitter) for 24 h from a
queue in the data directory that survives a restart; another HTTP 4xx or an SMTP 5xx reply is final.
auditlake alert-target list shows each target's health.`

// stringsFlag is a flag that may be given several times.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

func runAlertTargetAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "alert-target add")
	webhook := fs.String("webhook", "", "URL the signed alerts are POSTed to")
	secret := fs.String("secret", "", "HMAC-SHA256 key of the webhook's signature header (16 characters or more; a shorter one is accepted with a warning)")
	slack := fs.String("slack-webhook", "", "a Slack incoming-webhook URL")
	smtpAddr := fs.String("smtp", "", "SMTP server HOST:PORT")
	from := fs.String("from", "", "SMTP: the sender address")
	var to stringsFlag
	fs.Var(&to, "to", "SMTP: a recipient address (repeat for several)")
	user := fs.String("smtp-user", "", "SMTP: the user to authenticate as")
	pwEnv := fs.String("smtp-password-env", "", "SMTP: the environment variable holding the password")
	pwFile := fs.String("smtp-password-file", "", "SMTP: a file holding the password")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name the target: auditlake alert-target add NAME --webhook URL --secret S | --slack-webhook URL | --smtp HOST:PORT --from A --to B")
	}
	n := 0
	for _, v := range []string{*webhook, *slack, *smtpAddr} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return usagef("give exactly one of --webhook URL, --slack-webhook URL or --smtp HOST:PORT")
	}
	t := alerts.Target{Name: pos[0]}
	smtpOnly := *from != "" || len(to) > 0 || *user != "" || *pwEnv != "" || *pwFile != ""
	switch {
	case *webhook != "":
		if *secret == "" {
			return usagef("--webhook needs --secret S (it signs every alert)")
		}
		t.Kind, t.Webhook, t.Secret = alerts.KindWebhook, *webhook, *secret
	case *slack != "":
		if *secret != "" {
			return usagef("--secret is for --webhook: a Slack webhook's URL is its secret")
		}
		t.Kind, t.Webhook = alerts.KindSlack, *slack
	default:
		if *secret != "" {
			return usagef("--secret is for --webhook")
		}
		if *from == "" || len(to) == 0 {
			return usagef("--smtp needs --from ADDR and at least one --to ADDR")
		}
		c := &alerts.SMTP{Addr: *smtpAddr, From: *from, To: to, User: *user, PasswordEnv: *pwEnv, PasswordFile: *pwFile}
		if c.PasswordFile != "" {
			if c.PasswordFile, err = filepath.Abs(c.PasswordFile); err != nil {
				return usagef("--smtp-password-file: %v", err)
			}
		}
		t.Kind, t.SMTP = alerts.KindSMTP, c
	}
	if t.Kind != alerts.KindSMTP && smtpOnly {
		return usagef("--from, --to and --smtp-user/--smtp-password-* are for --smtp")
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	if err := alerts.AddTarget(lk, t); err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(env.Stdout, "added alert target %s (%s, %s)\n", t.Name, t.KindOf(), t.Destination())
	if t.Kind == alerts.KindWebhook && utf8.RuneCountInString(t.Secret) < alerts.WeakSecret {
		fmt.Fprintf(env.Stderr, "warning: the secret of %s has fewer than %d characters: anyone who guesses it can sign alerts its receiver trusts\n", t.Name, alerts.WeakSecret)
	}
	return nil
}

func runAlertTargetList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "alert-target list")
	format := formatFlag(fs, "table", "json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	list, err := alerts.Status(lk)
	if err != nil {
		return err
	}
	if *format == "json" {
		return writeJSON(env.Stdout, list)
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tDESTINATION\tLAST SUCCESS\tFAILURES\tQUEUED\tLAST ERROR")
	for _, s := range list {
		lastErr := "-"
		if s.LastError != "" {
			lastErr = when(s.LastErrorAt) + " " + strings.ReplaceAll(s.LastError, "\n", " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", s.Name, s.Kind, s.Destination, when(s.LastSuccess), s.ConsecutiveFailures, s.Queued, lastErr)
	}
	return tw.Flush()
}

func runAlertTargetRemove(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "alert-target remove")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name one alert target")
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	if err := alerts.RemoveTarget(lk, pos[0]); err != nil {
		if errors.Is(err, alerts.ErrTargetNotFound) {
			return &HintError{Err: &NotFoundError{Msg: err.Error()}, Hint: "list targets with: auditlake alert-target list"}
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "removed alert target %s\n", pos[0])
	return nil
}

// runAlertStatus is alert ack and alert close.
func runAlertStatus(status string) func(ctx context.Context, env *Env, args []string) error {
	return func(ctx context.Context, env *Env, args []string) error {
		fs := newFlags(env, "alert")
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("name one alert by its id (auditlake alerts shows them)")
		}
		lk, err := openLake(env)
		if err != nil {
			return err
		}
		before, err := alerts.SetStatus(ctx, lk, pos[0], status, "operator", time.Now())
		switch {
		case errors.Is(err, alerts.ErrAlertNotFound):
			return &HintError{Err: &NotFoundError{Msg: err.Error()}, Hint: "list alerts with: auditlake alerts"}
		case errors.Is(err, alerts.ErrTransition):
			// The command line was right; the alert's status does not allow the change:
			// nothing was done (exit 1), and the command's synopsis would not help.
			return &HintError{Err: err, Hint: "an alert goes open → acknowledged → closed and stays closed; see it with: auditlake alerts --format json"}
		case err != nil:
			return err
		}
		fmt.Fprintf(env.Stdout, "alert %s: %s → %s\n", pos[0], before, status)
		return nil
	}
}

const ruleGroupUsage = `Usage: auditlake rule group ID|TITLE [--by principal|account|region|resource|event] [--window D]

A rule's matches are counted in one alert per key and window (by the events' time, windows aligned on UTC):
the first match of a group is notified, later ones raise the alert's count. --by defaults to principal
(instance is resource; event: one alert per event), --window to 1h (1m to 7d: 30m, 1h, 1d).`

func runRuleGroup(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "rule group")
	by := fs.String("by", "", "the key: principal (default), account, region, resource (instance) or event")
	window := fs.String("window", "", "the window: a duration from 1m to 7d (default 1h)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name one rule (its id, or its title)")
	}
	if err := alerts.CheckGrouping(*by, *window); err != nil {
		return usagef("%v", strings.TrimPrefix(err.Error(), "rule : "))
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	if _, err := lookupRule(lk, pos[0]); err != nil {
		return err
	}
	r, err := rules.SetGrouping(lk, pos[0], *by, *window)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "rule %s: one alert per %s per %s\n", r.ID, orDefault(r.GroupBy, alerts.DefaultGroupBy), orDefault(r.Window, "1h"))
	return nil
}

var (
	runAlertAck   = runAlertStatus(alerts.StatusAcknowledged)
	runAlertClose = runAlertStatus(alerts.StatusClosed)
)

// alertTargetsAPI answers serve's GET /api/alert-targets: alerts.Status, and the alerts
// store's id for the server's check of who may see it.
func alertTargetsAPI(lk *lake.Lake) func(ctx context.Context) (any, string, error) {
	return func(ctx context.Context) (any, string, error) {
		list, err := alerts.Status(lk)
		if err != nil {
			return nil, "", err
		}
		var id string
		if st, err := lk.Resolve(alerts.StoreName); err == nil {
			id = st.ID
		}
		return list, id, nil
	}
}
