package sigma

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestRequiredLiteral: the substring a regular expression's every match contains, tested
// before the expression; none where a match need not contain one (alternation, optional
// parts, case-folded text).
func TestRequiredLiteral(t *testing.T) {
	for pat, want := range map[string]string{
		`.+:assumed-role/aws:.+`:       ":assumed-role/aws:",
		`^arn:aws:iam::\d+:root$`:      "arn:aws:iam::",
		`(?i)assumed-role`:             "",
		`(abc)+xy`:                     "abc",
		`ab(cdef){2,3}`:                "cdef",
		`(cdef)?ab`:                    "",
		`foo|barbaz`:                   "",
		`a.b`:                          "",
		`[abc]+`:                       "",
		`Get(Object|ObjectAcl)Request`: "Request",
		`x(?i:Hello)yz`:                "",
		`(`:                            "",
	} {
		if got := requiredLiteral(pat); got != want {
			t.Errorf("requiredLiteral(%q) = %q, want %q", pat, got, want)
		}
	}
}

// TestLiteralInIsContains: a literal searched for by its rarest byte is found exactly where
// strings.Contains finds it — at the start, at the end, overlapping false starts, the rare
// byte anywhere in it — over random text of a few bytes, and on ARNs.
func TestLiteralInIsContains(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	text := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "aab:-/u"[rng.IntN(7)]
		}
		return string(b)
	}
	for range 20000 {
		lit, x := text(1+rng.IntN(5)), text(rng.IntN(24))
		l := newLiteral(lit)
		if got, want := l.in(x), strings.Contains(x, lit); got != want {
			t.Fatalf("literal %q (by byte %d) in %q: %v, strings.Contains says %v", lit, l.at, x, got, want)
		}
	}
	l := newLiteral(":assumed-role/aws:")
	if l.text[l.at] == ':' {
		t.Errorf("%q is searched for by its colon, which ARNs are full of", l.text)
	}
	for x, want := range map[string]bool{
		"arn:aws:sts::123456789012:assumed-role/aws:ec2-instance/i-1": true,
		"arn:aws:sts::123456789012:assumed-role/Admin/alice":          false,
		":assumed-role/aws:": true,
		":assumed-role/aws":  false,
		"arn:aws:iam::123456789012:user/assumed-role/aws:": false,
		"": false,
	} {
		if got := l.in(x); got != want {
			t.Errorf("%q in %q: %v, want %v", l.text, x, got, want)
		}
	}
	if !newLiteral("").in("anything") || !newLiteral("").in("") {
		t.Error("the empty literal is in every text")
	}
}
