package sigma

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestIsASCIIAtEveryPlace: isASCII reads thirty-two, then eight bytes at a time; a byte of
// 0x80 or more is found at every offset of strings of every length around those sizes, and a string of
// ASCII alone (0x7f included) is ASCII.
func TestIsASCIIAtEveryPlace(t *testing.T) {
	for n := 0; n <= 80; n++ {
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

// BenchmarkIsASCII times isASCII on a user agent of the length CloudTrail's often have (the
// rules every event's kind admits test one on each event).
func BenchmarkIsASCII(b *testing.B) {
	ua := "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79-99.167.amzn2023.x86_64 exe/x86_64.amzn.2023 prompt/off command/sts.assume-role"
	b.SetBytes(int64(len(ua)))
	for range b.N {
		if !isASCII(ua) {
			b.Fatal("not ASCII")
		}
	}
}
