package rules_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/sigma"
)

// caseVariants returns copies of the detonations' records with eventSource and eventName in
// other cases (upper, lower, alternating), each under a new eventID: Sigma matches them
// case-insensitively, and a hunt narrowed to the values it read must find them all.
func caseVariants(t *testing.T) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(testdata("stratus-red-team-detonation-logs", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	alternate := func(s string) string {
		b := []rune(s)
		for i := range b {
			if i%2 == 0 {
				b[i] = []rune(strings.ToUpper(string(b[i])))[0]
			} else {
				b[i] = []rune(strings.ToLower(string(b[i])))[0]
			}
		}
		return string(b)
	}
	var out []map[string]any
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var recs []map[string]any
		if err := json.Unmarshal(data, &recs); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			src, _ := r["eventSource"].(string)
			name, _ := r["eventName"].(string)
			for k, fn := range []func(string) string{strings.ToUpper, strings.ToLower, alternate} {
				v := map[string]any{}
				for key, val := range r {
					v[key] = val
				}
				v["eventSource"], v["eventName"] = fn(src), fn(name)
				v["eventID"] = fmt.Sprintf("%v-case%d", r["eventID"], k)
				out = append(out, v)
			}
		}
	}
	return out
}

// allRules is the 57 community rules and the three predicate built-ins.
func allRules(t *testing.T) []rules.Rule {
	t.Helper()
	rs, refused, err := sigma.Load(testdata("sigma-aws-cloudtrail-rules", "rules"))
	if err != nil || len(refused) > 0 {
		t.Fatal(err, refused)
	}
	return append(rules.FromSigma(rs), builtin("root-account-use"), builtin("cloudtrail-logging-stopped"), builtin("console-login-without-mfa"))
}

// sameAsPredicate checks that a hunt of every rule (Hunt.Run: narrowed by the prefilters,
// the others in one scan), EvaluateAll and Evaluate one rule at a time each match exactly
// the events the rule's predicate alone selects in the store — the compilation before
// narrowing — and returns how many matches there were.
func sameAsPredicate(t *testing.T, s *query.Session, st lake.Store, rs []rules.Rule, sliceRows int64) int {
	t.Helper()
	ctx := context.Background()
	target := rules.Target{Store: st}
	hunt, errs := rules.NewHunt(s, target).Run(ctx, rs)
	all, err := rules.EvaluateAll(ctx, s, rs, target)
	if err != nil {
		t.Fatal(err)
	}
	byRule := map[string][]string{}
	for _, m := range all {
		byRule[m.Rule] = append(byRule[m.Rule], m.EventID)
	}
	var prepared []*rules.Hunt
	for _, per := range []int64{0, sliceRows} {
		h := rules.NewHunt(s, target)
		rules.SetSliceRows(h, per)
		h.Prepare(ctx, rs)
		prepared = append(prepared, h)
	}
	total := 0
	for i, r := range rs {
		if errs[i] != nil {
			t.Fatalf("rule %s: %v", r.ID, errs[i])
		}
		pred, err := rules.Predicate(r)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.RunInternal(ctx, "SELECT eventid FROM "+query.StoreTable(st.ID)+" WHERE "+pred)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{}
		for _, row := range res.Rows {
			want = append(want, row[0].(string))
		}
		slices.Sort(want)
		one := ids(evaluate(t, s, st, r))
		fused := byRule[r.ID]
		slices.Sort(fused)
		if got := ids(hunt[i]); !slices.Equal(got, want) || !slices.Equal(one, want) || !slices.Equal(fused, want) {
			t.Errorf("rule %s (%s): the predicate matches %d events, the hunt %d, Evaluate %d, EvaluateAll %d", r.ID, r.Title, len(want), len(got), len(one), len(fused))
		}
		if !slices.IsSortedFunc(hunt[i], func(a, b rules.Match) int { return a.EventTime.Compare(b.EventTime) }) {
			t.Errorf("rule %s: matches not oldest first", r.ID)
		}
		// Stream, as auditlake hunt and the dashboard run it, in one query and in slices of
		// sliceRows events, unprepared and prepared (Hunt.Prepare: the rules without a
		// prefilter read only the slices where they match): the matches Evaluate returns, in
		// its order.
		for k, per := range []int64{0, sliceRows, 0, sliceRows} {
			h := rules.NewHunt(s, target)
			rules.SetSliceRows(h, per)
			if k >= 2 {
				h = prepared[k-2]
			}
			var streamed []rules.Match
			n, err := h.Stream(ctx, r, func(m *rules.Match) error {
				streamed = append(streamed, *m)
				return nil
			})
			if ev := evaluate(t, s, st, r); err != nil || n != len(streamed) || len(ev) != len(streamed) || len(ev) > 0 && !reflect.DeepEqual(streamed, ev) {
				t.Errorf("rule %s, slices of %d events: Stream gave %d matches (%d counted, error %v), not Evaluate's %d in its order",
					r.ID, per, len(streamed), n, err, len(one))
			}
			if k == 3 && rules.Planned(h, r.ID) != nil && len(want) > 0 && !slices.Contains(rules.Planned(h, r.ID), true) {
				t.Errorf("rule %s: %d matches, but Prepare planned no slice", r.ID, len(want))
			}
		}
		total += len(want)
	}
	return total
}

