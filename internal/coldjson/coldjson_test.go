package coldjson

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendPutsEveryMarkerBack(t *testing.T) {
	ids := []string{"EVENT-ID-0001", "REQUEST-ID-02", "", "SHARED-EVENT"}
	maps := []string{"value one", "", "ünïcödé ✓ 日本語", "{\"deep\":{\"er\":[1,{\"x\":\"\\\"q\\\"\"}]}}"}
	mapValue := func(i int) (string, bool) {
		if i > len(maps) {
			return "", false
		}
		return maps[i-1], true
	}
	f := func(cut, want string) {
		t.Helper()
		got := string(Append(nil, cut, ids, mapValue))
		if got != want {
			t.Errorf("Append(%q) = %q, want %q", cut, got, want)
		}
		if utf8.ValidString(cut) && !utf8.ValidString(got) {
			t.Errorf("Append(%q) = %q: not valid UTF-8", cut, got)
		}
	}
	f("", "")
	f(`{"a":1}`, `{"a":1}`)
	f("{\"id\":\"\x01\",\"r\":\"\x02\",\"k\":\"\x03\",\"s\":\"\x04\"}", `{"id":"EVENT-ID-0001","r":"REQUEST-ID-02","k":"","s":"SHARED-EVENT"}`)
	f("\x01\x01\x04", "EVENT-ID-0001EVENT-ID-0001SHARED-EVENT")
	f("a\x05!b\x05\"c\x05#d\x05$e", "avalue onebcünïcödé ✓ 日本語d"+maps[3]+"e")
	f("long text before the marks, more than eight bytes\x05!x\x01", "long text before the marks, more than eight bytesvalue onexEVENT-ID-0001")
	// Marks that name nothing: past the values, the name byte 32, at the end, twice in a row,
	// followed by a control byte or by a multi-byte character (kept whole).
	f("a\x05%b", "ab")
	f("a\x05 b", "ab")
	f("a\x05", "a")
	f("a\x05\x05!b", "avalue oneb")
	f("a\x05\x01b", "aEVENT-ID-0001b")
	f("a\x05éb", "aéb")
	f("a\x05\x7fb", "ab")
	// Bytes that are not markers are copied: NUL, tab, bytes past the ids given.
	f("a\x00\tb", "a\x00\tb")
	if got := string(Append(nil, "\x03\x04", ids[:2], mapValue)); got != "\x03\x04" {
		t.Errorf("markers past the ids given: %q", got)
	}
}

// Append of text with no marker is the text; with markers, it never panics and keeps valid
// UTF-8 valid, whatever the bytes and values.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "{\"a\":\"\x01\"}", "x\x05!y", "\x05", "\x05\xc3\xa9", strings.Repeat("\x05~", 40), "\xff\x05"} {
		f.Add(s, "EVENT-ID-0001", "v\x05!")
	}
	f.Fuzz(func(t *testing.T, cut, id, v string) {
		ids := []string{id, id, "", id}
		got := Append(nil, cut, ids, func(i int) (string, bool) { return v, i <= 3 })
		if !strings.ContainsFunc(cut, IsMarker) && string(got) != cut {
			t.Fatalf("Append(%q) = %q without a marker", cut, got)
		}
		if utf8.ValidString(cut) && utf8.ValidString(id) && utf8.ValidString(v) && !utf8.ValidString(string(got)) {
			t.Fatalf("Append(%q, %q, %q) = %q: not valid UTF-8", cut, id, v, got)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	cut := strings.Repeat(`{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROA:x","accessKeyId":"`+"\x03"+`"},"requestParameters":{"instanceId":"`+"\x05!"+`"}}`, 8)
	ids := []string{"a", "b", "ASIAXXXXXXXXXXXXXXXX", ""}
	mv := func(int) (string, bool) { return "i-0123456789abcdef0", true }
	b.SetBytes(int64(len(cut)))
	var buf []byte
	for b.Loop() {
		buf = Append(buf[:0], cut, ids, mv)
	}
}
