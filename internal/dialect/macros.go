package dialect

import _ "embed"

// Macros is the DuckDB SQL (CREATE OR REPLACE MACRO statements, separated by semicolons) that
// defines every trino_* macro Rewrite's output may call. Run it once per connection, before
// running rewritten queries.
//
//go:embed macros.sql
var Macros string
