package integration

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

var testChannel = Channel{ARN: "arn:aws:cloudtrail:us-east-1:111122223333:channel/6b1f3e52-902c-4d0a-9e41-27c58813d46f", Account: "111122223333", Region: "us-east-1"}

// payload returns a valid auditEventData with fields changed by edit (nil deletes a field).
func payload(t *testing.T, edit map[string]any) string {
	t.Helper()
	d := map[string]any{
		"version":            "1.0",
		"userIdentity":       map[string]any{"type": "Employee", "principalId": "alice"},
		"eventSource":        "app.example.com",
		"eventName":          "Login",
		"eventTime":          "2026-03-01T10:00:00Z",
		"UID":                "u-1",
		"recipientAccountId": "111122223333",
	}
	for k, v := range edit {
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(h[:])
}

func TestValidateAppliesEveryPutAuditEventsRule(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	big := func(n int) map[string]any { return map[string]any{"k": strings.Repeat("x", n)} }
	good := payload(t, nil)
	cases := []struct {
		name     string
		ev       AuditEvent
		wantCode string // "" = accepted
	}{
		{"valid without checksum", AuditEvent{ID: "e1", EventData: good}, ""},
		{"valid with checksum", AuditEvent{ID: "e1", EventData: good, EventDataChecksum: sum(good)}, ""},
		{"eventTime without Z", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"eventTime": "2026-03-01T10:00:00"})}, ""},
		{"optional fields at their limits", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{
			"userAgent": long(1024), "errorCode": long(256), "errorMessage": long(256), "sourceIPAddress": "192.0.2.1",
			"requestParameters": map[string]any{"a": 1}, "additionalEventData": map[string]any{"b": "c"}})}, ""},
		{"id of 128 characters", AuditEvent{ID: long(128), EventData: good}, ""},
		{"id missing", AuditEvent{EventData: good}, CodeFieldNotFound},
		{"id of 129 characters", AuditEvent{ID: long(129), EventData: good}, CodeInvalidData},
		{"id with a space", AuditEvent{ID: "a b", EventData: good}, CodeInvalidData},
		{"id with a dot", AuditEvent{ID: "a.b", EventData: good}, CodeInvalidData},
		{"eventData missing", AuditEvent{ID: "e1"}, CodeFieldNotFound},
		{"eventData an object, not a string", AuditEvent{ID: "e1", EventData: good, notString: true}, CodeInvalidData},
		{"eventData not JSON", AuditEvent{ID: "e1", EventData: "{nope"}, CodeInvalidData},
		{"eventData a JSON array", AuditEvent{ID: "e1", EventData: "[1]"}, CodeInvalidData},
		{"checksum of other bytes", AuditEvent{ID: "e1", EventData: good, EventDataChecksum: sum(good + " ")}, CodeInvalidChecksum},
		{"checksum not base64", AuditEvent{ID: "e1", EventData: good, EventDataChecksum: "***"}, CodeInvalidChecksum},
		{"checksum hex instead of base64", AuditEvent{ID: "e1", EventData: good, EventDataChecksum: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, CodeInvalidChecksum},
		{"version missing", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"version": nil})}, CodeFieldNotFound},
		{"version too long", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"version": long(257)})}, CodeFieldTooLong},
		{"version a number", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"version": 1})}, CodeInvalidData},
		{"userIdentity missing", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"userIdentity": nil})}, CodeFieldNotFound},
		{"userIdentity a string", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"userIdentity": "alice"})}, CodeInvalidData},
		{"userIdentity.type missing", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"userIdentity": map[string]any{"principalId": "a"}})}, CodeFieldNotFound},
		{"userIdentity.type too long", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"userIdentity": map[string]any{"type": long(129), "principalId": "a"}})}, CodeFieldTooLong},
		{"userIdentity.principalId missing", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"userIdentity": map[string]any{"type": "T"}})}, CodeFieldNotFound},
		{"userIdentity.principalId too long", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"userIdentity": map[string]any{"type": "T", "principalId": long(1025)}})}, CodeFieldTooLong},
		{"userIdentity.details not an object", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"userIdentity": map[string]any{"type": "T", "principalId": "a", "details": "x"}})}, CodeInvalidData},
		{"userAgent too long", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"userAgent": long(1025)})}, CodeFieldTooLong},
		{"eventSource missing", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"eventSource": nil})}, CodeFieldNotFound},
		{"eventSource too long", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"eventSource": long(1025)})}, CodeFieldTooLong},
		{"eventName missing", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"eventName": nil})}, CodeFieldNotFound},
		{"eventName empty", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"eventName": ""})}, CodeFieldNotFound},
		{"eventName too long", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"eventName": long(1025)})}, CodeFieldTooLong},
		{"eventTime missing", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"eventTime": nil})}, CodeFieldNotFound},
		{"eventTime with an offset", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"eventTime": "2026-03-01T10:00:00+02:00"})}, CodeInvalidData},
		{"eventTime a date", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"eventTime": "2026-03-01"})}, CodeInvalidData},
		{"eventTime a number", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"eventTime": 1767261600})}, CodeInvalidData},
		{"UID missing", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"UID": nil})}, CodeFieldNotFound},
		{"UID too long", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"UID": long(1025)})}, CodeFieldTooLong},
		{"requestParameters not an object", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"requestParameters": []int{1}})}, CodeInvalidData},
		{"requestParameters over 100 KB", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"requestParameters": big(100 * 1024)})}, CodeFieldTooLong},
		{"responseElements over 100 KB", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"responseElements": big(100 * 1024)})}, CodeFieldTooLong},
		{"additionalEventData over 28 KB", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"additionalEventData": big(28 * 1024)})}, CodeFieldTooLong},
		{"errorCode too long", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"errorCode": long(257)})}, CodeFieldTooLong},
		{"errorMessage too long", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"errorMessage": long(257)})}, CodeFieldTooLong},
		{"sourceIPAddress not an address", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"sourceIPAddress": "example.com"})}, CodeInvalidData},
		{"recipientAccountId missing", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"recipientAccountId": nil})}, CodeFieldNotFound},
		{"recipientAccountId another account", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"recipientAccountId": "999999999999"})}, CodeInvalidRecipient},
		{"recipientAccountId not 12 digits", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"recipientAccountId": "1234"})}, CodeInvalidRecipient},
		{"recipientAccountId twice", AuditEvent{ID: "e1", EventData: strings.TrimSuffix(good, "}") + `,"recipientAccountId":"111122223333"}`}, CodeInvalidData},
		{"userIdentity.principalId twice", AuditEvent{ID: "e1", EventData: strings.Replace(good, `"principalId":"alice"`, `"principalId":"alice","principalId":"bob"`, 1)}, CodeInvalidData},
		{"a key twice in requestParameters", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"requestParameters": json.RawMessage(`{"a":1,"a":2}`)})}, CodeInvalidData},
		{"a key twice deeper in requestParameters", AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"requestParameters": json.RawMessage(`{"a":{"b":1,"b":2}}`)})}, ""},
		{"a lone surrogate", AuditEvent{ID: "e1", EventData: strings.Replace(good, `"alice"`, `"al\ud800ice"`, 1)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, f := validate(testChannel, c.ev)
			got := ""
			if f != nil {
				got = f.ErrorCode
				if f.ID != c.ev.ID || f.ErrorMessage == "" {
					t.Errorf("failure entry %+v: want id %q and a message", f, c.ev.ID)
				}
			}
			if got != c.wantCode {
				t.Errorf("code = %q, want %q (%+v)", got, c.wantCode, f)
			}
		})
	}
}