// TestHuntMatchesThePredicateOnRealSamples: over the real samples (stratus-red-team
// detonations, panther-analysis cases) and their case variants, narrowing changes no rule's
// matches.
func TestHuntMatchesThePredicateOnRealSamples(t *testing.T) {
	records := append(caseVariants(t), pantherCases(t, "AWS.Root.Activity | Root Activity", "AWS.Console.LoginWithoutMFA | No MFA Login - IAM User",
		"AWS.CloudTrail.Stopped | CloudTrail Was Stopped")...)
	_, s, st := newStore(t, records, testdata("stratus-red-team-detonation-logs"))
	n := sameAsPredicate(t, s, st, allRules(t), 50)
	if n < 200 {
		t.Errorf("only %d matches: the samples and their case variants should give more", n)
	}
}

// TestHuntMatchesThePredicateOnGeneratedData: the same over the generator's events (the
// bench's data).
func TestHuntMatchesThePredicateOnGeneratedData(t *testing.T) {
	lk, s, st := generatedStore(t, 20000, 7)
	// Slices of 2000 events: one a day at least (the store's files are a day's each), and the
	// slices of one day where the day's files do not overlap in time.
	checkSlices(t, lk, s, st, 2000)
	if n := sameAsPredicate(t, s, st, allRules(t), 2000); n < 1000 {
		t.Errorf("only %d matches over the generated events", n)
	}
}

// generatedStore is a store of the generator's events over 3 days.
func generatedStore(t *testing.T, events int, seed uint64) (*lake.Lake, *query.Session, lake.Store) {
	t.Helper()
	gen := generatetest.Trail(t, events, 3, seed)
	return newStore(t, nil, filepath.Join(gen, "AWSLogs"))
}

// checkSlices checks query.Session.TimeSlices over the store: several slices that cover all time
// in order, each of which reads whole files (no file's time span crosses a cut), whatever the
// range's bounds.
func checkSlices(t *testing.T, lk *lake.Lake, s *query.Session, st lake.Store, rows int64) {
	t.Helper()
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	var first time.Time
	for _, f := range m.Files {
		if first.IsZero() || f.MinTime.Before(first) {
			first = f.MinTime
		}
	}
	for _, r := range [][2]time.Time{{}, {first.Add(time.Hour), time.Time{}}, {time.Time{}, first.Add(30 * time.Hour)}} {
		sl := s.TimeSlices(st.ID, r[0], r[1], rows)
		if r == [2]time.Time{} && len(sl) < 3 {
			t.Errorf("%d events in slices of %d: %d slices, want one a day at least", m.Rows(), rows, len(sl))
		}
		if !sl[0].From.Equal(r[0]) || !sl[len(sl)-1].To.Equal(r[1]) {
			t.Errorf("slices of %v: %v, not from the range's start to its end", r, sl)
		}
		for i := 1; i < len(sl); i++ {
			cut := sl[i].From
			if !cut.Equal(sl[i-1].To) || !cut.After(sl[i-1].From) {
				t.Errorf("slices of %v: %v and %v are not consecutive", r, sl[i-1], sl[i])
			}
			for _, f := range m.Files {
				if f.MinTime.Before(cut) && !f.MaxTime.Before(cut) {
					t.Errorf("slices of %v: the cut at %v is inside file %s (%v to %v)", r, cut, f.Path, f.MinTime, f.MaxTime)
				}
			}
		}
	}
}

