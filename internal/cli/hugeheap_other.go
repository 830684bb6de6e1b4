//go:build !(linux && (amd64 || arm64))

package cli

// hugeHeap does nothing here (see hugeheap_linux.go).
func hugeHeap(int64) {}
