package cloudtrail_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// loneSurrogateEscape returns the first \u escape of a UTF-16 surrogate in the JSON text s that
// is not half of a valid pair (high then low), or "". It is the test's own reading of RFC 8259
// §7, written apart from the decoder: DuckDB refuses such text ("no low surrogate").
func loneSurrogateEscape(s string) string {
	hex := func(i int) int {
		if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
			return -1
		}
		v, err := strconv.ParseUint(s[i+2:i+6], 16, 16)
		if err != nil {
			return -1
		}
		return int(v)
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		v := hex(i)
		switch {
		case v < 0:
			i++ // another escape: skip the escaped byte (it may be a backslash)
		case 0xd800 <= v && v < 0xdc00:
			if w := hex(i + 6); 0xdc00 <= w && w < 0xe000 {
				i += 11
				continue
			}
			return s[i : i+6]
		case 0xdc00 <= v && v < 0xe000:
			return s[i : i+6]
		default:
			i += 5
		}
	}
	return ""
}

// checkStrings fails when a string anywhere in r (columns, map keys and values) is not valid
// UTF-8.
func checkStrings(t testing.TB, i int, r *cloudtrail.Record) {
	t.Helper()
	var walk func(v reflect.Value, name string)
	walk = func(v reflect.Value, name string) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), name)
			}
		case reflect.String:
			if !utf8.ValidString(v.String()) {
				t.Errorf("record %d: %s is not valid UTF-8: %q", i, name, v.String())
			}
		case reflect.Struct:
			for f := 0; f < v.NumField(); f++ {
				if v.Type().Field(f).IsExported() {
					walk(v.Field(f), name+"."+v.Type().Field(f).Name)
				}
			}
		case reflect.Slice:
			for k := 0; k < v.Len(); k++ {
				walk(v.Index(k), name+"["+strconv.Itoa(k)+"]")
			}
		}
	}
	walk(reflect.ValueOf(r), "record")
}

