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
		k := min(qa.n(), qb.n())
		blocks2(&h, unsafe.SliceData(qa.p), unsafe.SliceData(qb.p), k)
		qa.advance(k)
		qb.advance(k)
	}
	qa.rest((*[8]uint32)(h[:8]))
	qb.rest((*[8]uint32)(h[8:]))
	for i := range 8 {
		binary.BigEndian.PutUint32(sa[4*i:], h[i])
		binary.BigEndian.PutUint32(sb[4*i:], h[8+i])
	}
	return sa, sb
}

// queue is a message's blocks still to hash: its whole 64-byte blocks where they lie, then the
// last one or two, padded, in a buffer of the caller's.
type queue struct {
	p    []byte // the blocks to hash next
	tail []byte // the padded blocks, after those of p (nil once started)
}

func blocksOf(m []byte, buf *[128]byte) queue {
	whole := len(m) / 64 * 64
	rest := m[whole:]
	copy(buf[:], rest)
	buf[len(rest)] = 0x80
	n := 64
	if len(rest) >= 56 {
		n = 128
	}
	binary.BigEndian.PutUint64(buf[n-8:], uint64(len(m))*8)
	q := queue{p: m[:whole], tail: buf[:n]}
	if whole == 0 {
		q.p, q.tail = q.tail, nil
	}
	return q
}

// n is how many blocks are left in p.
func (q *queue) n() int { return len(q.p) / 64 }

func (q *queue) more() bool { return len(q.p) > 0 }

func (q *queue) advance(k int) {
	q.p = q.p[64*k:]
	if len(q.p) == 0 && q.tail != nil {
		q.p, q.tail = q.tail, nil
	}
}

// rest hashes the blocks left into h, alone.
func (q *queue) rest(h *[8]uint32) {
	for q.more() {
		blocks1(h, unsafe.SliceData(q.p), q.n())
		q.advance(q.n())
	}
}
