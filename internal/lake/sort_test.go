package lake

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// compareRecords is the engine's sortOrder, one comparison at a time: event source, event name
// (missing ones last), then event time.
func compareRecords(a, b *cloudtrail.Record) int {
	if c := compareOptional(a.EventSource, b.EventSource); c != 0 {
		return c
	}
	if c := compareOptional(a.EventName, b.EventName); c != 0 {
		return c
	}
	return a.EventTime.Compare(b.EventTime)
}

// TestSortRecordsOrdersAsTheEngine: sortRecords (ranks of each distinct source and name, then
// time) gives the order of compareRecords, the engine's sort order, over records with missing
// sources and names, equal keys, and times before 1970 and after 2262 (beyond nanoseconds in an
// int64) — and keeps every record.
func TestSortRecordsOrdersAsTheEngine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	opt := func(vals ...string) *string {
		i := rng.IntN(len(vals) + 1)
		if i == len(vals) {
			return nil
		}
		return &vals[i]
	}
	times := []time.Time{
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 10, 0, 0, 1, time.UTC),
		time.Date(2026, 3, 1, 9, 59, 59, 999999999, time.UTC),
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for round := range 50 {
		recs := make([]*cloudtrail.Record, rng.IntN(300))
		for i := range recs {
			recs[i] = &cloudtrail.Record{
				EventSource: opt("ec2.amazonaws.com", "s3.amazonaws.com", "sts.amazonaws.com", ""),
				EventName:   opt("RunInstances", "GetObject", "AssumeRole", "Z", ""),
				EventTime:   times[rng.IntN(len(times))].Add(time.Duration(rng.IntN(3)) * time.Nanosecond),
			}
		}
		before := slices.Clone(recs)
		sortRecords(recs)
		if !slices.IsSortedFunc(recs, compareRecords) {
			t.Fatalf("round %d: not in the engine's order", round)
		}
		for _, r := range before {
			if !slices.Contains(recs, r) {
				t.Fatalf("round %d: a record was lost", round)
			}
		}
	}
}

// TestNewBatchGroupsByUTCDate: every record lands in the partition of its UTC date, around
// midnight and before 1970 too, and none is lost.
func TestNewBatchGroupsByUTCDate(t *testing.T) {
	var recs []*cloudtrail.Record
	for _, base := range []time.Time{time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)} {
		for _, d := range []time.Duration{-time.Nanosecond, 0, time.Nanosecond, 12 * time.Hour, 24*time.Hour - time.Nanosecond} {
			recs = append(recs, &cloudtrail.Record{EventID: fmt.Sprint(len(recs)), EventTime: base.Add(d).In(time.FixedZone("x", -5*3600))})
		}
	}
	b := NewBatch(slices.Clone(recs))
	n := 0
	for _, d := range b.dates {
		for _, r := range b.byDate[d] {
			if got := r.EventTime.UTC().Format(time.DateOnly); got != d {
				t.Errorf("record at %v in partition %s", r.EventTime.UTC(), d)
			}
			n++
		}
	}
	if n != len(recs) {
		t.Fatalf("%d of %d records grouped", n, len(recs))
	}
}

// TestDedupeBatchKeepsTheFirstOfEachKey: dedupeBatch keeps the first record of each eventid and
// recipientaccountid (a missing account differing from an empty one), in order, with the real
// hash and with hashes that collide — every key, or keys of the same length — so that a
// collision is never taken for a duplicate.
func TestDedupeBatchKeepsTheFirstOfEachKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	accounts := []string{"111111111111", "222222222222", ""}
	hashes := map[string]func(*cloudtrail.Record) uint64{
		"KeyHash":   (*cloudtrail.Record).KeyHash,
		"constant":  func(*cloudtrail.Record) uint64 { return 7 },
		"by length": func(r *cloudtrail.Record) uint64 { return uint64(len(r.EventID)) },
	}
	for round := range 40 {
		recs := make([]*cloudtrail.Record, rng.IntN(400))
		for i := range recs {
			r := &cloudtrail.Record{EventID: fmt.Sprintf("e-%d", rng.IntN(60))}
			if k := rng.IntN(len(accounts) + 1); k < len(accounts) {
				r.RecipientAccountID = &accounts[k]
			}
			recs[i] = r
		}
		// The reference: the first record of each key, in order.
		var want []*cloudtrail.Record
		seen := map[dedupeKey]bool{}
		for _, r := range recs {
			if k := recordKey(r.EventID, r.RecipientAccountID); !seen[k] {
				seen[k] = true
				want = append(want, r)
			}
		}
		for name, hash := range hashes {
			got := dedupeByHash(slices.Clone(recs), hash)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, %s hash: kept %d records, want the first of each of %d keys in order", round, name, len(got), len(want))
			}
		}
	}
}
