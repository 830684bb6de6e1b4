package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/coldjson"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/rules"
)

// The records of the alerts store (alerts, markers, status changes, deliveries) are built
// here as the CloudTrail decoder would read them from their JSON text: the text is what
// encoding/json wrote for the map[string]any each record was before (keys sorted, HTML-safe
// escapes), so the stored rows are byte for byte what they were, and the fields are set from
// the values in hand instead of marshalling a map and decoding the text again (that round
// trip was half of an evaluation's cost: ~35,000 records naming 784k event ids per 1M events).
// TestRecordsAsDecoded compares each kind of record with the decoder's reading of its text.

// recordSpec is one alerts-store record: every one has eventSource auditlake.alerts, event
// version 1.09, type AwsServiceEvent, category Management, managementEvent false and the
// lake's account as recipientAccountId.
type recordSpec struct {
	// identity is userIdentity: type, principalId, arn, accountId.
	identityType, principalID, arn, accountID string
	// eventTime is written in its own zone (the decoder reads it as UTC).
	eventTime                  time.Time
	eventName, region, eventID string
	// shared is sharedEventID ("" for none).
	shared   string
	readOnly bool
	params   []param // requestParameters, in any order
}

// param is one requestParameters entry: a string, raw JSON text (a number), or an array of
// strings (idsJSON) written into the record's text as it is built.
type param struct {
	key, str string
	raw      bool
	// ids, when isIDs, are written as a JSON array of strings (null for nil); json, when not
	// "", is that array's text already (idsParam).
	ids   []string
	isIDs bool
	json  string
}

func strParam(k, v string) param { return param{key: k, str: v} }
func intParam(k string, n int) param {
	return param{key: k, str: strconv.Itoa(n), raw: true}
}

// idsJSON is the JSON array of ids (null for none, as encoding/json writes a nil slice),
// written straight into the record's text by build (a text of its own first, and copied, was
// two more copies of the ~30 MB of ids a 1M ingest's alerts name).
func idsJSON(ids []string) param {
	return param{key: "eventIds", raw: true, ids: ids, isIDs: true}
}

// idsParam is idsJSON(ids), with text the array's JSON when it is known to be: the text
// rules.MatchGroup.IDsJSON made with ids, each id the substring between its quotes (checked
// by their places — the ids' headers read, not their bytes — so ids replaced, cut or reordered
// since are written one by one).
func idsParam(ids []string, text string) param {
	p := idsJSON(ids)
	if text == "" || len(ids) == 0 {
		return p
	}
	base := uintptr(unsafe.Pointer(unsafe.StringData(text)))
	off := 2 // past [ and the first "
	for _, id := range ids {
		if len(id) == 0 || uintptr(unsafe.Pointer(unsafe.StringData(id))) != base+uintptr(off) {
			return p
		}
		off += len(id) + 3 // ","
	}
	if off-1 != len(text) { // the last id's "] ends the text
		return p
	}
	p.json = text
	return p
}

// appendIDs appends ids as encoding/json writes a []string.
func appendIDs(b []byte, ids []string) []byte {
	if ids == nil {
		return append(b, "null"...)
	}
	n := 2
	for _, id := range ids {
		n += len(id) + 3
	}
	b = slices.Grow(b, n)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b, _ = appendJSONString(b, id)
	}
	return append(b, ']')
}

// appendJSONString appends s as encoding/json writes a string, and returns the value a JSON
// decoder reads from it (s, or s with its invalid UTF-8 replaced as encoding/json replaces it).
func appendJSONString(b []byte, s string) ([]byte, string) {
	if !rules.JSONPlain(s) {
		q, _ := json.Marshal(s) // cannot fail for a string
		var v string
		if err := json.Unmarshal(q, &v); err != nil {
			v = s
		}
		return append(b, q...), v
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), s
}

