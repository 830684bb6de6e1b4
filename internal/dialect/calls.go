package dialect

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"github.com/auditlake/auditlake/internal/engine"
)

// renames maps a Trino function (lower case) to the DuckDB function or trino_* macro with
// Trino's semantics. Functions absent here are the same in both engines (or close enough:
// contains, map_keys, map_values, strpos, count_if, bool_or, bool_and, arbitrary, any_value,
// concat_ws, try, date_trunc, now, date, year … second, regexp_extract_all).
var renames = map[string]string{
	// JSON (macros.sql)
	"json_extract_scalar": "trino_json_extract_scalar",
	"json_extract":        "trino_json_extract",
	"json_parse":          "trino_json_parse",
	"json_format":         "trino_json_format",
	"json_array_get":      "trino_json_array_get",
	"json_array_length":   "trino_json_array_length",
	"json_array_contains": "trino_json_array_contains",
	"json_size":           "trino_json_size",
	"is_json_scalar":      "trino_is_json_scalar",
	// varbinary: DuckDB's BLOB. Its md5/sha1/sha256 return the digest as lower-case hex text,
	// Trino's the digest's bytes (varbinary), which to_hex prints in upper case.
	"to_utf8":   "encode",
	"from_utf8": "decode",
	"md5":       "trino_md5",
	"sha1":      "trino_sha1",
	"sha256":    "trino_sha256",
	// hmac_*: RFC 2104 over the digests above (macros.sql)
	"hmac_md5":    "trino_hmac_md5",
	"hmac_sha1":   "trino_hmac_sha1",
	"hmac_sha256": "trino_hmac_sha256",
	// collections
	"element_at":      "trino_element_at",
	"cardinality":     "trino_cardinality",
	"slice":           "trino_slice",
	"array_position":  "trino_array_position",
	"array_distinct":  "trino_array_distinct",
	"array_join":      "trino_array_join",
	"array_max":       "trino_array_max",
	"array_min":       "trino_array_min",
	"array_sort":      "list_sort",
	"arrays_overlap":  "trino_arrays_overlap",
	"zip":             "list_zip",
	"transform":       "list_transform",
	"filter":          "list_filter",
	"sequence":        "trino_sequence",
	"split":           "trino_split",
	"split_part":      "trino_split_part",
	"replace":         "trino_replace",
	"format":          "printf",
	"typeof":          "trino_typeof",
	"approx_distinct": "trino_approx_distinct",
	"every":           "bool_and",
	"mod":             "trino_mod",
	"map_agg":         "trino_map_agg",
	// approx_percentile: quantile_disc returns an element of the input, as Trino's digest does
	// on small inputs.
	"approx_percentile":    "trino_approx_percentile",
	"regexp_like":          "trino_regexp_like",
	"regexp_extract":       "trino_regexp_extract",
	"regexp_replace":       "trino_regexp_replace",
	"levenshtein_distance": "trino_levenshtein_distance",
	"regexp_count":         "trino_regexp_count",
	"regexp_position":      "trino_regexp_position",
	"regexp_split":         "regexp_split_to_array",
	"array_union":          "trino_array_union",
	"array_remove":         "trino_array_remove",
	"array_except":         "trino_array_except",
	"codepoint":            "unicode",
	"is_nan":               "isnan",
	"is_finite":            "isfinite",
	"is_infinite":          "isinf",
	"nan":                  "trino_nan",
	"infinity":             "trino_infinity",
	"at_timezone":          "trino_at_timezone",
	// URLs (macros.sql: java.net.URI's parts, as Trino's UrlFunctions)
	"url_extract_protocol":  "trino_url_protocol",
	"url_extract_host":      "trino_url_host",
	"url_extract_port":      "trino_url_port",
	"url_extract_path":      "trino_url_path",
	"url_extract_query":     "trino_url_query",
	"url_extract_fragment":  "trino_url_fragment",
	"url_extract_parameter": "trino_url_parameter",
	"url_encode":            "trino_url_encode",
	"url_decode":            "trino_url_decode",
	"hamming_distance":      "hamming",
	"truncate":              "trunc",
	// date and time
	"date_add":               "trino_date_add",
	"date_diff":              "trino_date_diff",
	"from_iso8601_timestamp": "trino_from_iso8601_timestamp",
	"from_iso8601_date":      "trino_from_iso8601_date",
	"to_iso8601":             "trino_to_iso8601",
	"from_unixtime":          "trino_from_unixtime",
	"to_unixtime":            "trino_to_unixtime",
	"date_format":            "trino_date_format",
	"millisecond":            "trino_millisecond",
	"last_day_of_month":      "last_day",
	"day_of_week":            "isodow", // Trino: ISO, 1 = Monday; DuckDB's dayofweek has 0 = Sunday
	"dow":                    "isodow",
	"day_of_month":           "day",
	"day_of_year":            "dayofyear",
	"doy":                    "dayofyear",
	"week_of_year":           "week", // DuckDB's week is the ISO week, as Trino's
	"year_of_week":           "isoyear",
	"yow":                    "isoyear",
}

