package generate

import (
	"strconv"
	"time"
)

// jbuf appends compact JSON to a byte slice. It inserts commas itself: a value or key written
// after another value gets a separator, one written right after '{', '[' or ':' does not. It is
// hand-rolled rather than encoding/json because the generator writes millions of records and
// because encoding/json would escape '<' in CloudTrail's literal "<sensitiveDataRemoved>".
type jbuf struct{ b []byte }

func (j *jbuf) sep() {
	if n := len(j.b); n > 0 {
		switch j.b[n-1] {
		case '{', '[', ':':
		default:
			j.b = append(j.b, ',')
		}
	}
}

// obj opens an object (as a value), end closes it.
func (j *jbuf) obj() *jbuf { j.sep(); j.b = append(j.b, '{'); return j }
func (j *jbuf) arr() *jbuf { j.sep(); j.b = append(j.b, '['); return j }
func (j *jbuf) end() *jbuf { j.b = append(j.b, '}'); return j }
func (j *jbuf) endArr() *jbuf {
	j.b = append(j.b, ']')
	return j
}

// k writes a key; the next call writes its value.
func (j *jbuf) k(key string) *jbuf {
	j.sep()
	j.b = appendJSONString(j.b, key)
	j.b = append(j.b, ':')
	return j
}

func (j *jbuf) s(v string) *jbuf { j.sep(); j.b = appendJSONString(j.b, v); return j }
func (j *jbuf) i(v int64) *jbuf  { j.sep(); j.b = strconv.AppendInt(j.b, v, 10); return j }
func (j *jbuf) bool(v bool) *jbuf {
	j.sep()
	j.b = strconv.AppendBool(j.b, v)
	return j
}
func (j *jbuf) null() *jbuf { j.sep(); j.b = append(j.b, "null"...); return j }

// raw writes pre-encoded JSON as a value.
func (j *jbuf) raw(v []byte) *jbuf { j.sep(); j.b = append(j.b, v...); return j }

// ks, ki, kb are key+value shorthands.
func (j *jbuf) ks(key, v string) *jbuf { return j.k(key).s(v) }
func (j *jbuf) ki(key string, v int64) *jbuf {
	return j.k(key).i(v)
}
func (j *jbuf) kb(key string, v bool) *jbuf { return j.k(key).bool(v) }

// kt writes a CloudTrail timestamp (second precision, UTC, "Z").
func (j *jbuf) kt(key string, t time.Time) *jbuf {
	j.k(key)
	j.b = append(j.b, '"')
	j.b = t.UTC().AppendFormat(j.b, "2006-01-02T15:04:05Z")
	j.b = append(j.b, '"')
	return j
}

// empty writes {} as a value.
func (j *jbuf) empty() *jbuf { j.sep(); j.b = append(j.b, '{', '}'); return j }

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string. Generated strings are ASCII; quotes, backslashes
// and control characters are escaped anyway.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
