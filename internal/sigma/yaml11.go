package sigma

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// pySigma reads a rule with PyYAML, which resolves a plain (unquoted, untagged) scalar as YAML
// 1.1 does, and keeps a number as Python's int or float (SigmaNumber: a float that is a whole
// number becomes an int), written out as Python's str of it. gopkg.in/yaml.v3 resolves plain
// scalars as YAML 1.2 does, and the two differ: 0x16 is 22 to both, but 1e3 is a float to
// yaml.v3 and the string "1e3" to PyYAML (a YAML 1.1 float has a dot and a signed exponent),
// 0o17 is 15 to yaml.v3 and a string to PyYAML, 1:30 is 90 to PyYAML (base 60), 1.10 and
// 3.0 are the numbers 1.1 and 3. A value is matched as the text pySigma gives it, so that a
// rule means here what it means to pySigma's backends.

// The implicit resolvers of PyYAML (resolver.py) for int and float.
var (
	yaml11Int = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	// PyYAML's booleans that yaml.v3 (YAML 1.2) reads as text; true and false are booleans to both.
	yaml11Bool  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$`)
	yaml11Float = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
)

// plainScalar says whether n is written plain: not quoted, not a block scalar, no explicit tag.
func plainScalar(n *yaml.Node) bool {
	return n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
}

// scalarValue is value n as pySigma reads it: null, a number as the text of pySigma's number,
// or text (a boolean as written).
func scalarValue(n *yaml.Node) (sval, error) {
	if n.Tag == "!!null" {
		return sval{null: true, kind: n.Tag}, nil
	}
	if !plainScalar(n) || (n.Tag != "!!int" && n.Tag != "!!float" && n.Tag != "!!str") {
		return sval{text: n.Value, kind: n.Tag}, nil
	}
	s := n.Value
	switch {
	case yaml11Int.MatchString(s):
		i, ok := yaml11ParseInt(s)
		if !ok {
			return sval{}, fmt.Errorf("%q is not a number PyYAML can read", s)
		}
		text, err := pyNumber(new(big.Float).SetInt(i), i)
		return sval{text: text, kind: "!!int"}, err
	case yaml11Float.MatchString(s):
		f, ok := yaml11ParseFloat(s)
		if !ok || math.IsInf(f, 0) || math.IsNaN(f) {
			return sval{}, fmt.Errorf("%q is not a finite number (pySigma refuses it): quote it to match the text", s)
		}
		text, err := pyNumber(new(big.Float).SetFloat64(f), nil)
		return sval{text: text, kind: "!!float"}, err
	}
	return sval{text: s, kind: "!!str", bool11: yaml11Bool.MatchString(s)}, nil // 1e3, 0o17: strings to YAML 1.1
}

// yaml11ParseInt is PyYAML's construct_yaml_int of s (matched by yaml11Int).
func yaml11ParseInt(s string) (*big.Int, bool) {
	s = strings.ReplaceAll(s, "_", "")
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	i := new(big.Int)
	ok := true
	switch {
	case s == "0":
	case strings.HasPrefix(s, "0b"):
		_, ok = i.SetString(s[2:], 2)
	case strings.HasPrefix(s, "0x"):
		_, ok = i.SetString(s[2:], 16)
	case strings.HasPrefix(s, "0"):
		_, ok = i.SetString(s, 8)
	case strings.Contains(s, ":"):
		for _, part := range strings.Split(s, ":") {
			d, err := strconv.ParseInt(part, 10, 64)
			if err != nil {
				return nil, false
			}
			i.Mul(i, big.NewInt(60)).Add(i, big.NewInt(d))
		}
	default:
		_, ok = i.SetString(s, 10)
	}
	if neg {
		i.Neg(i)
	}
	return i, ok
}

// yaml11ParseFloat is PyYAML's construct_yaml_float of s (matched by yaml11Float).
func yaml11ParseFloat(s string) (float64, bool) {
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	sign := 1.0
	if strings.HasPrefix(s, "-") {
		sign = -1
	}
	s = strings.TrimLeft(s, "+-")
	switch {
	case s == ".inf":
		return math.Inf(int(sign)), true
	case s == ".nan":
		return math.NaN(), true
	case strings.Contains(s, ":"):
		v := 0.0
		for _, part := range strings.Split(s, ":") {
			d, err := strconv.ParseFloat(part, 64)
			if err != nil {
				return 0, false
			}
			v = v*60 + d
		}
		return sign * v, true
	}
	v, err := strconv.ParseFloat(s, 64)
	return sign * v, err == nil
}

// pyNumber is Python's str of pySigma's SigmaNumber of f (i: the int PyYAML read, nil for a
// float): the int when float(value) equals int(value), else the float, as Python's repr
// writes it (shortest digits; an exponent below 1e-4 and from 1e16).
func pyNumber(f *big.Float, i *big.Int) (string, error) {
	f64, _ := f.Float64()
	if math.IsInf(f64, 0) {
		return "", fmt.Errorf("%s is not a finite number (pySigma refuses it): quote it to match the text", f.Text('g', 10))
	}
	whole, _ := new(big.Float).SetFloat64(f64).Int(nil) // int(value), of the float for a float
	if i == nil {
		i = whole
	}
	if new(big.Float).SetInt(i).Cmp(new(big.Float).SetFloat64(f64)) == 0 {
		return i.String(), nil
	}
	e := strconv.FormatFloat(f64, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e, nil
	}
	return strconv.FormatFloat(f64, 'f', -1, 64), nil
}

// numberWarnings are Rule.Warnings of detection n: each plain value (not a key, not the
// condition) that reads as a number whose text differs from what is written.
func numberWarnings(n *yaml.Node) []string {
	var out []string
	var walk func(n *yaml.Node, key string)
	walk = func(n *yaml.Node, key string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, key)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i].Value; k != "condition" || key != "" {
					walk(n.Content[i+1], k)
				}
			}
		case yaml.ScalarNode:
			if sv, err := scalarValue(n); err == nil && (sv.kind == "!!int" || sv.kind == "!!float") && sv.text != n.Value {
				out = append(out, fmt.Sprintf("line %d: %s: %s is read as the number %s (an unquoted number, as pySigma reads it): quote it ('%s') to match the text as written",
					n.Line, key, n.Value, sv.text, n.Value))
			}
		}
	}
	walk(n, "")
	return out
}
