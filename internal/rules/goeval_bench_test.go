package rules_test

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/sigma"
)

// BenchmarkGoEval times the rules' Go evaluation at ingest — Decoded on each record, then File
// on each date's records, as the data files of a batch — over real CloudTrail files: the .json.gz files under
// $AUDITLAKE_BENCH_CT (e.g. the generator's AWSLogs), at most $AUDITLAKE_BENCH_FILES of them
// (default 2000). Every community Sigma rule and the built-ins but launch-compliance, grouped
// by principal per hour (the alerts' default). Skipped without the variable.
func BenchmarkGoEval(b *testing.B) {
	dir := os.Getenv("AUDITLAKE_BENCH_CT")
	if dir == "" {
		b.Skip("AUDITLAKE_BENCH_CT not set")
	}
	limit := 2000
	if n, err := strconv.Atoi(os.Getenv("AUDITLAKE_BENCH_FILES")); err == nil && n > 0 {
		limit = n
	}
	var files [][]*cloudtrail.Record
	events := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".gz" || len(files) >= limit {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		var recs []*cloudtrail.Record
		if _, err := cloudtrail.Decode(z, p, cloudtrail.DecodeOptions{}, func(r *cloudtrail.Record) error {
			recs = append(recs, r)
			return nil
		}); err != nil {
			return err
		}
		files, events = append(files, recs), events+len(recs)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// File is given what ingest gives it: a batch's records of one date (a data file), here
	// every record of a date among those read ($AUDITLAKE_BENCH_BYFILE=1: each source file's).
	parts := files
	if os.Getenv("AUDITLAKE_BENCH_BYFILE") == "" {
		byDate := map[string][]*cloudtrail.Record{}
		for _, recs := range files {
			for _, r := range recs {
				d := r.EventTime.UTC().Format(time.DateOnly)
				byDate[d] = append(byDate[d], r)
			}
		}
		parts = nil
		for _, recs := range byDate {
			parts = append(parts, recs)
		}
	}
	compiled, _, err := sigma.Load(testdata("sigma-aws-cloudtrail-rules", "rules"))
	if err != nil {
		b.Fatal(err)
	}
	rs := rules.FromSigma(compiled)
	for _, bi := range rules.Builtins {
		rs = append(rs, rules.Rule{ID: bi.Name, Title: bi.Title, Kind: rules.KindBuiltin, Builtin: bi.Name, Severity: bi.Severity, Enabled: true})
	}
	gs := make([]rules.Grouping, len(rs))
	for i := range gs {
		gs[i] = rules.Grouping{Key: "principal", Window: time.Hour}
	}
	// The collector off while timed: the records held would make it scan them again and again,
	// timing the benchmark's heap rather than the evaluation (allocations are reported).
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	b.ReportAllocs()
	b.ResetTimer()
	var decoded, file time.Duration // the process's CPU time (user+sys) in each phase: less
	// sensitive than wall time to a loaded machine
	for range b.N {
		b.StopTimer()
		runtime.GC()
		b.StartTimer()
		e := rules.NewGoEval(rs, gs)
		c0 := cpuTime(b)
		var wg sync.WaitGroup // as the ingest's decoding workers: one per CPU
		for w := range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for i := w; i < len(files); i += runtime.GOMAXPROCS(0) {
					for _, r := range files[i] {
						r.Detected = 0
						e.Decoded(r)
					}
				}
			})
		}
		wg.Wait()
		c1 := cpuTime(b)
		for _, recs := range parts {
			e.File(recs)
		}
		decoded, file = decoded+c1-c0, file+cpuTime(b)-c1
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / float64(events) }
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(events), "ns/event")
	b.ReportMetric(per(decoded), "decoded-cpu-ns/event")
	b.ReportMetric(per(file), "file-cpu-ns/event")
}

// cpuTime is the process's CPU time so far (user and system).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