// varbinaryFuncs are the Trino functions that return varbinary: length of one of them counts
// bytes (Trino's length(varbinary)), which DuckDB's length does not take.
var varbinaryFuncs = map[string]bool{
	"to_utf8": true, "from_hex": true, "from_base64": true, "md5": true, "sha1": true, "sha256": true,
	"hmac_md5": true, "hmac_sha1": true, "hmac_sha256": true,
}

// jsonPathFuncs are the functions whose second argument is a JSON path.
var jsonPathFuncs = map[string]bool{"json_extract_scalar": true, "json_extract": true, "json_size": true}

// call rewrites the function call whose name is at p and returns the position after it.
func (r *rewriter) call(p int) (int, error) {
	name := strings.ToLower(r.tok(p).text)
	open := p + 1
	close := r.match[open]
	switch name {
	case "version":
		return 0, fmt.Errorf("version() at offset %d is not supported: the engine would answer with its own version (auditlake version prints auditlake's)", r.tok(p).off)
	case "current_user", "current_role", "current_catalog", "current_schema", "current_path":
		return 0, fmt.Errorf("%s at offset %d is not supported: the engine would answer with its own session (%s), not auditlake's", r.tok(p).text, r.tok(p).off, engineSession[name])
	case "cast", "try_cast":
		return r.cast(p)
	case "reduce":
		return r.reduce(p)
	case "date_format", "date_parse", "format_datetime", "parse_datetime":
		if ok, err := r.formatCall(p, name); ok || err != nil {
			return close + 1, err
		}
		if name != "date_format" {
			return 0, fmt.Errorf("%s at offset %d: the pattern must be a string literal", name, r.tok(p).off)
		}
	}
	if name == "listagg" && close+3 <= r.last && r.tok(close+1).is("within") && r.tok(close+2).is("group") && r.tok(close+3).is("(") {
		return r.listagg(open, close+3)
	}
	if name == "concat" {
		if args := r.args(open); len(args) >= 2 {
			return r.concat(close, args)
		}
	}
	if name == "extract" {
		if np, ok, err := r.extract(p); ok || err != nil {
			return np, err
		}
	}
	if name == "json_value" || name == "json_query" || name == "json_exists" {
		return r.sqlJSON(p, name)
	}
	if name == "format" {
		if np, ok, err := r.javaFormat(p); ok || err != nil {
			return np, err
		}
	}
	if name == "greatest" || name == "least" {
		if args := r.args(open); len(args) >= 2 {
			return r.greatestLeast(p, close, args)
		}
	}
	if name == "any_match" || name == "all_match" || name == "none_match" {
		// f(array, predicate) → trino_f(list_transform(array, predicate))
		r.out.WriteString("trino_" + name + "(list_transform")
		r.trivia(p)
		r.emit(open)
		if err := r.emitRange(open+1, close); err != nil {
			return 0, err
		}
		r.out.WriteString(")")
		r.emit(close)
		return close + 1, nil
	}
	regexpTo, extra, regexpOK := "", "", false
	if name == "regexp_extract" {
		regexpTo, extra, regexpOK = r.regexpExtractGroup(open)
	}
	if name == "if" && len(r.args(open)) == 2 {
		extra = ", NULL" // Trino's if(condition, true_value); DuckDB's IF takes three arguments
	}
	if (name == "date_add" && r.dateArg(open, 3)) || (name == "date_trunc" && r.dateArg(open, 2)) {
		r.out.WriteString("trino_" + name + "_date")
	} else if regexpOK {
		r.out.WriteString(regexpTo)
	} else if to, ok := renames[name]; ok {
		r.out.WriteString(to)
	} else if name == "concat_ws" && len(r.args(open)) == 2 {
		r.out.WriteString("trino_concat_ws")
	} else if (name == "substr" || name == "substring") && r.substrArgs(open) {
		r.out.WriteString("trino_substr")
	} else if name == "length" && r.varbinaryArg(open) {
		r.out.WriteString("octet_length")
	} else if name == "contains" && r.ipContains(open) {
		r.out.WriteString("trino_ip_contains")
	} else if name == "contains" && len(r.args(open)) == 2 {
		r.out.WriteString("trino_contains")
	} else if (name == "trim" || name == "ltrim" || name == "rtrim") && r.plainArg(open) {
		r.out.WriteString("trino_" + name)
	} else {
		r.out.WriteString(r.tok(p).text)
	}
	r.trivia(p)
	r.emit(open)
	if jsonPathFuncs[name] {
		args := r.args(open)
		if len(args) == 2 {
			if path, ok := r.literalArg(args[1]); ok {
				if err := r.emitRange(args[0][0], args[0][1]); err != nil {
					return 0, err
				}
				r.emit(args[0][1]) // the comma
				r.out.WriteString(engine.Literal(jsonPath(path)))
				r.trivia(args[1][0])
				r.emit(close)
				return close + 1, nil
			}
		}
	}
	if err := r.emitRange(open+1, close); err != nil {
		return 0, err
	}
	r.out.WriteString(extra)
	r.emit(close)
	return close + 1, nil
}

