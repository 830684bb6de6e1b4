//go:build !amd64 || purego

package sha256x2

const useSHANI = false

func blocks2(h *[16]uint32, a, b *byte, n int) { panic("unreachable") }

func blocks1(h *[8]uint32, p *byte, n int) { panic("unreachable") }
