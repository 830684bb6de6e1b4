package sigma

import (
	"encoding/json"
	"fmt"
	"github.com/auditlake/auditlake/internal/cloudtrail"
	"slices"
	"strings"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
)

// value is what a Sigma field name reads from an event: one VARCHAR expression, or (list) a
// VARCHAR[] expression of every value the field holds when it may be a JSON array, any of
// which may match (as Sigma backends over JSON logs treat arrays).
type value struct {
	sql  string
	list bool
	// guard, when set, is an expression that is NULL exactly when a list value has no values
	// at all (the map column holds no such key): the tests then skip building an empty list
	// on every such row, most rows for most fields (anyOf, isNull).
	guard string
	// g reads the same values from a decoded record, for the Go matcher (gofield.go); nil when
	// it has no reader (the rule is then evaluated in SQL only).
	g goField
}

// rawText is what keywords are matched in (compileKeywords): the record's JSON text as it was
// delivered. A record whose text is cut (a cold file's, read in Go) cannot be told.
var rawText = value{sql: "eventjson", g: scalarField(func(r *cloudtrail.Record) (string, int8) {
	if r.EventJSONChecksum == cloudtrail.JSONCut {
		return "", stUnknown
	}
	return r.EventJSON, stValue
})}

// columns are the store's columns by name, each as its json_transform structure parsed: a
// string for a scalar or MAP type, a map for a STRUCT, a one-element slice for a list.
var columns = func() map[string]any {
	out := map[string]any{}
	for _, c := range ctparquet.CloudTrailColumns {
		var s any
		if err := json.Unmarshal([]byte(ctparquet.Structure(c.Type)), &s); err != nil {
			panic(fmt.Sprintf("sigma: structure of column %s: %v", c.Name, err))
		}
		out[c.Name] = s
	}
	// The record's own text and its checksum are not CloudTrail fields.
	delete(out, "eventjson")
	delete(out, "eventjsonchecksum")
	return out
}()

// jsonNames are the record's spellings of the columns and struct fields whose values a field
// name may read from the record's text (objects, and the list resources), by lowercase name:
// the schema matches a name in any case (requestparameters, Resources, useridentity.SessionContext),
// and so does the decoder a record's key; the JSON text is read with the key as CloudTrail
// writes it, not as the rule does.
var jsonNames = func() map[string]string {
	out := map[string]string{}
	for _, n := range []string{"userIdentity", "requestParameters", "responseElements", "additionalEventData", "resources",
		"serviceEventDetails", "addendum", "edgeDeviceDetails", "insightDetails", "tlsDetails",
		"sessionContext", "sessionIssuer", "attributes", "webIdFederationData", "onBehalfOf", "inScopeOf"} {
		out[strings.ToLower(n)] = n
	}
	return out
}()

// maxJSONDepth bounds the path of a field read from JSON text: each level may be an array or
// not, and all 2^depth readings are tried.
const maxJSONDepth = 6

