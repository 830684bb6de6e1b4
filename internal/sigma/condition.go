package sigma

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// expr is a compiled (part of a) detection: sql, the boolean expression, and pre, an
// expression over the prefilter columns alone (eventsource, eventname) that holds for every
// event sql holds for — implied by it, so adding it changes nothing — or "" when the part says
// nothing about those columns.
//
// m and pm are sql and pre for the Go matcher (gomatch.go); m is nil when some part has no Go
// equivalent, and why says which.
type expr struct {
	sql, pre string
	m, pm    node
	why      string
}

// andPre is the prefilter of a conjunction: what any of its parts implies.
func andPre(parts []expr) (string, node) {
	var pres []string
	var pms andNode
	for _, p := range parts {
		if p.pre != "" {
			pres = append(pres, p.pre)
			pms = append(pms, p.pm)
		}
	}
	if len(pres) == 0 {
		return "", nil
	}
	return join(pres, " AND "), pms
}

// orPre is the prefilter of a disjunction: one of its parts' holds, so nothing is known
// unless every part has one.
func orPre(parts []expr) (string, node) {
	pres := make([]string, len(parts))
	pms := make(orNode, len(parts))
	for i, p := range parts {
		if p.pre == "" {
			return "", nil
		}
		pres[i], pms[i] = p.pre, p.pm
	}
	return join(pres, " OR "), pms
}

// joinExprs joins parts with " AND " or " OR ", their prefilters as the connective implies.
func joinExprs(parts []expr, sep string) expr {
	sqls := make([]string, len(parts))
	var ms []node
	why := ""
	for i, p := range parts {
		sqls[i] = p.sql
		if p.m == nil && why == "" {
			why = p.why
		}
		ms = append(ms, p.m)
	}
	e := expr{sql: join(sqls, sep), why: why}
	if sep == " AND " {
		e.pre, e.pm = andPre(parts)
	} else {
		e.pre, e.pm = orPre(parts)
	}
	if why == "" {
		switch {
		case len(ms) == 1:
			e.m = ms[0]
		case sep == " AND ":
			e.m = andNode(ms)
		default:
			e.m = orNode(ms)
		}
	} else {
		e.pm = nil
	}
	return e
}

// compileDetection compiles a rule's detection section: its searches (each a SQL predicate)
// combined as its condition says.
func compileDetection(det *yaml.Node) (expr, error) {
	det, err := expandAliases(det)
	if err != nil {
		return expr{}, err
	}
	if det.Kind != yaml.MappingNode {
		return expr{}, errors.New("detection is not a map of searches and a condition")
	}
	if err := checkBounds(det); err != nil {
		return expr{}, err
	}
	if k, first, again := repeatedKey(det); k != "" {
		if k == "condition" || k == "timeframe" {
			return expr{}, fmt.Errorf("%s is given twice (lines %d and %d)", k, first, again)
		}
		return expr{}, fmt.Errorf("search %s is defined twice (lines %d and %d): pySigma refuses a repeated key; give each search its own name", k, first, again)
	}
	var names []string
	searches := map[string]expr{}
	var cond *yaml.Node
	for i := 0; i+1 < len(det.Content); i += 2 {
		key, val := det.Content[i].Value, det.Content[i+1]
		switch key {
		case "condition":
			cond = val
			continue
		case "timeframe":
			return expr{}, errors.New("timeframe: aggregations over time windows are not supported (a rule matches single events)")
		}
		if key == "" || strings.ContainsAny(key, " \t()|*") {
			return expr{}, fmt.Errorf("search identifier %q is not a name", key)
		}
		e, err := compileSearch(val)
		if err != nil {
			return expr{}, fmt.Errorf("search %s: %w", key, err)
		}
		names = append(names, key)
		searches[key] = e
	}
	if cond == nil {
		return expr{}, errors.New("detection has no condition")
	}
	var conds []string
	switch cond.Kind {
	case yaml.ScalarNode:
		conds = []string{cond.Value}
	case yaml.SequenceNode: // deprecated list of conditions: any of them
		for _, c := range cond.Content {
			if c.Kind != yaml.ScalarNode {
				return expr{}, errors.New("condition list holds a non-string")
			}
			conds = append(conds, c.Value)
		}
	default:
		return expr{}, errors.New("condition is not a string")
	}
	if len(conds) == 0 {
		return expr{}, errors.New("condition is empty")
	}
	var parts []expr
	size := 0
	for _, c := range conds {
		e, err := compileCondition(c, names, searches)
		if err != nil {
			return expr{}, fmt.Errorf("condition %q: %w", truncate(c, 200), err)
		}
		if size += len(e.sql); size > maxPredicateBytes {
			return expr{}, fmt.Errorf("the compiled conditions are larger than %d bytes", maxPredicateBytes)
		}
		parts = append(parts, e)
	}
	return joinExprs(parts, " OR "), nil
}

// repeatedKey is the first key of mapping n that an earlier key repeats, and the lines of both
// ("" when none does). YAML leaves a repeated key to the reader: PyYAML would keep the last,
// and pySigma's reader refuses the rule, so a second search or field of one name, which one
// reader drops and another ANDs, is refused rather than read either way.
func repeatedKey(n *yaml.Node) (key string, first, again int) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if line, ok := seen[k.Value]; ok {
			return k.Value, line, k.Line
		}
		seen[k.Value] = k.Line
	}
	return "", 0, 0
}

