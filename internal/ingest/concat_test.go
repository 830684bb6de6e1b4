package ingest

import (
	"bytes"
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
		sum, err := CloudTrail(ctx, lk, st, Options{Sources: []string{filepath.Join(src, "AWSLogs")}, BatchRows: batch, CommitEachBatch: true})
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
	files := func(st lake.Store, facts bool) []string { return storeFiles(t, lk, st, facts) }
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

// TestAFailedConcatenationLeavesNoFileOfTheOtherGroups: a bulk load's groups are concatenated
// at once, on every CPU, before any is committed; when one of them fails (here a data file of
// the middle closed day cut short on disk), compaction is deferred with a warning naming that
// day, the store reads as before, and no concatenation of the other days — run beside the
// failing one, before and after it — is left in the store's directory.
func TestAFailedConcatenationLeavesNoFileOfTheOtherGroups(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(generatetest.Trail(t, 80000, 7, 9), "AWSLogs")
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("bulk", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	// Batches of 10,000 events: every day of 13,000 to 15,000 events gets two or three files of
	// full row groups (a bulk load's, concatenated when merged) and at most one more of its
	// stragglers, which this run (it wrote them all) leaves as they are (up to CompactThreshold
	// small files). The budget is large enough that no batch is handed over early, when the
	// committer is idle while a decoder waits for budget: under load such batches came small,
	// a day got more than CompactThreshold files, and this run merged it into one.
	if _, err := CloudTrail(ctx, lk, st, Options{Sources: []string{src}, BatchRows: 10000, MemoryBudget: 1 << 30, CommitEachBatch: true}); err != nil {
		t.Fatal(err)
	}
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	byDate := map[string][]lake.DataFile{}
	var dates []string
	for _, f := range m.Files {
		if byDate[f.Date] == nil {
			dates = append(dates, f.Date)
		}
		byDate[f.Date] = append(byDate[f.Date], f)
	}
	slices.Sort(dates)
	// Closed: the days before the newest less lake.ClosedAfterDays, 1 to 4 here.
	if len(dates) < 7 || len(byDate[dates[1]]) < 2 || len(byDate[dates[2]]) < 2 || len(byDate[dates[3]]) < 2 {
		t.Fatalf("%d days, files per day %v: the closed days have nothing to merge", len(dates), byDate)
	}
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	read := func() []string {
		m, err := lk.ReadManifest(st.ID)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, f := range m.Files {
			paths = append(paths, lk.AbsPath(st.ID, f.Path))
		}
		return firstColumn(t, db, "SELECT count(*)::VARCHAR FROM read_parquet("+engine.ListLiteral(paths)+", hive_partitioning = false) WHERE eventid IS NOT NULL")
	}
	before := read()
	// A closed day's last file has its footer overwritten (its size and magic bytes
	// as they were).
	bad := byDate[dates[2]][len(byDate[dates[2]])-1]
	abs := lk.AbsPath(st.ID, bad.Path)
	whole, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	broken := slices.Clone(whole)
	copy(broken[len(broken)-200:len(broken)-8], bytes.Repeat([]byte{0xff}, 192))
	if err := os.WriteFile(abs, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	// A second run reads nothing new; its compaction merges the closed days another run wrote.
	sum, err := CloudTrail(ctx, lk, st, Options{Sources: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	deferred := false
	for _, p := range sum.Problems {
		deferred = deferred || (strings.Contains(p.Msg, "compaction deferred") && strings.Contains(p.Msg, dates[2]))
	}
	if !deferred || sum.Merged != 0 {
		t.Fatalf("merged %d, problems %v: want the compaction deferred, naming %s", sum.Merged, sum.Problems, dates[2])
	}
	os.WriteFile(abs, whole, 0o644)
	if got := read(); !slices.Equal(got, before) {
		t.Fatalf("%v rows after the failed compaction, %v before", got, before)
	}
	m, err = lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]bool{}
	for _, f := range m.Files {
		live[lk.AbsPath(st.ID, f.Path)] = true
		if f.Facts != "" {
			live[lk.AbsPath(st.ID, f.Facts)] = true
		}
	}
	var stray []string
	filepath.WalkDir(lk.StoreDir(st.ID), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") && strings.Contains(p, "eventdate=") && !live[p] {
			stray = append(stray, p)
		}
		return nil
	})
	if len(stray) > 0 {
		t.Fatalf("files no manifest names left by the failed compaction: %v", stray)
	}
	// With the file whole again, the next run merges every closed day.
	if sum, err = CloudTrail(ctx, lk, st, Options{Sources: []string{src}}); err != nil || sum.Merged == 0 {
		t.Fatalf("merged %d: %v %v", sum.Merged, err, sum.Problems)
	}
	if got := read(); !slices.Equal(got, before) {
		t.Fatalf("%v rows after the merge, %v before", got, before)
	}
}

// storeFiles returns the paths of st's live data files, or with facts of their facts files.
func storeFiles(t *testing.T, lk *lake.Lake, st lake.Store, facts bool) []string {
	t.Helper()
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
