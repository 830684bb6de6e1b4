package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// The figures of issue 21's targets, each beside its baseline measured in the same run,
// alternating, and compared by medians.

// medianOf returns the median (the lower middle for an even count) of ds.
func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func msList(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.0f", d.Seconds()*1000))
	}
	return strings.Join(parts, ", ") + " ms"
}

// selectOneBench times the CLI's `query "SELECT 1"` (the whole process) over data with its cost
// tables registered and with none (the registry set aside for those runs), alternating, rounds
// times each.
func selectOneBench(bin, data string, rounds int) error {
	reg := filepath.Join(data, "cost", "registry.json")
	off := reg + ".albench-off"
	if _, err := os.Stat(reg); err != nil {
		return fmt.Errorf("select-1 bench: no cost table registered in %s: %w", data, err)
	}
	defer os.Rename(off, reg) // restored whatever happens below
	// Setting the registry aside and back is a change of the cost tables each time, which the
	// Iceberg catalog catches up with at the next command (their tables dropped, then made
	// again from the cost files): a cost of the bench's toggle, not of a CLI command over
	// registered cost tables (the same with the catalog on or off, when nothing changes). The
	// Iceberg tables are turned off for the runs (catalog set none), and set back after.
	restore, err := icebergOff(bin, data)
	if err != nil {
		return err
	}
	defer restore()
	var with, without []measured
	for range rounds {
		m, _, err := timeCmd(bin, "--data", data, "query", "SELECT 1")
		if err != nil {
			return err
		}
		with = append(with, m)
		if err := os.Rename(reg, off); err != nil {
			return err
		}
		m, _, err = timeCmd(bin, "--data", data, "query", "SELECT 1")
		if rerr := os.Rename(off, reg); rerr != nil {
			return rerr
		}
		if err != nil {
			return err
		}
		without = append(without, m)
	}
	pick := func(ms []measured, f func(measured) time.Duration) []time.Duration {
		var out []time.Duration
		for _, m := range ms {
			out = append(out, f(m))
		}
		return out
	}
	wall := func(m measured) time.Duration { return m.wall }
	cpu := func(m measured) time.Duration { return m.cpu }
	fmt.Printf("\n## Target 1: the CLI's fixed cost with cost tables registered (%d alternating runs each)\n\n", rounds)
	fmt.Println("| what | wall, median | CPU (user+sys), median | peak RSS | ratio to baseline (wall; CPU) | target |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	bw, bc := medianOf(pick(without, wall)), medianOf(pick(without, cpu))
	t := ratioTarget("21.1: CLI SELECT 1 with cost tables / without", ms(medianOf(pick(with, wall))), ms(bw), "%.0f ms", 1.1)
	for _, r := range []struct {
		name string
		ms   []measured
	}{{"`query \"SELECT 1\"`, no cost table (baseline)", without}, {"`query \"SELECT 1\"`, cost tables registered", with}} {
		w, c := medianOf(pick(r.ms, wall)), medianOf(pick(r.ms, cpu))
		fmt.Printf("| %s | %.0f ms (%s) | %.0f ms | %.0f MiB | %.2f; %.2f | ≤ 1.1 |\n", r.name, w.Seconds()*1000, msList(pick(r.ms, wall)), c.Seconds()*1000,
			float64(median(r.ms).maxRSS)/1024, w.Seconds()/bw.Seconds(), c.Seconds()/bc.Seconds())
	}
	fmt.Printf("\nTarget 1 (wall): %s / %s = %s, %s: **%s**\n", t.figure, t.baseline, t.ratio, t.limit, t.verdict)
	record(t)
	return nil
}

// costABBench times the blog's query 1 and the launch-compliance report over a CSV cost table
// (read through its converted files) and over a Parquet cost table of the same lines,
// alternating in one session, rounds times each after a warm-up.
func costABBench(ctx context.Context, data, store, csvTable, pqTable, approvedFile, blogDir string, rounds int) error {
	lk, err := lake.Open(data)
	if err != nil {
		return err
	}
	st, err := lk.Resolve(store)
	if err != nil {
		return err
	}
	cfg, err := compliance.LoadConfig(approvedFile)
	if err != nil {
		return err
	}
	s, err := query.Open(ctx, lk, query.Options{MemoryLimit: "8GB", MaxResultBytes: -1})
	if err != nil {
		return err
	}
	defer s.Close()
	b, err := os.ReadFile(filepath.Join(blogDir, "blog-query-1.sql"))
	if err != nil {
		return err
	}
	blog := func(table string) func() error {
		sql := strings.NewReplacer(`"enter-your-cur-database"."enter-your-cur-table"`, `"`+strings.Replace(table, ".", `"."`, 1)+`"`,
			"enter-eds-id-here", st.ID, "enter-approved-launch-template-id-here", cfg.Templates[0].ID).Replace(string(b))
		return func() error { _, err := s.Run(ctx, sql); return err }
	}
	report := func(table string) func() error {
		p := compliance.Params{Store: st.ID, Cost: table, Approved: cfg.Approvals}
		return func() error { _, err := compliance.LaunchCompliance(ctx, s, p); return err }
	}
	fmt.Printf("\n## Target 2: CSV cost files (converted once) against Parquet cost files\n\n")
	fmt.Println("| what | Parquet cost table (baseline), median | CSV cost table, median | ratio | target |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	for _, q := range []struct {
		name string
		fn   func(string) func() error
	}{{"the blog's query 1 (RunInstances ⋈ CUR)", blog}, {"report launch-compliance", report}} {
		var walls, cpus [2][]time.Duration
		for i := 0; i <= rounds; i++ {
			for j, table := range []string{pqTable, csvTable} {
				start, cpu0 := time.Now(), processCPU()
				if err := q.fn(table)(); err != nil {
					return fmt.Errorf("%s over %s: %w", q.name, table, err)
				}
				if i > 0 { // the first round warms up
					walls[j] = append(walls[j], time.Since(start))
					cpus[j] = append(cpus[j], processCPU()-cpu0)
				}
			}
		}
		bm, cm := medianOf(walls[0]), medianOf(walls[1])
		bc, cc := medianOf(cpus[0]), medianOf(cpus[1])
		t := ratioTarget("21.2: CSV cost files / Parquet, "+q.name, ms(cm), ms(bm), "%.0f ms", 1.2)
		fmt.Printf("| %s | %.0f ms (%s), CPU %.0f ms | %.0f ms (%s), CPU %.0f ms | %.2f (CPU %.2f) | ≤ 1.2: %s |\n", q.name,
			bm.Seconds()*1000, msList(walls[0]), bc.Seconds()*1000, cm.Seconds()*1000, msList(walls[1]), cc.Seconds()*1000, cm.Seconds()/bm.Seconds(), cc.Seconds()/bc.Seconds(), t.verdict)
		record(t)
	}
	return nil
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// needleBench counts the row groups a lookup by eventid and by requestid reads in the store
// (their Bloom filters, checked as the engine's scan checks them), for a sample of the
// store's own ids, and times the lookup, warm.
func needleBench(ctx context.Context, data, store string) error {
	lk, st, m, err := openStore(data, store)
	if err != nil {
		return err
	}
	s, err := query.Open(ctx, lk, query.Options{MemoryLimit: "4GB"})
	if err != nil {
		return err
	}
	defer s.Close()
	table := `"aws:cloudtrail".` + engine.Ident(st.ID)
	fmt.Printf("\n## Target 4: a lookup by eventid / requestid (%d files)\n\n", len(m.Files))
	fmt.Println("| column | row groups read per lookup (of the store's) | share | lookup, warm median | target |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	for _, col := range []string{"eventid", "requestid"} {
		res, err := s.Run(ctx, "SELECT "+col+" FROM "+table+" WHERE "+col+" IS NOT NULL USING SAMPLE 20 ROWS")
		if err != nil {
			return err
		}
		read, total := 0, 0
		var walls []time.Duration
		for _, row := range res.Rows {
			v := fmt.Sprint(row[0])
			for _, f := range m.Files {
				r, all, err := ctparquet.RowGroupsToRead(lk.AbsPath(st.ID, f.Path), col, v)
				if err != nil {
					return err
				}
				read, total = read+len(r), total+all
			}
			for i := 0; i < 3; i++ {
				start := time.Now()
				if _, err := s.Run(ctx, "SELECT eventname FROM "+table+" WHERE "+col+" = "+engine.Literal(v)); err != nil {
					return err
				}
				if i > 0 {
					walls = append(walls, time.Since(start))
				}
			}
		}
		n := max(len(res.Rows), 1)
		share := 100 * float64(read) / float64(max(total, 1))
		t := absTarget("21.4: row groups a lookup by "+col+" reads", share, "%.1f %%", 10)
		t.baseline = fmt.Sprintf("%d row groups", total/n)
		fmt.Printf("| %s | %.1f of %d | %.1f %% | %.0f ms | ≤ 10 %%: %s |\n", col, float64(read)/float64(n), total/n, share, medianOf(walls).Seconds()*1000, t.verdict)
		record(t)
	}
	return nil
}

// icebergOff turns data's Iceberg tables off (catalog set none) and returns what sets its catalog
// setting back as it was (the file restored, or removed: the default catalog).
func icebergOff(bin, data string) (restore func(), err error) {
	conf := filepath.Join(data, "iceberg", "catalog.json")
	old, rerr := os.ReadFile(conf)
	if _, _, err := timeCmd(bin, "--data", data, "catalog", "set", "none"); err != nil {
		return nil, fmt.Errorf("catalog set none: %w", err)
	}
	return func() {
		if rerr == nil {
			os.WriteFile(conf, old, 0o600)
		} else {
			os.Remove(conf)
		}
	}, nil
}
