package lake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

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
	c, err := prepareConcat(ctx, w, date, group)
	if err != nil {
		return nil, nil, err
	}
	c.run()
	return c.finish(ctx, db, w)
}

// A concat is one group's concatenation in three steps: prepareConcat (the writer's state:
// the new file's name, the group's local paths), run (the data file's bytes only, so that
// several groups may run at once) and finish (the writer's state and the engine again: the
// new file's entry and facts), the first and last in the order of the groups.
type concat struct {
	date     string
	group    []DataFile
	rel, abs string
	srcs     []string
	rows     int64
	err      error
}

func prepareConcat(ctx context.Context, w *Writer, date string, group []DataFile) (*concat, error) {
	rel := "data/eventdate=" + date + "/" + w.filePrefix() + NewUUID() + ".parquet"
	srcs, err := w.localFiles(ctx, group)
	if err != nil {
		return nil, err
	}
	return &concat{date: date, group: group, rel: rel, abs: w.lake.AbsPath(w.id, rel), srcs: srcs}, nil
}

// run writes the concatenation (ctparquet.Concat removes what it wrote when it fails).
func (c *concat) run() {
	c.rows, c.err = ctparquet.Concat(c.abs, c.srcs, ctparquet.ByFirstRow)
}

func (c *concat) finish(ctx context.Context, db *engine.DB, w *Writer) (added []DataFile, removed []string, err error) {
	if c.err != nil {
		return nil, nil, c.err
	}
	defer func() {
		if err != nil {
			os.Remove(c.abs)
		}
	}()
	group := c.group
	nf := DataFile{Path: c.rel, Date: c.date, Rows: c.rows, MinTime: group[0].MinTime, MaxTime: group[0].MaxTime}
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
	if c.rows != want {
		return nil, nil, fmt.Errorf("concatenate %s: %d rows, the manifest says %d", c.date, c.rows, want)
	}
	st, err := os.Stat(c.abs)
	if err != nil {
		return nil, nil, err
	}
	nf.Bytes = st.Size()
	w.lake.written(w.id, c.rel)
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

// runConcats runs the concats (nil ones skipped) on one goroutine per CPU.
func runConcats(cs []*concat) {
	onCPUs(len(cs), func(i int) {
		if cs[i] != nil {
			cs[i].run()
		}
	})
}

// onCPUs calls f(i) for each i in [0, n), on one goroutine per CPU (at most n), taking the
// next i as each is done, and returns when all are.
func onCPUs(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.NumCPU(), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}
