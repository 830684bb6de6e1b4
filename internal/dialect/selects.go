package dialect

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/auditlake/auditlake/internal/engine"
)

// trinoReserved are Trino's reserved words (https://trino.io/docs/current/language/reserved.html):
// never an alias without quotes. Every other word may be one, keywords of DuckDB included
// (year, month, user, name, type, …), which DuckDB takes as an alias only after AS.
var trinoReserved = map[string]bool{
	"alter": true, "and": true, "as": true, "between": true, "by": true, "case": true, "cast": true,
	"constraint": true, "create": true, "cross": true, "cube": true, "current_catalog": true,
	"current_date": true, "current_path": true, "current_role": true, "current_schema": true,
	"current_time": true, "current_timestamp": true, "current_user": true, "deallocate": true,
	"delete": true, "describe": true, "distinct": true, "drop": true, "else": true, "end": true,
	"escape": true, "except": true, "execute": true, "exists": true, "extract": true, "false": true,
	"for": true, "from": true, "full": true, "group": true, "grouping": true, "having": true,
	"in": true, "inner": true, "insert": true, "intersect": true, "into": true, "is": true,
	"join": true, "json_array": true, "json_exists": true, "json_object": true, "json_query": true,
	"json_table": true, "json_value": true, "left": true, "like": true, "listagg": true,
	"localtime": true, "localtimestamp": true, "natural": true, "normalize": true, "not": true,
	"null": true, "on": true, "or": true, "order": true, "outer": true, "prepare": true,
	"recursive": true, "right": true, "rollup": true, "select": true, "skip": true, "table": true,
	"then": true, "trim": true, "true": true, "uescape": true, "union": true, "unnest": true,
	"using": true, "values": true, "when": true, "where": true, "with": true,
}

// notExprEnd are words after which the next word continues the expression (an operand, a
// keyword of the same construct) rather than being an alias.
var notExprEnd = map[string]bool{
	"select": true, "distinct": true, "all": true, "not": true, "and": true, "or": true, "is": true,
	"like": true, "between": true, "in": true, "escape": true, "as": true, "when": true,
	"then": true, "else": true, "case": true, "over": true, "interval": true, "by": true,
	"on": true, "exists": true, "at": true, "zone": true, "array": true, "row": true,
	"timestamp": true, "date": true, "time": true, "ipaddress": true, "json": true,
}

// selectEnds end a select list at its own nesting level.
var selectEnds = map[string]bool{
	"from": true, "where": true, "group": true, "having": true, "order": true, "limit": true,
	"offset": true, "union": true, "except": true, "intersect": true, "window": true,
	"fetch": true, "into": true, "qualify": true,
}

// exprEnd reports whether the token at p can end an expression.
func (r *rewriter) exprEnd(p int) bool {
	t := r.tok(p)
	switch t.kind {
	case tkNumber, tkString, tkQuoted:
		return true
	case tkOp:
		return t.text == ")" || t.text == "]"
	case tkIdent:
		low := strings.ToLower(t.text)
		return !notExprEnd[low] && (!trinoReserved[low] || reservedValues[low])
	}
	return false
}

// reservedValues are the reserved words that end an expression.
var reservedValues = map[string]bool{
	"end": true, "null": true, "true": true, "false": true, "current_date": true, "current_time": true,
	"current_timestamp": true, "localtime": true, "localtimestamp": true, "current_user": true,
	"current_catalog": true, "current_schema": true, "current_path": true, "current_role": true,
}

// implicitAlias reports whether the word at p, the last of a select item that starts at s, is
// an alias written without AS (SELECT eventtime year FROM …).
func (r *rewriter) implicitAlias(s, p int) bool {
	if p-1 < s {
		return false
	}
	t := r.tok(p)
	if t.kind != tkIdent || trinoReserved[strings.ToLower(t.text)] || !r.exprEnd(p-1) {
		return false
	}
	// INTERVAL '1' DAY (and DuckDB's INTERVAL 1 DAY): the unit, not an alias.
	if p-2 >= s && r.tok(p-2).is("interval") {
		return false
	}
	return true
}

