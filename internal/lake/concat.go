package lake

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lifecycle"
)

// Which files ingest's own compaction concatenates (a bulk load's), and how their manifest
// entries and facts follow; ctparquet.Concat copies the row groups.

// bulk reports whether group is a bulk load's files: row groups of at least a quarter of
// ctparquet.RowGroupRows on average (each file's rows in row groups of ctparquet.RowGroupRows), which
// concatenation keeps as they are. A file at the edge of a batch may be small; files that are
// all small (a trail's incremental ingests) would make a file of tiny row groups, and are
// merged by the engine, sorted into full ones.
func bulk(group []DataFile) bool {
	var rows, groups int64
	for _, f := range group {
		rows += f.Rows
		groups += (f.Rows + ctparquet.RowGroupRows - 1) / ctparquet.RowGroupRows
	}
	return groups > 0 && rows >= groups*ctparquet.RowGroupRows/4
}

// concatGroup merges group, data files of one date partition, by concatenating their row
// groups (ordered by event source, name and time at their start, so that the row groups of an
// event source or name stay together) and their EC2 lifecycle facts. It returns
// ctparquet.ErrNotConcatenable, having written nothing, when the files cannot be concatenated.
func concatGroup(ctx context.Context, db *engine.DB, w *Writer, date string, group []DataFile) (added []DataFile, removed []string, err error) {
	rel := "data/eventdate=" + date + "/" + w.filePrefix() + NewUUID() + ".parquet"
	abs := w.lake.AbsPath(w.id, rel)
	srcs, err := w.localFiles(ctx, group)
	if err != nil {
		return nil, nil, err
	}
	rows, err := ctparquet.Concat(abs, srcs, ctparquet.ByFirstRow)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			os.Remove(abs)
		}
	}()
	nf := DataFile{Path: rel, Date: date, Rows: rows, MinTime: group[0].MinTime, MaxTime: group[0].MaxTime}
	var want int64
	for _, f := range group {
		want += f.Rows
		if f.MinTime.Before(nf.MinTime) {
			nf.MinTime = f.MinTime
		}
		if f.MaxTime.After(nf.MaxTime) {
			nf.MaxTime = f.MaxTime
		}
		removed = append(removed, f.Path)
	}
	if rows != want {
		return nil, nil, fmt.Errorf("concatenate %s: %d rows, the manifest says %d", date, rows, want)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, nil, err
	}
	nf.Bytes = st.Size()
	w.lake.written(w.id, rel)
	if w.facts {
		if err := concatFacts(ctx, db, w, &nf, group); err != nil {
			return nil, nil, err
		}
	}
	return []DataFile{nf}, removed, nil
}

// concatFacts gives nf, the concatenation of group, the facts of group's files concatenated
// when all are current, else computes them from nf.
func concatFacts(ctx context.Context, db *engine.DB, w *Writer, nf *DataFile, group []DataFile) error {
	var srcs []string
	for _, f := range group {
		if f.FactsVersion != lifecycle.Version {
			return writeFacts(ctx, db, w, nf)
		}
		if f.Facts != "" {
			srcs = append(srcs, w.lake.AbsPath(w.id, f.Facts))
		}
	}
	nf.Facts, nf.FactsVersion = "", lifecycle.Version
	if len(srcs) == 0 {
		return nil
	}
	rel, abs, err := factsPath(w, nf)
	if err != nil {
		return err
	}
	n, err := ctparquet.Concat(abs, srcs, nil)
	if errors.Is(err, ctparquet.ErrNotConcatenable) { // facts written by the engine and by Go
		return writeFacts(ctx, db, w, nf)
	}
	if err != nil {
		return err
	}
	return nf.setFacts(rel, abs, n)
}