// regexpExtractGroup looks at regexp_extract(string, pattern, group) whose "(" is at open, with
// a literal pattern and group: DuckDB's gives ” for a group that did not take part in the
// match, Trino's NULL, and DuckDB's gives ” for a group the pattern does not have, which Trino
// refuses. When the pattern parses (RE2 syntax, as DuckDB's) it returns the macro to call
// instead and the text to add after the arguments: trino_regexp_extract_nonempty when the group
// cannot match an empty string (so ” means it did not take part), trino_regexp_extract_beyond
// with the pattern's number of groups when it has fewer than the group asked for.
func (r *rewriter) regexpExtractGroup(open int) (string, string, bool) {
	args := r.args(open)
	if len(args) != 3 || args[2][1] != args[2][0]+1 || r.tok(args[2][0]).kind != tkNumber {
		return "", "", false
	}
	pattern, ok := r.literalArg(args[1])
	if !ok {
		return "", "", false
	}
	group, err := strconv.Atoi(r.tok(args[2][0]).text)
	if err != nil || group < 1 {
		return "", "", false
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", "", false
	}
	if n := re.MaxCap(); group > n {
		return "trino_regexp_extract_beyond", ", " + strconv.Itoa(n), true
	}
	if c := findCapture(re, group); c != nil && !matchesEmpty(c) {
		return "trino_regexp_extract_nonempty", "", true
	}
	return "", "", false
}

// findCapture returns the capture group numbered n in re, or nil.
func findCapture(re *syntax.Regexp, n int) *syntax.Regexp {
	if re.Op == syntax.OpCapture && re.Cap == n {
		return re
	}
	for _, sub := range re.Sub {
		if c := findCapture(sub, n); c != nil {
			return c
		}
	}
	return nil
}

// matchesEmpty reports whether re can match an empty string (anchors and word boundaries
// count as able to).
func matchesEmpty(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune) == 0
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL, syntax.OpNoMatch:
		return false
	case syntax.OpCapture, syntax.OpPlus:
		return matchesEmpty(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min == 0 || matchesEmpty(re.Sub[0])
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !matchesEmpty(sub) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if matchesEmpty(sub) {
				return true
			}
		}
		return false
	}
	return true // empty match, star, quest, anchors, word boundaries
}

