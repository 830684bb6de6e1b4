package pgwire

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/auditlake/auditlake/internal/dialect"
)

// COPY … TO STDOUT: psql's \copy (SELECT …) TO STDOUT / TO 'file', psycopg2's copy_expert and
// pgx's CopyTo export a query's rows in PostgreSQL's text or CSV format. The query runs as any
// other (grants, audit log, result limit); its rows go out as CopyData messages. COPY FROM (a
// write), COPY to a server file or program, and the binary format are refused.

// copyOut is how a COPY … TO STDOUT writes its rows.
type copyOut struct {
	cols       []column
	csv        bool
	delim      string
	null       string
	header     bool
	quote      string
	escape     string
	forceAll   bool            // FORCE_QUOTE *
	forceQuote map[string]bool // FORCE_QUOTE (columns)
}

// copyStatement answers COPY (query) TO STDOUT [options] and COPY table [(columns)] TO STDOUT
// [options]: the query's rows in a.copy's format. A Describe run (shape) runs nothing.
func (c *conn) copyStatement(sql string, toks []dialect.Token, shape bool) (*answer, error) {
	refuse := func(code, msg string) (*answer, error) {
		return c.refuse(sql, shape, &pgError{code: code, msg: msg})
	}
	i := skipTrivia(toks, skipTrivia(toks, 0)+1) // after COPY
	if i >= len(toks) {
		return refuse("42601", "syntax error: COPY needs a query or a table")
	}
	var query string
	var rest []dialect.Token
	if toks[i].Text == "(" {
		end := closingParen(toks, i)
		if end >= len(toks) {
			return refuse("42601", "syntax error: COPY (query) without its closing parenthesis")
		}
		query, rest = joinTokens(toks[i+1:end]), words(toks[end+1:])
	} else {
		j := i
		for j < len(toks) && (toks[j].Kind == dialect.TokenIdent || toks[j].Kind == dialect.TokenQuoted || toks[j].Text == ".") {
			j++
		}
		table := joinTokens(toks[i:j])
		if table == "" {
			return refuse("42601", "syntax error: COPY needs a query or a table")
		}
		cols := "*"
		if k := skipTrivia(toks, j); k < len(toks) && toks[k].Text == "(" {
			end := closingParen(toks, k)
			if end >= len(toks) {
				return refuse("42601", "syntax error: COPY's column list without its closing parenthesis")
			}
			cols, j = joinTokens(toks[k+1:end]), end+1
		}
		query, rest = "SELECT "+cols+" FROM "+table, words(toks[j:])
	}
	if n := len(rest); n > 0 && rest[n-1].Text == ";" {
		rest = rest[:n-1]
	}
	switch {
	case len(rest) > 0 && strings.EqualFold(rest[0].Text, "FROM"):
		return refuse("25006", "COPY FROM is not allowed: auditlake stores are read-only to SQL")
	case len(rest) < 2 || !strings.EqualFold(rest[0].Text, "TO"):
		return refuse("42601", "syntax error: COPY … TO STDOUT")
	case !strings.EqualFold(rest[1].Text, "STDOUT"):
		return refuse("42501", "COPY to a file or a program is not allowed: use COPY … TO STDOUT (psql's \\copy)")
	}
	out, err := copyOptions(rest[2:])
	if err != nil {
		return c.refuse(sql, shape, err)
	}
	qtoks, err := dialect.Tokens(query)
	if err != nil || firstWord(qtoks) == "" || notAQuery(qtoks) {
		return refuse("42601", "syntax error: COPY (query) needs a SELECT")
	}
	if shape {
		return &answer{tag: "COPY"}, nil
	}
	a, err := c.answerPart(sql, query, false)
	if err != nil {
		return nil, err
	}
	out.cols = a.cols
	return &answer{rows: a.rows, tag: "COPY", copy: out}, nil
}

