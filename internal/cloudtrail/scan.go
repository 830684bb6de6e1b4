package cloudtrail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"unsafe"
)

// scanner reads a stream of JSON text and cuts it into values without parsing them: it tracks
// strings, escapes and brackets only, so it runs near memory speed and never holds more than one
// value (bounded by a limit) plus its read buffer. The values it captures are parsed and
// validated later, one at a time, by the in-memory reader in json.go. A whole scanner holds
// all of a (small) input instead, and the decoder parses most records of it where they lie
// (decoder.decodeInPlace), using the scanner only to walk between them.
type scanner struct {
	r     io.Reader
	buf   []byte
	pos   int
	end   int
	line  int    // 1-based line number at pos
	err   error  // sticky read error; io.EOF at the clean end of input
	stack []byte // open brackets of the value being captured
	// whole: buf is the whole input (up to err) in the memory of a string, which records decoded
	// in place keep; nothing may write to it (fill never reads again, unread clears whole).
	whole bool
}

const scanBufSize = 256 << 10

func newScanner(r io.Reader) *scanner {
	return &scanner{r: r, buf: make([]byte, scanBufSize), line: 1}
}

// newWholeScanner scans data, all of the input, which ended with err (io.EOF when clean).
func newWholeScanner(data string, err error) *scanner {
	return &scanner{buf: unsafe.Slice(unsafe.StringData(data), len(data)), end: len(data), err: err, line: 1, whole: true}
}

// rest is the unread input of a whole scanner, at most n bytes, as a string sharing its memory.
func (s *scanner) rest(n int) string {
	if !s.whole || s.pos >= s.end {
		return ""
	}
	return unsafe.String(&s.buf[s.pos], min(s.end-s.pos, n))
}

// left is how many bytes of input are buffered from the position on: for whole input, all that
// is left of it.
func (s *scanner) left() int { return s.end - s.pos }

// errSyntax marks input whose structure the scanner cannot follow (the rest is unreadable).
var errSyntax = errors.New("invalid JSON")

// fill reads more input, keeping the unconsumed bytes. It reports whether any byte is available.
func (s *scanner) fill() bool {
	if s.err != nil {
		return s.pos < s.end
	}
	if s.pos > 0 {
		s.end = copy(s.buf, s.buf[s.pos:s.end])
		s.pos = 0
	}
	for empty := 0; empty < 100; empty++ {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.err = err
			return s.pos < s.end
		}
		if n > 0 {
			return true
		}
	}
	s.err = io.ErrNoProgress
	return s.pos < s.end
}

// readErr returns the read error that ended the input, nil for a clean end.
func (s *scanner) readErr() error {
	if s.err == io.EOF {
		return nil
	}
	return s.err
}

// eofErr is the error for input that ends inside a value.
func (s *scanner) eofErr() error {
	if err := s.readErr(); err != nil {
		return err
	}
	return fmt.Errorf("%w: unexpected end of input", errSyntax)
}

// peek skips whitespace (and a UTF-8 byte order mark) and returns the next byte; false at the
// end of input.
func (s *scanner) peek() (byte, bool) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\r':
				s.pos++
			case '\n':
				s.line++
				s.pos++
			case 0xEF:
				if s.end-s.pos < 3 && s.err == nil {
					if !s.fill() {
						return c, true
					}
					continue
				}
				if bytes.HasPrefix(s.buf[s.pos:s.end], []byte("\xEF\xBB\xBF")) {
					s.pos += 3
					continue
				}
				return c, true
			default:
				return c, true
			}
		}
		if !s.fill() {
			return 0, false
		}
	}
}

// capInfo describes a captured value.
type capInfo struct {
	oversize bool // longer than the limit: not captured
	tooDeep  bool // nested deeper than maxDepth
	ws       bool // has whitespace outside strings (so it is not compact)
}

func (c *capInfo) add(o capInfo) {
	c.oversize = c.oversize || o.oversize
	c.tooDeep = c.tooDeep || o.tooDeep
	c.ws = c.ws || o.ws
}

