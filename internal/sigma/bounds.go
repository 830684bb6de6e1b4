package sigma

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/engine"
	"gopkg.in/yaml.v3"
)

// Bounds on what one rule may ask of the engine and the Go matcher. A Sigma rule is written
// by a person and is a few KB: the community CloudTrail rules have at most 8 values, 1
// wildcard in a value, and values of 43 bytes. A rule past these is refused when added, with
// the reason, so that no rule can make the evaluation of a commit or a hunt stall.
const (
	// maxValues bounds the values (list items) of a rule's searches, over all its fields.
	maxValues = 1000
	// maxValueBytes bounds one value, a regular expression included.
	maxValueBytes = 4096
	// maxWildcards bounds the * and ? of one value.
	maxWildcards = 64
	// maxPredicateBytes bounds the compiled predicate: a condition naming a search again and
	// again would copy it each time.
	maxPredicateBytes = 1 << 20
)

// maxExpandedNodes bounds a detection's YAML nodes with its aliases expanded: a rule may share
// a list or a search through an anchor (&names … *names), but an alias bomb (each level an
// anchored list naming the level below ten times) would expand to billions of nodes.
const maxExpandedNodes = 10000

// expandAliases is detection n with every YAML alias replaced by a copy of the node it names,
// as PyYAML (pySigma's reader) reads it: the compiler then sees what the rule would be with the
// text copied. It refuses an expansion past maxExpandedNodes, an alias inside the node it
// names, and a merge key (<<), which pySigma's reader cannot construct either.
func expandAliases(n *yaml.Node) (*yaml.Node, error) {
	budget := maxExpandedNodes
	active := map[*yaml.Node]bool{} // the anchored nodes being copied, for an alias inside one
	var expand func(n *yaml.Node) (*yaml.Node, error)
	expand = func(n *yaml.Node) (*yaml.Node, error) {
		if budget--; budget < 0 {
			return nil, fmt.Errorf("with its YAML aliases expanded, the detection has more than %d nodes", maxExpandedNodes)
		}
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil || active[n.Alias] {
				return nil, fmt.Errorf("YAML alias *%s is inside the node it names", n.Value)
			}
			active[n.Alias] = true
			defer delete(active, n.Alias)
			return expand(n.Alias)
		}
		if n.Kind == yaml.ScalarNode && n.Tag == "!!merge" {
			return nil, fmt.Errorf("line %d: YAML merge key %s is not supported (pySigma cannot read it either): write the fields, or share a list or a search with an alias", n.Line, n.Value)
		}
		if len(n.Content) == 0 {
			return n, nil
		}
		c := *n
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, sub := range n.Content {
			e, err := expand(sub)
			if err != nil {
				return nil, err
			}
			c.Content[i] = e
		}
		return &c, nil
	}
	return expand(n)
}