// TestHuntOverNoEvents: an empty range reads no values; every rule matches nothing.
func TestHuntOverNoEvents(t *testing.T) {
	_, s, st := newStore(t, pantherCases(t, "AWS.Root.Activity | Root Activity"))
	rs := allRules(t)
	farFuture := time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)
	mss, errs := rules.NewHunt(s, rules.Target{Store: st, From: farFuture, To: farFuture.AddDate(1, 0, 0)}).Run(context.Background(), rs)
	for i := range rs {
		if errs[i] != nil || len(mss[i]) != 0 {
			t.Errorf("rule %s: %d matches, %v", rs[i].ID, len(mss[i]), errs[i])
		}
	}
}

// TestMatchFieldsAsRecorded: a match's fields come back exactly as the record has them, with
// the characters the packed match row uses (':' and digits), a NUL, non-ASCII text, and
// missing fields.
func TestMatchFieldsAsRecorded(t *testing.T) {
	name := "Delete:12:Bucket\x00ü"
	rec := map[string]any{"eventVersion": "1.08", "eventID": "7:ev\u00e9", "eventTime": "2026-03-01T10:00:00Z", "eventSource": "s3.amazonaws.com",
		"eventName": name, "awsRegion": "eu-west-1", "recipientAccountId": "111122223333",
		"userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/a:1"}}
	bare := map[string]any{"eventVersion": "1.08", "eventID": "bare", "eventTime": "2026-03-01T11:00:00Z", "eventSource": "s3.amazonaws.com",
		"eventName": "DeleteBucket"}
	_, s, st := newStore(t, []map[string]any{rec, bare})
	sr, err := sigma.Parse("r.yml", []byte("title: t\nid: r1\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventName|contains: bucket\n  condition: sel\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := rules.FromSigma([]*sigma.Rule{sr})[0]
	ms := evaluate(t, s, st, r)
	if len(ms) != 2 {
		t.Fatalf("%d matches: %+v", len(ms), ms)
	}
	// Stream, in slices (its fields joined by NULs, unless one holds a NUL, as here), the same.
	h := rules.NewHunt(s, rules.Target{Store: st})
	rules.SetSliceRows(h, 1)
	var streamed []rules.Match
	if _, err := h.Stream(context.Background(), r, func(m *rules.Match) error { streamed = append(streamed, *m); return nil }); err != nil || !reflect.DeepEqual(streamed, ms) {
		t.Errorf("Stream: %+v, %v; Evaluate %+v", streamed, err, ms)
	}
	m := ms[0]
	if m.EventID != "7:ev\u00e9" || m.EventName != name || m.Principal != "arn:aws:iam::111122223333:user/a:1" || m.Account != "111122223333" ||
		m.Region != "eu-west-1" || m.SourceIP != "" || m.Summary != name+" (s3.amazonaws.com) by arn:aws:iam::111122223333:user/a:1 from -" {
		t.Errorf("match %+v", m)
	}
	if b := ms[1]; b.EventID != "bare" || b.Principal != "" || b.Account != "" || b.Region != "" || b.Summary != "DeleteBucket (s3.amazonaws.com) by - from -" {
		t.Errorf("match of a bare record %+v", b)
	}
}

// TestStreamWithoutTheSink: when the engine's sink fails, Stream reads each slice's matches as
// a result instead, the same matches in the same order as Evaluate's (and as through the sink,
// which the other tests of Stream read).
func TestStreamWithoutTheSink(t *testing.T) {
	_, s, st := generatedStore(t, 3000, 5)
	ctx := context.Background()
	rules.SetNoSink(t)
	h := rules.NewHunt(s, rules.Target{Store: st})
	rules.SetSliceRows(h, 500)
	streamedSome := false
	for _, r := range allRules(t) {
		var streamed []rules.Match
		if _, err := h.Stream(ctx, r, func(m *rules.Match) error { streamed = append(streamed, *m); return nil }); err != nil {
			t.Fatal(err)
		}
		ev := evaluate(t, s, st, r)
		if len(ev) != len(streamed) || len(ev) > 0 && !reflect.DeepEqual(ev, streamed) {
			t.Errorf("rule %s without the sink: %d matches, Evaluate %d", r.ID, len(streamed), len(ev))
		}
		streamedSome = streamedSome || len(ev) > 500
	}
	if !streamedSome {
		t.Error("no rule matched more than a slice's worth: none read in slices")
	}
}

// TestJoinChunkIsThePackedMatch: a chunk of the sink's columns becomes match rows whose time is
// the engine's TIMESTAMP as duckdb-go reads it (UTC; "" is NULL, the zero time), whose id is
// the event id, and whose match (packedMatchInto) is the one the length-prefixed fields make —
// the summary joinChunk writes included, with "-" for an empty principal or address. A field
// holding a NUL makes the chunk ambiguous; a chunk of other columns is refused.
func TestJoinChunkIsThePackedMatch(t *testing.T) {
	cols := [][]string{
		{"1788220800000000", "", "-1500000", "1788220800123456"},
		{"id-1", "id-2", "", "é:3"},                        // eventid
		{"AssumeRole", "", "Get:Object", "X"},              // eventname
		{"sts.amazonaws.com", "s3.amazonaws.com", "", "y"}, // eventsource
		{"arn:aws:sts::1:assumed-role/r/s", "", "p", ""},   // principal
		{"111122223333", "", "", "1"},                      // account
		{"eu-west-1", "", "", "r"},                         // region
		{"10.0.0.1", "", "", ""},                           // address
	}
	times, packed, ids, err := rules.JoinChunk(cols)
	if err != nil || len(packed) != 4 {
		t.Fatalf("%d rows, %v", len(packed), err)
	}
	r := builtin("root-account-use")
	for i := range packed {
		want := time.Time{}
		if us := cols[0][i]; us != "" {
			n, _ := strconv.ParseInt(us, 10, 64)
			want = time.UnixMicro(n).UTC()
		}
		if times[i] != want || ids[i] != cols[1][i] {
			t.Errorf("row %d: time %v id %q, want %v %q", i, times[i], ids[i], want, cols[1][i])
		}
		var lp strings.Builder // the same fields, length-prefixed (matchColumns)
		for _, col := range cols[1:] {
			fmt.Fprintf(&lp, "%d:%s", len(col[i]), col[i])
		}
		got, err1 := rules.PackedMatch(r, times[i], packed[i], true)
		want2, err2 := rules.PackedMatch(r, times[i], lp.String(), false)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want2) {
			t.Errorf("row %d: %+v (%v), want %+v (%v)", i, got, err1, want2, err2)
		}
	}
	if _, p, _, _ := rules.JoinChunk(cols); !strings.HasSuffix(p[1], "\x00 (s3.amazonaws.com) by - from -") {
		t.Errorf("summary of a bare row: %q", p[1])
	}
	cols[3][2] = "a\x00b"
	if _, _, _, err := rules.JoinChunk(cols); err == nil {
		t.Error("a NUL in a field: no error")
	}
	if _, _, _, err := rules.JoinChunk(cols[:5]); err == nil {
		t.Error("five columns: no error")
	}
}

