package cli

import (
	"runtime"
	"testing"
)

// TestIngestRunsOnePMoreThanTheDefault: an ingest sets GOMAXPROCS to the runtime's own choice
// plus one, the same however often it runs in a process, and leaves an explicit GOMAXPROCS in
// the environment alone.
func TestIngestRunsOnePMoreThanTheDefault(t *testing.T) {
	t.Cleanup(func() { runtime.GOMAXPROCS(defaultProcs) })
	t.Setenv("GOMAXPROCS", "")
	for range 3 {
		tuneIngestProcs()
		if got := runtime.GOMAXPROCS(0); got != defaultProcs+1 {
			t.Fatalf("GOMAXPROCS = %d after an ingest's tuning, want %d", got, defaultProcs+1)
		}
	}
	runtime.GOMAXPROCS(defaultProcs)
	t.Setenv("GOMAXPROCS", "1")
	tuneIngestProcs()
	if got := runtime.GOMAXPROCS(0); got != defaultProcs {
		t.Errorf("GOMAXPROCS = %d with GOMAXPROCS=1 in the environment; the tuning must leave it (%d)", got, defaultProcs)
	}
}
