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
// x to each of the integralTypes, a double or real rounded half away from zero first (see
// trino_round_double in macros.sql).
func integralCastMacros() string {
	var b strings.Builder
	for _, typ := range slices.Sorted(maps.Keys(integralTypes)) {
		for _, cast := range []string{"CAST", "TRY_CAST"} {
			fmt.Fprintf(&b, "CREATE OR REPLACE MACRO trino_%s%s(x) AS CASE WHEN typeof(x) IN ('DOUBLE', 'FLOAT')\n"+
				"    THEN %s(trino_round_double(x) AS %s) ELSE %[3]s(x AS %[4]s) END;\n",
				strings.ToLower(strings.TrimSuffix(cast, "CAST")), strings.ToLower(typ), cast, typ)
		}
	}
	return b.String()
}
