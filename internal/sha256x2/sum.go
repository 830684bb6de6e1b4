// Package sha256x2 computes the SHA-256 of two messages at once. With the CPU's SHA extensions
// one message's hash is bound by the latency of SHA256RNDS2 (each waits for the one before):
// the unit sits half idle, and a second, independent message hashed alongside takes the other
// half (Sum2 hashes two ~1.5 KB CloudTrail records in about the time of one). Without them
// (or on another architecture, or with the purego tag) Sum2 is crypto/sha256 twice.
package sha256x2

import (
	"crypto/sha256"
	"encoding/binary"
	"unsafe"
)

var iv = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// Sum2 returns sha256.Sum256(a) and sha256.Sum256(b).
func Sum2(a, b []byte) (sa, sb [32]byte) {
	if !useSHANI {
		return sha256.Sum256(a), sha256.Sum256(b)
	}
	var h [16]uint32
	copy(h[:8], iv[:])
	copy(h[8:], iv[:])
	var ta, tb [128]byte
	qa, qb := blocksOf(a, &ta), blocksOf(b, &tb)
	for qa.more() && qb.more() {
		k := min(qa.n, qb.n)
		blocks2(&h, qa.p, qb.p, k)
		qa.advance(k)
		qb.advance(k)
	}
	for _, q := range []struct {
		q *queue
		h *[8]uint32
	}{{&qa, (*[8]uint32)(h[:8])}, {&qb, (*[8]uint32)(h[8:])}} {
		for q.q.more() {
			blocks1(q.h, q.q.p, q.q.n)
			q.q.advance(q.q.n)
		}
	}
	for i := range 8 {
		binary.BigEndian.PutUint32(sa[4*i:], h[i])
		binary.BigEndian.PutUint32(sb[4*i:], h[8+i])
	}
	return sa, sb
}

// queue is a message's blocks still to hash: its whole 64-byte blocks where they lie, then the
// last one or two, padded, in a buffer of the caller's.
type queue struct {
	p    *byte // the next block
	n    int   // blocks left at p
	tail *byte // the padded blocks, after those at p (nil once started)
	tn   int
}

func blocksOf(m []byte, buf *[128]byte) queue {
	whole := len(m) / 64
	rest := m[whole*64:]
	copy(buf[:], rest)
	buf[len(rest)] = 0x80
	tn := 1
	if len(rest) >= 56 {
		tn = 2
	}
	binary.BigEndian.PutUint64(buf[tn*64-8:], uint64(len(m))*8)
	q := queue{p: unsafe.SliceData(m), n: whole, tail: &buf[0], tn: tn}
	if whole == 0 {
		q.p, q.n, q.tail = q.tail, q.tn, nil
	}
	return q
}

func (q *queue) more() bool { return q.n > 0 }

func (q *queue) advance(k int) {
	q.n -= k
	if q.n > 0 {
		q.p = (*byte)(unsafe.Add(unsafe.Pointer(q.p), 64*k))
	} else if q.tail != nil {
		q.p, q.n, q.tail = q.tail, q.tn, nil
	}
}
