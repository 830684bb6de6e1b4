package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/server"
)

// params converts the API's report parameters; the store defaults to the only CloudTrail store,
// the cost table to the default one (defaultCost).
func (b *Backend) params(p server.ReportParams) (compliance.Params, error) {
	out := compliance.Params{Store: p.Store, Cost: p.Cost, From: p.From, To: p.To, Accounts: p.Accounts}
	if out.Cost == "" {
		c, err := defaultCost(b.lk.Dir)
		if err != nil {
			return out, err
		}
		out.Cost = c
	}
	if out.Store == "" {
		stores, err := b.lk.Stores()
		if err != nil {
			return out, err
		}
		var ct []lake.Store
		for _, s := range stores {
			if s.Type == lake.TypeCloudTrail && !s.Builtin() {
				ct = append(ct, s)
			}
		}
		if len(ct) != 1 {
			return out, &server.QueryError{Msg: "name the event data store (store=…): there are several CloudTrail stores"}
		}
		out.Store = ct[0].ID
	} else if _, err := b.lk.Resolve(out.Store); err != nil {
		return out, fmt.Errorf("%w: %v", server.ErrNotFound, err)
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

// defaultCost is the cost table a report without cost= uses: the only registered one, or, with
// several, the first by name — the one the dashboard's cost picker shows first. "" when none is
// registered (reports then carry no cost).
func defaultCost(dataDir string) (string, error) {
	tables, err := cost.Tables(dataDir)
	if err != nil || len(tables) == 0 {
		return "", err
	}
	return tables[0].Name(), nil
}

// instanceTrail is an instance's trail with the cost table its cost was read from, so the
// dashboard can say which one it used when the URL named none.
type instanceTrail struct {
	*compliance.Trail
	CostTable string `json:"cost_table,omitempty"`
}

func (b *Backend) report(ctx context.Context, name string, p server.ReportParams) (any, error) {
	cp, err := b.params(p)
	if err != nil {
		return nil, err
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
	err = b.withSession(ctx, func(ctx context.Context, s *query.Session) error {
		var err error
		if out, err = run(ctx, s, cp); err != nil {
			return reportErr(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (b *Backend) instance(ctx context.Context, id string, p server.ReportParams) (any, error) {
	cp, err := b.params(p)
	if err != nil {
		return nil, err
	}
	var t *compliance.Trail
	err = b.withSession(ctx, func(ctx context.Context, s *query.Session) error {
		var err error
		if t, err = compliance.Instance(ctx, s, id, cp); err != nil {
			return reportErr(err)
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

// reportErr maps report failures: unknown stores, cost tables and instances are 404s.
func reportErr(err error) error {
	if errors.Is(err, lake.ErrDamaged) {
		return translate(err)
	}
	if errors.Is(err, lake.ErrNotFound) || strings.Contains(err.Error(), "not found") || strings.Contains(err.Error(), "no such") ||
		strings.Contains(err.Error(), "unknown") {
		return fmt.Errorf("%w: %v", server.ErrNotFound, err)
	}
	return translate(err)
}
