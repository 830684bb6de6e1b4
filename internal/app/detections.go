package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/server"
)

var _ server.Detections = (*Backend)(nil)

// Alerts lists the alerts the caller may read: none when no alert was ever stored, a 403 when its
// grants do not show auditlake-alerts; read in its restricted session (a row filter on the store
// applies).
func (b *Backend) Alerts(ctx context.Context, f server.AlertFilter) ([]server.Alert, error) {
	c, err := b.auditedCaller(ctx) // audited like a query: refused while the log cannot be written
	if err != nil {
		return nil, err
	}
	forbidden := func() error {
		// Recorded like the alerts it would have read: a reader probing for alerts shows.
		err := fmt.Errorf("%w: the grants of %s do not allow reading the store %s", server.ErrForbidden, c.Principal.Name(), alerts.StoreName)
		b.record(c, auditlog.Entry{SQL: "-- GET /api/alerts"}, err)
		return err
	}
	st, err := b.lk.Resolve(alerts.StoreName)
	if errors.Is(err, lake.ErrNotFound) {
		// No alert was ever stored. A caller whose grants could not read the store when it
		// exists (only the admin and grants on all can: a grant names an existing store) is
		// refused as then, so the answer does not tell it whether any alert exists.
		if !c.Principal.Sees("store:" + alerts.StoreName) {
			return nil, forbidden()
		}
		return []server.Alert{}, nil
	}
	if err != nil {
		return nil, err
	}
	if !c.Principal.Sees("store:" + st.ID) {
		return nil, forbidden()
	}
	start := time.Now()
	var out []server.Alert
	var sql string
	err = b.withSession(ctx, c.Principal, func(ctx context.Context, s *query.Session) error {
		if err := s.Damaged(st.ID); err != nil {
			return translate(err)
		}
		var args []any
		sql, args = alerts.DetailSQL(s, st, alerts.Filter{From: f.Since, Rule: f.Rule, Status: f.Status}, f.Limit)
		res, err := s.RunInternal(ctx, sql, args...)
		if err != nil {
			return translate(err)
		}
		for _, row := range res.Rows {
			out = append(out, alertOf(row))
		}
		return nil
	})
	b.record(c, auditlog.Entry{SQL: "-- GET /api/alerts\n" + sql, Tables: []string{query.Schema + "." + st.ID}, Rows: int64(len(out)), Duration: time.Since(start)}, err)
	return out, err
}

