package dialect

import (
	"fmt"
	"strings"
)

// tokKind classifies a lexical token of Trino SQL.
type tokKind uint8

const (
	tkSpace   tokKind = iota // whitespace
	tkComment                // -- line comment (without its newline) or /* block */
	tkIdent                  // unquoted identifier or keyword
	tkQuoted                 // "quoted identifier"
	tkString                 // 'string literal'
	tkNumber                 // 12, 1.5, 1e-3, .5
	tkOp                     // operator or punctuation
)

// token is one lexical token; text is a slice of the source, off its byte offset.
type token struct {
	kind tokKind
	off  int
	text string
}

// trivia reports whether the token carries no meaning (whitespace or comment).
func (t token) trivia() bool { return t.kind == tkSpace || t.kind == tkComment }

// is reports whether the token is the operator or keyword s (keywords case-insensitively).
func (t token) is(s string) bool {
	switch t.kind {
	case tkOp:
		return t.text == s
	case tkIdent:
		return strings.EqualFold(t.text, s)
	}
	return false
}

// twoCharOps are the operators of more than one character that matter to the rewrite or
// that must not be split (so that "->" is never read as "-" ">").
var twoCharOps = [...]string{"->", "=>", "<=", ">=", "<>", "!=", "||", "::", ":="}

// lex splits src into tokens. It fails on an unterminated string, quoted identifier or
// block comment.
func lex(src string) ([]token, error) {
	toks := make([]token, 0, len(src)/3+1)
	i := 0
	for i < len(src) {
		c := src[i]
		start := i
		var kind tokKind
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r' || src[i] == '\f' || src[i] == '\v') {
				i++
			}
			kind = tkSpace
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			// A line comment ends at a newline or a carriage return, as in the engine's lexer
			// (PostgreSQL's): text after a lone \r is SQL to the engine, so it is here too.
			for i < len(src) && src[i] != '\n' && src[i] != '\r' {
				i++
			}
			kind = tkComment
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			// Block comments nest, as in the engine's lexer: /* a /* b */ c */ is one comment.
			depth := 1
			for i += 2; depth > 0; {
				switch {
				case i+1 >= len(src):
					return nil, fmt.Errorf("unterminated block comment at offset %d", start)
				case src[i] == '/' && src[i+1] == '*':
					depth++
					i += 2
				case src[i] == '*' && src[i+1] == '/':
					depth--
					i += 2
				default:
					i++
				}
			}
			kind = tkComment
		case c == '\'':
			n, err := quotedLen(src[i:], '\'')
			if err != nil {
				return nil, fmt.Errorf("unterminated string literal at offset %d", start)
			}
			i += n
			kind = tkString
		case c == '"':
			n, err := quotedLen(src[i:], '"')
			if err != nil {
				return nil, fmt.Errorf("unterminated quoted identifier at offset %d", start)
			}
			i += n
			kind = tkQuoted
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			i = numberEnd(src, i)
			kind = tkNumber
		case isIdentStart(c):
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			kind = tkIdent
		default:
			i++
			for _, op := range twoCharOps {
				if strings.HasPrefix(src[start:], op) {
					i = start + len(op)
					break
				}
			}
			kind = tkOp
		}
		toks = append(toks, token{kind: kind, off: start, text: src[start:i]})
	}
	return toks, nil
}

// quotedLen returns the length of the quoted token at the start of s (q doubled inside
// stands for itself).
func quotedLen(s string, q byte) (int, error) {
	for i := 1; i < len(s); i++ {
		if s[i] == q {
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated")
}

// numberEnd returns the end of the numeric literal starting at i.
func numberEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
		}
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentStart(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }

// unquote returns the content of a quoted identifier or string token.
func unquote(t token) string {
	q := t.text[:1]
	return strings.ReplaceAll(t.text[1:len(t.text)-1], q+q, q)
}
