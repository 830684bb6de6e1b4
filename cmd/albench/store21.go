package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate"
	"github.com/auditlake/auditlake/internal/lake"
)

// repack writes the events of the generation under src into out as files of perFile records
// each (generate.Repack: issue 21's second data shape, few large files).
func repack(src, out string, perFile int) error {
	if perFile < 1 {
		return fmt.Errorf("-repack-events %d: must be at least 1", perFile)
	}
	files, _, err := generate.Repack(src, out, perFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "repack: %d files of up to %d events in %s\n", files, perFile, out)
	return nil
}

// storageBench reports a store's data bytes against the gzip bytes of its input (issue 21
// target 5), and what recompressing its files at each of levels would leave (derive: with
// eventjsonchecksum derived), each file recompressed into a scratch directory.
func storageBench(data, store, src, label string, levels []int, derive, settle bool) error {
	lk, st, m, err := openStore(data, store)
	if err != nil {
		return err
	}
	_, gz, err := gzFiles(src)
	if err != nil {
		return err
	}
	if settle {
		if m, err = settleCold(lk, st.ID); err != nil {
			return err
		}
	}
	var bytes, closedBytes, closedRows, rows int64
	newest := ""
	for _, f := range m.Files {
		newest = max(newest, f.Date)
	}
	closed := ""
	if t, err := time.Parse(time.DateOnly, newest); err == nil {
		closed = t.AddDate(0, 0, -lake.ClosedAfterDays).Format(time.DateOnly)
	}
	cold := 0
	for _, f := range m.Files {
		bytes += f.Bytes
		rows += f.Rows
		if f.Date < closed {
			closedBytes += f.Bytes
			closedRows += f.Rows
		}
		if f.Cold {
			cold++
		}
	}
	// The input of the closed days: the gzip bytes in proportion to their events.
	closedGz := float64(gz) * float64(closedRows) / float64(max(rows, 1))
	fmt.Printf("\n## Storage (issue 21 target 5)\n\n")
	fmt.Printf("- store: %d files (%d cold), %.1f MB for %.1f MB of gzip input: %.3f ×\n", len(m.Files), cold, float64(bytes)/1e6, float64(gz)/1e6, float64(bytes)/float64(gz))
	name := "21.5: closed days / their gzip input"
	if label != "" && label != "ingest" {
		name += ", " + label
	}
	t := ratioTarget(name, float64(closedBytes)/1e6, closedGz/1e6, "%.1f MB", 1.0)
	if closedRows == 0 {
		t.ratio, t.verdict = "—", "no closed day in the store"
	}
	fmt.Printf("- **closed days: %.1f MB for their %.1f MB of gzip input (%d of %d events): %.3f ×** (target ≤ 1.0 ×: %s)\n\n",
		float64(closedBytes)/1e6, closedGz/1e6, closedRows, rows, float64(closedBytes)/closedGz, t.verdict)
	record(t)
	fmt.Println("```")
	cols, writers := map[string]int64{}, map[string]int{}
	for _, f := range m.Files {
		c, by, err := ctparquet.ColumnBytes(lk.AbsPath(st.ID, f.Path))
		if err != nil {
			return err
		}
		writers[by]++
		for k, v := range c {
			cols[k] += v
		}
	}
	names := slices.SortedFunc(maps.Keys(cols), func(a, b string) int { return cmp.Compare(cols[b], cols[a]) })
	for _, k := range names[:min(12, len(names))] {
		fmt.Printf("  %-22s %12d bytes %5.1f %%\n", k, cols[k], 100*float64(cols[k])/float64(bytes))
	}
	fmt.Printf("  writers: %v\n", writers)
	fmt.Println("```")
	tmp, err := os.MkdirTemp("", "albench-recompress-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, level := range levels {
		var total int64
		start := time.Now()
		for i, f := range m.Files {
			dst := filepath.Join(tmp, fmt.Sprintf("%d.parquet", i))
			if _, err := ctparquet.Recompress(dst, lk.AbsPath(st.ID, f.Path), level, derive); err != nil {
				return err
			}
			fi, err := os.Stat(dst)
			if err != nil {
				return err
			}
			total += fi.Size()
			os.Remove(dst)
		}
		fmt.Printf("level %d derive %v: %d bytes, %.3f × the gzip input, %.1f s\n", level, derive, total, float64(total)/float64(gz), time.Since(start).Seconds())
	}
	return nil
}

// settleCold runs the compaction that follows a load — as the next ingest runs do, each within
// its budget — until every closed day is cold, and prints what it took; it returns the
// manifest then.
func settleCold(lk *lake.Lake, id string) (*lake.Manifest, error) {
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "320MB", TempDir: lk.TempDir()})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	start := time.Now()
	var cpu0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &cpu0)
	runs := 0
	for ; runs < 1000; runs++ {
		m, err := lk.ReadManifest(id)
		if err != nil {
			return nil, err
		}
		before := m.Version
		w, err := lk.BeginWrite(id)
		if err != nil {
			return nil, err
		}
		_, err = lake.Compact(ctx, db, w, false)
		w.Close()
		if err != nil {
			return nil, err
		}
		if m, err = lk.ReadManifest(id); err != nil {
			return nil, err
		}
		if m.Version == before {
			break
		}
	}
	var cpu1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &cpu1)
	cpu := time.Duration(cpu1.Utime.Nano()+cpu1.Stime.Nano()-cpu0.Utime.Nano()-cpu0.Stime.Nano()) * time.Nanosecond
	fmt.Printf("\nCompaction after the load, as the following ingest runs do it (each within its budget): %d runs, %.1f s wall, %.1f s CPU.\n",
		runs, time.Since(start).Seconds(), cpu.Seconds())
	return lk.ReadManifest(id)
}