// build returns the record: its JSON text and the fields the decoder reads from it. With cut,
// a record's event ids (requestParameters.eventIds, when there are some) are left out of its
// eventjson as a cold file leaves a map's value out (ctparquet.CutJSON: the mark and the
// value's place among the row's map values), and its checksum to derive (cloudtrail.JSONCut):
// readers put them back (ctparquet.ColdJSONSQL, DerivedChecksumSQL), so every query reads the
// same, and the alerts store's files hold the ids once, not twice (~30 MB, hashed and
// compressed twice, at a 1M ingest).
func (sp recordSpec) build(buf []byte, cut bool) (*cloudtrail.Record, []byte) {
	b := buf[:0]
	var vals [32]string // decoded values, in the order written
	nv := 0
	str := func(key, v string) int {
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":`...)
		b, vals[nv] = appendJSONString(b, v)
		nv++
		b = append(b, ',')
		return nv - 1
	}
	lit := func(key, text string) {
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":`...)
		b = append(b, text...)
		b = append(b, ',')
	}
	b = append(b, '{')
	region := str("awsRegion", sp.region)
	category := str("eventCategory", "Management")
	id := str("eventID", sp.eventID)
	name := str("eventName", sp.eventName)
	source := str("eventSource", EventSource)
	timeText := sp.eventTime.Format(time.RFC3339Nano) // in its zone, as the map had it
	str("eventTime", timeText)
	typ := str("eventType", "AwsServiceEvent")
	version := str("eventVersion", "1.09")
	lit("managementEvent", "false")
	lit("readOnly", strconv.FormatBool(sp.readOnly))
	recipient := str("recipientAccountId", account)
	// requestParameters: keys sorted as encoding/json sorts a map's (alertSpec lists them so).
	params := sp.params
	byKey := func(x, y param) int { return strings.Compare(x.key, y.key) }
	if !slices.IsSortedFunc(params, byKey) {
		params = slices.Clone(params)
		slices.SortFunc(params, byKey)
	}
	type span struct{ from, to int } // a raw value's place in the text
	var pvalsA [blockParams]string
	var rawsA [blockParams]span
	pvals, raws := pvalsA[:0], rawsA[:0]
	if len(params) > blockParams {
		pvals, raws = make([]string, 0, len(params)), make([]span, 0, len(params))
	}
	pvals, raws = pvals[:len(params)], raws[:len(params)]
	b = append(b, `"requestParameters":{`...)
	for i, p := range params {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, p.key...)
		b = append(b, `":`...)
		if p.isIDs {
			from := len(b)
			if p.json != "" {
				b = append(b, p.json...)
			} else {
				b = appendIDs(b, p.ids)
			}
			raws[i] = span{from, len(b)}
		} else if p.raw {
			raws[i] = span{len(b), len(b) + len(p.str)}
			b = append(b, p.str...)
		} else {
			b, pvals[i] = appendJSONString(b, p.str)
		}
	}
	b = append(b, "},"...)
	shared := -1
	if sp.shared != "" {
		shared = str("sharedEventID", sp.shared)
	}
	b = append(b, `"userIdentity":{`...)
	acct := str("accountId", sp.accountID)
	arn := str("arn", sp.arn)
	principal := str("principalId", sp.principalID)
	itype := str("type", sp.identityType)
	b[len(b)-1] = '}'
	b = append(b, '}')

	var text string
	cutAt := -1 // the params index of the ids cut out of text
	if cut {
		for i, p := range params {
			if p.isIDs && p.ids != nil && raws[i].to-raws[i].from >= cutMinIDs && i+1 <= coldjson.MaxMapValue {
				cutAt = i
				break
			}
		}
	}
	if cutAt >= 0 {
		// The text with the ids' place marked, and the ids' text apart (the map's value).
		from, to := raws[cutAt].from, raws[cutAt].to
		var t strings.Builder
		t.Grow(len(b) - (to - from) + 2)
		t.Write(b[:from])
		t.WriteString(coldjson.MapMarker(cutAt + 1)) // requestParameters' values come first
		t.Write(b[to:])
		text = t.String()
		if pvals[cutAt] = params[cutAt].json; pvals[cutAt] == "" {
			pvals[cutAt] = string(b[from:to])
		}
		shift := (to - from) - 2
		for i := range raws {
			if i != cutAt && raws[i].from >= to {
				raws[i].from, raws[i].to = raws[i].from-shift, raws[i].to-shift
			}
		}
	} else {
		text = string(b)
	}
	// The record and what its fields point to in one allocation (recordBlock).
	blk := new(recordBlock)
	n := 0
	ptr := func(i int) *string { blk.strs[n] = vals[i]; n++; return &blk.strs[n-1] }
	blk.ro = sp.readOnly
	r := &blk.rec
	blk.ident = cloudtrail.UserIdentity{Type: ptr(itype), PrincipalID: ptr(principal), ARN: ptr(arn), AccountID: ptr(acct)}
	*r = cloudtrail.Record{
		EventVersion: ptr(version),
		UserIdentity: &blk.ident,
		EventTime:    sp.eventTime.UTC(),
		EventSource:  ptr(source), EventName: ptr(name), AWSRegion: ptr(region),
		EventID: vals[id], ReadOnly: &blk.ro, EventType: ptr(typ), ManagementEvent: &blk.no,
		RecipientAccountID: ptr(recipient), EventCategory: ptr(category),
		EventJSON: text,
	}
	pv := blk.pv[:0]
	if len(params) <= blockParams {
		r.RequestParameters = blk.kv[:len(params):len(params)]
	} else {
		r.RequestParameters = make(cloudtrail.Map, len(params))
		pv = make([]string, 0, len(params))
	}
	pv = pv[:len(params)]
	for i, p := range params {
		pv[i] = pvals[i]
		if p.raw {
			if (p.isIDs && p.ids == nil) || (!p.isIDs && p.str == "null") { // a JSON null is an entry without a value
				r.RequestParameters[i] = cloudtrail.KV{Key: p.key}
				continue
			}
			if i != cutAt { // (the ids cut out are apart, in pvals)
				pv[i] = text[raws[i].from:raws[i].to] // a slice of the text, as the decoder keeps it
			}
		}
		r.RequestParameters[i] = cloudtrail.KV{Key: p.key, Value: &pv[i]}
	}
	if shared >= 0 {
		r.SharedEventID = ptr(shared)
	}
	if cutAt >= 0 {
		r.EventJSONChecksum = cloudtrail.JSONCut
		return r, b
	}
	sum := sha256.Sum256(b)
	r.EventJSONChecksum = hex.EncodeToString(sum[:])
	return r, b
}

