package cloudtrail_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

func decodeLake(t testing.TB, in []byte, opts cloudtrail.DecodeOptions) result {
	t.Helper()
	var res result
	res.st, res.err = cloudtrail.DecodeLakeExport(bytes.NewReader(in), "result_1.csv.gz", opts, func(r *cloudtrail.Record) error {
		res.recs = append(res.recs, r)
		return nil
	})
	checkInvariants(t, res)
	return res
}

// lakeCSV writes rows as CSV the way encoding/csv (and Lake) quote them.
func lakeCSV(t testing.TB, rows ...[]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sampleRecords are the records of the real stratus samples as compact JSON, decoded by Decode.
func sampleRecords(t testing.TB) []*cloudtrail.Record {
	t.Helper()
	files, err := filepath.Glob(testdata + "stratus-red-team-detonation-logs/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	var out []*cloudtrail.Record
	for _, f := range files {
		res := decodeFile(t, f)
		if res.err != nil {
			t.Fatal(res.err)
		}
		out = append(out, res.recs...)
	}
	return out
}

// TestDecodeLakeExportGivesTheSameRecordsAsTheSamples: the real samples' records, as the
// eventjson column of Lake CSV in any column order, among other columns, gzip or plain, decode
// to the same records (eventid, eventtime, the eventjson text and its checksum).
func TestDecodeLakeExportGivesTheSameRecordsAsTheSamples(t *testing.T) {
	recs := sampleRecords(t)
	for _, tc := range []struct {
		name   string
		header []string
		row    func(r *cloudtrail.Record) []string
	}{
		{"eventjson first", []string{"eventjson", "eventtime"}, func(r *cloudtrail.Record) []string {
			return []string{r.EventJSON, r.EventTime.Format("2006-01-02 15:04:05.000")}
		}},
		{"eventjson between others, capitalised", []string{"eventTime", "eventJson", "eventName"}, func(r *cloudtrail.Record) []string {
			return []string{r.EventTime.Format("2006-01-02 15:04:05.000"), r.EventJSON, str(r.EventName)}
		}},
		{"eventjson alone", []string{"eventjson"}, func(r *cloudtrail.Record) []string { return []string{r.EventJSON} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := [][]string{tc.header}
			for _, r := range recs {
				rows = append(rows, tc.row(r))
			}
			text := lakeCSV(t, rows...)
			for _, in := range [][]byte{gz(t, text), text, append([]byte("\ufeff"), text...)} {
				res := decodeLake(t, in, cloudtrail.DecodeOptions{})
				if res.err != nil || res.st.Errors != 0 || res.st.Warnings != 0 {
					t.Fatalf("err %v, stats %+v", res.err, res.st)
				}
				if len(res.recs) != len(recs) {
					t.Fatalf("%d records, want %d", len(res.recs), len(recs))
				}
				for i, r := range res.recs {
					w := recs[i]
					if r.EventID != w.EventID || !r.EventTime.Equal(w.EventTime) || r.EventJSON != w.EventJSON || r.EventJSONChecksum != w.EventJSONChecksum {
						t.Fatalf("row %d: %s %s differs from the sample's %s %s", i+1, r.EventID, r.EventTime, w.EventID, w.EventTime)
					}
				}
			}
		})
	}
}

// TestDecodeLakeExportReportsBadRowsByRowAndKeepsTheOthers: every kind of bad eventjson is an
// error naming its row (Record) and the line it starts on; the good rows around it are kept.
func TestDecodeLakeExportReportsBadRowsByRowAndKeepsTheOthers(t *testing.T) {
	recs := sampleRecords(t)
	good := func(i int) []string { return []string{"x", recs[i].EventJSON} }
	text := lakeCSV(t,
		[]string{"eventname", "eventjson"},
		good(0),                    // row 1, line 2
		[]string{"y", ""},          // row 2: NULL
		[]string{"y", "{not json"}, // row 3
		[]string{"y", `{"a":1}`},   // row 4: an object, not a record
		[]string{"y", "42"},        // row 5
		[]string{"y", "[" + recs[1].EventJSON + "," + recs[2].EventJSON + "]"}, // row 6: two records
		[]string{"y"}, // row 7: no eventjson field
		[]string{"multi\nline", `{"eventVersion":"1.08","eventTime":"not a time","eventSource":"s3.amazonaws.com","eventName":"X","eventID":"e"}`}, // row 8, line 10
		good(3), // row 9, line 12
	)
	res := decodeLake(t, gz(t, text), cloudtrail.DecodeOptions{})
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.recs) != 2 || res.recs[0].EventID != recs[0].EventID || res.recs[1].EventID != recs[3].EventID {
		t.Fatalf("kept %d records, want rows 1 and 9", len(res.recs))
	}
	want := map[int]struct {
		line int
		msg  string
	}{
		2: {3, "eventjson is empty"},
		3: {4, "eventjson is not a whole JSON value"},
		4: {5, "eventjson is not a CloudTrail record"},
		5: {6, "eventjson: record is a number, not an object"},
		6: {7, "eventjson holds 2 records, not one"},
		7: {8, "no eventjson"},
		8: {9, "eventTime"},
	}
	if res.st.Errors != len(want) {
		t.Fatalf("%d errors, want %d: %+v", res.st.Errors, len(want), res.st.Problems)
	}
	for _, p := range res.st.Problems {
		w, ok := want[p.Record]
		if !ok || p.Severity != cloudtrail.Error || p.Line != w.line || !strings.Contains(p.Msg, w.msg) || p.File != "result_1.csv.gz" {
			t.Errorf("problem %+v; want row %d at line %d: %q", p, p.Record, w.line, w.msg)
		}
		delete(want, p.Record)
	}
	if len(want) > 0 {
		t.Errorf("rows not reported: %v", want)
	}
}

// TestDecodeLakeExportFailsWholeFilesThatCannotBeRead: no eventjson column, a cut gzip and
// unbalanced quotes end the file with an error naming it and the row; the rows before a cut are
// kept.
func TestDecodeLakeExportFailsWholeFilesThatCannotBeRead(t *testing.T) {
	recs := sampleRecords(t)
	rows := [][]string{{"eventjson", "eventtime"}}
	for _, r := range recs[:40] {
		rows = append(rows, []string{r.EventJSON, "t"})
	}
	full := gz(t, lakeCSV(t, rows...))

	res := decodeLake(t, gz(t, lakeCSV(t, []string{"eventname", "eventtime"}, []string{"a", "b"})), cloudtrail.DecodeOptions{})
	if res.err == nil || !strings.Contains(res.err.Error(), `"result_1.csv.gz"`) || !strings.Contains(res.err.Error(), `no eventjson column in the header row (columns: "eventname", "eventtime")`) {
		t.Fatalf("no eventjson column: %v", res.err)
	}

	res = decodeLake(t, full[:len(full)*2/3], cloudtrail.DecodeOptions{})
	if res.err == nil || !strings.Contains(res.err.Error(), "cut short after row") || !strings.Contains(res.err.Error(), "result_1.csv.gz") {
		t.Fatalf("cut gzip: %v", res.err)
	}
	if len(res.recs) == 0 || len(res.recs) >= 40 {
		t.Fatalf("cut gzip: %d records kept, want the rows before the cut", len(res.recs))
	}
	for i, r := range res.recs {
		if r.EventID != recs[i].EventID {
			t.Fatalf("record %d is not row %d", i, i+1)
		}
	}

	text := lakeCSV(t, rows[:3]...)
	text = append(text, []byte("\"unterminated,x\n")...)
	res = decodeLake(t, text, cloudtrail.DecodeOptions{})
	if res.err == nil || !strings.Contains(res.err.Error(), "row 3 (line 4): not valid CSV") || len(res.recs) != 2 {
		t.Fatalf("unbalanced quote: %v, %d records", res.err, len(res.recs))
	}

	res = decodeLake(t, nil, cloudtrail.DecodeOptions{})
	if res.err != nil || res.st.Records != 0 {
		t.Fatalf("empty file: %v %+v", res.err, res.st)
	}
	res = decodeLake(t, full, cloudtrail.DecodeOptions{MaxDecompressedBytes: 4096})
	if res.err == nil || !strings.Contains(res.err.Error(), "decompressed size limit") {
		t.Fatalf("a file past MaxDecompressedBytes: %v", res.err)
	}
}

// TestDecodeLakeExportAsksKeepAboutEveryRecord: Keep sees each good row's record once; refused
// ones are counted in Records but not emitted.
func TestDecodeLakeExportAsksKeepAboutEveryRecord(t *testing.T) {
	recs := sampleRecords(t)[:10]
	rows := [][]string{{"eventjson"}}
	for _, r := range recs {
		rows = append(rows, []string{r.EventJSON})
	}
	asked := 0
	var got []*cloudtrail.Record
	st, err := cloudtrail.DecodeLakeExport(bytes.NewReader(lakeCSV(t, rows...)), "r.csv", cloudtrail.DecodeOptions{
		Keep: func(r *cloudtrail.Record) bool { asked++; return asked%2 == 0 },
	}, func(r *cloudtrail.Record) error { got = append(got, r); return nil })
	if err != nil || st.Records != 10 || asked != 10 || len(got) != 5 {
		t.Fatalf("err %v, records %d, asked %d, emitted %d", err, st.Records, asked, len(got))
	}
}

func FuzzDecodeLakeExport(f *testing.F) {
	sample, err := os.ReadFile(testdata + "stratus-red-team-detonation-logs/aws.defense-evasion.cloudtrail-stop.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("eventjson\n\"{}\"\n"))
	f.Add([]byte("a,eventjson\n1,\"" + strings.ReplaceAll(string(sample), `"`, `""`) + "\"\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var n int
		st, _ := cloudtrail.DecodeLakeExport(bytes.NewReader(in), "f.csv", cloudtrail.DecodeOptions{MaxDecompressedBytes: 1 << 20},
			func(*cloudtrail.Record) error { n++; return nil })
		if n != st.Records {
			t.Fatalf("emitted %d, Records %d", n, st.Records)
		}
	})
}