// concat rewrites Trino's concat(a, b, …), which is NULL when an argument is (DuckDB's concat
// skips NULLs), to the || operator, which is for strings and arrays alike.
func (r *rewriter) concat(close int, args [][2]int) (int, error) {
	parts := make([]string, len(args))
	for i, a := range args {
		var err error
		if parts[i], err = r.capture(a[0], a[1]); err != nil {
			return 0, err
		}
		parts[i] = "(" + parts[i] + ")"
	}
	r.out.WriteString("(" + strings.Join(parts, " || ") + ")")
	r.trivia(close)
	return close + 1, nil
}

// extractFields are the fields of Trino's EXTRACT(field FROM x) that DuckDB's extract reads
// otherwise (dow: 0 for a Sunday, where Trino's is ISO, 7) or not at all, with the function
// that gives Trino's value. The other fields (year, quarter, month, week, day, hour, minute,
// second, timezone_hour, timezone_minute) are DuckDB's extract alike.
var extractFields = map[string]string{
	"dow": "isodow", "day_of_week": "isodow", "doy": "dayofyear", "day_of_year": "dayofyear",
	"yow": "isoyear", "year_of_week": "isoyear", "day_of_month": "day",
}

// extract rewrites EXTRACT(field FROM x) of one of the extractFields to that function of x; it
// reports false for another field.
func (r *rewriter) extract(p int) (int, bool, error) {
	open := p + 1
	close := r.match[open]
	if close-open < 4 || !r.tok(open+2).is("from") {
		return 0, false, nil
	}
	fn, ok := extractFields[strings.ToLower(r.tok(open+1).text)]
	if !ok || r.tok(open+1).kind != tkIdent {
		return 0, false, nil
	}
	x, err := r.capture(open+3, close)
	if err != nil {
		return 0, false, err
	}
	r.out.WriteString(fn + "(" + x + ")")
	r.trivia(close)
	return close + 1, true, nil
}

// sqlJSONPath is the part of Trino's SQL/JSON path language the engine's JSON paths read alike:
// member names (plain or quoted) and array elements by number, after the mode.
var sqlJSONPath = regexp.MustCompile(`^\$(\.[A-Za-z_][A-Za-z0-9_]*|\."([^"\\]|\\.)*"|\[[0-9]+\])*$`)

// sqlJSON rewrites json_value, json_query and json_exists(json, 'lax|strict path') to the
// trino_json_* macros with the path without its mode. Other forms (RETURNING, ON EMPTY, ON
// ERROR, PASSING, a path that is not a literal, path filters and methods) are refused: DuckDB's
// json_value reads neither the mode nor SQL/JSON paths and would answer NULL or a quoted text.
func (r *rewriter) sqlJSON(p int, name string) (int, error) {
	open := p + 1
	close := r.match[open]
	args := r.args(open)
	refuse := func(why string) (int, error) {
		return 0, fmt.Errorf("%s at offset %d: %s is not supported (write %s(json, 'lax $.member[0]'))", name, r.tok(p).off, why, name)
	}
	if len(args) != 2 {
		return refuse("a call other than (json, path)")
	}
	path, ok := r.literalArg(args[1])
	if !ok {
		return refuse("a path that is not a string literal, or a RETURNING, PASSING, WRAPPER or ON clause,")
	}
	path = strings.TrimSpace(path)
	for _, mode := range []string{"lax", "strict"} {
		if len(path) > len(mode) && strings.EqualFold(path[:len(mode)], mode) && (path[len(mode)] == ' ' || path[len(mode)] == '$') {
			path = strings.TrimSpace(path[len(mode):])
			break
		}
	}
	if !sqlJSONPath.MatchString(path) {
		return refuse(fmt.Sprintf("the path %q (only members and array elements by number)", path))
	}
	j, err := r.capture(args[0][0], args[0][1])
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(&r.out, "trino_%s(%s, %s)", name, j, engine.Literal(path))
	r.trivia(close)
	return close + 1, nil
}

