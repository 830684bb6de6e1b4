package pgwire

import (
	"bytes"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/server"
)

// pgType maps an engine column type (DuckDB's name for it) to the Postgres type a client sees:
// its OID and type modifier. A list of scalars is an array of their type (a numeric's with its
// modifier); other nested values (lists of lists or structs, structs, maps, unions) and JSON are
// json; decimals keep their precision and scale; types without a Postgres peer are text.
func pgType(engineType string) (oid uint32, typmod int32) {
	t := strings.ToUpper(strings.TrimSpace(engineType))
	if i := strings.LastIndexByte(t, '['); i > 0 && strings.HasSuffix(t, "]") {
		// A list (or fixed-size array) of scalars is a PostgreSQL array of their type, which
		// drivers read into their own lists (psycopg2, pgjdbc's getArray, pgx); a list of lists,
		// structs or maps has no rectangular array form and is json.
		if elem, mod := pgType(t[:i]); arrayOIDs[elem] != 0 {
			return arrayOIDs[elem], mod
		}
	}
	switch {
	case strings.HasSuffix(t, "]") || strings.HasPrefix(t, "STRUCT") || strings.HasPrefix(t, "MAP") ||
		strings.HasPrefix(t, "UNION") || t == "JSON":
		return pgtype.JSONOID, -1
	case strings.HasPrefix(t, "DECIMAL") || strings.HasPrefix(t, "NUMERIC"):
		var p, s int32
		if _, err := fmt.Sscanf(t[strings.IndexByte(t+"(", '('):], "(%d,%d)", &p, &s); err == nil {
			return pgtype.NumericOID, (p<<16 | s) + 4
		}
		return pgtype.NumericOID, -1
	}
	switch t {
	case "BOOLEAN":
		return pgtype.BoolOID, -1
	case "TINYINT", "SMALLINT", "UTINYINT":
		return pgtype.Int2OID, -1
	case "INTEGER", "USMALLINT":
		return pgtype.Int4OID, -1
	case "BIGINT", "UINTEGER":
		return pgtype.Int8OID, -1
	case "UBIGINT", "HUGEINT", "UHUGEINT", "VARINT", "BIGNUM":
		return pgtype.NumericOID, -1
	case "FLOAT":
		return pgtype.Float4OID, -1
	case "DOUBLE":
		return pgtype.Float8OID, -1
	case "BLOB":
		return pgtype.ByteaOID, -1
	case "DATE":
		return pgtype.DateOID, -1
	case "TIME":
		return pgtype.TimeOID, -1
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME":
		return pgtype.TimestampOID, -1
	case "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ":
		return pgtype.TimestamptzOID, -1
	case "INTERVAL":
		return pgtype.IntervalOID, -1
	case "UUID":
		return pgtype.UUIDOID, -1
	}
	return pgtype.TextOID, -1
}

// arrayOIDs are the array types of the scalar types pgType returns, by element type.
var arrayOIDs = map[uint32]uint32{
	pgtype.BoolOID: pgtype.BoolArrayOID, pgtype.Int2OID: pgtype.Int2ArrayOID, pgtype.Int4OID: pgtype.Int4ArrayOID,
	pgtype.Int8OID: pgtype.Int8ArrayOID, pgtype.TextOID: pgtype.TextArrayOID, pgtype.Float4OID: pgtype.Float4ArrayOID,
	pgtype.Float8OID: pgtype.Float8ArrayOID, pgtype.NumericOID: pgtype.NumericArrayOID, pgtype.ByteaOID: pgtype.ByteaArrayOID,
	pgtype.DateOID: pgtype.DateArrayOID, pgtype.TimeOID: pgtype.TimeArrayOID, pgtype.TimestampOID: pgtype.TimestampArrayOID,
	pgtype.TimestamptzOID: pgtype.TimestamptzArrayOID, pgtype.IntervalOID: pgtype.IntervalArrayOID, pgtype.UUIDOID: pgtype.UUIDArrayOID,
}

// elementOID is the element type of array type oid (0: oid is no array of arrayOIDs).
func elementOID(oid uint32) uint32 {
	for elem, arr := range arrayOIDs {
		if arr == oid {
			return elem
		}
	}
	return 0
}