// planSelect looks at the select list that follows SELECT at p (positions up to b, one
// nesting level) and records what the rewrite adds to it, as Trino names result columns:
//   - AS before an alias written without it (DuckDB takes keywords such as year or user as an
//     alias only after AS);
//   - AS "_colN" after an item with no name (an expression that is neither a column reference
//     nor aliased): N is its position, counted from 0 over all items, as Trino does;
//   - at the top level, AS "<name as written>" after a column reference whose name is not all
//     lower case: Trino names the column as the query spells it, DuckDB as the table does.
//
// After a * item the positions of later items depend on the table: at the top level, an
// unnamed item after the last * is named by its place from the end (see ColumnNames); others
// keep DuckDB's name.
func (r *rewriter) planSelect(p, b int) {
	if r.planned[p] {
		return
	}
	r.planned[p] = true
	s := p + 1
	if s < b && (r.tok(s).is("distinct") || r.tok(s).is("all")) {
		s++
	}
	end := r.listEnd(s, b)
	var items [][2]int
	firstStar, lastStar := -1, -1
	for item := s; item < end; {
		e := item
		for e < end && !r.tok(e).is(",") {
			if m := r.match[e]; m > e {
				e = m
			}
			e++
		}
		if e > item && r.tok(e-1).is("*") {
			if firstStar < 0 {
				firstStar = len(items)
			}
			lastStar = len(items)
		}
		items = append(items, [2]int{item, e})
		item = e + 1
	}
	top := r.depth[p] == 0
	for i, it := range items {
		unnamed := ""
		switch {
		case firstStar < 0 || i < firstStar:
			unnamed = "_col" + strconv.Itoa(i)
		case top && i > lastStar:
			// after the last *, the position counted from the end is known
			unnamed = fromEnd + strconv.Itoa(len(items)-i)
		}
		r.planItem(it[0], it[1], top, unnamed)
	}
}

// fromEnd starts the alias of an unnamed top-level item after a *: "_col?k" names the k-th
// column from the end, which ColumnNames turns into _col<position> once the result's columns
// are known.
const fromEnd = "_col?"

// ColumnNames returns the result column names Trino gives, from the names DuckDB gave the
// result of a rewritten query: a column named "_col?k" by Rewrite (an unnamed item after a *,
// whose position depended on the table) becomes _col<its position>. Other names are kept.
func ColumnNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		if k, err := strconv.Atoi(strings.TrimPrefix(n, fromEnd)); err == nil && strings.HasPrefix(n, fromEnd) && k >= 1 && k <= len(names) {
			out[i] = "_col" + strconv.Itoa(len(names)-k)
		}
	}
	return out
}

// listEnd returns where the select list or VALUES rows starting at s end: at b, the end of
// the nesting level, or at a clause keyword (FROM, ORDER, UNION, …) of this level.
func (r *rewriter) listEnd(s, b int) int {
	end := s
	for end < b {
		t := r.tok(end)
		if m := r.match[end]; m > end {
			end = m + 1
			continue
		}
		if t.kind == tkIdent && selectEnds[strings.ToLower(t.text)] {
			// a IS [NOT] DISTINCT FROM b is an expression, and so is listagg(…) WITHIN GROUP (…)
			if !(t.is("from") && end-1 >= s && r.tok(end-1).is("distinct")) &&
				!(t.is("group") && end-1 >= s && r.tok(end-1).is("within")) {
				break
			}
		}
		end++
	}
	return end
}

// planItem plans one select item at [s, e) (see planSelect); unnamed is the alias of the item
// when it has no name ("" for none).
func (r *rewriter) planItem(s, e int, top bool, unnamed string) {
	if s >= e {
		return
	}
	last := r.tok(e - 1)
	switch {
	case last.is("*"):
		return
	case e-s >= 2 && r.tok(e-2).is("as"):
		return
	case e-s >= 2 && r.implicitAlias(s, e-1):
		r.before[e-1] += "AS "
		return
	}
	if ref := r.columnRef(s, e); ref {
		name := last.text
		if last.kind == tkQuoted {
			name = unquote(last)
		}
		if top && name != strings.ToLower(name) {
			r.after[e-1] += " AS " + engine.Ident(name)
		}
		return
	}
	if unnamed != "" {
		r.after[e-1] += " AS " + engine.Ident(unnamed)
	}
}

