package pgwire

import (
	"context"
	"fmt"
	"strings"

	"github.com/auditlake/auditlake/internal/dialect"
)

// SQL's prepared statements: PREPARE name [(type, …)] AS query and EXECUTE name [(arg, …)], as
// PostgreSQL has them. A statement PREPARE makes is a prepared statement of the connection like
// a Parse's (same names and bounds; DEALLOCATE and Close close it); EXECUTE puts its arguments,
// SQL expressions of the client's own, in place of $1…$n, each cast to its declared type, and
// runs the query as any other (grants, result limit, the audit log with the EXECUTE as sent).

// prepareStatement answers PREPARE name [(type, …)] AS query.
func (c *conn) prepareStatement(sql string, toks []dialect.Token, shape bool) (*answer, error) {
	syntax := &pgError{code: "42601", msg: "syntax error: PREPARE name [(type, …)] AS query"}
	name, types, i, ok := nameAndList(toks)
	if !ok || i >= len(toks) || !strings.EqualFold(toks[i].Text, "AS") {
		return c.refuse(sql, shape, syntax)
	}
	query := strings.TrimSpace(joinTokens(toks[i+1:]))
	if qtoks, err := dialect.Tokens(query); err != nil || firstWord(qtoks) == "" || notAQuery(qtoks) {
		return c.refuse(sql, shape, syntax)
	}
	oids := make([]uint32, len(types))
	for k, typ := range types {
		typ = strings.Join(strings.Fields(strings.ToLower(strings.TrimPrefix(strings.TrimSpace(typ), "pg_catalog."))), " ")
		oids[k] = declaredOIDs[declaredTypes[typ]]
	}
	ctx, done := c.queryContext()
	defer done()
	return c.itself(ctx, sql, shape, func(context.Context) (*answer, error) {
		if _, ok := c.stmts[name]; ok {
			return nil, &pgError{code: "42P05", msg: fmt.Sprintf("prepared statement %q already exists", name)}
		}
		if !shape {
			if err := c.prepare(name, query, oids); err != nil {
				return nil, err
			}
		}
		return &answer{tag: "PREPARE"}, nil
	})
}

// executeStatement answers EXECUTE name [(arg, …)]: the statement's query with each argument,
// cast to its declared type, in place of its parameter.
func (c *conn) executeStatement(sql string, toks []dialect.Token, shape bool) (*answer, error) {
	syntax := &pgError{code: "42601", msg: "syntax error: EXECUTE name [(argument, …)]"}
	name, args, i, ok := nameAndList(toks)
	if i < len(toks) && toks[i].Text == ";" {
		i = skipTrivia(toks, i+1)
	}
	if !ok || i < len(toks) {
		return c.refuse(sql, shape, syntax)
	}
	st := c.stmts[name]
	if st == nil {
		return c.refuse(sql, shape, &pgError{code: "26000", msg: fmt.Sprintf("prepared statement %q does not exist", name)})
	}
	if len(args) != len(st.paramOIDs) {
		return c.refuse(sql, shape, &pgError{code: "42601", msg: fmt.Sprintf("wrong number of parameters for prepared statement %q: expected %d, got %d", name, len(st.paramOIDs), len(args))})
	}
	lits := make([]string, len(args))
	for k, arg := range args {
		lits[k] = "(" + arg + ")"
		if t := pgTypeName(st.paramOIDs[k]); t != "" {
			lits[k] = "CAST(" + arg + " AS " + t + ")"
		}
	}
	query, err := bindParams(st.sql, lits)
	if err != nil {
		return c.refuse(sql, shape, &pgError{code: "42601", msg: "syntax error: " + err.Error()})
	}
	return c.answerPart(sql, query, shape)
}

// declaredTypes are the PostgreSQL type names a PREPARE may declare, with the dialect's name
// of each (a CAST to it); another type leaves its parameter untyped.
var declaredTypes = map[string]string{
	"bool": "BOOLEAN", "boolean": "BOOLEAN", "int2": "SMALLINT", "smallint": "SMALLINT",
	"int": "INTEGER", "int4": "INTEGER", "integer": "INTEGER", "int8": "BIGINT", "bigint": "BIGINT",
	"float4": "REAL", "real": "REAL", "float8": "DOUBLE", "double precision": "DOUBLE", "text": "VARCHAR",
	"varchar": "VARCHAR", "character varying": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP",
	"timestamp without time zone": "TIMESTAMP",
}

// declaredOIDs are the OIDs of declaredTypes' dialect names, for the statement's parameters.
var declaredOIDs = map[string]uint32{
	"BOOLEAN": 16, "SMALLINT": 21, "INTEGER": 23, "BIGINT": 20, "REAL": 700, "DOUBLE": 701, "VARCHAR": 25,
	"DATE": 1082, "TIMESTAMP": 1114,
}

// pgTypeName is the dialect's name of a declared parameter type oid ("": none, untyped).
func pgTypeName(oid uint32) string {
	for name, o := range declaredOIDs {
		if o == oid {
			return name
		}
	}
	return ""
}

// nameAndList reads the name after a statement's first word (PREPARE, EXECUTE) and the items
// of the parenthesised list after it, if any; next is the index of the token after them.
func nameAndList(toks []dialect.Token) (name string, items []string, next int, ok bool) {
	i := skipTrivia(toks, skipTrivia(toks, 0)+1)
	if i < len(toks) {
		name, ok = cursorName(toks[i])
	}
	if !ok || name == "" {
		return "", nil, i, false
	}
	if i = skipTrivia(toks, i+1); i < len(toks) && toks[i].Text == "(" {
		end := closingParen(toks, i)
		if end >= len(toks) {
			return "", nil, i, false
		}
		items, i = topLevelItems(toks[i+1:end]), skipTrivia(toks, end+1)
	}
	return name, items, i, true
}

// topLevelItems splits toks at their commas outside parentheses and brackets, each item's text
// trimmed (no items for no tokens).
func topLevelItems(toks []dialect.Token) []string {
	var items []string
	depth, start := 0, 0
	for k, t := range toks {
		switch t.Text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
		case ",":
			if depth == 0 {
				items = append(items, strings.TrimSpace(joinTokens(toks[start:k])))
				start = k + 1
			}
		}
	}
	if last := strings.TrimSpace(joinTokens(toks[start:])); last != "" || len(items) > 0 {
		items = append(items, last)
	}
	return items
}
