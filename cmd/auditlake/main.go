// Command auditlake is a self-hosted audit lake for AWS: CloudTrail event data stores on open
// Parquet, queried with the CloudTrail Lake / Athena SQL dialect on embedded DuckDB.
//
// main only turns signals into context cancellation and lets the command tune the Go runtime
// (cli.RunProcess); everything else is in internal/cli so that tests can run the whole program
// in-process (cli.Run, which changes no process-wide setting).
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
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
	// AUDITLAKE_TRACE=FILE writes a Go execution trace of the run (go tool trace FILE): where
	// the CPUs sit idle, and which goroutine waits on which.
	if path := os.Getenv("AUDITLAKE_TRACE"); path != "" {
		if f, err := os.Create(path); err == nil && trace.Start(f) == nil {
			defer f.Close()
			defer trace.Stop()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.RunProcess(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
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
		trace.Stop()
		os.Exit(code)
	}
}
