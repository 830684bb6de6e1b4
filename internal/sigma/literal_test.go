package sigma

import "testing"

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
