package pgwire

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/auditlake/auditlake/internal/dialect"
)

// SQL cursors: DECLARE name CURSOR FOR query, FETCH, MOVE and CLOSE, which psycopg2's named
// (server-side) cursors and other drivers' streaming modes send over the simple protocol. As in
// PostgreSQL a cursor is a portal of the connection (same names, same bounds): DECLARE runs the
// query as any other (grants, audit log, result limit) and keeps its rows, FETCH sends the next
// ones. A cursor reads forward only; one declared WITHOUT HOLD (the default) is closed at the
// end of its transaction, as PostgreSQL does.

// isCursorCommand says whether toks are DECLARE, FETCH, MOVE or CLOSE.
func isCursorCommand(toks []dialect.Token) bool {
	switch firstWord(toks) {
	case "DECLARE", "FETCH", "MOVE", "CLOSE":
		return true
	}
	return false
}

// cursorName is the name a token gives a cursor: an identifier folded to lower case, a quoted
// one as written.
func cursorName(t dialect.Token) (string, bool) {
	switch t.Kind {
	case dialect.TokenIdent:
		return strings.ToLower(t.Text), true
	case dialect.TokenQuoted:
		return strings.ReplaceAll(t.Text[1:len(t.Text)-1], `""`, `"`), true
	}
	return "", false
}

// declare answers DECLARE name [ASENSITIVE|INSENSITIVE] [NO SCROLL] CURSOR [WITH|WITHOUT HOLD]
// FOR query: the query runs now, as the connection's other queries do, and its rows wait in the
// portal name. A Describe run (shape) declares nothing.
func (c *conn) declare(sql string, toks []dialect.Token, shape bool) (*answer, error) {
	w := words(toks)
	syntax := func(msg string) (*answer, error) {
		ctx, done := c.queryContext()
		defer done()
		return c.itself(ctx, sql, shape, func(context.Context) (*answer, error) {
			return nil, &pgError{code: "42601", msg: "syntax error: " + msg}
		})
	}
	if len(w) < 2 {
		return syntax("DECLARE needs a cursor name")
	}
	name, ok := cursorName(w[1])
	if !ok || name == "" {
		return syntax("DECLARE needs a cursor name")
	}
	hold := false
	i := 2
	for ; i < len(w) && !strings.EqualFold(w[i].Text, "CURSOR"); i++ {
		switch strings.ToUpper(w[i].Text) {
		case "ASENSITIVE", "INSENSITIVE", "NO", "SCROLL":
		case "BINARY":
			return c.refuse(sql, shape, &pgError{code: "0A000", msg: "binary cursors are not supported: declare the cursor without BINARY"})
		default:
			return syntax(fmt.Sprintf("unexpected %q in DECLARE", w[i].Text))
		}
	}
	for i++; i+1 < len(w) && (strings.EqualFold(w[i].Text, "WITH") || strings.EqualFold(w[i].Text, "WITHOUT")) && strings.EqualFold(w[i+1].Text, "HOLD"); i += 2 {
		hold = strings.EqualFold(w[i].Text, "WITH")
	}
	if i >= len(w) || !strings.EqualFold(w[i].Text, "FOR") {
		return syntax("DECLARE … CURSOR needs FOR and a query")
	}
	// The query is the text after FOR (toks, not w: its spaces and comments as written).
	var query string
	for j := range toks {
		if isCursorFor(toks, j) {
			query = joinTokens(toks[j+1:])
			break
		}
	}
	qtoks, err := dialect.Tokens(query)
	if err != nil || firstWord(qtoks) == "" {
		return syntax("DECLARE … CURSOR needs FOR and a query")
	}
	if notAQuery(qtoks) {
		return syntax("a cursor is declared for a SELECT")
	}
	if _, ok := c.portals[name]; ok && !shape {
		return c.refuse(sql, shape, &pgError{code: "42P03", msg: fmt.Sprintf("cursor %q already exists", name)})
	}
	if len(c.portals) >= maxPortals && !shape {
		return c.refuse(sql, shape, &pgError{code: "53000", msg: fmt.Sprintf("too many open portals (%d): close some", maxPortals)})
	}
	grants, err := c.grants()
	if err != nil {
		return c.refuse(sql, shape, err)
	}
	a, err := c.answerPart(sql, query, shape)
	if err != nil {
		return nil, err
	}
	if shape {
		return &answer{tag: "DECLARE CURSOR"}, nil
	}
	p := &portal{sql: query, cursor: true, hold: hold, grants: grants}
	if err := c.keepPortal(name, p); err != nil {
		return nil, err
	}
	if err := c.keepResult(p, a); err != nil {
		c.dropPortal(name)
		return nil, err
	}
	return &answer{tag: "DECLARE CURSOR"}, nil
}