// typeSize is the pg_type.typlen of the types pgType returns (-1: variable).
func typeSize(oid uint32) int16 {
	switch oid {
	case pgtype.BoolOID:
		return 1
	case pgtype.Int2OID:
		return 2
	case pgtype.Int4OID, pgtype.Float4OID, pgtype.DateOID:
		return 4
	case pgtype.Int8OID, pgtype.Float8OID, pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.TimeOID:
		return 8
	case pgtype.IntervalOID, pgtype.UUIDOID:
		return 16
	}
	return -1
}

// encodeValue appends v, a value of a column of type oid, to buf in format (0 text, 1 binary).
// It reports null for a NULL value.
func encodeValue(m *pgtype.Map, oid uint32, format int16, v any, buf []byte) (out []byte, null bool, err error) {
	if v == nil {
		return buf, true, nil
	}
	if elem := elementOID(oid); elem != 0 {
		return encodeArray(m, elem, format, v, buf)
	}
	switch oid {
	case pgtype.JSONOID:
		if s, ok := v.(string); ok { // a JSON column holds JSON text already
			return append(buf, s...), false, nil
		}
		b, err := json.Marshal(server.JSONValue(v))
		return append(buf, b...), false, err
	case pgtype.TextOID:
		return append(buf, textOf(v)...), false, nil
	case pgtype.NumericOID:
		var n pgtype.Numeric
		if d, ok := decimalValue(v); ok {
			n = d
		} else if err := n.Scan(textOf(v)); err != nil {
			return buf, false, err
		}
		v = n
	case pgtype.IntervalOID:
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Struct {
			if d, mo, us := rv.FieldByName("Days"), rv.FieldByName("Months"), rv.FieldByName("Micros"); d.IsValid() && mo.IsValid() && us.IsValid() {
				v = pgtype.Interval{Days: int32(d.Int()), Months: int32(mo.Int()), Microseconds: us.Int(), Valid: true}
			}
		}
	case pgtype.UUIDOID:
		if rv := reflect.ValueOf(v); (rv.Kind() == reflect.Array || rv.Kind() == reflect.Slice) && rv.Len() == 16 {
			var u [16]byte
			reflect.Copy(reflect.ValueOf(&u).Elem(), rv)
			v = pgtype.UUID{Bytes: u, Valid: true} // a bare [16]byte is sent as its raw bytes, also as text
		}
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			v = rv.Int()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			v = int64(rv.Uint())
		}
	case pgtype.Float4OID, pgtype.Float8OID:
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Float32 || rv.Kind() == reflect.Float64 {
			v = rv.Float()
			if format == 0 {
				return append(buf, floatText(rv.Float(), oid)...), false, nil
			}
		}
	}
	start := len(buf)
	out, err = m.Encode(oid, format, v, buf)
	if err == nil && oid == pgtype.TimestamptzOID && format == 0 {
		// pgx writes UTC as "Z"; PostgreSQL writes the offset ("+00"), and clients that parse
		// it themselves (psycopg2, pgjdbc) take nothing else.
		text := string(out[start:])
		if i := strings.LastIndexByte(text, 'Z'); i > 0 {
			out = append(out[:start], text[:i]+"+00"+text[i+1:]...)
		}
	}
	if err != nil {
		if format == 0 {
			return append(buf, textOf(v)...), false, nil
		}
		return buf, false, fmt.Errorf("cannot send %T as %d: %w", v, oid, err)
	}
	return out, false, nil
}

