package rules

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/query"
)

// Grouping is how a rule's matches are counted in alerts: one group per key — "principal",
// "account", "region", "resource" (the match's instance) or "event" (each match alone) — and
// Window (aligned as time.Time.Truncate aligns: on the zero time, which is UTC midnight for any
// window that divides a day).
type Grouping struct {
	Key    string
	Window time.Duration
}

// MatchGroup is the matches of one rule with one key in one window: its earliest match (one
// of them when several have the first time) and the ids of its matched events, oldest first
// (then by id), each once.
type MatchGroup struct {
	First    Match
	EventIDs []string
	// IDsJSON, when not "", is EventIDs as encoding/json writes a []string (HTML-safe), made
	// with them (finishGroups): the alerts store's record copies it whole instead of writing
	// each id again. EventIDs are substrings of it.
	IDsJSON string
}

// key is the group key of match m under g ("" for an unknown key).
func (g Grouping) key(m Match) string {
	switch g.Key {
	case "principal":
		return m.Principal
	case "account":
		return m.Account
	case "region":
		return m.Region
	case "resource":
		return m.Resource
	case "event":
		return m.EventID + "\x00" + m.Resource
	}
	return ""
}

// GroupMatches groups ms (one rule's matches) by g, each group's events oldest first; an event
// id (and resource) that appears twice is counted once, while each match that names no event
// (a row of an aggregate SQL rule) counts. The groups come oldest first.
func GroupMatches(ms []Match, g Grouping) []MatchGroup {
	ms = slices.Clone(ms)
	sortMatches(ms)
	type gk struct {
		key    string
		bucket time.Time
	}
	index := map[gk]int{}
	seen := map[string]bool{}
	var out []MatchGroup
	for _, m := range ms {
		// An event (with its instance) is one match however often a rule returns it; a row
		// that names no event (an aggregate SQL rule's) is a finding of its own each.
		if id := m.EventID + "\x00" + m.Resource; m.EventID != "" && seen[id] {
			continue
		} else {
			seen[id] = true
		}
		k := gk{key: g.key(m)}
		if g.Key != "event" && g.Window > 0 {
			k.bucket = m.EventTime.UTC().Truncate(g.Window)
		}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, MatchGroup{First: m})
		}
		out[i].EventIDs = append(out[i].EventIDs, m.EventID)
	}
	return out
}

// zeroTimeMicros is the Unix time of time.Time's zero (year 1), in microseconds: a window's
// bucket in SQL is counted from it, as Truncate counts.
const zeroTimeMicros = 62135596800 * 1_000_000

// EvaluateGrouped runs every rule of rs over target and returns, by rule, its matches grouped
// by gs (one Grouping per rule): what a commit's batch is evaluated with for alerts. The
// predicate rules run in one scan of the events (two small queries first read the batch's
// distinct sources and names and which of them each rule's prefilter admits, so that a rule
// tests exact values and one that admits none is left out), and the engine groups their
// matches: one row per group comes back, with its first match and its events' ids, never one
// row per matched event (most of a store's events can match a rule). SQL rules and
// launch-compliance run as Evaluate runs them and are grouped by GroupMatches. Rules that
// cannot be compiled or run come back as RuleErrors, with the other rules' matches; any other
// error (the batch's sources cannot be read, the context is done) stops the evaluation.
//
// exclude, when not "", is a SQL relation with the columns rule (a rule id) and eventid: the
// matches it lists are left out (events whose alerts are stored already); a row whose rule is
// empty leaves its event out for every rule (an event evaluated before).
func EvaluateGrouped(ctx context.Context, s *query.Session, rs []Rule, gs []Grouping, target Target, exclude string) ([][]MatchGroup, error) {
	if len(gs) != len(rs) {
		return nil, fmt.Errorf("rules: %d groupings for %d rules", len(gs), len(rs))
	}
	h := NewHunt(s, target)
	out := make([][]MatchGroup, len(rs))
	failed := RuleErrors{}
	var cs []*compiled
	var idx []int
	// alone runs rule r as Evaluate runs it, its matches grouped by g.
	alone := func(r Rule, g Grouping) ([]MatchGroup, error) {
		ms, err := h.Evaluate(ctx, r)
		if err != nil {
			return nil, err
		}
		if exclude != "" && len(ms) > 0 {
			excluded, err := h.readExcluded(ctx, exclude, r.ID)
			if err != nil {
				return nil, err
			}
			ms = slices.DeleteFunc(ms, func(m Match) bool { return excluded[m.EventID] })
		}
		return GroupMatches(ms, g), nil
	}
	for i, r := range rs {
		c, err := compile(r)
		if err != nil {
			if failed.add(ctx, r.ID, err) {
				return nil, ctx.Err()
			}
			continue
		}
		if c.predicate == "" {
			if out[i], err = alone(r, gs[i]); err != nil && failed.add(ctx, r.ID, err) {
				return nil, ctx.Err()
			}
			continue
		}
		cs = append(cs, c)
		idx = append(idx, i)
	}
	if len(cs) == 0 {
		return failed.result(out)
	}
	narrows, err := h.narrowAll(ctx, cs)
	if err != nil {
		return nil, err
	}
	var run []*compiled
	var runIdx []int
	var conds []string
	var groupings []Grouping
	for k, c := range cs {
		if narrows[k] == nil {
			continue // its prefilter admits none of the batch's sources and names
		}
		run = append(run, c)
		runIdx = append(runIdx, idx[k])
		conds = append(conds, c.where(*narrows[k]))
		groupings = append(groupings, gs[idx[k]])
	}
	if len(run) == 0 {
		return failed.result(out)
	}
	groups, err := h.scanGrouped(ctx, run, conds, groupings, exclude)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// One rule's predicate fails on these events: each on its own, to say which (and
		// to keep the others' matches).
		for k, c := range run {
			if out[runIdx[k]], err = alone(c.rule, groupings[k]); err != nil && failed.add(ctx, c.rule.ID, err) {
				return nil, ctx.Err()
			}
		}
		return failed.result(out)
	}
	for k, g := range groups {
		out[runIdx[k]] = g
	}
	return failed.result(out)
}

