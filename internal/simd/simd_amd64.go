package simd

import "golang.org/x/sys/cpu"

// HasAVX2 says whether the loops run vectorized.
var HasAVX2 = cpu.X86.HasAVX2

// StringStop looks at s in whole 32-byte blocks for the first '"', '\\' or byte below 0x20 —
// the bytes that end plain JSON string content. It returns that byte's index (found), or the
// index from which it did not look (fewer than 32 bytes remain). Only where HasAVX2.
// In stop_amd64.s.
//
//go:noescape
func StringStop(s string) (i int, found bool)
