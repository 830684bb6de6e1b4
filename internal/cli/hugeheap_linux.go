//go:build linux && (amd64 || arm64)

package cli

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugeHeap maps n bytes of Go heap in one piece and marks them for transparent huge pages
// (markHuge), then leaves them to the collector: the heap an ingest grows into afterwards lies
// there, and a page fault maps 2 MiB instead of 4 KiB. The Go runtime no longer asks for huge
// pages itself, and where THP is "madvise" (the common default) every page of an ingest's heap
// was faulted in 4 KiB at a time — 200,000 faults at 1M events, 11 % of its CPU on a virtual
// machine where a fault costs several microseconds. Nothing is touched here: a large object
// fresh from the OS is not zeroed, so RSS grows only as the heap is used.
func hugeHeap(n int64) {
	if n < 4*hugePage {
		return
	}
	b := make([]byte, n)
	_ = markHuge(b) // an error (THP not built in) leaves the heap as it would have been
	runtime.KeepAlive(b)
}

const hugePage = 2 << 20

// markHuge asks for transparent huge pages for the whole huge pages inside b.
func markHuge(b []byte) error {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start, end := (p+hugePage-1)&^(hugePage-1), (p+uintptr(len(b)))&^(hugePage-1)
	if end <= start {
		return nil
	}
	return unix.Madvise(b[start-p:end-p], unix.MADV_HUGEPAGE)
}
