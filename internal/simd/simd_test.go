package simd

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// stringStopRef is StringStop's definition, a byte at a time.
func stringStopRef(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return len(s)
}

// TestStringStopFindsTheFirstStopByte checks StringStop against a byte-at-a-time search on
// strings of every length up to 200 with a stop byte (quote, backslash, each control byte, or
// none) at every position, over plain ASCII and bytes above 0x7f — which must not count as
// control bytes (a signed comparison would take them for negative). Where it reports it did
// not look, that must be within the last 31 bytes and before any stop byte.
func TestStringStopFindsTheFirstStopByte(t *testing.T) {
	if !HasAVX2 {
		t.Logf("no AVX2 here: StringStop must leave the whole string to the caller")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	stops := []byte{'"', '\\', 0x00, 0x01, 0x09, 0x0a, 0x1f}
	fillers := []string{"a", "\x7f", "\x80", "\xff", " ", "!", "#", "[", "]", "^", "\xe2\x82\xac"}
	checked := 0
	for n := 0; n <= 200; n++ {
		for trial := 0; trial < 6; trial++ {
			var b strings.Builder
			for b.Len() < n {
				b.WriteString(fillers[rng.IntN(len(fillers))])
			}
			base := []byte(b.String()[:n])
			for pos := -1; pos < n; pos++ {
				s := append([]byte(nil), base...)
				if pos >= 0 {
					s[pos] = stops[rng.IntN(len(stops))]
				}
				want := stringStopRef(string(s))
				i, found := StringStop(string(s))
				switch {
				case found && i != want:
					t.Fatalf("len %d, stop at %d: found at %d, want %d (%q)", n, pos, i, want, s)
				case !found && (i > want || (HasAVX2 && n >= 32 && n-i >= 32) || (!HasAVX2 && i != 0)):
					t.Fatalf("len %d, stop at %d: did not look from %d on (want the stop at %d) (%q)", n, pos, i, want, s)
				case !found && HasAVX2 && n-i >= 32:
					t.Fatalf("len %d: left %d bytes unread", n, n-i)
				}
				checked++
			}
		}
	}
	t.Logf("%d strings checked", checked)
}

// TestStringStopReadsOnlyItsString gives StringStop strings that end right before a quote in
// the same buffer: it must not report (or read as its own) a byte past its string's end.
func TestStringStopReadsOnlyItsString(t *testing.T) {
	buf := []byte(strings.Repeat("x", 4096) + `"`)
	for n := 32; n <= 100; n++ {
		s := string(buf[4096-n : 4096])
		i, found := StringStop(s)
		if found {
			t.Fatalf("len %d: found a stop at %d beyond the string", n, i)
		}
		if i > n {
			t.Fatalf("len %d: stopped at %d, past the end", n, i)
		}
	}
}
