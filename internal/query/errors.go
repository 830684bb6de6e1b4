package query

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/auditlake/auditlake/internal/dialect"
	"github.com/auditlake/auditlake/internal/engine"
)

// Errors of user SQL leave the query layer in the dialect's terms, as Athena words them
// ("COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved"), not DuckDB's ("Binder Error:
// Referenced column …", "Did you mean duckdb_…"). The location is found in the query the user
// wrote (the rewrite moves things), and is left out when the name is not in it.

var (
	errColumn     = regexp.MustCompile(`^Binder Error: Referenced column "([^"]+)" not found`)
	errQualified  = regexp.MustCompile(`^Binder Error: (?:Table|Values list) "([^"]+)" does not have a column named "([^"]+)"`)
	errTable      = regexp.MustCompile(`^Catalog Error: Table with name "?([^"!]+?)"? does not exist`)
	errFunction   = regexp.MustCompile(`^Catalog Error: (?:Scalar |Table |Aggregate |Macro )?Function with name "?([^"!]+?)"? does not exist`)
	errNoMatch    = regexp.MustCompile(`^Binder Error: No function matches the given name and argument types '([^(]+)\((.*)\)'`)
	errMacroArgs  = regexp.MustCompile(`^Binder Error: Macro (?:main\.)?(\w+)\(\) does not support the supplied arguments`)
	errNotGrouped = regexp.MustCompile(`^Binder Error: column "([^"]+)" must appear in the GROUP BY clause`)
	errSyntax     = regexp.MustCompile(`^(?:Parser Error: )?(syntax error at (?:or near "([^"]*)"|end of input))`)
	errClass      = regexp.MustCompile(`^(?:[A-Z][a-z]+ )+Error: `)
	errCoded      = regexp.MustCompile(`^[A-Z][A-Z_]+: `)
	errFailed     = regexp.MustCompile(`^Conversion Error: Could not convert string '([A-Z][A-Z_]+: .*)' to INT32`)
	didYouMean    = regexp.MustCompile(`\n?Did you mean "([^"]*)"\?`)
	operators     = map[string]bool{"+": true, "-": true, "*": true, "/": true, "%": true, "//": true, "||": true, "=": true, "<>": true, "<": true, ">": true, "<=": true, ">=": true, "~~": true, "!~~": true}
	typeName      = strings.NewReplacer("INTEGER_LITERAL", "integer", "STRING_LITERAL", "varchar", "VARCHAR", "varchar",
		"BIGINT", "bigint", "INTEGER", "integer", "DOUBLE", "double", "BOOLEAN", "boolean", "TIMESTAMP WITH TIME ZONE",
		"timestamp(3) with time zone", "TIMESTAMP", "timestamp(3)", "DATE", "date", "DECIMAL", "decimal", "JSON", "json")
)

// trinoError rewrites a *engine.QueryError of the user query sql in Athena's terms; other errors
// (time limit, cancellation, internal failures) are returned as they are.
func trinoError(sql string, err error) error {
	var qe *engine.QueryError
	if !errors.As(err, &qe) {
		return err
	}
	return &engine.QueryError{Msg: trinoMessage(sql, qe.Msg)}
}

