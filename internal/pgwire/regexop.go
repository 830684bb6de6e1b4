package pgwire

import (
	"fmt"
	"strings"

	"github.com/auditlake/auditlake/internal/dialect"
)

// PostgreSQL's regular-expression operators ~, ~*, !~ and !~* find a match anywhere in the
// string; the engine's ~ (its parser is PostgreSQL's) matches the whole string, and it has no ~*.
// regexOperators turns each one into a call with PostgreSQL's meaning, taking its operands as
// PostgreSQL's grammar does (the documentation's "Operator Precedence" table): both are
// expressions of the operators that bind tighter than "any other operator" (. :: [ ] unary + -
// AT TIME ZONE ^ * / % + -), and the left one also takes the other operators before it (they are
// left-associative at the same level: a || b ~ 'x' is (a || b) ~ 'x'), while NOT, AND, OR,
// comparisons, IS, LIKE, BETWEEN and IN bind looser and stay outside. An operator whose operands
// cannot be read (an unbalanced parenthesis, op ANY(…)) stays as written.

// regexCall writes one rewritten operator: not for !~ and !~*, fold for ~* and !~*.
type regexCall func(left, right string, not, fold bool) string

// catalogRegex is the catalog engine's call: regexp_matches finds a match anywhere.
func catalogRegex(left, right string, not, fold bool) string {
	call := "regexp_matches(" + left + ", " + right
	if fold {
		call += ", 'i'"
	}
	call += ")"
	if not {
		call = "NOT " + call
	}
	return "(" + call + ")"
}

// dataRegex is the Trino dialect's call for data queries: regexp_like finds a match anywhere.
func dataRegex(left, right string, not, fold bool) string {
	if fold {
		right = "'(?i)' || (" + right + ")"
	}
	call := "regexp_like(" + left + ", " + right + ")"
	if not {
		call = "NOT " + call
	}
	return "(" + call + ")"
}

// maxRegexOperators bounds the operators one statement may hold: each rewrite copies its
// operands, so a chain of them costs the square of its length (the engine refuses an expression
// nested deeper than 1000 anyway).
const maxRegexOperators = 256

// regexOperators rewrites sql's regular-expression operators with call.
func regexOperators(sql string, call regexCall) (string, error) {
	if !strings.Contains(sql, "~") {
		return sql, nil
	}
	toks, err := dialect.Tokens(sql)
	if err != nil {
		return "", err
	}
	toks = pgOperators(toks)
	n := 0
	for _, t := range toks {
		if _, _, ok := regexOp(t); ok {
			n++
		}
	}
	if n > maxRegexOperators {
		return "", &pgError{code: "54001", msg: fmt.Sprintf("statement too complex: %d regular-expression operators (at most %d)", n, maxRegexOperators)}
	}
	return rewriteRegex(toks, call), nil
}

// rewriteRegex is the text of toks with their regular-expression operators rewritten.
func rewriteRegex(toks []dialect.Token, call regexCall) string {
	var out []dialect.Token
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		not, fold, ok := regexOp(t)
		if !ok {
			out = append(out, t)
			continue
		}
		k := leftOperand(out)
		e := rightOperand(toks, i+1)
		if k < 0 || e < 0 {
			out = append(out, t)
			continue
		}
		right := strings.TrimSpace(rewriteRegex(toks[i+1:e], call))
		out = append(out[:k], dialect.Token{Kind: dialect.TokenIdent, Text: call(strings.TrimSpace(joinTokens(out[k:])), right, not, fold)})
		i = e - 1
	}
	return joinTokens(out)
}

// regexOp reports whether t is one of the regular-expression operators, and which.
func regexOp(t dialect.Token) (not, fold, ok bool) {
	if t.Kind != dialect.TokenOp {
		return false, false, false
	}
	switch t.Text {
	case "~":
		return false, false, true
	case "~*":
		return false, true, true
	case "!~":
		return true, false, true
	case "!~*":
		return true, true, true
	}
	return false, false, false
}

// opChars are the characters PostgreSQL's lexer reads as one operator when they stand together.
const opChars = "+-*/<>=~!@#%^&|`?"