// TestPrepareReadsOnlySlicesWithMatches: over the generator's events in slices, Hunt.Prepare
// plans the predicate rules without a prefilter (and no other) by slice: a slice is planned
// exactly when the rule's predicate matches an event in its time span; the rules with few matches
// are read at once and held. A shared scan that fails
// leaves the hunt unprepared, with the same matches.
func TestPrepareReadsOnlySlicesWithMatches(t *testing.T) {
	_, s, st := generatedStore(t, 6000, 11)
	ctx := context.Background()
	target := rules.Target{Store: st}
	rs := allRules(t)
	h := rules.NewHunt(s, target)
	rules.SetSliceRows(h, 1000)
	h.Prepare(ctx, rs)
	sl := s.TimeSlices(st.ID, time.Time{}, time.Time{}, 1000)
	if len(sl) < 3 {
		t.Fatalf("%d slices", len(sl))
	}
	planned, matching := 0, 0
	for _, r := range rs {
		pred, _ := rules.Predicate(r)
		plan := rules.Planned(h, r.ID)
		if plan != nil && rules.HasPrefilter(r) {
			t.Errorf("rule %s has a prefilter, and a plan", r.ID)
		}
		if plan == nil {
			continue
		}
		planned++
		for i, x := range sl {
			res, err := s.RunInternal(ctx, "SELECT count(*) FROM "+s.StoreRange(st.ID, x.From, x.To)+" AS events WHERE "+pred)
			if err != nil {
				t.Fatal(err)
			}
			n := res.Rows[0][0].(int64)
			if (n > 0) != plan[i] {
				t.Errorf("rule %s, slice %d: %d matches, planned %v", r.ID, i, n, plan[i])
			}
			if n > 0 {
				matching++
			}
		}
	}
	// The rules with few matches (here: at most 1000 together) were read in one more scan, and
	// Stream hands on what Evaluate returns.
	held := 0
	for _, r := range rs {
		if !rules.Held(h, r.ID) {
			continue
		}
		held++
		var streamed []rules.Match
		if _, err := h.Stream(ctx, r, func(m *rules.Match) error { streamed = append(streamed, *m); return nil }); err != nil {
			t.Fatal(err)
		}
		if ev := evaluate(t, s, st, r); len(ev) == 0 || !reflect.DeepEqual(ev, streamed) {
			t.Errorf("rule %s held: %d matches, Evaluate %d", r.ID, len(streamed), len(ev))
		}
	}
	if held == 0 {
		t.Errorf("no rule's matches held")
	}
	if planned < 2 || matching == 0 {
		t.Errorf("%d rules planned, %d slices with matches: the rules without a prefilter should be planned", planned, matching)
	}

	// The shared scan failing (here: cancelled) leaves the hunt unprepared, with the same matches.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	h = rules.NewHunt(s, target)
	rules.SetSliceRows(h, 1000)
	h.Prepare(cancelled, rs)
	for _, r := range rs {
		if rules.Planned(h, r.ID) != nil {
			t.Fatalf("rule %s planned although the shared scan failed", r.ID)
		}
		var streamed []rules.Match
		if _, err := h.Stream(ctx, r, func(m *rules.Match) error { streamed = append(streamed, *m); return nil }); err != nil {
			t.Fatal(err)
		}
		if ev := evaluate(t, s, st, r); len(ev) != len(streamed) || len(ev) > 0 && !reflect.DeepEqual(ev, streamed) {
			t.Errorf("rule %s unprepared: %d matches, Evaluate %d", r.ID, len(streamed), len(ev))
		}
	}
}

