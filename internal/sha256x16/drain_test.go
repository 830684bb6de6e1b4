package sha256x16

import (
	"fmt"
	"testing"
)

func BenchmarkDrainAt(b *testing.B) {
	defer func(d int) { drainAt = d }(drainAt)
	for _, n := range []int{16, 1024} {
		msgs := records(n, false)
		out := make([][32]byte, n)
		for _, d := range []int{0, 2, 4, 6, 8} {
			drainAt = d
			b.Run(fmt.Sprint(n, "/drainAt=", d), func(b *testing.B) {
				b.SetBytes(size(msgs))
				for b.Loop() {
					Sum(msgs, out)
				}
			})
		}
	}
}
