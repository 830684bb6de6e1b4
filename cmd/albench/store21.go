package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
)

// Issue 21's targets 5 and 6 need a second data shape beside the generator's many small
// delivery files: few large files of a few thousand events each (several MB of JSON), as a
// busy account's trail delivers them. repack makes it from a generation: the same events, in
// delivery order (the generation's files ordered by the time in their names, as ingest reads
// them), cut into files of perFile records, under the same trail key layout (each file named
// after the first file it takes records from), so that both shapes hold exactly the same
// events, and a large file covers a span of time as a busy trail's does.
func repack(src, out string, perFile int) error {
	if perFile < 1 {
		return fmt.Errorf("-repack-events %d: must be at least 1", perFile)
	}
	files, _, err := gzFiles(src)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("repack: no .json.gz files under %s", src)
	}
	slices.SortStableFunc(files, func(a, b string) int { return cmp.Compare(keyTime(a), keyTime(b)) })
	// The files are compressed by one worker per CPU (gzip's default level is most of the
	// time: 10M events took over an hour on one CPU), each written whole under a temporary name
	// and renamed, in whatever order they finish; their names and contents do not depend on it.
	type outFile struct {
		path string
		recs []json.RawMessage
	}
	work := make(chan outFile, runtime.NumCPU())
	errs := make(chan error, runtime.NumCPU())
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var failed error
			for f := range work {
				if failed == nil {
					failed = writeRepacked(f.path, f.recs)
				}
			}
			errs <- failed
		}()
	}
	finish := func() error {
		close(work)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	var recs []json.RawMessage
	first, n := "", 0
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		rel, err := filepath.Rel(src, first)
		if err != nil {
			return err
		}
		rel = strings.TrimSuffix(rel, ".json.gz") + fmt.Sprintf("-big%05d.json.gz", n)
		n++
		work <- outFile{filepath.Join(out, rel), recs}
		recs, first = nil, ""
		return nil
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			fh.Close()
			return fmt.Errorf("%s: %w", f, err)
		}
		var doc struct{ Records []json.RawMessage }
		err = json.NewDecoder(zr).Decode(&doc)
		fh.Close()
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, r := range doc.Records {
			if first == "" {
				first = f
			}
			recs = append(recs, r)
			if len(recs) == perFile {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	err = flush()
	if ferr := finish(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "repack: %d files of up to %d events in %s\n", n, perFile, out)
	return nil
}

// writeRepacked writes recs as a CloudTrail log file at path (gzip, the default level).
func writeRepacked(path string, recs []json.RawMessage) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var body bytes.Buffer
	body.WriteString(`{"Records":[`)
	for i, r := range recs {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(r)
	}
	body.WriteString("]}")
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if _, err := zw.Write(body.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, gz.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// keyTime is the delivery time in a trail file's name (…_CloudTrail_us-east-1_20260901T0005Z_…),
// "" when it has none.
func keyTime(p string) string {
	for _, part := range strings.Split(filepath.Base(p), "_") {
		if len(part) == 14 && part[8] == 'T' && part[13] == 'Z' {
			return part
		}
	}
	return ""
}

// storageBench reports a store's data bytes against the gzip bytes of its input (issue 21
// target 5), and what recompressing its files at each of levels would leave (derive: with
// eventjsonchecksum derived), each file recompressed into a scratch directory.
func storageBench(data, store, src string, levels []int, derive, settle bool) error {
	lk, err := lake.Open(data)
	if err != nil {
		return err
	}
	st, err := lk.Resolve(store)
	if err != nil {
		return err
	}
	m, err := lk.ReadManifest(st.ID)
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
	fmt.Printf("- **closed days: %.1f MB for their %.1f MB of gzip input (%d of %d events): %.3f ×** (target ≤ 1.0 ×)\n\n",
		float64(closedBytes)/1e6, closedGz/1e6, closedRows, rows, float64(closedBytes)/closedGz)
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
