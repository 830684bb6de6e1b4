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
	"syscall"

	"github.com/auditlake/auditlake/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
