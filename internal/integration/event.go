package integration

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/lake"
)

// Limits of one PutAuditEvents call.
const (
	MaxEventsPerCall = 100
	MaxCallBytes     = 1 << 20 // "1 MB"; auditlake reads it as 1 MiB of request body
)

// Error codes of failed entries, as PutAuditEvents returns them.
const (
	CodeFieldNotFound    = "FieldNotFound"
	CodeFieldTooLong     = "FieldTooLong"
	CodeInvalidChecksum  = "InvalidChecksum"
	CodeInvalidData      = "InvalidData"
	CodeInvalidRecipient = "InvalidRecipient"
)

// AuditEvent is one entry of a PutAuditEvents call.
type AuditEvent struct {
	ID                string `json:"id"`
	EventData         string `json:"eventData"`
	EventDataChecksum string `json:"eventDataChecksum,omitempty"`
	// notString is set when the entry's eventData was JSON but not a JSON string.
	notString bool
	// replaced counts the characters of the eventData string as sent that decoding made U+FFFD
	// (invalid UTF-8, lone UTF-16 surrogate escapes), for the event's warning.
	replaced int
}

// UnmarshalJSON keeps an entry whose eventData is not a JSON string, so that it fails alone
// (InvalidData) instead of failing the whole call.
func (e *AuditEvent) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID                string          `json:"id"`
		EventData         json.RawMessage `json:"eventData"`
		EventDataChecksum string          `json:"eventDataChecksum"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = AuditEvent{ID: raw.ID, EventDataChecksum: raw.EventDataChecksum}
	if len(raw.EventData) == 0 || string(raw.EventData) == "null" {
		return nil
	}
	if raw.EventData[0] != '"' {
		e.notString = true
		e.EventData = string(raw.EventData)
		return nil
	}
	_, e.replaced = cloudtrail.ReplaceLoneSurrogates(string(raw.EventData))
	if !utf8.Valid(raw.EventData) {
		e.replaced++
	}
	return json.Unmarshal(raw.EventData, &e.EventData)
}

// Successful is an accepted event: its id in the call and its eventID in the store, and what
// was changed in it to store it (auditlake's addition; empty when nothing was).
type Successful struct {
	ID      string `json:"id"`
	EventID string `json:"eventID"`
	Warning string `json:"warning,omitempty"`
}

// Failed is a rejected event with the reason.
type Failed struct {
	ID           string `json:"id"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

// Result is the answer to a call: one entry per event, in call order within each list.
type Result struct {
	Successful []Successful `json:"successful"`
	Failed     []Failed     `json:"failed"`
}

var idRE = regexp.MustCompile(`^[-_A-Za-z0-9]{1,128}$`)

// field limits of auditEventData (aws-formats.md §3.3), in characters for strings and in bytes
// of compact JSON for objects.
var stringLimits = []struct {
	name     string
	required bool
	limit    int
}{
	{"version", true, 256},
	{"userAgent", false, 1024},
	{"eventSource", true, 1024},
	{"eventName", true, 1024},
	{"UID", true, 1024},
	{"errorCode", false, 256},
	{"errorMessage", false, 256},
}

var objectLimits = []struct {
	name  string
	limit int
}{
	{"requestParameters", 100 * 1024},
	{"responseElements", 100 * 1024},
	{"additionalEventData", 28 * 1024},
}

// Event time layouts CloudTrail accepts: yyyy-MM-ddTHH:mm:ss in UTC, with or without the Z.
var eventTimeLayouts = []string{"2006-01-02T15:04:05Z", "2006-01-02T15:04:05"}

// accepted is a validated event.
type accepted struct {
	warning    string // what was changed to store it
	data       map[string]json.RawMessage
	compact    []byte // eventData as compact JSON
	eventTime  time.Time
	identity   map[string]json.RawMessage
	identityOK bool
}

