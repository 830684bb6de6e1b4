// Package sha256x16 computes the SHA-256 of many messages at once: with AVX-512, 16 of them
// side by side, one in each 32-bit lane of the ZMM registers (the multi-buffer technique: the
// rounds are plain vector adds, rotates and VPTERNLOGD, with no SHA instruction; each lane is
// a message). Lanes free up as their messages end and take the next ones, so a long batch keeps
// all 16 busy; the last few messages of a batch, once fewer than drainAt lanes are left busy,
// are finished one by one with crypto/sha256 from the state reached. Without AVX-512 (or on
// another architecture, or with the purego tag) Sum is crypto/sha256 for each message.
package sha256x16

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"math/bits"
	"sync"
	"unsafe"
)

var iv = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// drainAt: once no message is left to start, the busy lanes are finished with crypto/sha256
// when there are at most this many (a 16-lane block costs about what 6-8 single ones do).
var drainAt = 4

// Accelerated reports whether Sum hashes 16 messages side by side here (AVX-512); when it does
// not, Sum is crypto/sha256 once per message, and a caller with a faster way of its own (two
// messages at once with the SHA extensions: sha256x2) keeps it.
func Accelerated() bool { return useAVX512 }

// Sum16 sets out[i] to sha256.Sum256(msgs[i]), for each i.
func Sum16(msgs *[16][]byte, out *[16][32]byte) { Sum(msgs[:], out[:]) }

// Sum sets out[i] to sha256.Sum256(msgs[i]) for each i < len(msgs); out must be at least as
// long as msgs. The longer the batch, the better: 16 lanes stay busy until its last messages.
func Sum(msgs [][]byte, out [][32]byte) {
	out = out[:len(msgs)]
	if !useAVX512 || len(msgs) <= drainAt {
		for i, m := range msgs {
			out[i] = sha256.Sum256(m)
		}
		return
	}
	l := pool.Get().(*lanes)
	l.run(msgs, out)
	clear(l.base[:]) // keep no message alive
	pool.Put(l)
}

var pool = sync.Pool{New: func() any { return new(lanes) }}

var zero [64]byte

// lanes is the state of the 16 messages in hand; the assembly reads its first fields (their
// offsets are fixed: gen.py, TestLayout). It is allocated on the heap, which does not move:
// tailAdj holds addresses of its tail buffers as integers.
type lanes struct {
	h       [8][16]uint32      // the hash state, word-major: h[w][lane]
	done    [16]uint64         // the blocks hashed
	whole   [16]uint64         // the message's whole 64-byte blocks, read in place at base
	base    [16]unsafe.Pointer // the message
	tailAdj [16]uintptr        // &tail[i] - 64*whole[i]: block d >= whole is at tailAdj+64*d
	total   [16]uint64         // whole + the tail's blocks
	tail    [16][128]byte      // the message's last bytes and padding: one or two blocks
	idx     [16]int            // the message's index in the batch
}

// start puts message m (number idx of the batch) in lane i.
func (l *lanes) start(i int, m []byte, idx int) {
	whole := len(m) / 64
	rest := m[whole*64:]
	t := &l.tail[i]
	copy(t[:], rest)
	t[len(rest)] = 0x80
	nt := 1
	if len(rest) >= 56 {
		nt = 2
	}
	clear(t[len(rest)+1 : nt*64-8])
	binary.BigEndian.PutUint64(t[nt*64-8:], uint64(len(m))*8)
	l.done[i], l.whole[i], l.total[i], l.idx[i] = 0, uint64(whole), uint64(whole+nt), idx
	if whole > 0 {
		l.base[i] = unsafe.Pointer(unsafe.SliceData(m))
	} else {
		l.base[i] = unsafe.Pointer(t)
	}
	l.tailAdj[i] = uintptr(unsafe.Pointer(t)) - uintptr(whole*64)
	for w := range 8 {
		l.h[w][i] = iv[w]
	}
}

// idle leaves lane i without a message: it reads a block of zeros, again and again.
func (l *lanes) idle(i int) {
	l.base[i] = unsafe.Pointer(&zero)
	l.done[i], l.whole[i], l.total[i] = 0, 1<<62, 1<<62
}

// finish writes lane i's hash (its message fully hashed) to dst.
func (l *lanes) finish(i int, dst *[32]byte) {
	for w := range 8 {
		binary.BigEndian.PutUint32(dst[4*w:], l.h[w][i])
	}
}

func (l *lanes) run(msgs [][]byte, out [][32]byte) {
	next := 0
	var mask uint16
	for i := range 16 {
		if next < len(msgs) {
			l.start(i, msgs[next], next)
			next++
			mask |= 1 << i
		} else {
			l.idle(i)
		}
	}
	for mask != 0 {
		if next == len(msgs) && bits.OnesCount16(mask) <= drainAt {
			mask = l.drain(mask, msgs, out)
			if mask == 0 {
				break
			}
		}
		for fin := blocks16(l, mask); fin != 0; fin &= fin - 1 {
			i := bits.TrailingZeros16(fin)
			l.finish(i, &out[l.idx[i]])
			if next < len(msgs) {
				l.start(i, msgs[next], next)
				next++
			} else {
				l.idle(i)
				mask &^= 1 << i
			}
		}
	}
}

// drain finishes with crypto/sha256 the lanes of mask still hashing their message's whole
// blocks, and returns the others (in their padding's second block: one more block16 ends them).
func (l *lanes) drain(mask uint16, msgs [][]byte, out [][32]byte) uint16 {
	var st [4 + 32 + 64 + 8]byte // crypto/sha256's marshaled state
	copy(st[:], "sha\x03")
	for i := range 16 {
		if mask&(1<<i) == 0 || l.done[i] > l.whole[i] {
			continue
		}
		for w := range 8 {
			binary.BigEndian.PutUint32(st[4+4*w:], l.h[w][i])
		}
		binary.BigEndian.PutUint64(st[4+32+64:], l.done[i]*64)
		d := sha256.New()
		if err := d.(encoding.BinaryUnmarshaler).UnmarshalBinary(st[:]); err != nil {
			panic("sha256x16: " + err.Error())
		}
		d.Write(msgs[l.idx[i]][l.done[i]*64:])
		d.Sum(out[l.idx[i]][:0])
		l.idle(i)
		mask &^= 1 << i
	}
	return mask
}
