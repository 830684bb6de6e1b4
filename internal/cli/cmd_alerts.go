package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
)

// watchAlerts starts evaluating the enabled rules over what an ingest into st commits
// (package alerts), delivering new alerts to the webhook targets; nil when no rule is enabled.
// finish waits for the evaluation and prints what it found.
func watchAlerts(ctx context.Context, env *Env, lk *lake.Lake, st lake.Store) (w *alerts.Watcher, finish func()) {
	all, err := rules.List(lk)
	if err != nil || st.Type != lake.TypeCloudTrail || st.Name == alerts.StoreName || st.Builtin() {
		return nil, func() {}
	}
	enabled := 0
	for _, r := range all {
		if r.Enabled {
			enabled++
		}
	}
	if enabled == 0 {
		return nil, func() {}
	}
	var sendErrs []error
	deliver := func(new []alerts.Alert) {
		// Read at each delivery: collect and serve run for days, and targets come and go.
		targets, err := alerts.Targets(lk)
		if err != nil {
			sendErrs = append(sendErrs, err)
		}
		for _, t := range targets {
			if err := (alerts.Delivery{}).Send(ctx, t, new); err != nil {
				sendErrs = append(sendErrs, err)
			}
		}
	}
	w, err = alerts.Watch(ctx, lk, st, deliver)
	if err != nil {
		fmt.Fprintf(env.Stderr, "alerts: cannot watch %s: %v\n", st.Name, err)
		return nil, func() {}
	}
	return w, func() {
		res, err := w.Close()
		if res.Files > 0 {
			fmt.Fprintf(env.Stderr, "alerts: %s new (%s already stored) from %s over %s, evaluated in %s\n",
				strconv.Itoa(len(res.New)), strconv.Itoa(res.Known), plural(res.Rules, "rule", "rules"),
				plural(res.Files, "new file", "new files"), res.Evaluated.Round(time.Millisecond))
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "alerts: evaluation failed: %v; the events stay pending and the next ingest evaluates them\n", err)
		}
		for _, e := range sendErrs {
			fmt.Fprintf(env.Stderr, "alerts: delivery failed: %v (the alert is stored: auditlake alerts)\n", e)
		}
	}
}

const alertTargetAddUsage = `Usage: auditlake alert-target add NAME --webhook URL --secret S

Every new alert is POSTed to URL as JSON {"alerts":[{id, rule, title, severity, store, event_time,
event_ids, principal, account, region, summary, status, alerted_at}]}, with the headers
X-Auditlake-Timestamp (Unix seconds) and X-Auditlake-Signature: sha256=HEX, the HMAC-SHA256 under S of
"TIMESTAMP.BODY". A refused connection, 429 or 5xx is retried with backoff (1 s, doubling, for up to a
minute); delivery runs beside ingest and never holds up a commit.`

func runAlertTargetAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "alert-target add")
	webhook := fs.String("webhook", "", "URL the alerts are POSTed to (required)")
	secret := fs.String("secret", "", "HMAC-SHA256 key of the signature header, at least 16 characters (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *webhook == "" || *secret == "" {
		return usagef("name the target and give --webhook URL and --secret S")
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	if err := alerts.AddTarget(lk, alerts.Target{Name: pos[0], Webhook: *webhook, Secret: *secret}); err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(env.Stdout, "added alert target %s\n", pos[0])
	return nil
}

const alertsUsage = `Usage: auditlake alerts [--since D|T] [--rule ID] [--status open] [--format table|csv|json]

The alerts found as events were committed (kept in the store auditlake-alerts), newest first. --since takes
a duration (30m, 12h, 7d) or a date/time.`

func runAlerts(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "alerts")
	since := fs.String("since", "", "only alerts of events since: a duration (1d, 12h) or a date/time")
	rule := fs.String("rule", "", "only this rule's alerts")
	status := fs.String("status", "", "only alerts with this status (open)")
	format := formatFlag(fs, "table", "csv", "json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	var from time.Time
	if *since != "" {
		d, err := parseSince(*since)
		if err != nil {
			return err
		}
		from = d
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	st, err := lk.Resolve(alerts.StoreName)
	if err != nil {
		fmt.Fprintln(env.Stderr, "no alerts yet: rules are evaluated as ingest commits events (auditlake rule add)")
		return nil
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	sql := `SELECT eventtime AS event_time, requestparameters['rule'] AS rule, requestparameters['severity'] AS severity,
		requestparameters['store'] AS store, useridentity.arn AS principal, requestparameters['account'] AS account, awsregion AS region,
		requestparameters['summary'] AS summary, requestparameters['status'] AS status, requestparameters['eventIds'] AS event_ids, eventid AS alert_id
		FROM ` + s.StoreRange(st.ID, from, time.Time{}) + ` AS a
		WHERE eventsource = ? AND (? = '' OR requestparameters['rule'] = ?) AND (? = '' OR requestparameters['status'] = ?)
		ORDER BY eventtime DESC, alert_id`
	res, err := s.RunInternal(ctx, sql, alerts.EventSource, *rule, *rule, *status, *status)
	if err != nil {
		return err
	}
	return WriteResult(env.Stdout, *format, res, false)
}

// parseSince reads --since: a duration back from now (30m, 12h, 7d) or a date/time.
func parseSince(v string) (time.Time, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return time.Now().UTC().AddDate(0, 0, -days), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return time.Now().UTC().Add(-d), nil
	}
	t, err := parseTimeFlag("since", v)
	if err != nil {
		return t, usagef("--since %q is not a duration (30m, 12h, 7d) or a date/time", v)
	}
	return t, nil
}