// narrowAll is narrow for every rule of cs with one query over the target's sources and names:
// by rule, nil when its prefilter admits none of them, else the condition that limits it to
// those it admits ("" when it has no prefilter or they could not be read).
func (h *Hunt) narrowAll(ctx context.Context, cs []*compiled) ([]*string, error) {
	out := make([]*string, len(cs))
	var cases []string
	var with []int
	for k, c := range cs {
		empty := ""
		out[k] = &empty
		if c.prefilter != "" {
			cases = append(cases, "CASE WHEN "+c.prefilter+" THEN "+strconv.Itoa(k)+" END")
			with = append(with, k)
		}
	}
	if len(with) == 0 {
		return out, nil
	}
	vocab, err := h.readVocab(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return out, nil // unnarrowed, and still exact
	}
	res, err := h.s.RunInternal(ctx, "SELECT eventsource, eventname, list_filter(["+strings.Join(cases, ", ")+
		"], lambda x: x IS NOT NULL) FROM "+vocab+" AS events")
	if err != nil {
		return nil, err
	}
	pairs := map[int][][]any{}
	for _, row := range res.Rows {
		ks, _ := row[2].([]any)
		for _, v := range ks {
			k, ok := v.(int32)
			if !ok {
				return nil, fmt.Errorf("rules: unexpected prefilter index %v", v)
			}
			pairs[int(k)] = append(pairs[int(k)], row[:2])
		}
	}
	for _, k := range with {
		if len(pairs[k]) == 0 {
			out[k] = nil
			continue
		}
		cond := inValues(pairs[k])
		out[k] = &cond
	}
	return out, nil
}