// pgOperators merges adjacent operator characters into one operator token, as PostgreSQL's lexer
// reads them (!~* is one operator, ~~ is LIKE's, not two ~), including its rule that a name of
// several characters ends in + or - only when it holds one of ~ ! @ # % ^ & | ` ? (so a=-1 is
// = and -1).
func pgOperators(toks []dialect.Token) []dialect.Token {
	isOp := func(t dialect.Token) bool {
		return t.Kind == dialect.TokenOp && t.Text != "" && strings.Trim(t.Text, opChars) == ""
	}
	var out []dialect.Token
	for i := 0; i < len(toks); i++ {
		if !isOp(toks[i]) {
			out = append(out, toks[i])
			continue
		}
		op := toks[i].Text
		for i+1 < len(toks) && isOp(toks[i+1]) {
			i++
			op += toks[i].Text
		}
		var tail []dialect.Token
		if !strings.ContainsAny(op, "~!@#%^&|`?") {
			for len(op) > 1 && (op[len(op)-1] == '+' || op[len(op)-1] == '-') {
				tail = append([]dialect.Token{{Kind: dialect.TokenOp, Text: op[len(op)-1:]}}, tail...)
				op = op[:len(op)-1]
			}
		}
		out = append(out, dialect.Token{Kind: dialect.TokenOp, Text: op})
		out = append(out, tail...)
	}
	return out
}

// operandStops are the keywords that are no operand and no part of one: an operand scan ends
// at them (and a name before "(" among them is no function).
var operandStops = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IS": true, "IN": true, "LIKE": true, "ILIKE": true,
	"SIMILAR": true, "BETWEEN": true, "ESCAPE": true, "ISNULL": true, "NOTNULL": true,
	"SELECT": true, "WHERE": true, "FROM": true, "ON": true, "WHEN": true, "THEN": true,
	"ELSE": true, "CASE": true, "END": true, "AS": true, "BY": true, "HAVING": true, "GROUP": true,
	"ORDER": true, "LIMIT": true, "OFFSET": true, "UNION": true, "EXCEPT": true, "INTERSECT": true,
	"JOIN": true, "DISTINCT": true, "ALL": true, "ANY": true, "SOME": true, "EXISTS": true,
	"VALUES": true, "USING": true, "WITH": true, "RETURNING": true, "TO": true, "ASC": true,
	"DESC": true, "NULLS": true, "FILTER": true, "OVER": true, "WINDOW": true, "AT": true,
	"COLLATE": true, "LEFT": true, "RIGHT": true, "INNER": true, "OUTER": true, "FULL": true,
	"CROSS": true, "NATURAL": true, "LATERAL": true, "SET": true, "INTO": true,
}

// tighterOps are the binary operators that bind tighter than "any other operator".
var tighterOps = map[string]bool{"+": true, "-": true, "*": true, "/": true, "%": true, "^": true}

// comparisonOps bind looser than the other operators.
var comparisonOps = map[string]bool{"=": true, "<": true, ">": true, "<=": true, ">=": true, "<>": true, "!=": true, "=>": true, ":=": true}

func isWord(t dialect.Token, w string) bool {
	return t.Kind == dialect.TokenIdent && strings.EqualFold(t.Text, w)
}

// wordAt reports whether toks[i] is the keyword w (false past the end).
func wordAt(toks []dialect.Token, i int, w string) bool {
	return i >= 0 && i < len(toks) && isWord(toks[i], w)
}

// isStop reports whether t is a keyword of operandStops.
func isStop(t dialect.Token) bool {
	return t.Kind == dialect.TokenIdent && operandStops[strings.ToUpper(t.Text)]
}

// endsPrimary reports whether t can end an operand (so a "[" after it is a subscript).
func endsPrimary(t dialect.Token) bool {
	switch t.Kind {
	case dialect.TokenIdent:
		return !isStop(t) || isWord(t, "END")
	case dialect.TokenQuoted, dialect.TokenString, dialect.TokenNumber:
		return true
	}
	return t.Text == ")" || t.Text == "]"
}

// prevMeaningful is the index of the last meaningful token before i (-1 for none).
func prevMeaningful(toks []dialect.Token, i int) int {
	for i--; i >= 0 && !meaningful(toks[i]); i-- {
	}
	return i
}

