package ctparquet

import (
	"context"
	"errors"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
)

// CutJSON leaves out every occurrence of each value and JoinJSON puts them back exactly — a
// value found twice, a value inside another, values too short to cut, a null one — and a
// JSON text that holds a byte of the cut is refused rather than changed.
func TestCutJSONRoundTrips(t *testing.T) {
	id, req := "a6be28ae-de8d-4eca-aedc-2381355b5b74", "a6be28ae-de8d-4eca"
	js := `{"requestID":"` + req + `","eventID":"` + id + `","x":"` + id + `","k":"AKIA"}`
	for _, vals := range [][]string{
		{id, req, "", ""},
		{req, id, "AKIA", "short"},
		{id, id, "", "ae-de8d-4eca-aedc"},
		{"", "", "", ""},
	} {
		cut, err := CutJSON(js, vals, nil)
		if err != nil {
			t.Fatalf("%v: %v", vals, err)
		}
		if got := JoinJSON(cut, vals, nil); got != js {
			t.Errorf("%v: %q reads back as %q", vals, cut, got)
		}
		if vals[0] == id && strings.Contains(cut, id) {
			t.Errorf("%v: the event id is still in %q", vals, cut)
		}
	}
	for _, raw := range []string{"\x02", "\x05"} {
		if _, err := CutJSON(`{"a":"`+raw+`","eventID":"`+id+`"}`, []string{id, "", "", ""}, nil); !errors.Is(err, ErrNotCut) {
			t.Errorf("a text with a raw %q was cut (%v)", raw, err)
		}
	}
	// A value holding a byte of the cut cannot come back the same: refused.
	if _, err := CutJSON(`{"a":"`+id+`","b":"xxxxxxxx"}`, []string{id, "", "", "xxxxxxxx\x01"}, nil); err != nil {
		t.Errorf("a value not in the text: %v", err)
	}
	if _, err := CutJSON(`{"a":"`+id+`","b":"12345678"}`, []string{id, "12345678\x01", "", ""}, nil); err != nil && !errors.Is(err, ErrNotCut) {
		t.Errorf("unexpected error %v", err)
	}
}

// The maps' values are cut too, as two bytes naming the value: an object value holding the
// event id (cut whole, the id with it), a value found twice, values overlapping one another
// and an id, values too short, a null one, more values than a byte can name; each time the
// text reads back exactly, and the longest values are out of it.
func TestCutJSONCutsMapValues(t *testing.T) {
	id := "a6be28ae-de8d-4eca-aedc-2381355b5b74"
	creds := `{"accessKeyId":"ASIAXXXXXXXXXXXXXXXX","sessionToken":"IQoJb3JpZ2luX2VjEJr//////////wEaCXVz","eventRef":"` + id + `"}`
	js := `{"eventID":"` + id + `","requestParameters":{"roleArn":"arn:aws:iam::123456789012:role/a-role-name","roleSessionName":"s"},` +
		`"responseElements":{"credentials":` + creds + `,"assumedRoleUser":{"arn":"arn:aws:iam::123456789012:role/a-role-name/s"}},` +
		`"additionalEventData":{"x-amz-id-2":"ibj3/KIp7AP5zmIucjoSccR84uLlpe","again":"ibj3/KIp7AP5zmIucjoSccR84uLlpe"}}`
	ids := []string{id, "", "", ""}
	many := make([]string, 200)
	for i := range many {
		many[i] = "value-not-in-the-text-" + strconv.Itoa(i)
	}
	many[150] = "arn:aws:iam::123456789012:role/a-role-name" // past the last value a byte can name
	for _, maps := range [][]string{
		{"arn:aws:iam::123456789012:role/a-role-name", "s", creds, `{"arn":"arn:aws:iam::123456789012:role/a-role-name/s"}`,
			"ibj3/KIp7AP5zmIucjoSccR84uLlpe", "ibj3/KIp7AP5zmIucjoSccR84uLlpe"},
		{"role/a-role-name", "iam::123456789012:role/a-role", "", "IQoJb3JpZ2luX2VjEJr//////////wEaCXVz\",eventRef\":\"" + id[:20]},
		{id + `"}`, "a6be28ae-de8d-4eca", "short"},
		many,
	} {
		cut, err := CutJSON(js, ids, maps)
		if err != nil {
			t.Fatalf("%q: %v", maps, err)
		}
		if got := JoinJSON(cut, ids, maps); got != js {
			t.Errorf("%q: %q reads back as %q", maps, cut, got)
		}
		if maps[0] == "arn:aws:iam::123456789012:role/a-role-name" && (strings.Contains(cut, "sessionToken") || strings.Contains(cut, "ibj3") || strings.Contains(cut, "role/a-role")) {
			t.Errorf("the credentials are still in %q", cut)
		}
		if len(maps) == 200 && strings.Contains(cut, string(rune(mapMark))) {
			t.Errorf("a value past the %dth was cut: %q", maxMapValue, cut)
		}
	}
}

