package dialect

import (
	"errors"
	"fmt"
	"strings"
)

// CloudTrailCatalog is the database name under which event data stores are queryable, as in
// Lake query federation: "aws:cloudtrail"."<eds-id>".
const CloudTrailCatalog = "aws:cloudtrail"

// Rewrite turns one Trino-dialect statement (CloudTrail Lake or Athena) into DuckDB SQL that
// runs once [Macros] is defined. It works on tokens, so string literals, quoted identifiers
// and comments are never altered. It rewrites:
//   - a bare event data store id after FROM, JOIN or a FROM-list comma (UUID-shaped, such as
//     EXAMPLEf852-4e8f-8bd1-bcf6cEXAMPLE) and a lone quoted one to "aws:cloudtrail"."<id>";
//   - Trino functions whose DuckDB builtin is missing or differs to trino_* macros or to the
//     DuckDB builtin with Trino's semantics (see the renames table and macros.sql);
//   - Trino type names inside CAST and TRY_CAST (array(T), map(K,V), row(...), json,
//     varbinary, real, timestamp with time zone), recursively; CAST(x AS JSON) to to_json(x),
//     CAST(x AS varbinary) to trino_varbinary(x) (a string's UTF-8 bytes), CAST(x AS varchar)
//     to trino_varchar(x) (a JSON string's text, a double's or real's as Trino writes it) unless x
//     is a string literal;
//   - concat(a, b, …) to (a) || (b) || … (NULL when an argument is NULL);
//   - if(c, v) to if(c, v, NULL);
//   - json_value/json_query/json_exists(j, 'lax|strict path') to trino_json_* with the bare path
//     (other forms are refused);
//   - greatest(a, b, …) and least(a, b, …) to DuckDB's under a CASE giving NULL when an argument
//     is NULL;
//   - the divisor of / and % (but a number that is not zero) to trino_divisor(…), which fails
//     on zero;
//   - regexp_extract(s, 'pattern', group) of a group that cannot match an empty string, or past
//     the pattern's groups, to trino_regexp_extract_nonempty or trino_regexp_extract_beyond;
//   - length of a call that returns varbinary (to_utf8, sha256, …) to octet_length;
//   - lambdas x -> e and (x, y) -> e to DuckDB's lambda x, y: e;
//   - UNNEST with several arguments, or one array of rows or a map expanded to several
//     columns, to a lateral (SELECT UNNEST(...)) subquery;
//   - date_format/date_parse/format_datetime/parse_datetime with a literal pattern to
//     strftime/strptime with the pattern translated;
//   - CAST/TRY_CAST(x AS IPADDRESS) and IPADDRESS '…' to trino_ipaddress/trino_try_ipaddress (the
//     address's canonical text), and contains(cidr, address) to trino_ip_contains when the
//     network is a string literal or the address an IPADDRESS (otherwise it is the array
//     contains, trino_contains);
//   - VALUES rows written ROW(a, b) or as bare values to DuckDB's (a, b) and (x), the whole as
//     SELECT * FROM (VALUES …) AS _values(_col0, …);
//   - in select lists, AS before an alias written without it (DuckDB takes keywords such as
//     year or user as an alias only after AS), AS "_colN" after an item with no name (Trino's
//     name for the N-th column, from 0), and, at the top level, AS "<Name>" after a column
//     reference spelled with capitals (Trino names the column as the query writes it);
//   - a bare user (a name in Trino, the current user in DuckDB) to "user";
//   - x AT TIME ZONE z to x::TIMESTAMPTZ AT TIME ZONE z (a timestamp is in UTC, as in Trino);
//   - TABLESAMPLE BERNOULLI|SYSTEM (p) to (p PERCENT).
//
// current_user, current_role, current_catalog, current_schema, current_path and version() are
// refused: DuckDB would name itself. A trailing semicolon is dropped; a second statement is an error. Leading and trailing
// whitespace and comments are dropped, so the result can be embedded in a larger query.
func Rewrite(sql string) (string, error) {
	toks, err := lex(sql)
	if err != nil {
		return "", fmt.Errorf("tokenize query: %w", err)
	}
	r := &rewriter{src: sql, toks: toks, sig: make([]int, 0, len(toks)),
		before: map[int]string{}, after: map[int]string{}, planned: map[int]bool{}}
	for i, t := range toks {
		if !t.trivia() {
			r.sig = append(r.sig, i)
		}
	}
	end, err := r.statementEnd()
	if err != nil {
		return "", err
	}
	if err := r.matchBrackets(end); err != nil {
		return "", err
	}
	r.findLambdas(end)
	r.out.Grow(len(sql) + len(sql)/8)
	r.last = end - 1
	if err := r.emitRange(0, end); err != nil {
		return "", err
	}
	return r.out.String(), nil
}