// TestPrepareNarrowsRulesToThePairsOfTheirMatches: Prepare learns, for each rule without a
// prefilter, the sources and names of its matches, and the rule's queries read only events of
// those (Hunt.matched): over the generator's events the root rules match ConsoleLogin events
// only. The condition holds for every match of the rule (the matches are the same: the tests
// of Stream and of held rules compare them with Evaluate's), and leaves out events.
func TestPrepareNarrowsRulesToThePairsOfTheirMatches(t *testing.T) {
	_, s, st := generatedStore(t, 6000, 11)
	ctx := context.Background()
	h := rules.NewHunt(s, rules.Target{Store: st})
	h.Prepare(ctx, allRules(t))
	narrowed := 0
	for _, r := range allRules(t) {
		cond := rules.Matched(h, r.ID)
		if cond == "" {
			continue
		}
		if rules.Planned(h, r.ID) == nil {
			t.Errorf("rule %s is not planned, but narrowed to %s", r.ID, cond)
		}
		narrowed++
		pred, _ := rules.Predicate(r)
		res, err := s.RunInternal(ctx, "SELECT count(*) FILTER (WHERE ("+pred+") AND NOT coalesce("+cond+", false)), count(*) FILTER (WHERE NOT coalesce("+cond+", false)) FROM "+s.StoreRange(st.ID, time.Time{}, time.Time{})+" AS events")
		if err != nil {
			t.Fatal(err)
		}
		if lost, out := res.Rows[0][0].(int64), res.Rows[0][1].(int64); lost != 0 || out == 0 {
			t.Errorf("rule %s narrowed to %s: %d matches left out, %d events", r.ID, cond, lost, out)
		}
	}
	if rootUse := rules.Matched(h, "root-account-use"); !strings.Contains(rootUse, "'ConsoleLogin'") || narrowed < 2 {
		t.Errorf("%d rules narrowed; root-account-use to %q", narrowed, rootUse)
	}

	// A pair with NULL leaves its column unrestricted; all pairs, or none, give no condition.
	a, b, c := [2]any{"s3.amazonaws.com", "GetObject"}, [2]any{"iam.amazonaws.com", nil}, [2]any{"kms.amazonaws.com", "Decrypt"}
	for _, tc := range []struct {
		matched, all [][2]any
		want         string
	}{
		{[][2]any{a}, [][2]any{a, b, c}, "eventsource IN ('s3.amazonaws.com') AND eventname IN ('GetObject')"},
		{[][2]any{a, b}, [][2]any{a, b, c}, "eventsource IN ('iam.amazonaws.com', 's3.amazonaws.com')"},
		{[][2]any{a, b, c}, [][2]any{a, b, c}, ""},
		{nil, [][2]any{a, b, c}, ""},
	} {
		if got := rules.MatchedIn(tc.matched, tc.all); got != tc.want {
			t.Errorf("MatchedIn(%v of %v) = %q, want %q", tc.matched, tc.all, got, tc.want)
		}
	}
}