// compileCondition parses a Sigma condition: identifiers, and, or, not, parentheses,
// "1 of PATTERN", "all of PATTERN", "1 of them", "all of them" (not binds tighter than and,
// and than or). Every sub-expression is NULL-free: a NOT flips false to true even where the
// fields it reads are missing (SQL's NOT NULL would drop the event).
func compileCondition(cond string, names []string, searches map[string]expr) (expr, error) {
	if strings.Contains(cond, "|") {
		return expr{}, errors.New("aggregation (| count() …) is not supported: a rule matches single events")
	}
	p := &condParser{toks: tokenize(cond), names: names, searches: searches}
	if len(p.toks) == 0 {
		return expr{}, errors.New("empty condition")
	}
	if len(p.toks) > maxConditionTokens {
		return expr{}, fmt.Errorf("condition has more than %d words and parentheses", maxConditionTokens)
	}
	e, err := p.or()
	if err != nil {
		return expr{}, err
	}
	if p.pos < len(p.toks) {
		return expr{}, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return e, nil
}

// maxConditionTokens bounds a condition (the parser recurses on parentheses and not).
const maxConditionTokens = 2000

func tokenize(s string) []string {
	var toks []string
	cur := strings.Builder{}
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch {
		case r == '(' || r == ')':
			flush()
			toks = append(toks, string(r))
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return toks
}

type condParser struct {
	toks     []string
	pos      int
	names    []string
	searches map[string]expr
	size     int // the bytes of SQL of the searches used so far (use)
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) or() (expr, error) {
	left, err := p.and()
	if err != nil {
		return expr{}, err
	}
	parts := []expr{left}
	for strings.EqualFold(p.peek(), "or") {
		p.pos++
		right, err := p.and()
		if err != nil {
			return expr{}, err
		}
		parts = append(parts, right)
	}
	return joinExprs(parts, " OR "), nil
}

func (p *condParser) and() (expr, error) {
	left, err := p.not()
	if err != nil {
		return expr{}, err
	}
	parts := []expr{left}
	for strings.EqualFold(p.peek(), "and") {
		p.pos++
		right, err := p.not()
		if err != nil {
			return expr{}, err
		}
		parts = append(parts, right)
	}
	return joinExprs(parts, " AND "), nil
}

func (p *condParser) not() (expr, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.pos++
		inner, err := p.not()
		if err != nil {
			return expr{}, err
		}
		// A negation implies nothing about the prefilter columns that is kept (the inner
		// prefilter is implied by the inner expression, not by its negation).
		out := expr{sql: "(NOT coalesce(" + inner.sql + ", false))", why: inner.why}
		if inner.m != nil {
			out.m = notNode{inner.m}
		}
		return out, nil
	}
	return p.primary()
}

func (p *condParser) primary() (expr, error) {
	t := p.peek()
	switch {
	case t == "":
		return expr{}, errors.New("condition ends too early")
	case t == "(":
		p.pos++
		inner, err := p.or()
		if err != nil {
			return expr{}, err
		}
		if p.peek() != ")" {
			return expr{}, errors.New("missing )")
		}
		p.pos++
		return inner, nil
	case t == ")":
		return expr{}, errors.New("unexpected )")
	case strings.EqualFold(t, "and") || strings.EqualFold(t, "or"):
		return expr{}, fmt.Errorf("unexpected %q", t)
	case (isCount(t) || strings.EqualFold(t, "all") || strings.EqualFold(t, "any")) && p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1], "of"):
		if p.pos+2 >= len(p.toks) || p.toks[p.pos+2] == "(" || p.toks[p.pos+2] == ")" {
			return expr{}, fmt.Errorf("%s of needs a search pattern or them", t)
		}
		quant, pattern := t, p.toks[p.pos+2]
		p.pos += 3
		if quant != "1" && !strings.EqualFold(quant, "all") && !strings.EqualFold(quant, "any") { // any of: pySigma's 1 of
			return expr{}, fmt.Errorf("%s of: only 1 of and all of are supported (any of is 1 of)", quant)
		}
		matched := p.match(pattern)
		if len(matched) == 0 {
			return expr{}, fmt.Errorf("%s of %s: no search matches %s", quant, pattern, pattern)
		}
		sep := " OR "
		if strings.EqualFold(quant, "all") {
			sep = " AND "
		}
		parts := make([]expr, len(matched))
		for i, n := range matched {
			parts[i] = p.searches[n]
		}
		return p.use(joinExprs(parts, sep))
	}
	p.pos++
	e, ok := p.searches[t]
	if !ok {
		return expr{}, fmt.Errorf("%q is not a search of this rule", t)
	}
	return p.use(e)
}

func isCount(t string) bool {
	if t == "" {
		return false
	}
	for _, r := range t {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// match returns the searches a "… of" pattern names, in the rule's order: them is every search
// whose name does not start with "_"; a pattern with * matches names by wildcard, and leaves
// out those starting with "_" too unless it starts with "_" itself (as pySigma resolves it:
// 1 of *filter does not name _filter, 1 of _filter* does).
func (p *condParser) match(pattern string) []string {
	var out []string
	for _, n := range p.names {
		if strings.HasPrefix(n, "_") && !strings.HasPrefix(pattern, "_") {
			continue
		}
		if strings.EqualFold(pattern, "them") || globMatch(pattern, n) {
			out = append(out, n)
		}
	}
	return out
}

// globMatch matches name against pattern, where * stands for any run of characters.
func globMatch(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(name, mid)
		if i < 0 {
			return false
		}
		name = name[i+len(mid):]
	}
	return strings.HasSuffix(name, parts[len(parts)-1])
}

func join(parts []string, sep string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, sep) + ")"
}