// javaFormatSpec matches a conversion of Java's Formatter, which Trino's format uses:
// %[index$][flags][width][.precision][t]conversion.
var javaFormatSpec = regexp.MustCompile(`%(\d+\$)?([-#+ 0,(<]*)(\d+)?(\.\d+)?([tT]?[a-zA-Z%])`)

// javaFormat rewrites format('…', args…) with a literal pattern whose %s conversions take
// arguments that are not text: Java's %s writes any value (String.valueOf), DuckDB's printf only
// text, so such an argument (used by %s alone) is cast to varchar. It reports false when there is
// none, and the call is renamed to printf as is.
func (r *rewriter) javaFormat(p int) (int, bool, error) {
	open := p + 1
	close := r.match[open]
	args := r.args(open)
	if len(args) < 2 {
		return 0, false, nil
	}
	pattern, ok := r.literalArg(args[0])
	if !ok {
		return 0, false, nil
	}
	text := make([]bool, len(args))  // argument i is written by %s
	other := make([]bool, len(args)) // by another conversion
	next, prev := 1, 0
	for _, m := range javaFormatSpec.FindAllStringSubmatch(pattern, -1) {
		conv := m[5]
		if conv == "%" || conv == "n" {
			continue
		}
		i := next
		switch {
		case m[1] != "":
			i, _ = strconv.Atoi(strings.TrimSuffix(m[1], "$"))
		case strings.Contains(m[2], "<"):
			i = prev
		default:
			next++
		}
		prev = i
		if i >= 1 && i < len(args) {
			text[i] = text[i] || conv == "s"
			other[i] = other[i] || conv != "s"
		}
	}
	if !slices.ContainsFunc(text[1:], func(b bool) bool { return b }) {
		return 0, false, nil
	}
	parts := []string{r.tok(args[0][0]).text}
	for i, a := range args[1:] {
		s, err := r.capture(a[0], a[1])
		if err != nil {
			return 0, false, err
		}
		if text[i+1] && !other[i+1] {
			s = "CAST((" + s + ") AS VARCHAR)"
		}
		parts = append(parts, s)
	}
	r.out.WriteString("printf(" + strings.Join(parts, ", ") + ")")
	r.trivia(close)
	return close + 1, true, nil
}

// greatestLeast rewrites Trino's greatest(a, b, …) and least(a, b, …), which are NULL when an
// argument is NULL (DuckDB's skip NULLs), to DuckDB's under a CASE that gives NULL then.
func (r *rewriter) greatestLeast(p, close int, args [][2]int) (int, error) {
	parts := make([]string, len(args))
	nulls := make([]string, len(args))
	for i, a := range args {
		s, err := r.capture(a[0], a[1])
		if err != nil {
			return 0, err
		}
		parts[i] = "(" + s + ")"
		nulls[i] = parts[i] + " IS NULL"
	}
	fmt.Fprintf(&r.out, "(CASE WHEN %s THEN NULL ELSE %s(%s) END)", strings.Join(nulls, " OR "),
		strings.ToLower(r.tok(p).text), strings.Join(parts, ", "))
	r.trivia(close)
	return close + 1, nil
}

// listagg rewrites Trino's listagg(x[, separator]) WITHIN GROUP (ORDER BY …), whose group
// bracket is at group, to DuckDB's string_agg(x, separator ORDER BY …); the separator is empty
// when not given, as in Trino.
func (r *rewriter) listagg(open, group int) (int, error) {
	args, err := r.capture(open+1, r.match[open])
	if err != nil {
		return 0, err
	}
	if len(r.args(open)) == 1 {
		args += ", ''"
	}
	order, err := r.capture(group+1, r.match[group])
	if err != nil {
		return 0, err
	}
	r.out.WriteString("string_agg(" + args + " " + order + ")")
	r.trivia(r.match[group])
	return r.match[group] + 1, nil
}

// reduce rewrites Trino's reduce(array, initial, (s, x) -> s', s -> out) to DuckDB's
// list_reduce, applying the output function through a one-element list_transform.
func (r *rewriter) reduce(p int) (int, error) {
	open := p + 1
	close := r.match[open]
	args := r.args(open)
	if len(args) != 4 {
		return 0, fmt.Errorf("reduce at offset %d: want 4 arguments, got %d", r.tok(p).off, len(args))
	}
	var s [4]string
	for i, a := range args {
		var err error
		if s[i], err = r.capture(a[0], a[1]); err != nil {
			return 0, err
		}
	}
	fmt.Fprintf(&r.out, "list_transform([list_reduce(%s, %s, %s)], %s)[1]", s[0], s[2], s[1], s[3])
	r.trivia(close)
	return close + 1, nil
}

