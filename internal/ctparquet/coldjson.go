package ctparquet

import (
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/auditlake/auditlake/internal/coldjson"
)

// Cold eventjson (issue 21 target 5). The JSON of a record holds a second time what other
// columns hold: its event id, request id, access key id and shared event id — random text that
// compresses to nothing less than itself and breaks the matches of the JSON around it — and
// the values of its requestParameters, additionalEventData and responseElements (on the
// generator's data 70 % of eventjson's compressed bytes once the ids are out: instance and
// volume ids, credentials, S3 request ids). A cold file whose checksums are derived stores
// eventjson with every occurrence of those columns' values cut out and a reader puts them back
// (ColdJSONSQL: the engine's scalar function coldjson.FuncName, one pass over the text in Go;
// JoinJSON is the same code):
//
//   - a value of CutColumns (the k-th, 0-based) is replaced by the byte k+1;
//   - a value of the maps of CutMaps, of at least cutMinLen bytes, is replaced by the byte
//     mapMark and one byte naming it: 32+i for the i-th (1-based) value of the maps' values
//     one after the other (MapValuesSQL), i ≤ maxMapValue.
//
// Valid JSON holds no raw control byte (the decoder refuses them inside strings, and compact
// JSON has none outside), so the replacement is exact, and a hot row, which holds its
// checksum, is read as it is stored anyway. CutJSON checks each row's round trip. The cut
// regions never overlap: the maps' values are cut first (longest first), then the ids, each
// only from text not cut yet.
//
// A store published as an Iceberg table keeps whole eventjson (and its checksums) in every
// file: engines that read the table's files directly do not put anything back.

// CutColumns are the columns whose values a cold file's eventjson leaves out, in cut order:
// the value of the k-th (0-based) is replaced by the byte k+1.
var CutColumns = []string{"eventid", "requestid", "useridentity.accesskeyid", "sharedeventid"}

// CutMaps are the map columns whose values a cold file's eventjson leaves out (mapMark).
var CutMaps = []string{"requestparameters", "additionaleventdata", "responseelements"}

// mapMark starts the two bytes that stand for a value of CutMaps; maxMapValue is the last value
// (1-based, over the maps' values one after the other) that can be named by the second byte.
const (
	mapMark     = coldjson.MapMark
	maxMapValue = coldjson.MaxMapValue
)

// cutMinLen is the shortest value cut out: shorter ones (none of these columns' real values)
// would only break the JSON's matches.
const cutMinLen = 8

// mapMinLen is the shortest map value cut out: a marker takes two bytes, and short values
// (booleans, counts, enum names) compress well in place.
const mapMinLen = 16

// MapValuesSQL is the engine expression of a row's map values one after the other, in the
// order CutJSON's mapVals take them.
var MapValuesSQL = func() string {
	var l []string
	for _, m := range CutMaps {
		l = append(l, "coalesce(map_values("+m+"), [])")
	}
	return "list_concat(" + strings.Join(l, ", ") + ")"
}()

// idsSQL puts the CutColumns' values back into eventjson, the last cut first.
var idsSQL = func() string {
	e := "eventjson"
	for k := len(CutColumns) - 1; k >= 0; k-- {
		e = "replace(" + e + ", chr(" + strconv.Itoa(k+1) + "), coalesce(" + CutColumns[k] + ", ''))"
	}
	return e
}()

// ColdJSONSQL is the engine expression that reads eventjson the same from every file: the
// stored text where the row holds its checksum, else the stored text with the CutColumns'
// values and the CutMaps' values put back by the engine's scalar function coldjson.FuncName
// (JoinJSON, one pass over the text).
var ColdJSONSQL = func() string {
	args := []string{"eventjson"}
	args = append(args, CutColumns...)
	for _, m := range CutMaps {
		args = append(args, "map_values("+m+")")
	}
	return "CASE WHEN eventjsonchecksum IS NULL THEN " + coldjson.FuncName + "(" + strings.Join(args, ", ") + ") ELSE eventjson END"
}()

// IDsJSONSQL is ColdJSONSQL for files whose eventjson may have its ids cut but no map values
// (as the files of the first cold format): written in the SQL that Athena (Trino) shares with
// the engine.
var IDsJSONSQL = "CASE WHEN eventjsonchecksum IS NULL THEN " + idsSQL + " ELSE eventjson END"

// ErrNotCut says a row's eventjson cannot be cut exactly (it holds a byte that CutJSON uses).
var ErrNotCut = errors.New("eventjson holds a control byte: not cut")

// CutJSON returns js with every occurrence of each of vals (the CutColumns' values of its
// row, "" for null) and of mapVals (its maps' values, MapValuesSQL's, "" for null) replaced
// by its bytes, or ErrNotCut when the result would not read back as js (JoinJSON).
func CutJSON(js string, vals, mapVals []string) (string, error) {
	if strings.ContainsFunc(js, isCutByte) {
		return "", ErrNotCut
	}
	// The text as pieces: text not cut yet (mark == "") or a cut region's marker.
	type piece struct{ text, mark string }
	pieces := []piece{{text: js}}
	cutOut := func(v, mark string) {
		var out []piece
		for _, p := range pieces {
			if p.mark != "" || !strings.Contains(p.text, v) {
				out = append(out, p)
				continue
			}
			parts := strings.Split(p.text, v)
			for i, t := range parts {
				if i > 0 {
					out = append(out, piece{mark: mark})
				}
				if t != "" {
					out = append(out, piece{text: t})
				}
			}
		}
		pieces = out
	}
	order := make([]int, 0, len(mapVals))
	for i, v := range mapVals {
		if i < maxMapValue && len(v) >= mapMinLen {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return len(mapVals[order[a]]) > len(mapVals[order[b]]) })
	for _, i := range order {
		cutOut(mapVals[i], coldjson.MapMarker(i+1))
	}
	for k, v := range vals {
		if len(v) >= cutMinLen {
			cutOut(v, string(rune(k+1)))
		}
	}
	if len(pieces) == 1 && pieces[0].mark == "" {
		return js, nil
	}
	var b strings.Builder
	b.Grow(len(js))
	for _, p := range pieces {
		b.WriteString(p.text)
		b.WriteString(p.mark)
	}
	cut := b.String()
	if JoinJSON(cut, vals, mapVals) != js {
		return "", ErrNotCut
	}
	return cut, nil
}

// JoinJSON is ColdJSONSQL in Go: cut with vals (the CutColumns' values) and mapVals put back
// (coldjson.Append).
func JoinJSON(cut string, vals, mapVals []string) string {
	return string(coldjson.Append(make([]byte, 0, len(cut)), cut, vals, func(i int) (string, bool) {
		if i > len(mapVals) {
			return "", false
		}
		return mapVals[i-1], true
	}))
}

func isCutByte(r rune) bool { return coldjson.IsMarker(r) }