// TestValidateStoresLoneSurrogatesAndInvalidUTF8AsReplacementCharsWithAWarning: the stored
// text of an event (eventjson, the map values) must be what the engine's JSON functions read.
func TestValidateStoresLoneSurrogatesAndInvalidUTF8AsReplacementCharsWithAWarning(t *testing.T) {
	f := func(ev AuditEvent, want string) {
		t.Helper()
		a, fail := validate(testChannel, ev)
		if fail != nil {
			t.Fatalf("refused: %+v", fail)
		}
		row, err := a.row(testChannel, testChannel.ARN, ev.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{row.EventJSON, string(row.Norm)} {
			if _, n := cloudtrail.ReplaceLoneSurrogates(text); n > 0 || !utf8.ValidString(text) {
				t.Errorf("stored text holds a lone surrogate or invalid UTF-8: %s", text)
			}
		}
		var stored struct {
			EventData struct{ RequestParameters struct{ K string } }
		}
		json.Unmarshal([]byte(row.EventJSON), &stored)
		if got := stored.EventData.RequestParameters.K; got != want || !strings.Contains(a.warning, "U+FFFD") {
			t.Errorf("stored k = %q, warning %q; want %q and a warning", got, a.warning, want)
		}
	}
	f(AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"requestParameters": json.RawMessage(`{"k":"a\ud800b"}`)})}, "a\uFFFDb")
	f(AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"requestParameters": json.RawMessage(`{"k":"\udc00"}`)})}, "\uFFFD")
	f(AuditEvent{ID: "e1", EventData: strings.Replace(payload(t, map[string]any{"requestParameters": map[string]string{"k": "MARK"}}), "MARK", "a\xffb", 1)}, "a\uFFFDb")
	var outer []AuditEvent // the lone surrogate is an escape of the eventData string itself
	body := `[{"id":"e1","eventData":` + strings.Replace(strconv.Quote(payload(t, map[string]any{"requestParameters": map[string]string{"k": "MARK"}})), "MARK", `x\ud800`, 1) + `}]`
	if err := json.Unmarshal([]byte(body), &outer); err != nil {
		t.Fatal(err)
	}
	f(outer[0], "x\uFFFD")
	if a, _ := validate(testChannel, AuditEvent{ID: "e1", EventData: payload(t, nil)}); a.warning != "" {
		t.Errorf("a clean event got the warning %q", a.warning)
	}
}

