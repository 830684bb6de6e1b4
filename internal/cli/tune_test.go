package cli

import (
	"runtime"
	"runtime/debug"
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

// TestIngestTunesTheCollectorWithinItsLimit: an ingest's heap limit is ingestHeapLimit at the
// default batch and grows with a larger one; GOMEMLIMIT and GOGC in the environment win.
func TestIngestTunesTheCollectorWithinItsLimit(t *testing.T) {
	limit, gc := debug.SetMemoryLimit(-1), debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetMemoryLimit(limit); debug.SetGCPercent(gc) })
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")

	tuneIngestGC(0)
	if got := debug.SetMemoryLimit(-1); got != ingestHeapLimit {
		t.Errorf("memory limit = %d at the default batch, want ingestHeapLimit (%d)", got, ingestHeapLimit)
	}
	if got := debug.SetGCPercent(-1); got != ingestGCPercent {
		t.Errorf("GOGC = %d after an ingest's tuning, want %d", got, ingestGCPercent)
	}
	big := 200_000
	tuneIngestGC(big)
	if got := debug.SetMemoryLimit(-1); got <= ingestHeapLimit {
		t.Errorf("memory limit = %d for a batch of %d events, want more than the default's %d", got, big, ingestHeapLimit)
	}

	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(gc)
	t.Setenv("GOMEMLIMIT", "300MiB")
	t.Setenv("GOGC", "50")
	tuneIngestGC(0)
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("memory limit = %d with GOMEMLIMIT set; the tuning must leave it (%d)", got, limit)
	}
	if got := debug.SetGCPercent(gc); got != gc {
		t.Errorf("GOGC = %d with GOGC set; the tuning must leave it (%d)", got, gc)
	}
}

// TestHugeHeapIsBoundedByTheDefaultLimit: the heap hugeHeap maps up front is 7/8 of the ingest's
// limit at the default batch, and no more than that when a large --batch raises the limit (a
// batch of a million events sets 12 GB: one allocation of 10 GB up front would be refused by a
// smaller machine, fatally).
func TestHugeHeapIsBoundedByTheDefaultLimit(t *testing.T) {
	if got, want := hugeHeapSize(ingestHeapLimit), int64(ingestHeapLimit)/8*7; got != want {
		t.Errorf("hugeHeapSize(default limit) = %d, want %d", got, want)
	}
	if got, want := hugeHeapSize(1_000_000*12<<10), int64(ingestHeapLimit)/8*7; got != want {
		t.Errorf("hugeHeapSize(12 GB) = %d, want the default's %d", got, want)
	}
	if got, want := hugeHeapSize(256<<20), int64(256<<20)/8*7; got != want {
		t.Errorf("hugeHeapSize(256 MiB) = %d, want %d", got, want)
	}
}