// validate checks one event against the PutAuditEvents rules for channel ch. A channel without
// an account (ingest --eds without a channel) accepts any 12-digit recipientAccountId.
func validate(ch Channel, e AuditEvent) (*accepted, *Failed) {
	fail := func(code, format string, args ...any) (*accepted, *Failed) {
		return nil, &Failed{ID: e.ID, ErrorCode: code, ErrorMessage: fmt.Sprintf(format, args...)}
	}
	if !idRE.MatchString(e.ID) {
		if e.ID == "" {
			return fail(CodeFieldNotFound, "id is missing")
		}
		return fail(CodeInvalidData, "id must be 1-128 characters of letters, digits, '-' and '_'")
	}
	if e.notString {
		return fail(CodeInvalidData, "eventData must be a JSON string that holds the event object")
	}
	if e.EventData == "" {
		return fail(CodeFieldNotFound, "eventData is missing")
	}
	if e.EventDataChecksum != "" {
		sum := sha256.Sum256([]byte(e.EventData))
		if e.EventDataChecksum != base64.StdEncoding.EncodeToString(sum[:]) {
			return fail(CodeInvalidChecksum, "eventDataChecksum is not the base64 SHA-256 of eventData")
		}
	}
	var a accepted
	// The stored text must be what the engine's JSON functions read: valid UTF-8 without lone
	// surrogate escapes, or every query of eventjson over the store fails.
	text, n := cloudtrail.ReplaceInvalidText(e.EventData)
	if replaced := e.replaced + n; replaced > 0 {
		a.warning = fmt.Sprintf("eventData held %d invalid characters (invalid UTF-8, lone UTF-16 surrogates): stored as U+FFFD", replaced)
	}
	if err := json.Unmarshal([]byte(text), &a.data); err != nil || a.data == nil {
		return fail(CodeInvalidData, "eventData is not a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(text)); err != nil {
		return fail(CodeInvalidData, "eventData is not a JSON object")
	}
	a.compact = buf.Bytes()
	// A key given twice would be read from the last value here and from the first by the
	// engine's JSON functions over eventjson: refused rather than stored two ways.
	if key := duplicateKey(a.compact, "", identityKeys); key != "" {
		return fail(CodeInvalidData, "eventData has the key %q twice", key)
	}
	for _, f := range stringLimits {
		if code, msg := checkString(a.data, f.name, f.name, f.required, f.limit); code != "" {
			return fail(code, "%s", msg)
		}
	}
	raw, ok := present(a.data, "userIdentity")
	if !ok {
		return fail(CodeFieldNotFound, "userIdentity is missing")
	}
	if err := json.Unmarshal(raw, &a.identity); err != nil || a.identity == nil {
		return fail(CodeInvalidData, "userIdentity must be a JSON object")
	}
	if code, msg := checkString(a.identity, "type", "userIdentity.type", true, 128); code != "" {
		return fail(code, "%s", msg)
	}
	if code, msg := checkString(a.identity, "principalId", "userIdentity.principalId", true, 1024); code != "" {
		return fail(code, "%s", msg)
	}
	if raw, ok := present(a.identity, "details"); ok && !isObject(raw) {
		return fail(CodeInvalidData, "userIdentity.details must be a JSON object")
	}
	for _, f := range objectLimits {
		raw, ok := present(a.data, f.name)
		if !ok {
			continue
		}
		if !isObject(raw) {
			return fail(CodeInvalidData, "%s must be a JSON object", f.name)
		}
		if n := compactLen(raw); n > f.limit {
			return fail(CodeFieldTooLong, "%s is %d bytes; the limit is %d", f.name, n, f.limit)
		}
	}
	if code, msg := checkString(a.data, "eventTime", "eventTime", true, 64); code != "" {
		return fail(code, "%s", msg)
	}
	ts := stringValue(a.data, "eventTime")
	var err error
	for _, layout := range eventTimeLayouts {
		if a.eventTime, err = time.Parse(layout, ts); err == nil {
			break
		}
	}
	if err != nil {
		return fail(CodeInvalidData, "eventTime %q is not yyyy-MM-ddTHH:mm:ssZ (UTC)", ts)
	}
	if code, msg := checkString(a.data, "recipientAccountId", "recipientAccountId", true, 12); code != "" {
		if code == CodeFieldTooLong {
			code = CodeInvalidRecipient
		}
		return fail(code, "%s", msg)
	}
	acct := stringValue(a.data, "recipientAccountId")
	switch {
	case !accountRE.MatchString(acct):
		return fail(CodeInvalidRecipient, "recipientAccountId %q is not a 12-digit account id", acct)
	case ch.Account != "" && acct != ch.Account:
		return fail(CodeInvalidRecipient, "recipientAccountId %s is not the channel owner's account %s", acct, ch.Account)
	}
	if code, msg := checkString(a.data, "sourceIPAddress", "sourceIPAddress", false, 64); code != "" {
		return fail(CodeInvalidData, "%s", msg)
	}
	if ip := stringValue(a.data, "sourceIPAddress"); ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return fail(CodeInvalidData, "sourceIPAddress %q is not an IPv4 or IPv6 address", ip)
		}
	}
	return &a, nil
}

