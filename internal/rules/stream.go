package rules

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/query"
)

// huntSliceRows is how many events Stream reads per query at most (about: slices follow the
// files' time spans) for a rule that may match more than that. A slice's matches are ordered
// in Go before they are handed on, so this bounds what a hunt holds: a slice's matches (an
// event's match row is about 300 bytes, so ~75 MiB when every event of a slice matches; the
// engine's sink hands them on as it computes them, sinkSlice, where a result would hold them
// in the engine too), whatever the store's size. Smaller slices
// cost a query each; larger ones cost memory and its page faults (AssumeRole Misuse over 1M
// events: 1M-event slices 6.3 s CPU and 789 MiB, 100k-event slices 4.9 s and 294 MiB).
const huntSliceRows = 1 << 18

// Prepare readies the hunt to Stream rules rs one after the other. The predicate rules without a
// prefilter would each read every event of the target, slice by slice; Prepare counts their
// matches by slice in one shared scan instead, and each then reads only the slices where it has
// matches (none at all for a rule that matches nothing); the rules with few matches (together
// at most a slice's worth) are read in one more shared scan and held until Stream hands them
// on. The matches and their order are the same; if the
// shared scan fails (one rule's predicate failing on these events), the rules run unprepared
// and each reports its own error.
//
// The shared scan also reads the target's sources and names by slice (readVocab's), which the
// rules with a prefilter need: one scan of the events fewer.
//
// The predicate rules whose prefilters admit the same events (the three ConsoleLogin rules)
// are grouped: Stream reads them in one scan when the first of them runs (groupRules).
func (h *Hunt) Prepare(ctx context.Context, rs []Rule) {
	if h.target.Files != nil {
		return
	}
	h.plan(ctx, rs)
	h.groupRules(ctx, rs)
}

// plan is Prepare's shared scan of the predicate rules of rs without a prefilter, and its scan
// of those with few matches.
func (h *Hunt) plan(ctx context.Context, rs []Rule) {
	var cs []*compiled
	for _, r := range rs {
		if c, err := compile(r); err == nil && c.predicate != "" && c.prefilter == "" {
			cs = append(cs, c)
		}
	}
	if len(cs) < 2 { // one rule's own scans cost what the shared one would
		return
	}
	sl := h.timeSlices()
	index := sliceIndex("eventtime", sliceCuts(sl))
	counts := make([]string, len(cs))
	for i, c := range cs {
		counts[i] = countMatches(c.predicate)
	}
	cols := index + " AS auditlake_slice, " + strings.Join(counts, ", ")
	at := 0 // the slice's column
	byPair := len(sl) <= maxVocabSlices
	if byPair {
		cols, at = "eventsource, eventname, count(*), "+cols, 3
	}
	res, err := h.s.RunInternal(ctx, "SELECT "+cols+" FROM "+h.relation+" AS events GROUP BY ALL")
	if err != nil {
		return
	}
	if byPair && !h.read {
		h.keepVocab(res.Rows, sl)
	}
	plans := make(map[string][]int64, len(cs))
	totals := make([]int64, len(cs))
	for _, c := range cs {
		plans[c.rule.ID] = make([]int64, len(sl))
	}
	// The (eventsource, eventname) pairs of the target, and of each rule's matches.
	all := map[[2]any]bool{}
	pairs := make([]map[[2]any]bool, len(cs))
	for k := range pairs {
		pairs[k] = map[[2]any]bool{}
	}
	for _, row := range res.Rows {
		i, ok := row[at].(int32)
		if !ok || i < 0 || int(i) >= len(sl) {
			return // not a slice (an event without a time): unprepared
		}
		pair := [2]any{}
		if byPair {
			pair = [2]any{row[0], row[1]}
			all[pair] = true
		}
		for k, c := range cs {
			if n, _ := row[at+1+k].(int64); n > 0 {
				plans[c.rule.ID][i] += n
				totals[k] += n
				pairs[k][pair] = true
			}
		}
	}
	h.plans = plans
	h.matched = make(map[string]string, len(cs))
	if byPair {
		for k, c := range cs {
			h.matched[c.rule.ID] = matchedIn(pairs[k], all)
		}
	}
	// The rules with few matches (together at most a slice's worth) are read in one more shared
	// scan, and their matches held until Stream hands them on.
	var few []*compiled
	held := int64(0)
	for k, c := range cs {
		if totals[k] > 0 && held+totals[k] <= h.perSlice() {
			few = append(few, c)
			held += totals[k]
		}
	}
	if len(few) == 0 {
		return
	}
	narrow := ""
	if byPair {
		union := map[[2]any]bool{}
		for k, c := range cs {
			if slices.Contains(few, c) {
				maps.Copy(union, pairs[k])
			}
		}
		narrow = matchedIn(union, all)
	}
	recs := make([][]matchRow, len(few))
	_, err = h.s.EachInternal(ctx, scanSQL(few, h.relation, narrow), func(row []any) error {
		i, _ := row[0].(int32)
		recs[i] = append(recs[i], newMatchRow(row[1:]))
		return nil
	})
	if err != nil {
		return // planned only
	}
	h.held = make(map[string][]matchRow, len(few))
	for i, c := range few {
		sortRows(recs[i])
		h.held[c.rule.ID] = recs[i]
	}
}

