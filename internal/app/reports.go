package app

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/server"
)

// params converts the API's report parameters for principal pr; the store defaults to the only
// CloudTrail store pr may read, the cost table to the first one it may read (defaultCost). A
// store or cost table it may not read is not found, in the words of one that does not exist.
func (b *Backend) params(p server.ReportParams, pr *access.Principal) (compliance.Params, error) {
	out := compliance.Params{Store: p.Store, Cost: p.Cost, From: p.From, To: p.To, Accounts: p.Accounts}
	if out.Cost == "" {
		c, err := defaultCost(b.lk.Dir, pr)
		if err != nil {
			return out, err
		}
		out.Cost = c
	} else if _, err := cost.Lookup(b.lk.Dir, out.Cost); err == nil && !pr.Sees("table:"+out.Cost) {
		return out, fmt.Errorf("%w: no such cost table: %q", server.ErrNotFound, out.Cost)
	}
	if out.Store == "" {
		stores, err := b.lk.Stores()
		if err != nil {
			return out, err
		}
		var ct []lake.Store
		for _, s := range stores {
			if s.Type == lake.TypeCloudTrail && !s.Builtin() && pr.Sees("store:"+s.ID) {
				ct = append(ct, s)
			}
		}
		switch {
		case len(ct) == 0:
			return out, fmt.Errorf("%w: no CloudTrail event data store to report on", server.ErrNotFound)
		case len(ct) > 1:
			return out, &server.QueryError{Msg: "name the event data store (store=…): there are several CloudTrail stores"}
		}
		out.Store = ct[0].ID
	} else if st, err := b.lk.Resolve(out.Store); err != nil || !pr.Sees("store:"+st.ID) {
		return out, fmt.Errorf("%w: %w: %q", server.ErrNotFound, lake.ErrNotFound, out.Store)
	}
	for _, a := range p.ApprovedTemplates {
		for _, part := range strings.Split(a, " ") {
			if part == "" {
				continue
			}
			t, err := compliance.ParseApproved(part)
			if err != nil {
				return out, &server.QueryError{Msg: err.Error()}
			}
			out.Approved.Templates = append(out.Approved.Templates, t)
		}
	}
	if len(out.Approved.Templates) == 0 {
		out.Approved = b.DefaultApprovals
	}
	return out, nil
}

// defaultCost is the cost table a report without cost= uses: of those principal p may read,
// the only one, or, with several, the first by name — the one the dashboard's cost picker shows
// first. "" when there is none (reports then carry no cost).
func defaultCost(dataDir string, p *access.Principal) (string, error) {
	tables, err := cost.Tables(dataDir)
	if err != nil {
		return "", err
	}
	for _, t := range tables {
		if p.Sees("table:" + t.Name()) {
			return t.Name(), nil
		}
	}
	return "", nil
}

// instanceTrail is an instance's trail with the cost table its cost was read from, so the
// dashboard can say which one it used when the URL named none.
type instanceTrail struct {
	*compliance.Trail
	CostTable string `json:"cost_table,omitempty"`
}

