//go:build amd64 && !purego

package sha256x16

// useAVX512: AVX-512 F, BW and VL (CPUID leaf 7 EBX bits 16, 30, 31), and the OS saving the
// ZMM state: OSXSAVE (leaf 1 ECX bit 27), then XCR0's SSE and AVX (bits 1-2) and opmask,
// ZMM_Hi256 and Hi16_ZMM (bits 5-7) states.
var useAVX512 = func() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	if c1&(1<<27) == 0 {
		return false
	}
	if xcr0, _ := xgetbv0(); xcr0&0xe6 != 0xe6 {
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	return b7&(1<<16) != 0 && b7&(1<<30) != 0 && b7&(1<<31) != 0
}()

func cpuid(leaf, sub uint32) (a, b, c, d uint32)

func xgetbv0() (eax, edx uint32)

// blocks16 hashes blocks of every lane of l until some of those in mask have all theirs
// hashed, and returns these (gen.py).
//
//go:noescape
func blocks16(l *lanes, mask uint16) (fin uint16)
