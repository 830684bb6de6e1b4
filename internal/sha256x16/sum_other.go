//go:build !amd64 || purego

package sha256x16

const useAVX512 = false

func blocks16(l *lanes, mask uint16) uint16 { panic("unreachable") }
