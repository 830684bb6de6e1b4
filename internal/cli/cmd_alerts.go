package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/auditlog"
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
	// New alerts' notifications are queued by the evaluation (before the alerts' commit);
	// the deliverer sends them beside the ingest, and what fails stays queued for the next
	// run (retried with backoff for 24 h).
	dl := alerts.StartDelivery(ctx, lk, alerts.Delivery{})
	w, err = alerts.Watch(ctx, lk, st, func([]alerts.Alert) { dl.Kick() })
	if err != nil {
		dl.Close()
		fmt.Fprintf(env.Stderr, "alerts: cannot watch %s: %v\n", st.Name, err)
		return nil, func() {}
	}
	return w, func() {
		res, err := w.Close()
		if res.Files > 0 {
			checked := ""
			if res.Known > 0 {
				checked = "; " + plural(res.Known, "file", "files") + " that replaced evaluated ones checked against the stored alerts"
			}
			fmt.Fprintf(env.Stderr, "alerts: %s new (%s%s) from %s over %s, evaluated in %s\n",
				strconv.Itoa(res.Alerts), plural(res.Matched, "event matched", "events matched"), checked, plural(res.Rules, "rule", "rules"),
				plural(res.Files, "new file", "new files"), res.Evaluated.Round(time.Millisecond))
		}
		for _, id := range slices.Sorted(maps.Keys(res.Failed)) {
			fmt.Fprintf(env.Stderr, "alerts: rule %s failed: %s; the other rules' alerts are stored, its own matches in these events are not (auditlake rule show %s; auditlake hunt --eds %s --rules %s to look again)\n", id, rules.Reason(id, res.Failed[id]), id, st.Name, id)
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "alerts: evaluation failed: %v; the events stay pending and the next ingest evaluates them\n", err)
		}
		if res.NotifyErr != nil {
			fmt.Fprintf(env.Stderr, "%v\n", res.NotifyErr)
		}
		// The deliveries under way and one more pass for what the last evaluation queued (one
		// attempt each) have exitDeliveryGrace in all: a target that never answers does not hold
		// the ingest up (what it was sent stays queued, for the next ingest, collect or serve).
		deadline := time.Now().Add(exitDeliveryGrace)
		sendErrs := timedOut(dl.CloseWithin(exitDeliveryGrace), false, exitDeliveryGrace)
		// An interrupted ingest makes no last pass: what the last evaluation queued stays
		// queued for the next run.
		if left := time.Until(deadline); left > 0 && ctx.Err() == nil {
			dctx, cancel := context.WithTimeout(ctx, left)
			last, qerr := alerts.DeliverDue(dctx, lk, alerts.Delivery{})
			cancel()
			errs := last.Errors
			if qerr != nil {
				errs = append(errs, qerr)
			}
			sendErrs = append(sendErrs, timedOut(errs, ctx.Err() != nil, exitDeliveryGrace)...)
		}
		for _, e := range sendErrs {
			next := "queued for retry; "
			if errors.Is(e, alerts.ErrDropped) {
				next = "" // the error says it is dropped
			}
			fmt.Fprintf(env.Stderr, "alerts: delivery failed: %v (%sthe alert is stored: auditlake alerts, auditlake alert-target list)\n", e, next)
		}
	}
}

// timedOut says why each delivery of errs ended by a deadline (context.Canceled or
// DeadlineExceeded) was: no answer within grace, or (interrupted) the ingest was interrupted
// (its context ends the last pass too). The other errors are left as they are.
func timedOut(errs []error, interrupted bool, grace time.Duration) []error {
	for i, e := range errs {
		switch {
		case !errors.Is(e, context.Canceled) && !errors.Is(e, context.DeadlineExceeded):
		case interrupted:
			errs[i] = fmt.Errorf("%w (the ingest was interrupted)", e)
		default:
			errs[i] = fmt.Errorf("%w (no answer within %s of the last commit)", e, grace)
		}
	}
	return errs
}

// exitDeliveryGrace is how long an ingest waits at its end for the alerts' deliveries (a var
// for tests).
var exitDeliveryGrace = 5 * time.Second

const alertsUsage = `Usage: auditlake alerts [--since D|T] [--rule ID] [--status open|acknowledged|closed] [--format table|csv|json] [--csv-safe]

The alerts found as events were committed (kept in the store auditlake-alerts), newest first: one row per
alert, that is per rule, key (the principal unless the rule groups otherwise) and window, with the number of
events it stands for (events) and its status (auditlake alert ack|close ID). --since takes a duration
(30m, 12h, 7d) or a date/time: only the alerts raised since then (whatever the time of their events: a
backfill of last year's trail raises alerts today) or whose events are since then are shown. An alert's
principal, resource and summary come from the events (attacker-controlled text): open its CSV in a
spreadsheet with --csv-safe.`

func runAlerts(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "alerts")
	since := fs.String("since", "", "only alerts raised (or of events) since: a duration (1d, 12h) or a date/time")
	rule := fs.String("rule", "", "only this rule's alerts (its id, or its title)")
	status := fs.String("status", "", "only alerts with this status: open, acknowledged or closed")
	format := formatFlag(fs, "table", "csv", "json")
	csvSafe := fs.Bool("csv-safe", false, csvSafeHelp)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	switch *status {
	case "", alerts.StatusOpen, alerts.StatusAcknowledged, alerts.StatusClosed:
	default:
		return usagef("--status %q: want open, acknowledged or closed", *status)
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
	if *rule != "" {
		// A rule's title names it, as for rule show and hunt; an id no rule has (a removed
		// rule's) still filters its alerts.
		r, err := rules.Get(lk, *rule)
		switch {
		case err == nil:
			*rule = r.ID
		case !errors.Is(err, rules.ErrNotFound):
			return err
		}
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	sql, sqlArgs := alerts.ListSQL(s, st, alerts.Filter{From: from, Rule: *rule, Status: *status})
	res, err := s.RunInternal(ctx, sql, sqlArgs...)
	var rows int64
	if res != nil {
		rows = int64(len(res.Rows))
	}
	// Recorded as GET /api/alerts records it; never a result that is not recorded.
	e := auditlog.Entry{SQL: "-- auditlake alerts\n" + sql, Tables: []string{query.Schema + "." + st.ID}, Rows: rows}
	if err := cmp.Or(auditRead(ctx, env, e, start, err), err); err != nil {
		return err
	}
	return WriteResult(env.Stdout, *format, res, *csvSafe)
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