// rewriter holds the token stream of one statement. Positions (p, q, …) index sig, the
// significant tokens; whitespace and comments are carried along as trivia.
type rewriter struct {
	src    string
	toks   []token
	sig    []int // indexes into toks of significant tokens
	match  []int // for a bracket position, the position of its partner; else -1
	lambda []int // for a lambda's first position, the position of its "->"; else -1
	last   int   // last position of the statement; trivia after it is dropped
	depth  []int // for each position, the number of brackets around it
	out    strings.Builder
	// before and after hold text written before or after the token at a position (AS before
	// an alias, AS "_col0" after an unnamed select item); planned marks the SELECTs planned.
	before, after map[int]string
	planned       map[int]bool
}

func (r *rewriter) tok(p int) token { return r.toks[r.sig[p]] }

// statementEnd returns the end of the first statement, checking that only semicolons
// follow it.
func (r *rewriter) statementEnd() (int, error) {
	depth := 0
	end := -1
	for p := range r.sig {
		t := r.tok(p)
		if end >= 0 && !t.is(";") {
			return 0, fmt.Errorf("more than one statement: %q at offset %d follows the first statement", t.text, t.off)
		}
		if t.kind != tkOp {
			continue
		}
		switch t.text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		case ";":
			if depth == 0 && end < 0 {
				end = p
			}
		}
	}
	if end < 0 {
		end = len(r.sig)
	}
	if end == 0 {
		return 0, errors.New("empty query")
	}
	return end, nil
}

// matchBrackets pairs (), [] and {} and fails on an unbalanced one.
func (r *rewriter) matchBrackets(end int) error {
	r.match = make([]int, end)
	r.depth = make([]int, end)
	var stack []int
	for p := 0; p < end; p++ {
		r.match[p] = -1
		r.depth[p] = len(stack)
		t := r.tok(p)
		if t.kind != tkOp {
			continue
		}
		switch t.text {
		case "(", "[", "{":
			stack = append(stack, p)
		case ")", "]", "}":
			if len(stack) == 0 {
				return fmt.Errorf("unbalanced %q at offset %d", t.text, t.off)
			}
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if want := closer(r.tok(o).text); t.text != want {
				return fmt.Errorf("%q at offset %d closes %q at offset %d", t.text, t.off, r.tok(o).text, r.tok(o).off)
			}
			r.match[o], r.match[p] = p, o
		}
	}
	if len(stack) > 0 {
		t := r.tok(stack[len(stack)-1])
		return fmt.Errorf("unclosed %q at offset %d", t.text, t.off)
	}
	return nil
}

func closer(open string) string {
	switch open {
	case "(":
		return ")"
	case "[":
		return "]"
	}
	return "}"
}

// findLambdas marks where each Trino lambda starts: the parameter before "->", or the
// parenthesised parameter list.
func (r *rewriter) findLambdas(end int) {
	r.lambda = make([]int, end)
	for p := range r.lambda {
		r.lambda[p] = -1
	}
	for q := 1; q < end; q++ {
		if !r.tok(q).is("->") {
			continue
		}
		prev := r.tok(q - 1)
		switch {
		case prev.kind == tkIdent || prev.kind == tkQuoted:
			r.lambda[q-1] = q
		case prev.is(")"):
			o := r.match[q-1]
			if o >= 0 && r.identList(o+1, q-1) {
				r.lambda[o] = q
			}
		}
	}
}

// identList reports whether positions [a, b) are identifiers separated by commas.
func (r *rewriter) identList(a, b int) bool {
	if a >= b {
		return false
	}
	for p := a; p < b; p++ {
		t := r.tok(p)
		if (p-a)%2 == 0 {
			if t.kind != tkIdent && t.kind != tkQuoted {
				return false
			}
		} else if !t.is(",") {
			return false
		}
	}
	return (b-a)%2 == 1
}

// trivia writes the whitespace and comments that follow position p, unless p ends the
// statement.
func (r *rewriter) trivia(p int) {
	if s, ok := r.after[p]; ok {
		r.out.WriteString(s)
	}
	if p >= r.last {
		return
	}
	for i := r.sig[p] + 1; i < r.sig[p+1]; i++ {
		r.out.WriteString(r.toks[i].text)
	}
}

// emit writes the token at p and the trivia after it.
func (r *rewriter) emit(p int) {
	r.out.WriteString(r.tok(p).text)
	r.trivia(p)
}

