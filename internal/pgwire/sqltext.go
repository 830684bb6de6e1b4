package pgwire

import (
	"sort"
	"strconv"
	"strings"

	"github.com/auditlake/auditlake/internal/dialect"
)

// splitStatements splits a simple-protocol query string into its statements (a query may hold
// several, separated by semicolons outside strings and comments). Empty statements are dropped.
func splitStatements(sql string) ([]string, error) {
	toks, err := dialect.Tokens(sql)
	if err != nil {
		return nil, err
	}
	var out []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" && !onlyTrivia(s) {
			out = append(out, s)
		}
		cur.Reset()
	}
	for _, t := range toks {
		if t.Kind == dialect.TokenOp && t.Text == ";" {
			flush()
			continue
		}
		cur.WriteString(t.Text)
	}
	flush()
	return out, nil
}

// onlyTrivia reports whether s holds nothing but whitespace and comments.
func onlyTrivia(s string) bool {
	toks, err := dialect.Tokens(s)
	if err != nil {
		return false
	}
	for _, t := range toks {
		if t.Kind != dialect.TokenSpace && t.Kind != dialect.TokenComment {
			return false
		}
	}
	return true
}

// words returns the statement's meaningful tokens (no whitespace, no comments).
func words(toks []dialect.Token) []dialect.Token {
	out := make([]dialect.Token, 0, len(toks))
	for _, t := range toks {
		if t.Kind != dialect.TokenSpace && t.Kind != dialect.TokenComment {
			out = append(out, t)
		}
	}
	return out
}

