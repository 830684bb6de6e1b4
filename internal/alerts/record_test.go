package alerts

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/lake"
)

// The records as they were written before recordSpec: a map marshalled by encoding/json and
// decoded by the CloudTrail decoder. The stored rows must stay what they were.

func mapOfAlert(a Alert) map[string]any {
	return map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{"type": "AuditlakeDetection", "principalId": a.Principal, "arn": a.Principal, "accountId": a.Account},
		"eventTime":    a.EventTime.Format(time.RFC3339Nano),
		"eventSource":  EventSource,
		"eventName":    "Alert",
		"awsRegion":    orDefault(a.Region, "local"),
		"requestParameters": map[string]any{
			"rule": a.Rule, "title": a.Title, "severity": a.Severity, "store": a.Store, "eventIds": a.EventIDs,
			"account": a.Account, "summary": a.Summary, "status": a.Status, "alertedAt": a.AlertedAt.Format(time.RFC3339Nano),
			"group": orDefault(a.Group, a.ID), "resource": a.Resource, "events": max(len(a.EventIDs), 1),
		},
		"eventID":            a.ID,
		"sharedEventID":      orDefault(a.Group, a.ID),
		"eventType":          "AwsServiceEvent",
		"readOnly":           true,
		"managementEvent":    false,
		"recipientAccountId": account,
		"eventCategory":      "Management",
	}
}

func mapOfMarker(st lake.Store, fl inflight, t time.Time) map[string]any {
	return map[string]any{
		"eventVersion":       "1.09",
		"userIdentity":       map[string]any{"type": "AuditlakeDetection", "principalId": "auditlake", "arn": "auditlake", "accountId": account},
		"eventTime":          t.Format(time.RFC3339Nano),
		"eventSource":        EventSource,
		"eventName":          "AlertsEvaluated",
		"awsRegion":          "local",
		"requestParameters":  map[string]any{"store": st.Name, "files": len(fl.Files)},
		"eventID":            fl.Token,
		"eventType":          "AwsServiceEvent",
		"readOnly":           true,
		"managementEvent":    false,
		"recipientAccountId": account,
		"eventCategory":      "Management",
	}
}

func mapOfDelivered(target string, a Alert, at time.Time) map[string]any {
	m := mapOfMarker(lake.Store{}, inflight{}, a.EventTime.UTC())
	m["eventName"], m["readOnly"] = "AlertDelivered", false
	m["requestParameters"] = map[string]any{"group": a.ID, "rule": a.Rule, "target": target, "deliveredAt": at.UTC().Format(time.RFC3339Nano)}
	m["eventID"] = deliveredSpec(target, a, at).eventID
	return m
}

func mapOfStatus(sp recordSpec) map[string]any {
	m := mapOfMarker(lake.Store{}, inflight{}, sp.eventTime.UTC())
	m["eventName"], m["readOnly"], m["eventID"] = "AlertStatus", false, sp.eventID
	m["userIdentity"] = map[string]any{"type": "AuditlakeDetection", "principalId": sp.principalID, "arn": sp.arn, "accountId": account}
	rp := map[string]any{}
	for _, p := range sp.params {
		rp[p.key] = p.str
	}
	m["requestParameters"] = rp
	return m
}

// decodeAsBefore is the record the alerts store got from m before: its JSON, decoded.
func decodeAsBefore(t *testing.T, m map[string]any) *cloudtrail.Record {
	t.Helper()
	b, err := json.Marshal(map[string]any{"Records": []any{m}})
	if err != nil {
		t.Fatal(err)
	}
	var out []*cloudtrail.Record
	if _, err := cloudtrail.Decode(strings.NewReader(string(b)), "alerts", cloudtrail.DecodeOptions{}, func(r *cloudtrail.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("decoded %d records from %s", len(out), b)
	}
	return out[0]
}

// sameRecord fails unless got and want hold the same exported fields (what is stored).
func sameRecord(t *testing.T, what string, got, want *cloudtrail.Record) {
	t.Helper()
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range g.NumField() {
		f := g.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Name == "EventTime" {
			if !got.EventTime.Equal(want.EventTime) || got.EventTime.Location() != want.EventTime.Location() {
				t.Errorf("%s: EventTime %v, want %v", what, got.EventTime, want.EventTime)
			}
			continue
		}
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			t.Errorf("%s: field %s differs:\n got %s\nwant %s", what, f.Name, show(g.Field(i).Interface()), show(w.Field(i).Interface()))
		}
	}
	if got.KeyHash() != want.KeyHash() || got.KindHash() != want.KindHash() {
		t.Errorf("%s: hashes differ", what)
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprint(v))
	}
	if len(b) > 400 {
		b = append(b[:400], "…"...)
	}
	return string(b)
}