// encodeArray appends v, a list of values of type elem, to buf as a one-dimensional PostgreSQL
// array in format: in text {a,"b c",NULL} (an element quoted when it is empty, NULL or holds a
// space, a brace, a comma, a quote or a backslash, which are escaped), in binary PostgreSQL's
// array_send layout, each element as encodeValue writes it.
func encodeArray(m *pgtype.Map, elem uint32, format int16, v any, buf []byte) ([]byte, bool, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return buf, false, fmt.Errorf("cannot send %T as an array", v)
	}
	n := rv.Len()
	if format == 1 {
		hasNull := 0
		for i := range n {
			if rv.Index(i).Interface() == nil {
				hasNull = 1
			}
		}
		ndim := 1
		if n == 0 {
			ndim = 0
		}
		buf = binary.BigEndian.AppendUint32(buf, uint32(ndim))
		buf = binary.BigEndian.AppendUint32(buf, uint32(hasNull))
		buf = binary.BigEndian.AppendUint32(buf, elem)
		if n > 0 {
			buf = binary.BigEndian.AppendUint32(buf, uint32(n))
			buf = binary.BigEndian.AppendUint32(buf, 1) // the lower bound
		}
		for i := range n {
			at := len(buf)
			buf = append(buf, 0, 0, 0, 0)
			out, null, err := encodeValue(m, elem, 1, rv.Index(i).Interface(), buf)
			if err != nil {
				return buf, false, err
			}
			size := uint32(len(out) - at - 4)
			if null {
				size = math.MaxUint32 // -1
			}
			binary.BigEndian.PutUint32(out[at:], size)
			buf = out
		}
		return buf, false, nil
	}
	buf = append(buf, '{')
	var el []byte
	for i := range n {
		if i > 0 {
			buf = append(buf, ',')
		}
		out, null, err := encodeValue(m, elem, 0, rv.Index(i).Interface(), el[:0])
		if err != nil {
			return buf, false, err
		}
		el = out
		switch {
		case null:
			buf = append(buf, "NULL"...)
		case len(el) == 0 || strings.EqualFold(string(el), "NULL") || bytes.ContainsAny(el, "{}\",\\ \t\n\r\v\f"):
			buf = append(buf, '"')
			for _, b := range el {
				if b == '"' || b == '\\' {
					buf = append(buf, '\\')
				}
				buf = append(buf, b)
			}
			buf = append(buf, '"')
		default:
			buf = append(buf, el...)
		}
	}
	return append(buf, '}'), false, nil
}

// decimalValue is the engine's DECIMAL(p,s) value v (its digits and scale) as a numeric with
// its scale, as PostgreSQL sends a numeric(p,s): 1 in a DECIMAL(10,2) is 1.00 (in text and in
// binary's display scale), not the trimmed 1 of the value's own text.
func decimalValue(v any) (pgtype.Numeric, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct {
		return pgtype.Numeric{}, false
	}
	scale, digits := rv.FieldByName("Scale"), rv.FieldByName("Value")
	if !scale.IsValid() || !digits.IsValid() || !scale.CanUint() {
		return pgtype.Numeric{}, false
	}
	i, ok := digits.Interface().(*big.Int)
	if !ok || i == nil {
		return pgtype.Numeric{}, false
	}
	return pgtype.Numeric{Int: new(big.Int).Set(i), Exp: -int32(scale.Uint()), Valid: true}, true
}

// floatText is a float4 (oid) or float8 as PostgreSQL writes it: the shortest digits that read
// back as the same value, in plain notation for decimal exponents from -4 below 6 (float4) or 15
// (float8) and in scientific notation (1e+20) beyond; NaN, Infinity and -Infinity by name
// (Go's "+Inf" is no number to Java's or .NET's parsers).
func floatText(f float64, oid uint32) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	bits, fixed := 64, 15
	if oid == pgtype.Float4OID {
		bits, fixed = 32, 6
	}
	s := strconv.FormatFloat(f, 'e', -1, bits)
	if exp, err := strconv.Atoi(s[strings.IndexByte(s, 'e')+1:]); err == nil && exp >= -4 && exp < fixed {
		return strconv.FormatFloat(f, 'f', -1, bits)
	}
	return s
}

// textOf is a value's text as a text column shows it: nested values as JSON.
func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999")
	case engine.Map, map[string]any, []any:
		b, err := json.Marshal(server.JSONValue(x))
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

var numberText = regexp.MustCompile(`^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$`)

