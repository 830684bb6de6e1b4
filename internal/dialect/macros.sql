-- auditlake: DuckDB macros giving Trino (CloudTrail Lake / Athena) semantics to the functions
-- that dialect.Rewrite renames to trino_*. Each states the Trino behaviour it follows
-- (https://trino.io/docs/current/functions.html). Run once per connection.

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

-- is_json_scalar(json) → boolean.
CREATE OR REPLACE MACRO trino_is_json_scalar(j) AS json_type(json(j)) NOT IN ('OBJECT', 'ARRAY');

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

-- array_position(array, x) → 1-based position, 0 when absent.
CREATE OR REPLACE MACRO trino_array_position(a, x) AS coalesce(list_position(a, x), 0);

-- array_join(array, delimiter[, null_replacement]): NULLs are skipped unless replaced.
CREATE OR REPLACE MACRO trino_array_join(a, d) AS array_to_string(a, d),
    (a, d, n) AS array_to_string(list_transform(a, lambda x: coalesce(CAST(x AS VARCHAR), n)), d);

-- any_match / all_match / none_match(array, predicate) take a lambda; Rewrite passes it
-- through list_transform, which DuckDB binds in a macro body.
CREATE OR REPLACE MACRO trino_any_match(b) AS list_bool_or(b);
CREATE OR REPLACE MACRO trino_all_match(b) AS list_bool_and(b);
CREATE OR REPLACE MACRO trino_none_match(b) AS NOT list_bool_or(b);

-- split(string, delimiter) → array(varchar).
CREATE OR REPLACE MACRO trino_split(s, d) AS string_split(s, d);

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

-- Aggregates. approx_distinct is exact here: Trino's HyperLogLog is exact on small inputs and
-- within its standard error on large ones, which an exact count also satisfies.
CREATE OR REPLACE MACRO trino_approx_distinct(x) AS count(DISTINCT x),
    (x, e) AS count(DISTINCT x);

-- approx_percentile(x, p) → an element of the input (quantile_disc), as Trino's digest.
CREATE OR REPLACE MACRO trino_approx_percentile(x, p) AS quantile_disc(x, p);

-- Regular expressions. Trino: a partial match; regexp_extract returns NULL without a match
-- (DuckDB: ''); regexp_replace replaces every match and writes groups as $1 (DuckDB: first
-- match only unless 'g', groups as \1).
CREATE OR REPLACE MACRO trino_regexp_like(s, p) AS regexp_matches(s, p);
CREATE OR REPLACE MACRO trino_regexp_extract(s, p) AS
        CASE WHEN regexp_matches(s, p) THEN regexp_extract(s, p) END,
    (s, p, g) AS CASE WHEN regexp_matches(s, p) THEN regexp_extract(s, p, g) END;
CREATE OR REPLACE MACRO trino_regexp_replace(s, p) AS regexp_replace(s, p, '', 'g'),
    (s, p, r) AS regexp_replace(s, p, regexp_replace(r, '\$(\d)', '\\\1', 'g'), 'g');

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

-- millisecond(ts) → 0..999 (DuckDB's millisecond includes the seconds).
CREATE OR REPLACE MACRO trino_millisecond(ts) AS millisecond(ts) % 1000;
