package sigma

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestIsASCIIAtEveryPlace: isASCII reads eight bytes at a time; a byte of 0x80 or more is
// found at every offset of strings of every length around the word size, and a string of
// ASCII alone (0x7f included) is ASCII.
func TestIsASCIIAtEveryPlace(t *testing.T) {
	for n := 0; n <= 40; n++ {
		plain := strings.Repeat("\x7f", n)
		if !isASCII(plain) {
			t.Fatalf("%q: not ASCII", plain)
		}
		for i := range n {
			for _, c := range []byte{0x80, 0xc3, 0xff} {
				b := []byte(strings.Repeat("a", n))
				b[i] = c
				if isASCII(string(b)) {
					t.Fatalf("%q (byte %d is %#x): ASCII", b, i, c)
				}
			}
		}
	}
	if s := "arn:aws:iam::123456789012:user/ünïcode"; isASCII(s) || utf8.RuneCountInString(s) == len(s) {
		t.Errorf("%q: ASCII", s)
	}
}
