//go:build !amd64

package simd

// HasAVX2 says whether the loops run vectorized: only on amd64.
const HasAVX2 = false

// StringStop looks at nothing here (see the amd64 version).
func StringStop(s string) (i int, found bool) { return 0, false }
