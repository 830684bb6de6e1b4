package ctparquet

import (
	"cmp"
	"context"
	"errors"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lifecycle"
)

// TestConcatenationKeepsRowsStatisticsAndPageIndex: files concatenated by Concat read as
// the rows of their inputs (by the engine, value for value, and by parquet-go), each row group
// keeps its statistics, the page index points at every data page of the new file, row groups
// follow ByFirstRow, and files of another schema are refused without a file left behind.
func TestConcatenationKeepsRowsStatisticsAndPageIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	var srcs []string
	total := 0
	for i, n := range []int{RowGroupRows + 700, 3000, 2*RowGroupRows + 5} {
		p := filepath.Join(dir, "in"+string(rune('a'+i))+".parquet")
		recs := randomRecords(rng, n)
		sortByKind(recs)
		if _, err := WriteRecordFile(p, recs); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, p)
		total += n
	}
	out := filepath.Join(dir, "out.parquet")
	rows, err := Concat(out, srcs, ByFirstRow)
	if err != nil {
		t.Fatal(err)
	}
	if rows != int64(total) {
		t.Fatalf("%d rows, want %d", rows, total)
	}
	if got := readRows(t, out); len(got) != total {
		t.Fatalf("parquet-go reads %d rows, want %d", len(got), total)
	}
	meta := openMeta(t, out)
	if len(meta.RowGroups) != 2+1+3 {
		t.Fatalf("%d row groups", len(meta.RowGroups))
	}
	countPages(t, out, meta, 0, 0) // fails on any misplaced page location
	for i := 1; i < len(meta.RowGroups); i++ {
		if ByFirstRow(&meta.RowGroups[i-1], &meta.RowGroups[i]) > 0 {
			t.Fatalf("row group %d out of order", i)
		}
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
	in := "read_parquet(" + engine.ListLiteral(srcs) + ")"
	res := "read_parquet(" + engine.Literal(out) + ")"
	rowsOf := func(rel string) string { return "(SELECT to_json(t)::VARCHAR AS j FROM " + rel + " t)" }
	if diff := one(bothWays(rowsOf(in), rowsOf(res))); diff != "0" {
		t.Fatalf("%s rows differ", diff)
	}
	stats := func(paths ...string) string {
		return "(SELECT row_group_num_rows, path_in_schema, num_values, stats_min_value, stats_max_value, stats_null_count, encodings, total_compressed_size FROM parquet_metadata(" + engine.ListLiteral(paths) + "))"
	}
	if diff := one(bothWays(stats(srcs...), stats(out))); diff != "0" {
		t.Fatalf("%s column chunks changed", diff)
	}

	// Another schema: refused, nothing written.
	facts := filepath.Join(dir, "facts.parquet")
	if err := WriteFactsFile(facts, []lifecycle.Fact{{Kind: "launch", EventID: "e-1"}}); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.parquet")
	if _, err := Concat(bad, []string{srcs[0], facts}, nil); !errors.Is(err, ErrNotConcatenable) {
		t.Fatalf("files of two schemas: %v", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatalf("a refused concatenation left %s", bad)
	}
}

// sortByKind orders recs by event source, event name and time, as ingest sorts a file's records.
func sortByKind(recs []*cloudtrail.Record) {
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	slices.SortStableFunc(recs, func(a, b *cloudtrail.Record) int {
		return cmp.Or(cmp.Compare(str(a.EventSource), str(b.EventSource)), cmp.Compare(str(a.EventName), str(b.EventName)),
			a.EventTime.Compare(b.EventTime))
	})
}