// isCursorFor says whether toks[j] is the FOR that ends DECLARE … CURSOR [WITH[OUT] HOLD], not
// one inside the query.
func isCursorFor(toks []dialect.Token, j int) bool {
	if !strings.EqualFold(toks[j].Text, "FOR") || toks[j].Kind != dialect.TokenIdent {
		return false
	}
	prev := words(toks[:j])
	if len(prev) == 0 {
		return false
	}
	last := strings.ToUpper(prev[len(prev)-1].Text)
	return last == "CURSOR" || last == "HOLD"
}

// refuse answers sql with err, recorded as a refused statement.
func (c *conn) refuse(sql string, shape bool, err error) (*answer, error) {
	ctx, done := c.queryContext()
	defer done()
	return c.itself(ctx, sql, shape, func(context.Context) (*answer, error) { return nil, err })
}

// cursorCommand answers FETCH, MOVE and CLOSE (a Describe run fetches and closes nothing).
func (c *conn) cursorCommand(toks []dialect.Token, shape bool) (*answer, error) {
	w := words(toks)
	if n := len(w); n > 0 && w[n-1].Text == ";" {
		w = w[:n-1]
	}
	verb := strings.ToUpper(w[0].Text)
	if len(w) < 2 {
		return nil, &pgError{code: "42601", msg: "syntax error: " + verb + " needs a cursor name"}
	}
	name, ok := cursorName(w[len(w)-1])
	if !ok {
		return nil, &pgError{code: "42601", msg: "syntax error: " + verb + " needs a cursor name"}
	}
	if verb == "CLOSE" {
		if len(w) != 2 {
			return nil, &pgError{code: "42601", msg: "syntax error: CLOSE name or CLOSE ALL"}
		}
		if !shape {
			if strings.EqualFold(w[1].Text, "ALL") && w[1].Kind == dialect.TokenIdent {
				c.closeCursors(true)
			} else if p := c.portals[name]; p == nil || !p.cursor {
				return nil, &pgError{code: "34000", msg: fmt.Sprintf("cursor %q does not exist", name)}
			} else {
				c.dropPortal(name)
			}
		}
		return &answer{tag: "CLOSE CURSOR"}, nil
	}
	count, err := fetchCount(w[1 : len(w)-1])
	if err != nil {
		return nil, err
	}
	p := c.portals[name]
	if p == nil || !p.cursor {
		return nil, &pgError{code: "34000", msg: fmt.Sprintf("cursor %q does not exist", name)}
	}
	if !shape {
		if err := c.grantsUnchanged(name, p); err != nil {
			return nil, err
		}
	}
	from := p.sent
	to := len(p.res.rows)
	if count >= 0 && count < to-from { // not from+count < to: a count near the largest int overflows
		to = from + count
	}
	if shape {
		to = from
	} else {
		p.sent = to
	}
	if verb == "MOVE" {
		return &answer{tag: fmt.Sprintf("MOVE %d", to-from)}, nil
	}
	return &answer{cols: p.res.cols, rows: p.res.rows[from:to:to], tag: fmt.Sprintf("FETCH %d", to-from)}, nil
}

// fetchCount is the number of rows a FETCH or MOVE direction asks for (-1: all): NEXT, n, ALL,
// FORWARD, FORWARD n, FORWARD ALL, with FROM or IN before the name. Backward and absolute
// directions are refused: a cursor here reads forward only.
func fetchCount(w []dialect.Token) (int, error) {
	if n := len(w); n > 0 && (strings.EqualFold(w[n-1].Text, "FROM") || strings.EqualFold(w[n-1].Text, "IN")) {
		w = w[:n-1]
	}
	if len(w) > 0 && strings.EqualFold(w[0].Text, "FORWARD") {
		if len(w) == 1 {
			return 1, nil
		}
		w = w[1:]
	}
	switch {
	case len(w) == 0:
		return 1, nil
	case len(w) == 1 && strings.EqualFold(w[0].Text, "NEXT"):
		return 1, nil
	case len(w) == 1 && strings.EqualFold(w[0].Text, "ALL"):
		return -1, nil
	case len(w) == 1 && w[0].Kind == dialect.TokenNumber:
		n, err := strconv.Atoi(w[0].Text)
		if err == nil {
			return n, nil
		}
	}
	var dir []string
	for _, t := range w {
		dir = append(dir, t.Text)
	}
	return 0, &pgError{code: "55000", msg: fmt.Sprintf("cursor can only scan forward (FETCH %s): fetch NEXT, n, ALL or FORWARD", strings.Join(dir, " "))}
}

// closeCursors closes the connection's cursors: all of them, or those declared WITHOUT HOLD
// (at the end of a transaction).
func (c *conn) closeCursors(all bool) {
	for name, p := range c.portals {
		if p.cursor && (all || !p.hold) {
			c.dropPortal(name)
		}
	}
}
