package rules_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/sigma"
)

// TestEvaluateGroupedIsEvaluateAllGrouped: the commit's evaluation, every predicate rule in one
// scan grouped by the engine, finds the groups that grouping each rule's own matches finds —
// the same events in each, each once — for every grouping key, over the stratus-red-team
// detonations with every community rule and the built-ins; and the matches an exclude relation
// lists are left out.
func TestEvaluateGroupedIsEvaluateAllGrouped(t *testing.T) {
	ctx := context.Background()
	_, s, st := newStore(t, nil, testdata("stratus-red-team-detonation-logs"))
	compiled, refused, err := sigma.Load(testdata("sigma-aws-cloudtrail-rules", "rules"))
	if err != nil || len(refused) > 0 {
		t.Fatal(err, refused)
	}
	rs := rules.FromSigma(compiled)
	for _, b := range []string{"root-account-use", "cloudtrail-logging-stopped", "console-login-without-mfa"} {
		rs = append(rs, rules.Rule{ID: b, Kind: rules.KindBuiltin, Builtin: b, Title: b, Severity: "high", Enabled: true})
	}
	target := rules.Target{Store: st}
	keys := []rules.Grouping{{Key: "principal", Window: time.Hour}, {Key: "account", Window: 24 * time.Hour},
		{Key: "region", Window: 7 * time.Minute}, {Key: "event"}, {Key: "resource", Window: 7 * 24 * time.Hour}}
	gs := make([]rules.Grouping, len(rs))
	for i := range rs {
		gs[i] = keys[i%len(keys)]
	}
	render := func(groups []rules.MatchGroup) []string {
		var out []string
		for _, g := range groups {
			out = append(out, fmt.Sprintf("%s %s", g.First.EventTime.Format(time.RFC3339Nano), strings.Join(g.EventIDs, ",")))
		}
		slices.Sort(out)
		return out
	}
	got, err := rules.EvaluateGrouped(ctx, s, rs, gs, target, "")
	if err != nil {
		t.Fatal(err)
	}
	matched, grouped := 0, 0
	var excludeRows []string
	for i, r := range rs {
		ms, err := rules.Evaluate(ctx, s, r, target)
		if err != nil {
			t.Fatal(err)
		}
		want := render(rules.GroupMatches(ms, gs[i]))
		if !slices.Equal(render(got[i]), want) {
			t.Errorf("rule %s (%s) by %v: grouped in one scan\n%v\nbut its own matches grouped\n%v", r.ID, r.Title, gs[i], render(got[i]), want)
		}
		for _, g := range got[i] {
			if g.First.Rule != r.ID || g.First.EventID == "" || !slices.Contains(g.EventIDs, g.First.EventID) {
				t.Errorf("rule %s: group's first match %+v is not one of its events %v", r.ID, g.First, g.EventIDs)
			}
		}
		matched += len(ms)
		grouped += len(got[i])
		if len(ms) > 0 {
			excludeRows = append(excludeRows, "("+engine.Literal(r.ID)+", "+engine.Literal(ms[0].EventID)+")")
		}
	}
	if matched < 50 || grouped >= matched {
		t.Fatalf("fixture: %d matches in %d groups", matched, grouped)
	}

	// The matches the relation lists (each rule's first) are left out, the others kept.
	exclude := "(SELECT * FROM (VALUES " + strings.Join(excludeRows, ", ") + ") AS x(rule, eventid))"
	left, err := rules.EvaluateGrouped(ctx, s, rs, gs, target, exclude)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		ms, _ := rules.Evaluate(ctx, s, r, target)
		if len(ms) == 0 {
			continue
		}
		first := ms[0].EventID
		want := render(rules.GroupMatches(slices.DeleteFunc(ms, func(m rules.Match) bool { return m.EventID == first }), gs[i]))
		if !slices.Equal(render(left[i]), want) {
			t.Errorf("rule %s with its first match excluded:\n%v\nwant\n%v", r.ID, render(left[i]), want)
		}
	}
}
