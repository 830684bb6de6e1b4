package sigma

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"github.com/auditlake/auditlake/internal/engine"
	"gopkg.in/yaml.v3"
)

// compileSearch compiles one search: a map of field conditions (all must hold), a list of such
// maps (any may hold), or keywords — a value or a list of values with no field, any of which
// must be in the event (compileKeywords).
func compileSearch(n *yaml.Node) (expr, error) {
	if isKeywords(n) {
		return compileKeywords(n, "")
	}
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return expr{}, errors.New("empty map")
		}
		if k, first, again := repeatedKey(n); k != "" {
			return expr{}, fmt.Errorf("%s is given twice (lines %d and %d): pySigma refuses a repeated key; write its values as one list (or use |all), or put the conditions in two searches", k, first, again)
		}
		var parts []expr
		for i := 0; i+1 < len(n.Content); i += 2 {
			e, err := compileField(n.Content[i].Value, n.Content[i+1])
			if err != nil {
				return expr{}, err
			}
			parts = append(parts, e)
		}
		return joinExprs(parts, " AND "), nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return expr{}, errors.New("empty list")
		}
		var parts []expr
		for _, c := range n.Content {
			if c.Kind != yaml.MappingNode {
				return expr{}, errors.New("a list that mixes keywords (values with no field) and maps of field conditions")
			}
			e, err := compileSearch(c)
			if err != nil {
				return expr{}, err
			}
			parts = append(parts, e)
		}
		return joinExprs(parts, " OR "), nil
	default:
		return expr{}, errors.New("a search is a map of field conditions, a list of them, or keywords")
	}
}

// windowsOnly are Sigma modifiers that transform values for Windows command lines and
// encodings: meaningless over CloudTrail's JSON, so refused rather than ignored.
var windowsOnly = map[string]string{
	"windash":      "it expands Windows command-line dashes (-, /, –) and applies to process command lines",
	"base64":       "it matches base64-encoded values as found in Windows command lines",
	"base64offset": "it matches base64-encoded values at three offsets, as found in Windows command lines",
	"wide":         "it matches UTF-16 encoded values (Windows)",
	"utf16":        "it matches UTF-16 encoded values (Windows)",
	"utf16le":      "it matches UTF-16LE encoded values (Windows)",
	"utf16be":      "it matches UTF-16BE encoded values (Windows)",
}

// sval is one value of a field condition: null, or its text (a number as the text pySigma
// gives it, yaml11.go; a boolean as written in the YAML).
type sval struct {
	null bool
	text string
	kind string // the YAML tag: !!str, !!int, !!float, !!bool, !!null
	// bool11 is a plain yes, no, on or off (and their capitalized forms): a boolean to
	// PyYAML (YAML 1.1), text to yaml.v3. Only exists reads it as one.
	bool11 bool
}

// compileField compiles "field|mod|mod: value(s)". A condition on a prefilter column alone is
// its own prefilter.
func compileField(key string, n *yaml.Node) (expr, error) {
	if mods, ok := strings.CutPrefix(key, "|"); ok {
		return compileKeywords(n, mods)
	}
	sql, m, why, err := compileFieldSQL(key, n)
	if err != nil {
		return expr{}, err
	}
	e := expr{sql: sql, m: m, why: why}
	name, mods, _ := strings.Cut(key, "|")
	if ms := strings.Split(mods, "|"); slices.Contains(PrefilterColumns, strings.ToLower(name)) && !slices.Contains(ms, "fieldref") && !slices.Contains(ms, "neq") {
		e.pre, e.pm = sql, m
	}
	return e, nil
}

// PrefilterColumns are the columns a Rule's Prefilter reads: the event's source and name, few
// distinct values in a store, and the columns its files are sorted by.
var PrefilterColumns = []string{"eventsource", "eventname"}

// isKeywords says whether search n is keywords: a scalar, or a list of scalars only.
func isKeywords(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.ScalarNode:
		return true
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return false
		}
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return false
			}
		}
		return true
	}
	return false
}

