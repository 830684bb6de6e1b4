// Package dialect makes queries written for CloudTrail Lake and Athena (Trino SQL) run on
// DuckDB.
//
// Two pieces work together. [Rewrite] tokenizes one statement (string literals, quoted
// identifiers, comments and numbers are recognised, so nothing inside them is ever touched)
// and rewrites the constructs DuckDB parses differently: bare event data store ids after
// FROM/JOIN, Trino type names inside CAST, lambdas, multi-argument UNNEST, and the names of
// functions whose DuckDB builtin is missing or differs. [Macros] holds the DuckDB macros,
// all named trino_*, that those renamed calls land on; the engine runs it once per
// connection. Where a Trino function can be expressed as a DuckDB macro it is one, so the
// behaviour lives in macros.sql, next to the comments citing the Trino semantics it follows.
//
// The rewrite is purely lexical and structural: it never needs to know column types. The
// few places where Trino's behaviour depends on a type (CAST(x AS JSON), to_iso8601,
// cardinality of a map or an array) are handled by macros that dispatch inside DuckDB.
//
// The engine should also run `SET TimeZone = 'UTC'` (CloudTrail times are UTC; timestamp
// with time zone values then print and compare as Trino running in UTC does) and
// `SET integer_division = true` (Trino divides integers by truncation, DuckDB's / returns a
// DOUBLE).
package dialect
