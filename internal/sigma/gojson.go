package sigma

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jnode is a parsed JSON value for the Go matcher, as the engine's JSON functions see it:
// objects keep their keys in order, duplicates included (a key lookup takes the first), and
// numbers keep their text.
type jnode struct {
	kind  byte   // 'o' object, 'a' array, 's' string, 'n' number, 't' true, 'f' false, 'z' null
	str   string // a string's value, a number's text
	keys  []string
	elems []*jnode // an object's values (by keys) or an array's elements
}

// maxJSONNesting bounds the nesting of a document parseJSON reads (deeper: not parsed, and the
// values it would give are unknown to the Go matcher).
const maxJSONNesting = 1000

// parseJSON parses one JSON document, whitespace around it allowed; ok is false for anything
// that is not strictly valid JSON (RFC 8259) with valid UTF-8 strings.
func parseJSON(s string) (*jnode, bool) {
	p := jparser{s: s}
	p.ws()
	n, ok := p.value(0)
	if !ok {
		return nil, false
	}
	p.ws()
	return n, p.i == len(p.s)
}

type jparser struct {
	s string
	i int
}

func (p *jparser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jparser) lit(word string) bool {
	if strings.HasPrefix(p.s[p.i:], word) {
		p.i += len(word)
		return true
	}
	return false
}

func (p *jparser) value(depth int) (*jnode, bool) {
	if depth > maxJSONNesting || p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		n := &jnode{kind: 'o'}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return n, true
		}
		for {
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != '"' {
				return nil, false
			}
			k, ok := p.str()
			if !ok {
				return nil, false
			}
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, false
			}
			p.i++
			p.ws()
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			n.keys, n.elems = append(n.keys, k), append(n.elems, v)
			p.ws()
			if p.i >= len(p.s) {
				return nil, false
			}
			if p.s[p.i] == '}' {
				p.i++
				return n, true
			}
			if p.s[p.i] != ',' {
				return nil, false
			}
			p.i++
		}
	case c == '[':
		p.i++
		n := &jnode{kind: 'a'}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return n, true
		}
		for {
			p.ws()
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			n.elems = append(n.elems, v)
			p.ws()
			if p.i >= len(p.s) {
				return nil, false
			}
			if p.s[p.i] == ']' {
				p.i++
				return n, true
			}
			if p.s[p.i] != ',' {
				return nil, false
			}
			p.i++
		}
	case c == '"':
		v, ok := p.str()
		return &jnode{kind: 's', str: v}, ok
	case c == 't':
		return &jnode{kind: 't'}, p.lit("true")
	case c == 'f':
		return &jnode{kind: 'f'}, p.lit("false")
	case c == 'n':
		return &jnode{kind: 'z'}, p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		if c == '-' {
			p.i++
		}
		digits := func() int {
			n := 0
			for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
				p.i++
				n++
			}
			return n
		}
		if p.i < len(p.s) && p.s[p.i] == '0' {
			p.i++
		} else if digits() == 0 {
			return nil, false
		}
		if p.i < len(p.s) && p.s[p.i] == '.' {
			p.i++
			if digits() == 0 {
				return nil, false
			}
		}
		if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
			p.i++
			if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
				p.i++
			}
			if digits() == 0 {
				return nil, false
			}
		}
		return &jnode{kind: 'n', str: p.s[start:p.i]}, true
	}
	return nil, false
}

// str reads a string at p.i (its opening quote); a lone surrogate escape or invalid UTF-8 is
// not accepted.
func (p *jparser) str() (string, bool) {
	p.i++
	start := p.i
	var b *strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			out := p.s[start:p.i]
			if b != nil {
				b.WriteString(out)
				out = b.String()
			}
			p.i++
			return out, true
		case c < 0x20:
			return "", false
		case c == '\\':
			if b == nil {
				b = &strings.Builder{}
			}
			b.WriteString(p.s[start:p.i])
			p.i++
			if p.i >= len(p.s) {
				return "", false
			}
			e := p.s[p.i]
			p.i++
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
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
				r, ok := p.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xdc00 || !p.lit(`\u`) {
						return "", false
					}
					r2, ok := p.hex4()
					if !ok || r2 < 0xdc00 || r2 > 0xdfff {
						return "", false
					}
					r = utf16.DecodeRune(r, r2)
				}
				b.WriteRune(r)
			default:
				return "", false
			}
			start = p.i
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			if r == utf8.RuneError && size <= 1 {
				return "", false
			}
			p.i += size
		}
	}
	return "", false
}

func (p *jparser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// text is n as the engine's json_extract_string gives it (a string unquoted; anything else as
// compact JSON text), ok false where the Go matcher cannot tell that text exactly: a number
// that is not an integer the engine keeps as written, a string with a control character the
// engine escapes in a way not reproduced here. null has no text (ok, and null true).
func (n *jnode) text() (s string, null, ok bool) {
	switch n.kind {
	case 's':
		return n.str, false, true
	case 'z':
		return "", true, true
	}
	var b strings.Builder
	if !n.write(&b) {
		return "", false, false
	}
	return b.String(), false, true
}

// write appends n's compact JSON text as the engine writes it: keys in order, no spaces,
// strings with only " and \ and \b \f \n \r \t escaped, other characters as they are.
func (n *jnode) write(b *strings.Builder) bool {
	switch n.kind {
	case 'o', 'a':
		open, close := byte('{'), byte('}')
		if n.kind == 'a' {
			open, close = '[', ']'
		}
		b.WriteByte(open)
		for i, e := range n.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			if n.kind == 'o' {
				if !writeJSONString(b, n.keys[i]) {
					return false
				}
				b.WriteByte(':')
			}
			if !e.write(b) {
				return false
			}
		}
		b.WriteByte(close)
	case 's':
		return writeJSONString(b, n.str)
	case 'n':
		if !plainInteger(n.str) {
			return false
		}
		b.WriteString(n.str)
	case 't':
		b.WriteString("true")
	case 'f':
		b.WriteString("false")
	case 'z':
		b.WriteString("null")
	}
	return true
}

func writeJSONString(b *strings.Builder, s string) bool {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 || c == 0x7f {
				return false
			}
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return true
}

// plainInteger: a JSON integer the engine reads as a 64-bit integer and writes back as it
// was written (not -0).
func plainInteger(s string) bool {
	if s == "-0" || strings.ContainsAny(s, ".eE") {
		return false
	}
	if strings.HasPrefix(s, "-") {
		_, err := strconv.ParseInt(s, 10, 64)
		return err == nil
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}