// identityKeys are the objects of auditEventData whose own keys are checked for duplicates
// besides the top level's: those whose fields become columns, and the maps, whose entries do.
var identityKeys = map[string][]string{
	"userIdentity": {"details"}, "requestParameters": nil, "responseElements": nil, "additionalEventData": nil,
}

// duplicateKey returns the first key (as a path from the top, "userIdentity.type") that appears
// twice in the JSON object raw, or in the objects held by the keys named in nested (and theirs,
// one level further), or "" when none does or raw is not an object.
func duplicateKey(raw []byte, path string, nested map[string][]string) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	seen := make(map[string]bool)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := t.(string)
		name := key
		if path != "" {
			name = path + "." + key
		}
		if seen[key] {
			return name
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return ""
		}
		if inner, ok := nested[key]; ok {
			next := make(map[string][]string, len(inner))
			for _, k := range inner {
				next[k] = nil
			}
			if d := duplicateKey(v, name, next); d != "" {
				return d
			}
		}
	}
	return ""
}

// present returns a field's raw value unless it is absent or JSON null.
func present(m map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return nil, false
	}
	return raw, true
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

func compactLen(raw json.RawMessage) int {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return len(raw)
	}
	return b.Len()
}

// checkString checks a string field: present when required (a missing or empty required field
// is FieldNotFound), a JSON string (InvalidData), at most limit characters (FieldTooLong).
func checkString(m map[string]json.RawMessage, key, label string, required bool, limit int) (code, msg string) {
	raw, ok := present(m, key)
	if !ok {
		if required {
			return CodeFieldNotFound, label + " is missing"
		}
		return "", ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return CodeInvalidData, label + " must be a string"
	}
	if s == "" && required {
		return CodeFieldNotFound, label + " is empty"
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return CodeFieldTooLong, fmt.Sprintf("%s is %d characters; the limit is %d", label, n, limit)
	}
	return "", ""
}

func stringValue(m map[string]json.RawMessage, key string) string {
	var s string
	if raw, ok := present(m, key); ok {
		json.Unmarshal(raw, &s)
	}
	return s
}

// eventIDNamespace is the RFC 4122 name-space of auditlake's integration event IDs.
var eventIDNamespace = [16]byte{0x6b, 0x1f, 0x3e, 0x52, 0x90, 0x2c, 0x4d, 0x0a, 0x9e, 0x41, 0x27, 0xc5, 0x88, 0x13, 0xd4, 0x6f}