func trinoMessage(sql, msg string) string {
	// DuckDB's own details: the caret under the rewritten query, candidate lists.
	first := msg
	if i := strings.Index(first, "\n"); i >= 0 {
		first = first[:i]
	}
	// DuckDB suggests the closest name in its whole catalog, often one of its own that Trino
	// lacks: keep a suggestion only when it is a spelling away from the name (lenght → length).
	suggest := func(name string) string {
		if m := didYouMean.FindStringSubmatch(msg); m != nil && userName(m[1]) && distance(strings.ToLower(name), strings.ToLower(m[1])) <= 2 {
			return fmt.Sprintf(" (did you mean '%s'?)", m[1])
		}
		return ""
	}
	at := func(name string, call bool) string {
		if line, col, ok := dialect.Locate(sql, name, call); ok {
			return fmt.Sprintf("line %d:%d: ", line, col)
		}
		return ""
	}
	switch {
	case errColumn.MatchString(first):
		name := errColumn.FindStringSubmatch(first)[1]
		return "COLUMN_NOT_FOUND: " + at(lastPart(name), false) + fmt.Sprintf("Column '%s' cannot be resolved", name)
	case errQualified.MatchString(first):
		m := errQualified.FindStringSubmatch(first)
		return "COLUMN_NOT_FOUND: " + at(m[2], false) + fmt.Sprintf("Column '%s.%s' cannot be resolved", m[1], m[2])
	case errTable.MatchString(first):
		name := errTable.FindStringSubmatch(first)[1]
		return "TABLE_NOT_FOUND: " + at(lastPart(name), false) + fmt.Sprintf("Table '%s' does not exist", name)
	case errFunction.MatchString(first):
		name := errFunction.FindStringSubmatch(first)[1]
		return "FUNCTION_NOT_FOUND: " + at(name, true) + fmt.Sprintf("Function '%s' not registered", name) + suggest(name)
	case errNoMatch.MatchString(first):
		m := errNoMatch.FindStringSubmatch(first)
		args := strings.ToLower(typeName.Replace(m[2]))
		if operators[m[1]] {
			return "TYPE_MISMATCH: " + fmt.Sprintf("Cannot apply operator: %s", strings.Replace(args, ", ", " "+m[1]+" ", 1))
		}
		return "FUNCTION_NOT_FOUND: " + at(m[1], true) + fmt.Sprintf("Unexpected parameters (%s) for function %s", args, m[1])
	case errMacroArgs.MatchString(first):
		// a Trino function that the dialect defines as a trino_* macro, called with other arguments
		name := strings.TrimPrefix(errMacroArgs.FindStringSubmatch(first)[1], "trino_")
		return "FUNCTION_NOT_FOUND: " + at(name, true) + fmt.Sprintf("Unexpected parameters for function %s", name)
	case errNotGrouped.MatchString(first):
		name := errNotGrouped.FindStringSubmatch(first)[1]
		return "EXPRESSION_NOT_AGGREGATE: " + at(lastPart(name), false) + fmt.Sprintf("'%s' must be an aggregate expression or appear in GROUP BY clause", name)
	case errFailed.MatchString(first):
		// a macro's trino_fail: its message, already in Athena's terms
		return errFailed.FindStringSubmatch(first)[1]
	case errSyntax.MatchString(first):
		m := errSyntax.FindStringSubmatch(first)
		loc := ""
		if m[2] != "" {
			loc = at(m[2], false)
		}
		return "SYNTAX_ERROR: " + loc + m[1]
	}
	// Other errors keep their text without DuckDB's class ("Conversion Error: ", "Invalid Input
	// Error: ") and details; the macros' own errors already carry Athena's code.
	body := errClass.ReplaceAllString(first, "")
	if errCoded.MatchString(body) {
		return body
	}
	if strings.HasPrefix(first, "Conversion Error: ") {
		return "INVALID_CAST_ARGUMENT: " + body
	}
	if strings.Contains(msg, "Out of Memory") || strings.HasPrefix(msg, "only SELECT") || strings.HasPrefix(msg, "table function") ||
		strings.HasPrefix(msg, "reading files") || strings.HasPrefix(msg, "expected exactly one") || strings.HasPrefix(msg, "catalog ") {
		return msg // auditlake's own refusals and limits, already for the user
	}
	return body
}

// lastPart is the last dot-separated part of a name as DuckDB prints it.
func lastPart(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// userName reports whether a name DuckDB suggests is one of the user's, not of DuckDB's catalog
// or auditlake's macros.
func userName(s string) bool {
	l := strings.ToLower(s)
	for _, p := range []string{"duckdb_", "pg_", "sqlite_", "information_schema", "trino_", "main.", "system.", "temp."} {
		if strings.HasPrefix(l, p) {
			return false
		}
	}
	return s != ""
}

// distance is the Levenshtein distance of a and b (bytes).
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