// matchedIn is the condition that limits a query to the (eventsource, eventname) pairs of
// matched, those of the target's events (all) where Prepare counted a rule's matches: "" when
// they are all of them. The condition is implied by the rule's predicate over the target,
// like a prefilter's (Hunt.narrowCount), but learnt from the events: a rule without a
// prefilter that matches few events matches them in few pairs (over the bench's 10M events,
// the root-account rules match in one of 31, ConsoleLogin's 375k events), and a scan of exact
// values reads those pairs' events only (the files are sorted by source and name) where the
// rule's case-insensitive comparisons read every event's columns: the root rules' scan took
// 2.2 s instead of 4.4 s. (The condition names each column's values, so it may admit pairs of
// those values that are not among matched: never fewer.)
func matchedIn(matched, all map[[2]any]bool) string {
	if len(matched) == 0 || len(matched) >= len(all) {
		return ""
	}
	rows := make([][]any, 0, len(matched))
	for p := range matched {
		rows = append(rows, []any{p[0], p[1]})
	}
	return inValues(rows)
}

// countMatches is the SQL of an aggregate counting the rows where predicate holds (not false,
// not NULL): count(*) FILTER (WHERE predicate) counts the same, but the engine computes a FILTER
// clause as a column of the rows, each AND and OR evaluating all its terms on every row, where
// CASE WHEN selects the rows as WHERE does: a term is evaluated only on the rows that the terms
// before it leave undecided. Over 10M events and the hunt's five rules without a prefilter
// (AWS-managed-role's regexp_matches after a contains on every row, the others' lower() of
// columns after the ones that fail) the count pass took 1.8 s instead of 3.0 s.
func countMatches(predicate string) string {
	return "count(CASE WHEN " + predicate + " THEN 1 END)"
}

// sliceIndex is the SQL of how many of cuts (ascending timestamp literals) the column col is at
// or after, an INTEGER; NULL when col is. It is a balanced tree of CASEs, a few comparisons an
// event, where the sum of one comparison per cut took 5x the time of the scan over 10M events
// and 38 cuts (0.76 s vs 0.15 s of the count pass's wall).
func sliceIndex(col string, cuts []string) string {
	var tree func(lo, hi int) string // the index, knowing it is in [lo, hi]
	tree = func(lo, hi int) string {
		if lo == hi {
			return strconv.Itoa(lo)
		}
		mid := (lo + hi + 1) / 2 // col >= cuts[mid-1]: the index is mid or more
		return "CASE WHEN " + col + " >= " + cuts[mid-1] + " THEN " + tree(mid, hi) + " ELSE " + tree(lo, mid-1) + " END"
	}
	return "CASE WHEN " + col + " IS NULL THEN NULL::INTEGER ELSE (" + tree(0, len(cuts)) + ")::INTEGER END"
}

