package rules_test

import (
	"context"
	"fmt"
	"math/rand/v2"
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

// TestEvaluateGroupedGenerated is TestEvaluateGroupedIsEvaluateAllGrouped over generated
// events shaped to stress the order of a group's ids: most events are assumed-role calls
// (AssumeRole Misuse matches them, as it matches most of a real trail), many share a time to the
// microsecond (a group's ids are then ordered by id) and the ids come in no order; groups
// straddle window boundaries.
func TestEvaluateGroupedGenerated(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(19, 7))
	base := time.Date(2025, 3, 9, 22, 0, 0, 0, time.UTC)
	idents := []map[string]any{
		{"type": "AssumedRole", "arn": "arn:aws:sts::111111111111:assumed-role/deploy/s1", "principalId": "AROA1:s1",
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "userName": "deploy"}}},
		{"type": "AssumedRole", "arn": "arn:aws:sts::111111111111:assumed-role/ops/s2", "principalId": "AROA2:s2",
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "userName": "ops"}}},
		{"type": "IAMUser", "arn": "arn:aws:iam::222222222222:user/alice", "principalId": "AIDA3"},
		{"type": "Root", "arn": "arn:aws:iam::222222222222:root", "principalId": "222222222222"},
	}
	calls := [][2]string{{"ec2.amazonaws.com", "DescribeInstances"}, {"sts.amazonaws.com", "AssumeRole"},
		{"cloudtrail.amazonaws.com", "StopLogging"}, {"signin.amazonaws.com", "ConsoleLogin"}, {"iam.amazonaws.com", "CreateAccessKey"}}
	var recs []map[string]any
	for i := range 4000 {
		// 40 distinct times over three hours and a midnight: about 100 events each.
		at := base.Add(time.Duration(rng.IntN(40)) * 4 * time.Minute).Add(time.Duration(rng.IntN(2)) * time.Microsecond)
		call := calls[rng.IntN(len(calls))]
		ident := idents[min(rng.IntN(6), 3)] // two in three are assumed roles
		rec := map[string]any{
			"eventVersion": "1.08", "eventTime": at.Format(time.RFC3339Nano), "eventSource": call[0], "eventName": call[1],
			"awsRegion": []string{"eu-west-1", "us-east-1"}[rng.IntN(2)], "sourceIPAddress": "203.0.113.7",
			"userIdentity": ident, "eventID": fmt.Sprintf("%08x-%04d", rng.Uint32(), i), "eventType": "AwsApiCall",
			"recipientAccountId": []string{"111111111111", "222222222222"}[rng.IntN(2)],
		}
		if call[1] == "ConsoleLogin" {
			rec["responseElements"] = map[string]any{"ConsoleLogin": "Success"}
			rec["additionalEventData"] = map[string]any{"MFAUsed": "No"}
		}
		recs = append(recs, rec)
	}
	_, s, st := newStore(t, recs)
	compiled, refused, err := sigma.Load(testdata("sigma-aws-cloudtrail-rules", "rules"))
	if err != nil || len(refused) > 0 {
		t.Fatal(err, refused)
	}
	rs := rules.FromSigma(compiled)
	for _, b := range []string{"root-account-use", "cloudtrail-logging-stopped", "console-login-without-mfa"} {
		rs = append(rs, rules.Rule{ID: b, Kind: rules.KindBuiltin, Builtin: b, Title: b, Severity: "high", Enabled: true})
	}
	target := rules.Target{Store: st}
	for _, g := range []rules.Grouping{{Key: "principal", Window: time.Hour}, {Key: "account", Window: 24 * time.Hour},
		{Key: "region", Window: 7 * time.Minute}, {Key: "event"}, {Key: "resource", Window: time.Hour}} {
		gs := make([]rules.Grouping, len(rs))
		for i := range gs {
			gs[i] = g
		}
		got, err := rules.EvaluateGrouped(ctx, s, rs, gs, target, "")
		if err != nil {
			t.Fatal(err)
		}
		matched := 0
		for i, r := range rs {
			ms, err := rules.Evaluate(ctx, s, r, target)
			if err != nil {
				t.Fatal(err)
			}
			matched += len(ms)
			// The same groups, each with the same first time and the same ids in the same order
			// (groups with the same first time may come in either order).
			want := rules.GroupMatches(ms, g)
			render := func(groups []rules.MatchGroup) []string {
				var out []string
				for _, mg := range groups {
					if !slices.Contains(mg.EventIDs, mg.First.EventID) || mg.First.Rule != r.ID {
						t.Errorf("rule %s: first match %+v is not one of its group's events", r.Title, mg.First)
					}
					out = append(out, mg.First.EventTime.Format(time.RFC3339Nano)+" "+strings.Join(mg.EventIDs, ","))
				}
				slices.Sort(out)
				return out
			}
			if a, b := render(got[i]), render(want); !slices.Equal(a, b) {
				t.Fatalf("rule %s by %v: grouped in one scan\n%v\nbut its own matches grouped\n%v", r.Title, g, a, b)
			}
		}
		if matched < 2000 {
			t.Fatalf("fixture: %d matches", matched)
		}
	}
}
