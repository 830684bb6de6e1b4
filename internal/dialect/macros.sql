-- auditlake: DuckDB macros giving Trino (CloudTrail Lake / Athena) semantics to the functions
-- that dialect.Rewrite renames to trino_*. Each states the Trino behaviour it follows
-- (https://trino.io/docs/current/functions.html). Run once per connection.

-- trino_fail(message): fails the query with message ("CODE: text", which the query layer shows
-- as it is). DuckDB's error() is volatile, and try() refuses any expression that holds a volatile
-- function, so try(x / y) failed to bind; a failing cast is not volatile, and try() turns it into
-- NULL as Trino's try does. Its type is INTEGER: cast it where a branch needs another.
CREATE OR REPLACE MACRO trino_fail(message) AS CAST(message AS INTEGER);

-- trino_divisor(x): the divisor of / and %, which Rewrite wraps: Trino fails on an integer or
-- decimal division by zero, DuckDB gives NULL. (Trino's double division by zero gives Infinity or
-- NaN, which DuckDB does not compute: that fails too, rather than being NULL.)
CREATE OR REPLACE MACRO trino_divisor(x) AS
    CASE WHEN x = 0 THEN trino_fail('DIVISION_BY_ZERO: Division by zero') ELSE x END;

-- mod(a, b): a % b, whose divisor fails on zero as the operator's does (DuckDB's mod gives NULL).
CREATE OR REPLACE MACRO trino_mod(a, b) AS a % trino_divisor(b);

-- JSON. Trino's json_extract* return NULL for input that is not valid JSON (CloudTrail map
-- values are often raw strings), DuckDB's raise an error: try() turns the error into NULL.

-- json_extract_scalar(json, path) → varchar: the value of a string, number or boolean;
-- NULL for an object, an array, JSON null or a missing path.
CREATE OR REPLACE MACRO trino_json_extract_scalar(j, p) AS
    try(CASE WHEN json_type(json_extract(j, p)) IN ('OBJECT', 'ARRAY') THEN NULL
             ELSE json_extract_string(j, p) END);

-- json_extract(json, path) → json (objects and arrays included).
CREATE OR REPLACE MACRO trino_json_extract(j, p) AS try(json_extract(j, p));

-- json_parse(varchar) → json; invalid JSON is an error in both engines.
CREATE OR REPLACE MACRO trino_json_parse(s) AS json(s);

-- json_format(json) → varchar, compact.
CREATE OR REPLACE MACRO trino_json_format(j) AS CAST(json(j) AS VARCHAR);

-- json_array_get(json_array, index) → json: 0-based, negative counts from the end, NULL out
-- of range or when the input is not an array.
CREATE OR REPLACE MACRO trino_json_array_get(j, i) AS
    try(CASE WHEN json_type(json(j)) = 'ARRAY' THEN json_extract(j, CAST(i AS BIGINT)) END);

-- json_array_length(json) → bigint; NULL when the input is not an array.
CREATE OR REPLACE MACRO trino_json_array_length(j) AS
    try(CASE WHEN json_type(json(j)) = 'ARRAY' THEN CAST(json_array_length(j) AS BIGINT) END);

-- json_array_contains(json, value) → boolean; NULL when the input is not an array.
CREATE OR REPLACE MACRO trino_json_array_contains(j, v) AS
    try(CASE WHEN json_type(json(j)) = 'ARRAY' THEN list_contains(json_extract(j, '$[*]'), to_json(v)) END);

-- json_size(json, path) → bigint: elements of an array or keys of an object at path, 0 for a
-- scalar, NULL for a missing path.
CREATE OR REPLACE MACRO trino_json_size(j, p) AS
    try(CASE WHEN json_extract(j, p) IS NULL THEN NULL
             WHEN json_type(json_extract(j, p)) = 'ARRAY' THEN CAST(json_array_length(json_extract(j, p)) AS BIGINT)
             WHEN json_type(json_extract(j, p)) = 'OBJECT' THEN CAST(len(json_keys(json_extract(j, p))) AS BIGINT)
             ELSE CAST(0 AS BIGINT) END);

-- CAST(json AS varchar): a JSON string is its text (unquoted, unescaped), JSON null is NULL, a
-- number or a boolean its JSON text (DuckDB's cast gives the JSON text of every value, so a
-- string kept its quotes). Trino refuses to cast an object or an array; here it is its JSON text.
-- Other types: DuckDB's cast (typeof is known when the query is bound, so only one branch runs).
CREATE OR REPLACE MACRO trino_json_text(j) AS
    CASE json_type(j) WHEN 'VARCHAR' THEN json_extract_string(j, '$') WHEN 'NULL' THEN NULL ELSE j END;