// formatCall handles the date formatting functions when the pattern is a literal; it reports
// whether it wrote the call.
func (r *rewriter) formatCall(p int, name string) (bool, error) {
	open := p + 1
	close := r.match[open]
	args := r.args(open)
	if len(args) != 2 {
		return false, nil
	}
	pattern, ok := r.literalArg(args[1])
	if !ok {
		return false, nil
	}
	var f string
	var err error
	if name == "date_format" || name == "date_parse" {
		f, err = mysqlFormat(pattern)
	} else {
		f, err = jodaFormat(pattern)
	}
	if err != nil {
		return false, fmt.Errorf("%s at offset %d: %w", name, r.tok(p).off, err)
	}
	fn := "strftime"
	if strings.HasPrefix(name, "date_parse") || strings.HasPrefix(name, "parse_") {
		fn = "strptime"
	}
	v, err := r.capture(args[0][0], args[0][1])
	if err != nil {
		return false, err
	}
	if fn == "strptime" {
		// Trino's date_parse returns timestamp(3): keep milliseconds only.
		fmt.Fprintf(&r.out, "CAST(strptime(%s, %s) AS TIMESTAMP_MS)", v, engine.Literal(f))
	} else {
		fmt.Fprintf(&r.out, "strftime(%s, %s)", v, engine.Literal(f))
	}
	r.trivia(close)
	return true, nil
}

// cast rewrites CAST/TRY_CAST(expr AS type): the type is translated to DuckDB, and a cast to
// JSON becomes to_json (Trino's CAST(varchar AS JSON) makes a JSON string; DuckDB's would
// parse it).
func (r *rewriter) cast(p int) (int, error) {
	open := p + 1
	close := r.match[open]
	as := -1
	for q := open + 1; q < close; q++ {
		if m := r.match[q]; m > q {
			q = m
			continue
		}
		if r.tok(q).is("as") {
			as = q
		}
	}
	if as < 0 {
		// Not a CAST we understand; let DuckDB report it.
		r.out.WriteString(r.tok(p).text)
		r.trivia(p)
		r.emit(open)
		if err := r.emitRange(open+1, close); err != nil {
			return 0, err
		}
		r.emit(close)
		return close + 1, nil
	}
	words := make([]token, 0, close-as)
	for q := as + 1; q < close; q++ {
		words = append(words, r.tok(q))
	}
	typ, ok := translateType(words)
	if !ok {
		return 0, fmt.Errorf("cast at offset %d: unsupported type %q", r.tok(p).off, r.spanText(as+1, close))
	}
	expr, err := r.capture(open+1, as)
	if err != nil {
		return 0, err
	}
	switch {
	case typ == "JSON":
		fmt.Fprintf(&r.out, "to_json(%s)", expr)
	case typ == "VARCHAR" && !r.stringLiteral(open+1, as):
		// not for a string: a constant cast stays a constant (a double literal, 1e20, is written
		// as Trino writes a double)
		fmt.Fprintf(&r.out, "trino_varchar(%s)", expr)
	case integralTypes[typ] && !r.stringLiteral(open+1, as):
		// a double literal too (2.5e0); a string literal stays a constant
		fmt.Fprintf(&r.out, "trino_%s%s(%s)", tryPrefix(r.tok(p)), strings.ToLower(typ), expr)
	case typ == "BLOB":
		fmt.Fprintf(&r.out, "trino_varbinary(%s)", expr)
	case typ == "IPADDRESS" && r.tok(p).is("try_cast"):
		fmt.Fprintf(&r.out, "trino_try_ipaddress(%s)", expr)
	case typ == "IPADDRESS":
		fmt.Fprintf(&r.out, "trino_ipaddress(%s)", expr)
	default:
		fmt.Fprintf(&r.out, "%s(%s AS %s)", strings.ToUpper(r.tok(p).text), expr, typ)
	}
	r.trivia(close)
	return close + 1, nil
}

