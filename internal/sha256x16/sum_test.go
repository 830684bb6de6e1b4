package sha256x16

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/auditlake/auditlake/internal/sha256x2"
)

// The assembly's offsets (gen.py).
func TestLayout(t *testing.T) {
	var l lanes
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{{"h", unsafe.Offsetof(l.h), 0}, {"done", unsafe.Offsetof(l.done), 512}, {"whole", unsafe.Offsetof(l.whole), 640},
		{"base", unsafe.Offsetof(l.base), 768}, {"tailAdj", unsafe.Offsetof(l.tailAdj), 896}, {"total", unsafe.Offsetof(l.total), 1024}} {
		if f.got != f.want {
			t.Errorf("lanes.%s at %d, gen.py says %d", f.name, f.got, f.want)
		}
	}
}

func check(t *testing.T, msgs [][]byte) {
	t.Helper()
	out := make([][32]byte, len(msgs)+1)
	sentinel := [32]byte{1, 2, 3}
	out[len(msgs)] = sentinel
	Sum(msgs, out)
	for i, m := range msgs {
		if out[i] != sha256.Sum256(m) {
			lens := make([]int, len(msgs))
			for j := range msgs {
				lens[j] = len(msgs[j])
			}
			t.Fatalf("drainAt %d: message %d of %d bytes (lengths %v): not its SHA-256", drainAt, i, len(m), lens)
		}
	}
	if out[len(msgs)] != sentinel {
		t.Fatalf("Sum wrote past len(msgs)")
	}
}

// each runs f with drainAt 0 (the 16-lane blocks alone, idle lanes and all), the default, and 16.
func each(t *testing.T, f func(t *testing.T)) {
	if !useAVX512 {
		t.Log("no AVX-512 here: Sum is crypto/sha256 for each message")
	}
	defer func(d int) { drainAt = d }(drainAt)
	for _, d := range []int{0, drainAt, 16} {
		drainAt = d
		t.Run(fmt.Sprint("drainAt=", d), f)
	}
}

func randBuf(rng *rand.Rand, n int) []byte {
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	return buf
}

// Every length 0..300 in every lane, beside every other lane's length shifted, from unaligned
// offsets; batches of 1..40 messages.
func TestSumIsSHA256OfEach(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := randBuf(rng, 16<<10)
	each(t, func(t *testing.T) {
		for L := 0; L <= 300; L++ {
			for shift := range 16 {
				var msgs [16][]byte
				for i := range 16 {
					n := (L + 37*((i+shift)%16)) % 301
					o := (i*1000 + L%13)
					msgs[i] = buf[o : o+n]
				}
				check(t, msgs[:])
			}
			// all lanes the same length
			var msgs [16][]byte
			for i := range 16 {
				msgs[i] = buf[i*301+i : i*301+i+L]
			}
			check(t, msgs[:])
		}
		for n := 0; n <= 40; n++ {
			for range 20 {
				msgs := make([][]byte, n)
				for i := range msgs {
					k := rng.IntN(301)
					o := rng.IntN(len(buf) - k + 1)
					msgs[i] = buf[o : o+k]
				}
				check(t, msgs)
			}
		}
	})
}

// Random lengths up to 10 KB, batches up to 100, with empty and nil messages among them.
func TestSumRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	buf := randBuf(rng, 20<<10)
	each(t, func(t *testing.T) {
		for range 300 {
			msgs := make([][]byte, rng.IntN(100))
			for i := range msgs {
				switch rng.IntN(10) {
				case 0:
					msgs[i] = nil
				case 1:
					msgs[i] = buf[5:5]
				default:
					k := rng.IntN(10<<10 + 1)
					o := rng.IntN(len(buf) - k + 1)
					msgs[i] = buf[o : o+k]
				}
			}
			check(t, msgs)
		}
		var msgs [16][]byte // all nil
		check(t, msgs[:])
		for i := range msgs {
			msgs[i] = buf[:1000] // the same memory 16 times
		}
		check(t, msgs[:])
	})
}

func TestSum16(t *testing.T) {
	var msgs [16][]byte
	var out [16][32]byte
	for i := range msgs {
		msgs[i] = make([]byte, 100*i)
		msgs[i] = append(msgs[i], byte(i))
	}
	Sum16(&msgs, &out)
	for i := range msgs {
		if out[i] != sha256.Sum256(msgs[i]) {
			t.Fatalf("Sum16: message %d wrong", i)
		}
	}
}

func FuzzSum16(f *testing.F) {
	f.Add([]byte("abc"), uint64(0), uint8(16))
	f.Add(make([]byte, 1565), uint64(0x0123456789abcdef), uint8(16))
	f.Add(make([]byte, 4000), uint64(7), uint8(40))
	// The messages are pieces of data, their lengths drawn from seed.
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, count uint8) {
		rng := rand.New(rand.NewPCG(seed, 0))
		msgs := make([][]byte, int(count)%64)
		for i := range msgs {
			k := rng.IntN(len(data) + 1)
			o := rng.IntN(len(data) - k + 1)
			msgs[i] = data[o : o+k]
		}
		check(t, msgs)
		if len(msgs) >= 16 {
			var out [16][32]byte
			Sum16((*[16][]byte)(msgs[:16]), &out)
			for i := range 16 {
				if out[i] != sha256.Sum256(msgs[i]) {
					t.Fatalf("Sum16: message %d wrong", i)
				}
			}
		}
	})
}

// Benchmarks: 16 CloudTrail-sized records, of random lengths 800-2500 bytes or all 1500; Sum16,
// then Sum over a batch of 1024 such (the lanes refilled), against sha256x2.Sum2 (8 calls) and
// crypto/sha256 (16 calls) over the same records.
func records(n int, equal bool) [][]byte {
	rng := rand.New(rand.NewPCG(5, 6))
	msgs := make([][]byte, n)
	for i := range msgs {
		k := 1500
		if !equal {
			k = 800 + rng.IntN(1701)
		}
		msgs[i] = randBuf(rng, k)
	}
	return msgs
}

func size(msgs [][]byte) (n int64) {
	for _, m := range msgs {
		n += int64(len(m))
	}
	return n
}

func benchAll(b *testing.B, msgs [][]byte) {
	out := make([][32]byte, len(msgs))
	b.Run("Sum", func(b *testing.B) {
		b.SetBytes(size(msgs))
		for b.Loop() {
			Sum(msgs, out)
		}
	})
	b.Run("Sum2", func(b *testing.B) {
		b.SetBytes(size(msgs))
		for b.Loop() {
			for i := 0; i+1 < len(msgs); i += 2 {
				out[i], out[i+1] = sha256x2.Sum2(msgs[i], msgs[i+1])
			}
		}
	})
	b.Run("Sum256", func(b *testing.B) {
		b.SetBytes(size(msgs))
		for b.Loop() {
			for i, m := range msgs {
				out[i] = sha256.Sum256(m)
			}
		}
	})
}

func BenchmarkRandom16(b *testing.B)   { benchAll(b, records(16, false)) }
func BenchmarkEqual16(b *testing.B)    { benchAll(b, records(16, true)) }
func BenchmarkRandom1024(b *testing.B) { benchAll(b, records(1024, false)) }