func TestLoneSurrogateEscapesAreReplacedAndNothingElse(t *testing.T) {
	f := func(in, want string, n int) {
		t.Helper()
		got, gotN := cloudtrail.ReplaceLoneSurrogates(in)
		if got != want || gotN != n {
			t.Errorf("ReplaceLoneSurrogates(%s) = %s, %d; want %s, %d", in, got, gotN, want, n)
		}
		if e := loneSurrogateEscape(got); e != "" {
			t.Errorf("ReplaceLoneSurrogates(%s) still holds %s", in, e)
		}
	}
	f(`{"a":"x"}`, `{"a":"x"}`, 0)
	f(`{"a":"\ud800"}`, `{"a":"\ufffd"}`, 1)
	f(`{"a":"\uDBFFx"}`, `{"a":"\ufffdx"}`, 1)
	f(`{"a":"\udc00"}`, `{"a":"\ufffd"}`, 1)
	f(`{"a":"\ud800\u0041"}`, `{"a":"\ufffd\u0041"}`, 1)
	f(`{"a":"\ud800\ud800\udc00"}`, `{"a":"\ufffd\ud800\udc00"}`, 1)
	f(`{"a":"\udc00\ud800"}`, `{"a":"\ufffd\ufffd"}`, 2)
	f(`{"a":"\ud83d\ude00","\ud800":1}`, `{"a":"\ud83d\ude00","\ufffd":1}`, 1)
	f(`{"a":"\\ud800"}`, `{"a":"\\ud800"}`, 0)   // an escaped backslash, then text
	f(`{"a":"\\\ud800"}`, `{"a":"\\\ufffd"}`, 1) // an escaped backslash, then an escape
	f(`{"a":"\ud7ff\ue000"}`, `{"a":"\ud7ff\ue000"}`, 0)
	f(`{"a":"\ud80`, `{"a":"\ud80`, 0) // cut short: left for the parser to refuse
	f(`\`, `\`, 0)
}

// TestDecodeReplacesLoneSurrogatesInColumnsJSONAndMapsWithAWarning: a trail file whose records
// hold lone surrogate escapes (in a column, a map value's JSON text, a map key, a lookup-events
// record, a pretty-printed record) keeps every record, each with one warning, and no part of any
// record — eventJSON, map values, columns — keeps a lone surrogate: the engine's JSON functions
// would refuse the whole store's eventjson (issue 14, item 6).
func TestDecodeReplacesLoneSurrogatesInColumnsJSONAndMapsWithAWarning(t *testing.T) {
	a := `{"eventTime":"2024-01-02T03:04:05Z","eventID":"a","eventName":"x\ud800y","userAgent":"\\ud800",` +
		`"requestParameters":{"k":["\udc00",{"n":"\ud800"}],"p":"\ud83d\ude00","q\ud800":"v"}}`
	b := `{"eventTime":"2024-01-02T03:04:05Z","eventID":"b","eventName":"\ud800\u0041"}`
	c := `{"CloudTrailEvent":` + quote(`{"eventTime":"2024-01-02T03:04:05Z","eventID":"c","eventName":"\udfff"}`) + `}`
	for _, tc := range []struct{ name, in string }{
		{"trail file", `{"Records":[` + a + `,` + b + `,` + c + `,` + rec2 + `]}`},
		{"pretty-printed JSON Lines", strings.ReplaceAll(a, `":`, `": `) + "\n" + b + "\n" + c + "\n" + rec2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, opts := range []cloudtrail.DecodeOptions{{}, {MaxInMemoryBytes: -1}} {
				res := decode(t, []byte(tc.in), opts)
				if res.err != nil || len(res.recs) != 4 || res.st.Warnings != 3 || res.st.Errors != 0 {
					t.Fatalf("%d records, err %v, problems %v; want 4 records and 3 warnings", len(res.recs), res.err, res.st.Problems)
				}
				for i, p := range res.st.Problems {
					if p.Record != i+1 || !strings.Contains(p.Msg, "lone UTF-16 surrogate escape(s)") || !strings.Contains(p.Msg, "replaced with U+FFFD") {
						t.Errorf("problem %d = %v; want a surrogate warning for record %d", i, p, i+1)
					}
				}
				ra, rb, rc := res.recs[0], res.recs[1], res.recs[2]
				for _, c := range []struct{ got, want string }{
					{str(ra.EventName), "x\uFFFDy"},
					{str(ra.UserAgent), `\ud800`}, // an escaped backslash: text, not an escape
					{get(ra.RequestParameters, "k"), `["\ufffd",{"n":"\ufffd"}]`},
					{get(ra.RequestParameters, "p"), "\U0001F600"},
					{get(ra.RequestParameters, "q\uFFFD"), "v"},
					{str(rb.EventName), "\uFFFDA"},
					{str(rc.EventName), "\uFFFD"},
				} {
					if c.got != c.want {
						t.Errorf("got %q, want %q", c.got, c.want)
					}
				}
				if !strings.Contains(ra.EventJSON, `"x\ufffdy"`) || !strings.Contains(ra.EventJSON, `\ud83d\ude00`) || !strings.Contains(ra.EventJSON, `"\\ud800"`) {
					t.Errorf("eventJSON = %s; want \\ufffd for the lone ones, the pair and the escaped backslash kept", ra.EventJSON)
				}
			}
		})
	}
}

// TestDecodeRefusesRecordsWithDuplicateKeysAndKeepsTheOthers: a key the decoder reads into a
// column, given twice — at the record's top (any spelling), in userIdentity and every object
// under it, in tlsDetails, in a resource — refuses that record with an error naming the key:
// the column would hold the last value and the engine's JSON functions read the first from
// eventjson (issue 14, item 7). The records around it are kept; keys no column holds and map
// keys are not refused.
func TestDecodeRefusesRecordsWithDuplicateKeysAndKeepsTheOthers(t *testing.T) {
	rec := func(id, more string) string {
		return `{"eventTime":"2024-01-02T03:04:05Z","eventID":"` + id + `","eventName":"E"` + more + `}`
	}
	refused := []struct{ body, key string }{
		{rec("x", `,"eventID":"y"`), "eventID"},
		{rec("x", `,"recipientAccountId":"111122223333","recipientAccountId":"444455556666"`), "recipientAccountId"},
		{rec("x", `,"EVENTNAME":"F"`), "EVENTNAME"},
		{rec("x", `,"userIdentity":{"arn":"a","arn":"b"}`), "userIdentity.arn"},
		{rec("x", `,"userIdentity":{"accountId":"1","sessionContext":{"sessionIssuer":{"arn":"a","ARN":"b"}}}`), "userIdentity.sessionContext.sessionIssuer.ARN"},
		{rec("x", `,"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":"true","mfaAuthenticated":"false"}}}`), "userIdentity.sessionContext.attributes.mfaAuthenticated"},
		{rec("x", `,"userIdentity":{"type":"A"},"userIdentity":{"type":"B"}`), "userIdentity"},
		{rec("x", `,"tlsDetails":{"tlsVersion":"1","tlsVersion":"2"}`), "tlsDetails.tlsVersion"},
		{rec("x", `,"resources":[{"ARN":"a"},{"ARN":"b","accountId":"1","accountId":"2"}]`), "resources.accountId"},
	}
	kept := []string{rec1, rec("u", `,"note":1,"note":2`), rec("m", `,"requestParameters":{"k":{"a":1,"a":2}}`), rec2}
	items := []string{kept[0]}
	for _, r := range refused {
		items = append(items, r.body)
	}
	items = append(items, kept[1:]...)
	for _, opts := range []cloudtrail.DecodeOptions{{}, {MaxInMemoryBytes: -1}} {
		res := decode(t, []byte(`{"Records":[`+strings.Join(items, ",")+`]}`), opts)
		if res.err != nil || len(res.recs) != len(kept) || res.st.Errors != len(refused) {
			t.Fatalf("%d records, %d errors, err %v; want %d and %d: %v", len(res.recs), res.st.Errors, res.err, len(kept), len(refused), res.st.Problems)
		}
		for i, r := range refused {
			want := `record ` + strconv.Itoa(i+2) + ` (line 1): key "` + r.key + `" appears twice: the record is refused`
			if got := res.st.Problems[i].String(); !strings.Contains(got, want) {
				t.Errorf("problem %d = %s; want %s", i, got, want)
			}
		}
		if got := []string{res.recs[0].EventID, res.recs[1].EventID, res.recs[2].EventID, res.recs[3].EventID}; !reflect.DeepEqual(got, []string{"11111111-1111-1111-1111-111111111111", "u", "m", "22222222-2222-2222-2222-222222222222"}) {
			t.Errorf("kept %v", got)
		}
	}
}
