package ingest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestBulkFilesAreMergedByConcatenation: a bulk load in batches smaller than a day leaves
// several files of full row groups in a partition; the end-of-run compaction concatenates
// them (their row groups copied, not sorted again by the engine) and the store then holds
// exactly the rows and EC2 lifecycle facts of the same events loaded at once, every value the
// same, in fewer files.
func TestBulkFilesAreMergedByConcatenation(t *testing.T) {
	ctx := context.Background()
	src := generatetest.Trail(t, 60000, 1, 5)
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	load := func(name string, batch int) (lake.Store, *Summary) {
		st, err := lk.Create(name, lake.CreateOptions{RetentionDays: 3653})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := CloudTrail(ctx, lk, st, Options{Sources: []string{filepath.Join(src, "AWSLogs")}, BatchRows: batch})
		if err != nil {
			t.Fatal(err)
		}
		return st, sum
	}
	whole, _ := load("whole", 1_000_000)
	parts, sum := load("parts", 9000)
	if sum.Merged < 5 {
		t.Fatalf("%d files merged: the run left no partition to compact", sum.Merged)
	}
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	files := func(st lake.Store, facts bool) []string {
		m, err := lk.ReadManifest(st.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range m.Files {
			switch {
			case !facts:
				out = append(out, lk.AbsPath(st.ID, f.Path))
			case f.Facts != "":
				out = append(out, lk.AbsPath(st.ID, f.Facts))
			}
		}
		return out
	}
	rel := func(paths []string) string {
		return "read_parquet(" + engine.ListLiteral(paths) + ", hive_partitioning = false)"
	}
	pf := files(parts, false)
	// The merged files were concatenated: written by auditlake, not by the engine.
	by := firstColumn(t, db, "SELECT DISTINCT created_by FROM parquet_file_metadata("+engine.ListLiteral(pf)+")")
	if len(by) != 1 || !strings.HasPrefix(by[0], "auditlake") {
		t.Fatalf("files written by %v", by)
	}
	if got, want := rowsAsJSON(t, db, rel(pf)), rowsAsJSON(t, db, rel(files(whole, false))); !slices.Equal(got, want) {
		t.Fatalf("%d rows after concatenation, %d loaded at once, or values differ", len(got), len(want))
	}
	factRows := func(paths []string) []string {
		return firstColumn(t, db, "SELECT to_json(x)::VARCHAR AS j FROM "+rel(paths)+" AS x ORDER BY j")
	}
	if got, want := factRows(files(parts, true)), factRows(files(whole, true)); !slices.Equal(got, want) || len(got) < 100 {
		t.Fatalf("%d facts after concatenation, %d loaded at once, or they differ", len(got), len(want))
	}
	// A trail's small ingests: their files are merged by the engine, sorted into full row
	// groups, never concatenated into a file of tiny ones.
	var trail []string
	filepath.WalkDir(filepath.Join(src, "AWSLogs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json.gz") {
			trail = append(trail, p)
		}
		return nil
	})
	small, err := lk.Create("small", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	merged := 0
	trail = trail[:min(len(trail), 200)]
	for i := 0; i < len(trail); i += 10 { // a few hundred events each
		sum, err := CloudTrail(ctx, lk, small, Options{Sources: trail[i:min(i+10, len(trail))]})
		if err != nil {
			t.Fatal(err)
		}
		merged += sum.Merged
	}
	sf := files(small, false)
	tiny := firstColumn(t, db, `SELECT count(*)::VARCHAR FROM (SELECT file_name FROM parquet_metadata(`+engine.ListLiteral(sf)+`)
		WHERE path_in_schema = 'eventid' GROUP BY file_name HAVING count(*) > 1 AND avg(row_group_num_rows) < 2048)`)
	if merged == 0 || tiny[0] != "0" {
		t.Fatalf("%d small files merged; %s files of small row groups", merged, tiny[0])
	}

	// Row groups of one event source and name stay together: in each file, row groups are in
	// order of their least event source.
	unordered := firstColumn(t, db, `SELECT count(*)::VARCHAR FROM (SELECT file_name, row_group_id, stats_min_value AS v,
		lag(stats_min_value) OVER (PARTITION BY file_name ORDER BY row_group_id) AS prev
		FROM parquet_metadata(`+engine.ListLiteral(pf)+`) WHERE path_in_schema = 'eventsource') WHERE prev > v`)
	if unordered[0] != "0" {
		t.Fatalf("%s row groups out of event-source order", unordered[0])
	}
}
