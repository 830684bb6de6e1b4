package rules

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestJSONPlainIsWhatEncodingJSONLeavesAlone: a text JSONPlain admits is one encoding/json
// writes between its quotes as it is, and for printable ASCII it admits every such text — each
// byte alone, and texts of them.
func TestJSONPlainIsWhatEncodingJSONLeavesAlone(t *testing.T) {
	plain := func(s string) bool {
		q, err := json.Marshal(s)
		return err == nil && string(q) == `"`+s+`"`
	}
	texts := []string{"", "arn:aws:iam::123456789012:user/alice", "a<b", `quote"d`, "tab\there", "é", "\x7f", "~ !#$%'()*+,-./:;=?@[]^_`{|}"}
	for c := range 256 {
		texts = append(texts, string([]byte{byte(c)}), "id-"+string([]byte{byte(c)})+"-x")
	}
	for _, s := range texts {
		got, want := JSONPlain(s), plain(s)
		ascii := !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e })
		if got && !want || ascii && got != want || JSONPlain([]byte(s)) != got {
			t.Errorf("%q: JSONPlain %v, encoding/json writes it as it is: %v", s, got, want)
		}
	}
}
