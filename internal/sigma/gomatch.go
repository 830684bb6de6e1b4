package sigma

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// The Go matcher evaluates a rule's detection on a decoded record (Rule.Match) with the same
// result as its SQL Predicate over the record's stored row. Where the engine's result cannot
// be told exactly in Go — a case-insensitive comparison of non-ASCII text (the engine's Unicode
// lowercasing is not Go's), a number the engine re-formats, a value the engine's JSON reader
// might read otherwise — the verdict is Unknown, and the caller asks the SQL for that event.
// A rule whose detection has such a construct in the rule itself is not compiled to Go at
// all (Rule.GoRefused says why) and runs in SQL.

// Verdict is the Go matcher's answer for one event.
type Verdict int8

// Verdicts.
const (
	No Verdict = iota
	Yes
	Unknown
)

func and3(a, b Verdict) Verdict {
	switch {
	case a == No || b == No:
		return No
	case a == Unknown || b == Unknown:
		return Unknown
	}
	return Yes
}

func or3(a, b Verdict) Verdict {
	switch {
	case a == Yes || b == Yes:
		return Yes
	case a == Unknown || b == Unknown:
		return Unknown
	}
	return No
}

// node is a compiled (part of a) detection for the Go matcher. Every SQL sub-expression is
// NULL-free or used where NULL counts as false, so a node is Yes, No or Unknown.
type node interface {
	eval(ev *Event) Verdict
}

type andNode []node

func (n andNode) eval(ev *Event) Verdict {
	out := Yes
	for _, c := range n {
		if out = and3(out, c.eval(ev)); out == No {
			return No
		}
	}
	return out
}

type orNode []node

func (n orNode) eval(ev *Event) Verdict {
	out := No
	for _, c := range n {
		if out = or3(out, c.eval(ev)); out == Yes {
			return Yes
		}
	}
	return out
}

type notNode struct{ inner node }

func (n notNode) eval(ev *Event) Verdict {
	switch n.inner.eval(ev) {
	case Yes:
		return No
	case No:
		return Yes
	}
	return Unknown
}

// fieldNode is one field condition: its values' predicates, any (or with all, every) of which
// must hold.
type fieldNode struct {
	f     goField
	preds []valPred
	all   bool
	// scalar and tests, when set (fast), are f and preds for the common shape: a field of
	// one value at most (a column or struct field) and a test of each value on its own
	// (anyPred); eval then tests the value without making a list of it.
	scalar scalarField
	tests  []func(x string) Verdict
}

// fast sets n's scalar and tests when n has their shape (after its preds are all made).
func (n *fieldNode) fast() {
	f, ok := n.f.(scalarField)
	if !ok || len(n.preds) == 0 {
		return
	}
	tests := make([]func(x string) Verdict, len(n.preds))
	for i, p := range n.preds {
		a, ok := p.(anyPred)
		if !ok {
			return
		}
		tests[i] = a.test
	}
	n.scalar, n.tests = f, tests
}

func (n *fieldNode) eval(ev *Event) Verdict {
	if n.scalar != nil {
		// As the general path below: no value makes every test No (Unknown when the value
		// cannot be told); one value is each test's verdict on it.
		v, st := n.scalar(ev.R)
		switch st {
		case stNull:
			return No
		case stUnknown:
			return Unknown
		}
		out := No
		if n.all {
			out = Yes
		}
		for _, t := range n.tests {
			if n.all {
				if out = and3(out, t(v)); out == No {
					return No
				}
			} else if out = or3(out, t(v)); out == Yes {
				return Yes
			}
		}
		return out
	}
	vals, unknown := n.f.values(ev, ev.vals[:0])
	ev.vals = vals[:0]
	out := No
	if n.all {
		out = Yes
	}
	for _, p := range n.preds {
		v := p.eval(vals, unknown, ev)
		if n.all {
			if out = and3(out, v); out == No {
				return No
			}
		} else if out = or3(out, v); out == Yes {
			return Yes
		}
	}
	return out
}

// valPred is one value of a field condition, over the field's values (any of which may match).
type valPred interface {
	eval(vals []string, unknown bool, ev *Event) Verdict
}

// nullPred holds when the field has no value (isNull); with not, when it has one.
type nullPred struct{ not bool }

func (p nullPred) eval(vals []string, unknown bool, _ *Event) Verdict {
	switch {
	case len(vals) > 0:
		return verdict(p.not)
	case unknown:
		return Unknown
	}
	return verdict(!p.not)
}

func verdict(b bool) Verdict {
	if b {
		return Yes
	}
	return No
}

// anyPred holds when test holds for one of the values (anyOf).
type anyPred struct{ test func(x string) Verdict }