// TestRecordsAsDecoded: every kind of alerts-store record, built directly, is the record the
// map it was before gave through encoding/json and the CloudTrail decoder — the same JSON
// text (eventjson, its checksum) and the same columns — also for text that JSON escapes
// (quotes, HTML characters, control characters, U+2028, invalid UTF-8), empty values, and
// many event ids.
func TestRecordsAsDecoded(t *testing.T) {
	at := time.Date(2026, 3, 17, 10, 4, 5, 123456789, time.UTC)
	odd := []string{"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\x00nul\x1f",
		"line\u2028sep\u2029", "bad \xff\xfe utf8", "ünïcødé 🚀", "del\x7f", strings.Repeat("x", 5000)}
	ids := make([]string, 3000)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*7919)
	}
	var alerts []Alert
	for i, s := range odd {
		a := Alert{ID: fmt.Sprintf("id-%d", i), Rule: "rule " + s, Title: s, Severity: "high", Store: "prod" + s,
			EventTime: at.Add(time.Duration(i) * time.Hour).In(time.FixedZone("X", 3600)), EventIDs: []string{"e1", s},
			Principal: s, Account: s, Region: s, Summary: "summary: " + s, Status: "open", AlertedAt: at, Resource: s, Group: s}
		alerts = append(alerts, a)
	}
	alerts = append(alerts,
		Alert{ID: "many", Rule: "r", EventTime: at, EventIDs: ids, Status: "open", AlertedAt: at},
		Alert{ID: "none", Rule: "r", EventTime: at, Status: "open", AlertedAt: at}, // nil ids: JSON null
		Alert{ID: "empty", Rule: "r", EventTime: at, EventIDs: []string{}, AlertedAt: at})
	var specs []recordSpec
	var want []*cloudtrail.Record
	for _, a := range alerts {
		specs, want = append(specs, alertSpec(a)), append(want, decodeAsBefore(t, mapOfAlert(a)))
	}
	for i, s := range odd {
		st := lake.Store{Name: s}
		fl := inflight{Token: "token-" + s, Files: make([]string, i)}
		specs, want = append(specs, markerSpec(st, fl, at)), append(want, decodeAsBefore(t, mapOfMarker(st, fl, at)))
		a := alerts[i]
		specs, want = append(specs, deliveredSpec(s, a, at)), append(want, decodeAsBefore(t, mapOfDelivered(s, a, at)))
		status := statusSpec("group "+s, s, "acknowledged", "open", s, at, a.EventTime)
		specs, want = append(specs, status), append(want, decodeAsBefore(t, mapOfStatus(status)))
	}
	got := buildRecords(specs)
	for i := range got {
		sameRecord(t, fmt.Sprintf("record %d (%s)", i, specs[i].eventID), got[i], want[i])
	}
}

// appendJSONString writes every byte, and strings of every kind, as encoding/json writes them
// (its table of plain bytes is the encoder's set, HTML-safe), and gives back what a JSON
// decoder reads.
func TestAppendJSONStringWritesAsEncodingJSON(t *testing.T) {
	f := func(s string) {
		t.Helper()
		want, _ := json.Marshal(s)
		var wantVal string
		if err := json.Unmarshal(want, &wantVal); err != nil {
			t.Fatal(err)
		}
		got, val := appendJSONString([]byte("x"), s)
		if string(got) != "x"+string(want) || val != wantVal {
			t.Errorf("appendJSONString(%q) = %s, %q; want %s, %q", s, got[1:], val, want, wantVal)
		}
	}
	for c := range 256 {
		f(string([]byte{'a', byte(c), 'b'}))
	}
	f("")
	f("5d0c8a51-3c8e-4b0e-9f6a-0123456789ab")
	f("arn:aws:iam::123456789012:role/R<&>\"\\")
	f("日本\u2028\x7f\xff")
}

// BenchmarkAppendIDs times writing 100,000 event ids as a JSON array (an alert record's
// eventIds: ~30 MB of them an ingest of 1M events).
func BenchmarkAppendIDs(b *testing.B) {
	ids := make([]string, 100_000)
	size := 0
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-%04x-4000-8000-%012x", i, i%7, i)
		size += len(ids[i]) + 3
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	var buf []byte
	for range b.N {
		buf = appendIDs(buf[:0], ids)
	}
}

// TestIDsJSONMadeWithTheIDsIsCopiedWhole: an alert whose ids are substrings of their JSON
// array, as rules.MatchGroup.IDsJSON makes them, has its record built from that text (copied
// whole) — the same record, whole or with the ids cut out, as one whose ids are written one by
// one; ids that are not that text's (replaced, truncated, reordered) are written one by one.
func TestIDsJSONMadeWithTheIDsIsCopiedWhole(t *testing.T) {
	at := time.Date(2026, 3, 17, 10, 4, 5, 0, time.UTC)
	var b strings.Builder
	b.WriteByte('[')
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%08x-0000-4000-8000-%012x"`, i, i*7919)
	}
	b.WriteByte(']')
	text := b.String()
	var ids []string
	for off := 2; off < len(text); off += 36 + 3 {
		ids = append(ids, text[off:off+36])
	}
	made := Alert{ID: "made", Rule: "r", EventTime: at, EventIDs: ids, Status: "open", AlertedAt: at, idsJSON: text}
	if p := idsParam(made.EventIDs, made.idsJSON); p.json != text {
		t.Fatalf("ids made with their JSON are not taken whole")
	}
	written := made
	written.idsJSON = ""
	for _, cut := range []bool{false, true} {
		got, want := buildRecordsCut([]recordSpec{alertSpec(made)}, cut), buildRecordsCut([]recordSpec{alertSpec(written)}, cut)
		sameRecord(t, fmt.Sprintf("cut %v", cut), got[0], want[0])
		if got[0].EventJSON != want[0].EventJSON {
			t.Errorf("cut %v: eventjson differs", cut)
		}
	}
	sameRecord(t, "as decoded", buildRecords([]recordSpec{alertSpec(made)})[0], decodeAsBefore(t, mapOfAlert(made)))
	for name, other := range map[string][]string{
		"copied": func() (c []string) {
			for _, id := range ids {
				c = append(c, strings.Clone(id))
			}
			return c
		}(),
		"truncated": ids[:100],
		"reordered": slices.Concat(ids[:5], []string{ids[6], ids[5]}, ids[7:]),
		"dropped":   append(slices.Clone(ids[:10]), ids[11:]...),
	} {
		if p := idsParam(other, text); p.json != "" {
			t.Errorf("%s ids: taken as the text's", name)
		}
		a := made
		a.EventIDs = other
		sameRecord(t, name, buildRecords([]recordSpec{alertSpec(a)})[0], decodeAsBefore(t, mapOfAlert(a)))
	}
}