// scanGrouped runs predicate rules cs (with conds, their narrowed conditions) in one scan of
// the target's events and groups each rule's matches by its grouping in the engine: it
// returns, by rule, its groups oldest first.
func (h *Hunt) scanGrouped(ctx context.Context, cs []*compiled, conds []string, gs []Grouping, exclude string) ([][]MatchGroup, error) {
	cases := make([]string, len(cs))
	spec := make([]string, len(cs))
	for i := range cs {
		cases[i] = "CASE WHEN " + conds[i] + " THEN " + strconv.Itoa(i) + " END"
		window := int64(gs[i].Window / time.Microsecond)
		if window <= 0 || gs[i].Key == "event" {
			window = 1 << 62
		}
		spec[i] = "(" + strconv.Itoa(i) + ", " + textLiteral(cs[i].rule.ID) + ", " + textLiteral(gs[i].Key) + ", " + strconv.FormatInt(window, 10) + ")"
	}
	anti := ""
	if exclude != "" {
		anti = " ANTI JOIN " + exclude + " AS x ON x.eventid = m.eventid AND (x.rule = g.rule_id OR x.rule = '')"
	}
	// Each matching event once per rule it matches; grouped by rule, key and window bucket.
	// The scan reads only the columns the predicates and the match need, and builds a match's
	// packed fields (matchColumns) for a group's first match alone. A group's events come back
	// as one string of "time,length:id" items in no order, sorted here: the engine's ordered
	// aggregate (list(… ORDER BY …)) sorts each group on its own and costs several times the
	// scan when a rule matches most events (AssumeRole Misuse), and a list comes back as one
	// Go value per event. The rule indexes are unnested in the select list: a lateral
	// unnest(…) in FROM is a correlated join to the engine, which costs more than the scan.
	sql := `WITH ev AS (SELECT eventtime, coalesce(eventid, '') AS eventid, eventname, eventsource,
		coalesce(useridentity.arn, useridentity.principalid, useridentity.type) AS principal,
		recipientaccountid, awsregion, sourceipaddress,
		list_filter([` + strings.Join(cases, ", ") + `], lambda x: x IS NOT NULL) AS rule_indexes
	FROM ` + h.relation + ` AS events),
m AS (SELECT unnest(rule_indexes) AS rule_index, ev.* EXCLUDE (rule_indexes) FROM ev WHERE len(rule_indexes) > 0),
g AS (SELECT * FROM (VALUES ` + strings.Join(spec, ", ") + `) AS g(rule_index, rule_id, key_by, window_us))
SELECT m.rule_index, min(eventtime) AS first_time, arg_min(` + groupedMatchFields + `, eventtime) AS first_fields,
	string_agg(coalesce(epoch_us(eventtime)::VARCHAR, 'N') || ',' || strlen(eventid)::VARCHAR || ':' || eventid, '') AS ids
FROM m JOIN g USING (rule_index)` + anti + `
GROUP BY m.rule_index,
	CASE g.key_by WHEN 'principal' THEN coalesce(principal, '') WHEN 'account' THEN coalesce(recipientaccountid, '') WHEN 'region' THEN coalesce(awsregion, '') WHEN 'event' THEN eventid ELSE '' END,
	(epoch_us(eventtime) + ` + strconv.FormatInt(zeroTimeMicros, 10) + `) // g.window_us`
	res, err := h.s.RunInternal(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("rules %s: %w", ruleIDs(cs), err)
	}
	out := make([][]MatchGroup, len(cs))
	var items []timedID
	for _, row := range res.Rows {
		i, ok := row[0].(int32)
		if !ok || int(i) >= len(cs) {
			return nil, fmt.Errorf("rules: unexpected rule index %v", row[0])
		}
		m, err := cs[i].predicateMatch(row[1:3])
		if err != nil {
			return nil, err
		}
		packed, _ := row[3].(string)
		if items, err = unpackTimedIDs(packed, items[:0]); err != nil {
			return nil, fmt.Errorf("rule %s: %w", cs[i].rule.ID, err)
		}
		out[i] = append(out[i], MatchGroup{First: m, EventIDs: orderedIDs(items)})
	}
	for _, gs := range out {
		slices.SortFunc(gs, func(a, b MatchGroup) int {
			if c := a.First.EventTime.Compare(b.First.EventTime); c != 0 {
				return c
			}
			return strings.Compare(a.First.EventID, b.First.EventID)
		})
	}
	return out, nil
}

// groupedMatchFields is matchColumns' packed fields over the columns of scanGrouped's m.
var groupedMatchFields = func() string {
	var parts []string
	for _, f := range []string{"eventid", "eventname", "eventsource", "principal", "recipientaccountid", "awsregion", "sourceipaddress"} {
		parts = append(parts, "strlen(coalesce("+f+", '')), ':', coalesce("+f+", '')")
	}
	return "concat(" + strings.Join(parts, ", ") + ")"
}()

// timedID is a matched event's id and time (Unix microseconds; none: no time, after every
// other).
type timedID struct {
	us   int64
	none bool
	id   string
}

// unpackTimedIDs appends the items of scanGrouped's packed ids to out.
func unpackTimedIDs(s string, out []timedID) ([]timedID, error) {
	for len(s) > 0 {
		t, rest, ok := strings.Cut(s, ",")
		n, rest2, ok2 := strings.Cut(rest, ":")
		size, err := strconv.Atoi(n)
		if !ok || !ok2 || err != nil || size < 0 || size > len(rest2) {
			return nil, fmt.Errorf("malformed event ids %q", truncate(s, 80))
		}
		it := timedID{id: rest2[:size]}
		if t == "N" {
			it.none = true
		} else if it.us, err = strconv.ParseInt(t, 10, 64); err != nil {
			return nil, fmt.Errorf("malformed event ids %q", truncate(s, 80))
		}
		out = append(out, it)
		s = rest2[size:]
	}
	return out, nil
}

// orderedIDs sorts items by time (none last), then id, and returns their ids, each once.
func orderedIDs(items []timedID) []string {
	slices.SortFunc(items, func(a, b timedID) int {
		if a.none != b.none {
			if a.none {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(a.us, b.us); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	ids := make([]string, 0, len(items))
	seen := make(map[string]struct{}, len(items))
	for _, it := range items {
		if _, ok := seen[it.id]; !ok { // an id twice (a duplicate event) counts at its first time
			seen[it.id] = struct{}{}
			ids = append(ids, it.id)
		}
	}
	return ids
}

// readExcluded reads the event ids exclude lists for rule id.
func (h *Hunt) readExcluded(ctx context.Context, exclude, id string) (map[string]bool, error) {
	res, err := h.s.RunInternal(ctx, "SELECT DISTINCT eventid FROM "+exclude+" AS x WHERE x.rule = ? OR x.rule = ''", id)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(res.Rows))
	for _, row := range res.Rows {
		out[str(row[0])] = true
	}
	return out, nil
}