// capture emits [a, b) into a string instead of the output.
func (r *rewriter) capture(a, b int) (string, error) {
	saved := r.out
	r.out = strings.Builder{}
	err := r.emitRange(a, b)
	s := strings.TrimRight(r.out.String(), " \t\r\n")
	r.out = saved
	return s, err
}

// clauseEnds are the keywords that end a FROM clause at the same nesting level.
var clauseEnds = map[string]bool{
	"where": true, "group": true, "having": true, "order": true, "limit": true, "offset": true,
	"union": true, "except": true, "intersect": true, "window": true, "qualify": true,
	"select": true, "fetch": true,
}

// emitRange rewrites positions [a, b), one nesting level; brackets recurse.
func (r *rewriter) emitRange(a, b int) error {
	inFrom, wantTable := false, false
	for p := a; p < b; {
		t := r.tok(p)
		if s, ok := r.before[p]; ok {
			r.out.WriteString(s)
		}
		if q := r.lambda[p]; q >= 0 && q < b {
			r.emitLambda(p, q)
			p = q + 1
			continue
		}
		if wantTable {
			wantTable = false
			if np, ok, err := r.tableRef(p, b); err != nil {
				return err
			} else if ok {
				p = np
				continue
			}
		}
		switch t.kind {
		case tkIdent:
			low := strings.ToLower(t.text)
			switch {
			case low == "values":
				np, err := r.values(p, b)
				if err != nil {
					return err
				}
				p = np
				continue
			case p+1 < b && r.tok(p+1).is("(") && r.callable(p):
				np, err := r.call(p)
				if err != nil {
					return err
				}
				p = np
				continue
			case engineSession[low] != "" && !(p > 0 && r.tok(p-1).is(".")):
				return fmt.Errorf("%s at offset %d is not supported: the engine would answer with its own session (%s), not auditlake's", t.text, t.off, engineSession[low])
			case low == "select":
				r.planSelect(p, b)
				inFrom = false
			case low == "ipaddress" && p+1 < b && r.tok(p+1).kind == tkString:
				// IPADDRESS '10.0.0.1'
				r.out.WriteString("trino_ipaddress(" + r.tok(p+1).text + ")")
				r.trivia(p + 1)
				p += 2
				continue
			case low == "at" && p+2 < b && r.tok(p+1).is("time") && r.tok(p+2).is("zone"):
				// Trino converts a timestamp, which is in the session's zone (UTC), to the zone;
				// DuckDB reads a timestamp as the zone's wall clock and converts it to UTC. As a
				// timestamp with time zone, the operand means the same in both: DuckDB's result is
				// then the wall clock in the zone, whose fields and text are Trino's.
				r.out.WriteString("::TIMESTAMPTZ ")
			case low == "user" && !(p+1 < b && r.tok(p+1).is("(")):
				// Trino's user is a name like any other; DuckDB's is the current user.
				r.out.WriteString(`"` + t.text + `"`)
				r.trivia(p)
				p++
				continue
			case low == "tablesample" && p+2 < b && (r.tok(p+1).is("bernoulli") || r.tok(p+1).is("system")) && r.tok(p+2).is("("):
				// Trino's sample size is a percentage; DuckDB's, without PERCENT, a count of rows
				if q := r.match[p+2]; q > p+3 {
					r.after[q-1] += " PERCENT"
				}
			case low == "from":
				inFrom, wantTable = true, true
			case low == "join":
				wantTable = true
			case clauseEnds[low]:
				inFrom = false
			}
		case tkOp:
			switch t.text {
			case "/", "%":
				if q, ok := r.operandEnd(p+1, b); ok && !r.nonZeroNumber(p+1, q) {
					r.emit(p)
					if err := r.divisor(p+1, q); err != nil {
						return err
					}
					p = q
					continue
				}
			case ",":
				wantTable = inFrom
			case "(", "[", "{":
				q := r.match[p]
				r.emit(p)
				if err := r.emitRange(p+1, q); err != nil {
					return err
				}
				r.emit(q)
				p = q + 1
				continue
			}
		}
		r.emit(p)
		p++
	}
	return nil
}

// engineSession are Trino's session functions written without brackets, and what DuckDB
// answers for each: the engine's user, catalog and schema, never the principal running the query
// or Trino's names, so a query naming them is refused rather than answered.
var engineSession = map[string]string{
	"current_user": "duckdb", "current_role": "duckdb", "current_catalog": "memory",
	"current_schema": "main", "current_path": "its search path",
}

