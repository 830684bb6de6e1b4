package lifecycle

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file reads JSON text the way the engine's JSON functions do (DuckDB, which uses yyjson),
// as far as facts.sql depends on it: what parses, which value a path reaches, and the text
// json_extract_string and a cast of json_extract to VARCHAR give for a value.

// jval is a parsed JSON value.
type jval struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' boolean, 'z' null
	str  string
	keys []string // object keys, in order, repeats kept
	vals []*jval  // object values or array elements
}

// parseJSON parses s as the engine does: surrounding whitespace and trailing commas are
// accepted; control characters in strings, unpaired surrogate escapes and anything after the
// value are not. NaN and Infinity, which the engine also accepts, are refused here (they give
// NULL rather than a value: no CloudTrail field holds them).
func parseJSON(s string) (*jval, bool) {
	p := jparser{s: s}
	v, ok := p.value(0)
	if !ok {
		return nil, false
	}
	p.ws()
	return v, p.i == len(s)
}

type jparser struct {
	s string
	i int
}

const maxJSONDepth = 1000

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

func (p *jparser) value(depth int) (*jval, bool) {
	p.ws()
	if p.i >= len(p.s) || depth > maxJSONDepth {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '{' || c == '[':
		v := &jval{kind: 'a'}
		closer := byte(']')
		if c == '{' {
			v.kind, closer = 'o', '}'
		}
		p.i++
		for {
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == closer { // empty, or after a trailing comma
				p.i++
				return v, true
			}
			if v.kind == 'o' {
				k, ok := p.string()
				if !ok {
					return nil, false
				}
				p.ws()
				if p.i >= len(p.s) || p.s[p.i] != ':' {
					return nil, false
				}
				p.i++
				v.keys = append(v.keys, k)
			}
			e, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			v.vals = append(v.vals, e)
			p.ws()
			if p.i >= len(p.s) {
				return nil, false
			}
			switch p.s[p.i] {
			case ',':
				p.i++
			case closer:
				p.i++
				return v, true
			default:
				return nil, false
			}
		}
	case c == '"':
		s, ok := p.string()
		return &jval{kind: 's', str: s}, ok
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if strings.HasPrefix(p.s[p.i:], lit) {
				p.i += len(lit)
				if lit == "null" {
					return &jval{kind: 'z'}, true
				}
				return &jval{kind: 'b', str: lit}, true
			}
		}
		return nil, false
	default:
		return p.number()
	}
}

// string reads a string literal and returns its value.
func (p *jparser) string() (string, bool) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", false
	}
	p.i++
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '"' && p.s[p.i] != '\\' && p.s[p.i] >= 0x20 {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '"' { // no escapes: the common case
		p.i++
		return p.s[start : p.i-1], true
	}
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			return "", false
		}
		e := p.s[p.i+1]
		p.i += 2
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
				if r >= 0xDC00 || !strings.HasPrefix(p.s[p.i:], `\u`) {
					return "", false
				}
				p.i += 2
				lo, ok := p.hex4()
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return "", false
				}
				r = utf16.DecodeRune(r, lo)
			}
			b.WriteRune(r)
		default:
			return "", false
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

// number reads a JSON number, keeping its literal text.
func (p *jparser) number() (*jval, bool) {
	start := p.i
	if p.i < len(p.s) && p.s[p.i] == '-' {
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
	intStart := p.i
	if n := digits(); n == 0 || (n > 1 && p.s[intStart] == '0') {
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
	return &jval{kind: 'n', str: p.s[start:p.i]}, true
}

// get follows path (object keys; the first of repeated keys, as the engine does) from v.
func (v *jval) get(path ...string) *jval {
	for _, k := range path {
		if v == nil || v.kind != 'o' {
			return nil
		}
		var next *jval
		for i, key := range v.keys {
			if key == k {
				next = v.vals[i]
				break
			}
		}
		v = next
	}
	return v
}

// index is element i of array v.
func (v *jval) index(i int) *jval {
	if v == nil || v.kind != 'a' || i >= len(v.vals) {
		return nil
	}
	return v.vals[i]
}

// extractString is json_extract_string of v: a string's value, NULL for a missing value or
// JSON null, the JSON text of anything else.
func (v *jval) extractString() *string {
	switch {
	case v == nil || v.kind == 'z':
		return nil
	case v.kind == 's':
		return &v.str
	}
	s := v.text()
	return &s
}

// extractText is json_extract cast to VARCHAR: NULL for a missing value, else its JSON text
// (JSON null gives "null").
func (v *jval) extractText() *string {
	if v == nil {
		return nil
	}
	s := v.text()
	return &s
}

// text is v written as the engine writes JSON: no whitespace, strings with only the escapes JSON
// requires, numbers as the engine stores them.
func (v *jval) text() string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

func (v *jval) write(b *strings.Builder) {
	switch v.kind {
	case 'o', 'a':
		open, close := byte('['), byte(']')
		if v.kind == 'o' {
			open, close = '{', '}'
		}
		b.WriteByte(open)
		for i, e := range v.vals {
			if i > 0 {
				b.WriteByte(',')
			}
			if v.kind == 'o' {
				writeString(b, v.keys[i])
				b.WriteByte(':')
			}
			e.write(b)
		}
		b.WriteByte(close)
	case 's':
		writeString(b, v.str)
	case 'n':
		b.WriteString(numberText(v.str))
	case 'b':
		b.WriteString(v.str)
	default:
		b.WriteString("null")
	}
}

func writeString(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, n := utf8.DecodeRuneInString(s[i:])
			b.WriteRune(r)
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		default:
			b.WriteByte(c)
		}
		i++
	}
	b.WriteByte('"')
}

// numberText is how the engine writes the number literal lit: an integer that fits 64 bits in
// plain decimal, a larger one as written, anything else as the shortest decimal that reads back
// as the same double — in fixed notation (with ".0" when integral) from 1e-6 up to 1e21, in
// exponent notation ("1e-7", "1.5e300") outside that.
func numberText(lit string) string {
	if !strings.ContainsAny(lit, ".eE") {
		if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
		if n, err := strconv.ParseUint(lit, 10, 64); err == nil {
			return strconv.FormatUint(n, 10)
		}
		return lit
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		return lit
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-6 && a < 1e21 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, exp, _ := strings.Cut(s, "e")
	exp = strings.TrimPrefix(exp, "+")
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
	if neg {
		exp = "-" + exp
	}
	return mant + "e" + exp
}
