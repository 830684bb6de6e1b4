package rules

import (
	"context"
	"time"

	"github.com/auditlake/auditlake/internal/query"
)

// SetSliceRows sets how many events h.Stream reads per query (huntSliceRows), so that tests
// cut a small store into several slices.
func SetSliceRows(h *Hunt, n int64) { h.sliceRows = n }

// Planned is which of the target's time slices Prepare found matches of rule id in (nil: the
// rule is not planned).
func Planned(h *Hunt, id string) []bool {
	plan := h.plans[id]
	if plan == nil {
		return nil
	}
	out := make([]bool, len(plan))
	for i, n := range plan {
		out[i] = n > 0
	}
	return out
}

// HasPrefilter says whether rule r is a predicate rule with a prefilter.
func HasPrefilter(r Rule) bool {
	c, err := compile(r)
	return err == nil && c.prefilter != ""
}

// Held says whether Prepare read and holds rule id's matches.
func Held(h *Hunt, id string) bool {
	_, ok := h.held[id]
	return ok
}

// BuiltinGo is built-in rule name's Go predicate and prefilter (nil for launch-compliance).
var BuiltinGo = builtinGo

// BuiltinPredicate is built-in rule name's SQL predicate ("" for launch-compliance).
func BuiltinPredicate(name string) string {
	b, _ := BuiltinNamed(name)
	return b.predicate
}

// SetMaxVerdictLists bounds the verdict lists a GoEval keeps (maxVerdictLists) until the test ends.
func SetMaxVerdictLists(t interface{ Cleanup(func()) }, n int) {
	old := maxVerdictLists
	maxVerdictLists = n
	t.Cleanup(func() { maxVerdictLists = old })
}

// SetMaxReadKinds bounds the event kinds a GoEval reads without its lock (maxReadKinds) until
// the test ends.
func SetMaxReadKinds(t interface{ Cleanup(func()) }, n int) {
	old := maxReadKinds
	maxReadKinds = n
	t.Cleanup(func() { maxReadKinds = old })
}

// Grouped is the ids of the rules Prepare grouped with rule id (read in one scan), id's
// included; nil when id is in no group.
func Grouped(h *Hunt, id string) []string {
	g := h.groups[id]
	if g == nil {
		return nil
	}
	var out []string
	for _, c := range g.cs {
		out = append(out, c.rule.ID)
	}
	return out
}

// SetSmallGroup sets the most items of a group whose ids finishGroups checks for repeats
// without a set (smallGroup) until the test ends.
func SetSmallGroup(t interface{ Cleanup(func()) }, n int) {
	old := smallGroup
	smallGroup = n
	t.Cleanup(func() { smallGroup = old })
}

// SetMaxSQLRows bounds the rows a SQL rule's run may return (maxSQLRows) until the test ends.
func SetMaxSQLRows(t interface{ Cleanup(func()) }, n int) {
	old := maxSQLRows
	maxSQLRows = n
	t.Cleanup(func() { maxSQLRows = old })
}

// CloneFact is cloneFact: a fact with its strings copied.
var CloneFact = cloneFact

// MicrosAndBucket is microsAndBucket: a time in microseconds and its window's start.
var MicrosAndBucket = microsAndBucket

// Ranges are the time ranges h.Stream reads rule r in, one query each (nil: one query over the
// whole target).
func Ranges(ctx context.Context, h *Hunt, r Rule) ([]query.TimeSlice, error) {
	c, err := compile(r)
	if err != nil {
		return nil, err
	}
	_, admitted, bySlice, none, err := h.narrowCount(ctx, c)
	if err != nil || none {
		return []query.TimeSlice{}, err
	}
	return h.ranges(c, admitted, bySlice), nil
}

// SetMaxVocabSlices sets how many time slices a target may have for its sources and names to be
// counted by slice (maxVocabSlices) until the test ends.
func SetMaxVocabSlices(t interface{ Cleanup(func()) }, n int) {
	old := maxVocabSlices
	maxVocabSlices = n
	t.Cleanup(func() { maxVocabSlices = old })
}

// Matched is the condition Prepare found limits rule id to the (eventsource, eventname) pairs
// of its matches ("": none, or all pairs).
func Matched(h *Hunt, id string) string { return h.matched[id] }

// MatchedIn is matchedIn over pairs: the condition limiting a query to pairs matched of all.
func MatchedIn(matched, all [][2]any) string {
	set := func(ps [][2]any) map[[2]any]bool {
		m := map[[2]any]bool{}
		for _, p := range ps {
			m[p] = true
		}
		return m
	}
	return matchedIn(set(matched), set(all))
}

// SetNoSink makes Stream read slices without the engine's sink (as when it fails) until the
// test ends.
func SetNoSink(t interface{ Cleanup(func()) }) {
	noSink = true
	t.Cleanup(func() { noSink = false })
}

// JoinChunk is joinChunk: a chunk of the sink's columns (time, matchFields) as match rows,
// each as its time, packed fields and id.
func JoinChunk(cols [][]string) (times []time.Time, packed, ids []string, err error) {
	rows, err := joinChunk(cols)
	for _, r := range rows {
		times, packed, ids = append(times, r.t), append(packed, r.packed), append(ids, r.id)
	}
	return times, packed, ids, err
}

// PackedMatch is the match rule r makes of an event with time t and packed fields (joined by
// NULs with the summary, as Stream reads them, or length-prefixed).
func PackedMatch(r Rule, t time.Time, packed string, joined bool) (Match, error) {
	c, err := compile(r)
	if err != nil {
		return Match{}, err
	}
	var m Match
	err = c.packedMatchInto(&m, t, packed, joined)
	return m, err
}