// compileKeywords compiles keywords, Sigma's values with no field: the event matches when its
// JSON text (eventjson, the record as delivered) contains one of them, case-insensitively, with
// * and ? wildcards as in any value — a search of the whole record, keys included, as a
// full-text search of the log line would be. mods are the modifiers of a key with no field
// name ('|all': every one of them, as the specification writes it; '|cased'), "" for none.
func compileKeywords(n *yaml.Node, mods string) (expr, error) {
	key := "keywords|contains"
	if mods != "" {
		for _, m := range strings.Split(mods, "|") {
			if m != "all" && m != "cased" {
				return expr{}, fmt.Errorf("%q: a modifier with no field name: keywords take only the all and cased modifiers", "|"+mods)
			}
		}
		key += "|" + mods
	}
	sql, m, why, err := compileValuesSQL(key, n, &rawText)
	if err != nil {
		return expr{}, err
	}
	return expr{sql: sql, m: m, why: why}, nil
}

// jsonEscaped is keyword sv with the literal text between its wildcards as it is written inside
// a JSON string (backslash, quote and control characters escaped), and whether that differs.
func jsonEscaped(sv sval) (sval, bool) {
	var b strings.Builder
	changed := false
	for _, p := range parseWildcards(sv.text) {
		if p.wild != 0 {
			b.WriteRune(p.wild)
			continue
		}
		var j bytes.Buffer
		enc := json.NewEncoder(&j)
		enc.SetEscapeHTML(false) // CloudTrail writes <, > and & as they are
		if err := enc.Encode(p.lit); err != nil {
			return sv, false
		}
		lit := strings.TrimSuffix(j.String(), "\n")
		lit = lit[1 : len(lit)-1]
		changed = changed || lit != p.lit
		// Back to a Sigma value: the backslashes and wildcard characters as literals.
		b.WriteString(strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`).Replace(lit))
	}
	out := sv
	out.text = b.String()
	return out, changed
}

// existsValue is the boolean an exists modifier takes, as pySigma reads it: a YAML boolean
// (PyYAML's: true, false, yes, no, on, off, unquoted); text — 'true' quoted — is refused, as
// pySigma refuses it, rather than read as one.
func existsValue(sv sval) (bool, error) {
	switch {
	case sv.kind == "!!bool":
		return strings.EqualFold(sv.text, "true"), nil
	case sv.bool11:
		return strings.EqualFold(sv.text, "yes") || strings.EqualFold(sv.text, "on"), nil
	case sv.kind == "!!str":
		return false, fmt.Errorf("exists takes a boolean (true or false, unquoted), not the text %q", sv.text)
	}
	return false, fmt.Errorf("exists takes a boolean (true or false, unquoted), not %q", sv.text)
}

// compileFieldSQL compiles "field|mod|mod: value(s)" to SQL, and to the Go matcher's node (nil,
// with why, when it has none).
func compileFieldSQL(key string, n *yaml.Node) (string, node, string, error) {
	return compileValuesSQL(key, n, nil)
}

// compileValuesSQL is compileFieldSQL; fixed, when not nil, is what is read instead of the field
// key names (keywords: the record's text).
func compileValuesSQL(key string, n *yaml.Node, fixed *value) (string, node, string, error) {
	parts := strings.Split(key, "|")
	name, mods := parts[0], parts[1:]
	if name == "" {
		return "", nil, "", fmt.Errorf("%q: a modifier with no field name (keywords are values with no key)", key)
	}
	var vals []sval
	switch n.Kind {
	case yaml.ScalarNode:
		sv, err := scalarValue(n)
		if err != nil {
			return "", nil, "", fmt.Errorf("%s: %w", key, err)
		}
		vals = []sval{sv}
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return "", nil, "", fmt.Errorf("%s: empty list of values", key)
		}
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return "", nil, "", fmt.Errorf("%s: a value is not a string, number, boolean or null", key)
			}
			sv, err := scalarValue(c)
			if err != nil {
				return "", nil, "", fmt.Errorf("%s: %w", key, err)
			}
			vals = append(vals, sv)
		}
	default:
		return "", nil, "", fmt.Errorf("%s: a value is not a string, number, boolean or null", key)
	}
	m, err := parseModifiers(key, mods)
	if err != nil {
		return "", nil, "", err
	}
	var v value
	if fixed != nil {
		v = *fixed
	} else if v, err = field(name); err != nil {
		return "", nil, "", err
	}
	var preds []string
	fn := &fieldNode{f: v.g, all: m.all}
	why := ""
	if v.g == nil {
		why = key + ": no Go reader for the field"
	}
	for _, sv := range vals {
		if strings.Contains(sv.text, "\x00") {
			// The engine's parser ends a statement's text at a NUL: the rule could not run.
			return "", nil, "", fmt.Errorf("%s: a value with a NUL character is not supported", key)
		}
		p, err := m.predicate(key, v, sv)
		if err != nil {
			return "", nil, "", err
		}
		// A keyword is found in the record's text as written there, or as JSON writes a
		// string value holding it: 'C:\Windows' is C:\\Windows in the text.
		alt, escaped := sval{}, false
		if fixed == &rawText && !sv.null {
			alt, escaped = jsonEscaped(sv)
		}
		if escaped {
			pe, err := m.predicate(key, v, alt)
			if err != nil {
				return "", nil, "", err
			}
			p = "(" + p + " OR " + pe + ")"
		}
		preds = append(preds, p)
		if why == "" {
			gp, w := m.goPredicate(v, sv)
			if gp != nil && escaped {
				var ge valPred
				if ge, w = m.goPredicate(v, alt); ge == nil {
					gp = nil
				} else {
					gp = eitherPred{gp, ge}
				}
			}
			if gp == nil {
				why = key + ": " + w
			}
			fn.preds = append(fn.preds, gp)
		}
	}
	sep := " OR "
	if m.all {
		sep = " AND "
	}
	sql := join(preds, sep)
	if one, ok := m.oneLambda(key, v, vals); ok {
		sql = one
	}
	if m.neq {
		// pySigma's neq negates the whole field condition, as "not" in the condition would:
		// an event without the field matches.
		sql = "(NOT coalesce(" + sql + ", false))"
	}
	if why != "" {
		return sql, nil, why, nil
	}
	fn.fast()
	if m.neq {
		return sql, notNode{fn}, "", nil
	}
	return sql, fn, "", nil
}

// oneLambda compiles the values of a field condition whose field has several values (a map
// column's JSON array, a path read from JSON text) as one filter of the field's values, every
// value's test in its lambda: "some value matches one of v1…vk" is "some value matches v1, or
// …, or some value matches vk", and the field's values are read once instead of k times (a
// path three levels into JSON text is eight json_extract calls, each value's test read them
// all again). It applies to values OR'ed (not |all) whose test is of one value at a time: not
// null, exists or fieldref, whose tests are of the field's values as a whole. ok is false
// otherwise: the caller keeps one test per value.
func (m modifiers) oneLambda(key string, v value, vals []sval) (sql string, ok bool) {
	if !v.list || len(vals) < 2 || m.all || m.fieldref || m.op == "exists" {
		return "", false
	}
	for _, sv := range vals {
		if sv.null {
			return "", false
		}
	}
	var err error
	sql = anyOf(v, func(x string) string {
		tests := make([]string, 0, len(vals))
		for _, sv := range vals {
			p, e := m.predicate(key, value{sql: x}, sv) // x: one of the field's values
			if e != nil {
				err = e
			}
			tests = append(tests, p)
		}
		return join(tests, " OR ")
	})
	return sql, err == nil
}

// modifiers are the parsed modifiers of one field condition.
type modifiers struct {
	op  string // "", contains, startswith, endswith, re, cidr, exists, lt, lte, gt, gte
	all bool
	// neq negates the field condition (pySigma's SigmaNegateModifier): not equal, for a value
	// of any type, with any other modifier (contains|neq: does not contain).
	neq      bool
	cased    bool
	fieldref bool
	reFlags  string // i, m, s sub-modifiers of re
}

// reFlag is the RE2 flag of each re sub-modifier.
var reFlag = map[string]string{"i": "i", "m": "m", "s": "s", "ignorecase": "i", "multiline": "m", "dotall": "s"}

func parseModifiers(key string, mods []string) (modifiers, error) {
	var m modifiers
	setOp := func(op string) error {
		if m.op != "" && m.op != op {
			return fmt.Errorf("%s: modifiers %s and %s cannot be combined", key, m.op, op)
		}
		m.op = op
		return nil
	}
	for _, mod := range mods {
		if why, ok := windowsOnly[mod]; ok {
			return m, fmt.Errorf("%s: modifier %s is not supported for CloudTrail: %s", key, mod, why)
		}
		var err error
		switch mod {
		case "contains", "startswith", "endswith", "re", "cidr", "exists", "lt", "lte", "gt", "gte":
			err = setOp(mod)
		case "neq":
			m.neq = true
		case "minute", "hour", "day", "week", "month", "year":
			return m, fmt.Errorf("%s: time modifier %s (specification 2.1) is not supported: match eventTime as text (eventTime|startswith: '2024-05-') or with re", key, mod)
		case "all":
			m.all = true
		case "cased":
			m.cased = true
		case "fieldref":
			m.fieldref = true
		case "i", "m", "s", "ignorecase", "multiline", "dotall":
			if m.op != "re" {
				return m, fmt.Errorf("%s: modifier %s applies only after re", key, mod)
			}
			// ignorecase, multiline and dotall are pySigma's names of i, m and s.
			if f := reFlag[mod]; !strings.Contains(m.reFlags, f) {
				m.reFlags += f
			}
		case "expand":
			return m, fmt.Errorf("%s: modifier expand needs placeholder values from a processing pipeline, which auditlake does not have", key)
		default:
			return m, fmt.Errorf("%s: unknown modifier %q", key, mod)
		}
		if err != nil {
			return m, err
		}
	}
	switch {
	case m.fieldref && !slices.Contains([]string{"", "contains", "startswith", "endswith"}, m.op):
		return m, fmt.Errorf("%s: fieldref combines only with contains, startswith or endswith", key)
	case m.cased && !slices.Contains([]string{"", "contains", "startswith", "endswith"}, m.op):
		return m, fmt.Errorf("%s: cased applies to string matching, not to %s", key, m.op)
	}
	return m, nil
}

// predicate compiles one value of a field condition against field value v.
func (m modifiers) predicate(key string, v value, sv sval) (string, error) {
	if sv.null {
		if m.op != "" || m.fieldref {
			return "", fmt.Errorf("%s: null cannot be combined with a modifier", key)
		}
		return isNull(v), nil
	}
	if m.fieldref {
		if slices.ContainsFunc(parseWildcards(sv.text), func(p patPart) bool { return p.wild != 0 }) {
			// pySigma refuses it too: read as a name, * would be a key no record has.
			return "", fmt.Errorf("%s: fieldref %q: a field reference names one field: no wildcards", key, sv.text)
		}
		other, err := field(sv.text)
		if err != nil {
			return "", fmt.Errorf("%s: fieldref: %w", key, err)
		}
		return fieldRef(m, v, other), nil
	}
	switch m.op {
	case "exists":
		exists, err := existsValue(sv)
		if err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		if exists {
			return "(NOT " + isNull(v) + ")", nil
		}
		return isNull(v), nil
	case "re":
		pat := sv.text
		if m.reFlags != "" {
			pat = "(?" + m.reFlags + ")" + pat
		}
		// Go's regexp and DuckDB's regexp_matches are both RE2: what one compiles the other does,
		// but for what checkRegex refuses.
		if _, err := regexp.Compile(pat); err != nil {
			return "", fmt.Errorf("%s: invalid regular expression %q (RE2 syntax: no lookaround or backreferences): %v", key, sv.text, err)
		}
		if err := checkRegex(pat); err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		lit := requiredLiteral(pat)
		return anyOf(v, func(x string) string {
			re := "regexp_matches(" + x + ", " + engine.Literal(pat) + ")"
			if lit == "" {
				return re
			}
			// A plain substring test first: most values fail it, for a fraction of the
			// expression's cost (IMDS rule over 1M events: 0.50 → 0.29 s CPU).
			return "(contains(" + x + ", " + engine.Literal(lit) + ") AND " + re + ")"
		}), nil
	case "cidr":
		p, err := cidrNetwork(sv.text)
		if err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		lo, hi := cidrRange(p)
		in := func(ip string) string {
			return "(" + ip + " BETWEEN CAST(" + engine.Literal(lo) + " AS UHUGEINT) AND CAST(" + engine.Literal(hi) + " AS UHUGEINT))"
		}
		if !coversIPv4(p) {
			return anyOf(v, func(x string) string { return in("trino_ip_value(trino_ip_groups(" + x + "))") }), nil
		}
		mlo, mhi := cidrRange(ipv4Mapped)
		return anyOf(v, func(x string) string {
			return "list_transform([trino_ip_value(trino_ip_groups(" + x + "))], lambda ip: " + in("ip") +
				" AND NOT (ip BETWEEN CAST(" + engine.Literal(mlo) + " AS UHUGEINT) AND CAST(" + engine.Literal(mhi) + " AS UHUGEINT)))[1]"
		}), nil
	case "lt", "lte", "gt", "gte":
		f, err := strconv.ParseFloat(sv.text, 64)
		if err != nil || sv.kind == "!!str" {
			return "", fmt.Errorf("%s: %s compares numbers, %q is not one", key, m.op, sv.text)
		}
		cmp := map[string]string{"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[m.op]
		return anyOf(v, func(x string) string {
			return "(TRY_CAST(" + x + " AS DOUBLE) " + cmp + " " + strconv.FormatFloat(f, 'g', -1, 64) + ")"
		}), nil
	}
	pat := opPattern(sv.text, m.op)
	return anyOf(v, func(x string) string { return stringMatch(x, pat, m.cased) }), nil
}

// isNull: the field is missing or null (for a list: it holds no non-null value).
func isNull(v value) string {
	if !v.list {
		return "(" + v.sql + " IS NULL)"
	}
	none := "(coalesce(len(list_filter(" + v.sql + ", lambda x: x IS NOT NULL)), 0) = 0)"
	if v.guard != "" {
		return "(CASE WHEN " + v.guard + " IS NULL THEN true ELSE " + none + " END)"
	}
	return none
}

// requiredLiteral is the longest run of literal text (case-sensitive) that every match of the
// regular expression pat contains, "" when there is none worth testing (under 3 bytes): the
// literals of its top-level concatenation, through groups and one-or-more repeats. A value
// the expression matches anywhere (regexp_matches searches) therefore contains it.
func requiredLiteral(pat string) string {
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return ""
	}
	var walk func(re *syntax.Regexp) string
	walk = func(re *syntax.Regexp) string {
		switch re.Op {
		case syntax.OpLiteral:
			if re.Flags&syntax.FoldCase != 0 {
				return ""
			}
			return string(re.Rune)
		case syntax.OpCapture, syntax.OpPlus:
			return walk(re.Sub[0])
		case syntax.OpRepeat:
			if re.Min >= 1 {
				return walk(re.Sub[0])
			}
		case syntax.OpConcat:
			best := ""
			for _, sub := range re.Sub {
				if l := walk(sub); len(l) > len(best) {
					best = l
				}
			}
			return best
		}
		return ""
	}
	if lit := walk(re); len(lit) >= 3 {
		return lit
	}
	return ""
}

// anyOf applies pred to v's value, or to each of its values (true when one matches).
func anyOf(v value, pred func(x string) string) string {
	if !v.list {
		return pred(v.sql)
	}
	some := "(coalesce(len(list_filter(" + v.sql + ", lambda x: " + pred("x") + ")), 0) > 0)"
	if v.guard != "" {
		return "(CASE WHEN " + v.guard + " IS NULL THEN false ELSE " + some + " END)"
	}
	return some
}

// fieldRef compares v with the value of another field of the same event (case-insensitive
// unless cased; with contains/startswith/endswith, the other value within v's).
func fieldRef(m modifiers, v, other value) string {
	cmp := func(a, b string) string {
		if !m.cased {
			a, b = "lower("+a+")", "lower("+b+")"
		}
		switch m.op {
		case "contains":
			return "contains(" + a + ", " + b + ")"
		case "startswith":
			return "starts_with(" + a + ", " + b + ")"
		case "endswith":
			return "ends_with(" + a + ", " + b + ")"
		}
		return "(" + a + " = " + b + ")"
	}
	if !other.list {
		return anyOf(v, func(x string) string { return cmp(x, other.sql) })
	}
	return anyOf(v, func(x string) string {
		return "(coalesce(len(list_filter(" + other.sql + ", lambda y: " + cmp(x, "y") + ")), 0) > 0)"
	})
}

// patPart is one piece of a Sigma string value: literal text, or a wildcard * or ?.
type patPart struct {
	lit  string
	wild rune
}

// parseWildcards splits a Sigma string into literal text and wildcards: * is any run of
// characters, ? one character; \* \? \\ are the literal characters; a backslash before any
// other character is itself.
func parseWildcards(s string) []patPart {
	var out []patPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, patPart{lit: lit.String()})
			lit.Reset()
		}
	}
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\\' && i+1 < len(rs) && (rs[i+1] == '*' || rs[i+1] == '?' || rs[i+1] == '\\'):
			lit.WriteRune(rs[i+1])
			i++
		case r == '*' || r == '?':
			flush()
			out = append(out, patPart{wild: r})
		default:
			lit.WriteRune(r)
		}
	}
	flush()
	return out
}

// stringMatch is x matched against pattern pat: equality when it has no wildcard, else
// (I)LIKE with \ as the escape character, or a regular expression where (I)LIKE would
// backtrack (linearMatch); case-insensitive unless cased.
func stringMatch(x string, pat []patPart, cased bool) string {
	if backtracks(pat) {
		return linearMatch(x, pat, cased)
	}
	wild := false
	var lit, like strings.Builder
	for _, p := range pat {
		switch p.wild {
		case '*':
			wild = true
			like.WriteByte('%')
		case '?':
			wild = true
			like.WriteByte('_')
		default:
			lit.WriteString(p.lit)
			for _, r := range p.lit {
				if r == '%' || r == '_' || r == '\\' {
					like.WriteByte('\\')
				}
				like.WriteRune(r)
			}
		}
	}
	if !wild {
		if cased {
			return "(" + x + " = " + engine.Literal(lit.String()) + ")"
		}
		return "(lower(" + x + ") = lower(" + engine.Literal(lit.String()) + "))"
	}
	op := " ILIKE "
	if cased {
		op = " LIKE "
	}
	return "(" + x + op + engine.Literal(like.String()) + " ESCAPE '\\')"
}

// cidrNetwork is the network s in its 16-byte form (an IPv4 network as the IPv4-mapped IPv6
// network, /n as /n+96), as trino_ip_groups reads an address. An address alone is the network
// of that one address (/32, /128), as pySigma's ip_network reads it. A network with host bits
// set (10.1.2.3/8) is refused, as pySigma's ip_network refuses it: read as 10.0.0.0/8 it
// would match every address of a network the rule may not mean (the author may have meant
// the address, or a /24), and another backend would not load the rule at all.
func cidrNetwork(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		s += "/" + strconv.Itoa(a.BitLen())
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("cidr: %q is not a network (address/prefix length): %v", s, err)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("cidr: %q has host bits set (pySigma refuses it too): write the network, %s, or the address alone", s, m)
	}
	if p.Addr().Is4() {
		p = netip.PrefixFrom(netip.AddrFrom16(p.Addr().As16()), p.Bits()+96)
	}
	return p, nil
}

// ipv4Mapped is the IPv4-mapped block, ::ffff:0:0/96: every IPv4 address as trino_ip_groups
// reads it.
var ipv4Mapped = netip.MustParsePrefix("::ffff:0:0/96")

// coversIPv4 says whether network p (cidrNetwork) is an IPv6 network wider than the
// IPv4-mapped block that holds it (::/0, ::/64): such a network holds no IPv4 address, as
// Trino's contains() and Python's ipaddress have it — an IPv6 network never contains an IPv4
// address, nor one written IPv4-mapped. Read as one 128-bit range, ::/0 would hold every IPv4
// address too.
func coversIPv4(p netip.Prefix) bool {
	return p.Bits() < ipv4Mapped.Bits() && p.Contains(ipv4Mapped.Addr())
}

// cidrRange is the first and last address of network p (cidrNetwork), as the 128-bit numbers
// trino_ip_value gives.
func cidrRange(p netip.Prefix) (lo, hi string) {
	b := p.Addr().As16()
	start := new(big.Int).SetBytes(b[:])
	size := new(big.Int).Lsh(big.NewInt(1), uint(128-p.Bits()))
	end := new(big.Int).Sub(new(big.Int).Add(start, size), big.NewInt(1))
	return start.String(), end.String()
}

// opPattern is value text's wildcard pattern as modifier op (contains, startswith, endswith,
// or none) extends it: what the SQL and the Go matcher both match.
func opPattern(text, op string) []patPart {
	pat := parseWildcards(text)
	switch op {
	case "contains":
		pat = append(append([]patPart{{wild: '*'}}, pat...), patPart{wild: '*'})
	case "startswith":
		pat = append(pat, patPart{wild: '*'})
	case "endswith":
		pat = append([]patPart{{wild: '*'}}, pat...)
	}
	return pat
}
