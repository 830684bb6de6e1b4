package ctparquet

import (
	"errors"
	"strconv"
	"strings"
)

// Cold eventjson (issue 21 target 5). The JSON of a record holds its event id, request id,
// access key id and shared event id a second time: random text that compresses to nothing
// less than itself, and that breaks the matches of the JSON around it (on the generator's data
// they are 36 % of eventjson's compressed bytes). A cold file whose checksums are derived
// stores eventjson with every occurrence of those columns' values cut out — each replaced by
// one control byte (CutColumns: \x01 for the first, …) — and a reader puts them back
// (ColdJSONSQL). Valid JSON holds no raw control byte (the decoder refuses them inside strings,
// and compact JSON has none outside), so the replacement is exact, and a hot row, which holds
// its checksum, is read as it is stored anyway. CutJSON checks each row's round trip.

// CutColumns are the columns whose values a cold file's eventjson leaves out, in cut order:
// the value of the k-th (0-based) is replaced by the byte k+1.
var CutColumns = []string{"eventid", "requestid", "useridentity.accesskeyid", "sharedeventid"}

// cutMinLen is the shortest value cut out: shorter ones (none of these columns' real values)
// would only break the JSON's matches.
const cutMinLen = 8

// ColdJSONSQL is the engine expression that reads eventjson the same from every file: the
// stored text where the row holds its checksum, else the stored text with the CutColumns'
// values put back, the last cut first.
var ColdJSONSQL = func() string {
	e := "eventjson"
	for k := len(CutColumns) - 1; k >= 0; k-- {
		e = "replace(" + e + ", chr(" + strconv.Itoa(k+1) + "), coalesce(" + CutColumns[k] + ", ''))"
	}
	return "CASE WHEN eventjsonchecksum IS NULL THEN " + e + " ELSE eventjson END"
}()

// ErrNotCut says a row's eventjson cannot be cut exactly (it holds a byte that CutJSON uses).
var ErrNotCut = errors.New("eventjson holds a control byte: not cut")

// CutJSON returns js with every occurrence of each of vals (the CutColumns' values of its
// row, "" for null) replaced by its byte, or ErrNotCut when the result would not read back
// as js (JoinJSON).
func CutJSON(js string, vals []string) (string, error) {
	if strings.ContainsFunc(js, isCutByte) {
		return "", ErrNotCut
	}
	cut := js
	for k, v := range vals {
		if len(v) >= cutMinLen {
			cut = strings.ReplaceAll(cut, v, string(rune(k+1)))
		}
	}
	if cut != js && JoinJSON(cut, vals) != js {
		return "", ErrNotCut
	}
	return cut, nil
}

// JoinJSON is ColdJSONSQL in Go: cut with vals put back, the last cut first.
func JoinJSON(cut string, vals []string) string {
	for k := len(vals) - 1; k >= 0; k-- {
		cut = strings.ReplaceAll(cut, string(rune(k+1)), vals[k])
	}
	return cut
}

func isCutByte(r rune) bool { return r >= 1 && int(r) <= len(CutColumns) }
