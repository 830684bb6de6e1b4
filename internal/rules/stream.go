package rules

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// huntSliceRows is how many events Stream reads per query at most (about: slices follow the
// files' time spans) for a rule that may match more than that. The engine materialises a
// query's whole result before the first row reaches Go, so this bounds what a hunt holds: a
// slice's matches (an event's match row is about 200 bytes in the engine and again in Go, so
// ~100 MiB when every event of a slice matches), whatever the store's size. Smaller slices
// cost a query each; larger ones cost memory and its page faults (AssumeRole Misuse over 1M
// events: 1M-event slices 6.3 s CPU and 789 MiB, 100k-event slices 4.9 s and 294 MiB).
const huntSliceRows = 1 << 18

// Stream runs rule r over the hunt's target and hands its matches to fn, oldest first (then by
// event id) — the matches Evaluate returns, in the same order — without holding them all. A
// predicate rule that may match more than a slice of events (no prefilter, or one that admits
// more events than that: query.Session.TimeSlices) runs one query per time slice of the target
// and orders each slice's matches before the next is read; any other runs one query. An error
// from fn stops the rule and is returned as it is. It returns how many matches fn was given.
func (h *Hunt) Stream(ctx context.Context, r Rule, fn func(*Match) error) (int, error) {
	c, err := compile(r)
	if err != nil {
		return 0, err
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
	narrow, admitted, none, err := h.narrowCount(ctx, c)
	if err != nil {
		return 0, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	if none {
		return 0, nil
	}
	per := h.sliceRows
	if per <= 0 {
		per = huntSliceRows
	}

	relations := []string{h.relation}
	if h.target.Files == nil && (admitted < 0 || admitted > per) {
		relations = relations[:0]
		for _, sl := range h.s.TimeSlices(h.target.Store.ID, h.target.From, h.target.To, per) {
			relations = append(relations, h.s.StoreRange(h.target.Store.ID, sl.From, sl.To))
		}
	}
	n := 0
	var recs []matchRow
	for _, rel := range relations {
		recs = recs[:0]
		_, err := h.s.EachInternal(ctx, "SELECT "+matchColumns+" FROM "+rel+" AS events WHERE "+c.where(narrow), func(row []any) error {
			packed, _ := row[1].(string)
			t, _ := row[0].(time.Time)
			recs = append(recs, matchRow{t: t, packed: packed, id: firstField(packed)})
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		slices.SortFunc(recs, func(a, b matchRow) int {
			if c := a.t.Compare(b.t); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
		for i := range recs {
			m, err := c.packedMatch(recs[i].t, recs[i].packed)
			if err != nil {
				return n, fmt.Errorf("rule %s: %w", r.ID, err)
			}
			recs[i] = matchRow{} // the slice's rows are released as they are handed on
			if err := fn(&m); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// matchRow is a predicate rule's match as read: its time, matchColumns' packed fields, and its
// event id (a part of packed), for ordering.
type matchRow struct {
	t          time.Time
	packed, id string
}

// firstField is the first of matchFields (the event id) packed in s, "" when s is malformed
// (unpackFields says so).
func firstField(s string) string {
	n, rest, _ := strings.Cut(s, ":")
	size, err := strconv.Atoi(n)
	if err != nil || size < 0 || size > len(rest) {
		return ""
	}
	return rest[:size]
}

// packedMatch is the match of an event with time t and matchFields packed (unpackFields).
func (c *compiled) packedMatch(t time.Time, packed string) (Match, error) {
	f, err := unpackFields(packed)
	if err != nil {
		return Match{}, err
	}
	m := c.match()
	m.EventTime = t
	m.EventID, m.EventName = f[0], f[1]
	m.Principal, m.Account, m.Region, m.SourceIP = f[3], f[4], f[5], f[6]
	m.Summary = m.EventName + " (" + f[2] + ") by " + dash(m.Principal) + " from " + dash(m.SourceIP)
	return m, nil
}