// copyOptions reads COPY's options after TO STDOUT: [WITH] (FORMAT csv, HEADER, DELIMITER 'x',
// NULL 'x', QUOTE 'x', ESCAPE 'x', FORCE_QUOTE (…)|*, ENCODING 'UTF8') or the older
// [WITH] [CSV] [HEADER] [DELIMITER [AS] 'x'] … without parentheses.
func copyOptions(w []dialect.Token) (*copyOut, error) {
	out := &copyOut{delim: "\t", null: `\N`, quote: `"`, forceQuote: map[string]bool{}}
	var delim, null, escape *string
	syntax := func(what string) error {
		return &pgError{code: "42601", msg: "syntax error in COPY options at " + what}
	}
	str := func(i int) (string, bool) {
		if i < len(w) && w[i].Kind == dialect.TokenString {
			return strings.ReplaceAll(w[i].Text[1:len(w[i].Text)-1], "''", "'"), true
		}
		return "", false
	}
	if len(w) > 0 && strings.EqualFold(w[0].Text, "WITH") {
		w = w[1:]
	}
	parens := len(w) > 0 && w[0].Text == "("
	if parens {
		if closingParen(w, 0) != len(w)-1 {
			return nil, syntax("the option list")
		}
		w = w[1 : len(w)-1]
	}
	for i := 0; i < len(w); i++ {
		opt := strings.ToUpper(w[i].Text)
		if parens && opt == "," {
			continue
		}
		next := func() (string, error) { // the option's string value, after AS in the older form
			if !parens && i+1 < len(w) && strings.EqualFold(w[i+1].Text, "AS") {
				i++
			}
			s, ok := str(i + 1)
			if !ok {
				return "", syntax(opt)
			}
			i++
			return s, nil
		}
		switch {
		case opt == "FORMAT" && parens && i+1 < len(w):
			i++
			switch strings.ToLower(strings.Trim(w[i].Text, `'"`)) {
			case "csv":
				out.csv = true
			case "text":
				out.csv = false
			case "binary":
				return nil, &pgError{code: "0A000", msg: "COPY in binary format is not supported: use FORMAT text or csv"}
			default:
				return nil, syntax("FORMAT " + w[i].Text)
			}
		case opt == "CSV" && !parens:
			out.csv = true
		case opt == "BINARY" && !parens:
			return nil, &pgError{code: "0A000", msg: "COPY in binary format is not supported: use FORMAT text or csv"}
		case opt == "HEADER":
			out.header = true
			if parens && i+1 < len(w) && w[i+1].Text != "," {
				i++
				switch strings.ToLower(strings.Trim(w[i].Text, "'")) {
				case "true", "on", "1":
				case "false", "off", "0":
					out.header = false
				default:
					return nil, syntax("HEADER " + w[i].Text)
				}
			}
		case opt == "DELIMITER", opt == "NULL", opt == "QUOTE", opt == "ESCAPE", opt == "ENCODING":
			s, err := next()
			if err != nil {
				return nil, err
			}
			switch opt {
			case "DELIMITER":
				delim = &s
			case "NULL":
				null = &s
			case "QUOTE":
				out.quote = s
			case "ESCAPE":
				escape = &s
			case "ENCODING":
				if e := strings.ToUpper(strings.ReplaceAll(s, "-", "")); e != "UTF8" && e != "UNICODE" {
					return nil, &pgError{code: "0A000", msg: fmt.Sprintf("COPY in encoding %q is not supported: the server writes UTF8", s)}
				}
			}
		case opt == "FORCE_QUOTE" || opt == "FORCE" && !parens && i+1 < len(w) && strings.EqualFold(w[i+1].Text, "QUOTE"):
			if opt == "FORCE" {
				i++
			}
			if i+1 < len(w) && w[i+1].Text == "*" {
				out.forceAll = true
				i++
				continue
			}
			var names []dialect.Token
			if parens {
				if i+1 >= len(w) || w[i+1].Text != "(" {
					return nil, syntax("FORCE_QUOTE")
				}
				end := closingParen(w, i+1)
				if end >= len(w) {
					return nil, syntax("FORCE_QUOTE")
				}
				names, i = w[i+2:end], end
			} else {
				for i+1 < len(w) && (w[i+1].Kind == dialect.TokenIdent || w[i+1].Kind == dialect.TokenQuoted || w[i+1].Text == ",") {
					names = append(names, w[i+1])
					i++
				}
			}
			for _, n := range names {
				if name, ok := cursorName(n); ok {
					out.forceQuote[name] = true
				}
			}
		default:
			return nil, syntax(w[i].Text)
		}
	}
	if out.csv {
		out.delim, out.null, out.escape = ",", "", out.quote
	}
	if delim != nil {
		out.delim = *delim
	}
	if null != nil {
		out.null = *null
	}
	if escape != nil {
		out.escape = *escape
	}
	if len(out.null) > maxCopyNull {
		return nil, &pgError{code: "22023", msg: fmt.Sprintf("COPY NULL string is longer than %d bytes", maxCopyNull)}
	}
	if len(out.delim) != 1 || out.csv && (len(out.quote) != 1 || len(out.escape) != 1) {
		return nil, &pgError{code: "22023", msg: "COPY delimiter, quote and escape must be one character each"}
	}
	if !out.csv && (out.header || len(out.forceQuote) > 0 || out.forceAll) {
		return nil, &pgError{code: "0A000", msg: "COPY HEADER and FORCE_QUOTE are available only in CSV mode"}
	}
	return out, nil
}

