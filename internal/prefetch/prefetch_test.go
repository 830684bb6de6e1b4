package prefetch

import (
	"testing"
	"unsafe"
)

// TestLinesNeverFaults: prefetching is a hint — nil, no lines, and a range running far past
// the end of its allocation return without a fault, and memory is unchanged.
func TestLinesNeverFaults(t *testing.T) {
	b := make([]byte, 100)
	for i := range b {
		b[i] = byte(i)
	}
	Lines(nil, 4)
	Lines(unsafe.Pointer(&b[0]), 0)
	Lines(unsafe.Pointer(&b[0]), -1)
	Lines(unsafe.Pointer(&b[0]), 64) // 4 KB from a 100-byte slice
	for i := range b {
		if b[i] != byte(i) {
			t.Fatalf("byte %d changed to %d", i, b[i])
		}
	}
}