// TestStreamReadsRangesOfAdjacentSlices: over the generator's events in slices, Stream reads
// each rule in ranges of adjacent slices (Ranges), unprepared (by the events its prefilter
// admits in each slice) and prepared (by the matches Prepare counted): in time order and apart,
// each beginning and ending where slices do, together holding every match of the rule, each at
// most a slice's worth of them unless it is one slice; and a rule that reads few of a slice's
// events reads several slices in one query. Over more slices than the sources and names are
// counted by (maxVocabSlices), a rule with a prefilter reads every slice, one by one.
func TestStreamReadsRangesOfAdjacentSlices(t *testing.T) {
	// 12 days: a slice per day's file at least.
	_, s, st := newStore(t, nil, filepath.Join(generatetest.Trail(t, 6000, 12, 11), "AWSLogs"))
	ctx := context.Background()
	target := rules.Target{Store: st}
	rs := allRules(t)
	const per = 100
	sl := s.TimeSlices(st.ID, time.Time{}, time.Time{}, per)
	if len(sl) < 8 {
		t.Fatalf("%d slices", len(sl))
	}
	for pass, prepared := range []bool{false, true, false, true} {
		if pass == 2 {
			rules.SetMaxVocabSlices(t, len(sl)-1)
		}
		h := rules.NewHunt(s, target)
		rules.SetSliceRows(h, per)
		if prepared {
			h.Prepare(ctx, rs)
		}
		merged, capped := 0, 0
		for _, r := range rs {
			ranges, err := rules.Ranges(ctx, h, r)
			if err != nil {
				t.Fatal(err)
			}
			if ranges == nil { // one query over the whole store
				continue
			}
			if pass >= 2 && rules.HasPrefilter(r) && len(ranges) > 0 {
				capped++
				if !reflect.DeepEqual(ranges, sl) {
					t.Errorf("over more slices than counted by: rule %s reads %v, not every slice", r.ID, ranges)
				}
			}
			pred, err := rules.Predicate(r)
			if err != nil {
				t.Fatal(err)
			}
			sum := int64(0)
			for k, x := range ranges {
				first := slices.IndexFunc(sl, func(y query.TimeSlice) bool { return y.From.Equal(x.From) })
				last := slices.IndexFunc(sl, func(y query.TimeSlice) bool { return y.To.Equal(x.To) })
				if first < 0 || last < first {
					t.Fatalf("prepared %v, rule %s: range %v is not slices %v", prepared, r.ID, x, sl)
				}
				if k > 0 && x.From.Before(ranges[k-1].To) {
					t.Errorf("prepared %v, rule %s: range %v before or over %v", prepared, r.ID, x, ranges[k-1])
				}
				res, err := s.RunInternal(ctx, "SELECT count(*) FROM "+s.StoreRange(st.ID, x.From, x.To)+" AS events WHERE "+pred)
				if err != nil {
					t.Fatal(err)
				}
				n := res.Rows[0][0].(int64)
				if last > first {
					merged++
					if n > per {
						t.Errorf("prepared %v, rule %s: %d matches in range %v of slices %d to %d", prepared, r.ID, n, x, first, last)
					}
				}
				sum += n
			}
			if want := len(evaluate(t, s, st, r)); sum != int64(want) {
				t.Errorf("prepared %v, rule %s: %d matches in its ranges, %d in all", prepared, r.ID, sum, want)
			}
		}
		if merged == 0 && pass < 2 {
			t.Errorf("prepared %v: no rule reads adjacent slices in one query", prepared)
		}
		if capped == 0 && pass >= 2 {
			t.Errorf("prepared %v, over more slices than counted by: no rule with a prefilter reads slices", prepared)
		}
	}
}