func (p anyPred) eval(vals []string, unknown bool, _ *Event) Verdict {
	out := No
	if unknown {
		out = Unknown
	}
	for _, x := range vals {
		if out = or3(out, p.test(x)); out == Yes {
			return Yes
		}
	}
	return out
}

// eitherPred holds when a or b does (a keyword as written or JSON-escaped: jsonEscaped).
type eitherPred struct{ a, b valPred }

func (p eitherPred) eval(vals []string, unknown bool, ev *Event) Verdict {
	v := p.a.eval(vals, unknown, ev)
	if v == Yes {
		return Yes
	}
	return or3(v, p.b.eval(vals, unknown, ev))
}

// refPred compares the field's values with another field's (fieldref).
type refPred struct {
	other goField
	cmp   func(a, b string) Verdict
}

func (p refPred) eval(vals []string, unknown bool, ev *Event) Verdict {
	others, otherUnknown := p.other.values(ev, nil)
	out := No
	if unknown || otherUnknown {
		out = Unknown
	}
	for _, a := range vals {
		for _, b := range others {
			if out = or3(out, p.cmp(a, b)); out == Yes {
				return Yes
			}
		}
	}
	return out
}

func isASCII(s string) bool {
	// Thirty-two bytes at a time, then eight (the loads of le64 combine into one): a user
	// agent or an ARN is tested on most events by the rules every event's kind admits.
	for len(s) >= 32 {
		if (le64(s)|le64(s[8:])|le64(s[16:])|le64(s[24:]))&0x8080808080808080 != 0 {
			return false
		}
		s = s[32:]
	}
	for len(s) >= 8 {
		if le64(s)&0x8080808080808080 != 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// le64 is s's first eight bytes as a little-endian word (s has eight at least).
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// lowerASCII lowercases the ASCII letters of s (an ASCII string), copying only when it has an
// upper-case one.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// glob tokens: a byte, or these.
const (
	globStar = -1
	globOne  = -2
)

// globPat is a Sigma string value as stringMatch compiles it: equality, or (I)LIKE.
type globPat struct {
	toks  []int16
	cased bool
	hasQ  bool
	// shape is a fast path: "=" equality, "^" prefix, "$" suffix, "~" contains, "*" any
	// value; "" the general match. lit is its text.
	shape, lit string
}

// newGlob compiles pat; why is set when it has no exact Go equivalent.
func newGlob(pat []patPart, cased bool) (*globPat, string) {
	g := &globPat{cased: cased}
	var lits []string
	for _, p := range pat {
		switch p.wild {
		case '*':
			if len(g.toks) == 0 || g.toks[len(g.toks)-1] != globStar {
				g.toks = append(g.toks, globStar)
			}
			lits = append(lits, "*")
		case '?':
			g.toks = append(g.toks, globOne)
			g.hasQ = true
			lits = append(lits, "?")
		default:
			lit := p.lit
			if !cased {
				if !isASCII(lit) {
					return nil, "a case-insensitive value with non-ASCII text (the engine's Unicode lowercasing is not Go's)"
				}
				lit = lowerASCII(lit)
			}
			for i := 0; i < len(lit); i++ {
				g.toks = append(g.toks, int16(lit[i]))
			}
			lits = append(lits, lit)
		}
	}
	// The fast shapes: the literal text between at most a leading and a trailing *.
	var body strings.Builder
	lead, trail, plain := false, false, true
	for i, t := range g.toks {
		switch {
		case t == globStar && i == 0:
			lead = true
		case t == globStar && i == len(g.toks)-1:
			trail = true
		case t < 0:
			plain = false
		default:
			body.WriteByte(byte(t))
		}
	}
	if plain {
		g.lit = body.String()
		switch {
		case len(g.toks) == 1 && lead:
			g.shape = "*"
		case lead && trail:
			g.shape = "~"
		case lead:
			g.shape = "$"
		case trail:
			g.shape = "^"
		default:
			g.shape = "="
		}
	}
	return g, ""
}

func (g *globPat) test(x string) Verdict {
	if !g.cased && g.shape != "" && g.shape != "*" {
		// Decided by the length alone, before x's bytes are read (a user agent tested for
		// equality on every event by a rule every kind admits): folded (ASCII) text of len(g.lit)
		// characters is in none of fewer bytes, nor, for equality, of more than four bytes a
		// character (the engine lowercases a character into one character; UTF-8 spends at
		// most four bytes on one).
		if len(x) < len(g.lit) || (g.shape == "=" && len(x) > utf8.UTFMax*len(g.lit)) {
			return No
		}
	}
	if !isASCII(x) {
		// Case-insensitive: the engine lowercases Unicode its own way; ?: one character to the
		// engine, one byte here.
		if !g.cased || g.hasQ || !utf8.ValidString(x) {
			return Unknown
		}
	}
	fold := !g.cased // x is ASCII then, and g.lit lowercase
	switch g.shape {
	case "=":
		return verdict(len(x) == len(g.lit) && equalFrom(x, g.lit, fold))
	case "^":
		return verdict(len(x) >= len(g.lit) && equalFrom(x[:len(g.lit)], g.lit, fold))
	case "$":
		return verdict(len(x) >= len(g.lit) && equalFrom(x[len(x)-len(g.lit):], g.lit, fold))
	case "~":
		if !fold {
			return verdict(strings.Contains(x, g.lit))
		}
		return verdict(containsFold(x, g.lit))
	case "*":
		return Yes
	}
	return verdict(globMatchBytes(g.toks, x, fold))
}

// lowerByte lowercases an ASCII letter.
func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFrom: x equals lit (of the same length), x's ASCII letters lowercased when fold.
func equalFrom(x, lit string, fold bool) bool {
	if !fold {
		return x == lit
	}
	for i := 0; i < len(lit); i++ {
		if lowerByte(x[i]) != lit[i] {
			return false
		}
	}
	return true
}

// containsFold: x, its ASCII letters lowercased, contains lit.
func containsFold(x, lit string) bool {
	if lit == "" {
		return true
	}
	c0, c1 := lit[0], lit[0]
	if c0 >= 'a' && c0 <= 'z' {
		c1 = c0 - 'a' + 'A'
	}
	for i := 0; i+len(lit) <= len(x); i++ {
		if c := x[i]; (c == c0 || c == c1) && equalFrom(x[i:i+len(lit)], lit, true) {
			return true
		}
	}
	return false
}

// globMatchBytes matches s against tokens: bytes, * (any run) and ? (one byte); s's ASCII
// letters lowercased when fold.
func globMatchBytes(p []int16, s string, fold bool) bool {
	pi, si, starP, starS := 0, 0, -1, 0
	for si < len(s) {
		c := s[si]
		if fold {
			c = lowerByte(c)
		}
		switch {
		case pi < len(p) && (p[pi] == globOne || (p[pi] >= 0 && byte(p[pi]) == c)):
			pi++
			si++
		case pi < len(p) && p[pi] == globStar:
			starP, starS = pi, si
			pi++
		case starP >= 0:
			starS++
			pi, si = starP+1, starS
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == globStar {
		pi++
	}
	return pi == len(p)
}

// goPredicate is predicate's Go counterpart: the Go test of one value of a field condition, or
// why it has none.
func (m modifiers) goPredicate(v value, sv sval) (valPred, string) {
	if sv.null {
		return nullPred{}, ""
	}
	if m.fieldref {
		other, _ := field(sv.text)
		if other.g == nil {
			return nil, "fieldref of a field with no Go reader"
		}
		cmp, why := refCompare(m)
		if cmp == nil {
			return nil, why
		}
		return refPred{other: other.g, cmp: cmp}, ""
	}
	switch m.op {
	case "exists":
		exists, err := existsValue(sv)
		if err != nil {
			return nil, err.Error() // refused by the SQL too
		}
		return nullPred{not: exists}, ""
	case "re":
		pat := sv.text
		if m.reFlags != "" {
			pat = "(?" + m.reFlags + ")" + pat
		}
		if !isASCII(pat) {
			return nil, "a regular expression with non-ASCII text"
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, err.Error()
		}
		lit := newLiteral(requiredLiteral(pat)) // as the SQL tests it first
		return anyPred{test: func(x string) Verdict {
			if !lit.in(x) {
				return No
			}
			// Non-ASCII or multi-line text: where RE2's options in the engine and Go's
			// regexp might differ.
			if !isASCII(x) || strings.ContainsAny(x, "\n\r") {
				return Unknown
			}
			return verdict(re.MatchString(x))
		}}, ""
	case "cidr":
		p, err := cidrNetwork(sv.text)
		if err != nil {
			return nil, err.Error()
		}
		noV4 := coversIPv4(p)
		return anyPred{test: func(x string) Verdict { return cidrTest(p, noV4, x) }}, ""
	case "lt", "lte", "gt", "gte":
		f, err := strconv.ParseFloat(sv.text, 64)
		if err != nil {
			return nil, err.Error()
		}
		op := m.op
		return anyPred{test: func(x string) Verdict { return numTest(op, f, x) }}, ""
	}
	pat := opPattern(sv.text, m.op)
	g, why := newGlob(pat, m.cased)
	if g == nil {
		return nil, why
	}
	return anyPred{test: g.test}, ""
}

// literal is text searched for by the byte of it that is rarest in CloudTrail's values
// (byteRank): strings.Contains looks for the first byte, and the literal a regular expression
// requires often begins with one an ARN is full of (":assumed-role/aws:" tried at each of an
// ARN's five colons, on every event: the IMDS rule's userIdentity.arn|re).
type literal struct {
	text string
	at   int // the index in text of the byte looked for
}

func newLiteral(text string) literal {
	l := literal{text: text}
	for i := 1; i < len(text); i++ {
		if byteRank[text[i]] < byteRank[text[l.at]] {
			l.at = i
		}
	}
	return l
}

// in says whether x contains l's text (always, for an empty text).
func (l literal) in(x string) bool {
	if l.text == "" {
		return true
	}
	b := l.text[l.at]
	// The rare byte of a match at i is at i+l.at: from l.at to len(x)-len(l.text)+l.at.
	for from, last := l.at, len(x)-len(l.text)+l.at; from <= last; {
		j := strings.IndexByte(x[from:last+1], b)
		if j < 0 {
			return false
		}
		j += from
		if x[j-l.at:j-l.at+len(l.text)] == l.text {
			return true
		}
		from = j + 1
	}
	return false
}

// byteRank orders bytes by how common they are in CloudTrail's values (ARNs, names, user
// agents, addresses): higher is more common. A guess serves: any byte finds every match.
var byteRank = func() (r [256]uint8) {
	for c := range r {
		r[c] = 1 // control, non-ASCII and rare punctuation
	}
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ_=+@,;()[]{}") {
		r[c] = 2
	}
	for _, c := range []byte("bcfghjkmpquvwxyz\"-/. ") {
		r[c] = 3
	}
	for _, c := range []byte("dlnor") {
		r[c] = 4
	}
	for _, c := range []byte("aeist0123456789") {
		r[c] = 5
	}
	r[':'] = 6
	return r
}()

// refCompare is fieldRef's comparison in Go.
func refCompare(m modifiers) (func(a, b string) Verdict, string) {
	var op func(a, b string) bool
	switch m.op {
	case "contains":
		op = strings.Contains
	case "startswith":
		op = strings.HasPrefix
	case "endswith":
		op = strings.HasSuffix
	case "":
		op = func(a, b string) bool { return a == b }
	default:
		return nil, "fieldref with " + m.op
	}
	cased := m.cased
	return func(a, b string) Verdict {
		if !cased {
			if !isASCII(a) || !isASCII(b) {
				return Unknown
			}
			a, b = lowerASCII(a), lowerASCII(b)
		}
		return verdict(op(a, b))
	}, ""
}

// cidrTest: address x within p (cidrNetwork), as the SQL's trino_ip_groups reads x; with
// noV4 (coversIPv4), an IPv4 address (or one written IPv4-mapped) is not. Text that is plainly
// no address (no digit, no colon) is none; an address not written canonically is left to the
// engine.
func cidrTest(p netip.Prefix, noV4 bool, x string) Verdict {
	if !strings.ContainsAny(x, "0123456789:") {
		return No
	}
	a, err := netip.ParseAddr(x)
	if err != nil || a.Zone() != "" || a.String() != x {
		return Unknown
	}
	a = netip.AddrFrom16(a.As16())
	return verdict(p.Contains(a) && !(noV4 && ipv4Mapped.Contains(a)))
}

// plainDecimal is a number whose cast to DOUBLE is the same in the engine and Go.
var plainDecimal = regexp.MustCompile(`^-?[0-9]{1,15}(\.[0-9]{1,15})?$`)

// numTest is TRY_CAST(x AS DOUBLE) op f.
func numTest(op string, f float64, x string) Verdict {
	if !plainDecimal.MatchString(x) {
		l := strings.ToLower(x)
		if !strings.ContainsAny(x, "0123456789") && !strings.Contains(l, "inf") && !strings.Contains(l, "nan") {
			return No // not a number: the cast is NULL
		}
		return Unknown
	}
	v, err := strconv.ParseFloat(x, 64)
	if err != nil {
		return Unknown
	}
	switch op {
	case "lt":
		return verdict(v < f)
	case "lte":
		return verdict(v <= f)
	case "gt":
		return verdict(v > f)
	}
	return verdict(v >= f)
}

// Match runs the rule's Go matcher on ev: Unknown when the rule has none (GoRefused) or its
// verdict on this event needs the engine.
func (r *Rule) Match(ev *Event) Verdict {
	if r.goNode == nil {
		return Unknown
	}
	return r.goNode.eval(ev)
}

// HasGo says whether the rule has a Go matcher.
func (r *Rule) HasGo() bool { return r.goNode != nil }

// Admits is the Go form of Prefilter for an event of this source and name (nil: missing): No
// when no event with them can match, Yes (or Unknown) when one may. Yes when the rule has no
// prefilter.
func (r *Rule) Admits(source, name *string) Verdict {
	if r.goPre == nil {
		return Yes
	}
	ev := Event{R: &cloudtrail.Record{EventSource: source, EventName: name}}
	return r.goPre.eval(&ev)
}
