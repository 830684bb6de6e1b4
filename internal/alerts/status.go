package alerts

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// Alert status: open → acknowledged → closed (open → closed too). A change is a later record
// in the alerts store (eventName AlertStatus, the alert's event time, so that a listing of a
// time range and retention treat it with its alert), never a rewrite of the alert's record;
// the listing folds the newest change into each alert's status.
const (
	StatusOpen         = "open"
	StatusAcknowledged = "acknowledged"
	StatusClosed       = "closed"
)

// ErrAlertNotFound is returned for an alert id the alerts store does not hold.
var ErrAlertNotFound = errors.New("no such alert")

// ErrTransition is returned for a status change the alert's status does not allow.
var ErrTransition = errors.New("status change not allowed")

// groupSQL folds the alerts store's records (relation rel) into one row per alert (group):
// its first event's time, rule, title, severity, store, key fields, the number of events (each
// record stands for requestParameters.events of them, 1 in records written before), their ids
// and the newest status. A record's group is its sharedEventID (requestParameters.group in
// records written before). An alert whose match named no region (an aggregate SQL rule's row)
// lists region "", not the record's placeholder noRegion.
func groupSQL(rel string) string {
	return `WITH recs AS (SELECT * FROM ` + rel + ` AS r WHERE eventsource = $src),
m AS (SELECT coalesce(sharedeventid, requestparameters['group'], eventid) AS id, * FROM recs WHERE eventname = 'Alert'),
g AS (SELECT id, min(eventtime) AS event_time, max(eventtime) AS last_event_time,
		CAST(sum(coalesce(TRY_CAST(requestparameters['events'] AS BIGINT), 1)) AS BIGINT) AS events,
		arg_min(requestparameters['rule'], eventtime) AS rule, arg_min(requestparameters['title'], eventtime) AS title,
		arg_min(requestparameters['severity'], eventtime) AS severity, arg_min(requestparameters['store'], eventtime) AS store,
		arg_min(useridentity.arn, eventtime) AS principal, arg_min(requestparameters['account'], eventtime) AS account,
		coalesce(nullif(arg_min(awsregion, eventtime), '` + noRegion + `'), '') AS region, arg_min(requestparameters['resource'], eventtime) AS resource,
		arg_min(requestparameters['summary'], eventtime) AS summary, min(requestparameters['alertedAt']) AS alerted_at,
		flatten(list(coalesce(json_extract_string(requestparameters['eventIds'], '$[*]'), [eventid]) ORDER BY eventtime, eventid)) AS alert_event_ids
	FROM m GROUP BY id),
s AS (SELECT requestparameters['group'] AS id, arg_max(requestparameters['status'], requestparameters['changedAt']) AS status,
		max(requestparameters['changedAt']) AS status_changed_at
	FROM recs WHERE eventname = 'AlertStatus' GROUP BY 1),
d AS (SELECT requestparameters['group'] AS id, string_agg(DISTINCT requestparameters['target'], ', ' ORDER BY requestparameters['target']) AS sent_to
	FROM recs WHERE eventname = 'AlertDelivered' GROUP BY 1)
SELECT g.*, coalesce(s.status, 'open') AS status, s.status_changed_at, coalesce(d.sent_to, '') AS sent_to
FROM g LEFT JOIN s USING (id) LEFT JOIN d USING (id)`
}

// Filter selects alerts for ListSQL.
type Filter struct {
	// From selects the alerts raised at or after it — found by an evaluation or a hunt since
	// then, whatever the time of their events (a backfill of last year's trail raises alerts
	// today) — and those whose first event is at or after it (an alert is raised after its
	// event, unless the event's clock is ahead; a record of an old layout has no alertedAt).
	// Zero: all.
	From         time.Time
	Rule, Status string // "" for any
}

// since is the condition of f.From over groupSQL's columns, or "TRUE". The alerts store is
// partitioned by event time, which bounds nothing here: its records are one per group, few
// beside the events they stand for, and read whole.
func (f Filter) since() string {
	if f.From.IsZero() {
		return "TRUE"
	}
	t := engine.TimestampLiteral(f.From)
	// alertedAt is RFC 3339 in UTC (alertSpec); TRY_CAST reads it to the microsecond.
	return "(event_time >= " + t + " OR TRY_CAST(alerted_at AS TIMESTAMP) >= " + t + ")"
}

