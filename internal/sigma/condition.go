package sigma

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// compileDetection compiles a rule's detection section: its searches (each a SQL predicate)
// combined as its condition says.
func compileDetection(det *yaml.Node) (string, error) {
	if det.Kind != yaml.MappingNode {
		return "", errors.New("detection is not a map of searches and a condition")
	}
	var names []string
	searches := map[string]string{}
	var cond *yaml.Node
	for i := 0; i+1 < len(det.Content); i += 2 {
		key, val := det.Content[i].Value, det.Content[i+1]
		switch key {
		case "condition":
			cond = val
			continue
		case "timeframe":
			return "", errors.New("timeframe: aggregations over time windows are not supported (a rule matches single events)")
		}
		if key == "" || strings.ContainsAny(key, " \t()|*") {
			return "", fmt.Errorf("search identifier %q is not a name", key)
		}
		sql, err := compileSearch(val)
		if err != nil {
			return "", fmt.Errorf("search %s: %w", key, err)
		}
		names = append(names, key)
		searches[key] = sql
	}
	if cond == nil {
		return "", errors.New("detection has no condition")
	}
	var conds []string
	switch cond.Kind {
	case yaml.ScalarNode:
		conds = []string{cond.Value}
	case yaml.SequenceNode: // deprecated list of conditions: any of them
		for _, c := range cond.Content {
			if c.Kind != yaml.ScalarNode {
				return "", errors.New("condition list holds a non-string")
			}
			conds = append(conds, c.Value)
		}
	default:
		return "", errors.New("condition is not a string")
	}
	if len(conds) == 0 {
		return "", errors.New("condition is empty")
	}
	var parts []string
	for _, c := range conds {
		sql, err := compileCondition(c, names, searches)
		if err != nil {
			return "", fmt.Errorf("condition %q: %w", c, err)
		}
		parts = append(parts, sql)
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return "(" + strings.Join(parts, " OR ") + ")", nil
}

// compileCondition parses a Sigma condition: identifiers, and, or, not, parentheses,
// "1 of PATTERN", "all of PATTERN", "1 of them", "all of them" (not binds tighter than and,
// and than or). Every sub-expression is NULL-free: a NOT flips false to true even where the
// fields it reads are missing (SQL's NOT NULL would drop the event).
func compileCondition(cond string, names []string, searches map[string]string) (string, error) {
	if strings.Contains(cond, "|") {
		return "", errors.New("aggregation (| count() …) is not supported: a rule matches single events")
	}
	p := &condParser{toks: tokenize(cond), names: names, searches: searches}
	if len(p.toks) == 0 {
		return "", errors.New("empty condition")
	}
	if len(p.toks) > maxConditionTokens {
		return "", fmt.Errorf("condition has more than %d words and parentheses", maxConditionTokens)
	}
	sql, err := p.or()
	if err != nil {
		return "", err
	}
	if p.pos < len(p.toks) {
		return "", fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return sql, nil
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
	searches map[string]string
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) or() (string, error) {
	left, err := p.and()
	if err != nil {
		return "", err
	}
	parts := []string{left}
	for strings.EqualFold(p.peek(), "or") {
		p.pos++
		right, err := p.and()
		if err != nil {
			return "", err
		}
		parts = append(parts, right)
	}
	return join(parts, " OR "), nil
}

func (p *condParser) and() (string, error) {
	left, err := p.not()
	if err != nil {
		return "", err
	}
	parts := []string{left}
	for strings.EqualFold(p.peek(), "and") {
		p.pos++
		right, err := p.not()
		if err != nil {
			return "", err
		}
		parts = append(parts, right)
	}
	return join(parts, " AND "), nil
}

func (p *condParser) not() (string, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.pos++
		inner, err := p.not()
		if err != nil {
			return "", err
		}
		return "(NOT coalesce(" + inner + ", false))", nil
	}
	return p.primary()
}

func (p *condParser) primary() (string, error) {
	t := p.peek()
	switch {
	case t == "":
		return "", errors.New("condition ends too early")
	case t == "(":
		p.pos++
		inner, err := p.or()
		if err != nil {
			return "", err
		}
		if p.peek() != ")" {
			return "", errors.New("missing )")
		}
		p.pos++
		return inner, nil
	case t == ")":
		return "", errors.New("unexpected )")
	case strings.EqualFold(t, "and") || strings.EqualFold(t, "or"):
		return "", fmt.Errorf("unexpected %q", t)
	case (isCount(t) || strings.EqualFold(t, "all")) && p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1], "of"):
		if p.pos+2 >= len(p.toks) || p.toks[p.pos+2] == "(" || p.toks[p.pos+2] == ")" {
			return "", fmt.Errorf("%s of needs a search pattern or them", t)
		}
		quant, pattern := t, p.toks[p.pos+2]
		p.pos += 3
		if quant != "1" && !strings.EqualFold(quant, "all") {
			return "", fmt.Errorf("%s of: only 1 of and all of are supported", quant)
		}
		matched := p.match(pattern)
		if len(matched) == 0 {
			return "", fmt.Errorf("%s of %s: no search matches %s", quant, pattern, pattern)
		}
		sep := " OR "
		if strings.EqualFold(quant, "all") {
			sep = " AND "
		}
		parts := make([]string, len(matched))
		for i, n := range matched {
			parts[i] = p.searches[n]
		}
		return join(parts, sep), nil
	}
	p.pos++
	sql, ok := p.searches[t]
	if !ok {
		return "", fmt.Errorf("%q is not a search of this rule", t)
	}
	return sql, nil
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
// whose name does not start with "_"; a pattern with * matches names by wildcard.
func (p *condParser) match(pattern string) []string {
	var out []string
	for _, n := range p.names {
		if strings.EqualFold(pattern, "them") {
			if !strings.HasPrefix(n, "_") {
				out = append(out, n)
			}
			continue
		}
		if globMatch(pattern, n) {
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
