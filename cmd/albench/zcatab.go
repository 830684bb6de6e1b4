package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// zcatAB times the ingest of src's files against two parallel zcat of them (the decompression
// floor), alternating rounds times, without the first table's other baselines (DuckDB's
// read_json takes minutes at 10M events): issue 21 target 6 at BENCH_REPORT_EVENTS, on either
// data shape. It prints each round's wall and CPU time (user+sys, a machine shared with other
// work shows in the wall time first), the medians' ratio and the peak RSS. The last ingest's
// store is kept in work/lake.
func zcatAB(bin, src, work, label string, rounds int) error {
	if src == "" || work == "" {
		return fmt.Errorf("-zcat-ab needs -src and -work")
	}
	files, gzBytes, err := gzFiles(src)
	if err != nil {
		return err
	}
	data := filepath.Join(work, "lake")
	zcats, ingests, _, err := zcatAndIngest(bin, src, data, rounds)
	if err != nil {
		return err
	}
	m, err := benchManifest(data)
	if err != nil {
		return err
	}
	zc, ing := median(zcats), median(ingests)
	fmt.Printf("### %s: %d events from %d files (%.1f MB gzip)\n\n", label, m.Rows(), len(files), float64(gzBytes)/1e6)
	fmt.Println("| what | wall | CPU (user+sys) | events/s | peak RSS | ratio to zcat×2 (wall) |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	row := func(name string, x measured, showRSS bool) {
		rss := "—"
		if showRSS {
			rss = fmt.Sprintf("%.0f MiB", float64(x.maxRSS)/1024)
		}
		fmt.Printf("| %s | %.2f s | %.2f s | %.0f | %s | %.2f |\n", name, x.wall.Seconds(), x.cpu.Seconds(),
			float64(m.Rows())/x.wall.Seconds(), rss, x.wall.Seconds()/zc.wall.Seconds())
	}
	row("zcat, two in parallel (baseline)", zc, false)
	row("auditlake ingest cloudtrail", ing, true)
	ingestTargets(label, m.Rows(), len(files), zc, ing)
	cpus := func(ms []measured) string {
		var parts []string
		for _, x := range ms {
			parts = append(parts, fmt.Sprintf("%.1f", x.cpu.Seconds()))
		}
		return strings.Join(parts, ", ") + " s"
	}
	fmt.Printf("\nMedians of %d alternating runs%s: zcat %s (CPU %s); ingest %s (CPU %s); ratios %s.\n\n",
		rounds, warmedUp(), walls(zcats), cpus(zcats), walls(ingests), cpus(ingests), ratios(ingests, zcats))
	return nil
}
