package cli_test

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestInProcessIngestLeavesTheRuntimeAlone: cli.Run (what tests and embedders call) changes no
// process-wide setting of the Go runtime; only cli.RunProcess, which main calls, lets an ingest
// tune GOMAXPROCS and the collector.
func TestInProcessIngestLeavesTheRuntimeAlone(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	procs := runtime.GOMAXPROCS(0)
	gc := debug.SetGCPercent(100)
	debug.SetGCPercent(gc)
	limit := debug.SetMemoryLimit(-1)

	dir := t.TempDir()
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))

	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS = %d after an in-process ingest, want %d (unchanged)", got, procs)
	}
	if got := debug.SetGCPercent(gc); got != gc {
		t.Errorf("GOGC = %d after an in-process ingest, want %d (unchanged)", got, gc)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("memory limit = %d after an in-process ingest, want %d (unchanged)", got, limit)
	}
}