// Issue 21 target 5: a cold file whose eventjson is cut (its ids left out) reads, through
// DataFilesSQL, exactly as the hot file it came from — every column of every row, eventjson
// and the derived checksum included — alone and beside hot files, over several row groups;
// the stored JSON holds none of the cut ids; the file is smaller than the cold file with
// whole JSON; the Bloom filters still find an id. Samples: every CloudTrail sample in
// testdata, repeated over three row groups.
func TestColdFileWithCutJSONReadsTheSame(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	hot, whole, cut := filepath.Join(dir, "hot.parquet"), filepath.Join(dir, "whole.parquet"), filepath.Join(dir, "cut.parquet")
	samples := sampleRecords(t)
	var recs []*cloudtrail.Record
	for len(recs) < RowGroupRows+500 {
		recs = append(recs, samples...)
	}
	if _, err := WriteRecordFile(hot, recs); err != nil {
		t.Fatal(err)
	}
	if _, err := Recompress(whole, hot, ColdLevel, true); err != nil {
		t.Fatal(err)
	}
	var groups [][2]int64
	json := func(first, n int64) (func() (string, bool, error), error) {
		groups = append(groups, [2]int64{first, n})
		i := first
		return func() (string, bool, error) {
			r := recs[i]
			i++
			str := func(p *string) string {
				if p == nil {
					return ""
				}
				return *p
			}
			vals := []string{r.EventID, str(r.RequestID), "", str(r.SharedEventID)}
			if r.UserIdentity != nil {
				vals[2] = str(r.UserIdentity.AccessKeyID)
			}
			var maps []string
			for _, m := range []cloudtrail.Map{r.RequestParameters, r.AdditionalEventData, r.ResponseElements} {
				for _, kv := range m {
					maps = append(maps, str(kv.Value))
				}
			}
			s, err := CutJSON(r.EventJSON, vals, maps)
			return s, false, err
		}, nil
	}
	rows, err := RecompressWith(cut, hot, ColdOptions{Level: ColdLevel, Derive: true, JSON: json, DeltaInts: true})
	if err != nil || rows != int64(len(recs)) {
		t.Fatalf("RecompressWith: %d rows, %v; want %d", rows, err, len(recs))
	}
	if len(groups) != 2 || groups[1] != [2]int64{RowGroupRows, int64(len(recs) - RowGroupRows)} {
		t.Errorf("the JSON was asked for row groups %v", groups)
	}
	db := enginetest.Open(t)
	count, raw := counter(t, db), rawFile
	for _, q := range []string{
		"SELECT count(*) FROM (SELECT * FROM " + raw(hot) + " EXCEPT ALL SELECT * FROM " + DataFilesSQL(engine.ListLiteral([]string{cut})) + ")",
		"SELECT count(*) FROM (SELECT * FROM " + DataFilesSQL(engine.ListLiteral([]string{cut})) + " EXCEPT ALL SELECT * FROM " + raw(hot) + ")",
		"SELECT count(*) FROM (SELECT * FROM " + DataFilesSQL(engine.ListLiteral([]string{hot, cut})) +
			" EXCEPT ALL (SELECT * FROM " + raw(hot) + " UNION ALL SELECT * FROM " + raw(hot) + "))",
		// In file order too: the n-th row of each is the same row.
		"SELECT count(*) FROM (SELECT *, row_number() OVER () AS i FROM " + raw(hot) + ") h JOIN (SELECT *, row_number() OVER () AS i FROM " +
			DataFilesSQL(engine.ListLiteral([]string{cut})) + ") c USING (i) WHERE h.eventjson IS DISTINCT FROM c.eventjson OR h.eventid IS DISTINCT FROM c.eventid" +
			" OR h.eventjsonchecksum IS DISTINCT FROM c.eventjsonchecksum",
	} {
		if n := count(q); n != 0 {
			t.Errorf("%d rows differ: %s", n, q)
		}
	}
	if n := count("SELECT count(*) FROM " + raw(cut) + " WHERE eventjsonchecksum IS NOT NULL OR length(eventid) >= 8 AND contains(eventjson, eventid)" +
		" OR length(requestid) >= 8 AND contains(eventjson, requestid)"); n != 0 {
		t.Errorf("%d rows of the cut file still hold their ids in their JSON, or their checksum", n)
	}
	if n := count("SELECT count(*) FROM " + raw(cut) + " WHERE contains(eventjson, chr(1))"); n < int64(len(recs))/2 {
		t.Errorf("%d of %d rows have their event id cut", n, len(recs))
	}
	if n := count("SELECT count(*) FROM " + raw(cut) + " WHERE contains(eventjson, chr(5))"); n == 0 {
		t.Errorf("no row has a map value cut")
	}
	if n := count("SELECT count(*) FROM parquet_metadata(" + engine.Literal(cut) + ") WHERE path_in_schema = 'eventtime' AND encodings LIKE '%DELTA_BINARY_PACKED%'"); n != 2 {
		t.Errorf("%d of 2 eventtime chunks are DELTA_BINARY_PACKED", n)
	}
	ws, _ := os.Stat(whole)
	cs, _ := os.Stat(cut)
	if cs.Size() >= ws.Size() {
		t.Errorf("the cut file is %d bytes, the whole one %d", cs.Size(), ws.Size())
	}
	id := recs[len(recs)/2].EventID
	hotRead, _, err := RowGroupsToRead(hot, "eventid", id)
	if err != nil {
		t.Fatal(err)
	}
	cutRead, _, err := RowGroupsToRead(cut, "eventid", id)
	if err != nil || len(cutRead) == 0 || len(cutRead) != len(hotRead) {
		t.Errorf("the Bloom filters of the cut file say eventid %s is in row groups %v (%v), of the hot file %v", id, cutRead, err, hotRead)
	}
	// A needle by id reads its JSON whole.
	var n int64
	if err := db.QueryRow(ctx, "SELECT count(*) FROM "+DataFilesSQL(engine.ListLiteral([]string{cut}))+" WHERE eventid = ? AND eventjson = ?",
		id, recs[len(recs)/2].EventJSON).Scan(&n); err != nil || n == 0 {
		t.Errorf("eventid %s does not read its JSON whole (%v)", id, err)
	}

	// A row that cannot be cut fails the rewrite, which leaves no file.
	failed := filepath.Join(dir, "failed.parquet")
	_, err = RecompressWith(failed, hot, ColdOptions{Level: ColdLevel, Derive: true, JSON: func(first, n int64) (func() (string, bool, error), error) {
		return func() (string, bool, error) { return "", false, ErrNotCut }, nil
	}})
	if !errors.Is(err, ErrNotCut) {
		t.Errorf("a row that cannot be cut: %v", err)
	}
	if _, err := os.Stat(failed); !os.IsNotExist(err) {
		t.Errorf("the failed rewrite left %s (%v)", failed, err)
	}
}
