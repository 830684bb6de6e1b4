package rules

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"
)

// TestOrderRowsIsASort: orderRows orders match rows as a sort by time, event id and fields does —
// over rows as the engine returns a slice's matches (time-ordered runs of a scan thread's
// chunks, interleaved, events of the same second in any order), and over the shapes that make it
// fall back to a sort (short runs, many events of the same time), reversed and ordered rows,
// ties in time and id, ids that agree in their first bytes, with the scratch reused from one
// call to the next.
func TestOrderRowsIsASort(t *testing.T) {
	rng := rand.New(rand.NewSource(19))
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	row := func(sec int64, us int, id string, extra int) matchRow {
		tm := base.Add(time.Duration(sec)*time.Second + time.Duration(us)*time.Microsecond)
		packed := id + "\x00" + fmt.Sprint(extra)
		return matchRow{t: tm, packed: packed, id: id}
	}
	// chunks: a file's events in time order (ids random, a few per second), cut in chunks of
	// chunk events that threads hand on interleaved.
	chunks := func(files, perFile, chunk, perSec int) []matchRow {
		var parts [][]matchRow
		for f := range files {
			var file []matchRow
			for i := range perFile {
				sec := int64(f*perFile/perSec + i/perSec)
				file = append(file, row(sec, rng.Intn(3)*250000, fmt.Sprintf("%08x", rng.Uint32()), i))
			}
			for len(file) > 0 {
				n := min(chunk, len(file))
				parts = append(parts, file[:n])
				file = file[n:]
			}
		}
		// Interleave: each part goes after a random earlier one's position (two threads).
		var out []matchRow
		for len(parts) > 0 {
			k := 0
			if len(parts) > 1 && rng.Intn(2) == 0 {
				k = 1
			}
			out = append(out, parts[k]...)
			parts = slices.Delete(parts, k, k+1)
		}
		return out
	}
	cases := map[string][]matchRow{
		"empty":        nil,
		"one":          {row(1, 0, "a", 0)},
		"engine":       chunks(4, 20000, 2048, 4),
		"small chunks": chunks(3, 5000, 7, 3),
		"one second":   chunks(1, 3000, 500, 1<<30),
	}
	var ordered, reversed, dups, random []matchRow
	for i := range 5000 {
		ordered = append(ordered, row(int64(i), 0, fmt.Sprint(i), i))
		reversed = append(reversed, row(int64(5000-i), 0, fmt.Sprint(i), i))
		dups = append(dups, row(int64(i%7), 0, fmt.Sprint(i%3), rng.Intn(4)))
		random = append(random, row(rng.Int63n(1000), rng.Intn(2), fmt.Sprint(rng.Intn(100)), rng.Intn(100)))
	}
	cases["ordered"], cases["reversed"], cases["ties"], cases["random"] = ordered, reversed, dups, random
	// Ids of the same second that agree in their first 8 bytes (idPrefix) or more, that are
	// shorter, a prefix of another (also with a NUL after it) or hold bytes above 0x7f.
	var prefixes []matchRow
	ids := []string{"", "a", "ab", "ab\x00", "ab\x00\x00", "abcdefgh", "abcdefghi", "abcdefgh\x00", "abcdefgg\xff", "abcdefgh1", "abcdefgh0",
		"\xff", "\xffa", "\x7f\xff", "é", "e\xcc\x81", "12345678-1234", "12345678-1233", "12345679"}
	for i := range 3000 {
		id := ids[rng.Intn(len(ids))]
		if rng.Intn(3) == 0 {
			id += fmt.Sprintf("%x", rng.Intn(16))
		}
		prefixes = append(prefixes, row(int64(i/50), 0, id, rng.Intn(3)))
	}
	cases["id prefixes"] = prefixes
	var scratch []rowKey
	for name, recs := range cases {
		want := slices.Clone(recs)
		slices.SortStableFunc(want, compareRows)
		in := slices.Clone(recs)
		order := orderRows(in, &scratch)
		if !slices.Equal(in, recs) {
			t.Errorf("%s: orderRows moved the rows", name)
		}
		var got []matchRow
		for _, i := range order {
			got = append(got, recs[i])
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: orderRows differs from a sort (%d rows)", name, len(recs))
		}
	}
}

// BenchmarkOrderRows: a slice's matches as the engine returns them over 10M events (~300k
// matches in ~500 time-ordered runs, about 4 events a second, random UUIDs as event ids).
func BenchmarkOrderRows(b *testing.B) {
	rng := rand.New(rand.NewSource(21))
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	const runs, perRun = 500, 600
	var recs []matchRow
	for r := range runs {
		for i := range perRun {
			id := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Intn(1<<16), rng.Intn(1<<16), rng.Intn(1<<16), rng.Int63n(1<<48))
			tm := base.Add(time.Duration(r*perRun/4+i/4) * time.Second)
			recs = append(recs, matchRow{t: tm, packed: id + "\x00AssumeRole", id: id})
		}
	}
	var scratch []rowKey
	b.ResetTimer()
	for range b.N {
		orderRows(recs, &scratch)
	}
}
