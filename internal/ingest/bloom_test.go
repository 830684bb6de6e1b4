package ingest

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestBloomFiltersSurviveCompaction: every row group of every data file has Bloom filters on
// eventid and requestid after a bulk load whose files compaction concatenated, and again after
// `eds compact` merged them through the engine's sort; the engine finds a sample of events by
// eventid through them, and a lookup reads few of the store's row groups.
func TestBloomFiltersSurviveCompaction(t *testing.T) {
	ctx := context.Background()
	src := generatetest.Trail(t, 60000, 1, 5)
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("parts", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := CloudTrail(ctx, lk, st, Options{Sources: []string{filepath.Join(src, "AWSLogs")}, BatchRows: 9000, CommitEachBatch: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Merged < 5 {
		t.Fatalf("%d files merged: the run left no partition to compact", sum.Merged)
	}
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check := func(stage, writer string) {
		m, err := lk.ReadManifest(st.ID)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, f := range m.Files {
			paths = append(paths, lk.AbsPath(st.ID, f.Path))
		}
		by := firstColumn(t, db, "SELECT DISTINCT created_by FROM parquet_file_metadata("+engine.ListLiteral(paths)+")")
		if len(by) != 1 || !strings.HasPrefix(by[0], writer) {
			t.Fatalf("%s: files written by %v, want %s", stage, by, writer)
		}
		missing := firstColumn(t, db, "SELECT DISTINCT file_name || ' row group ' || row_group_id || ' ' || path_in_schema FROM parquet_metadata("+engine.ListLiteral(paths)+
			") WHERE path_in_schema IN ('eventid', 'requestid') AND coalesce(bloom_filter_length, 0) <= 0")
		if len(missing) > 0 {
			t.Fatalf("%s: %d column chunks without a Bloom filter, e.g. %s", stage, len(missing), missing[0])
		}
		ids := firstColumn(t, db, "SELECT eventid FROM read_parquet("+engine.ListLiteral(paths)+", hive_partitioning = false) USING SAMPLE 20 ROWS")
		read, total := 0, 0
		for _, id := range ids {
			var n int64
			if err := db.QueryRow(ctx, "SELECT count(*) FROM read_parquet("+engine.ListLiteral(paths)+", hive_partitioning = false) WHERE eventid = "+engine.Literal(id)).Scan(&n); err != nil || n != 1 {
				t.Fatalf("%s: eventid %s: %d rows (%v), want 1", stage, id, n, err)
			}
			for _, p := range paths {
				r, all, err := ctparquet.RowGroupsToRead(p, "eventid", id)
				if err != nil {
					t.Fatal(err)
				}
				read, total = read+len(r), total+all
			}
		}
		t.Logf("%s: %d files, a lookup by eventid reads %.1f of %d row groups", stage, len(paths), float64(read)/float64(len(ids)), total/len(ids))
		if read > len(ids)*max(2, total/len(ids)/10) {
			t.Errorf("%s: lookups read %d of %d row groups", stage, read, total)
		}
	}
	check("after the bulk load", "auditlake")

	// The same events in three runs leave three files of the day, which `eds compact` merges
	// through the engine.
	var gz []string
	filepath.WalkDir(filepath.Join(src, "AWSLogs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".json.gz") {
			gz = append(gz, p)
		}
		return err
	})
	if st, err = lk.Create("runs", lake.CreateOptions{RetentionDays: 3653}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := CloudTrail(ctx, lk, st, Options{Sources: gz[i*len(gz)/3 : (i+1)*len(gz)/3]}); err != nil {
			t.Fatal(err)
		}
	}
	check("after three runs", "auditlake")
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Compact(ctx, db, w, true); err != nil {
		t.Fatal(err)
	}
	w.Close()
	check("after eds compact", "DuckDB")
}