// checkBounds refuses a detection whose values are too many or too long, before anything is
// compiled from it.
func checkBounds(det *yaml.Node) error {
	values := 0
	var walk func(key string, n *yaml.Node) error
	walk = func(key string, n *yaml.Node) error {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if err := walk(n.Content[i].Value, n.Content[i+1]); err != nil {
					return err
				}
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				if err := walk(key, c); err != nil {
					return err
				}
			}
		case yaml.ScalarNode:
			if values++; values > maxValues {
				return fmt.Errorf("more than %d values in the detection", maxValues)
			}
			if len(n.Value) > maxValueBytes {
				return fmt.Errorf("%s: a value is longer than %d bytes", key, maxValueBytes)
			}
			if w := strings.Count(n.Value, "*") + strings.Count(n.Value, "?"); w > maxWildcards {
				return fmt.Errorf("%s: a value has more than %d wildcards (%d)", key, maxWildcards, w)
			}
		}
		return nil
	}
	for i := 0; i+1 < len(det.Content); i += 2 {
		if det.Content[i].Value == "condition" {
			continue
		}
		if err := walk(det.Content[i].Value, det.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// backtracks says whether the engine's (I)LIKE would match pat by backtracking over more than
// one * : the engine tries every position of the value for each * that has pattern text after
// it, so that two or more such * cost the value's length to their number (a value of 60 bytes
// against *a*a*a*a*a*a*a*a*a*b does not finish in an hour). One such * (prefix*suffix,
// *contains*, *suffix) is linear in the value times the pattern.
func backtracks(pat []patPart) bool {
	stars := 0
	for i, p := range pat {
		if p.wild != '*' || (i > 0 && pat[i-1].wild == '*') {
			continue
		}
		rest := false
		for _, q := range pat[i+1:] {
			if q.wild != '*' {
				rest = true
				break
			}
		}
		if rest {
			stars++
		}
	}
	return stars > 1
}

// linearMatch is x matched against pat as a regular expression over the whole value: the
// engine's RE2 runs in time linear in the value whatever the pattern. Uncased, both sides are
// lowercased by the engine's lower(), as its ILIKE lowercases them: the same verdict as
// (I)LIKE's. * matches any run of characters, line breaks included, ? one character.
func linearMatch(x string, pat []patPart, cased bool) string {
	var re strings.Builder
	re.WriteString("(?s)")
	for _, p := range pat {
		switch p.wild {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			// QuoteMeta escapes ASCII punctuation only: lowercasing its output (letters) is
			// quoting the lowercased text.
			re.WriteString(regexp.QuoteMeta(p.lit))
		}
	}
	if cased {
		return "regexp_full_match(" + x + ", " + engine.Literal(re.String()) + ")"
	}
	return "regexp_full_match(lower(" + x + "), lower(" + engine.Literal(re.String()) + "))"
}

// use counts the SQL of a search (or "… of" group) the condition names toward
// maxPredicateBytes: each mention copies it into the predicate.
func (p *condParser) use(e expr) (expr, error) {
	if p.size += len(e.sql); p.size > maxPredicateBytes {
		return expr{}, fmt.Errorf("the compiled condition is larger than %d bytes (it names its searches too many times)", maxPredicateBytes)
	}
	return e, nil
}

// maxRegexWeight bounds regexWeight: the engine's RE2 refuses, when it first runs, a program past
// its memory budget ("pattern too large - compile failed": `[\p{L}\p{N}]{1000}x` or
// `(\pL{100}){10}`, which Go's regexp compiles) — a rule that loads and then fails every
// evaluation. regexWeight estimates the program's size as RE2 builds it over UTF-8 bytes; this
// bound is about a tenth of what the engine takes.
const maxRegexWeight = 100_000

// regexWeight estimates the size of the RE2 program of re: a character class with characters
// past ASCII costs its number of ranges (each becomes a few UTF-8 byte-range instructions), a
// counted repetition its count times its body.
func regexWeight(re *syntax.Regexp) int {
	sat := func(a, b int) int { // a*b, saturated
		if a > 0 && b > maxRegexWeight*10/a {
			return maxRegexWeight * 10
		}
		return a * b
	}
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCharClass:
		n := len(re.Rune) / 2
		if n == 0 || re.Rune[len(re.Rune)-1] < utf8.RuneSelf {
			return 1
		}
		return n
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 10
	case syntax.OpRepeat:
		n := max(re.Min, re.Max, 1)
		return sat(n, regexWeight(re.Sub[0]))
	}
	w := 1
	for _, sub := range re.Sub {
		w += regexWeight(sub)
		if w > maxRegexWeight*10 {
			return w
		}
	}
	return w
}

// checkRegex refuses a regular expression the engine's RE2 could not compile (regexWeight).
func checkRegex(pat string) error {
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return nil // compiling it says what is wrong
	}
	if w := regexWeight(re); w > maxRegexWeight {
		return fmt.Errorf("the regular expression is too large for the engine (about %d instructions, at most %d: lower its repetition counts or use narrower character classes)", w, maxRegexWeight)
	}
	if name := angleNamedGroup(re, pat); name != "" {
		return fmt.Errorf("the named group (?<%s>…) is Go's and PCRE's syntax, which the engine's RE2 refuses (\"invalid perl operator\") on every evaluation: write (?P<%s>…) or (…)", name, name)
	}
	return nil
}

// angleNamedGroup is the name of a capture of re (parsed from pat) written (?<name>…), "" when
// there is none: Go's regexp reads that form (since Go 1.22), the engine's RE2 only
// (?P<name>…), so the rule would load and then fail every evaluation in SQL while the Go
// matcher ran it.
func angleNamedGroup(re *syntax.Regexp, pat string) string {
	if re.Op == syntax.OpCapture && re.Name != "" && !strings.Contains(pat, "(?P<"+re.Name+">") {
		return re.Name
	}
	for _, sub := range re.Sub {
		if name := angleNamedGroup(sub, pat); name != "" {
			return name
		}
	}
	return ""
}