// openingBracket is the index of the open bracket matching the close bracket at toks[close]
// (-1 for none).
func openingBracket(toks []dialect.Token, close int) int {
	open := map[string]string{")": "(", "]": "["}[toks[close].Text]
	depth := 0
	for i := close; i >= 0; i-- {
		switch toks[i].Text {
		case toks[close].Text:
			depth++
		case open:
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// closingBracket is the index of the close bracket matching the open one at toks[open] (-1).
func closingBracket(toks []dialect.Token, open int) int {
	cl := map[string]string{"(": ")", "[": "]"}[toks[open].Text]
	depth := 0
	for i := open; i < len(toks); i++ {
		switch toks[i].Text {
		case toks[open].Text:
			depth++
		case cl:
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// leftOperand is where the left operand of an operator of the "any other" level that follows
// out begins (-1 when out does not end in one).
func leftOperand(out []dialect.Token) int {
	pos := prevMeaningful(out, len(out)) // the last token of the next operand to read
	prefix := -1                         // where the operand begins if a prefix operator was read last
	for {
		if pos < 0 {
			return prefix
		}
		start := operandBack(out, pos)
		if start < 0 {
			return prefix
		}
		q := prevMeaningful(out, start)
		switch {
		case q < 0:
			return start
		case out[q].Text == "::": // a cast of the operand before it
			pos, prefix = prevMeaningful(out, q), -1
			continue
		case isWord(out[q], "COLLATE"): // the collation of the operand before it
			pos, prefix = prevMeaningful(out, q), -1
			continue
		case isWord(out[q], "ZONE"): // … AT TIME ZONE operand
			r := prevMeaningful(out, q)
			if r >= 0 && isWord(out[r], "TIME") {
				if at := prevMeaningful(out, r); at >= 0 && isWord(out[at], "AT") {
					pos, prefix = prevMeaningful(out, at), -1
					continue
				}
			}
		case out[q].Kind == dialect.TokenOp && !comparisonOps[out[q].Text] && strings.Trim(out[q].Text, opChars) == "":
			// An operator of a tighter level or of this one (left-associative): its left
			// operand belongs here too. With nothing before it, it is a prefix operator.
			prefix = -1
			if op := out[q].Text; len(op) > 1 || !strings.Contains("*/%^", op) {
				prefix = q
			}
			if pos = prevMeaningful(out, q); pos < 0 || !endsPrimary(out[pos]) {
				return prefix
			}
			continue
		}
		return start
	}
}

// operandBack is where the operand that ends at out[pos] begins: a literal, a name, a function
// call, a parenthesised expression, CASE … END, with its subscripts and . chains (-1 for none).
func operandBack(out []dialect.Token, pos int) int {
	t := out[pos]
	s := pos
	switch {
	case t.Text == ")":
		p := openingBracket(out, pos)
		if p < 0 {
			return -1
		}
		s = p
		if q := prevMeaningful(out, p); q >= 0 && (out[q].Kind == dialect.TokenIdent && !isStop(out[q]) || out[q].Kind == dialect.TokenQuoted) {
			s = q // a function's name
		}
	case t.Text == "]":
		p := openingBracket(out, pos)
		if p < 0 {
			return -1
		}
		s = p // a list literal
		if q := prevMeaningful(out, p); q >= 0 && endsPrimary(out[q]) {
			return operandBack(out, q) // a subscript of the operand before it
		}
	case isWord(t, "END"):
		depth := 0
		for ; s >= 0; s-- {
			if isWord(out[s], "END") {
				depth++
			} else if isWord(out[s], "CASE") {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if s < 0 {
			return -1
		}
	case t.Kind == dialect.TokenString:
		if q := prevMeaningful(out, pos); q >= 0 && out[q].Kind == dialect.TokenIdent && !isStop(out[q]) {
			s = q // a typed literal: DATE '…', E'…'
		}
	case t.Kind == dialect.TokenNumber || t.Kind == dialect.TokenQuoted || t.Kind == dialect.TokenIdent && !isStop(t):
		if p := multiwordType(out, pos); p >= 0 {
			s = p
		}
	default:
		return -1
	}
	if q := prevMeaningful(out, s); q >= 0 && out[q].Text == "." { // a.b, (x).y
		r := prevMeaningful(out, q)
		if r < 0 || !endsPrimary(out[r]) {
			return -1
		}
		return operandBack(out, r)
	}
	return s
}

// multiwordType is where a type name of several words that ends at toks[pos] begins (double
// precision, character varying, timestamp with time zone); -1 when it is none.
func multiwordType(toks []dialect.Token, pos int) int {
	q := prevMeaningful(toks, pos)
	if q < 0 {
		return -1
	}
	switch {
	case isWord(toks[pos], "precision") && isWord(toks[q], "double"):
		return q
	case isWord(toks[pos], "varying") && (isWord(toks[q], "character") || isWord(toks[q], "char") || isWord(toks[q], "bit")):
		return q
	case isWord(toks[pos], "zone") && isWord(toks[q], "time"):
		r := prevMeaningful(toks, q)
		if r >= 0 && (isWord(toks[r], "with") || isWord(toks[r], "without")) {
			s := prevMeaningful(toks, r)
			if s >= 0 && toks[s].Text == ")" { // timestamp(3) with time zone
				if o := openingBracket(toks, s); o > 0 {
					s = prevMeaningful(toks, o)
				}
			}
			if s >= 0 && (isWord(toks[s], "timestamp") || isWord(toks[s], "time")) {
				return s
			}
		}
	}
	return -1
}

// rightOperand is where the right operand of an operator of the "any other" level that starts
// at toks[i] ends (the index after it; -1 when there is none).
func rightOperand(toks []dialect.Token, i int) int {
	next := func(i int) int { return skipTrivia(toks, i) }
	pos := next(i)
	for {
		// An operand, after any prefix + and -.
		for pos < len(toks) && (toks[pos].Text == "+" || toks[pos].Text == "-") {
			pos = next(pos + 1)
		}
		if pos >= len(toks) {
			return -1
		}
		t := toks[pos]
		switch {
		case t.Text == "(" || t.Text == "[":
			c := closingBracket(toks, pos)
			if c < 0 {
				return -1
			}
			pos = c + 1
		case isWord(t, "CASE"):
			depth := 0
			for ; pos < len(toks); pos++ {
				if isWord(toks[pos], "CASE") {
					depth++
				} else if isWord(toks[pos], "END") {
					if depth--; depth == 0 {
						break
					}
				}
			}
			if pos >= len(toks) {
				return -1
			}
			pos++
		case t.Kind == dialect.TokenString || t.Kind == dialect.TokenNumber || t.Kind == dialect.TokenQuoted:
			pos++
		case t.Kind == dialect.TokenIdent && !isStop(t):
			pos++
			if n := next(pos); n < len(toks) && toks[n].Text == "(" { // a function call
				c := closingBracket(toks, n)
				if c < 0 {
					return -1
				}
				pos = c + 1
			} else if n < len(toks) && toks[n].Kind == dialect.TokenString { // a typed literal
				pos = n + 1
			}
		default:
			return -1
		}
		// What binds to the operand from the right: . names, subscripts, casts.
	postfix:
		for {
			n := next(pos)
			if n >= len(toks) {
				return pos
			}
			switch toks[n].Text {
			case ".":
				m := next(n + 1)
				if m >= len(toks) || !(toks[m].Kind == dialect.TokenIdent || toks[m].Kind == dialect.TokenQuoted || toks[m].Text == "*") {
					return -1
				}
				pos = m + 1
			case "[":
				c := closingBracket(toks, n)
				if c < 0 {
					return -1
				}
				pos = c + 1
			case "::":
				p := typeEnd(toks, next(n+1))
				if p < 0 {
					return -1
				}
				pos = p
			default:
				if !isWord(toks[n], "COLLATE") {
					break postfix
				}
				p := typeEnd(toks, next(n+1)) // a collation's name: a (qualified) name
				if p < 0 {
					return -1
				}
				pos = p
			}
		}
		// A tighter binary operator: its right operand belongs here too.
		n := next(pos)
		switch {
		case n < len(toks) && toks[n].Kind == dialect.TokenOp && tighterOps[toks[n].Text]:
			pos = next(n + 1)
		case wordAt(toks, n, "AT") && wordAt(toks, next(n+1), "TIME") && wordAt(toks, next(next(n+1)+1), "ZONE"):
			pos = next(next(next(n+1)+1) + 1)
		default:
			return pos
		}
	}
}

// typeEnd is the index after the type name that starts at toks[i] (after a ::): one or more
// words (double precision, character varying(10), timestamp(3) with time zone), a modifier in
// parentheses and array brackets; -1 when none.
func typeEnd(toks []dialect.Token, i int) int {
	next := func(i int) int { return skipTrivia(toks, i) }
	if i >= len(toks) || toks[i].Kind != dialect.TokenIdent && toks[i].Kind != dialect.TokenQuoted {
		return -1
	}
	word := func(p int, w string) bool { return wordAt(toks, p, w) }
	pos := i + 1
	if n := next(pos); toks[i].Kind == dialect.TokenIdent && n < len(toks) && toks[n].Text == "." { // schema.type
		if m := next(n + 1); m < len(toks) && (toks[m].Kind == dialect.TokenIdent || toks[m].Kind == dialect.TokenQuoted) {
			pos = m + 1
		}
	}
	modifier := func() bool {
		if n := next(pos); n < len(toks) && toks[n].Text == "(" {
			c := closingBracket(toks, n)
			if c < 0 {
				return false
			}
			pos = c + 1
		}
		return true
	}
	switch n := next(pos); {
	case isWord(toks[i], "double") && word(n, "precision"):
		pos = n + 1
	case (isWord(toks[i], "character") || isWord(toks[i], "char") || isWord(toks[i], "bit")) && word(n, "varying"):
		pos = n + 1
	}
	if !modifier() {
		return -1
	}
	if isWord(toks[i], "timestamp") || isWord(toks[i], "time") {
		if n := next(pos); word(n, "with") || word(n, "without") {
			if m := next(n + 1); word(m, "time") && word(next(m+1), "zone") {
				pos = next(m+1) + 1
			}
		}
	}
	for {
		n := next(pos)
		if n >= len(toks) || toks[n].Text != "[" {
			return pos
		}
		c := closingBracket(toks, n)
		if c < 0 {
			return -1
		}
		pos = c + 1
	}
}
