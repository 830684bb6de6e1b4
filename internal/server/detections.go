package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Detections is what a Backend implements to serve the dashboard's Alerts page: the alerts kept
// in the store auditlake-alerts (GET /api/alerts) and hunts with the detection rules (POST
// /api/hunt), each run as the request's caller, within its grants.
type Detections interface {
	Alerts(ctx context.Context, f AlertFilter) ([]Alert, error)
	Hunt(ctx context.Context, p HuntParams) (*HuntResult, error)
}

// ErrForbidden is returned (possibly wrapped) when the caller's grants do not allow what it asks
// (reading auditlake-alerts, or the store a hunt names); the API answers 403 with the message.
var ErrForbidden = errors.New("access denied")

// AlertFilter selects alerts: of events since Since (zero: all), of rule Rule and with status
// Status ("" for any), at most Limit, newest first.
type AlertFilter struct {
	Since        time.Time
	Rule, Status string
	Limit        int
}

// Alert is one stored alert as the dashboard lists it.
type Alert struct {
	ID        string    `json:"id"`
	EventTime time.Time `json:"event_time"`
	Rule      string    `json:"rule"`
	Title     string    `json:"title"`
	Severity  string    `json:"severity"`
	Store     string    `json:"store"`
	Principal string    `json:"principal"`
	Account   string    `json:"account"`
	Region    string    `json:"region"`
	Resource  string    `json:"resource"`
	Summary   string    `json:"summary"`
	// Count is the number of matches the alert stands for (instances, for launch-compliance,
	// where one RunInstances can launch several); EventIDs names each matched event once.
	Count     int64      `json:"count"`
	Status    string     `json:"status"`
	EventIDs  []string   `json:"event_ids"`
	AlertedAt *time.Time `json:"alerted_at"`
	SentTo    string     `json:"sent_to"`
}

// HuntParams is one hunt: Rules ("all" for every enabled rule, or rule ids) over the events of
// Store with eventtime in [From, To) (zero bounds: open).
type HuntParams struct {
	Store    string
	Rules    []string
	From, To time.Time
	// MaxMatches bounds the matches returned (the hunt stops at the first one past it, and the
	// result says Truncated); 0 = no bound.
	MaxMatches int
}

// HuntResult is what a hunt found: the rules run, their matches oldest first, the rules that
// failed (the others still ran) and how many of the store's files the time range read.
type HuntResult struct {
	Store   string        `json:"store"`
	Rules   []string      `json:"rules"`
	Matches []HuntMatch   `json:"matches"`
	Failed  []HuntFailure `json:"failed"`
	// Truncated is true when the rules matched more than MaxMatches events: Matches holds the
	// first MaxMatches (in the order auditlake hunt prints them) and the rules after are not run.
	Truncated  bool    `json:"truncated"`
	MaxMatches int     `json:"max_matches"`
	FilesRead  int     `json:"files_read"`
	FilesTotal int     `json:"files_total"`
	ElapsedMS  float64 `json:"elapsed_ms"`
}

// HuntMatch is one match of a rule.
type HuntMatch struct {
	Rule      string     `json:"rule"`
	Title     string     `json:"title"`
	Severity  string     `json:"severity"`
	EventTime *time.Time `json:"event_time"`
	EventID   string     `json:"event_id"`
	EventName string     `json:"event_name"`
	Principal string     `json:"principal"`
	Account   string     `json:"account"`
	Region    string     `json:"region"`
	SourceIP  string     `json:"source_ip"`
	Summary   string     `json:"summary"`
}

// HuntFailure is a rule that could not run, and why.
type HuntFailure struct {
	Rule  string `json:"rule"`
	Error string `json:"error"`
}

const maxAlertsListed = 1000

func (s *Server) detections() (Detections, error) {
	d, ok := s.backend.(Detections)
	if !ok {
		return nil, &apiError{http.StatusNotImplemented, "not_implemented", "this server's backend keeps no alerts"}
	}
	return d, nil
}