// stringLiteral reports whether positions [a, b) are one string literal.
func (r *rewriter) stringLiteral(a, b int) bool {
	return b == a+1 && r.tok(a).kind == tkString
}

// integralTypes are the integer types a CAST to rounds a double half away from zero, as
// Trino does (DuckDB rounds half to even): trino_<type> and trino_try_<type> in macros.sql.
var integralTypes = map[string]bool{"TINYINT": true, "SMALLINT": true, "INTEGER": true, "BIGINT": true}

// tryPrefix is "try_" for TRY_CAST, "" for CAST.
func tryPrefix(t token) string {
	if t.is("try_cast") {
		return "try_"
	}
	return ""
}

// spanText returns the source text of positions [a, b).
func (r *rewriter) spanText(a, b int) string {
	if a >= b {
		return ""
	}
	last := r.tok(b - 1)
	return r.src[r.tok(a).off : last.off+len(last.text)]
}

// dateFuncs are the functions that return a date.
var dateFuncs = map[string]bool{"date": true, "from_iso8601_date": true, "last_day_of_month": true}

// dateArg reports whether the call at open has n arguments, the last of which is written as a
// date: DATE '…', current_date, a call of a function that returns a date, a CAST to date.
// (Trino's date_add and date_trunc of a date return a date, DuckDB's a timestamp; the rewrite
// knows no column's type, so a date column is not seen.)
func (r *rewriter) dateArg(open, n int) bool {
	args := r.args(open)
	if len(args) != n {
		return false
	}
	a, b := args[n-1][0], args[n-1][1]
	first := r.tok(a)
	switch {
	case b == a+1:
		return first.is("current_date")
	case b == a+2 && first.is("date") && r.tok(a+1).kind == tkString:
		return true
	case b-a < 3 || first.kind != tkIdent || !r.tok(a+1).is("(") || r.match[a+1] != b-1:
		return false
	case first.is("cast") || first.is("try_cast"):
		return r.tok(b-2).is("date") && r.tok(b-3).is("as")
	}
	return dateFuncs[strings.ToLower(first.text)]
}

// plainArg reports whether the call at open has one argument that is not the SQL form
// trim([BOTH|LEADING|TRAILING] [chars] FROM s).
func (r *rewriter) plainArg(open int) bool {
	args := r.args(open)
	if len(args) != 1 {
		return false
	}
	for p := args[0][0]; p < args[0][1]; p++ {
		if m := r.match[p]; m > p {
			p = m
		} else if r.tok(p).is("from") {
			return false
		}
	}
	return true
}

// substrArgs reports whether the call at open is substr(s, start[, length]), not
// substring(s FROM start FOR length).
func (r *rewriter) substrArgs(open int) bool {
	n := len(r.args(open))
	return n == 2 || n == 3
}

// varbinaryArg reports whether the call at open has one argument, a call of a function that
// returns varbinary or a CAST to varbinary.
func (r *rewriter) varbinaryArg(open int) bool {
	args := r.args(open)
	if len(args) != 1 {
		return false
	}
	a := args[0]
	if a[1]-a[0] < 3 || r.tok(a[0]).kind != tkIdent || !r.tok(a[0]+1).is("(") || r.match[a[0]+1] != a[1]-1 {
		return false
	}
	fn := strings.ToLower(r.tok(a[0]).text)
	if fn == "cast" || fn == "try_cast" {
		last := r.tok(a[1] - 2)
		return last.is("varbinary")
	}
	return varbinaryFuncs[fn]
}

// ipContains reports whether the contains( call at open is Trino's contains(varchar cidr,
// ipaddress) rather than contains(array, element): its network is a string literal (an array
// never is) or its address is written as an IPADDRESS.
func (r *rewriter) ipContains(open int) bool {
	args := r.args(open)
	if len(args) != 2 {
		return false
	}
	if _, ok := r.literalArg(args[0]); ok {
		return true
	}
	return r.ipExpr(args[1][0], args[1][1])
}
