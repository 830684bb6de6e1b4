package alerts_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/rules/rulestest"
)

// castFails is a SQL rule that passes every check at `rule add` and fails on the first event
// it reads (an event name is no integer).
func castFails(id string) rules.Rule {
	return rules.Rule{ID: id, Title: id, Kind: rules.KindSQL, Enabled: true, Severity: "medium",
		SQL: "SELECT * FROM {events} WHERE CAST(eventname AS integer) = 1"}
}

// ingestEvaluated ingests src into st and evaluates the rules over it: through a watcher
// (the Go path, as ingest and collect run it) or by Process after the commits (SQL).
func ingestEvaluated(t *testing.T, lk *lake.Lake, st lake.Store, src string, watch bool) (alerts.Result, error) {
	t.Helper()
	ctx := context.Background()
	opts := ingest.Options{Sources: []string{src}, BatchRows: 500}
	if !watch {
		if err := alerts.Begin(lk, st); err != nil {
			t.Fatal(err)
		}
		if _, err := ingest.CloudTrail(ctx, lk, st, opts); err != nil {
			t.Fatal(err)
		}
		return alerts.Process(ctx, lk, st)
	}
	w := keptWatch(t, ctx, lk, st)
	w.Hook(&opts)
	if _, err := ingest.CloudTrail(ctx, lk, st, opts); err != nil {
		t.Fatal(err)
	}
	return w.Close()
}

// TestAFailingRuleKeepsNoOtherRuleFromAlerting: a rule that fails on a commit's events (here a
// SQL rule whose CAST fails at run time) leaves every other rule's alerts as they are without
// it, on the SQL and on the Go path; its failure is kept with the rule (the store, the reason,
// the events it did not evaluate), and the files are evaluated — a next run finds nothing new.
func TestAFailingRuleKeepsNoOtherRuleFromAlerting(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")
	want := sqlAlerts(t, src, 500, nil)
	if len(want.New) == 0 {
		t.Fatal("the detonations raise no alert: nothing to compare")
	}
	for _, watch := range []bool{false, true} {
		name := map[bool]string{false: "sql", true: "go"}[watch]
		t.Run(name, func(t *testing.T) {
			lk, st := goEvalLake(t)
			if _, err := rules.Add(ctx, lk, castFails("castfail")); err != nil {
				t.Fatal(err)
			}
			got, err := ingestEvaluated(t, lk, st, src, watch)
			if err != nil {
				t.Fatalf("one failing rule failed the evaluation: %v", err)
			}
			if len(got.Failed) != 1 || got.Failed["castfail"] == nil {
				t.Errorf("failed rules %v, want castfail only", got.Failed)
			}
			if !slices.Equal(rulestest.AlertKeys(got.New), rulestest.AlertKeys(want.New)) {
				t.Errorf("the other rules' alerts changed: %d alerts, without the failing rule %d", len(got.New), len(want.New))
			}
			r, err := rules.Get(lk, "castfail")
			if err != nil {
				t.Fatal(err)
			}
			f := r.LastFailure
			if f == nil || f.Store != st.Name || !strings.Contains(f.Error, "Conversion Error") || strings.Contains(f.Error, "\n") ||
				f.Files == 0 || f.From.IsZero() || f.To.Before(f.From) || f.Failures < 1 {
				t.Fatalf("the failure kept with the rule: %+v", f)
			}
			for _, other := range []string{"root-account-use", "cloudtrail-logging-stopped"} {
				if o, err := rules.Get(lk, other); err != nil || o.LastFailure != nil {
					t.Errorf("rule %s: %v, failure %+v", other, err, o.LastFailure)
				}
			}
			again, err := alerts.Process(ctx, lk, st)
			if err != nil || again.Files != 0 || len(again.New) != 0 {
				t.Errorf("evaluated again: %d files, %d alerts, %v (the files stayed pending)", again.Files, len(again.New), err)
			}
			// Added again (the cause fixed), the rule starts with no failure.
			fixed := castFails("castfail")
			if _, err := rules.Remove(lk, "castfail"); err != nil {
				t.Fatal(err)
			}
			fixed.SQL = "SELECT * FROM {events} WHERE eventname = 'GetPasswordData'"
			if _, err := rules.Add(ctx, lk, fixed); err != nil {
				t.Fatal(err)
			}
			if r, _ := rules.Get(lk, "castfail"); r.LastFailure != nil {
				t.Errorf("a rule added again kept its old failure: %+v", r.LastFailure)
			}
		})
	}
}

// TestEveryRuleFailingLeavesTheFilesPending: when no rule can be evaluated, the cause is the
// batch or the lake, not a rule: the evaluation fails, the files stay pending, and once a rule
// works they are evaluated.
func TestEveryRuleFailingLeavesTheFilesPending(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")
	lk, st := rulestest.EmptyLake(t)
	if _, err := rules.Add(ctx, lk, castFails("castfail-1"), castFails("castfail-2")); err != nil {
		t.Fatal(err)
	}
	if _, err := ingestEvaluated(t, lk, st, src, false); err == nil || !strings.Contains(err.Error(), "castfail-1") {
		t.Fatalf("every rule failed, the evaluation says %v", err)
	}
	for _, id := range []string{"castfail-1", "castfail-2"} {
		if r, _ := rules.Get(lk, id); r.LastFailure != nil {
			t.Errorf("rule %s: a failure recorded although the files stay pending: %+v", id, r.LastFailure)
		}
	}
	works := castFails("castfail-2")
	works.SQL = "SELECT * FROM {events} WHERE eventname = 'GetPasswordData'"
	if _, err := rules.Remove(lk, "castfail-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Add(ctx, lk, works); err != nil {
		t.Fatal(err)
	}
	res, err := alerts.Process(ctx, lk, st)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files == 0 || len(res.New) == 0 || res.Failed["castfail-1"] == nil {
		t.Errorf("pending files evaluated: %d files, %d alerts, failed %v", res.Files, len(res.New), res.Failed)
	}
}
