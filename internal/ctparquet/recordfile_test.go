package ctparquet

import (
	"context"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/auditlake/auditlake/internal/engine"
)

// TestRecordFileOfSeveralPartsReadsAsTheirConcatenation: a RecordFile appended a part at a
// time (a held file of a long load) reads, by the engine value for value and by parquet-go,
// as Concat of the parts written as files of their own, with the same row groups and
// statistics, every page where its page index says, and its row groups listed in the order
// of their bytes (first at offset 4, each after the end of the one before: parquet-mr's
// readers check this); a file of one part is the bytes WriteRecordFile writes; an aborted one
// is gone.
func TestRecordFileOfSeveralPartsReadsAsTheirConcatenation(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	dir := t.TempDir()
	held := filepath.Join(dir, "held.parquet")
	rf, err := CreateRecordFile(held)
	if err != nil {
		t.Fatal(err)
	}
	var srcs []string
	total := 0
	for i, n := range []int{RowGroupRows + 700, 3000, 2*RowGroupRows + 5, 1} {
		recs := randomRecords(rng, n)
		sortByKind(recs)
		p := filepath.Join(dir, "part"+string(rune('a'+i))+".parquet")
		if _, err := WriteRecordFile(p, recs); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, p)
		if err := rf.Append(recs); err != nil {
			t.Fatal(err)
		}
		total += n
		if rf.Rows() != int64(total) {
			t.Fatalf("%d rows held, want %d", rf.Rows(), total)
		}
	}
	size, err := rf.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(held); err != nil || st.Size() != size {
		t.Fatalf("file of %d bytes, Close said %d (%v)", st.Size(), size, err)
	}
	concat := filepath.Join(dir, "concat.parquet")
	if _, err := Concat(concat, srcs, nil); err != nil {
		t.Fatal(err)
	}
	if got := readRows(t, held); len(got) != total {
		t.Fatalf("parquet-go reads %d rows, want %d", len(got), total)
	}
	meta := openMeta(t, held)
	if len(meta.RowGroups) != 2+1+3+1 || meta.NumRows != int64(total) {
		t.Fatalf("%d row groups, %d rows", len(meta.RowGroups), meta.NumRows)
	}
	end := int64(4)
	for i := range meta.RowGroups {
		countPages(t, held, meta, i, 0) // fails on any misplaced page location
		rg := meta.RowGroups[i]
		if int(rg.Ordinal) != i {
			t.Fatalf("row group %d has ordinal %d", i, rg.Ordinal)
		}
		if rg.FileOffset != end {
			t.Fatalf("row group %d is listed at offset %d, want %d (the end of the one before)", i, rg.FileOffset, end)
		}
		end = rg.FileOffset + rg.TotalCompressedSize
	}

	ctx := context.Background()
	db := enginetest.Open(t)
	one := func(q string) string {
		var s string
		if err := db.QueryRow(ctx, q).Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return s
	}
	a, b := "read_parquet("+engine.Literal(held)+")", "read_parquet("+engine.Literal(concat)+")"
	// In the same order, row for row: the engine reads row groups as the footer lists them.
	rows := func(rel string) string {
		return "(SELECT row_number() OVER () AS n, to_json(t)::VARCHAR AS j FROM " + rel + " t)"
	}
	if diff := one(bothWays(rows(a), rows(b))); diff != "0" {
		t.Fatalf("%s rows differ", diff)
	}
	stats := func(path string) string {
		return "(SELECT row_group_id, row_group_num_rows, path_in_schema, num_values, stats_min_value, stats_max_value, stats_null_count, encodings, total_compressed_size, bloom_filter_length FROM parquet_metadata(" + engine.Literal(path) + "))"
	}
	if diff := one(bothWays(stats(held), stats(concat))); diff != "0" {
		t.Fatalf("%s column chunks differ", diff)
	}
	for _, id := range []string{"eventid", "requestid"} {
		x := one("SELECT " + id + " FROM " + b + " WHERE " + id + " IS NOT NULL ORDER BY " + id + " DESC LIMIT 1")
		q := func(rel string) string {
			return "SELECT count(*)::VARCHAR FROM " + rel + " WHERE " + id + " = " + engine.Literal(x)
		}
		if n, m := one(q(a)), one(q(b)); n != m || n == "0" {
			t.Fatalf("a lookup by %s finds %s rows, %s in the concatenation", id, n, m)
		}
	}

	// One part: the bytes WriteRecordFile writes.
	recs := randomRecords(rng, 500)
	sortByKind(recs)
	whole, parted := filepath.Join(dir, "whole.parquet"), filepath.Join(dir, "one.parquet")
	if _, err := WriteRecordFile(whole, recs); err != nil {
		t.Fatal(err)
	}
	rf, err = CreateRecordFile(parted)
	if err != nil {
		t.Fatal(err)
	}
	if err := rf.Append(recs); err != nil {
		t.Fatal(err)
	}
	if _, err := rf.Close(); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(whole)
	y, _ := os.ReadFile(parted)
	if len(x) == 0 || string(x) != string(y) {
		t.Fatal("a file of one part differs from WriteRecordFile's")
	}

	// Aborted: nothing left.
	gone := filepath.Join(dir, "aborted.parquet")
	if rf, err = CreateRecordFile(gone); err != nil {
		t.Fatal(err)
	}
	if err := rf.Append(recs); err != nil {
		t.Fatal(err)
	}
	rf.Abort()
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Fatalf("an aborted file is left: %v", err)
	}
}