// perSlice is how many events Stream reads per query for a rule that may match more.
func (h *Hunt) perSlice() int64 {
	if h.sliceRows > 0 {
		return h.sliceRows
	}
	return huntSliceRows
}

// maxVocabSlices is how many time slices a target may have at most for its sources and names
// to be counted by slice (readVocab, Hunt.Prepare): a row per pair and slice, ~800 over the
// bench's 10M events (31 pairs, 26 slices), but pairs × slices grows with the store (a busy
// account's hundreds of pairs over years of slices). Past it (~128M events) the vocabulary is
// read whole, and a rule with a prefilter reads every slice, one by one, as before. A var for
// tests.
var maxVocabSlices = 512

// timeSlices are the target's time slices of about perSlice events each
// (query.Session.TimeSlices), computed once.
func (h *Hunt) timeSlices() []query.TimeSlice {
	if h.slices == nil {
		h.slices = h.s.TimeSlices(h.target.Store.ID, h.target.From, h.target.To, h.perSlice())
	}
	return h.slices
}

// sliceCuts are the times where slices sl (consecutive, [From, To) each) meet, as SQL
// literals: an event's slice is how many of them its time is at or after (sliceIndex).
func sliceCuts(sl []query.TimeSlice) []string {
	cuts := make([]string, 0, len(sl)-1)
	for _, x := range sl[1:] {
		cuts = append(cuts, engine.TimestampLiteral(x.From))
	}
	return cuts
}

// ranges are the time ranges of the target Stream reads predicate rule c in, one query each,
// given how many events its prefilter admits (narrowCount): nil for one query over the whole
// target (not a store's range, or admitting at most a slice's worth), else the target's slices
// (timeSlices) with events the rule reads, merged by mergeSlices: by the events its prefilter
// admits in each, or (Hunt.Prepare counted them) its matches.
func (h *Hunt) ranges(c *compiled, admitted int64, bySlice []int64) []query.TimeSlice {
	per := h.perSlice()
	if h.target.Files != nil || admitted >= 0 && admitted <= per {
		return nil
	}
	counts := bySlice
	if plan := h.plans[c.rule.ID]; plan != nil {
		counts = plan
	}
	return mergeSlices(h.timeSlices(), counts, per)
}

// mergeSlices are the ranges Stream reads of slices sl for a rule with counts[i] events to read
// (or matches) in slice i: the slices without any are left out, and adjacent ones are read
// together while they hold at most limit together. A slice is cut by the target's events, not
// by those a rule reads: the bucket-enumeration rule reads under 1 % of the events, and one
// query per slice was 26 queries over 10M events for ~3,000 rows each (merged: it and the
// GetCallerIdentity rule 3.3 s → 2.8 s). A query still returns at most limit rows a rule (or
// one slice's, when that is more), as before. counts of another length (not known) leave sl
// as it is.
func mergeSlices(sl []query.TimeSlice, counts []int64, limit int64) []query.TimeSlice {
	if len(counts) != len(sl) {
		return sl
	}
	out := []query.TimeSlice{} // not nil: no range at all to read
	var acc int64
	prev := -2
	for i, x := range sl {
		n := counts[i]
		if n <= 0 {
			continue
		}
		// A slice left out between two is not read with them: for a rule without a
		// prefilter, reading it would cost its whole scan.
		if i == prev+1 && acc+n <= limit {
			out[len(out)-1].To = x.To
			acc += n
		} else {
			out = append(out, x)
			acc = n
		}
		prev = i
	}
	return out
}