// paramLiteral turns a bound parameter (its declared type oid, 0 when the client left it
// unspecified, and its format) into the SQL literal that replaces $n: numbers as numbers (checked
// to be one), booleans as TRUE/FALSE, everything else as a quoted string literal, which the engine
// casts where the query needs another type. Nothing a client sends is spliced in unquoted
// unless it is a number.
func paramLiteral(m *pgtype.Map, oid uint32, format int16, raw []byte) (string, error) {
	if raw == nil {
		return "NULL", nil
	}
	if elem := elementOID(oid); elem != 0 && format == 0 {
		// PostgreSQL's array text {a,"b c",NULL}: a list of its elements' literals.
		s := strings.TrimSpace(string(raw))
		var elems []*string
		ok := strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}")
		if ok {
			elems, ok = pgArrayElements(s[1 : len(s)-1])
		}
		if !ok {
			return "", fmt.Errorf("malformed array literal: %q (a one-dimensional {a,b,…} is taken)", s)
		}
		lits := make([]string, len(elems))
		for i, e := range elems {
			var err error
			if lits[i], err = "NULL", error(nil); e != nil {
				lits[i], err = paramLiteral(m, elem, 0, []byte(*e))
			}
			if err != nil {
				return "", err
			}
		}
		return "ARRAY[" + strings.Join(lits, ", ") + "]", nil
	}
	if oid == pgtype.ByteaOID && format == 0 {
		// PostgreSQL's bytea text: \x and hex digits (its escape form, for any other text).
		s := string(raw)
		if h, ok := strings.CutPrefix(s, `\x`); ok {
			if _, err := hex.DecodeString(h); err != nil {
				return "", fmt.Errorf("invalid hexadecimal bytea: %q", s)
			}
			return "from_hex(" + engine.Literal(h) + ")", nil
		}
		return "from_hex(" + engine.Literal(hex.EncodeToString(raw)) + ")", nil
	}
	var v any
	if format == 1 {
		t, ok := m.TypeForOID(oid)
		if !ok {
			return "", fmt.Errorf("binary parameter of unknown type %d", oid)
		}
		var err error
		if v, err = t.Codec.DecodeValue(m, oid, format, raw); err != nil {
			return "", fmt.Errorf("binary parameter of type %s: %w", t.Name, err)
		}
	} else {
		s := string(raw)
		switch oid {
		case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID, pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID:
			if numberText.MatchString(s) {
				return strings.TrimSpace(s), nil
			}
			return "CAST(" + engine.Literal(s) + " AS DOUBLE)", nil // NaN, Infinity; anything else fails the cast
		case pgtype.BoolOID:
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "t", "true", "y", "yes", "on", "1":
				return "TRUE", nil
			case "f", "false", "n", "no", "off", "0":
				return "FALSE", nil
			}
			return "", fmt.Errorf("invalid input syntax for type boolean: %q", s)
		}
		return engine.Literal(s), nil
	}
	if dv, ok := v.(driver.Valuer); ok {
		if x, err := dv.Value(); err == nil {
			v = x
		}
	}
	return valueLiteral(oid, v), nil
}

// valueLiteral is the SQL literal of v, a binary parameter's value decoded as type oid.
func valueLiteral(oid uint32, v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []any: // an array
		lits := make([]string, len(x))
		for i, e := range x {
			if dv, ok := e.(driver.Valuer); ok {
				if y, err := dv.Value(); err == nil {
					e = y
				}
			}
			lits[i] = valueLiteral(elementOID(oid), e)
		}
		return "ARRAY[" + strings.Join(lits, ", ") + "]"
	case []byte:
		if oid == pgtype.ByteaOID {
			return "from_hex(" + engine.Literal(hex.EncodeToString(x)) + ")"
		}
		return engine.Literal(string(x))
	}
	lit, _ := scalarLiteral(oid, v)
	return lit
}

// scalarLiteral is the SQL literal of v, a scalar value decoded as type oid.
func scalarLiteral(oid uint32, v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "NULL", nil
	case bool:
		if x {
			return "TRUE", nil
		}
		return "FALSE", nil
	case int16, int32, int64, uint32:
		return fmt.Sprint(x), nil
	case float32, float64:
		f := reflect.ValueOf(x).Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "CAST(" + engine.Literal(fmt.Sprint(f)) + " AS DOUBLE)", nil
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case time.Time:
		return "TIMESTAMP " + engine.Literal(x.UTC().Format("2006-01-02 15:04:05.999999")), nil
	case string:
		if oid == pgtype.NumericOID && numberText.MatchString(x) {
			return x, nil
		}
		return engine.Literal(x), nil
	case []byte:
		return engine.Literal(string(x)), nil
	case [16]byte:
		return engine.Literal(fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])), nil
	}
	return engine.Literal(fmt.Sprint(v)), nil
}
