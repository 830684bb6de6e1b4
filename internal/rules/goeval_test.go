package rules_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/generate"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/rules/rulestest"
	"github.com/auditlake/auditlake/internal/sigma"
)

// goCase is a rule for the differential test: its Go verdict and prefilter, and its SQL
// predicate.
type goCase struct {
	name      string
	match     func(*sigma.Event) sigma.Verdict
	admits    func(source, name *string) sigma.Verdict
	predicate string
}

// goCases are every community Sigma rule and the built-ins with a Go predicate.
func goCases(t *testing.T) []goCase {
	t.Helper()
	compiled, refused, err := sigma.Load(testdata("sigma-aws-cloudtrail-rules", "rules"))
	if err != nil || len(refused) > 0 || len(compiled) != 57 {
		t.Fatalf("%d rules: %v %v", len(compiled), err, refused)
	}
	var out []goCase
	for _, r := range compiled {
		if !r.HasGo() {
			t.Errorf("community rule %s (%s) has no Go matcher: %s", r.ID, r.Title, r.GoRefused)
			continue
		}
		out = append(out, goCase{name: r.Title, match: r.Match, admits: r.Admits, predicate: r.Predicate})
	}
	for _, b := range rules.Builtins {
		match, admits := rules.BuiltinGo(b.Name)
		if b.Name == rules.LaunchCompliance {
			if match != nil {
				t.Errorf("launch-compliance has a Go predicate: it is the compliance report's verdict, evaluated in SQL")
			}
			continue
		}
		out = append(out, goCase{name: b.Name, match: match, admits: admits, predicate: rules.BuiltinPredicate(b.Name)})
	}
	return out
}

