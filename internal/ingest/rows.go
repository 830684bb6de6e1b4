package ingest

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

func str(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// jw appends JSON object members.
type jw struct {
	b     []byte
	first bool
}

// key writes a member name known to need no escaping (the Lake column names).
func (w *jw) key(k string) {
	w.sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jw) sep() {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
}

func (w *jw) open()  { w.b = append(w.b, '{'); w.first = true }
func (w *jw) close() { w.b = append(w.b, '}'); w.first = false }

func (w *jw) str(k string, v *string) {
	if v == nil {
		return // absent is NULL for json_transform
	}
	w.key(k)
	w.b = appendJSONString(w.b, *v)
}

func (w *jw) boolean(k string, v *bool) {
	if v == nil {
		return
	}
	w.key(k)
	w.b = strconv.AppendBool(w.b, *v)
}

func (w *jw) time(k string, t *time.Time) {
	if t == nil {
		return
	}
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.UTC().AppendFormat(w.b, "2006-01-02 15:04:05.999999")
	w.b = append(w.b, '"')
}

func (w *jw) kvmap(k string, m cloudtrail.Map) {
	if m == nil {
		return
	}
	w.key(k)
	w.open()
	for _, kv := range m {
		w.sep()
		w.b = appendJSONString(w.b, kv.Key)
		w.b = append(w.b, ':')
		if kv.Value == nil {
			w.b = append(w.b, "null"...)
		} else {
			w.b = appendJSONString(w.b, *kv.Value)
		}
	}
	w.close()
}

const hex = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 (the decoder already replaces it)
// is written as U+FFFD so that the engine never sees an invalid string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
