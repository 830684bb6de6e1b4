package generate

import (
	"math"
	"math/rand/v2"
	"time"
)

// mix derives an independent 64-bit seed from a base seed and a path of integers (SplitMix64
// finaliser over each step). Every file, template and event stream gets its own seed this way,
// so output does not depend on the order in which workers run.
func mix(seed uint64, path ...uint64) uint64 {
	x := seed
	for _, p := range path {
		x ^= p + 0x9e3779b97f4a7c15 + (x << 6) + (x >> 2)
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		x ^= x >> 31
	}
	return x
}

// newRand returns a PCG generator for seed.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)) }

const (
	lowerHex   = "0123456789abcdef"
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	anyAlnum   = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	base64Set  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// chars returns n characters drawn from set.
func chars(r *rand.Rand, set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[r.IntN(len(set))]
	}
	return string(b)
}

// appendUUID appends a random version-4 UUID.
func appendUUID(b []byte, r *rand.Rand) []byte {
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	var v [16]byte
	for i := 0; i < 8; i++ {
		v[i] = byte(hi >> (56 - 8*i))
		v[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range v {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, lowerHex[c>>4], lowerHex[c&0xf])
	}
	return b
}

func uuid(r *rand.Rand) string { return string(appendUUID(make([]byte, 0, 36), r)) }

// awsID returns an EC2-style id: prefix + "0" + 16 lowercase hex digits (17 after the dash),
// e.g. "i-0" + "47be45c593a7157f".
func awsID(r *rand.Rand, prefix string) string { return prefix + "0" + chars(r, lowerHex, 16) }

// pick returns one element of xs.
func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// weighted returns an index drawn with probability proportional to w[i].
func weighted(r *rand.Rand, w []int) int {
	total := 0
	for _, x := range w {
		total += x
	}
	n := r.IntN(total)
	for i, x := range w {
		if n < x {
			return i
		}
		n -= x
	}
	return len(w) - 1
}

// logUniform returns a duration between lo and hi, uniform in log space, truncated to seconds:
// most lifetimes short, a long tail of days.
func logUniform(r *rand.Rand, lo, hi time.Duration) time.Duration {
	l, h := math.Log(float64(lo)), math.Log(float64(hi))
	return time.Duration(math.Exp(l + r.Float64()*(h-l))).Truncate(time.Second)
}

// chance reports true with probability p.
func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }
