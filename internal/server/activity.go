package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The activity dashboard is a fixed set of widgets in the manner of CloudTrail Lake's managed
// dashboards. Each widget is one SELECT over the store's table in the Lake schema, run through
// Backend.Query like any user query. Backend.Query takes no parameters, so the only values put
// into the SQL text are ones the server produced itself: the store id, taken from
// Backend.Stores and quoted as an identifier, and time bounds formatted from parsed time.Time
// values. Nothing from the query string reaches the SQL as text.

// widgetSpec is one widget: its SQL template has {table} for the quoted table name and {where}
// for the time filter.
type widgetSpec struct {
	ID, Title, Kind string // Kind: "kpi", "timeseries", "bar", "signins"
	SQL             string
}

// hasError is true for a failed call. Lake stores have no errorcode for success (NULL); an empty
// string is treated the same in case an engine writes one.
const hasError = `(errorcode IS NOT NULL AND errorcode <> '')`

func activityWidgets(bucket string) []widgetSpec {
	top := func(id, title, expr, alias, extra string) widgetSpec {
		return widgetSpec{ID: id, Title: title, Kind: "bar", SQL: `SELECT ` + expr + ` AS ` + alias + `, count(*) AS events
FROM {table}
WHERE {where}` + extra + `
GROUP BY 1
ORDER BY events DESC, ` + alias + `
LIMIT 10`}
	}
	return []widgetSpec{
		{ID: "summary", Title: "Summary", Kind: "kpi", SQL: `SELECT count(*) AS events,
  sum(CASE WHEN ` + hasError + ` THEN 1 ELSE 0 END) AS errors,
  count(DISTINCT useridentity.arn) AS principals,
  count(DISTINCT eventsource) AS services,
  count(DISTINCT awsregion) AS regions,
  count(DISTINCT recipientaccountid) AS accounts
FROM {table}
WHERE {where}`},
		{ID: "events_over_time", Title: "Events over time", Kind: "timeseries", SQL: `SELECT date_trunc('` + bucket + `', eventtime) AS time, count(*) AS events,
  sum(CASE WHEN ` + hasError + ` THEN 1 ELSE 0 END) AS errors
FROM {table}
WHERE {where}
GROUP BY 1
ORDER BY 1`},
		top("top_services", "Top services", "eventsource", "service", ""),
		top("top_events", "Top event names", "eventname", "event_name", ""),
		top("top_users", "Top users", "coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid, useridentity.type)", "principal", ""),
		top("top_errors", "Top error codes", "errorcode", "error_code", "\n  AND "+hasError),
		top("top_regions", "Top regions", "awsregion", "region", ""),
		top("top_source_ips", "Top source IP addresses", "sourceipaddress", "source_ip", ""),
		{ID: "console_signins", Title: "Console sign-ins", Kind: "signins", SQL: `SELECT
  CASE WHEN ` + hasError + ` OR responseelements['ConsoleLogin'] = 'Failure' THEN 'failure' ELSE 'success' END AS outcome,
  CASE WHEN additionaleventdata['MFAUsed'] = 'Yes' THEN 'mfa' ELSE 'no_mfa' END AS mfa,
  count(*) AS signins
FROM {table}
WHERE {where}
  AND eventname = 'ConsoleLogin'
GROUP BY 1, 2
ORDER BY 1, 2`},
	}
}

// timestampLiteral formats t as a SQL TIMESTAMP literal in UTC, the zone of eventtime. The
// result holds only digits and separators.
func timestampLiteral(t time.Time) string {
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05.000000") + "'"
}

// activitySQL fills a widget template.
func activitySQL(tmpl, table string, from, to time.Time) string {
	where := "eventtime >= " + timestampLiteral(from) + " AND eventtime < " + timestampLiteral(to)
	return strings.NewReplacer("{table}", table, "{where}", where).Replace(tmpl)
}

// bucketFor picks the time-series granularity for a range.
func bucketFor(from, to time.Time) string {
	switch d := to.Sub(from); {
	case d <= 3*24*time.Hour:
		return "hour"
	case d <= 120*24*time.Hour:
		return "day"
	default:
		return "week"
	}
}

type widget struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Kind      string   `json:"kind"`
	SQL       string   `json:"sql"`
	Columns   []Column `json:"columns"`
	Rows      [][]any  `json:"rows"`
	Truncated bool     `json:"truncated"`
	ElapsedMS float64  `json:"elapsed_ms"`
	Error     string   `json:"error,omitempty"`
}