// detectionError turns a backend's ErrForbidden into a 403 with its message.
func detectionError(err error) error {
	if errors.Is(err, ErrForbidden) {
		return &apiError{http.StatusForbidden, "forbidden", err.Error()}
	}
	return err
}

// alerts answers GET /api/alerts?since=&rule=&status=&limit=: the alerts the caller may read,
// newest first. since is a duration back from now (30m, 12h, 7d) or a date/time.
func (s *Server) alerts(w http.ResponseWriter, r *http.Request) error {
	d, err := s.detections()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := AlertFilter{Rule: strings.TrimSpace(q.Get("rule")), Status: strings.TrimSpace(q.Get("status")), Limit: maxAlertsListed}
	if v := strings.TrimSpace(q.Get("since")); v != "" {
		if f.Since, err = parseSince(v, s.now()); err != nil {
			return err
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAlertsListed {
			return badRequest("limit must be between 1 and %d", maxAlertsListed)
		}
		f.Limit = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.DefaultTimeout)
	defer cancel()
	list, err := d.Alerts(ctx, f)
	if err != nil {
		return detectionError(err)
	}
	if list == nil {
		list = []Alert{}
	}
	writeJSON(w, s.log, http.StatusOK, map[string]any{"alerts": list, "limit": f.Limit})
	return nil
}

type huntRequest struct {
	Store string `json:"store"`
	// Rules is "all" or rule ids separated by commas.
	Rules string `json:"rules"`
	From  string `json:"from"`
	To    string `json:"to"`
	// MaxRows bounds the matches returned, as a query's max_rows (0: the default).
	MaxRows int `json:"max_rows"`
}

// hunt answers POST /api/hunt {store, rules, from, to}: the rules run over the store's events in
// the range, as auditlake hunt does, as the caller.
func (s *Server) hunt(w http.ResponseWriter, r *http.Request) error {
	d, err := s.detections()
	if err != nil {
		return err
	}
	var req huntRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}
	p := HuntParams{Store: strings.TrimSpace(req.Store)}
	if p.Store == "" {
		return badRequest("store is required")
	}
	for _, id := range strings.Split(req.Rules, ",") {
		if id = strings.TrimSpace(id); id != "" {
			p.Rules = append(p.Rules, id)
		}
	}
	if len(p.Rules) == 0 {
		return badRequest(`rules is required: "all", or rule ids separated by commas`)
	}
	switch p.MaxMatches = req.MaxRows; {
	case p.MaxMatches == 0:
		p.MaxMatches = s.opts.DefaultMaxRows
	case p.MaxMatches < 0 || p.MaxMatches > s.opts.MaxRowsLimit:
		return badRequest("max_rows must be between 1 and %d", s.opts.MaxRowsLimit)
	}
	for _, b := range []struct {
		name, v string
		upper   bool
		t       *time.Time
	}{{"from", req.From, false, &p.From}, {"to", req.To, true, &p.To}} {
		t, err := parseTimeParam(b.name, b.v, b.upper)
		if err != nil {
			return err
		}
		if t != nil {
			*b.t = *t
		}
	}
	if !p.From.IsZero() && !p.To.IsZero() && !p.From.Before(p.To) {
		return badRequest("from must be before to")
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.DefaultTimeout)
	defer cancel()
	res, err := d.Hunt(ctx, p)
	if err != nil {
		if r.Context().Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return &timeoutError{after: s.opts.DefaultTimeout}
		}
		return detectionError(err)
	}
	writeJSON(w, s.log, http.StatusOK, res)
	return nil
}

// parseSince reads since: a duration back from now (30m, 12h, 7d) or a date/time.
func parseSince(v string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 && days <= 100000 {
			return now.UTC().AddDate(0, 0, -days), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.UTC().Add(-d), nil
	}
	t, err := parseTimeParam("since", v, false)
	if err != nil || t == nil {
		return time.Time{}, badRequest("since %q is not a duration (30m, 12h, 7d), a date (2026-09-01) or an RFC 3339 time", truncate(v, 40))
	}
	return *t, nil
}
