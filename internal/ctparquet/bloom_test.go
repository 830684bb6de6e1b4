package ctparquet

import (
	"context"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go/format"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
)

// TestBloomFiltersAreWrittenReadByTheEngineAndSurviveConcatenation: every row group of a data
// file has a Bloom filter for eventid and requestid; the engine's own probe finds every value
// in its row group and excludes it from nearly all others; the engine's scan consults them (a
// file whose eventid filters are emptied finds no row by eventid, though the rows are there);
// and a concatenation of files keeps every filter, pointing at the same bytes.
func TestBloomFiltersAreWrittenReadByTheEngineAndSurviveConcatenation(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	dir := t.TempDir()
	var srcs []string
	var recs []*cloudtrail.Record
	for i, n := range []int{3*RowGroupRows + 100, 2*RowGroupRows + 7} {
		p := filepath.Join(dir, "in"+string(rune('a'+i))+".parquet")
		rs := randomRecords(rng, n)
		if _, err := WriteRecordFile(p, rs); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, p)
		recs = append(recs, rs...)
	}
	out := filepath.Join(dir, "out.parquet")
	if _, err := Concat(out, srcs, nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db := enginetest.Open(t)
	for _, p := range append(srcs, out) {
		meta := openMeta(t, p)
		for i, rg := range meta.RowGroups {
			for _, c := range rg.Columns {
				md := c.MetaData
				want := BloomColumns[md.PathInSchema[0]] && len(md.PathInSchema) == 1
				if got := md.BloomFilterOffset > 0 && md.BloomFilterLength > 0; got != want {
					t.Fatalf("%s row group %d column %v: Bloom filter %v, want %v", filepath.Base(p), i, md.PathInSchema, got, want)
				}
			}
		}
	}
	// A lookup reads the row group holding the value (no false negatives) and, but for the
	// filters' false positives, no other. The check is the engine's (the emptied copy below
	// shows the engine's scan reads these filters).
	meta := openMeta(t, out)
	holding := func(match func(r *cloudtrail.Record) bool) map[int]bool { // row groups with a match
		out, first := map[int]bool{}, 0
		for i, rg := range meta.RowGroups {
			for _, r := range recs[first : first+int(rg.NumRows)] { // the concatenation keeps the order
				if match(r) {
					out[i] = true
				}
			}
			first += int(rg.NumRows)
		}
		return out
	}
	extra, others := 0, 0 // row groups read that do not hold the value, and all such
	for k := 0; k < 40; k++ {
		r := recs[rng.IntN(len(recs))]
		probes := map[string]string{"eventid": r.EventID, "absent": "absent-" + r.EventID}
		if r.RequestID != nil {
			probes["requestid"] = *r.RequestID
		}
		for what, v := range probes {
			col := what
			if what == "absent" {
				col = "eventid"
			}
			read, total, err := RowGroupsToRead(out, col, v)
			if err != nil {
				t.Fatal(err)
			}
			want := holding(func(x *cloudtrail.Record) bool {
				return col == "eventid" && x.EventID == v || col == "requestid" && x.RequestID != nil && *x.RequestID == v
			})
			got := map[int]bool{}
			for _, i := range read {
				got[i] = true
			}
			for i := range want {
				if !got[i] {
					t.Fatalf("%s = %q: row group %d holds it, and its filter excludes it", col, v, i)
				}
			}
			if col == "eventid" { // the random records' request ids come from a few words
				extra, others = extra+len(read)-len(want), others+total-len(want)
			}
		}
	}
	if frac := float64(extra) / float64(others); frac > 0.10 {
		t.Errorf("lookups read %.1f %% of the row groups that do not hold the value, want ≤ 10 %%", 100*frac)
	}
	// The engine finds every probed value.
	for k := 0; k < 5; k++ {
		r := recs[rng.IntN(len(recs))]
		var n int64
		if err := db.QueryRow(ctx, "SELECT count(*) FROM read_parquet("+engine.Literal(out)+") WHERE eventid = "+engine.Literal(r.EventID)).Scan(&n); err != nil || n != 1 {
			t.Fatalf("eventid %q: %d rows (%v), want 1", r.EventID, n, err)
		}
	}

	// Empty every eventid filter of a copy: the engine's scan now skips every row group for an
	// eventid the file holds, which it can only do by reading the filters.
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range openMeta(t, out).RowGroups {
		for _, c := range rg.Columns {
			if md := c.MetaData; md.PathInSchema[0] == "eventid" {
				end := md.BloomFilterOffset + int64(md.BloomFilterLength)
				clear(data[end-int64(bloomBytes(t, data, md.BloomFilterOffset)) : end])
			}
		}
	}
	emptied := filepath.Join(dir, "emptied.parquet")
	if err := os.WriteFile(emptied, data, 0o644); err != nil {
		t.Fatal(err)
	}
	id := recs[len(recs)/2].EventID
	for p, want := range map[string]int64{out: 1, emptied: 0} {
		var n int64
		if err := db.QueryRow(ctx, "SELECT count(*) FROM read_parquet("+engine.Literal(p)+") WHERE eventid = "+engine.Literal(id)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s: %d rows with eventid %q, want %d", filepath.Base(p), n, id, want)
		}
	}
}

// bloomBytes is the bitset size the Bloom filter header at off declares.
func bloomBytes(t *testing.T, data []byte, off int64) int32 {
	t.Helper()
	var h format.BloomFilterHeader
	decodeAt(t, data, off, &h)
	return h.NumBytes
}
