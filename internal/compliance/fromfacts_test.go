package compliance_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// TestFromFactsEqualsTheReport: FromFacts, given the store's EC2 lifecycle facts, gives the
// report's rows (instance, launch, who, launcher, template, verdict) without the engine — on
// the real samples and the derived launches (template names, $Latest/$Default, fleets, Auto
// Scaling), and on a generated trail with its approved templates; over the whole store and over
// time spans (an instance's first launch within the span).
func TestFromFactsEqualsTheReport(t *testing.T) {
	ctx := context.Background()
	gen := generatetest.Trail(t, 4000, 20, 11)
	approved, err := compliance.LoadConfig(filepath.Join(gen, "approved-templates.json"))
	if err != nil {
		t.Fatal(err)
	}
	genLake, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := genLake.Create("gen", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(ctx, genLake, st, ingest.Options{Sources: []string{gen}, BatchRows: 700}); err != nil {
		t.Fatal(err)
	}
	genSession, err := query.Open(ctx, genLake, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer genSession.Close()

	fixture := openFixture(t)
	for _, c := range []struct {
		name  string
		s     *query.Session
		store string
		p     compliance.Params
	}{
		{"samples, nothing approved", fixture, "prod-trail", compliance.Params{}},
		{"samples, by id and version", fixture, "prod-trail", compliance.Params{Approved: approvals(t, "lt-0aaaaaaaaaaaaaaa1:1,3", "lt-0bbbbbbbbbbbbbbb2:1")}},
		{"samples, by name", fixture, "prod-trail", compliance.Params{Approved: approvals(t, "web-prod:2", "lt-0aaaaaaaaaaaaaaa1")}},
		{"samples, Auto Scaling required", fixture, "prod-trail", compliance.Params{Approved: approvals(t, "lt-0aaaaaaaaaaaaaaa1"), RequireAutoScaling: true}},
		{"generated", genSession, "gen", compliance.Params{Approved: approved.Approvals}},
		{"generated, Auto Scaling required", genSession, "gen", compliance.Params{Approved: approved.Approvals, RequireAutoScaling: true}},
	} {
		id := ""
		for _, s := range c.s.Stores {
			if s.Name == c.store {
				id = s.ID
			}
		}
		rel, _ := c.s.Facts(id)
		facts, err := compliance.ReadFacts(ctx, c.s, rel)
		if err != nil {
			t.Fatal(err)
		}
		c.p.Store = c.store
		whole, err := compliance.LaunchCompliance(ctx, c.s, c.p)
		if err != nil {
			t.Fatal(err)
		}
		if len(whole.Rows) < 3 {
			t.Fatalf("%s: %d rows: nothing to compare", c.name, len(whole.Rows))
		}
		spans := [][2]*time.Time{{nil, nil}}
		// Spans starting at launches, so that instances launched twice lose their first.
		for _, i := range []int{1, len(whole.Rows) / 3, len(whole.Rows) / 2} {
			from := whole.Rows[i].LaunchedAt
			to := whole.Rows[min(i+len(whole.Rows)/4+1, len(whole.Rows)-1)].LaunchedAt
			spans = append(spans, [2]*time.Time{&from, nil}, [2]*time.Time{&from, &to})
		}
		for _, span := range spans {
			p := c.p
			p.From, p.To = span[0], span[1]
			want, err := compliance.LaunchCompliance(ctx, c.s, p)
			if err != nil {
				t.Fatal(err)
			}
			got := compliance.FromFacts(facts, p)
			if len(got) != len(want.Rows) {
				t.Errorf("%s, span %v: %d rows in Go, %d in the report", c.name, span, len(got), len(want.Rows))
				continue
			}
			for i, w := range want.Rows {
				g := got[i]
				w.TerminatedAt, w.EndReason, w.RuntimeHours, w.UnblendedCost, w.EffectiveCost = nil, "", 0, 0, 0
				if g != w {
					t.Errorf("%s, span %v, row %d:\n Go     %+v\n report %+v", c.name, span, i, g, w)
				}
			}
		}
	}
}
