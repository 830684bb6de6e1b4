//go:build amd64 && !purego

package sha256x16

import "golang.org/x/sys/cpu"

// useAVX512: AVX-512 F, BW (the byte swap) and VL, with the OS saving the ZMM state (x/sys/cpu
// reports none of them otherwise), as internal/simd asks it.
var useAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

// blocks16 hashes blocks of every lane of l until some of those in mask have all theirs
// hashed, and returns these (gen.py).
//
//go:noescape
func blocks16(l *lanes, mask uint16) (fin uint16)