// capture appends the JSON value starting at the current byte to dst and consumes it. When the
// value would make dst longer than limit, capture stops appending, keeps scanning to the value's
// end and reports oversize (dst is then truncated to its original length). When the value nests
// deeper than maxDepth it reports tooDeep. An error means the input cannot be followed any further.
func (s *scanner) capture(dst []byte, limit, maxDepth int) (out []byte, ci capInfo, err error) {
	oversize, tooDeep, ws := false, false, false
	defer func() { ci = capInfo{oversize: oversize, tooDeep: tooDeep, ws: ws} }()
	base := len(dst)
	keep := func(seg []byte) {
		if oversize {
			return
		}
		if len(dst)+len(seg) > limit {
			oversize = true
			dst = dst[:base]
			return
		}
		dst = append(dst, seg...)
	}
	if s.pos >= s.end && !s.fill() {
		return dst, ci, s.eofErr()
	}
	c := s.buf[s.pos]
	if c != '{' && c != '[' && c != '"' {
		// A number or literal: it ends at the first byte that cannot be part of one.
		n := 0
		for {
			start := s.pos
			for s.pos < s.end && isScalarByte(s.buf[s.pos]) {
				s.pos++
			}
			n += s.pos - start
			keep(s.buf[start:s.pos])
			if s.pos < s.end || !s.fill() {
				break
			}
		}
		if err := s.readErr(); err != nil {
			return dst, ci, err
		}
		if n == 0 {
			return dst, ci, fmt.Errorf("%w: unexpected %q", errSyntax, c)
		}
		return dst, ci, nil
	}
	depth := 0
	inStr, esc := false, false
	stack := s.stack[:0]
	defer func() { s.stack = stack[:0] }()
	for {
		if s.pos >= s.end && !s.fill() {
			return dst, ci, s.eofErr()
		}
		b := s.buf[s.pos:s.end]
		i := 0
		done := false
		for i < len(b) && !done {
			if esc {
				esc = false
				i++
				continue
			}
			if inStr {
				// Inline SWAR search for '"' or '\\' (see swar.go): strings are most of the input.
				j := i
				for ; j+8 <= len(b); j += 8 {
					v := binary.LittleEndian.Uint64(b[j:])
					if m := zeroBytes(v^(swarLo*'"')) | zeroBytes(v^(swarLo*'\\')); m != 0 {
						j += bits.TrailingZeros64(m) >> 3
						goto found
					}
				}
				for ; j < len(b); j++ {
					if c := b[j]; c == '"' || c == '\\' {
						goto found
					}
				}
				i = len(b)
				break
			found:
				i = j + 1
				if b[i-1] == '\\' {
					esc = true
					continue
				}
				inStr = false
				done = depth == 0
				continue
			}
			switch b[i] {
			case '"':
				inStr = true
			case '{', '[':
				depth++
				if depth <= maxDepth {
					stack = append(stack, b[i])
				} else {
					tooDeep = true
				}
			case '}', ']':
				if depth <= maxDepth {
					if len(stack) == 0 || (stack[len(stack)-1] == '{') != (b[i] == '}') {
						keep(b[:i])
						s.pos += i
						return dst, ci, fmt.Errorf("%w: unexpected %q", errSyntax, b[i])
					}
					stack = stack[:len(stack)-1]
				}
				depth--
				done = depth == 0
			case '\n':
				s.line++
				ws = true
			case ' ', '\t', '\r':
				ws = true
			}
			i++
		}
		keep(b[:i])
		s.pos += i
		if done {
			return dst, ci, nil
		}
	}
}

// skipLine consumes input up to and including the next newline.
func (s *scanner) skipLine() {
	for {
		if k := bytes.IndexByte(s.buf[s.pos:s.end], '\n'); k >= 0 {
			s.pos += k + 1
			s.line++
			return
		}
		s.pos = s.end
		if !s.fill() {
			return
		}
	}
}

// unread puts b back in front of the unread input.
func (s *scanner) unread(b []byte) {
	rem := s.buf[s.pos:s.end]
	nb := make([]byte, max(len(b)+len(rem), scanBufSize))
	n := copy(nb, b)
	n += copy(nb[n:], rem)
	s.buf, s.pos, s.end = nb, 0, n
	s.whole = false
}

// firstKeyIsNot reports whether the object starting at the current '{' has a first key for which
// isKey (given the quoted key) is false. It looks at most 256 bytes ahead and reports false
// when it cannot tell.
func (s *scanner) firstKeyIsNot(isKey func(quoted []byte) bool) bool {
	const window = 256
	for s.end-s.pos < window && s.err == nil {
		if !s.fill() {
			break
		}
	}
	b := s.buf[s.pos:s.end]
	if len(b) > window {
		b = b[:window]
	}
	i := 1
	for i < len(b) && isWS(b[i]) {
		i++
	}
	if i >= len(b) || b[i] != '"' {
		return false
	}
	k := quoteOrBackslash(b[i+1:])
	if k < 0 || b[i+1+k] != '"' {
		return false
	}
	return !isKey(b[i : i+k+2])
}