// TestGroupedRulesReadInOneScan: rules whose prefilters admit the same events (the community's
// and the built-in ConsoleLogin rules) are grouped by Hunt.Prepare; the first one Stream runs
// reads the group's matches in one scan and the others' are held for their turn, each the
// matches Evaluate returns in its order — whole, in slices, and when the held matches would
// exceed a slice's worth (the rule then runs its own query).
func TestGroupedRulesReadInOneScan(t *testing.T) {
	_, s, st := generatedStore(t, 6000, 11)
	ctx := context.Background()
	target := rules.Target{Store: st}
	rs := allRules(t)
	for _, per := range []int64{0, 1000, 1} {
		h := rules.NewHunt(s, target)
		rules.SetSliceRows(h, per)
		h.Prepare(ctx, rs)
		var group []string
		for _, r := range rs {
			if g := rules.Grouped(h, r.ID); len(g) > 1 && slices.Contains(g, "console-login-without-mfa") {
				group = g
				break
			}
		}
		if len(group) < 2 {
			t.Fatalf("slices of %d: the ConsoleLogin rules are not grouped", per)
		}
		for i, id := range group {
			r := rs[slices.IndexFunc(rs, func(r rules.Rule) bool { return r.ID == id })]
			want := evaluate(t, s, st, r)
			if i > 0 {
				// Held after the group's scan, unless a slice's worth (per) was exceeded.
				if held := rules.Held(h, id); held != (per != 1 || len(want) == 0) {
					t.Errorf("slices of %d: rule %s held %v (%d matches)", per, id, held, len(want))
				}
			}
			var streamed []rules.Match
			n, err := h.Stream(ctx, r, func(m *rules.Match) error { streamed = append(streamed, *m); return nil })
			if err != nil || n != len(want) || len(want) > 0 && !reflect.DeepEqual(streamed, want) {
				t.Errorf("slices of %d: rule %s streamed %d matches (%d counted, error %v), Evaluate %d", per, id, len(streamed), n, err, len(want))
			}
			if len(want) == 0 && per == 0 {
				t.Errorf("rule %s matches nothing in the generated store: the test checks nothing", id)
			}
			if rules.Held(h, id) {
				t.Errorf("rule %s still held after it was streamed", id)
			}
		}
	}
}
