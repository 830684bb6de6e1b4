package dialect

import (
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Macros is the DuckDB SQL (CREATE OR REPLACE MACRO statements, separated by semicolons) that
// defines every trino_* macro Rewrite's output may call. Run it once per connection, before
// running rewritten queries.
var Macros = macrosSQL + integralCastMacros()

//go:embed macros.sql
var macrosSQL string

// integralCastMacros defines trino_<type>(x) and trino_try_<type>(x), the CAST and TRY_CAST of
// x to each of the integralTypes: a double or real is rounded half away from zero first (see
// trino_round_double in macros.sql), and a varchar must be digits with an optional sign, as
// Java's parseInt reads them (DuckDB also takes '1.5', rounded, '1e3', '0x1F', '1_000' and
// spaces around): CAST fails with Trino's message, TRY_CAST gives NULL.
func integralCastMacros() string {
	var b strings.Builder
	for _, typ := range slices.Sorted(maps.Keys(integralTypes)) {
		name := typ
		if typ == "INTEGER" {
			name = "INT" // Trino's message
		}
		for _, cast := range []string{"CAST", "TRY_CAST"} {
			bad := "trino_fail('INVALID_CAST_ARGUMENT: Cannot cast ''' || CAST(x AS VARCHAR) || ''' to " + name + "')"
			if cast == "TRY_CAST" {
				bad = "NULL"
			}
			fmt.Fprintf(&b, "CREATE OR REPLACE MACRO trino_%s%s(x) AS CASE\n"+
				"    WHEN typeof(x) IN ('DOUBLE', 'FLOAT') THEN %s(trino_round_double(x) AS %s)\n"+
				"    WHEN typeof(x) = 'VARCHAR' AND NOT regexp_full_match(CAST(x AS VARCHAR), '\\s*[+-]?[0-9]+\\s*') THEN %s\n"+
				"    ELSE %[3]s(x AS %[4]s) END;\n",
				strings.ToLower(strings.TrimSuffix(cast, "CAST")), strings.ToLower(typ), cast, typ, bad)
		}
	}
	return b.String()
}