type activityResponse struct {
	Store   Store     `json:"store"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Bucket  string    `json:"bucket"`
	Widgets []widget  `json:"widgets"`
}

// widgetMaxRows bounds every widget; the time series is the longest (a year of weeks, 120 days,
// or 72 hours).
const widgetMaxRows = 500

func (s *Server) activity(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	stores, err := s.backend.Stores(r.Context())
	if err != nil {
		return fmt.Errorf("list stores: %w", err)
	}
	id := strings.TrimSpace(q.Get("store"))
	var store *Store
	switch {
	case id == "" && len(stores) == 1:
		store = &stores[0]
	case id == "":
		return badRequest("store is required: pass ?store= with an event data store id (GET /api/stores lists them)")
	default:
		for i := range stores {
			if stores[i].ID == id || stores[i].Name == id {
				store = &stores[i]
				break
			}
		}
	}
	if store == nil {
		return &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("event data store %q not found", truncate(id, 80))}
	}
	fromP, err := parseTimeParam("from", q.Get("from"), false)
	if err != nil {
		return err
	}
	toP, err := parseTimeParam("to", q.Get("to"), true)
	if err != nil {
		return err
	}
	from, to := defaultRange(store, fromP, toP, time.Now().UTC())
	if !from.Before(to) {
		return badRequest("from must be before to")
	}
	bucket := bucketFor(from, to)
	table := store.Table

	ctx, cancel := context.WithTimeout(r.Context(), s.opts.DefaultTimeout)
	defer cancel()
	resp := activityResponse{Store: *store, From: from, To: to, Bucket: bucket}
	specs := activityWidgets(bucket)
	sqls := make([]string, len(specs))
	for i, spec := range specs {
		sqls[i] = activitySQL(spec.SQL, table, from, to)
	}
	// The page's widgets are admitted together and run in one session: a page runs whole or
	// is refused whole (a BusyError is 503 with Retry-After), never shown in part because some
	// widgets waited for admission longer than others.
	results, err := s.backend.QueryBatch(ctx, sqls, widgetMaxRows)
	switch {
	case err == nil:
	case r.Context().Err() != nil:
		return fmt.Errorf("activity page: %w", r.Context().Err())
	case ctx.Err() != nil:
		return &timeoutError{after: s.opts.DefaultTimeout}
	default:
		return err
	}
	if len(results) != len(specs) {
		return fmt.Errorf("activity page: the backend answered %d of %d widget queries", len(results), len(specs))
	}
	for i, spec := range specs {
		wd := widget{ID: spec.ID, Title: spec.Title, Kind: spec.Kind, SQL: sqls[i], Columns: []Column{}, Rows: [][]any{}}
		res, err := results[i].Result, results[i].Err
		var qe *QueryError
		var tl *ResultTooLargeError
		switch {
		case err == nil && res != nil:
			wd.Columns, wd.Rows, wd.Truncated = nonNilColumns(res.Columns), normalizeRows(res.Columns, res.Rows), res.Truncated
			wd.ElapsedMS = float64(res.Elapsed.Microseconds()) / 1000
		case errors.As(err, &qe):
			wd.Error = qe.Msg
		case errors.As(err, &tl):
			wd.Error = tl.Msg
		default:
			s.log.Error("activity widget failed", "widget", spec.ID, "store", store.ID, "err", err)
			wd.Error = "this widget failed; the server log has the details"
		}
		resp.Widgets = append(resp.Widgets, wd)
	}
	writeJSON(w, s.log, http.StatusOK, resp)
	return nil
}

// defaultRange fills missing bounds: the store's whole event range when it is known, otherwise
// the last 7 days. A missing bound next to a given one is 7 days away from it.
func defaultRange(st *Store, from, to *time.Time, now time.Time) (time.Time, time.Time) {
	const week = 7 * 24 * time.Hour
	var f, t time.Time
	switch {
	case to != nil:
		t = *to
	case st.LastEvent != nil:
		t = st.LastEvent.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	default:
		t = now.Truncate(time.Hour).Add(time.Hour)
	}
	switch {
	case from != nil:
		f = *from
	case to == nil && st.FirstEvent != nil:
		f = st.FirstEvent.UTC().Truncate(24 * time.Hour)
	default:
		f = t.Add(-week)
	}
	return f, t
}
