//go:build amd64 && !purego

package sha256x2

// useSHANI: the SHA extensions (CPUID leaf 7 EBX bit 29) and the SSSE3 and SSE4.1 the block
// functions also use (leaf 1 ECX bits 9 and 19), as crypto/sha256 requires for its own.
var useSHANI = func() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	_, b7, _, _ := cpuid(7, 0)
	return c1&(1<<9) != 0 && c1&(1<<19) != 0 && b7&(1<<29) != 0
}()

func cpuid(leaf, sub uint32) (a, b, c, d uint32)

// blocks2 hashes n 64-byte blocks at a into h[:8] and n at b into h[8:], together.
//
//go:noescape
func blocks2(h *[16]uint32, a, b *byte, n int)

// blocks1 hashes n 64-byte blocks at p into h.
//
//go:noescape
func blocks1(h *[8]uint32, p *byte, n int)
