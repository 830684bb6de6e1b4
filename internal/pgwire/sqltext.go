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
