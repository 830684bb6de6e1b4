package dialect

import (
	"strconv"
	"strings"
)

// translateType turns a Trino type (the tokens after AS in a CAST) into DuckDB's spelling:
// array(T) → T[], map(K, V) → MAP(K, V), row(a T, …) → STRUCT(a T, …), json → JSON,
// varbinary → BLOB, real → FLOAT, timestamp(p) with time zone → TIMESTAMPTZ, recursively.
func translateType(ts []token) (string, bool) {
	tp := typeParser{ts: ts}
	s, ok := tp.typ()
	if !ok || tp.i != len(ts) {
		return "", false
	}
	return s, true
}

type typeParser struct {
	ts []token
	i  int
}

func (tp *typeParser) peek(k int) (token, bool) {
	if tp.i+k < len(tp.ts) {
		return tp.ts[tp.i+k], true
	}
	return token{}, false
}

// accept consumes the keyword or operator s if it comes next.
func (tp *typeParser) accept(s string) bool {
	if t, ok := tp.peek(0); ok && t.is(s) {
		tp.i++
		return true
	}
	return false
}

// params consumes an optional "(n[, m])" and returns its text.
func (tp *typeParser) params() (string, bool) {
	if !tp.accept("(") {
		return "", true
	}
	var parts []string
	for {
		t, ok := tp.peek(0)
		if !ok || t.kind != tkNumber {
			return "", false
		}
		parts = append(parts, t.text)
		tp.i++
		if tp.accept(")") {
			return "(" + strings.Join(parts, ", ") + ")", true
		}
		if !tp.accept(",") {
			return "", false
		}
	}
}

func (tp *typeParser) typ() (string, bool) {
	t, ok := tp.peek(0)
	if !ok || t.kind != tkIdent {
		return "", false
	}
	tp.i++
	switch name := strings.ToLower(t.text); name {
	case "array":
		if !tp.accept("(") {
			return "", false
		}
		el, ok := tp.typ()
		if !ok || !tp.accept(")") {
			return "", false
		}
		return el + "[]", true
	case "map":
		if !tp.accept("(") {
			return "", false
		}
		k, ok := tp.typ()
		if !ok || !tp.accept(",") {
			return "", false
		}
		v, ok := tp.typ()
		if !ok || !tp.accept(")") {
			return "", false
		}
		return "MAP(" + k + ", " + v + ")", true
	case "row":
		return tp.row()
	case "json":
		return "JSON", true
	case "varbinary":
		return "BLOB", true
	case "real":
		return "FLOAT", true
	case "double":
		tp.accept("precision")
		return "DOUBLE", true
	case "int":
		return "INTEGER", true
	case "varchar", "char":
		if _, ok := tp.params(); !ok {
			return "", false
		}
		return "VARCHAR", true
	case "timestamp", "time":
		if _, ok := tp.params(); !ok {
			return "", false
		}
		tz := false
		if tp.accept("with") {
			tz = true
		} else if !tp.accept("without") {
			return strings.ToUpper(name), true
		}
		if !tp.accept("time") || !tp.accept("zone") {
			return "", false
		}
		if tz {
			return strings.ToUpper(name) + "TZ", true
		}
		return strings.ToUpper(name), true
	case "interval":
		// interval day to second / interval year to month
		if tp.accept("day") || tp.accept("year") {
			if !tp.accept("to") || !(tp.accept("second") || tp.accept("month")) {
				return "", false
			}
		}
		return "INTERVAL", true
	default:
		p, ok := tp.params()
		if !ok {
			return "", false
		}
		return strings.ToUpper(name) + p, true
	}
}

// row parses the field list of row(...); anonymous fields are named field1, field2, ….
func (tp *typeParser) row() (string, bool) {
	if !tp.accept("(") {
		return "", false
	}
	var fields []string
	for n := 1; ; n++ {
		t, ok := tp.peek(0)
		if !ok {
			return "", false
		}
		next, _ := tp.peek(1)
		named := (t.kind == tkQuoted) || (t.kind == tkIdent && (next.kind == tkIdent || next.kind == tkQuoted) &&
			!(t.is("double") && next.is("precision")) &&
			!((t.is("timestamp") || t.is("time")) && (next.is("with") || next.is("without"))) &&
			!(t.is("interval") && (next.is("day") || next.is("year"))))
		fname := "field" + strconv.Itoa(n)
		if named {
			fname = t.text
			tp.i++
		}
		ft, ok := tp.typ()
		if !ok {
			return "", false
		}
		fields = append(fields, fname+" "+ft)
		if tp.accept(")") {
			return "STRUCT(" + strings.Join(fields, ", ") + ")", true
		}
		if !tp.accept(",") {
			return "", false
		}
	}
}