-- CAST(double | real AS varchar): scientific notation, as Trino's DoubleOperators and RealOperators
-- (DecimalFormat 0.0###############E0 and 0.0#####E0): 3.77E1, 1.0E20, 1.0E-4, 0E0, -0E0, NaN,
-- Infinity (DuckDB writes 37.7, 1e+20, 0.0001, 0.0, nan, inf). A double keeps its shortest digits:
-- as many as DuckDB's text s has, printed by %.*e; a real is rounded to seven significant digits
-- (half to even, from its exact value: %.6e), trailing zeros dropped. The text goes through a
-- one-element list so that the argument is named once (DuckDB expands macros inline, and CASTs
-- to varchar nest).
CREATE OR REPLACE MACRO trino_float_text(s, is_real) AS list_transform([s], lambda fs:
    CASE WHEN fs IN ('nan', 'inf', '-inf', '0.0', '-0.0')
         THEN replace(replace(replace(fs, 'nan', 'NaN'), 'inf', 'Infinity'), '0.0', '0E0')
         ELSE replace(regexp_replace(
             CASE WHEN is_real THEN printf('%.6e', CAST(CAST(fs AS FLOAT) AS DOUBLE))
                  ELSE printf('%.*e', length(trim(replace(replace(split_part(fs, 'e', 1), '-', ''), '.', ''), '0')) - 1, CAST(fs AS DOUBLE)) END,
             '^(-?\d)(?:\.(\d*?)0*)?e\+?(-?)0*(\d)', '\1.\2E\3\4'), '.E', '.0E') END)[1];
CREATE OR REPLACE MACRO trino_varchar(x) AS
    CASE WHEN typeof(x) = 'JSON' THEN trino_json_text(CAST(x AS VARCHAR))
         WHEN typeof(x) IN ('DOUBLE', 'FLOAT') THEN trino_float_text(CAST(x AS VARCHAR), typeof(x) = 'FLOAT')
         ELSE CAST(x AS VARCHAR) END;

-- SQL/JSON functions with the path's mode removed (Rewrite): json_value → the scalar's text, NULL
-- for an object, an array, JSON null or a missing item (its default NULL ON EMPTY and ON ERROR);
-- json_query → the JSON text of an object or array, NULL for a scalar (WITHOUT WRAPPER) or a
-- missing item; json_exists → whether the item exists (a JSON null does), false for input that is
-- not JSON (FALSE ON ERROR).
CREATE OR REPLACE MACRO trino_json_value(j, p) AS trino_json_extract_scalar(j, p);
CREATE OR REPLACE MACRO trino_json_query(j, p) AS
    try(CASE WHEN json_type(json_extract(j, p)) IN ('OBJECT', 'ARRAY') THEN CAST(json_extract(j, p) AS VARCHAR) END);
CREATE OR REPLACE MACRO trino_json_exists(j, p) AS
    CASE WHEN j IS NOT NULL THEN coalesce(try(json_extract(j, p) IS NOT NULL), false) END;

-- is_json_scalar(json) → boolean.
CREATE OR REPLACE MACRO trino_is_json_scalar(j) AS json_type(json(j)) NOT IN ('OBJECT', 'ARRAY');

-- CAST and TRY_CAST of a double or real to an integer type round half away from zero, as
-- Trino (DuckDB rounds half to even: CAST(2.5e0 AS integer) was 2, Trino's 3): Rewrite writes
-- them trino_<type>(x) and trino_try_<type>(x), which macros.go defines for each integer type
-- after this file, through trino_round_double. The double goes through its text so that round
-- binds for every operand type; typeof is known when the query is bound, so only one branch of
-- theirs runs.
CREATE OR REPLACE MACRO trino_round_double(x) AS round(CAST(CAST(x AS VARCHAR) AS DOUBLE));

-- varbinary (DuckDB's BLOB). md5/sha1/sha256(varbinary) → varbinary: the digest's bytes, not
-- DuckDB's lower-case hex text; to_hex prints them in upper case, as Trino.
-- CAST(varchar AS varbinary) → its UTF-8 bytes (DuckDB's cast reads \xAA escapes and refuses
-- other non-ASCII characters); a varbinary stays as it is.
CREATE OR REPLACE MACRO trino_varbinary(x) AS
    CASE WHEN typeof(x) = 'BLOB' THEN CAST(x AS BLOB) ELSE encode(CAST(x AS VARCHAR)) END;
CREATE OR REPLACE MACRO trino_md5(b) AS unhex(md5(b));
CREATE OR REPLACE MACRO trino_sha1(b) AS unhex(sha1(b));
CREATE OR REPLACE MACRO trino_sha256(b) AS unhex(sha256(b));
-- hmac_md5/hmac_sha1/hmac_sha256(varbinary, key varbinary) → varbinary (RFC 2104): a key longer
-- than the 64-byte block is hashed first, then zero-padded to the block; the digest of (key XOR
-- 0x5c…) || digest((key XOR 0x36…) || message). trino_hmac_pad(k, x): k padded, XOR the byte x
-- (two hex digits) repeated. Java's Mac refuses an empty key, and so do these.
CREATE OR REPLACE MACRO trino_hmac_pad(k, x) AS
    CAST(xor(CAST(k || unhex(repeat('00', 64 - octet_length(k))) AS BIT), CAST(unhex(repeat(x, 64)) AS BIT)) AS BLOB);
CREATE OR REPLACE MACRO trino_hmac_key(k) AS
    CASE WHEN octet_length(k) = 0 THEN CAST(trino_fail('INVALID_FUNCTION_ARGUMENT: Empty key') AS BLOB) ELSE k END;
CREATE OR REPLACE MACRO trino_hmac_md5(m, k) AS list_transform([trino_hmac_key(k)], lambda hk:
    list_transform([CASE WHEN octet_length(hk) > 64 THEN unhex(md5(hk)) ELSE hk END], lambda bk:
        unhex(md5(trino_hmac_pad(bk, '5c') || unhex(md5(trino_hmac_pad(bk, '36') || m)))))[1])[1];
CREATE OR REPLACE MACRO trino_hmac_sha1(m, k) AS list_transform([trino_hmac_key(k)], lambda hk:
    list_transform([CASE WHEN octet_length(hk) > 64 THEN unhex(sha1(hk)) ELSE hk END], lambda bk:
        unhex(sha1(trino_hmac_pad(bk, '5c') || unhex(sha1(trino_hmac_pad(bk, '36') || m)))))[1])[1];
CREATE OR REPLACE MACRO trino_hmac_sha256(m, k) AS list_transform([trino_hmac_key(k)], lambda hk:
    list_transform([CASE WHEN octet_length(hk) > 64 THEN unhex(sha256(hk)) ELSE hk END], lambda bk:
        unhex(sha256(trino_hmac_pad(bk, '5c') || unhex(sha256(trino_hmac_pad(bk, '36') || m)))))[1])[1];

-- Collections.

-- element_at(map, key) → the value or NULL; element_at(array, i) → 1-based, negative from the
-- end, NULL out of range. DuckDB's subscript does both (its element_at returns a list).
CREATE OR REPLACE MACRO trino_element_at(c, k) AS c[k];

-- cardinality(array | map) → bigint. DuckDB's cardinality takes only maps and len only lists,
-- and a macro cannot branch on type, so count through the JSON form, which works for both.
CREATE OR REPLACE MACRO trino_cardinality(c) AS
    CASE json_type(to_json(c))
        WHEN 'ARRAY' THEN CAST(json_array_length(to_json(c)) AS BIGINT)
        WHEN 'OBJECT' THEN CAST(len(json_keys(to_json(c))) AS BIGINT) END;

-- slice(array, start, length): start is 1-based, negative from the end.
CREATE OR REPLACE MACRO trino_slice(a, s, n) AS
    CASE WHEN s > 0 THEN list_slice(a, s, s + n - 1)
         ELSE list_slice(a, len(a) + s + 1, len(a) + s + n) END;

-- contains(array, element): true when found; NULL when the element is NULL, or absent from an
-- array that holds a NULL (Trino's ArrayContains); DuckDB's list_contains gives false then, so
-- NOT contains(...) kept rows Trino drops. Another first argument (DuckDB's contains of a string,
-- which Trino has not) is DuckDB's; the cast to a varchar list only binds the list branch for it
-- (typeof is known when the query is bound, so only one branch runs).
CREATE OR REPLACE MACRO trino_contains(a, x) AS
    CASE WHEN typeof(a) LIKE '%[]' THEN
             CASE WHEN contains(a, x) THEN true
                  WHEN x IS NULL OR list_count(CAST(a AS VARCHAR[])) < len(a) THEN NULL
                  ELSE false END
         ELSE contains(a, x) END;

-- arrays_overlap(a, b): true when they share an element that is not NULL; NULL when they share
-- none but one holds a NULL (Trino's ArraysOverlapFunction); DuckDB's list_has_any gave false.
CREATE OR REPLACE MACRO trino_arrays_overlap(a, b) AS
    CASE WHEN a IS NULL OR b IS NULL THEN NULL
         WHEN list_has_any(a, b) THEN true
         WHEN list_count(a) < len(a) OR list_count(b) < len(b) THEN NULL
         ELSE false END;

-- sequence(start, stop): by 1, or by -1 when start is greater than stop (DuckDB's
-- generate_series gave []); sequence(start, stop, step) is DuckDB's.
CREATE OR REPLACE MACRO trino_sequence(a, b) AS generate_series(a, b, CASE WHEN a <= b THEN 1 ELSE -1 END),
    (a, b, s) AS generate_series(a, b, s);

-- array_position(array, x) → 1-based position, 0 when absent.
CREATE OR REPLACE MACRO trino_array_position(a, x) AS coalesce(list_position(a, x), 0);

-- array_distinct(array): the first occurrence of each value, in the array's order, one NULL
-- kept (DuckDB's list_distinct orders by hash and drops NULLs). The elements with their positions
-- are sorted (value, then position), the first of each run of equal values kept, and those put
-- back in position order: n log n, as an array may be an aggregate's whole input.
CREATE OR REPLACE MACRO trino_array_distinct(a) AS
    list_transform([list_sort(list_transform(a, lambda dv, di: {'v': dv, 'i': di}))], lambda ds:
        list_transform(
            list_sort(list_transform(
                list_filter(ds, lambda de, dj: dj = 1 OR ds[dj - 1].v IS DISTINCT FROM de.v),
                lambda de: {'i': de.i, 'v': de.v})),
            lambda de: de.v))[1];

-- array_max(array), array_min(array): NULL when an element is NULL, as Trino (ArrayMaxFunction
-- stops at a NULL element); DuckDB's list_max and list_min skip NULLs. list_count counts the
-- elements that are not NULL.
CREATE OR REPLACE MACRO trino_array_max(a) AS CASE WHEN list_count(a) = len(a) THEN list_max(a) END;
CREATE OR REPLACE MACRO trino_array_min(a) AS CASE WHEN list_count(a) = len(a) THEN list_min(a) END;

-- array_union(a, b): the distinct elements of both, in order of first occurrence.
CREATE OR REPLACE MACRO trino_array_union(a, b) AS trino_array_distinct(list_concat(a, b));

-- array_remove(array, element): every element equal to element removed, NULL elements kept; NULL
-- when element is NULL. array_except(a, b): the distinct elements of a (first occurrences, in
-- a's order) that b lacks, a NULL counting as a value (list_position finds a NULL); NULL when b
-- is. DuckDB has neither.
CREATE OR REPLACE MACRO trino_array_remove(a, x) AS
    CASE WHEN x IS NOT NULL THEN list_filter(a, lambda are: are IS NULL OR are <> x) END;
CREATE OR REPLACE MACRO trino_array_except(a, b) AS
    CASE WHEN b IS NOT NULL THEN trino_array_distinct(list_filter(a, lambda axe: list_position(b, axe) IS NULL)) END;

-- array_join(array, delimiter[, null_replacement]): NULLs are skipped unless replaced.
CREATE OR REPLACE MACRO trino_array_join(a, d) AS array_to_string(a, d),
    (a, d, n) AS array_to_string(list_transform(a, lambda x: coalesce(CAST(x AS VARCHAR), n)), d);

-- any_match / all_match / none_match(array, predicate) take a lambda; Rewrite passes it
-- through list_transform, which DuckDB binds in a macro body, so b is the predicate's values.
-- As Trino: decided by a true (any, none) or a false (all) value; else NULL when a value is NULL
-- (DuckDB's list_bool_or and list_bool_and skip NULLs); an empty array gives false, true, true.
CREATE OR REPLACE MACRO trino_any_match(b) AS
    CASE WHEN b IS NULL THEN NULL WHEN list_bool_or(b) THEN true WHEN list_count(b) < len(b) THEN NULL ELSE false END;
CREATE OR REPLACE MACRO trino_all_match(b) AS
    CASE WHEN b IS NULL THEN NULL WHEN NOT list_bool_and(b) THEN false WHEN list_count(b) < len(b) THEN NULL ELSE true END;
CREATE OR REPLACE MACRO trino_none_match(b) AS
    CASE WHEN b IS NULL THEN NULL WHEN list_bool_or(b) THEN false WHEN list_count(b) < len(b) THEN NULL ELSE true END;

-- split(string, delimiter) → array(varchar); split(string, delimiter, limit): at most limit
-- elements, the last holding the rest of the string; a limit below 1 is an error.
CREATE OR REPLACE MACRO trino_split(s, d) AS string_split(s, d),
    (s, d, n) AS CASE WHEN n <= 0 THEN [CAST(trino_fail('INVALID_FUNCTION_ARGUMENT: Limit must be positive') AS VARCHAR)]
                      ELSE list_transform([string_split(s, d)], lambda sl:
                          CASE WHEN sl IS NULL OR len(sl) <= n THEN sl
                               ELSE sl[1:n - 1] || [array_to_string(sl[n:], d)] END)[1] END;

-- substr(string, start[, length]): start is 1-based, negative from the end; a start of 0, a
-- start before the beginning or a length below 1 gives '' (DuckDB counts those from the
-- beginning, or backwards for a negative length).
CREATE OR REPLACE MACRO trino_substr(s, st) AS
        CASE WHEN s IS NULL OR st IS NULL THEN NULL
             WHEN st = 0 OR -st > length(s) THEN '' ELSE substr(s, st) END,
    (s, st, n) AS
        CASE WHEN s IS NULL OR st IS NULL OR n IS NULL THEN NULL
             WHEN st = 0 OR -st > length(s) OR n <= 0 THEN '' ELSE substr(s, st, n) END;

-- concat_ws(separator, array(varchar)) joins the array's elements, NULLs skipped (DuckDB's
-- concat_ws printed the array as one value, '[a, b]'); concat_ws(separator, string) is DuckDB's.
-- The array's cast binds for any operand and runs only for an array (typeof is known when the
-- query is bound).
CREATE OR REPLACE MACRO trino_concat_ws(sep, x) AS
    CASE WHEN typeof(x) LIKE '%[]' THEN CASE WHEN sep IS NOT NULL THEN array_to_string(CAST(x AS VARCHAR[]), sep) END
         ELSE concat_ws(sep, x) END;

-- split_part(string, delimiter, index): 1-based; NULL past the last field (DuckDB: ''); an index
-- below 1 is an error (DuckDB counts a negative one from the end); an empty delimiter splits
-- the characters.
CREATE OR REPLACE MACRO trino_split_part(s, d, i) AS
    CASE WHEN i <= 0 THEN CAST(trino_fail('INVALID_FUNCTION_ARGUMENT: split_part: Index must be greater than zero') AS VARCHAR)
         ELSE string_split(s, d)[i] END;

-- trim, ltrim, rtrim(string) of one argument remove Java's whitespace (Character.isWhitespace, as
-- airlift's SliceUtf8.trim that Trino calls): tab to carriage return, the four information
-- separators, space and the Unicode space, line and paragraph separators but the no-break ones
-- (U+00A0, U+2007, U+202F). DuckDB's remove spaces, the no-break one among them, and keep tabs and
-- newlines. (A regular expression: DuckDB's trim with these characters takes a microsecond a value.)
CREATE OR REPLACE MACRO trino_trim(s) AS regexp_replace(s, '^[\t-\r\x1c-\x1f \x{1680}\x{2000}-\x{2006}\x{2008}-\x{200a}\x{2028}\x{2029}\x{205f}\x{3000}]+|[\t-\r\x1c-\x1f \x{1680}\x{2000}-\x{2006}\x{2008}-\x{200a}\x{2028}\x{2029}\x{205f}\x{3000}]+$', '', 'g');
CREATE OR REPLACE MACRO trino_ltrim(s) AS regexp_replace(s, '^[\t-\r\x1c-\x1f \x{1680}\x{2000}-\x{2006}\x{2008}-\x{200a}\x{2028}\x{2029}\x{205f}\x{3000}]+', '');
CREATE OR REPLACE MACRO trino_rtrim(s) AS regexp_replace(s, '[\t-\r\x1c-\x1f \x{1680}\x{2000}-\x{2006}\x{2008}-\x{200a}\x{2028}\x{2029}\x{205f}\x{3000}]+$', '');

-- replace(string, search) removes every occurrence; replace(string, search, replacement).
CREATE OR REPLACE MACRO trino_replace(s, f) AS replace(s, f, ''),
    (s, f, r) AS replace(s, f, r);

-- typeof(x) → Trino's lower-case type name for the common types.
CREATE OR REPLACE MACRO trino_typeof(x) AS
    CASE typeof(x)
        WHEN 'TIMESTAMP' THEN 'timestamp(6)'
        WHEN 'TIMESTAMP_MS' THEN 'timestamp(3)'
        WHEN 'TIMESTAMP WITH TIME ZONE' THEN 'timestamp(6) with time zone'
        WHEN 'FLOAT' THEN 'real'
        WHEN 'BLOB' THEN 'varbinary'
        ELSE lower(typeof(x)) END;

-- nan(), infinity() → double. (Not e(): a table alias e with a column list, UNNEST(x) e(v),
-- reads as a call of e to the rewrite.)
CREATE OR REPLACE MACRO trino_nan() AS CAST('NaN' AS DOUBLE);
CREATE OR REPLACE MACRO trino_infinity() AS CAST('Infinity' AS DOUBLE);

-- Aggregates. approx_distinct is exact here: Trino's HyperLogLog is exact on small inputs and
-- within its standard error on large ones, which an exact count also satisfies.
CREATE OR REPLACE MACRO trino_approx_distinct(x) AS count(DISTINCT x),
    (x, e) AS count(DISTINCT x);

-- map_agg(key, value) → map: rows with a NULL key are skipped; of a key given more than once,
-- one value is kept (DuckDB's map_from_entries refuses repeated keys): the pairs are sorted and
-- the first of each key kept.
CREATE OR REPLACE MACRO trino_map_agg(k, v) AS
    list_transform([list_sort(list({'k': k, 'v': v}) FILTER (WHERE k IS NOT NULL))], lambda ms:
        map_from_entries(list_filter(ms, lambda me, mj: mj = 1 OR ms[mj - 1].k <> me.k)))[1];

-- approx_percentile(x, p) → an element of the input (quantile_disc), as Trino's digest.
CREATE OR REPLACE MACRO trino_approx_percentile(x, p) AS quantile_disc(x, p);

-- Regular expressions. Trino: a partial match; regexp_extract returns NULL without a match
-- (DuckDB: ''); regexp_replace replaces every match and writes groups as $1 (DuckDB: first
-- match only unless 'g', groups as \1).
CREATE OR REPLACE MACRO trino_regexp_like(s, p) AS regexp_matches(s, p);
-- trino_levenshtein_distance(a, b): as Trino, refused when the inputs' lengths multiply past
-- 1,000,000 — the engine's levenshtein takes time in that product, and a query's time limit does
-- not interrupt it (user SQL may not call levenshtein itself: internal/engine/patterns.go).
CREATE OR REPLACE MACRO trino_levenshtein_distance(a, b) AS
    CASE WHEN CAST(length(a) AS BIGINT) * length(b) > 1000000
         THEN error('The combined inputs for Levenshtein distance are too large')
         ELSE levenshtein(a, b) END;
-- regexp_count(s, p) → bigint: the number of matches; regexp_position(s, p) → integer: where the
-- first match starts, in characters from 1, or -1 (what precedes the first match of p followed
-- by anything is everything before it).
CREATE OR REPLACE MACRO trino_regexp_count(s, p) AS CAST(len(regexp_extract_all(s, p)) AS BIGINT);
CREATE OR REPLACE MACRO trino_regexp_position(s, p) AS
    CASE WHEN regexp_matches(s, p) THEN CAST(length(regexp_replace(s, '(?s)(' || p || ').*$', '')) + 1 AS INTEGER)
         WHEN s IS NOT NULL AND p IS NOT NULL THEN -1 END;
CREATE OR REPLACE MACRO trino_regexp_extract(s, p) AS
        CASE WHEN regexp_matches(s, p) THEN regexp_extract(s, p) END,
    (s, p, g) AS CASE WHEN regexp_matches(s, p) THEN regexp_extract(s, p, g) END;
-- trino_regexp_extract_nonempty(s, p, g): regexp_extract of a group that cannot match an empty
-- string, so that DuckDB's '' means the group did not take part in the match: NULL, as Trino.
-- trino_regexp_extract_beyond(s, p, g, n): a group past the pattern's n groups, which Trino
-- refuses (DuckDB gave ''). Rewrite calls these when the pattern and group are literals.
CREATE OR REPLACE MACRO trino_regexp_extract_nonempty(s, p, g) AS
    CASE WHEN regexp_matches(s, p) THEN nullif(regexp_extract(s, p, g), '') END;
CREATE OR REPLACE MACRO trino_regexp_extract_beyond(s, p, g, n) AS
    CASE WHEN s IS NOT NULL AND p IS NOT NULL THEN CAST(trino_fail('INVALID_FUNCTION_ARGUMENT: Pattern has '
        || n || ' groups. Cannot access group ' || g) AS VARCHAR) END;
CREATE OR REPLACE MACRO trino_regexp_replace(s, p) AS regexp_replace(s, p, '', 'g'),
    (s, p, r) AS regexp_replace(s, p, regexp_replace(r, '\$(\d)', '\\\1', 'g'), 'g');

-- URLs, as Trino's UrlFunctions read them with java.net.URI: a URL that URI refuses (a space,
-- a control character, one of "<>\^`{|}, a % not followed by two hex digits) gives NULL; a
-- part the URL lacks gives '' (port: NULL); path, query and fragment are percent-decoded.
-- trino_url_part(url, n): group n of RFC 3986's URI regular expression (2 scheme, 4 authority,
-- 5 path, 7 query, 9 fragment; '' when absent), or NULL.
CREATE OR REPLACE MACRO trino_url_part(u, n) AS
    CASE WHEN regexp_matches(u, '[\x00-\x20"<>\\^`{|}]|%([^0-9A-Fa-f]|[0-9A-Fa-f]([^0-9A-Fa-f]|$)|$)') THEN NULL
         ELSE regexp_extract(u, '^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?$', n) END;
CREATE OR REPLACE MACRO trino_url_protocol(u) AS trino_url_part(u, 2);
-- the host of the authority (after user@, before :port); '' when it is not a host name or a
-- bracketed IPv6 address (URI's registry-based authority, getHost null).
CREATE OR REPLACE MACRO trino_url_host(u) AS
    regexp_extract(trino_url_part(u, 4), '^([^@]*@)?(\[[^]]*\]|[A-Za-z0-9.-]*)(:[0-9]*)?$', 2);
CREATE OR REPLACE MACRO trino_url_port(u) AS
    CAST(nullif(regexp_extract(trino_url_part(u, 4), '^([^@]*@)?(\[[^]]*\]|[A-Za-z0-9.-]*):([0-9]+)$', 3), '') AS BIGINT);
CREATE OR REPLACE MACRO trino_url_path(u) AS url_decode(trino_url_part(u, 5));
CREATE OR REPLACE MACRO trino_url_query(u) AS url_decode(trino_url_part(u, 7));
CREATE OR REPLACE MACRO trino_url_fragment(u) AS url_decode(trino_url_part(u, 9));
-- url_decode: URLDecoder's, + is a space too; url_encode: Guava's form parameter escaper, which
-- keeps letters, digits and -_.* and writes a space as + (DuckDB's keeps ~, encodes *, writes %20).
CREATE OR REPLACE MACRO trino_url_decode(s) AS url_decode(replace(s, '+', ' '));
CREATE OR REPLACE MACRO trino_url_encode(s) AS
    replace(replace(replace(url_encode(s), '%20', '+'), '~', '%7E'), '%2A', '*');
-- url_extract_parameter(url, name): the value of the first name=value of the raw query whose
-- name is name, decoded; '' for a bare name; NULL when there is none or no query.
CREATE OR REPLACE MACRO trino_url_parameter(u, name) AS
    list_transform([CASE WHEN regexp_matches(u, '^[^#]*\?') THEN trino_url_part(u, 7) END], lambda uq:
        list_transform([list_filter(string_split(uq, '&'), lambda ua: split_part(ua, '=', 1) = name)[1]], lambda uv:
            CASE WHEN uv IS NULL THEN NULL
                 WHEN contains(uv, '=') THEN trino_url_decode(substr(uv, strpos(uv, '=') + 1))
                 ELSE '' END)[1])[1];

-- Date and time.

-- An interval of n units, for date_add.
CREATE OR REPLACE MACRO trino_interval(u, n) AS
    CASE lower(u)
        WHEN 'millisecond' THEN to_milliseconds(CAST(n AS BIGINT))
        WHEN 'second' THEN to_seconds(CAST(n AS BIGINT))
        WHEN 'minute' THEN to_minutes(CAST(n AS BIGINT))
        WHEN 'hour' THEN to_hours(CAST(n AS BIGINT))
        WHEN 'day' THEN to_days(CAST(n AS BIGINT))
        WHEN 'week' THEN to_weeks(CAST(n AS BIGINT))
        WHEN 'month' THEN to_months(CAST(n AS BIGINT))
        WHEN 'quarter' THEN to_months(CAST(3 * n AS BIGINT))
        WHEN 'year' THEN to_years(CAST(n AS BIGINT))
        ELSE error('date_add: unknown unit ' || u) END;

-- date_add(unit, value, timestamp): Trino's argument order (DuckDB's date_add is (ts, interval)).
CREATE OR REPLACE MACRO trino_date_add(u, n, ts) AS ts + trino_interval(u, n);

-- date_add(unit, value, date) and date_trunc(unit, date) → date, for the units of a date (Rewrite
-- calls these when the argument is written as a date; DuckDB's return a timestamp). Another unit
-- fails as in Trino.
CREATE OR REPLACE MACRO trino_date_unit(u) AS
    CASE WHEN lower(u) IN ('day', 'week', 'month', 'quarter', 'year') THEN u
         ELSE CAST(trino_fail('INVALID_FUNCTION_ARGUMENT: ''' || u || ''' is not a valid DATE field') AS VARCHAR) END;
CREATE OR REPLACE MACRO trino_date_add_date(u, n, d) AS CAST(trino_date_add(trino_date_unit(u), n, d) AS DATE);
CREATE OR REPLACE MACRO trino_date_trunc_date(u, d) AS CAST(date_trunc(trino_date_unit(u), d) AS DATE);

-- date_diff(unit, a, b) → bigint: whole units from a to b (DuckDB's date_diff counts boundaries
-- crossed; its date_sub counts whole units, as Trino).
CREATE OR REPLACE MACRO trino_date_diff(u, a, b) AS date_sub(u, a, b);

-- from_iso8601_timestamp(varchar) → timestamp with time zone; from_iso8601_date → date.
CREATE OR REPLACE MACRO trino_from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ);
CREATE OR REPLACE MACRO trino_from_iso8601_date(s) AS CAST(s AS DATE);

-- to_iso8601(date | timestamp | timestamp with time zone) → varchar, milliseconds, 'Z' for UTC
-- (the session time zone is UTC in auditlake).
CREATE OR REPLACE MACRO trino_to_iso8601(x) AS
    CASE typeof(x)
        WHEN 'DATE' THEN strftime(x, '%Y-%m-%d')
        WHEN 'TIMESTAMP WITH TIME ZONE' THEN strftime(x, '%Y-%m-%dT%H:%M:%S.%g') || 'Z'
        ELSE strftime(x, '%Y-%m-%dT%H:%M:%S.%g') END;

-- from_unixtime(seconds) → timestamp with time zone; to_unixtime(ts) → double seconds.
CREATE OR REPLACE MACRO trino_from_unixtime(n) AS to_timestamp(n);
CREATE OR REPLACE MACRO trino_to_unixtime(ts) AS CAST(epoch(ts) AS DOUBLE);

-- date_format(ts, format) with a format that is not a literal (Rewrite translates literals
-- itself; DuckDB's strptime needs a constant format, so date_parse must have a literal one): MySQL specifiers to strftime's, in an order where no
-- replacement is rewritten by a later one.
CREATE OR REPLACE MACRO trino_mysql_format(f) AS
    replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
        f, '%M', '%B'), '%W', '%A'), '%i', '%M'), '%s', '%S'), '%c', '%-m'), '%e', '%-d'),
        '%k', '%-H'), '%l', '%-I'), '%h', '%I'), '%T', '%H:%M:%S'), '%r', '%I:%M:%S %p'),
        '%v', '%V'), '%x', '%G');
CREATE OR REPLACE MACRO trino_date_format(ts, f) AS strftime(ts, trino_mysql_format(f));

-- at_timezone(timestamp with time zone, zone): as x AT TIME ZONE zone (Rewrite), the wall clock there.
CREATE OR REPLACE MACRO trino_at_timezone(x, z) AS timezone(z, CAST(x AS TIMESTAMPTZ));

-- millisecond(ts) → 0..999 (DuckDB's millisecond includes the seconds).
CREATE OR REPLACE MACRO trino_millisecond(ts) AS millisecond(ts) % 1000;

-- IP addresses. Trino's IPADDRESS is 16 bytes (IPv4 as IPv4-mapped IPv6); DuckDB has no such type
-- here (the inet extension is not available offline), so CAST(x AS IPADDRESS) is the address's
-- canonical text, as Trino prints it: IPv4 (and IPv4-mapped IPv6) dotted, other IPv6 in RFC 5952
-- form (lower-case hex, no leading zeros, the first longest run of two or more zero groups as
-- "::"). Equal addresses have equal text; ordering (<, >) is that of the text, not Trino's byte
-- order. Parsing follows Guava's InetAddresses.forString, which Trino uses: IPv4 octets are 1 to 3
-- decimal digits without a leading zero and at most 255; IPv6 groups are 1 to 4 hex digits, one
-- "::" standing for at least one group, an IPv4 dotted quad allowed as the last 32 bits, a zone
-- ("%eth0") accepted and dropped. Internally an address is its eight 16-bit groups (INTEGER[8]).
-- DuckDB applies a lambda to NULL list elements too, so every list_transform([x], lambda v: …)[1]
-- (a way to compute x once) checks for NULL.

-- Each macro below names its argument once, through list_transform([x], lambda v: …)[1]:
-- DuckDB expands macros inline, and an argument named several times by nested macros made an
-- expression tree large enough to take minutes to bind.

-- trino_ip4_octets(varchar) → the four octets of a dotted quad, or NULL.
CREATE OR REPLACE MACRO trino_ip4_octets(s) AS list_transform([s], lambda s4:
    CASE WHEN regexp_full_match(s4, '(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}')
         THEN list_transform([list_transform(string_split(s4, '.'), lambda o: CAST(o AS INTEGER))],
                             lambda q: CASE WHEN list_max(q) <= 255 THEN q END)[1] END)[1];

-- trino_ip6_hexlist(varchar) → the groups of a colon-separated run of hex groups ('' → []).
CREATE OR REPLACE MACRO trino_ip6_hexlist(p) AS list_transform([p], lambda hp:
    CASE WHEN hp = '' THEN CAST([] AS INTEGER[])
         ELSE list_transform(string_split(hp, ':'), lambda h: CAST('0x' || h AS INTEGER)) END)[1];

-- trino_ip6_groups(varchar) → the eight groups of an IPv6 address in hex groups only, or NULL.
CREATE OR REPLACE MACRO trino_ip6_groups(s) AS list_transform([s], lambda s6:
    CASE WHEN regexp_full_match(s6, '([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}') THEN trino_ip6_hexlist(s6)
         WHEN regexp_full_match(s6, '(([0-9A-Fa-f]{1,4}:)*[0-9A-Fa-f]{1,4})?::(([0-9A-Fa-f]{1,4}:)*[0-9A-Fa-f]{1,4})?') THEN
             list_transform([[trino_ip6_hexlist(split_part(s6, '::', 1)), trino_ip6_hexlist(split_part(s6, '::', 2))]],
                 lambda lr: CASE WHEN len(lr[1]) + len(lr[2]) <= 7
                     THEN lr[1] || list_transform(range(8 - len(lr[1]) - len(lr[2])), lambda i: 0) || lr[2] END)[1]
    END)[1];

-- trino_ip6_dotted(varchar): an IPv6 address whose last 32 bits are a dotted quad, with the quad
-- as two hex groups (as Guava converts it); NULL when the quad is not valid.
CREATE OR REPLACE MACRO trino_ip6_dotted(s) AS list_transform([s], lambda sd:
    CASE WHEN NOT contains(sd, '.') THEN sd
         ELSE list_transform([trino_ip4_octets(regexp_extract(sd, '[^:]*$'))], lambda q:
             CASE WHEN q IS NOT NULL THEN regexp_extract(sd, '^.*:') || printf('%x:%x', q[1] * 256 + q[2], q[3] * 256 + q[4]) END)[1]
    END)[1];

-- trino_ip_groups(varchar) → the eight groups of an IPv4 or IPv6 address (IPv4 mapped), or NULL.
CREATE OR REPLACE MACRO trino_ip_groups(s) AS list_transform([s], lambda sg:
    CASE WHEN NOT contains(sg, ':') THEN
             list_transform([trino_ip4_octets(sg)], lambda q:
                 CASE WHEN q IS NOT NULL THEN [0, 0, 0, 0, 0, 65535, q[1] * 256 + q[2], q[3] * 256 + q[4]] END)[1]
         WHEN regexp_full_match(sg, '[^%]*(%[^%]+)?') THEN trino_ip6_groups(trino_ip6_dotted(regexp_extract(sg, '^[^%]*')))
    END)[1];

-- trino_ip_is4(groups): an IPv4(-mapped) address.
CREATE OR REPLACE MACRO trino_ip_is4(g) AS g[1:6] = [0, 0, 0, 0, 0, 65535];

-- trino_ip_text(groups) → the canonical text (see above).
CREATE OR REPLACE MACRO trino_ip_text(g) AS list_transform([g], lambda gt:
    CASE WHEN gt IS NULL THEN NULL
         WHEN trino_ip_is4(gt) THEN printf('%d.%d.%d.%d', gt[7] // 256, gt[7] % 256, gt[8] // 256, gt[8] % 256)
         ELSE list_transform(
             -- runs[i]: the zero groups starting at group i
             [list_transform(range(1, 9), lambda i: length(regexp_extract(
                 array_to_string(list_transform(gt, lambda x: CASE WHEN x = 0 THEN '0' ELSE '1' END), '')[i:], '^0*')))],
             lambda runs: CASE WHEN list_max(runs) < 2 THEN array_to_string(list_transform(gt, lambda x: printf('%x', x)), ':')
                 ELSE array_to_string(list_transform(gt[1:list_position(runs, list_max(runs)) - 1], lambda x: printf('%x', x)), ':') || '::' ||
                      array_to_string(list_transform(gt[list_position(runs, list_max(runs)) + list_max(runs):], lambda x: printf('%x', x)), ':') END)[1]
    END)[1];

-- CAST(varchar AS IPADDRESS): Trino fails on a value that is not an IP address (CloudTrail's
-- sourceipaddress also holds service names such as "ec2.amazonaws.com" and "AWS Internal"), and
-- so does this; TRY_CAST gives NULL instead.
CREATE OR REPLACE MACRO trino_ipaddress(s) AS list_transform([s], lambda si:
    list_transform([trino_ip_groups(si)], lambda gi:
        CASE WHEN si IS NULL THEN NULL
             WHEN gi IS NULL THEN error('INVALID_CAST_ARGUMENT: Cannot cast value to IPADDRESS: ' || si)
             ELSE trino_ip_text(gi) END)[1])[1];
CREATE OR REPLACE MACRO trino_try_ipaddress(s) AS trino_ip_text(trino_ip_groups(s));

-- trino_ip_value(groups) → the address as a 128-bit number.
CREATE OR REPLACE MACRO trino_ip_value(g) AS
    list_reduce(list_transform(g, lambda x: CAST(x AS UHUGEINT)), lambda a, x: a * CAST(65536 AS UHUGEINT) + x);

-- contains(varchar cidr, ipaddress) → boolean, as Trino's IpAddressFunctions.contains: the
-- network must have a "/prefix" (else "Invalid CIDR"), a valid address and a prefix length within
-- it; an IPv4 network must have no host bits set ("Invalid CIDR"); an IPv4 network never contains
-- an IPv6 address and the other way round; /0 contains every address of its family.
CREATE OR REPLACE MACRO trino_ip_contains(cidr, address) AS
    list_transform([[trino_ip_groups(split_part(cidr, '/', 1)), trino_ip_groups(address)]], lambda ba:
        list_transform([CASE WHEN trino_ip_is4(ba[1]) THEN 32 ELSE 128 END], lambda bits:
            list_transform([TRY_CAST(regexp_extract(cidr, '/([+-]?[0-9]+)$', 1) AS INTEGER)], lambda p:
                CASE WHEN cidr IS NULL OR address IS NULL THEN NULL
                     WHEN NOT contains(cidr, '/') THEN error('INVALID_FUNCTION_ARGUMENT: Invalid CIDR')
                     WHEN ba[1] IS NULL THEN error('INVALID_FUNCTION_ARGUMENT: Invalid network IP address')
                     WHEN p IS NULL OR p < 0 THEN error('INVALID_FUNCTION_ARGUMENT: Invalid prefix length')
                     WHEN p > bits THEN error('INVALID_FUNCTION_ARGUMENT: Prefix length exceeds address length')
                     WHEN bits = 32 AND (trino_ip_value(ba[1]) & ((CAST(1 AS UHUGEINT) << CAST(32 - p AS UHUGEINT)) - 1)) <> 0
                         THEN error('INVALID_FUNCTION_ARGUMENT: Invalid CIDR')
                     WHEN ba[2] IS NULL THEN error('INVALID_CAST_ARGUMENT: Cannot cast value to IPADDRESS: ' || address)
                     WHEN trino_ip_is4(ba[1]) <> trino_ip_is4(ba[2]) THEN false
                     WHEN p = 0 THEN true
                     ELSE trino_ip_value(ba[1]) >> CAST(bits - p AS UHUGEINT) = trino_ip_value(ba[2]) >> CAST(bits - p AS UHUGEINT) END
            )[1])[1])[1];