func (b *Backend) report(ctx context.Context, name string, p server.ReportParams) (any, error) {
	c, err := b.auditedCaller(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	cp, err := b.params(p, c.Principal)
	var out any
	if err == nil {
		out, err = b.runReport(ctx, c.Principal, name, cp)
	}
	b.recordReport(c, name, "", cp, start, ReportRows(out), err)
	return out, err
}

func (b *Backend) runReport(ctx context.Context, pr *access.Principal, name string, cp compliance.Params) (any, error) {
	if name == "daily-spend" && cp.Cost == "" {
		return nil, fmt.Errorf("%w: daily-spend reads a cost table, and there is none to read (auditlake cur register)", server.ErrNotFound)
	}
	var run func(context.Context, *query.Session, compliance.Params) (any, error)
	switch name {
	case "launch-compliance":
		run = func(ctx context.Context, s *query.Session, cp compliance.Params) (any, error) {
			return compliance.LaunchCompliance(ctx, s, cp)
		}
	case "daily-spend":
		run = func(ctx context.Context, s *query.Session, cp compliance.Params) (any, error) {
			return compliance.DailySpend(ctx, s, cp)
		}
	default:
		return nil, fmt.Errorf("%w: report %q (want launch-compliance or daily-spend)", server.ErrNotFound, name)
	}
	var out any
	err := b.withSession(ctx, pr, func(ctx context.Context, s *query.Session) error {
		var err error
		if out, err = run(ctx, s, cp); err != nil {
			return reportErr(err, pr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (b *Backend) instance(ctx context.Context, id string, p server.ReportParams) (any, error) {
	c, err := b.auditedCaller(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	cp, err := b.params(p, c.Principal)
	var out any
	if err == nil {
		out, err = b.runInstance(ctx, c.Principal, id, cp)
	}
	b.recordReport(c, "instance", id, cp, start, ReportRows(out), err)
	return out, err
}

func (b *Backend) runInstance(ctx context.Context, pr *access.Principal, id string, cp compliance.Params) (any, error) {
	var t *compliance.Trail
	err := b.withSession(ctx, pr, func(ctx context.Context, s *query.Session) error {
		var err error
		if t, err = compliance.Instance(ctx, s, id, cp); err != nil {
			return reportErr(err, pr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if t.Summary == nil && len(t.Events) == 0 {
		return nil, fmt.Errorf("%w: no event in the store names instance %q", server.ErrNotFound, id)
	}
	return instanceTrail{Trail: t, CostTable: cp.Cost}, nil
}

// missingColumn finds the column a report's SQL names and the session does not have.
var missingColumn = regexp.MustCompile(`Referenced column "([^"]+)" not found`)

// reportErr maps report failures of principal pr: unknown stores, cost tables and instances
// are 404s; a column the report reads and pr's grants do not show is a 400 that says so.
func reportErr(err error, pr *access.Principal) error {
	if errors.Is(err, lake.ErrDamaged) {
		return translate(err)
	}
	if m := missingColumn.FindStringSubmatch(err.Error()); m != nil && !pr.Admin {
		return &server.QueryError{Msg: fmt.Sprintf("this report reads column %q, which the grants of %s do not show", m[1], pr.Name())}
	}
	if errors.Is(err, lake.ErrNotFound) || strings.Contains(err.Error(), "not found") || strings.Contains(err.Error(), "no such") ||
		strings.Contains(err.Error(), "unknown") {
		return fmt.Errorf("%w: %v", server.ErrNotFound, err)
	}
	return translate(err)
}

// recordReport records a report (or an instance's trail, with its id) that showed rows in the
// audit log as a query: its name and parameters, the tables it reads (ReportEntry).
func (b *Backend) recordReport(c access.Caller, name, id string, p compliance.Params, start time.Time, rows int, err error) {
	if b.Audit == nil {
		return
	}
	e := ReportEntry(b.lk, name, id, p)
	e.Duration, e.Rows = time.Since(start), int64(rows)
	b.record(c, e, err)
}

// ReportRows is the number of rows report out shows, its record's rowsReturned: a report's
// rows, an instance trail's events; 0 for none (a report that failed).
func ReportRows(out any) int {
	switch r := out.(type) {
	case *compliance.Report:
		if r != nil {
			return len(r.Rows)
		}
	case *compliance.Daily:
		if r != nil {
			return len(r.Rows)
		}
	case *compliance.Trail:
		if r != nil {
			return len(r.Events)
		}
	case instanceTrail:
		return ReportRows(r.Trail)
	}
	return 0
}

// ReportEntry is the audit entry of report name (or of instance id's trail) with parameters p:
// its name and parameters, the tables it reads. The CLI's reports record the same.
func ReportEntry(lk *lake.Lake, name, id string, p compliance.Params) auditlog.Entry {
	params := map[string]any{"report": name}
	if id != "" {
		params["instanceId"] = id
	}
	var tables []string
	for _, s := range []struct{ key, store string }{{"store", p.Store}, {"configStore", p.ConfigStore}} {
		if s.store == "" {
			continue
		}
		params[s.key] = s.store
		if st, err := lk.Resolve(s.store); err == nil {
			tables = append(tables, query.Schema+"."+st.ID)
		}
	}
	if p.Cost != "" {
		params["cost"] = p.Cost
		tables = append(tables, p.Cost)
	}
	if p.From != nil {
		params["from"] = p.From.UTC().Format(time.RFC3339)
	}
	if p.To != nil {
		params["to"] = p.To.UTC().Format(time.RFC3339)
	}
	if len(p.Accounts) > 0 {
		params["accounts"] = p.Accounts
	}
	return auditlog.Entry{Params: params, Tables: tables}
}
