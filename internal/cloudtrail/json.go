package cloudtrail

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the small JSON reader the decoder uses on one record held in memory. It works
// on a string so that unescaped string values and nested values can be returned as substrings of
// the record's compact text, without copying. Every function validates what it reads; nesting
// depth is bounded by the caller's limit so hostile input cannot exhaust the stack.

// syntaxError is malformed JSON inside one value, at a byte offset of that value's compact text.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg) }

func errAt(s string, i int, what string) error {
	if i >= len(s) {
		return &syntaxError{off: i, msg: "unexpected end of " + what}
	}
	return &syntaxError{off: i, msg: fmt.Sprintf("unexpected %q in %s", s[i], what)}
}

// skipWS returns the index of the first non-whitespace byte at or after i.
func skipWS(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipWSNote is skipWS that sets *ws when it skips anything.
func skipWSNote(s string, i int, ws *bool) int {
	if i < len(s) && s[i] > ' ' {
		return i
	}
	j := skipWS(s, i)
	if j != i {
		*ws = true
	}
	return j
}

// kindName names the JSON type of the value starting with byte c, for messages.
func kindName(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// escapes says what scanString found in a string: nothing to unquote (0), escapes (escAny), and
// among them a \u escape of a lone UTF-16 surrogate (escLone: a high one not followed by a low
// one, or a low one alone). Such an escape is valid JSON syntax, but DuckDB's JSON functions
// refuse the whole text ("no low surrogate"), so a record holding one is rewritten
// (ReplaceLoneSurrogates) before it is stored.
type escapes uint8

const (
	escAny escapes = 1 << iota
	escLone
)

// scanString validates the string starting at s[i] == '"' and returns the index after its
// closing quote and what escapes it contains. Only the escape path looks for surrogates: plain
// runs are skipped by stringStop as before.
func scanString(s string, i int) (end int, esc escapes, err error) {
	j := i + 1
	for {
		j = stringStop(s, j)
		if j >= len(s) {
			return 0, 0, errAt(s, len(s), "string")
		}
		switch s[j] {
		case '"':
			return j + 1, esc, nil
		case '\\':
			esc |= escAny
			p := j + 1
			if p >= len(s) {
				return 0, 0, errAt(s, p, "string escape")
			}
			switch s[p] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j = p + 1
			case 'u':
				if p+5 > len(s) || !isHex4(s[p+1:p+5]) {
					return 0, 0, errAt(s, p, "\\u escape")
				}
				j = p + 5
				if s[p+1]|0x20 == 'd' && s[p+2] >= '8' { // U+D800..U+DFFF
					if n := surrogatePair(s, p-1); n > 0 {
						j = p - 1 + n
					} else {
						esc |= escLone
					}
				}
			default:
				return 0, 0, errAt(s, p, "string escape")
			}
		default:
			return 0, 0, &syntaxError{off: j, msg: "control character in string"}
		}
	}
}

// surrogatePair reports the length (12) of a valid UTF-16 surrogate pair written as two \u
// escapes at s[k:], or 0 when the escape at s[k] (a surrogate) does not begin one.
func surrogatePair(s string, k int) int {
	if k+12 > len(s) || s[k+6] != '\\' || s[k+7] != 'u' || !isHex4(s[k+8:k+12]) {
		return 0
	}
	if hi, lo := hex4(s[k+2:k+6]), hex4(s[k+8:k+12]); 0xd800 <= hi && hi < 0xdc00 && 0xdc00 <= lo && lo < 0xe000 {
		return 12
	}
	return 0
}

// ReplaceLoneSurrogates returns the JSON text s with every \u escape of a lone UTF-16 surrogate
// replaced by \ufffd (U+FFFD, as unquote reads it), and the number replaced. The text is
// otherwise unchanged; a valid pair is kept. s need not be valid JSON: only escapes are looked
// at, and a backslash appears only inside strings.
func ReplaceLoneSurrogates(s string) (string, int) {
	var b []byte
	n, last := 0, 0
	for k := strings.IndexByte(s, '\\'); k >= 0 && k+1 < len(s); {
		next := k + 2
		if s[k+1] == 'u' && k+6 <= len(s) && isHex4(s[k+2:k+6]) {
			next = k + 6
			if r := hex4(s[k+2 : k+6]); utf16.IsSurrogate(r) {
				if p := surrogatePair(s, k); p > 0 {
					next = k + p
				} else {
					b = append(append(b, s[last:k]...), `\ufffd`...)
					last = next
					n++
				}
			}
		}
		j := strings.IndexByte(s[next:], '\\')
		if j < 0 {
			break
		}
		k = next + j
	}
	if n == 0 {
		return s, 0
	}
	return string(append(b, s[last:]...)), n
}

func isHex4(h string) bool {
	for i := 0; i < 4; i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// ReplaceInvalidText returns the JSON text s as the engine's JSON functions read it: invalid
// UTF-8 (each run of bad bytes) and lone surrogate escapes (ReplaceLoneSurrogates) replaced by
// U+FFFD, and how many were. Stored text that did not come through the record decoder
// (PutAuditEvents' eventData, Config items) goes through it.
func ReplaceInvalidText(s string) (string, int) {
	n := 0
	if !utf8.ValidString(s) {
		s, n = strings.ToValidUTF8(s, "\uFFFD"), 1
	}
	s, k := ReplaceLoneSurrogates(s)
	return s, n + k
}

// unquote returns the value of the already validated string s[i:end]. Without escapes it is a
// substring of s. Lone surrogates become U+FFFD, as encoding/json does.
func unquote(s string, i, end int, esc escapes) string {
	body := s[i+1 : end-1]
	if esc == 0 {
		return body
	}
	var b strings.Builder
	b.Grow(len(body))
	for k := 0; k < len(body); {
		c := body[k]
		if c != '\\' {
			n := strings.IndexByte(body[k:], '\\')
			if n < 0 {
				n = len(body) - k
			}
			b.WriteString(body[k : k+n])
			k += n
			continue
		}
		k++
		switch body[k] {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r := hex4(body[k+1 : k+5])
			k += 4
			if utf16.IsSurrogate(r) {
				dec := utf8.RuneError
				if k+7 <= len(body) && body[k+1] == '\\' && body[k+2] == 'u' {
					dec = utf16.DecodeRune(r, hex4(body[k+3:k+7]))
					if dec != utf8.RuneError {
						k += 6
					}
				}
				r = dec
			}
			b.WriteRune(r)
		default: // '"', '\\', '/'
			b.WriteByte(body[k])
		}
		k++
	}
	return b.String()
}

func hex4(h string) rune {
	v, _ := strconv.ParseUint(h, 16, 32)
	return rune(v)
}

// skipValue validates the value starting at s[i] and returns the index after it. depth is the
// number of enclosing arrays and objects; beyond maxDepth the value is rejected.
func skipValue(s string, i, depth, maxDepth int) (int, error) {
	var nt notes
	return skipValueNote(s, i, depth, maxDepth, &nt)
}

// notes is what reading a value noticed besides its syntax.
type notes struct {
	ws   bool // whitespace outside strings: the text is not compact
	lone bool // a \u escape of a lone UTF-16 surrogate (see escapes)
}

// skipValueNote is skipValue that notes in *nt whitespace outside strings and lone surrogates.
func skipValueNote(s string, i, depth, maxDepth int, nt *notes) (int, error) {
	ws := &nt.ws
	i = skipWSNote(s, i, ws)
	if i >= len(s) {
		return 0, errAt(s, i, "value")
	}
	switch c := s[i]; c {
	case '"':
		end, esc, err := scanString(s, i)
		nt.lone = nt.lone || esc&escLone != 0
		return end, err
	case '{', '[':
		if depth >= maxDepth {
			return 0, &syntaxError{off: i, msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWSNote(s, i+1, ws)
		if i < len(s) && s[i] == closer {
			return i + 1, nil
		}
		for {
			if c == '{' {
				if i >= len(s) || s[i] != '"' {
					return 0, errAt(s, i, "object")
				}
				end, esc, err := scanString(s, i)
				if err != nil {
					return 0, err
				}
				nt.lone = nt.lone || esc&escLone != 0
				i = skipWSNote(s, end, ws)
				if i >= len(s) || s[i] != ':' {
					return 0, errAt(s, i, "object")
				}
				i++
			}
			end, err := skipValueNote(s, i, depth+1, maxDepth, nt)
			if err != nil {
				return 0, err
			}
			i = skipWSNote(s, end, ws)
			if i >= len(s) {
				return 0, errAt(s, i, "value")
			}
			if s[i] == closer {
				return i + 1, nil
			}
			if s[i] != ',' {
				return 0, errAt(s, i, "value")
			}
			i = skipWSNote(s, i+1, ws)
		}
	case 't':
		return literal(s, i, "true")
	case 'f':
		return literal(s, i, "false")
	case 'n':
		return literal(s, i, "null")
	default:
		return number(s, i)
	}
}

func literal(s string, i int, lit string) (int, error) {
	if strings.HasPrefix(s[i:], lit) {
		return i + len(lit), nil
	}
	return 0, errAt(s, i, "literal")
}

// number validates a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func number(s string, i int) (int, error) {
	start := i
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case !digits():
		return 0, errAt(s, start, "value")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return 0, errAt(s, i, "number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return 0, errAt(s, i, "number")
		}
	}
	return i, nil
}

// isWS reports whether c is JSON whitespace.
func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isScalarByte reports whether c can be part of a number or literal.
func isScalarByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

// compact appends src to dst without the whitespace outside strings. Whitespace between two
// scalar bytes is kept as one space so that invalid input (`1 2`) stays invalid rather than
// becoming a different valid value (`12`). It does not validate. When src has no such whitespace
// it returns src itself and false.
func compact(dst, src []byte) ([]byte, bool) {
	first := -1
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '"' {
			end := stringEnd(src, i)
			i = end - 1
			continue
		}
		if isWS(c) {
			first = i
			break
		}
	}
	if first < 0 {
		return src, false
	}
	dst = append(dst, src[:first]...)
	for i := first; i < len(src); {
		c := src[i]
		switch {
		case c == '"':
			end := stringEnd(src, i)
			dst = append(dst, src[i:end]...)
			i = end
		case isWS(c):
			j := i + 1
			for j < len(src) && isWS(src[j]) {
				j++
			}
			if len(dst) > 0 && j < len(src) && isScalarByte(dst[len(dst)-1]) && isScalarByte(src[j]) {
				dst = append(dst, ' ')
			}
			i = j
		default:
			j := i + 1
			for j < len(src) && src[j] != '"' && !isWS(src[j]) {
				j++
			}
			dst = append(dst, src[i:j]...)
			i = j
		}
	}
	return dst, true
}

// stringEnd returns the index after the closing quote of the string starting at src[i], or
// len(src) if it is not closed.
func stringEnd(src []byte, i int) int {
	j := i + 1
	for {
		k := quoteOrBackslash(src[j:])
		if k < 0 {
			return len(src)
		}
		if src[j+k] == '"' {
			return j + k + 1
		}
		j += k + 2
		if j > len(src) {
			return len(src)
		}
	}
}
