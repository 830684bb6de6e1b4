package rules_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/rules/rulestest"
	"github.com/auditlake/auditlake/internal/sigma"
)

// TestUserRulesAgreeOnEveryPath: Sigma rules of the kind users bring, written to the corners of
// the specification (testdata/sigma-user-rules: escapes and wildcards, every modifier and
// sub-modifier, keywords with '|all' and '|cased', null, ”, numbers and booleans as values,
// IPv6 and IPv4-mapped networks, fieldref, fields in JSON arrays, resources, sessionContext,
// additionalEventData, tlsDetails, fields no record or no schema has, precedence and patterns
// in conditions), over the real samples and a few derived records: every rule loads, and the
// events its predicate selects in the store are the events each path finds — the alerts'
// (EvaluateGroupedWith: the Go verdicts taken as ingest writes the records, the engine deciding
// those left Unknown), EvaluateGrouped's (every rule in SQL at a commit), and the hunt's and
// rule coverage's (Hunt.Run, Evaluate, EvaluateAll, Stream — what hunt and rule coverage run: sameAsPredicate).
func TestUserRulesAgreeOnEveryPath(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests the samples and runs 160 rules on every path")
	}
	ctx := context.Background()
	compiled, refused, err := sigma.Load(testdata("sigma-user-rules", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refused {
		t.Errorf("refused: %v", r)
	}
	if len(compiled) < 150 {
		t.Fatalf("only %d user rules", len(compiled))
	}
	rs := rules.FromSigma(compiled)
	gs := make([]rules.Grouping, len(rs))
	for i := range gs {
		gs[i] = rules.Grouping{Key: "event", Window: time.Hour}
	}

	// The records, as ingest writes them, through the Go evaluation the alerts take.
	lk, st := rulestest.EmptyLake(t)
	data, err := json.Marshal(map[string]any{"Records": pantherCases(t)})
	if err != nil {
		t.Fatal(err)
	}
	panther := filepath.Join(t.TempDir(), "panther.json")
	if err := os.WriteFile(panther, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sources := []string{testdata("stratus-red-team-detonation-logs"), testdata("plaso-cloudtrail-lookupevents"),
		testdata("cloud-custodian-event-and-config-fixtures", "cwe"), testdata("sigma-user-rules", "records.json"), panther}
	for _, f := range []string{"SerializerTestFile.json", "SerializerAllFieldsNull.json", "SerializerTestFileLocation.json",
		"SerializerVariousUserIdentityTestFile.json", "SerializerTestFileNewFieldsInUserIdentity.json"} {
		sources = append(sources, testdata("aws-cloudtrail-processing-library-serializer-tests", f))
	}
	eval := rules.NewGoEval(rs, gs)
	pre := map[string]*rules.GoResult{}
	opts := ingest.Options{Sources: sources, Decoded: eval.Decoded}
	opts.Written = func(files []lake.DataFile, recs [][]*cloudtrail.Record, fs [][]lifecycle.Fact) {
		for p, r := range eval.Files(files, recs, fs, 2) {
			if have := pre[p]; have != nil {
				have.Merge(r)
			} else {
				pre[p] = r
			}
		}
	}
	if _, err := ingest.CloudTrail(ctx, lk, st, opts); err != nil && !strings.Contains(err.Error(), "error") {
		t.Fatal(err)
	}
	viaGo, viaSQL, s := groupedBothWays(t, lk, st, rs, gs, pre, nil)
	// Every rule's predicate, each a column of one scan of the store.
	cols := make([]string, len(compiled))
	for i, c := range compiled {
		cols[i] = "coalesce(" + c.Predicate + ", false)"
	}
	scan, err := s.RunInternal(ctx, "SELECT eventid, "+strings.Join(cols, ", ")+" FROM "+query.StoreTable(st.ID))
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]string, len(rs))
	for _, row := range scan.Rows {
		for i, v := range row[1:] {
			if v.(bool) {
				want[i] = append(want[i], row[0].(string))
			}
		}
	}
	found, errs := rules.NewHunt(s, rules.Target{Store: st}).Run(ctx, rs)
	sorted := func(ids []string) []string {
		out := append([]string{}, ids...)
		slices.Sort(out)
		return slices.Compact(out)
	}
	groupIDs := func(groups []rules.MatchGroup) []string {
		var out []string
		for _, g := range groups {
			out = append(out, g.EventIDs...)
		}
		return sorted(out)
	}
	matched := 0
	for i, r := range rs {
		w := sorted(want[i])
		if errs[i] != nil {
			t.Errorf("rule %s: hunt: %v", r.ID, errs[i])
			continue
		}
		var streamed []string // auditlake hunt
		if _, err := rules.NewHunt(s, rules.Target{Store: st}).Stream(ctx, r, func(m *rules.Match) error {
			streamed = append(streamed, m.EventID)
			return nil
		}); err != nil {
			t.Errorf("rule %s: stream: %v", r.ID, err)
		}
		alerted, committed, covered := groupIDs(viaGo[i]), groupIDs(viaSQL[i]), sorted(ids(found[i]))
		if !slices.Equal(alerted, w) || !slices.Equal(committed, w) || !slices.Equal(covered, w) || !slices.Equal(sorted(streamed), w) {
			t.Errorf("rule %s: the predicate matches %d events, the alerts (Go at ingest) %d, the SQL at a commit %d, coverage %d, the hunt %d; only the alerts: %v, only the predicate: %v",
				r.ID, len(w), len(alerted), len(committed), len(covered), len(streamed), first(without(alerted, w), 5), first(without(w, alerted), 5))
		}
		if len(w) > 0 {
			matched++
		}
	}
	if matched < len(rs)*2/3 {
		t.Errorf("only %d of %d rules match an event: the test proves little", matched, len(rs))
	}
}

// without is the values of a not in b.
func without(a, b []string) []string {
	var out []string
	for _, v := range a {
		if !slices.Contains(b, v) {
			out = append(out, v)
		}
	}
	return out
}