// EventID is the eventID an event with id gets through the channel (or store, without a
// channel) named by scope: a version-5 (name-based) UUID, so that a retried call gets the same
// eventID and is deduplicated on it.
func EventID(scope, id string) string {
	h := sha1.New()
	h.Write(eventIDNamespace[:])
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write([]byte(id))
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// WrappedEventVersion is the eventVersion auditlake gives wrapped integration events.
const WrappedEventVersion = "1.0"

// wrapped is the event as CloudTrail Lake stores it: auditEventData inside CloudTrail's fields.
type wrapped struct {
	EventVersion       string          `json:"eventVersion"`
	EventCategory      string          `json:"eventCategory"`
	EventType          string          `json:"eventType"`
	EventID            string          `json:"eventID"`
	EventTime          string          `json:"eventTime"`
	AWSRegion          string          `json:"awsRegion"`
	RecipientAccountID string          `json:"recipientAccountId"`
	Metadata           wrappedMetadata `json:"metadata"`
	EventData          json.RawMessage `json:"eventData"`
}

type wrappedMetadata struct {
	IngestionTime string `json:"ingestionTime"`
	ChannelARN    string `json:"channelARN"`
}

// row wraps a validated event and encodes it for the activity store.
func (a *accepted) row(ch Channel, scope, id string, now time.Time) (lake.ActivityRow, error) {
	eventID := EventID(scope, id)
	acct := stringValue(a.data, "recipientAccountId")
	region := ch.Region
	if region == "" {
		region = DefaultRegion
	}
	w := wrapped{
		EventVersion: WrappedEventVersion, EventCategory: "ActivityAuditLog", EventType: "ActivityLog",
		EventID: eventID, EventTime: a.eventTime.UTC().Format("2006-01-02T15:04:05Z"), AWSRegion: region,
		RecipientAccountID: acct,
		Metadata:           wrappedMetadata{IngestionTime: now.UTC().Format("2006-01-02T15:04:05Z"), ChannelARN: ch.ARN},
		EventData:          a.compact,
	}
	ej, err := json.Marshal(w)
	if err != nil {
		return lake.ActivityRow{}, fmt.Errorf("wrap event %q: %w", id, err)
	}
	norm := map[string]any{
		"eventversion": w.EventVersion, "eventcategory": w.EventCategory, "eventtype": w.EventType,
		"awsregion": region, "recipientaccountid": acct,
		"metadata": map[string]any{"ingestiontime": w.Metadata.IngestionTime, "channelarn": nullIfEmpty(ch.ARN)},
	}
	ident := map[string]any{"type": stringValue(a.identity, "type"), "principalid": stringValue(a.identity, "principalId")}
	if m, err := encodeMap(a.identity["details"]); err != nil {
		return lake.ActivityRow{}, fmt.Errorf("encode userIdentity.details of event %q: %w", id, err)
	} else if m != nil {
		ident["details"] = m
	}
	data := map[string]any{"useridentity": ident}
	for _, f := range []struct{ col, key string }{
		{"version", "version"}, {"useragent", "userAgent"}, {"eventsource", "eventSource"}, {"eventname", "eventName"},
		{"eventtime", "eventTime"}, {"uid", "UID"}, {"errorcode", "errorCode"}, {"errormessage", "errorMessage"},
		{"sourceipaddress", "sourceIPAddress"}, {"recipientaccountid", "recipientAccountId"},
	} {
		if _, ok := present(a.data, f.key); ok {
			data[f.col] = stringValue(a.data, f.key)
		}
	}
	for _, f := range []struct{ col, key string }{
		{"requestparameters", "requestParameters"}, {"responseelements", "responseElements"}, {"additionaleventdata", "additionalEventData"},
	} {
		m, err := encodeMap(a.data[f.key])
		if err != nil {
			return lake.ActivityRow{}, fmt.Errorf("encode %s of event %q: %w", f.key, id, err)
		}
		if m != nil {
			data[f.col] = m
		}
	}
	norm["eventdata"] = data
	nb, err := json.Marshal(norm)
	if err != nil {
		return lake.ActivityRow{}, fmt.Errorf("encode event %q: %w", id, err)
	}
	return lake.ActivityRow{EventID: eventID, EventTime: a.eventTime.UTC(), Norm: nb, EventJSON: string(ej)}, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// orderedMap is a JSON object that keeps its keys in the order given.
type orderedMap []struct {
	key string
	val any
}

func (m orderedMap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.key)
		v, err := json.Marshal(kv.val)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// encodeMap turns a JSON object into the map<string,string> encoding of CloudTrail Lake
// (aws-formats.md §1.3): its top-level keys in their order, string values raw, null as NULL,
// other values as compact JSON. An absent or null object gives nil.
func encodeMap(raw json.RawMessage) (orderedMap, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	m := orderedMap{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		var val any
		switch {
		case string(v) == "null":
		case len(v) > 0 && v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			val = s
		default:
			var b bytes.Buffer
			if err := json.Compact(&b, v); err != nil {
				return nil, err
			}
			val = b.String()
		}
		m = append(m, struct {
			key string
			val any
		}{key, val})
	}
	return m, nil
}

// checkIDs returns the first id that appears twice in events, or "".
func checkIDs(events []AuditEvent) string {
	seen := make(map[string]bool, len(events))
	for _, e := range events {
		if seen[e.ID] {
			return e.ID
		}
		seen[e.ID] = true
	}
	return ""
}