// Stream runs rule r over the hunt's target and hands its matches to fn, oldest first (then by
// event id) — the matches Evaluate returns, in the same order — without holding them all. A
// predicate rule that may match more than a slice of events (no prefilter, or one that admits
// more events than that: query.Session.TimeSlices) runs one query per time slice of the target
// with events it reads (adjacent slices together while they hold a slice's worth of those:
// ranges) and orders each query's matches before the next is read; a SQL rule's rows come sorted by the
// engine (streamSQL), one at a time; any other runs one query. An error
// from fn stops the rule and is returned as it is. It returns how many matches fn was given.
func (h *Hunt) Stream(ctx context.Context, r Rule, fn func(*Match) error) (int, error) {
	c, err := compile(r)
	if err != nil {
		return 0, err
	}
	if c.launch && h.target.Files == nil { // the verdict's rows as they come
		var fnErr error
		n, err := c.streamLaunches(ctx, h.s, h.target, func(m *Match) error {
			fnErr = fn(m)
			return fnErr
		})
		if err != nil && fnErr == nil {
			err = fmt.Errorf("rule %s: %w", r.ID, err)
		}
		return n, err
	}
	if c.sql != "" {
		var fnErr error
		n, ok, err := c.streamSQL(ctx, h.s, h.relation, func(m *Match) error {
			fnErr = fn(m)
			return fnErr
		})
		if ok {
			if err != nil && fnErr == nil {
				err = fmt.Errorf("rule %s: %w", r.ID, err)
			}
			return n, err
		}
	}
	if c.predicate == "" { // a SQL rule or launch-compliance: their own queries
		ms, err := h.Evaluate(ctx, r)
		if err != nil {
			return 0, err
		}
		for i := range ms {
			if err := fn(&ms[i]); err != nil {
				return i, err
			}
		}
		return len(ms), nil
	}
	narrow, admitted, bySlice, none, err := h.narrowCount(ctx, c)
	if err != nil {
		return 0, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	if none {
		return 0, nil
	}
	per := h.perSlice()
	relations := []string{h.relation}
	if ranges := h.ranges(c, admitted, bySlice); ranges != nil {
		relations = relations[:0]
		for _, sl := range ranges {
			relations = append(relations, h.s.StoreRange(h.target.Store.ID, sl.From, sl.To))
		}
	}
	if held, ok := h.held[r.ID]; ok && h.target.Files == nil {
		delete(h.held, r.ID) // handed on once: a rule run again reads its matches again
		var m Match
		for i := range held {
			if err := c.packedMatchInto(&m, held[i].t, held[i].packed, false); err != nil {
				return i, fmt.Errorf("rule %s: %w", r.ID, err)
			}
			if err := fn(&m); err != nil {
				return i, err
			}
		}
		return len(held), nil
	}
	// The first rule of a group (Prepare) reads the group's matches: its own are handed on, the
	// others' kept for their turn (at most a slice's worth together).
	var group *groupRead
	if g := h.groups[r.ID]; g != nil && !g.read {
		g.read = true
		self := slices.IndexFunc(g.cs, func(x *compiled) bool { return x.rule.ID == r.ID })
		group = &groupRead{g: g, self: self, narrow: narrow, keep: make([][]matchRow, len(g.cs)), over: make([]bool, len(g.cs)), budget: per}
	}
	// The engine reads and orders the next slice while fn is handed the current one's matches
	// (two slices held at most): the engine's threads and fn's work overlap.
	type slice struct {
		recs   []matchRow
		order  []int // recs' order (orderRows)
		joined bool
		err    error
	}
	qctx, cancel := context.WithCancel(ctx)
	next := make(chan slice)
	go func() {
		defer close(next)
		size := 0 // the slice before's matches: a rule's slices hold about as many
		var scratch []rowKey
		for _, rel := range relations {
			var recs []matchRow
			var joined bool
			var err error
			if group != nil {
				if recs, err = group.readSlice(qctx, h, rel, size); err != nil && qctx.Err() == nil {
					// One of the other rules' predicates fails on these events: this rule
					// alone from this slice on, the others each on their own.
					group = nil
				}
			}
			if group == nil {
				recs, joined, err = h.readSlice(qctx, rel, c.where(narrow), size)
			}
			size = len(recs)
			var order []int
			if err == nil {
				order = orderRows(recs, &scratch)
			}
			select {
			case next <- slice{recs, order, joined, err}:
			case <-qctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() { // the session is free again when Stream returns
		cancel()
		for range next {
		}
	}()
	n := 0
	var m Match
	for sl := range next {
		if sl.err != nil {
			return n, fmt.Errorf("rule %s: %w", r.ID, sl.err)
		}
		for _, i := range sl.order {
			if err := c.packedMatchInto(&m, sl.recs[i].t, sl.recs[i].packed, sl.joined); err != nil {
				return n, fmt.Errorf("rule %s: %w", r.ID, err)
			}
			sl.recs[i] = matchRow{} // the slice's rows are released as they are handed on
			if err := fn(&m); err != nil {
				return n, err
			}
			n++
		}
	}
	if group != nil { // every slice read (the reader is done: next is closed)
		group.hold(h)
	}
	return n, nil
}

// ruleGroup is predicate rules with the same narrow condition (Hunt.Prepare), read in one scan.
type ruleGroup struct {
	cs   []*compiled
	read bool // Stream has read (or tried) the group's scan
}

// maxGroup is how many rules one group's scan evaluates at most: a slice's query returns a row
// per event and rule it matches.
const maxGroup = 4

// groupRules groups the predicate rules of rs with a prefilter by their narrow condition
// among the target's values: rules whose prefilters admit the same events (the community's
// and the built-in console-login rules) read them once.
func (h *Hunt) groupRules(ctx context.Context, rs []Rule) {
	open := map[string]*ruleGroup{}
	seen := map[string]bool{}
	var all []*ruleGroup
	for _, r := range rs {
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		c, err := compile(r)
		if err != nil || c.predicate == "" || c.prefilter == "" {
			continue
		}
		narrow, _, _, none, err := h.narrowCount(ctx, c)
		if err != nil || none || narrow == "" {
			continue
		}
		g := open[narrow]
		if g == nil || len(g.cs) == maxGroup {
			g = &ruleGroup{}
			open[narrow] = g
			all = append(all, g)
		}
		g.cs = append(g.cs, c)
	}
	for _, g := range all {
		if len(g.cs) < 2 {
			continue
		}
		if h.groups == nil {
			h.groups = map[string]*ruleGroup{}
		}
		for _, c := range g.cs {
			h.groups[c.rule.ID] = g
		}
	}
}

// groupRead is a group's scan as Stream runs it for rule g.cs[self]: its matches are handed on
// slice by slice, the other rules' kept (keep, by index in g.cs) until a rule's kept matches would make
// more than budget together (over: that rule then runs its own query when its turn comes).
type groupRead struct {
	g      *ruleGroup
	self   int
	narrow string
	keep   [][]matchRow
	over   []bool
	kept   int64
	budget int64
}

// readSlice reads the group's matches in relation rel: its rule's, unordered, and the others' into keep.
func (gr *groupRead) readSlice(ctx context.Context, h *Hunt, rel string, size int) ([]matchRow, error) {
	recs := make([]matchRow, 0, size)
	_, err := h.s.EachInternal(ctx, scanSQL(gr.g.cs, rel, gr.narrow), func(row []any) error {
		i, _ := row[0].(int32)
		if int(i) < 0 || int(i) >= len(gr.g.cs) {
			return fmt.Errorf("rule index %d out of range", i)
		}
		m := newMatchRow(row[1:])
		if int(i) == gr.self {
			recs = append(recs, m)
			return nil
		}
		if gr.over[i] {
			return nil
		}
		gr.keep[i] = append(gr.keep[i], m)
		if gr.kept++; gr.kept > gr.budget {
			gr.over[i] = true
			gr.kept -= int64(len(gr.keep[i]))
			gr.keep[i] = nil
		}
		return nil
	})
	return recs, err
}

// hold hands the kept matches of the group's other rules to h, in order, for their Stream.
func (gr *groupRead) hold(h *Hunt) {
	for i, c := range gr.g.cs {
		if i == gr.self || gr.over[i] {
			continue
		}
		sortRows(gr.keep[i])
		if h.held == nil {
			h.held = map[string][]matchRow{}
		}
		h.held[c.rule.ID] = gr.keep[i]
	}
}

// matchRow is a predicate rule's match as read: its time, matchColumns' packed fields, and its
// event id (a part of packed), for ordering.
type matchRow struct {
	t          time.Time
	packed, id string
}

// errAmbiguous stops reading a slice whose fields joined by NULs (joinChunk) cannot be split.
var errAmbiguous = errors.New("a match field holds a NUL")

// readSlice reads the matches of the events of relation rel where where holds, unordered, with
// its fields and summary joined by NULs (joined, joinChunk): through the engine's sink
// (sinkSlice), or as a result of the same columns when the sink fails; when a field holds a
// NUL itself, packed as matchColumns. size is how many matches to make
// room for at first: growing the slice row by row copies each match several times (and, while
// the collector runs, through its write barriers).
func (h *Hunt) readSlice(ctx context.Context, rel, where string, size int) (recs []matchRow, joined bool, err error) {
	recs, err = h.sinkSlice(ctx, rel, where, size)
	if err == nil || ctx.Err() != nil {
		return recs, true, err
	}
	if !errors.Is(err, errAmbiguous) { // the sink failing: the same columns as a result
		cols := make([][]string, 1+len(matchFields))
		_, err = h.s.EachInternal(ctx, "SELECT "+sinkArgs+" FROM "+rel+" AS events WHERE "+where, func(row []any) error {
			for i, v := range row {
				s, _ := v.(string) // NULL as "", as the sink hands it on
				cols[i] = append(cols[i], s)
			}
			return nil
		})
		if err == nil {
			recs, err = joinChunk(cols)
		}
		if !errors.Is(err, errAmbiguous) {
			return recs, true, err
		}
	}
	// A field holding a NUL: packed as matchColumns.
	recs = nil
	_, err = h.s.EachInternal(ctx, "SELECT "+matchColumns+" FROM "+rel+" AS events WHERE "+where, func(row []any) error {
		recs = append(recs, newMatchRow(row))
		return nil
	})
	return recs, false, err
}

// noSink makes sinkSlice fail, for tests of what Stream reads then.
var noSink = false

// sinkArgs are what sinkSlice's query hands the sink for each matching event: its time in
// microseconds since 1970 and matchFields (NULL as "").
var sinkArgs = "epoch_us(eventtime)::VARCHAR, " + strings.Join(matchFields[:], ", ")

// sinkSlice reads the matches of where in relation rel through the engine's sink
// (engine.SinkFuncName): each chunk of match rows reaches Go as the engine's threads compute
// it, its fields joined by NULs with the match's summary (joinChunk) into one string per
// chunk, where a result would be materialised by the engine first and then read a value
// at a time (AssumeRole Misuse over 10M events: 7.3M rows, ~5 s of CPU for the result alone),
// and where the engine joined them (concat_ws and the summary's concat: half of the engine's
// time for those rows, 3.3 of 6.8 s). The rows come in runs (a chunk's are in the files'
// order), not ordered. errAmbiguous when a field holds a NUL.
func (h *Hunt) sinkSlice(ctx context.Context, rel, where string, size int) ([]matchRow, error) {
	if noSink {
		return nil, errors.New("no sink")
	}
	var mu sync.Mutex
	recs := make([]matchRow, 0, size)
	var bad error
	sink := func(cols [][]string) {
		rows, err := joinChunk(cols)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if bad == nil {
				bad = err
			}
			return
		}
		recs = append(recs, rows...)
	}
	res, err := h.s.RunInternal(engine.WithSink(ctx, sink), "SELECT count("+engine.SinkFuncName+"("+sinkArgs+")) FROM "+rel+" AS events WHERE "+where)
	if err == nil && bad != nil {
		err = bad
	}
	if err == nil {
		if n, _ := res.Rows[0][0].(int64); n != int64(len(recs)) {
			err = fmt.Errorf("the sink had %d of %d rows", len(recs), n)
		}
	}
	return recs, err
}

// joinChunk is the match rows of a chunk of sinkArgs' columns: each row's time, and its fields
// and summary (writeSummary) joined by NULs (packedMatchInto reads them), all the chunk's in
// one string. errAmbiguous when a field holds a NUL.
func joinChunk(cols [][]string) ([]matchRow, error) {
	if len(cols) != 1+len(matchFields) {
		return nil, fmt.Errorf("the sink had %d columns, not %d", len(cols), 1+len(matchFields))
	}
	times, f := cols[0], cols[1:]
	n := len(times)
	size := 0
	for _, col := range f {
		for _, v := range col {
			if strings.IndexByte(v, 0) >= 0 {
				return nil, errAmbiguous
			}
			size += len(v)
		}
	}
	// The fields, the summary's (eventname, eventsource, principal and address again, and its
	// words), and the NULs.
	size += size + n*(len(matchFields)+len(" () by  from --"))
	var b strings.Builder
	b.Grow(size)
	ends := make([]int, n)
	for i := range n {
		for k := range f {
			b.WriteString(f[k][i])
			b.WriteByte(0)
		}
		writeSummary(&b, f[1][i], f[2][i], f[3][i], f[6][i])
		ends[i] = b.Len()
	}
	all := b.String()
	rows := make([]matchRow, n)
	at := 0
	for i := range n {
		var t time.Time
		if us := times[i]; us != "" {
			x, err := strconv.ParseInt(us, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("event time %q: %w", us, err)
			}
			t = time.UnixMicro(x).UTC() // as the engine's TIMESTAMP reads (duckdb-go)
		}
		packed := all[at:ends[i]]
		rows[i] = matchRow{t: t, packed: packed, id: packed[:len(f[0][i])]}
		at = ends[i]
	}
	return rows, nil
}

// newMatchRow is the match row of a row of matchColumns.
func newMatchRow(row []any) matchRow {
	packed, _ := row[1].(string)
	t, _ := row[0].(time.Time)
	return matchRow{t: t, packed: packed, id: firstField(packed)}
}

// sortRows orders match rows by compareRows.
func sortRows(recs []matchRow) {
	slices.SortFunc(recs, compareRows)
}

// compareRows orders match rows oldest first, then by event id (sortMatches' order), then by
// their fields: the same rows always come out in the same order.
func compareRows(a, b matchRow) int {
	if c := a.t.Compare(b.t); c != 0 {
		return c
	}
	if c := strings.Compare(a.id, b.id); c != 0 {
		return c
	}
	return strings.Compare(a.packed, b.packed)
}

// orderRows returns the order of recs by compareRows: the index in recs of the first row, the
// second, and so on. recs are left as they are (moving a slice's rows would take a second array
// of them, for the time the sort takes: ~17 MB for ~300k matches).
//
// A slice's matches come from the engine in runs already in time order (the files are written
// in time order, and each of the engine's scan threads hands on its chunks of a file in order),
// events of the same time not by event id: orderRows puts each run's events of the same time in
// order and merges the runs (AssumeRole Misuse over 10M events: ~500 runs in a slice of ~295k
// matches), as keys of their times and indexes (a merge reads those, not the rows, but for
// events of the same time), in scratch (grown to len(recs) as needed): 300k matches in ~500 runs
// are ordered in ~17 ms, where the sort of the rows took ~68 ms. When the runs are short or
// many events have the same time, it sorts them.
func orderRows(recs []matchRow, scratch *[]rowKey) []int {
	n := len(recs)
	order := make([]int, n)
	if n > math.MaxInt32 { // rowKey's index
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return compareRows(recs[a], recs[b]) })
		return order
	}
	if cap(*scratch) < 2*n {
		*scratch = make([]rowKey, 2*n)
	}
	keys, tmp := (*scratch)[:n], (*scratch)[n:2*n]
	for i := range recs {
		keys[i] = rowKey{sec: recs[i].t.Unix(), id: idPrefix(recs[i].id), nsec: int32(recs[i].t.Nanosecond()), i: int32(i)}
	}
	compare := func(a, b rowKey) int {
		if a.sec != b.sec {
			return cmp.Compare(a.sec, b.sec)
		}
		if a.nsec != b.nsec {
			return cmp.Compare(a.nsec, b.nsec)
		}
		if a.id != b.id {
			return cmp.Compare(a.id, b.id)
		}
		return compareRows(recs[a.i], recs[b.i])
	}
	done := func(keys []rowKey) []int {
		for k, x := range keys {
			order[k] = int(x.i)
		}
		return order
	}
	// The runs: starts[k] is where run k begins. Within a run, each match is moved back past
	// those of its time that come after it (shifts counts the moves).
	starts := []int{0}
	shifts := 0
	for i := 1; i < n; i++ {
		x, prev := keys[i], keys[i-1]
		if x.sec < prev.sec || x.sec == prev.sec && x.nsec < prev.nsec {
			if starts = append(starts, i); len(starts) > n/64+8 { // short runs
				slices.SortFunc(keys, compare)
				return done(keys)
			}
			continue
		}
		if compare(prev, x) <= 0 {
			continue
		}
		j, lo := i, starts[len(starts)-1]
		for j > lo && compare(keys[j-1], x) > 0 {
			keys[j] = keys[j-1]
			j--
		}
		keys[j] = x
		if shifts += i - j; shifts > 4*n+1024 { // many events of the same time
			slices.SortFunc(keys, compare)
			return done(keys)
		}
	}
	starts = append(starts, n)
	src, dst := keys, tmp
	for len(starts) > 2 { // merge the runs pairwise, src to dst, until one is left
		merged := starts[:1]
		for k := 0; k+1 < len(starts); k += 2 {
			lo, mid := starts[k], starts[k+1]
			hi := mid
			if k+2 < len(starts) {
				hi = starts[k+2]
			}
			out, a, b := dst[lo:hi], src[lo:mid], src[mid:hi]
			i, j, o := 0, 0, 0
			for i < len(a) && j < len(b) {
				if compare(b[j], a[i]) < 0 {
					out[o] = b[j]
					j++
				} else {
					out[o] = a[i]
					i++
				}
				o++
			}
			o += copy(out[o:], a[i:])
			copy(out[o:], b[j:])
			merged = append(merged, hi)
		}
		starts = merged
		src, dst = dst, src
	}
	return done(src)
}

// rowKey is a match row's time, the first bytes of its event id (idPrefix) and its index, for
// orderRows.
type rowKey struct {
	sec  int64
	id   uint64
	nsec int32
	i    int32
}

// idPrefix is the first 8 bytes of id as a big-endian number, zeros after a shorter id: ids whose
// prefixes differ are in the order of their prefixes (strings.Compare's), so that orderRows
// compares the strings only when they agree. Events of the same second are common (CloudTrail's
// times are whole seconds): comparing their ids as strings was ~3 % of a hunt's CPU over 10M
// events.
func idPrefix(id string) uint64 {
	var b [8]byte
	copy(b[:], id)
	return binary.BigEndian.Uint64(b[:])
}

// firstField is the first of matchFields (the event id) packed in s, "" when s is malformed
// (unpackInto says so).
func firstField(s string) string {
	n, rest, _ := strings.Cut(s, ":")
	size, err := strconv.Atoi(n)
	if err != nil || size < 0 || size > len(rest) {
		return ""
	}
	return rest[:size]
}

// packedMatch is the match of an event with time t and matchFields packed (unpackInto).
func (c *compiled) packedMatch(t time.Time, packed string) (Match, error) {
	var m Match
	err := c.packedMatchInto(&m, t, packed, false)
	return m, err
}

// packedMatchInto is packedMatch into m (a hunt hands millions of matches on, one at a time), or
// with joined, of the fields and summary joined by NULs (joinChunk, none of them holding one).
func (c *compiled) packedMatchInto(m *Match, t time.Time, packed string, joined bool) error {
	var f [len(matchFields)]string
	if joined {
		for i := range len(f) {
			f[i], packed, _ = strings.Cut(packed, "\x00")
		}
	} else if err := unpackInto(f[:], packed); err != nil {
		return err
	}
	*m = c.match()
	m.EventTime = t
	m.EventID, m.EventName = f[0], f[1]
	m.Principal, m.Account, m.Region, m.SourceIP = f[3], f[4], f[5], f[6]
	if joined {
		m.Summary = packed
	} else {
		m.Summary = summaryOf(m.EventName, f[2], m.Principal, m.SourceIP)
	}
	return nil
}
