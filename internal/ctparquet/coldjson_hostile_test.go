package ctparquet

import (
	"fmt"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
)

// splitJoinSQL is the put-back the store views used before the engine's scalar function
// (ColdJSONSQL): the text split at each map mark and each piece's first byte indexing a list of
// the row's map values. Kept here as the oracle that files cut before still read the same.
var splitJoinSQL = "CASE WHEN eventjsonchecksum IS NULL THEN (CASE WHEN contains(eventjson, chr(5)) THEN " +
	"array_to_string(list_transform(string_split(" + idsSQL + ", chr(5)), (p, i) -> CASE WHEN i = 1 THEN p ELSE " +
	"coalesce(" + MapValuesSQL + "[ascii(p) - 32], '') || substr(p, 2) END), '') ELSE " + idsSQL + " END) ELSE eventjson END"

// hostileTrail is a trail file of events whose maps hold what a put-back could get wrong:
// values holding the cut's marker bytes (as JSON escapes), invalid UTF-8, deeply nested
// objects, empty maps and values, keys with dots and quotes, one value many times, values
// that are other values' prefixes, multi-byte text.
func hostileTrail(n int) string {
	deep := strings.Repeat(`{"k":`, 60) + `"bottom-of-the-nest"` + strings.Repeat("}", 60)
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		id := fmt.Sprintf("%08x-de8d-4eca-aedc-%012d", i*2654435761%(1<<32), i)
		same := "i-0123456789abcdef" + strconv.Itoa(i%7)
		fmt.Fprintf(&b, `{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","accessKeyId":"ASIA%016d","arn":"arn:aws:sts::123456789012:assumed-role/r/s"},`+
			`"eventTime":"2026-09-%02dT10:00:%02dZ","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1",`+
			`"sourceIPAddress":"10.0.0.1","userAgent":"ua \u0005 with a mark","requestID":"req-%d-4eca-aedc-2381355b5b74","eventID":"%s",`+
			`"requestParameters":{"instanceId":"%s","a.b.c":"dotted key's value, long","\"quoted\" key":"a \u0005! value holding a mark \u0001\u0002","nested":%s,`+
			`"empty":{},"emptyString":"","list":[{},[],"%s"],"prefix":"%s","uni":"日本語の値 ünïcödé ✓ \ud83d\ude00 long enough","bad":"invalid %s utf-8 %d"},`+
			`"responseElements":{"instancesSet":{"items":[{"instanceId":"%s"}]},"again":"%s","requestId":"req-%d-4eca-aedc-2381355b5b74"},`+
			`"additionalEventData":{},"sharedEventID":"%s","eventType":"AwsApiCall","recipientAccountId":"123456789012"}`,
			i, 1+i%28, i%60, i, id, same, deep, same, same[:16], "\xff\xfe", i, same, same, i, id)
	}
	b.WriteString(`]}`)
	return b.String()
}

// Cold files cut from the samples in testdata, from hostile events and from random records
// read, through DataFilesSQL (the engine's put-back), exactly as the hot files they came from;
// and so do they through the put-back SQL of the files written before it, which the engine's
// put-back equals on every row — files cut with their ids only (the first cold format) too.
func TestColdJSONPutBackReadsOldAndNewCutFilesTheSame(t *testing.T) {
	var hostile []*cloudtrail.Record
	st, err := cloudtrail.Decode(strings.NewReader(hostileTrail(300)), "hostile.json", cloudtrail.DecodeOptions{}, func(r *cloudtrail.Record) error {
		hostile = append(hostile, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(hostile) != 300 {
		t.Fatalf("%d hostile records decoded: %+v", len(hostile), st)
	}
	db := enginetest.Open(t)
	count := counter(t, db)
	for name, recs := range map[string][]*cloudtrail.Record{"samples": sampleRecords(t), "hostile": hostile} {
		dir := t.TempDir()
		hot := filepath.Join(dir, "hot.parquet")
		if _, err := WriteRecordFile(hot, recs); err != nil {
			t.Fatal(err)
		}
		for _, withMaps := range []bool{true, false} {
			cut := filepath.Join(dir, fmt.Sprintf("cut-%v.parquet", withMaps))
			marks := 0
			_, err := RecompressWith(cut, hot, ColdOptions{Level: ColdLevel, Derive: true, DeltaInts: true, JSON: func(first, n int64) (func() (string, bool, error), error) {
				i := first
				return func() (string, bool, error) {
					r := recs[i]
					i++
					ids, maps := cutValues(r)
					if !withMaps {
						maps = nil
					}
					s, err := CutJSON(r.EventJSON, ids, maps)
					if strings.Contains(s, "\x05") {
						marks++
					}
					return s, false, err
				}, nil
			}})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if withMaps && marks < len(recs)/4 {
				t.Errorf("%s: %d of %d rows have a map value cut", name, marks, len(recs))
			}
			files := DataFilesSQL(engine.ListLiteral([]string{cut}))
			raw := "read_parquet(" + engine.Literal(cut) + ")"
			for _, q := range []string{
				"SELECT count(*) FROM (SELECT * FROM " + rawFile(hot) + " EXCEPT ALL SELECT * FROM " + files + ")",
				"SELECT count(*) FROM (SELECT * FROM " + files + " EXCEPT ALL SELECT * FROM " + rawFile(hot) + ")",
				"SELECT count(*) FROM (SELECT eventid, eventjson FROM " + rawFile(hot) + " EXCEPT ALL SELECT eventid, " + splitJoinSQL + " FROM " + raw + ")",
				"SELECT count(*) FROM " + raw + " WHERE (" + ColdJSONSQL + ") IS DISTINCT FROM (" + splitJoinSQL + ")",
			} {
				if n := count(q); n != 0 {
					t.Errorf("%s (map values cut: %v): %d rows differ: %s", name, withMaps, n, q)
				}
			}
		}
	}
}

// cutValues are record r's CutColumns' values ("" for null) and its CutMaps' values one after
// the other, as the engine reads them (MapValuesSQL).
func cutValues(r *cloudtrail.Record) (ids, maps []string) {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	ids = []string{r.EventID, str(r.RequestID), "", str(r.SharedEventID)}
	if r.UserIdentity != nil {
		ids[2] = str(r.UserIdentity.AccessKeyID)
	}
	for _, m := range []cloudtrail.Map{r.RequestParameters, r.AdditionalEventData, r.ResponseElements} {
		for _, kv := range m {
			maps = append(maps, str(kv.Value))
		}
	}
	return ids, maps
}
