package prefetch

import "unsafe"

// lines prefetches n cache lines from p (PREFETCHT0: it never faults, whatever the address).
//
//go:noescape
func lines(p unsafe.Pointer, n int)