// paramRef reports whether toks[i] starts a $n parameter reference, and n.
func paramRef(toks []dialect.Token, i int) (int, bool) {
	if toks[i].Kind != dialect.TokenOp || toks[i].Text != "$" || i+1 >= len(toks) || toks[i+1].Kind != dialect.TokenNumber {
		return 0, false
	}
	n, err := strconv.Atoi(toks[i+1].Text)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// paramCount is the highest $n the statement refers to.
func paramCount(sql string) (int, error) {
	toks, err := dialect.Tokens(sql)
	if err != nil {
		return 0, err
	}
	max := 0
	for i := range toks {
		if n, ok := paramRef(toks, i); ok && n > max {
			max = n
		}
	}
	return max, nil
}

// notAQuery says whether toks are a statement the door answers itself rather than a query:
// a session command, a cursor command, COPY, PREPARE or EXECUTE. Such a statement is no
// DECLARE's, COPY's or PREPARE's query (as in PostgreSQL's grammar); PREPARE p AS EXECUTE p
// would otherwise have EXECUTE run itself without end.
func notAQuery(toks []dialect.Token) bool {
	switch firstWord(toks) {
	case "COPY", "PREPARE", "EXECUTE":
		return true
	}
	return sessionCommand(toks) || isCursorCommand(toks)
}

// castTypeOIDs are the OIDs of the PostgreSQL type names a parameter may be cast to ($1::uuid,
// CAST($1 AS bigint)), by their lower-case name without a modifier.
var castTypeOIDs = map[string]uint32{
	"bool": 16, "boolean": 16, "bytea": 17, "int2": 21, "smallint": 21, "int": 23, "int4": 23, "integer": 23,
	"int8": 20, "bigint": 20, "text": 25, "varchar": 25, "character varying": 25, "float4": 700, "real": 700,
	"float8": 701, "double precision": 701, "numeric": 1700, "decimal": 1700, "date": 1082,
	"time": 1083, "time without time zone": 1083, "timestamp": 1114, "timestamp without time zone": 1114,
	"timestamptz": 1184, "timestamp with time zone": 1184, "interval": 1186, "uuid": 2950, "json": 114, "jsonb": 3802,
}

// parameterUses reads from sql, tokenized once, what PostgreSQL infers of its n parameters:
// oids, the type each is first cast to ($n::type or CAST($n AS type), PostgreSQL's and so the
// dialect's spellings; 0 for a parameter cast to no type castTypeOIDs knows), and arrays, whether
// it is the whole operand of ANY or ALL (x = ANY($1), x <> ALL($2)), where PostgreSQL infers an
// array and a client that left it untyped sends its value as an array's text ({a,b}).
func parameterUses(sql string, n int) (oids []uint32, arrays []bool) {
	oids, arrays = make([]uint32, n), make([]bool, n)
	toks, err := dialect.Tokens(sql)
	if err != nil {
		return oids, arrays
	}
	w := words(toks)
	for i := range w {
		k, ok := paramRef(w, i)
		if !ok || k > n {
			continue
		}
		if i >= 2 && w[i-1].Text == "(" && i+2 < len(w) && w[i+2].Text == ")" &&
			(strings.EqualFold(w[i-2].Text, "ANY") || strings.EqualFold(w[i-2].Text, "ALL") || strings.EqualFold(w[i-2].Text, "SOME")) {
			arrays[k-1] = true
		}
		if oids[k-1] != 0 {
			continue
		}
		var typ []string
		switch {
		case i+2 < len(w) && w[i+2].Text == "::":
			typ = typeWords(w[i+3:])
		case i >= 2 && w[i-1].Text == "(" && (strings.EqualFold(w[i-2].Text, "CAST") || strings.EqualFold(w[i-2].Text, "TRY_CAST")) &&
			i+2 < len(w) && strings.EqualFold(w[i+2].Text, "AS"):
			typ = typeWords(w[i+3:])
		}
		if len(typ) == 0 {
			continue
		}
		name := strings.ToLower(strings.TrimPrefix(strings.Join(typ[:len(typ)-1], " "), "pg_catalog "))
		oid := castTypeOIDs[name]
		if typ[len(typ)-1] == "[]" {
			oid = arrayOIDs[oid]
			if name == "json" || name == "jsonb" {
				oid = 0
			}
		}
		oids[k-1] = oid
	}
	return oids, arrays
}

// typeWords are the words of the type name that starts w (pg_catalog.int8, double precision,
// numeric(10, 2), text[]), the last one "[]" for an array type and "" otherwise; none when w
// starts no type name.
func typeWords(w []dialect.Token) []string {
	var out []string
	i := 0
	if len(w) > 2 && strings.EqualFold(w[0].Text, "pg_catalog") && w[1].Text == "." {
		out, i = append(out, "pg_catalog"), 2
	}
	for ; i < len(w) && (w[i].Kind == dialect.TokenIdent || w[i].Kind == dialect.TokenQuoted); i++ {
		switch strings.ToUpper(w[i].Text) {
		case "AND", "OR", "FROM", "WHERE", "AS", "IS", "NOT", "IN", "LIKE", "BETWEEN", "THEN", "ELSE", "END", "WHEN",
			"ORDER", "GROUP", "LIMIT", "OFFSET", "HAVING", "UNION", "EXCEPT", "INTERSECT", "ON", "USING", "JOIN", "ASC", "DESC":
			if len(out) > 0 {
				return append(out, arraySuffix(w[i:]))
			}
			return nil
		}
		out = append(out, strings.Trim(w[i].Text, `"`))
	}
	if len(out) == 0 || out[len(out)-1] == "pg_catalog" {
		return nil
	}
	if i < len(w) && w[i].Text == "(" { // a modifier: numeric(10, 2), varchar(20)
		for depth := 0; i < len(w); i++ {
			if w[i].Text == "(" {
				depth++
			} else if w[i].Text == ")" {
				if depth--; depth == 0 {
					i++
					break
				}
			}
		}
	}
	return append(out, arraySuffix(w[i:]))
}

// arraySuffix is "[]" when w starts with one, else "".
func arraySuffix(w []dialect.Token) string {
	if len(w) > 1 && w[0].Text == "[" && w[1].Text == "]" {
		return "[]"
	}
	return ""
}

// bindParams replaces each $n with the SQL literal lits[n-1], a negative number after a minus
// apart from it, so that the two minus signs are no comment.
func bindParams(sql string, lits []string) (string, error) {
	if len(lits) == 0 {
		return sql, nil
	}
	toks, err := dialect.Tokens(sql)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i := 0; i < len(toks); i++ {
		if n, ok := paramRef(toks, i); ok && n <= len(lits) {
			if done := b.String(); strings.HasPrefix(lits[n-1], "-") && strings.HasSuffix(done, "-") {
				b.WriteByte(' ') // 5-$1 with -1 is 5- -1: "5--1" would start a comment
			}
			b.WriteString(lits[n-1])
			i++
			continue
		}
		b.WriteString(toks[i].Text)
	}
	return b.String(), nil
}

// catalogFunctions are the functions (called with parentheses) that only the catalog answers.
var catalogFunctions = map[string]bool{
	"version": true, "current_setting": true, "set_config": true, "current_schema": true,
	"current_schemas": true, "current_database": true, "has_table_privilege": true,
	"has_schema_privilege": true, "has_database_privilege": true, "has_column_privilege": true,
	"has_any_column_privilege": true, "has_function_privilege": true, "format_type": true,
	"obj_description": true, "col_description": true, "shobj_description": true,
	"to_regclass": true, "to_regtype": true, "txid_current": true, "quote_ident": true,
}

// catalogWords are the keywords and names that make a statement a catalog query wherever they
// stand: the catalog schemas, and the SQL session functions written without parentheses.
var catalogWords = map[string]bool{
	"pg_catalog": true, "information_schema": true, "current_user": true, "session_user": true,
	"current_role": true, "current_catalog": true, "regclass": true, "regtype": true,
	"regproc": true, "regnamespace": true,
}

// isCatalogQuery tells a query about the database itself (pg_catalog, information_schema, the
// session functions clients call on connect) from a query over the data.
func isCatalogQuery(toks []dialect.Token) bool {
	w := words(toks)
	for i, t := range w {
		var name string
		switch t.Kind {
		case dialect.TokenIdent:
			name = strings.ToLower(t.Text)
		case dialect.TokenQuoted:
			name = strings.ReplaceAll(t.Text[1:len(t.Text)-1], `""`, `"`)
		default:
			continue
		}
		if catalogWords[name] || strings.HasPrefix(name, "pg_") {
			return true
		}
		if catalogFunctions[name] && i+1 < len(w) && w[i+1].Text == "(" {
			return true
		}
	}
	return false
}

// namesDataTable reports whether a query names a table in one of the data schemas (a table name
// qualified by one of them: "aws:cloudtrail"."trail", cur.cur_2026): such a query reads the data,
// whatever catalog words it also holds, so it runs where every other door runs its queries (the
// backend's session of the principal), not in the emulated catalog, which has no data.
func namesDataTable(toks []dialect.Token, schemas map[string]bool) bool {
	w := words(toks)
	for i := 0; i+1 < len(w); i++ {
		if w[i+1].Kind != dialect.TokenOp || w[i+1].Text != "." {
			continue
		}
		switch w[i].Kind {
		case dialect.TokenIdent:
			if schemas[strings.ToLower(w[i].Text)] {
				return true
			}
		case dialect.TokenQuoted:
			if schemas[strings.ReplaceAll(w[i].Text[1:len(w[i].Text)-1], `""`, `"`)] {
				return true
			}
		}
	}
	return false
}

// firstWord is the statement's first keyword, upper case ("" for none).
func firstWord(toks []dialect.Token) string {
	for _, t := range toks {
		switch t.Kind {
		case dialect.TokenSpace, dialect.TokenComment:
			continue
		case dialect.TokenIdent:
			return strings.ToUpper(t.Text)
		default:
			return t.Text
		}
	}
	return ""
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