// alertOf is the alert of a row of alerts.DetailSQL (one row per alert, its records folded).
func alertOf(row []any) server.Alert {
	str := func(v any) string {
		if v == nil {
			return ""
		}
		return fmt.Sprint(v)
	}
	a := server.Alert{ID: str(row[0]), Rule: str(row[2]), Title: str(row[3]), Severity: str(row[4]), Store: str(row[5]),
		Principal: str(row[6]), Account: str(row[7]), Region: str(row[8]), Resource: str(row[9]), Summary: str(row[10]),
		Status: str(row[12]), SentTo: str(row[15]), EventIDs: []string{}}
	a.EventTime, _ = row[1].(time.Time)
	if n, ok := row[11].(int64); ok {
		a.Count = n
	}
	// Each event once, at its first place: an alert's records can name the same event (a
	// launch-compliance record is one instance, and one RunInstances launches several), and
	// Count stays the number of matches.
	if ids, ok := row[13].([]any); ok {
		seen := make(map[string]bool, len(ids))
		for _, v := range ids {
			if id := str(v); !seen[id] {
				seen[id] = true
				a.EventIDs = append(a.EventIDs, id)
			}
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, str(row[14])); err == nil {
		a.AlertedAt = &t
	}
	return a
}

// Hunt runs rules over a time range of a store, one query per rule, as auditlake hunt does, in
// the caller's restricted session: a store its grants do not show is not found, and a rule that
// reads a column they hide fails on its own (listed in Failed) while the others run.
func (b *Backend) Hunt(ctx context.Context, p server.HuntParams) (*server.HuntResult, error) {
	c, err := b.auditedCaller(ctx) // audited like a query: refused while the log cannot be written
	if err != nil {
		return nil, err
	}
	// A hunt refused before it runs is recorded as one that ran, with what it asked for: a
	// reader probing for store names or rules shows in the log.
	refused := func(err error) (*server.HuntResult, error) {
		b.record(c, auditlog.Entry{SQL: fmt.Sprintf("-- POST /api/hunt: rules %s over %s", strings.Join(p.Rules, ","), p.Store)}, err)
		return nil, err
	}
	st, err := b.lk.Resolve(p.Store)
	if err != nil || !c.Principal.Sees("store:"+st.ID) {
		return refused(fmt.Errorf("%w: no event data store %q", server.ErrNotFound, p.Store))
	}
	if st.Type != lake.TypeCloudTrail {
		return refused(&server.QueryError{Msg: fmt.Sprintf("store %s is a store of type %s: rules run over CloudTrail stores", st.Name, st.Type)})
	}
	run, err := b.huntRules(p.Rules)
	if err != nil {
		return refused(err)
	}
	start := time.Now()
	out := &server.HuntResult{Store: st.Name, Rules: []string{}, Matches: []server.HuntMatch{}, Failed: []server.HuntFailure{}, MaxMatches: p.MaxMatches}
	target := rules.Target{Store: st, From: p.From, To: p.To}
	err = b.withSession(ctx, c.Principal, func(ctx context.Context, s *query.Session) error {
		if err := s.Damaged(st.ID); err != nil {
			return translate(err)
		}
		// The same hunt as auditlake hunt's (rules.Hunt.Stream), kept to MaxMatches.
		hunt := rules.NewHunt(s, target)
		for _, r := range run {
			out.Rules = append(out.Rules, r.ID)
			_, err := hunt.Stream(ctx, r, func(m *rules.Match) error {
				if p.MaxMatches > 0 && len(out.Matches) == p.MaxMatches {
					return errHuntFull
				}
				hm := server.HuntMatch{Rule: m.Rule, Title: m.Title, Severity: m.Severity, EventID: m.EventID, EventName: m.EventName,
					Principal: m.Principal, Account: m.Account, Region: m.Region, SourceIP: m.SourceIP, Summary: m.Summary}
				if !m.EventTime.IsZero() {
					t := m.EventTime
					hm.EventTime = &t
				}
				out.Matches = append(out.Matches, hm)
				return nil
			})
			if errors.Is(err, errHuntFull) {
				out.Truncated = true
				break
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				out.Failed = append(out.Failed, server.HuntFailure{Rule: r.ID, Error: err.Error()})
			}
		}
		out.FilesRead, out.FilesTotal = s.StoreFiles(st.ID, p.From, p.To)
		return nil
	})
	out.ElapsedMS = float64(time.Since(start).Microseconds()) / 1000
	b.record(c, auditlog.Entry{SQL: fmt.Sprintf("-- POST /api/hunt: rules %s over %s", strings.Join(out.Rules, ","), st.Name),
		Tables: []string{query.Schema + "." + st.ID}, Rows: int64(len(out.Matches)), Duration: time.Since(start)}, err)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// errHuntFull stops a dashboard hunt at its MaxMatches.
var errHuntFull = errors.New("hunt: the matches reached max_rows")

// huntRules returns the rules refs names: "all" is every enabled rule, a rule named twice runs
// once (rules.Select, as auditlake hunt).
func (b *Backend) huntRules(refs []string) ([]rules.Rule, error) {
	out, err := rules.Select(b.lk, refs)
	switch {
	case errors.Is(err, rules.ErrNoEnabled):
		return nil, fmt.Errorf("%w: no enabled rules (auditlake rule add)", server.ErrNotFound)
	case errors.Is(err, rules.ErrNoneNamed):
		return nil, &server.QueryError{Msg: "rules names no rule: all, or rule ids"}
	case errors.Is(err, rules.ErrNotFound):
		return nil, fmt.Errorf("%w: %v", server.ErrNotFound, err)
	}
	return out, err
}
