package cloudtrail

import (
	"encoding/binary"
	"math/bits"

	"github.com/auditlake/auditlake/internal/simd"
)

// Eight-bytes-at-a-time search for the bytes that end a run of plain string content. Strings in
// CloudTrail records are short (10–100 bytes), where this beats two bytes.IndexByte calls.
// In each mask the lowest set bit marks the first matching byte exactly (a borrow can only
// create false positives above a true match), so OR-ing the masks keeps the first match exact.

const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

func zeroBytes(v uint64) uint64 { return (v - swarLo) & ^v & swarHi }

// lessBytes marks bytes < n (n <= 0x80).
func lessBytes(v uint64, n uint64) uint64 { return (v - swarLo*n) & ^v & swarHi }

func le64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// stringStop returns the index of the first '"', '\\' or control byte at or after j, or len(s).
// Where the CPU has AVX2 it looks at 32 bytes at a time while 32 remain: a string value ends
// within the first block nearly always, so the branch that ends the search is predicted, where
// the eight-byte loop's exit varied with every string's length.
func stringStop(s string, j int) int {
	if simd.HasAVX2 && len(s)-j >= 32 {
		k, found := simd.StringStop(s[j:])
		if found {
			return j + k
		}
		j += k
	}
	for ; j+8 <= len(s); j += 8 {
		v := le64(s, j)
		if m := zeroBytes(v^(swarLo*'"')) | zeroBytes(v^(swarLo*'\\')) | lessBytes(v, 0x20); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
	}
	for ; j < len(s); j++ {
		if c := s[j]; c == '"' || c == '\\' || c < 0x20 {
			return j
		}
	}
	return len(s)
}

// quoteOrBackslash returns the index of the first '"' or '\\' in b, or -1.
func quoteOrBackslash(b []byte) int {
	j := 0
	for ; j+8 <= len(b); j += 8 {
		v := binary.LittleEndian.Uint64(b[j:])
		if m := zeroBytes(v^(swarLo*'"')) | zeroBytes(v^(swarLo*'\\')); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
	}
	for ; j < len(b); j++ {
		if c := b[j]; c == '"' || c == '\\' {
			return j
		}
	}
	return -1
}
