package dialect

import (
	"fmt"
	"strings"

	"github.com/auditlake/auditlake/internal/engine"
)

// tableRef rewrites the table reference at p (right after FROM, JOIN or a FROM-list comma)
// when it is an event data store id or an UNNEST; ok is false when it is neither.
func (r *rewriter) tableRef(p, b int) (next int, ok bool, err error) {
	t := r.tok(p)
	switch {
	case t.kind == tkQuoted:
		// "<id>" alone, not "<catalog>"."<id>" and not "<id>".something.
		if p+1 < b && r.tok(p+1).is(".") {
			return p, false, nil
		}
		if n := edsIDLen(unquote(t)); n == 0 || n != len(unquote(t)) {
			return p, false, nil
		}
		r.out.WriteString(engine.Ident(CloudTrailCatalog) + ".")
		r.emit(p)
		return p + 1, true, nil
	case t.kind == tkIdent && strings.EqualFold(t.text, "unnest") && p+1 < b && r.tok(p+1).is("("):
		next, err := r.unnest(p, b)
		return next, err == nil, err
	case t.kind == tkIdent || t.kind == tkNumber:
		n := edsIDLen(r.src[t.off:])
		if n == 0 {
			return p, false, nil
		}
		// The id must be exactly a run of adjacent tokens.
		end := t.off + n
		q := p
		for {
			qt := r.tok(q)
			e := qt.off + len(qt.text)
			if e == end {
				break
			}
			if e > end || q+1 >= b || r.sig[q+1] != r.sig[q]+1 {
				return p, false, nil
			}
			q++
		}
		r.out.WriteString(engine.Ident(CloudTrailCatalog) + "." + engine.Ident(r.src[t.off:end]))
		r.trivia(q)
		return q + 1, true, nil
	}
	return p, false, nil
}

// edsIDLen returns the length of the event data store id at the start of s, or 0. An id is
// UUID-shaped: 4 or 5 groups of letters and digits joined by single hyphens, 30 to 40
// characters, with a digit somewhere (EXAMPLEf852-4e8f-8bd1-bcf6cEXAMPLE, or a real UUID).
func edsIDLen(s string) int {
	i, groups, digit := 0, 0, false
	for {
		start := i
		for i < len(s) && isAlnum(s[i]) {
			digit = digit || isDigit(s[i])
			i++
		}
		if i-start < 4 {
			return 0
		}
		groups++
		if i+1 < len(s) && s[i] == '-' && isAlnum(s[i+1]) {
			i++
			continue
		}
		break
	}
	if groups < 4 || groups > 5 || i < 30 || i > 40 || !digit {
		return 0
	}
	if i < len(s) && (isIdentPart(s[i]) || s[i] == '-' || s[i] == '.') {
		return 0
	}
	return i
}

// knownMaps are the CloudTrail Lake columns typed map<string,string>: UNNEST of one of them
// into two columns is a map unnest (key, value).
var knownMaps = map[string]bool{
	"requestparameters": true, "responseelements": true, "additionaleventdata": true,
	"serviceeventdetails": true, "addendum": true, "edgedevicedetails": true,
	"insightdetails": true, "attributes": true, "configuration": true,
	"supplementaryconfiguration": true, "tags": true, "details": true,
}

// unnest rewrites UNNEST(...) [WITH ORDINALITY] [AS] alias(cols) in a FROM clause. DuckDB
// runs the single-array form natively; Trino's other forms — several arrays zipped (padding
// with NULL), an array of rows expanded into one column per field, a map into key and value
// columns — become a lateral subquery of select-list UNNESTs, which DuckDB zips the same way.
func (r *rewriter) unnest(p, b int) (int, error) {
	open := p + 1
	close := r.match[open]
	args := r.args(open)
	q := close + 1
	ordinality := q+1 < b && r.tok(q).is("with") && r.tok(q+1).is("ordinality")
	if ordinality {
		q += 2
	}
	cols := 0
	a := q
	if a < b && r.tok(a).is("as") {
		a++
	}
	if a+1 < b && (r.tok(a).kind == tkIdent || r.tok(a).kind == tkQuoted) && r.tok(a+1).is("(") {
		if m := r.match[a+1]; m > a+1 {
			cols = (m - a) / 2
		}
	}
	if ordinality {
		cols--
	}
	if len(args) == 0 || (len(args) == 1 && cols <= 1) {
		r.emit(p)
		r.emit(open)
		if err := r.emitRange(open+1, close); err != nil {
			return 0, err
		}
		r.emit(close)
		return close + 1, nil
	}
	texts := make([]string, len(args))
	for i, arg := range args {
		s, err := r.capture(arg[0], arg[1])
		if err != nil {
			return 0, err
		}
		texts[i] = s
	}
	r.out.WriteString("(SELECT ")
	for i, s := range texts {
		if i > 0 {
			r.out.WriteString(", ")
		}
		switch {
		case len(args) == 1 && r.isMapExpr(args[0]):
			fmt.Fprintf(&r.out, "UNNEST(map_entries(%s), max_depth := 2)", s)
		case cols > len(args):
			fmt.Fprintf(&r.out, "UNNEST(%s, max_depth := 2)", s)
		default:
			fmt.Fprintf(&r.out, "UNNEST(%s)", s)
		}
	}
	if ordinality {
		r.out.WriteString(", UNNEST(generate_series(1, greatest(")
		for i, s := range texts {
			if i > 0 {
				r.out.WriteString(", ")
			}
			if len(args) == 1 && r.isMapExpr(args[0]) {
				fmt.Fprintf(&r.out, "len(map_keys(%s))", s)
			} else {
				fmt.Fprintf(&r.out, "len(%s)", s)
			}
		}
		r.out.WriteString(")))")
	}
	r.out.WriteString(")")
	r.trivia(q - 1)
	return q, nil
}

// isMapExpr reports whether the argument is recognisably a map: a known map column (possibly
// qualified), a map(...) or map_from_entries(...) call, or a CAST to map(...).
func (r *rewriter) isMapExpr(a [2]int) bool {
	last := r.tok(a[1] - 1)
	if (last.kind == tkIdent || last.kind == tkQuoted) && knownMaps[strings.ToLower(strings.Trim(last.text, `"`))] {
		return true
	}
	first := r.tok(a[0])
	if first.kind == tkIdent && a[1]-a[0] > 1 && r.tok(a[0]+1).is("(") {
		switch strings.ToLower(first.text) {
		case "map", "map_from_entries", "map_concat", "map_filter":
			return true
		case "cast", "try_cast":
			for q := a[0] + 2; q+1 < a[1]; q++ {
				if r.tok(q).is("as") && r.tok(q+1).is("map") {
					return true
				}
			}
		}
	}
	return false
}