// ListSQL returns the internal SQL (and its arguments) of the alerts of store alertStore that
// f selects, one row per alert (group), newest first: event_time, rule, severity, events (the
// count), principal, account, region, resource, summary, status, sent_to (the targets it was
// delivered to), store, alert_id.
func ListSQL(s *query.Session, alertStore lake.Store, f Filter) (string, []any) {
	sql := `SELECT event_time, rule, severity, events, principal, account, region, resource, summary, status, sent_to, store, id AS alert_id
` + f.from(s, alertStore) + ` ORDER BY event_time DESC, alert_id`
	return sql, []any{EventSource, f.Rule, f.Rule, f.Status, f.Status}
}

// from is the FROM and WHERE of the alerts of alertStore that f selects, one row per alert
// (groupSQL's columns), with four arguments after EventSource: f.Rule twice, f.Status twice.
func (f Filter) from(s *query.Session, alertStore lake.Store) string {
	sql := strings.ReplaceAll(groupSQL(s.StoreRange(alertStore.ID, time.Time{}, time.Time{})), "$src", "?")
	return `FROM (` + sql + `) AS a WHERE (? = '' OR rule = ?) AND (? = '' OR status = ?) AND ` + f.since()
}

// DetailSQL is ListSQL with every field of an alert, for the JSON API, at most limit rows:
// alert_id, event_time, rule, title, severity, store, principal, account, region, resource,
// summary, events, status, alert_event_ids, alerted_at, sent_to.
func DetailSQL(s *query.Session, alertStore lake.Store, f Filter, limit int) (string, []any) {
	sql := `SELECT id AS alert_id, event_time, rule, title, severity, store, principal, account, region, resource, summary,
	CAST(events AS BIGINT), status, alert_event_ids, alerted_at, sent_to
` + f.from(s, alertStore) + ` ORDER BY event_time DESC, alert_id LIMIT ?`
	return sql, []any{EventSource, f.Rule, f.Rule, f.Status, f.Status, limit}
}

// SetStatus changes alert id's status to status (acknowledged or closed), recording who did it;
// it returns the alert's status before.
func SetStatus(ctx context.Context, lk *lake.Lake, id, status, by string, now time.Time) (string, error) {
	if status != StatusAcknowledged && status != StatusClosed {
		return "", fmt.Errorf("unknown alert status %q: want acknowledged or closed", status)
	}
	st, err := lk.Resolve(StoreName)
	if errors.Is(err, lake.ErrNotFound) {
		return "", fmt.Errorf("alert %q: %w", id, ErrAlertNotFound)
	}
	if err != nil {
		return "", err
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		return "", err
	}
	defer s.Close()
	sql := strings.ReplaceAll(groupSQL(s.StoreRange(st.ID, time.Time{}, time.Time{})), "$src", "?")
	res, err := s.RunInternal(ctx, `SELECT event_time, status, rule FROM (`+sql+`) AS a WHERE id = ?`, EventSource, id)
	if err != nil {
		return "", err
	}
	if len(res.Rows) == 0 {
		return "", fmt.Errorf("alert %q: %w", id, ErrAlertNotFound)
	}
	eventTime, ok := res.Rows[0][0].(time.Time)
	if !ok {
		return "", fmt.Errorf("alert %q: unreadable event time %v", id, res.Rows[0][0])
	}
	before := fmt.Sprint(res.Rows[0][1])
	switch {
	case before == StatusClosed:
		return before, fmt.Errorf("alert %s is closed: %w", id, ErrTransition)
	case before == status:
		return before, fmt.Errorf("alert %s is %s already: %w", id, status, ErrTransition)
	}
	now = now.UTC().Truncate(time.Millisecond)
	rec := statusSpec(id, fmt.Sprint(res.Rows[0][2]), status, before, by, now, eventTime)
	_, _, err = commitRecords(ctx, lk, st, buildRecords([]recordSpec{rec}), nil, nil)
	return before, err
}

// statusSpec is the record of alert group's change to status from before by by at now (UTC,
// milliseconds), dated with the alert (eventTime).
func statusSpec(group, rule, status, before, by string, now, eventTime time.Time) recordSpec {
	h := sha256.Sum256([]byte("status\x00" + group + "\x00" + status + "\x00" + now.Format(time.RFC3339Nano)))
	return recordSpec{
		identityType: "AuditlakeDetection", principalID: by, arn: by, accountID: account,
		eventTime: eventTime.UTC(), eventName: "AlertStatus", region: "local", eventID: uuidOf(h[:16]),
		params: []param{
			strParam("group", group), strParam("rule", rule), strParam("status", status),
			strParam("previousStatus", before), strParam("changedAt", now.Format("2006-01-02T15:04:05.000Z07:00")), strParam("changedBy", by),
		},
	}
}
