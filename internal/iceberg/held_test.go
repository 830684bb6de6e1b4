package iceberg_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	icebergexpr "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
	"github.com/auditlake/auditlake/internal/ingest"
)

// TestHeldFilesReadWholeAndPruneRightInIceberg: a long load into a published store holds each
// day's file open across batches (lake.Writer.HoldFiles), so a file is several batches' parts
// (row groups) under one footer. iceberg-go — an implementation independent of the writer, as
// Athena, Trino and Spark are — reads that footer for the file's statistics and the file's
// rows from S3: the table holds exactly the store's events, each file's record count and
// eventtime bounds are the file's own (bounds of one part would make engines prune the file
// from queries of the other parts' times), and a scan of the last instant of each file plans
// that file.
func TestHeldFilesReadWholeAndPruneRightInIceberg(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	lk, st, pub, cat := publishedStore(t, s3)
	sum, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{generated(t, 12000, 2, 11)}, BatchRows: 500})
	if err != nil {
		t.Fatal(err)
	}
	tableIsStore(t, s3, lk, st, pub, cat)

	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "trail"))
	if err != nil {
		t.Fatal(err)
	}
	field, ok := tbl.Schema().FindFieldByName("eventtime")
	if !ok {
		t.Fatal("the table has no eventtime")
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	local := map[string]string{}
	for _, f := range m.Files {
		local[pub.Object(f.Path)] = lk.AbsPath(st.ID, f.Path)
	}
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	micros := func(b []byte) time.Time {
		if len(b) != 8 {
			t.Fatalf("an eventtime bound of %d bytes", len(b))
		}
		return time.UnixMicro(int64(binary.LittleEndian.Uint64(b))).UTC()
	}
	multiPart := 0
	for _, task := range tasks {
		f := task.File
		path, ok := local[f.FilePath()]
		if !ok {
			t.Fatalf("the table names %s, which is no live file of the store", f.FilePath())
		}
		var groups, rows int64
		var lo, hi time.Time
		src := engine.Literal(path)
		if err := db.QueryRow(ctx, "SELECT count(DISTINCT row_group_id) FROM parquet_metadata("+src+")").Scan(&groups); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, "SELECT count(*), min(eventtime), max(eventtime) FROM read_parquet("+src+")").Scan(&rows, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		if groups > 1 {
			multiPart++
		}
		if f.Count() != rows {
			t.Errorf("%s: iceberg-go counts %d records, the file holds %d", f.FilePath(), f.Count(), rows)
		}
		if got := micros(f.LowerBoundValues()[field.ID]); !got.Equal(lo.UTC()) {
			t.Errorf("%s (%d row groups): eventtime lower bound %s, the file's earliest event %s", f.FilePath(), groups, got, lo)
		}
		if got := micros(f.UpperBoundValues()[field.ID]); !got.Equal(hi.UTC()) {
			t.Errorf("%s (%d row groups): eventtime upper bound %s, the file's latest event %s", f.FilePath(), groups, got, hi)
		}
		// The file's last instant, as an engine asks for it, plans the file.
		last, err := tbl.Scan(table.WithRowFilter(eventTimeFrom(hi))).PlanFiles(ctx)
		if err != nil {
			t.Fatal(err)
		}
		planned := false
		for _, l := range last {
			planned = planned || l.File.FilePath() == f.FilePath()
		}
		if !planned {
			t.Errorf("a scan of eventtime >= %s does not plan %s, which holds an event then", hi, f.FilePath())
		}
	}
	t.Logf("%d files in the table, %d of several row groups; the load merged %d", len(tasks), multiPart, sum.Merged)
	if multiPart == 0 {
		t.Fatal("no file of several parts: the test needs the load to hold files across batches")
	}
}

// eventTimeFrom is the row filter eventtime >= at.
func eventTimeFrom(at time.Time) icebergexpr.BooleanExpression {
	return icebergexpr.GreaterThanEqual(icebergexpr.Reference("eventtime"), icebergexpr.Timestamp(at.UnixMicro()))
}
