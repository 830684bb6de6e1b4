package lake

import (
	"bytes"
	"time"
)

// retiredKey opens the retired list as manifestEncoder writes it: a key of the top-level
// object (one space of indent), its array's entries one level below, the array closed by
// retiredEnd. A newline is never inside a JSON string, so both are the document's structure.
var (
	retiredKey = []byte("\n \"retired\": [")
	retiredEnd = []byte("\n ]")
)

// decodeWritten decodes a manifest laid out as manifestEncoder writes it, reading its retired
// list (most of a busy store's manifest: each file a commit replaces stays listed for the keep
// window, ~56,000 entries a day at a commit every 2 s) without encoding/json, which with the
// checks took ~2.2 ms a thousand entries, on every read of the manifest — each query, writer
// and evaluation. The rest of the manifest goes through encoding/json as before. ok is false, having decided
// nothing, for anything it does not read exactly as encoding/json would (another layout,
// escapes, non-ASCII text, a key it does not know, a time that does not read back as written):
// the caller decodes with decodeManifest then, which gives encoding/json's value or error.
func decodeWritten(b []byte) (m *Manifest, ok bool) {
	i := bytes.Index(b, retiredKey)
	if i < 0 {
		return nil, false
	}
	j := bytes.Index(b[i:], retiredEnd)
	if j < 0 {
		return nil, false
	}
	end := i + j + len(retiredEnd)
	if end >= len(b) || b[end] != ',' || bytes.Contains(b[end:], retiredKey) {
		return nil, false
	}
	retired, ok := decodeRetired(b[i+len(retiredKey) : end-1])
	if !ok {
		return nil, false
	}
	rest := make([]byte, 0, len(b)-(end+1-i))
	rest = append(append(rest, b[:i]...), b[end+1:]...)
	m, err := decodeManifest(rest)
	if err != nil || m.Retired != nil { // invalid, or a second retired list
		return nil, false
	}
	m.Retired = retired
	return m, true
}

// decodeRetired reads the entries of a retired list, b between its brackets: objects of a
// "path" and an "at" string, separated by commas, with JSON whitespace around.
func decodeRetired(b []byte) ([]RetiredFile, bool) {
	d := retiredDecoder{b: b}
	var out []RetiredFile
	d.space()
	if d.done() {
		return nil, false // [] is written without a newline: not this layout
	}
	for {
		r, ok := d.entry()
		if !ok {
			return nil, false
		}
		out = append(out, r)
		d.space()
		switch {
		case d.done():
			return out, true
		case d.b[d.p] == ',':
			d.p++
			d.space()
		default:
			return nil, false
		}
	}
}

type retiredDecoder struct {
	b []byte
	p int
}

func (d *retiredDecoder) done() bool { return d.p >= len(d.b) }

func (d *retiredDecoder) space() {
	for d.p < len(d.b) && (d.b[d.p] == ' ' || d.b[d.p] == '\n' || d.b[d.p] == '\t' || d.b[d.p] == '\r') {
		d.p++
	}
}

func (d *retiredDecoder) byte(c byte) bool {
	d.space()
	if d.p < len(d.b) && d.b[d.p] == c {
		d.p++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes (what JSON text of such a string is,
// byte for byte).
func (d *retiredDecoder) str() (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	n := bytes.IndexByte(d.b[d.p:], '"')
	if n < 0 {
		return "", false
	}
	text := d.b[d.p : d.p+n]
	for _, c := range text {
		if c < 0x20 || c == '\\' || c >= 0x80 {
			return "", false
		}
	}
	d.p += n + 1
	return string(text), true
}

// entry reads {"path": …, "at": …} (in either order, each once).
func (d *retiredDecoder) entry() (RetiredFile, bool) {
	var r RetiredFile
	var path, at bool
	if !d.byte('{') {
		return r, false
	}
	for {
		key, ok := d.str()
		if !ok || !d.byte(':') {
			return r, false
		}
		val, ok := d.str()
		if !ok {
			return r, false
		}
		switch {
		case key == "path" && !path:
			r.Path, path = val, true
		case key == "at" && !at:
			t, err := time.Parse(time.RFC3339Nano, val)
			if err != nil || t.Format(time.RFC3339Nano) != val {
				return r, false
			}
			r.At, at = t, true
		default:
			return r, false
		}
		switch {
		case d.byte(','):
		case d.byte('}'):
			return r, path && at
		default:
			return r, false
		}
	}
}
