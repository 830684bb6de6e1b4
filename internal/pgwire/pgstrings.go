package pgwire

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/engine"
)

// pgStrings rewrites PostgreSQL's escape strings (E'…') and dollar-quoted strings ($$…$$,
// $tag$…$tag$) as standard string literals ('…', quotes doubled): the engine's tokenizer and the
// statement splitter read only those, and took a ; or a quote inside the others for SQL (E'it\'s;
// x' ended at \' and split at the ;). Standard strings, quoted identifiers and comments are passed
// over as written; text without either kind is returned as it is.
func pgStrings(sql string) (string, error) {
	if !strings.Contains(sql, "$") && !strings.Contains(sql, "E'") && !strings.Contains(sql, "e'") {
		return sql, nil
	}
	var b strings.Builder
	identByte := func(c byte) bool {
		return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		prevIdent := i > 0 && identByte(sql[i-1])
		switch {
		case c == '\'' || c == '"': // a standard string or a quoted identifier, doubled quotes inside
			j := i + 1
			for j < len(sql) && (sql[j] != c || j+1 < len(sql) && sql[j+1] == c) {
				if sql[j] == c {
					j++
				}
				j++
			}
			j = min(j+1, len(sql))
			b.WriteString(sql[i:j])
			i = j
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexAny(sql[i:], "\n\r") // a line comment ends at either, as in PostgreSQL
			if j < 0 {
				j = len(sql) - i
			}
			b.WriteString(sql[i : i+j])
			i += j
		case c == '/' && strings.HasPrefix(sql[i:], "/*"): // nested, as in PostgreSQL
			j, depth := i+2, 1
			for j < len(sql) && depth > 0 {
				switch {
				case strings.HasPrefix(sql[j:], "/*"):
					depth, j = depth+1, j+2
				case strings.HasPrefix(sql[j:], "*/"):
					depth, j = depth-1, j+2
				default:
					j++
				}
			}
			b.WriteString(sql[i:j])
			i = j
		case (c == 'E' || c == 'e') && !prevIdent && i+1 < len(sql) && sql[i+1] == '\'':
			text, n, err := escapeString(sql[i+2:])
			if err != nil {
				return "", err
			}
			b.WriteString(engine.Literal(text))
			i += 2 + n
		case c == '$' && !prevIdent:
			tag := dollarTag(sql[i:])
			if tag == "" {
				b.WriteByte(c)
				i++
				continue
			}
			end := strings.Index(sql[i+len(tag):], tag)
			if end < 0 {
				return "", fmt.Errorf("unterminated dollar-quoted string at or near %q", sql[i:min(len(sql), i+len(tag)+20)])
			}
			b.WriteString(engine.Literal(sql[i+len(tag) : i+len(tag)+end]))
			i += 2*len(tag) + end
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// dollarTag is the $tag$ (or $$) that s starts with, "" when it starts with none ($1 is a
// parameter: a tag does not start with a digit).
func dollarTag(s string) string {
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '$':
			return s[:j+1]
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || j > 1 && c >= '0' && c <= '9':
		default:
			return ""
		}
	}
	return ""
}

// escapeString reads the body of an E'…' string from s (after its opening quote): its text, with
// PostgreSQL's backslash escapes (\n \t \b \f \r, \' and \\, octal \ooo, hex \xhh, \uXXXX,
// \UXXXXXXXX; any other \c is c) and doubled quotes read, and how many bytes of s it took with
// its closing quote. A NUL or text that is no UTF-8 is PostgreSQL's error 22021.
func escapeString(s string) (string, int, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i += 2
		case c == '\'':
			text := b.String()
			if strings.IndexByte(text, 0) >= 0 || !utf8.ValidString(text) {
				return "", 0, &pgError{code: "22021", msg: "invalid byte sequence for encoding \"UTF8\" in an E'' string"}
			}
			return text, i + 1, nil
		case c == '\\' && i+1 < len(s):
			n := s[i+1]
			i += 2
			switch {
			case n == 'b':
				b.WriteByte('\b')
			case n == 'f':
				b.WriteByte('\f')
			case n == 'n':
				b.WriteByte('\n')
			case n == 'r':
				b.WriteByte('\r')
			case n == 't':
				b.WriteByte('\t')
			case n >= '0' && n <= '7':
				j := i
				for j < len(s) && j < i+2 && s[j] >= '0' && s[j] <= '7' {
					j++
				}
				v, _ := strconv.ParseUint(s[i-1:j], 8, 16)
				b.WriteByte(byte(v))
				i = j
			case n == 'x' && i < len(s) && isHex(s[i]):
				j := i + 1
				if j < len(s) && isHex(s[j]) {
					j++
				}
				v, _ := strconv.ParseUint(s[i:j], 16, 8)
				b.WriteByte(byte(v))
				i = j
			case (n == 'u' || n == 'U') && i+hexLen(n) <= len(s):
				v, err := strconv.ParseUint(s[i:i+hexLen(n)], 16, 32)
				if err != nil || !utf8.ValidRune(rune(v)) {
					return "", 0, &pgError{code: "22025", msg: "invalid Unicode escape in an E'' string"}
				}
				b.WriteRune(rune(v))
				i += hexLen(n)
			default:
				b.WriteByte(n)
			}
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, fmt.Errorf("unterminated quoted string at or near %q", "E'"+s[:min(len(s), 20)])
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// hexLen is the number of hex digits of a \u (4) or \U (8) escape.
func hexLen(u byte) int {
	if u == 'u' {
		return 4
	}
	return 8
}