// differential ingests sources into a new store, runs every case's Go matcher on the records
// as ingest writes them (ingest.Options.Written, the path alerts take) and its SQL predicate
// over the store, and requires the same matches: every Yes matched by the SQL, every SQL match
// a Yes or an Unknown (which the SQL then decides). It returns the Unknown verdicts by case
// and the number of events.
func differential(t *testing.T, cases []goCase, sources ...string) (map[string]int, int) {
	t.Helper()
	ctx := context.Background()
	lk, st := rulestest.EmptyLake(t)
	yes := make([]map[string]bool, len(cases))
	unknown := make([]map[string]bool, len(cases))
	for i := range cases {
		yes[i], unknown[i] = map[string]bool{}, map[string]bool{}
	}
	seen := map[string]int{}
	var ev sigma.Event
	written := func(files []lake.DataFile, recs [][]*cloudtrail.Record, _ [][]lifecycle.Fact) {
		for _, part := range recs {
			for _, r := range part {
				seen[r.EventID]++
				ev.Reset(r)
				for i, c := range cases {
					v := c.match(&ev)
					if v == sigma.Yes && c.admits(r.EventSource, r.EventName) == sigma.No {
						t.Errorf("%s: matches %s, which its prefilter does not admit", c.name, r.EventID)
					}
					switch v {
					case sigma.Yes:
						yes[i][r.EventID] = true
					case sigma.Unknown:
						unknown[i][r.EventID] = true
					}
				}
			}
		}
	}
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: sources, Written: written}); err != nil && !strings.Contains(err.Error(), "error") {
		t.Fatal(err)
	}
	s, err := query.Open(ctx, lk, query.Options{Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	unknowns := map[string]int{}
	for i, c := range cases {
		res, err := s.RunInternal(ctx, "SELECT eventid FROM "+query.StoreTable(st.ID)+" AS events WHERE "+c.predicate)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sqlSet := map[string]bool{}
		for _, row := range res.Rows {
			sqlSet[row[0].(string)] = true
		}
		var missing, extra []string
		for id := range sqlSet {
			if !yes[i][id] && !unknown[i][id] && seen[id] == 1 {
				missing = append(missing, id)
			}
		}
		for id := range yes[i] {
			if !sqlSet[id] && seen[id] == 1 {
				extra = append(extra, id)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing)+len(extra) > 0 {
			t.Errorf("%s: SQL matches %d events, Go %d (+%d unknown); only SQL: %v; only Go: %v", c.name,
				len(sqlSet), len(yes[i]), len(unknown[i]), first(missing, 5), first(extra, 5))
		}
		if n := len(unknown[i]); n > 0 {
			unknowns[c.name] = n
		}
	}
	return unknowns, len(seen)
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// TestGoMatcherEqualsSQLOnSamples runs every community rule and built-in through the Go
// matcher and the SQL over the real CloudTrail samples in testdata: the same matches, and no
// event left to the engine.
func TestGoMatcherEqualsSQLOnSamples(t *testing.T) {
	cases := goCases(t)
	var sources []string
	for _, d := range []string{"stratus-red-team-detonation-logs", "panther-analysis-cloudtrail-tests", "plaso-cloudtrail-lookupevents"} {
		sources = append(sources, testdata(d))
	}
	for _, f := range []string{"SerializerTestFile.json", "SerializerAllFieldsNull.json", "SerializerTestFileLocation.json"} {
		sources = append(sources, testdata("aws-cloudtrail-processing-library-serializer-tests", f))
	}
	unknowns, events := differential(t, cases, sources...)
	if events < 400 {
		t.Fatalf("only %d events in the samples", events)
	}
	if len(unknowns) > 0 {
		t.Errorf("events left to the engine on the samples: %v", unknowns)
	}
}

// TestGoMatcherEqualsSQLOnGenerated is the same over 20,000 generated events (every kind the
// generator makes, many of them matched by the community rules).
func TestGoMatcherEqualsSQLOnGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests 20,000 events")
	}
	out := generatetest.Trail(t, 20000, 3, 11, tenDaysAgo)
	unknowns, events := differential(t, goCases(t), filepath.Join(out, "AWSLogs"))
	if events < 20000 {
		t.Fatalf("%d events", events)
	}
	if len(unknowns) > 0 {
		t.Errorf("events left to the engine: %v", unknowns)
	}
}

// tenDaysAgo starts a generated trail at midnight ten days ago (within the stores' retention).
func tenDaysAgo(c *generate.Config) {
	c.Start = time.Now().UTC().AddDate(0, 0, -10).Truncate(24 * time.Hour)
}

// TestEvaluateGroupedWithGoEqualsSQL evaluates every community rule, the built-ins (with
// launch-compliance over the generator's approved templates) and a SQL rule over the files
// of an ingest of generated events twice: from the Go evaluation of the records as they were
// written (EvaluateGroupedWith, what alerts use) and in SQL over the committed files
// (EvaluateGrouped): the same groups, with the same first event and event ids, per rule.
func TestEvaluateGroupedWithGoEqualsSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests 20,000 events")
	}
	ctx := context.Background()
	out := generatetest.Trail(t, 20000, 3, 12, tenDaysAgo)
	approved, err := compliance.LoadConfig(filepath.Join(out, "approved-templates.json"))
	if err != nil {
		t.Fatal(err)
	}
	compiled, _, err := sigma.Load(testdata("sigma-aws-cloudtrail-rules", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	rs := rules.FromSigma(compiled)
	for _, b := range rules.Builtins {
		r := rules.Rule{ID: b.Name, Title: b.Title, Kind: rules.KindBuiltin, Builtin: b.Name, Severity: b.Severity, Enabled: true}
		if b.Name == rules.LaunchCompliance {
			r.Approved = approved
		}
		rs = append(rs, r)
	}
	rs = append(rs, rules.Rule{ID: "sql-rule", Title: "SQL", Kind: rules.KindSQL, Severity: "low", Enabled: true,
		SQL: "SELECT eventtime, eventid, eventname FROM {events} WHERE eventname = 'TerminateInstances'"})
	gs := make([]rules.Grouping, len(rs))
	for i := range gs {
		gs[i] = rules.Grouping{Key: "principal", Window: time.Hour}
		if i%3 == 1 {
			gs[i] = rules.Grouping{Key: "event"}
		}
	}
	// The records matched where they are written (Written alone), as they are decoded (Decoded),
	// as decoded with no verdict list kept (each matched again where written), and with
	// launch-compliance judged from the facts in Go (FactsCache): the SQL's groups every time.
	for _, v := range []struct {
		name           string
		decoded, facts bool
		lists, kinds   int
	}{{"written", false, false, 0, 0}, {"decoded", true, false, 0, 0}, {"decoded, no list kept", true, false, 1, 0},
		{"decoded, facts in Go", true, true, 0, 0}, {"decoded, two kinds read without the lock", true, false, 0, 2}} {
		t.Run(v.name, func(t *testing.T) {
			if v.lists > 0 {
				rules.SetMaxVerdictLists(t, v.lists)
			}
			if v.kinds > 0 {
				rules.SetMaxReadKinds(t, v.kinds)
			}
			lk, st := rulestest.EmptyLake(t)
			eval := rules.NewGoEval(rs, gs)
			facts := rules.NewFactsCache(lk)
			pre := map[string]*rules.GoResult{}
			parts := 0 // parts of files given after the file's first
			opts := ingest.Options{Sources: []string{filepath.Join(out, "AWSLogs")}, BatchRows: 5000}
			opts.Written = func(files []lake.DataFile, recs [][]*cloudtrail.Record, fs [][]lifecycle.Fact) {
				for p, r := range eval.Files(files, recs, fs, 2) { // the writer's facts
					// A file held across batches comes a batch's part at a time.
					if have := pre[p]; have != nil {
						have.Merge(r)
						parts++
					} else {
						pre[p] = r
					}
					facts.Append(p, r.Facts)
				}
			}
			if v.decoded {
				opts.Decoded = eval.Decoded
			}
			if _, err := ingest.CloudTrail(ctx, lk, st, opts); err != nil {
				t.Fatal(err)
			}
			if parts == 0 {
				t.Fatal("no file took records of two batches: the merge of a held file's parts is not tested")
			}
			if !v.facts {
				facts = nil
			}
			viaGo, viaSQL, _ := groupedBothWays(t, lk, st, rs, gs, pre, facts)
			matched := 0
			for i, r := range rs {
				a, b := groupsText(viaGo[i]), groupsText(viaSQL[i])
				if !slices.Equal(a, b) {
					t.Errorf("rule %s (%s): Go %d groups, SQL %d:\n%v\n%v", r.ID, r.Title, len(a), len(b), first(a, 3), first(b, 3))
				}
				matched += len(a)
			}
			if matched < 100 {
				t.Errorf("only %d groups: the test proves little", matched)
			}
		})
	}
}

// groupedBothWays evaluates rs, grouped by gs, over the files committed to st twice: with the
// Go results of their records (pre, by file, merged; judging launch-compliance from facts when
// not nil) as alerts are (EvaluateGroupedWith), and in SQL (EvaluateGrouped). It returns both,
// and the session they ran in.
func groupedBothWays(t *testing.T, lk *lake.Lake, st lake.Store, rs []rules.Rule, gs []rules.Grouping, pre map[string]*rules.GoResult,
	facts *rules.FactsCache) (viaGo, viaSQL [][]rules.MatchGroup, s *query.Session) {
	t.Helper()
	ctx := context.Background()
	m, release, err := lk.Snapshot(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	res := rules.NewGoResult()
	if facts != nil {
		res.UseFacts(facts)
	}
	for _, f := range m.Files {
		r := pre[f.Path]
		if r == nil {
			t.Fatalf("no Go result for %s", f.Path)
		}
		res.Merge(r)
	}
	s, err = query.Open(ctx, lk, query.Options{Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	target := rules.Target{Store: st, Files: m.Files}
	if viaGo, err = rules.EvaluateGroupedWith(ctx, rules.SessionOpener(s), rs, gs, target, res); err != nil {
		t.Fatal(err)
	}
	if viaSQL, err = rules.EvaluateGrouped(ctx, s, rs, gs, target, ""); err != nil {
		t.Fatal(err)
	}
	// A group's ids made as their JSON array (IDsJSON, which the alert's record copies whole)
	// are that array, as encoding/json writes it.
	made := 0
	for _, groups := range viaGo {
		for _, g := range groups {
			if g.IDsJSON == "" {
				continue
			}
			made++
			if want, _ := json.Marshal(g.EventIDs); string(want) != g.IDsJSON {
				t.Fatalf("IDsJSON %.200s, want %.200s", g.IDsJSON, want)
			}
		}
	}
	if made == 0 && len(m.Files) > 0 {
		for _, groups := range viaGo {
			if len(groups) > 0 {
				t.Fatal("no Go group has its ids as JSON")
			}
		}
	}
	return viaGo, viaSQL, s
}

// groupsText is each group as text: its first event's fields (not which of several events at
// the first time), and its event ids, sorted.
func groupsText(gs []rules.MatchGroup) []string {
	var out []string
	for _, g := range gs {
		f := g.First
		out = append(out, strings.Join([]string{f.Rule, f.Title, f.Severity, f.EventTime.String(), f.Principal, f.Account, f.Region, f.Resource,
			f.Summary, strings.Join(g.EventIDs, ",")}, "|"))
	}
	slices.Sort(out)
	return out
}

// TestFactsCacheDropsTheFactsOfAFailedCommit: an ingest whose commit fails (a data file of its
// second batch removed between its write and its commit) leaves the facts cache holding only
// the facts of committed files once the failed batches are given to Drop
// (ingest.Options.Uncommitted) — before, the facts of every batch written but not committed
// stayed for as long as the cache lived, since Store forgets only files it saw in a snapshot.
func TestFactsCacheDropsTheFactsOfAFailedCommit(t *testing.T) {
	ctx := context.Background()
	out := generatetest.Trail(t, 3000, 1, 13, tenDaysAgo)
	rs := []rules.Rule{{ID: "root-account-use", Kind: rules.KindBuiltin, Builtin: "root-account-use", Severity: "high", Enabled: true}}
	gs := []rules.Grouping{{Key: "principal", Window: time.Hour}}
	for _, drop := range []bool{false, true} {
		t.Run(fmt.Sprintf("drop=%v", drop), func(t *testing.T) {
			lk, st := rulestest.EmptyLake(t)
			eval := rules.NewGoEval(rs, gs)
			facts := rules.NewFactsCache(lk)
			batches, written, uncommitted := 0, map[string]bool{}, map[string]bool{}
			// Each batch committed on its own, so that the second one's commit fails (held files
			// are tested by the alerts' TestWatcherForgetsTheVerdictsOfAnAbortedHeldFile).
			opts := ingest.Options{Sources: []string{filepath.Join(out, "AWSLogs")}, BatchRows: 500, Workers: 1, CommitEachBatch: true}
			opts.Written = func(files []lake.DataFile, recs [][]*cloudtrail.Record, _ [][]lifecycle.Fact) {
				for p, r := range eval.Files(files, recs, nil, 1) { // facts computed by File
					facts.Add(p, r.Facts)
					written[p] = true
				}
				if batches++; batches == 2 {
					if err := os.Remove(lk.AbsPath(st.ID, files[0].Path)); err != nil {
						t.Fatal(err)
					}
				}
			}
			opts.Uncommitted = func(files []lake.DataFile) {
				for _, f := range files {
					if uncommitted[f.Path] {
						t.Errorf("%s given to Uncommitted twice", f.Path)
					}
					uncommitted[f.Path] = true
				}
				if drop {
					facts.Drop(files)
				}
			}
			if _, err := ingest.CloudTrail(ctx, lk, st, opts); err == nil {
				t.Fatal("the ingest did not fail")
			}
			s, err := query.Open(ctx, lk, query.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			live, _ := s.FactsFiles(st.ID)
			if len(live) == 0 || len(uncommitted) == 0 {
				t.Fatalf("%d files committed, %d not: the test proves little", len(live), len(uncommitted))
			}
			for _, f := range live {
				if uncommitted[f.Path] {
					t.Errorf("%s committed and given to Uncommitted", f.Path)
				}
				delete(written, f.Path)
			}
			for p := range written {
				if !uncommitted[p] {
					t.Errorf("%s written, neither committed nor given to Uncommitted", p)
				}
			}
			if _, err := facts.Store(ctx, s, st.ID); err != nil {
				t.Fatal(err)
			}
			if got := facts.Len(); drop && got != len(live) {
				t.Errorf("the cache keeps the facts of %d files, %d committed", got, len(live))
			} else if !drop && got == len(live) {
				t.Errorf("without Drop the cache keeps no more than the committed files: the test does not reproduce the leak")
			}
		})
	}
}