// maxCopyNull bounds COPY's NULL string, which is written for every NULL of the result: a
// result of a few NULLs under a NULL string of megabytes made the server hold gigabytes.
const maxCopyNull = 1 << 10

// copyFlushBytes is how much of a COPY's output the server holds before it sends it.
const copyFlushBytes = 1 << 20

// sendCopy sends a's rows as a COPY's CopyOutResponse, CopyData messages (one a row) and
// CopyDone, flushed whenever copyFlushBytes of them wait.
func (c *conn) sendCopy(a *answer) error {
	ctx, done := c.sending()
	defer done()
	cp := a.copy
	c.be.Send(&pgproto3.CopyOutResponse{OverallFormat: 0, ColumnFormatCodes: make([]uint16, len(cp.cols))})
	var line, val []byte
	if cp.header && cp.csv {
		for j, col := range cp.cols {
			if j > 0 {
				line = append(line, cp.delim...)
			}
			line = cp.appendCSV(line, []byte(col.name), false)
		}
		c.be.Send(&pgproto3.CopyData{Data: append(line, '\n')})
	}
	held := len(line)
	for _, row := range a.rows {
		line = line[:0:0]
		for j, v := range row {
			if j > 0 {
				line = append(line, cp.delim...)
			}
			var null bool
			var err error
			val, null, err = encodeValue(c.types, cp.cols[j].oid, 0, v, val[:0])
			if err != nil {
				return err
			}
			switch {
			case null:
				line = append(line, cp.null...)
			case cp.csv:
				line = cp.appendCSV(line, val, cp.forceAll || cp.forceQuote[cp.cols[j].name])
			default:
				line = cp.appendText(line, val)
			}
		}
		c.be.Send(&pgproto3.CopyData{Data: append(line, '\n')})
		if held += len(line) + 1; held >= copyFlushBytes {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := c.be.Flush(); err != nil {
				return err
			}
			held = 0
		}
	}
	c.be.Send(&pgproto3.CopyDone{})
	return nil
}

// appendText appends v in COPY's text format: a backslash, the control characters \n \r \t
// \b \f \v and the delimiter escaped with a backslash, as PostgreSQL writes them.
func (cp *copyOut) appendText(line, v []byte) []byte {
	for _, b := range v {
		if e, ok := copyTextEscapes[b]; ok {
			line = append(line, e...)
			continue
		}
		if b == cp.delim[0] {
			line = append(line, '\\')
		}
		line = append(line, b)
	}
	return line
}

// copyTextEscapes are the bytes COPY's text format writes as a backslash sequence.
var copyTextEscapes = map[byte]string{'\\': `\\`, '\n': `\n`, '\r': `\r`, '\t': `\t`, '\b': `\b`, '\f': `\f`, '\v': `\v`}

// appendCSV appends v as a CSV field: quoted when forced, when it holds the delimiter, the quote,
// a line end, or reads as the NULL string (an empty string when NULL is empty), or starts with
// the end-of-data marker \.; a quote or escape inside is preceded by the escape.
func (cp *copyOut) appendCSV(line, v []byte, force bool) []byte {
	s := string(v)
	if !force && !strings.ContainsAny(s, cp.delim+cp.quote+"\r\n") && s != cp.null && !strings.HasPrefix(s, `\.`) {
		return append(line, s...)
	}
	line = append(line, cp.quote...)
	for _, b := range v {
		if b == cp.quote[0] || b == cp.escape[0] {
			line = append(line, cp.escape[0])
		}
		line = append(line, b)
	}
	return append(line, cp.quote...)
}
