// Command auditlake is a self-hosted audit lake for AWS: CloudTrail event data stores on open
// Parquet, queried with the CloudTrail Lake / Athena SQL dialect on embedded DuckDB.
//
// main only turns signals into context cancellation; everything else is in internal/cli so that
// tests can run the whole program in-process.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/auditlake/auditlake/internal/cli"
)

func main() {
	// AUDITLAKE_CPUPROFILE=FILE writes a Go CPU profile of the run (time inside DuckDB shows as
	// cgo calls), for the figures in BENCHMARKS.md.
	if path := os.Getenv("AUDITLAKE_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	// AUDITLAKE_MEMPROFILE=FILE writes the run's Go allocations (go tool pprof -sample_index=alloc_space).
	if path := os.Getenv("AUDITLAKE_MEMPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	if code != 0 {
		pprof.StopCPUProfile()
		os.Exit(code)
	}
}