// cutMinIDs is the shortest ids' text build cuts out (ctparquet's mapMinLen: a mark takes two
// bytes).
const cutMinIDs = 16

// blockParams is how many requestParameters a recordBlock holds (an alert's are 12); a record
// with more has them apart.
const blockParams = 16

// recordBlock is one record of build and what its fields point to, in one allocation (each
// was one of its own: some 30 small allocations a record, ~35,000 alert records an ingest of
// 1M events).
type recordBlock struct {
	rec    cloudtrail.Record
	ident  cloudtrail.UserIdentity
	strs   [12]string // the string fields (build's ptr)
	pv     [blockParams]string
	kv     [blockParams]cloudtrail.KV
	ro, no bool
}

// buildRecords builds specs' records, reusing one buffer.
func buildRecords(specs []recordSpec) []*cloudtrail.Record {
	return buildRecordsCut(specs, false)
}

// buildRecordsCut is buildRecords; with cut, the records' event ids are cut out of their
// eventjson (build), for a store whose files need not hold whole JSON (lake.Lake.WholeJSON).
func buildRecordsCut(specs []recordSpec, cut bool) []*cloudtrail.Record {
	out := make([]*cloudtrail.Record, 0, len(specs))
	var buf []byte
	for _, sp := range specs {
		var r *cloudtrail.Record
		r, buf = sp.build(buf, cut)
		out = append(out, r)
	}
	return out
}

// wholeRecords puts the event ids back into the eventjson of the records of recs built cut
// (buildRecordsCut), and their checksums: for a store that has come to keep whole JSON.
func wholeRecords(recs []*cloudtrail.Record) {
	for _, r := range recs {
		if r.EventJSONChecksum != cloudtrail.JSONCut {
			continue
		}
		b := coldjson.Append(nil, r.EventJSON, nil, func(i int) (string, bool) {
			if i > len(r.RequestParameters) {
				return "", false
			}
			if v := r.RequestParameters[i-1].Value; v != nil {
				return *v, true
			}
			return "", true
		})
		r.EventJSON = string(b)
		sum := sha256.Sum256(b)
		r.EventJSONChecksum = hex.EncodeToString(sum[:])
	}
}

// noRegion is an alert record's awsRegion when its match names none (an aggregate SQL rule's
// row): the field is never empty in a CloudTrail record. The listing reads it back as "".
const noRegion = "local"

// alertSpec is the record of an alert: eventName Alert, the rule and what it found in
// requestParameters, the principal as userIdentity.arn, the event's region.
func alertSpec(a Alert) recordSpec {
	group := orDefault(a.Group, a.ID)
	return recordSpec{
		identityType: "AuditlakeDetection", principalID: a.Principal, arn: a.Principal, accountID: a.Account,
		eventTime: a.EventTime, eventName: "Alert", region: orDefault(a.Region, noRegion), eventID: a.ID, shared: group,
		readOnly: true,
		params: []param{ // in the order of their keys, as build writes them
			strParam("account", a.Account), strParam("alertedAt", a.AlertedAt.UTC().Format(time.RFC3339Nano)), idsParam(a.EventIDs, a.idsJSON),
			intParam("events", max(len(a.EventIDs), 1)), strParam("group", group), strParam("resource", a.Resource),
			strParam("rule", a.Rule), strParam("severity", a.Severity), strParam("status", a.Status), strParam("store", a.Store),
			strParam("summary", a.Summary), strParam("title", a.Title),
		},
	}
}

// markerSpec is the record committed with an evaluation's alerts that says its files are
// evaluated (Process, cursor.Inflight), at time t (the files' first event's).
func markerSpec(st lake.Store, fl inflight, t time.Time) recordSpec {
	return recordSpec{
		identityType: "AuditlakeDetection", principalID: "auditlake", arn: "auditlake", accountID: account,
		eventTime: t, eventName: "AlertsEvaluated", region: "local", eventID: fl.Token, readOnly: true,
		params: []param{strParam("store", st.Name), intParam("files", len(fl.Files))},
	}
}
