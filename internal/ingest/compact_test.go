package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// TestCompactionFitsTheEngineMemory compacts a partition of many small files with an engine
// whose memory cannot hold one sort of all of them: the merge is split until it fits (DuckDB
// says "Out of Memory" rather than spilling a COPY's sort), every event is still there once,
// the partition has fewer files than before, and the files are sorted as compaction promises.
func TestCompactionFitsTheEngineMemory(t *testing.T) {
	ctx := context.Background()
	src := generatetest.Trail(t, 40000, 1, 3)
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	whole, err := lk.Create("whole", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	// (A file per batch, as before files were held: the parts below are cut from the largest.)
	if _, err := ingest.CloudTrail(ctx, lk, whole, ingest.Options{Sources: []string{filepath.Join(src, "AWSLogs")}, CommitEachBatch: true}); err != nil {
		t.Fatal(err)
	}
	wm, err := lk.ReadManifest(whole.ID)
	if err != nil {
		t.Fatal(err)
	}
	day := wm.Files[0] // the generated day (a few events may fall on the next)
	for _, f := range wm.Files {
		if f.Rows > day.Rows {
			day = f
		}
	}
	// The same events as many small files of one partition, as many small ingests leave them.
	st, err := lk.Create("tight", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	big, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	const parts = 12
	w, err := lk.BeginWrite(st.ID) // before writing: it removes files no manifest names
	if err != nil {
		t.Fatal(err)
	}
	var files []lake.DataFile
	for i := 0; i < parts; i++ {
		rel := fmt.Sprintf("data/eventdate=%s/part-split-%02d.parquet", day.Date, i)
		p := lk.AbsPath(st.ID, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		err := big.Exec(ctx, "COPY (SELECT * FROM read_parquet("+engine.Literal(lk.AbsPath(whole.ID, day.Path))+", hive_partitioning = false) WHERE hash(eventid) % "+
			fmt.Sprint(parts)+" = "+fmt.Sprint(i)+" ORDER BY eventsource, eventname, eventtime) TO "+engine.Literal(p)+" (FORMAT parquet, COMPRESSION zstd)")
		if err != nil {
			t.Fatal(err)
		}
		f := lake.DataFile{Path: rel, Date: day.Date, MinTime: day.MinTime, MaxTime: day.MaxTime}
		if err := big.QueryRow(ctx, "SELECT count(*) FROM read_parquet("+engine.Literal(p)+")").Scan(&f.Rows); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(p)
		f.Bytes = fi.Size()
		files = append(files, f)
	}
	if err := w.Commit(files, nil, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	before := len(m.Files)
	var paths []string
	for _, f := range m.Files {
		paths = append(paths, lk.AbsPath(st.ID, f.Path))
	}
	sortInto := func(db *engine.DB, files []string) error {
		return db.Exec(ctx, "COPY (SELECT * FROM read_parquet("+engine.ListLiteral(files)+") ORDER BY eventsource, eventname, eventtime) TO "+
			engine.Literal(filepath.Join(t.TempDir(), "x.parquet"))+" (FORMAT parquet)")
	}
	// A memory limit under which one sort of the whole partition does not fit but one of three
	// files does (how much a sort needs depends on the machine's threads).
	var db *engine.DB
	var limit string
	for _, l := range []string{"130MB", "160MB", "200MB", "110MB", "250MB", "300MB"} {
		e, err := engine.Open(ctx, engine.Options{MemoryLimit: l})
		if err != nil {
			t.Fatal(err)
		}
		if engine.IsOutOfMemory(sortInto(e, paths)) && sortInto(e, paths[:3]) == nil {
			db, limit = e, l
			break
		}
		e.Close()
	}
	if db == nil {
		t.Fatal("found no memory limit that one sort of the partition exceeds and one of three files fits")
	}
	defer db.Close()
	w, err = lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := lake.Compact(ctx, db, w, true)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	m, _ = lk.ReadManifest(st.ID)
	t.Logf("%d files, %d merged, %d after", before, merged, len(m.Files))
	if merged == 0 || len(m.Files) >= before {
		t.Errorf("compaction under %s: %d files before, %d after, %d merged", limit, before, len(m.Files), merged)
	}
	s := checkEvents(t, lk, "tight", day.Rows)
	defer s.Close()
	// Every merged file is sorted.
	for _, f := range m.Files {
		res, err := s.RunInternal(ctx, `SELECT count(*) FROM (SELECT eventsource, eventname, eventtime,
			file_row_number, lag(eventsource) OVER w AS ps, lag(eventname) OVER w AS pn, lag(eventtime) OVER w AS pt
			FROM read_parquet(`+engine.Literal(lk.AbsPath(st.ID, f.Path))+`, file_row_number = true) WINDOW w AS (ORDER BY file_row_number)) WHERE file_row_number > 0 AND (ps, pn, pt) > (eventsource, eventname, eventtime)`)
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Rows[0][0].(int64); n != 0 {
			t.Errorf("%s: %d rows out of order", f.Path, n)
		}
	}
}

// TestClosedDaysEndAsOneFile ingests a generated week in two interleaved runs (as two trails'
// deliveries, or a backfill, arrive): every day more than ClosedAfterDays behind the newest is
// one file afterwards, as a one-shot load leaves it, with every event once.
func TestClosedDaysEndAsOneFile(t *testing.T) {
	ctx := context.Background()
	const events = 6000
	src := generatetest.Trail(t, events, 7, 5)
	var files []string
	filepath.WalkDir(filepath.Join(src, "AWSLogs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".gz" {
			files = append(files, p)
		}
		return nil
	})
	var runs [2][]string
	for i, f := range files {
		runs[i%2] = append(runs[i%2], f)
	}
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("week", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	merged := 0
	for _, r := range runs {
		sum, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: r})
		if err != nil {
			t.Fatal(err)
		}
		merged += sum.Merged
	}
	if merged == 0 {
		t.Error("the summaries report no files merged")
	}
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	perDay := map[string]int{}
	newest := ""
	for _, f := range m.Files {
		perDay[f.Date]++
		newest = max(newest, f.Date)
	}
	nt, _ := time.Parse("2006-01-02", newest)
	closed := nt.AddDate(0, 0, -lake.ClosedAfterDays).Format("2006-01-02")
	checked := 0
	for day, n := range perDay {
		if day < closed {
			checked++
			if n != 1 {
				t.Errorf("closed day %s has %d files, want 1", day, n)
			}
		}
	}
	if checked < 3 {
		t.Fatalf("only %d closed days in %v", checked, perDay)
	}
	checkEvents(t, lk, "week", int64(events)).Close()
}

// checkEvents opens a session over lk and checks that store holds want events, each once, and
// that its EC2 lifecycle facts are those of its events. The caller closes the session.
func checkEvents(t *testing.T, lk *lake.Lake, store string, want int64) *query.Session {
	t.Helper()
	s, err := query.Open(context.Background(), lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), `SELECT count(*), count(DISTINCT eventid) FROM "aws:cloudtrail".`+engine.Ident(store))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows[0][0].(int64) != want || res.Rows[0][1].(int64) != want {
		t.Errorf("%s: %v events (%v distinct), want %d", store, res.Rows[0][0], res.Rows[0][1], want)
	}
	checkFacts(t, s)
	return s
}
