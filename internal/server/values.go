package server

// JSONValue makes an engine value JSON-encodable the way the API sends it (maps with non-string
// keys as objects, NaN and infinities as strings, binary as base64, decimals and UUIDs as text),
// for other doors that send nested values as JSON (the Postgres wire server's json columns).
func JSONValue(v any) any { return normalizeValue(v) }