// field maps a Sigma field name, as in the CloudTrail record (eventName, userIdentity.arn,
// requestParameters.bucketName, responseElements.x.y), to what it reads:
//   - a top-level field is its column (eventName → eventname), case-insensitively; a
//     timestamp reads as CloudTrail writes it (2024-01-02T03:04:05Z), a boolean as true/false;
//   - a field inside userIdentity or tlsDetails is the struct field;
//   - requestParameters.x (and responseElements, additionalEventData, serviceEventDetails,
//     addendum, edgeDeviceDetails, insightDetails) is the map column's value under key x
//     (keys are case-sensitive, as in JSON): a string as is, any other JSON value as its
//     text, a JSON array as its elements; deeper names (requestParameters.x.y) are read from
//     that value's JSON;
//   - anything else — an unknown field, a whole object (requestParameters), a field of
//     resources, a struct field the schema does not hold — is read from the record's JSON
//     text (eventjson), the last resort: slower, but it holds every field of the record.
func field(name string) (value, error) {
	segs := strings.Split(name, ".")
	for _, s := range segs {
		if s == "" {
			return value{}, fmt.Errorf("field %q cannot be mapped: empty name part", name)
		}
		if strings.ContainsAny(s, "\"\\") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 }) {
			return value{}, fmt.Errorf("field %q cannot be mapped: a quote, backslash or control character in its name", name)
		}
	}
	if len(segs) > maxJSONDepth+1 {
		return value{}, fmt.Errorf("field %q cannot be mapped: nested deeper than %d levels", name, maxJSONDepth+1)
	}
	col := strings.ToLower(segs[0])
	typ, ok := columns[col]
	// fromJSON reads the field from the record's text, its first matched names (those the
	// schema matched, in any case) spelled as CloudTrail writes them.
	fromJSON := func(matched int) value {
		js := slices.Clone(segs)
		for k := range matched {
			if n, ok := jsonNames[strings.ToLower(js[k])]; ok {
				js[k] = n
			}
		}
		v := jsonValues("eventjson", js, false)
		v.g = jsonField{segs: js}
		return v
	}
	if !ok {
		return fromJSON(0), nil
	}
	expr, path := engine.Ident(col), col
	for i := 1; ; i++ {
		switch t := typ.(type) {
		case string:
			if strings.HasPrefix(t, "MAP(") {
				if i == len(segs) {
					return fromJSON(i), nil // the whole object, as JSON text
				}
				get := goMaps[path]
				v := expr + "[" + engine.Literal(segs[i]) + "]"
				if i+1 == len(segs) {
					out := mapValue(v)
					if get != nil {
						out.g = mapField{get: get, key: segs[i]}
					}
					return out, nil
				}
				out := jsonValues("(CASE WHEN json_valid("+v+") THEN "+v+" END)", segs[i+1:], true)
				out.guard = v
				if get != nil {
					out.g = jsonField{mapGet: get, mapKey: segs[i], segs: segs[i+1:], rootArray: true}
				}
				return out, nil
			}
			if i < len(segs) { // a name below a scalar: not in the schema
				return fromJSON(i), nil
			}
			var out value
			switch t {
			case "TIMESTAMP":
				out = value{sql: "strftime(" + expr + ", '%Y-%m-%dT%H:%M:%SZ')"}
			case "VARCHAR":
				out = value{sql: expr}
			default:
				out = value{sql: "CAST(" + expr + " AS VARCHAR)"}
			}
			if get, ok := goScalars[path]; ok {
				out.g = get
			}
			return out, nil
		case map[string]any:
			if i == len(segs) {
				return fromJSON(i), nil // the whole struct, as JSON text
			}
			key := strings.ToLower(segs[i])
			sub, ok := t[key]
			if !ok {
				return fromJSON(i), nil
			}
			expr += "." + engine.Ident(key)
			path += "." + key
			typ = sub
		default: // a list (resources): its elements' fields from the JSON
			return fromJSON(i), nil
		}
	}
}

// mapValue reads a map column's value v: a JSON array's elements (nested arrays left out),
// else the value itself.
func mapValue(v string) value {
	return value{list: true, guard: v, sql: "(CASE WHEN json_valid(" + v + ") AND json_type(" + v + ") = 'ARRAY' THEN " +
		scalars("json_extract("+v+", '$[*]')") + " ELSE [" + v + "] END)"}
}

// jsonValues reads path segs from the JSON text j, where any level (and the root, when
// rootArray) may be an array whose elements are each read on: every combination of
// array/not-array is tried, and the values found are the field's values. A value that is an
// array is never itself a value (its elements are); an object is its JSON text.
func jsonValues(j string, segs []string, rootArray bool) value {
	positions := len(segs)
	if rootArray {
		positions++
	}
	var parts []string
	for bits := 0; bits < 1<<positions; bits++ {
		path, pos, wild := "$", 0, false
		step := func() {
			if bits&(1<<pos) != 0 {
				path += "[*]"
				wild = true
			}
			pos++
		}
		if rootArray {
			step()
		}
		for _, s := range segs {
			path += `."` + s + `"`
			step()
		}
		e := "json_extract(" + j + ", " + engine.Literal(path) + ")"
		if !wild {
			e = "[" + e + "]"
		}
		parts = append(parts, e)
	}
	return value{list: true, sql: scalars("flatten([" + strings.Join(parts, ", ") + "])")}
}

// scalars turns a JSON[] expression into the VARCHAR[] of its non-array elements (strings
// unquoted, objects as JSON text).
func scalars(list string) string {
	return "list_transform(list_filter(" + list + ", lambda e: json_type(e) <> 'ARRAY'), lambda e: json_extract_string(e, '$'))"
}