// columnRef reports whether [s, e) is a column reference: names joined by dots.
func (r *rewriter) columnRef(s, e int) bool {
	for p := s; p < e; p++ {
		t := r.tok(p)
		if (p-s)%2 == 0 {
			if t.kind == tkQuoted {
				continue
			}
			if t.kind != tkIdent || trinoReserved[strings.ToLower(t.text)] || (p+1 < e && r.tok(p+1).is("(")) {
				return false
			}
		} else if !t.is(".") {
			return false
		}
	}
	return (e-s)%2 == 1
}

// values rewrites Trino's VALUES at p (rows up to the end of the level b or a clause keyword):
// each row ROW(a, b) becomes (a, b) and a bare value x becomes (x), and the whole is wrapped as
// SELECT * FROM (VALUES …) AS _values(_col0, …) so that the columns have Trino's names. It
// returns the position after the rows.
func (r *rewriter) values(p, b int) (int, error) {
	end := r.listEnd(p+1, b)
	var rows [][2]int
	start := p + 1
	for q := p + 1; q <= end; q++ {
		if q == end || r.tok(q).is(",") {
			rows = append(rows, [2]int{start, q})
			start = q + 1
			continue
		}
		if m := r.match[q]; m > q {
			q = m
		}
	}
	cols := 1
	r.out.WriteString("SELECT * FROM (VALUES ")
	for i, row := range rows {
		a, z := row[0], row[1]
		if a >= z {
			return 0, fmt.Errorf("VALUES at offset %d: an empty row", r.tok(p).off)
		}
		if i > 0 {
			r.out.WriteString(", ")
		}
		open := -1
		switch {
		case r.tok(a).is("row") && a+1 < z && r.tok(a+1).is("(") && r.match[a+1] == z-1:
			open = a + 1
		case r.tok(a).is("(") && r.match[a] == z-1:
			open = a
		}
		if open >= 0 {
			if i == 0 {
				cols = len(r.args(open))
			}
			s, err := r.capture(open+1, z-1)
			if err != nil {
				return 0, err
			}
			r.out.WriteString("(" + s + ")")
			continue
		}
		s, err := r.capture(a, z)
		if err != nil {
			return 0, err
		}
		r.out.WriteString("(" + s + ")")
	}
	names := make([]string, cols)
	for i := range names {
		names[i] = engine.Ident("_col" + strconv.Itoa(i))
	}
	r.out.WriteString(") AS _values(" + strings.Join(names, ", ") + ")")
	if end < b {
		r.out.WriteByte(' ')
	}
	return end, nil
}

// ipExpr reports whether [a, b) is an IPADDRESS value written as one: CAST/TRY_CAST(… AS
// IPADDRESS) or an IPADDRESS '…' literal.
func (r *rewriter) ipExpr(a, b int) bool {
	if b-a == 2 && r.tok(a).is("ipaddress") && r.tok(a+1).kind == tkString {
		return true
	}
	if (r.tok(a).is("cast") || r.tok(a).is("try_cast")) && a+1 < b && r.tok(a+1).is("(") && r.match[a+1] == b-1 {
		return b-a >= 4 && r.tok(b-2).is("ipaddress") && r.tok(b-3).is("as")
	}
	return false
}

// Locate returns the line and column (from 1, in characters) of the first place sql names
// name: an identifier or quoted identifier equal to it, case-insensitively, followed by "(" when
// call is set. ok is false when sql does not name it. Error messages use it to point into the
// query the user wrote rather than the rewritten one.
func Locate(sql, name string, call bool) (line, col int, ok bool) {
	toks, err := lex(sql)
	if err != nil {
		return 0, 0, false
	}
	for i, t := range toks {
		var v string
		switch t.kind {
		case tkIdent:
			v = t.text
		case tkQuoted:
			v = unquote(t)
		default:
			continue
		}
		if !strings.EqualFold(v, name) {
			continue
		}
		if call {
			j := i + 1
			for j < len(toks) && toks[j].trivia() {
				j++
			}
			if j >= len(toks) || !toks[j].is("(") {
				continue
			}
		}
		line = 1 + strings.Count(sql[:t.off], "\n")
		lineStart := strings.LastIndexByte(sql[:t.off], '\n') + 1
		return line, 1 + len([]rune(sql[lineStart:t.off])), true
	}
	return 0, 0, false
}