func TestValidateWithoutChannelAccountAcceptsAnyAccount(t *testing.T) {
	_, f := validate(Channel{}, AuditEvent{ID: "e1", EventData: payload(t, map[string]any{"recipientAccountId": "999999999999"})})
	if f != nil {
		t.Fatalf("store-only ingest rejected another account: %+v", f)
	}
}

func TestAuditEventDecodingKeepsNonStringEventDataForAPerEventFailure(t *testing.T) {
	var evs []AuditEvent
	if err := json.Unmarshal([]byte(`[{"id":"a","eventData":{"version":"1.0"}},{"id":"b","eventData":"{}"}]`), &evs); err != nil {
		t.Fatal(err)
	}
	if !evs[0].notString || evs[1].notString || evs[1].EventData != "{}" {
		t.Fatalf("decoded %+v", evs)
	}
}

func TestEncodeMapKeepsOrderStringsRawAndNestedValuesCompact(t *testing.T) {
	m, err := encodeMap(json.RawMessage(`{"z": "raw", "a": {"b": [1, 2]}, "n": 1.50, "t": true, "x": null}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"z":"raw","a":"{\"b\":[1,2]}","n":"1.50","t":"true","x":null}`; string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestEventIDIsAStableV5UUIDScopedToTheChannel(t *testing.T) {
	a, b, c := EventID("chan-1", "e1"), EventID("chan-1", "e1"), EventID("chan-2", "e1")
	if a != b || a == c {
		t.Fatalf("EventID: same input %s vs %s, other channel %s", a, b, c)
	}
	if len(a) != 36 || a[14] != '5' || !strings.ContainsRune("89ab", rune(a[19])) {
		t.Errorf("EventID %s is not a version-5 RFC 4122 UUID", a)
	}
}

func TestReadEventsAcceptsRequestBodiesEntriesAndBareEvents(t *testing.T) {
	bare := `{"version":"1.0","UID":"uid-7","eventName":"X"}`
	badUID := `{"version":"1.0","UID":"has spaces","eventName":"Y"}`
	in := `{"auditEvents":[{"id":"r1","eventData":"{}"},{"id":"r2","eventData":"{}","eventDataChecksum":"c"}],"channelArn":"arn:x"}
{"id":"e1","eventData":"{\"a\":1}"}
` + bare + `
[` + badUID + `, {"id":"e2","eventData":"{}"}]
`
	evs, errs := ReadEvents(strings.NewReader(in))
	if errs != nil {
		t.Fatal(errs)
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	if len(evs) != 6 || strings.Join(ids[:4], ",") != "r1,r2,e1,uid-7" || ids[5] != "e2" {
		t.Fatalf("ids = %v", ids)
	}
	if evs[1].EventDataChecksum != "c" || evs[2].EventData != `{"a":1}` || evs[3].EventData != bare {
		t.Errorf("events = %+v", evs[:4])
	}
	if len(ids[4]) != 32 || !idRE.MatchString(ids[4]) {
		t.Errorf("bare event with an invalid UID got id %q, want 32 hex digits", ids[4])
	}
	again, _ := ReadEvents(strings.NewReader(badUID))
	if again[0].ID != ids[4] {
		t.Errorf("hashed id not stable: %s vs %s", again[0].ID, ids[4])
	}
	if _, errs := ReadEvents(strings.NewReader(`{"id":"ok","eventData":"{}"}` + "\n{broken")); len(errs) != 1 || !strings.Contains(errs[0].Error(), "JSON value 2") {
		t.Errorf("malformed second value: errors = %v", errs)
	}
}

// TestReadEventsKeepsTheEventsAfterABadLine gives a JSON Lines file whose second line is not
// JSON, whose fourth is JSON but not an event, and a pretty-printed file with a broken value
// between good ones: every good event, before and after, is read, and each bad value is named
// by its number and byte offset. Before, the first bad value ended the file, and the events
// after it were neither read nor counted.
func TestReadEventsKeepsTheEventsAfterABadLine(t *testing.T) {
	f := func(in string, wantIDs string, wantErrs ...string) {
		t.Helper()
		evs, errs := ReadEvents(strings.NewReader(in))
		var ids []string
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		if got := strings.Join(ids, ","); got != wantIDs {
			t.Errorf("ids %q, want %q (errors %v)", got, wantIDs, errs)
		}
		if len(errs) != len(wantErrs) {
			t.Fatalf("errors %q, want %d: %q", errs, len(wantErrs), wantErrs)
		}
		for i, w := range wantErrs {
			if !strings.Contains(errs[i].Error(), w) {
				t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
			}
		}
	}
	f(`{"id":"a","eventData":"{}"}
{"id": oops
{"id":"b","eventData":"{}"}
42
{"id":"c","eventData":"{}"}
`, "a,b,c", "JSON value 2 (byte 28)", "JSON value 4: not a JSON object")
	f("{\"id\":\"a\",\"eventData\":\"{}\"}\n\x00\x00\n{\"id\":\"b\",\"eventData\":\"{}\"}", "a,b", "JSON value 2")
	f(`{
  "id": "a",
  "eventData": "{}"
}
{
  "id": oops,
  "eventData": "{}"
}
{
  "id": "b",
  "eventData": "{}"
}
`, "a,b", "JSON value 2")
	f(`{"id":"a","eventData":"{}"}`+"\n"+`{"id":"b","eventData":`, "a", "JSON value 2 (byte 28): unexpected EOF")
}

// TestReadEventsSkipsAByteOrderMark reads a file saved with a UTF-8 byte order mark (Windows
// editors, PowerShell's Out-File) as ingest cloudtrail does: its events are read. Before, the
// whole file was refused with "invalid character 'ï' looking for beginning of value".
func TestReadEventsSkipsAByteOrderMark(t *testing.T) {
	evs, errs := ReadEvents(strings.NewReader("\ufeff" + `{"id":"a","eventData":"{}"}` + "\n" + `{"id":"b","eventData":"{}"}`))
	if len(errs) != 0 || len(evs) != 2 {
		t.Fatalf("%d events, errors %v; want 2 and none", len(evs), errs)
	}
}
