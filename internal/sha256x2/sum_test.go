package sha256x2

import (
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// Every pair of lengths around the block and padding boundaries, from unaligned offsets.
func TestSum2IsSHA256OfEach(t *testing.T) {
	if !useSHANI {
		t.Log("no SHA extensions here: Sum2 is crypto/sha256 twice")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	check := func(a, b []byte) {
		t.Helper()
		sa, sb := Sum2(a, b)
		if sa != sha256.Sum256(a) || sb != sha256.Sum256(b) {
			t.Fatalf("Sum2 of %d and %d bytes: not their SHA-256", len(a), len(b))
		}
	}
	for la := 0; la <= 200; la++ {
		for lb := 0; lb <= 200; lb++ {
			check(buf[la%7:la%7+la], buf[100+lb%5:100+lb%5+lb])
		}
	}
	for range 5000 {
		la, lb := rng.IntN(4000), rng.IntN(4000)
		oa, ob := rng.IntN(len(buf)-la+1), rng.IntN(len(buf)-lb+1)
		check(buf[oa:oa+la], buf[ob:ob+lb])
	}
	check(nil, nil)
	check(buf[:1000], buf[:1000]) // the same memory twice
}

func FuzzSum2(f *testing.F) {
	f.Add([]byte("abc"), []byte(""))
	f.Add(make([]byte, 55), make([]byte, 56))
	f.Add(make([]byte, 64), make([]byte, 1565))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		sa, sb := Sum2(a, b)
		if sa != sha256.Sum256(a) || sb != sha256.Sum256(b) {
			t.Fatalf("Sum2 of %d and %d bytes: not their SHA-256", len(a), len(b))
		}
	})
}

// BenchmarkSum2 against BenchmarkSum256Twice: two records of a CloudTrail file's typical size.
func BenchmarkSum2(b *testing.B) {
	x, y := make([]byte, 1565), make([]byte, 1490)
	b.SetBytes(int64(len(x) + len(y)))
	for b.Loop() {
		Sum2(x, y)
	}
}

func BenchmarkSum256Twice(b *testing.B) {
	x, y := make([]byte, 1565), make([]byte, 1490)
	b.SetBytes(int64(len(x) + len(y)))
	for b.Loop() {
		sha256.Sum256(x)
		sha256.Sum256(y)
	}
}