// divisor writes the divisor at positions [a, b) as trino_divisor(…), which fails on zero as
// Trino's division and modulus do (DuckDB's give NULL), keeping the text that follows the
// divisor (an item's alias, whitespace, a comment) after the closing bracket.
func (r *rewriter) divisor(a, b int) error {
	after, had := r.after[b-1]
	delete(r.after, b-1)
	last := r.last
	r.last = b - 1 // no trivia after the divisor's last token inside the brackets
	r.out.WriteString("trino_divisor(")
	err := r.emitRange(a, b)
	r.last = last
	if had {
		r.after[b-1] = after
	}
	if err != nil {
		return err
	}
	r.out.WriteString(")")
	r.trivia(b - 1)
	return nil
}

// nonZeroNumber reports whether positions [a, b) are one number that is not zero.
func (r *rewriter) nonZeroNumber(a, b int) bool {
	return b == a+1 && r.tok(a).kind == tkNumber && strings.Trim(r.tok(a).text, "0.") != ""
}

// operandEnd returns the end of the right operand of a binary operator that starts at p:
// unary signs, then a primary — a literal, a name, a call with its FILTER and OVER clauses, a
// bracketed expression, CASE … END — with its subscripts and field accesses. It reports false
// for anything else.
func (r *rewriter) operandEnd(p, b int) (int, bool) {
	for p < b && (r.tok(p).is("-") || r.tok(p).is("+")) {
		p++
	}
	if p >= b {
		return 0, false
	}
	name := func(q int) bool { return q < b && (r.tok(q).kind == tkIdent || r.tok(q).kind == tkQuoted) }
	t := r.tok(p)
	switch {
	case t.kind == tkNumber || t.kind == tkString:
		p++
	case t.is("("):
		p = r.match[p] + 1
	case t.is("case"):
		depth := 0
		q := p
		for ; q < b; q++ {
			if m := r.match[q]; m > q {
				q = m
			} else if r.tok(q).is("case") {
				depth++
			} else if r.tok(q).is("end") {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if q >= b {
			return 0, false
		}
		p = q + 1
	case name(p):
		for p++; p+1 < b && r.tok(p).is(".") && name(p+1); p += 2 {
		}
		if p < b && r.tok(p).is("(") {
			p = r.match[p] + 1
			if p+1 < b && r.tok(p).is("filter") && r.tok(p+1).is("(") {
				p = r.match[p+1] + 1
			}
			if p+1 < b && r.tok(p).is("over") {
				if r.tok(p + 1).is("(") {
					p = r.match[p+1] + 1
				} else {
					p += 2 // OVER window_name
				}
			}
		}
	default:
		return 0, false
	}
	for p < b {
		if r.tok(p).is("[") {
			p = r.match[p] + 1
		} else if p+1 < b && r.tok(p).is(".") && name(p+1) {
			p += 2
		} else {
			break
		}
	}
	return p, true
}

// callable reports whether the identifier at p, followed by "(", is a function call that the
// rewrite may rename: not a qualified name, not a table alias with column list, not the
// FILTER clause of an aggregate.
func (r *rewriter) callable(p int) bool {
	if p == 0 {
		return true
	}
	prev := r.tok(p - 1)
	if prev.is(".") || prev.is("as") {
		return false
	}
	if prev.is(")") && strings.EqualFold(r.tok(p).text, "filter") {
		return false
	}
	return true
}

// emitLambda writes "lambda x, y:" for the Trino parameter list at [p, q) with "->" at q.
func (r *rewriter) emitLambda(p, q int) {
	r.out.WriteString("lambda ")
	if r.tok(p).is("(") {
		for i := p + 1; i < q-1; i++ {
			r.out.WriteString(r.tok(i).text)
			if r.tok(i).is(",") {
				r.out.WriteByte(' ')
			}
		}
	} else {
		r.out.WriteString(r.tok(p).text)
	}
	r.out.WriteByte(':')
	if q < r.last && r.sig[q]+1 == r.sig[q+1] {
		r.out.WriteByte(' ')
	}
	r.trivia(q)
}

// args splits the call whose "(" is at open into argument ranges [start, end).
func (r *rewriter) args(open int) [][2]int {
	close := r.match[open]
	if close == open+1 {
		return nil
	}
	var out [][2]int
	start := open + 1
	for p := open + 1; p < close; p++ {
		t := r.tok(p)
		if t.kind == tkOp {
			if m := r.match[p]; m > p {
				p = m
				continue
			}
			if t.text == "," {
				out = append(out, [2]int{start, p})
				start = p + 1
			}
		}
	}
	return append(out, [2]int{start, close})
}

// literalArg returns the content of argument a when it is a single string literal.
func (r *rewriter) literalArg(a [2]int) (string, bool) {
	if a[1]-a[0] != 1 || r.tok(a[0]).kind != tkString {
		return "", false
	}
	return unquote(r.tok(a[0])), true
}
