// Package prefetch asks the CPU to bring memory into its cache ahead of use, for loops that
// visit records scattered over the heap in an order the hardware cannot guess. On other
// architectures than amd64 it does nothing.
package prefetch

import "unsafe"

// Lines prefetches n cache lines (64 bytes each) from p. A nil p is ignored. Prefetching never
// faults, so p may point anywhere.
func Lines(p unsafe.Pointer, n int) {
	if p != nil {
		lines(p, n)
	}
}
