package cloudtrail_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

const testdata = "../../testdata/"

type result struct {
	recs []*cloudtrail.Record
	st   cloudtrail.Stats
	err  error
}

func decode(t testing.TB, in []byte, opts cloudtrail.DecodeOptions) result {
	t.Helper()
	var res result
	res.st, res.err = cloudtrail.Decode(bytes.NewReader(in), "in.json", opts, func(r *cloudtrail.Record) error {
		res.recs = append(res.recs, r)
		return nil
	})
	checkInvariants(t, res)
	return res
}

func decodeFile(t testing.TB, path string) result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, b, cloudtrail.DecodeOptions{})
}

// checkInvariants holds for every decoded record whatever the input.
func checkInvariants(t testing.TB, res result) {
	t.Helper()
	if len(res.recs) != res.st.Records {
		t.Errorf("emitted %d records, Stats.Records = %d", len(res.recs), res.st.Records)
	}
	errs, warns := 0, 0
	for _, p := range res.st.Problems {
		if p.Severity == cloudtrail.Error {
			errs++
		} else {
			warns++
		}
	}
	if complete := len(res.st.Problems) == res.st.Errors+res.st.Warnings; complete && (errs != res.st.Errors || warns != res.st.Warnings) {
		t.Errorf("problems list has %d errors, %d warnings; Stats says %d, %d", errs, warns, res.st.Errors, res.st.Warnings)
	}
	for i, r := range res.recs {
		if r.EventTime.IsZero() || r.EventTime.Location() != time.UTC {
			t.Errorf("record %d: EventTime %v is zero or not UTC", i, r.EventTime)
		}
		if r.EventID == "" {
			t.Errorf("record %d: empty EventID", i)
		}
		if !json.Valid([]byte(r.EventJSON)) {
			t.Errorf("record %d: EventJSON is not valid JSON: %.200s", i, r.EventJSON)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, []byte(r.EventJSON)); err == nil && c.String() != r.EventJSON {
			t.Errorf("record %d: EventJSON is not compact: %.200s", i, r.EventJSON)
		}
		if e := loneSurrogateEscape(r.EventJSON); e != "" {
			t.Errorf("record %d: EventJSON holds the lone surrogate escape %s: %.200s", i, e, r.EventJSON)
		}
		checkStrings(t, i, r)
		sum := sha256.Sum256([]byte(r.EventJSON))
		if got, want := r.EventJSONChecksum, hex.EncodeToString(sum[:]); got != want {
			t.Errorf("record %d: checksum %s, want %s", i, got, want)
		}
	}
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func get(m cloudtrail.Map, k string) string {
	v, ok := m.Get(k)
	if !ok {
		return "<absent>"
	}
	return v
}

// The expected counts below were derived independently of the Go code by
// testdata/count_reference.py (a Python implementation of the rule documented on Decode, run on
// the same files with json.loads). "noID" is the number of kept records without an eventID.
func TestDecodeSamplesCountsRecordsSkippedAndErrorsAsDerivedIndependently(t *testing.T) {
	tests := []struct {
		file                           string
		records, skipped, errors, noID int
	}{
		{"aws-cloudtrail-processing-library-serializer-tests/SerializerAllFieldsNull.json", 1, 0, 1, 1},
		{"aws-cloudtrail-processing-library-serializer-tests/SerializerTestFile.json", 6, 0, 0, 6},
		{"aws-cloudtrail-processing-library-serializer-tests/SerializerTestFileBadFieldName.json", 1, 1, 0, 1},
		{"aws-cloudtrail-processing-library-serializer-tests/SerializerTestFileCompact.json", 6, 0, 0, 6},
		{"aws-cloudtrail-processing-library-serializer-tests/SerializerTestFileCompact.json.gz", 6, 0, 0, 6},
		{"aws-cloudtrail-processing-library-serializer-tests/SerializerTestFileLocation.json", 6, 0, 0, 6},
		{"aws-cloudtrail-processing-library-serializer-tests/SerializerTestFileMissField.json", 3, 0, 1, 3},
		{"aws-cloudtrail-processing-library-serializer-tests/SerializerTestFileNewFieldAtRandomPlaces.json", 2, 0, 0, 2},
		{"aws-cloudtrail-processing-library-serializer-tests/SerializerTestFileNewFieldName.json", 1, 1, 0, 1},
		{"aws-cloudtrail-processing-library-serializer-tests/SerializerTestFileNewFieldsInRoot.json", 2, 0, 0, 2},
		{"aws-cloudtrail-processing-library-serializer-tests/SerializerTestFileNewFieldsInUserIdentity.json", 2, 0, 0, 2},
		{"aws-cloudtrail-processing-library-serializer-tests/SerializerVariousUserIdentityTestFile.json", 1, 0, 0, 1},
		{"panther-analysis-cloudtrail-tests/panther_cloudtrail_rule_tests.jsonl", 444, 0, 17, 34},
		{"panther-analysis-cloudtrail-tests/panther_test_scenarios_cloudtrail.jsonl", 27, 0, 0, 0},
		{"plaso-cloudtrail-lookupevents/aws_cloudtrail.jsonl", 6, 0, 0, 0},
		{"cloud-custodian-event-and-config-fixtures/cwe/ec2-duty-event.json", 0, 1, 0, 0},
		{"cloud-custodian-event-and-config-fixtures/cwe/event-asg-instance-failed.json", 0, 1, 0, 0},
		{"cloud-custodian-event-and-config-fixtures/cwe/event-cloud-trail-bedrock-create-customization-jobs.json", 0, 0, 1, 0},
		{"cloud-custodian-event-and-config-fixtures/cwe/event-config-rule-instance.json", 0, 1, 0, 0},
		{"cloud-custodian-event-and-config-fixtures/cwe/event-cloud-trail-run-instances.json", 1, 0, 0, 0},
		{"cloud-custodian-event-and-config-fixtures/cwe/event-cloud-trail-s3.json", 1, 0, 0, 0},
		{"cloud-custodian-event-and-config-fixtures/cwe/sqs-discover.json", 0, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			res := decodeFile(t, testdata+tt.file)
			if res.err != nil {
				t.Fatalf("Decode: %v", res.err)
			}
			noID := 0
			for _, p := range res.st.Problems {
				if strings.HasPrefix(p.Msg, "eventID is missing") {
					noID++
				}
			}
			got := [4]int{res.st.Records, res.st.Skipped, res.st.Errors, noID}
			want := [4]int{tt.records, tt.skipped, tt.errors, tt.noID}
			if got != want {
				t.Errorf("records, skipped, errors, noID = %v, want %v\n%v", got, want, res.st.Problems)
			}
		})
	}
}

// Folder totals, from the same reference script: stratus 310 records in 35 files (the number its
// README gives), cloud-custodian cwe 23 records, 13 skipped, 1 error in 37 files.
func TestDecodeSampleFoldersTotalsMatchReference(t *testing.T) {
	tests := []struct {
		glob                     string
		files                    int
		records, skipped, errors int
	}{
		{"stratus-red-team-detonation-logs/*.json", 35, 310, 0, 0},
		{"cloud-custodian-event-and-config-fixtures/cwe/*.json", 37, 23, 13, 1},
	}
	for _, tt := range tests {
		t.Run(tt.glob, func(t *testing.T) {
			files, err := filepath.Glob(testdata + tt.glob)
			if err != nil {
				t.Fatal(err)
			}
			var got [4]int
			got[0] = len(files)
			for _, f := range files {
				res := decodeFile(t, f)
				if res.err != nil {
					t.Errorf("%s: %v", f, res.err)
				}
				got[1] += res.st.Records
				got[2] += res.st.Skipped
				got[3] += res.st.Errors
			}
			if want := [4]int{tt.files, tt.records, tt.skipped, tt.errors}; got != want {
				t.Errorf("files, records, skipped, errors = %v, want %v", got, want)
			}
		})
	}
}

func TestDecodeBadJSONSampleFailsAsAWholeWithoutRecords(t *testing.T) {
	// SerializerTestFileBadJsonFormat.json misses the "}" closing the first userIdentity, so the
	// brackets never match again: python's json.loads fails too ("Expecting ',' delimiter").
	res := decodeFile(t, testdata+"aws-cloudtrail-processing-library-serializer-tests/SerializerTestFileBadJsonFormat.json")
	if res.err == nil || res.st.Records != 0 {
		t.Fatalf("got %d records, err %v; want 0 records and an error", res.st.Records, res.err)
	}
	if !strings.Contains(res.err.Error(), "SerializerTestFileBadJsonFormat.json") && !strings.Contains(res.err.Error(), "in.json") {
		t.Errorf("error %q does not name the file", res.err)
	}
}

func TestDecodeSamplesFieldValues(t *testing.T) {
	find := func(t *testing.T, res result, name string) *cloudtrail.Record {
		t.Helper()
		for _, r := range res.recs {
			if str(r.EventName) == name {
				return r
			}
		}
		t.Fatalf("no %s record among %d", name, len(res.recs))
		return nil
	}
	t.Run("plaso lookup-events RunInstances", func(t *testing.T) {
		r := find(t, decodeFile(t, testdata+"plaso-cloudtrail-lookupevents/aws_cloudtrail.jsonl"), "RunInstances")
		if got := get(r.ResponseElements, "instancesSet"); !strings.Contains(got, `"instanceId":"i-01234567890123456"`) {
			t.Errorf("instancesSet = %.200s", got)
		}
		if got, want := r.EventTime, time.Date(2022, 2, 7, 22, 19, 5, 0, time.UTC); !got.Equal(want) {
			t.Errorf("EventTime = %v, want %v", got, want)
		}
		if got, want := r.EventID, "fdd7443c-ba1f-47eb-b0bc-42395266d12c"; got != want {
			t.Errorf("EventID = %q, want %q", got, want)
		}
		if got, want := str(r.UserIdentity.ARN), "arn:aws:iam::012345678901:user/fakeusername"; got != want {
			t.Errorf("userIdentity.arn = %q, want %q", got, want)
		}
		if got, want := get(r.ResponseElements, "reservationId"), "r-01234567890123456"; got != want {
			t.Errorf("reservationId = %q, want %q (a string value is stored raw)", got, want)
		}
		// The record is the CloudTrailEvent string, not the lookup-events wrapper.
		if strings.Contains(r.EventJSON, "CloudTrailEvent") || !strings.HasPrefix(r.EventJSON, `{"eventVersion":"1.08"`) {
			t.Errorf("EventJSON is not the inner record: %.100s", r.EventJSON)
		}
	})
	t.Run("plaso shared snapshot has invokedBy", func(t *testing.T) {
		r := find(t, decodeFile(t, testdata+"plaso-cloudtrail-lookupevents/aws_cloudtrail.jsonl"), "SharedSnapshotVolumeCreated")
		if got := str(r.UserIdentity.InvokedBy); got != "ec2.amazonaws.com" {
			t.Errorf("invokedBy = %q", got)
		}
		if r.ResponseElements != nil {
			t.Errorf("responseElements null should be a nil Map, got %v", r.ResponseElements)
		}
	})
	t.Run("stratus DeleteTrail", func(t *testing.T) {
		res := decodeFile(t, testdata+"stratus-red-team-detonation-logs/aws.defense-evasion.cloudtrail-delete.json")
		r := find(t, res, "DeleteTrail")
		checks := []struct{ name, got, want string }{
			{"eventID", r.EventID, "ee73c230-44bc-4492-8542-cfb189eae287"},
			{"userIdentity.arn", str(r.UserIdentity.ARN), "arn:aws:iam::847129010505:user/christophe"},
			{"awsRegion", str(r.AWSRegion), "megov-westwest-1r"},
			{"requestParameters.name", get(r.RequestParameters, "name"), "stratus-red-team-cloudtraild-trail-kvrwohmiai"},
			{"tlsDetails.cipherSuite", str(r.TLSDetails.CipherSuite), "TLS_AES_128_GCM_SHA256"},
			{"eventTime", r.EventTime.Format(time.RFC3339), "2024-07-31T12:46:41Z"},
			{"managementEvent", fmt.Sprint(*r.ManagementEvent), "true"},
			{"readOnly", fmt.Sprint(*r.ReadOnly), "false"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		}
		if r.ResponseElements != nil {
			t.Errorf("responseElements: null should be a nil Map")
		}
	})
	t.Run("panther wrapper line", func(t *testing.T) {
		res := decodeFile(t, testdata+"panther-analysis-cloudtrail-tests/panther_cloudtrail_rule_tests.jsonl")
		r := res.recs[0]
		if got, want := str(r.EventName), "UpdateFunctionConfiguration20150331v2"; got != want {
			t.Errorf("first eventName = %q, want %q", got, want)
		}
		if got, want := get(r.ResponseElements, "layers"), `[{"arn":"arn:aws:lambda:us-west-2:123456789012:layer:malicious-layer:1"}]`; got != want {
			t.Errorf("layers = %s, want %s", got, want)
		}
		if strings.Contains(r.EventJSON, "rule_id") {
			t.Errorf("EventJSON holds the wrapper: %.100s", r.EventJSON)
		}
		// "2019-01-01 00:00:00.123456789"-style times are accepted too.
		if got, want := res.recs[0].EventTime, time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("EventTime = %v, want %v", got, want)
		}
		if res.st.Problems[0].Line == 0 {
			t.Errorf("problems in JSON Lines carry a line: %v", res.st.Problems[0])
		}
	})
	t.Run("serializer session context and resources", func(t *testing.T) {
		res := decodeFile(t, testdata+"aws-cloudtrail-processing-library-serializer-tests/SerializerVariousUserIdentityTestFile.json")
		r := res.recs[0]
		sc := r.UserIdentity.SessionContext
		if got, want := str(sc.SessionIssuer.ARN), "sessionIssuerArn1"; got != want {
			t.Errorf("sessionIssuer.arn = %q, want %q", got, want)
		}
		if got, want := str(sc.WebIDFederationData.FederatedProvider), "webIdFederationDataFederatedProvider1"; got != want {
			t.Errorf("federatedProvider = %q, want %q", got, want)
		}
		if got, want := fmt.Sprint(keys(sc.WebIDFederationData.Attributes)), "[key1 key2]"; got != want {
			t.Errorf("webIdFederationData.attributes keys = %s, want %s", got, want)
		}
		var arns []string
		for _, x := range r.Resources {
			arns = append(arns, str(x.ARN)+"@"+str(x.AccountID))
		}
		if got, want := strings.Join(arns, ","), "arn:aws:iam:sample1@acccountId1,arn:aws:iam:sample2@acccountId2,arn:aws:iam:sample3@acccountId3"; got != want {
			t.Errorf("resources = %s, want %s", got, want)
		}
	})
	t.Run("serializer bad eventTime is named", func(t *testing.T) {
		res := decodeFile(t, testdata+"aws-cloudtrail-processing-library-serializer-tests/SerializerTestFileMissField.json")
		want := `record 4 (line 100): eventTime "ThisIsAWrongEventTime" is not a timestamp`
		if len(res.st.Problems) == 0 || !strings.HasSuffix(res.st.Problems[len(res.st.Problems)-1].String(), want) {
			t.Errorf("problems = %v, want one ending %q", res.st.Problems, want)
		}
	})
	t.Run("cloud-custodian EventBridge RunInstances", func(t *testing.T) {
		r := find(t, decodeFile(t, testdata+"cloud-custodian-event-and-config-fixtures/cwe/event-cloud-trail-run-instance-creator-assumed.json"), "RunInstances")
		if got := get(r.ResponseElements, "instancesSet"); !strings.Contains(got, `"instanceId":"i-0f7c711dc84bedda0"`) {
			t.Errorf("instancesSet = %.200s", got)
		}
		ui := r.UserIdentity
		if got, want := str(ui.SessionContext.SessionIssuer.ARN), "arn:aws:iam::03412312600:role/GR_Dev_Developer"; got != want {
			t.Errorf("sessionIssuer.arn = %q, want %q", got, want)
		}
		if got, want := ui.SessionContext.Attributes.CreationDate.Format(time.RFC3339), "2016-07-23T22:08:55Z"; got != want {
			t.Errorf("creationDate = %s, want %s", got, want)
		}
		if got, want := r.EventTime.Format(time.RFC3339), "2016-07-24T10:57:13Z"; got != want {
			t.Errorf("eventTime = %s, want %s", got, want)
		}
		if strings.Contains(r.EventJSON, "detail-type") {
			t.Errorf("EventJSON holds the EventBridge envelope: %.100s", r.EventJSON)
		}
	})
}

func keys(m cloudtrail.Map) []string {
	var out []string
	for _, kv := range m {
		out = append(out, kv.Key)
	}
	return out
}

// EventJSON must be the original record, compact, keys in original order: compare with
// encoding/json's Compact of each array element as delivered.
func TestDecodeEventJSONIsTheCompactOriginalRecord(t *testing.T) {
	files, _ := filepath.Glob(testdata + "stratus-red-team-detonation-logs/*.json")
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(b, &raws); err != nil {
			t.Fatal(err)
		}
		res := decode(t, b, cloudtrail.DecodeOptions{})
		if len(res.recs) != len(raws) {
			t.Fatalf("%s: %d records, want %d", f, len(res.recs), len(raws))
		}
		for i, raw := range raws {
			var c bytes.Buffer
			if err := json.Compact(&c, raw); err != nil {
				t.Fatal(err)
			}
			if res.recs[i].EventJSON != c.String() {
				t.Errorf("%s record %d: EventJSON differs from the compact original", f, i+1)
			}
			n++
		}
	}
	if n != 310 {
		t.Errorf("compared %d records, want 310", n)
	}
}

func TestDecodeMapEncodingFollowsLake(t *testing.T) {
	in := `{"eventVersion":"1.08","eventTime":"2024-01-02T03:04:05Z","eventID":"e1",
	 "requestParameters":{"zeta":"z","instancesSet":{"items":[ {"instanceId":"i-1"} ]},"count":1,
	   "flag":false,"nothing":null,"alpha":"with \"quotes\" and \u00e9"},
	 "responseElements":null,"additionalEventData":{},"serviceEventDetails":{"a":[1, 2]},
	 "addendum":{"reason":"DELIVERY_DELAY"},"edgeDeviceDetails":{"x":"y"},"insightDetails":{"state":"Start"}}`
	res := decode(t, []byte(in), cloudtrail.DecodeOptions{})
	if res.err != nil || len(res.recs) != 1 {
		t.Fatalf("got %d records, err %v", len(res.recs), res.err)
	}
	r := res.recs[0]
	if got, want := fmt.Sprint(keys(r.RequestParameters)), "[zeta instancesSet count flag nothing alpha]"; got != want {
		t.Errorf("keys in order = %s, want %s", got, want)
	}
	for _, c := range []struct{ key, want string }{
		{"zeta", "z"},
		{"instancesSet", `{"items":[{"instanceId":"i-1"}]}`},
		{"count", "1"},
		{"flag", "false"},
		{"alpha", `with "quotes" and é`},
	} {
		if got := get(r.RequestParameters, c.key); got != c.want {
			t.Errorf("requestParameters[%s] = %q, want %q", c.key, got, c.want)
		}
	}
	if kv := r.RequestParameters[4]; kv.Key != "nothing" || kv.Value != nil {
		t.Errorf("null value: got %+v, want key with nil Value", kv)
	}
	if r.ResponseElements != nil {
		t.Errorf("responseElements null: got %v, want nil Map", r.ResponseElements)
	}
	if r.AdditionalEventData == nil || len(r.AdditionalEventData) != 0 {
		t.Errorf("additionalEventData {}: got %#v, want empty non-nil Map", r.AdditionalEventData)
	}
	if got := get(r.ServiceEventDetails, "a"); got != "[1,2]" {
		t.Errorf("serviceEventDetails[a] = %q", got)
	}
	if get(r.Addendum, "reason") != "DELIVERY_DELAY" || get(r.EdgeDeviceDetails, "x") != "y" || get(r.InsightDetails, "state") != "Start" {
		t.Errorf("addendum/edgeDeviceDetails/insightDetails not mapped: %v %v %v", r.Addendum, r.EdgeDeviceDetails, r.InsightDetails)
	}
}

const rec1 = `{"eventVersion":"1.08","eventTime":"2024-01-02T03:04:05Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventID":"11111111-1111-1111-1111-111111111111","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}}`
const rec2 = `{"eventVersion":"1.08","eventTime":"2024-01-02T03:04:06Z","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","eventID":"22222222-2222-2222-2222-222222222222"}`

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestDecodeAcceptsEveryContainerShape(t *testing.T) {
	lookup := func(rec string) string {
		return `{"EventId":"x","EventName":"RunInstances","EventTime":"2024-01-02 14:04:05+11:00","EventSource":"ec2.amazonaws.com","CloudTrailEvent":` + quote(rec) + `}`
	}
	tests := []struct {
		name string
		in   string
	}{
		{"Records file", `{"Records":[` + rec1 + `,` + rec2 + `]}`},
		{"Records file pretty", "{\n  \"Records\": [\n    " + rec1 + ",\n    " + rec2 + "\n  ]\n}\n"},
		{"Records after other keys", `{"Other":{"a":[1]},"records":[` + rec1 + `,` + rec2 + `]}`},
		{"bare array", `[` + rec1 + `,` + rec2 + `]`},
		{"JSON Lines", rec1 + "\n" + rec2 + "\n"},
		{"JSON Lines CRLF and BOM", "\xEF\xBB\xBF" + rec1 + "\r\n" + rec2 + "\r\n"},
		{"lookup-events output", `{"Events":[` + lookup(rec1) + `,` + lookup(rec2) + `],"NextToken":"abc"}`},
		{"lookup-events lines", lookup(rec1) + "\n" + lookup(rec2)},
		{"EventBridge", `{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":` + rec1 + "}\n" +
			`{"version":"0","detail-type":"AWS Service Event via CloudTrail","source":"aws.ec2","detail":` + rec2 + "}"},
		{"panther wrapper", `{"rule_id":"X","log":` + rec1 + `,"expected_result":true}` + "\n" + `{"log":` + rec2 + `}`},
		{"string field wrapper", `{"message":` + quote(rec1) + `}` + "\n" + `{"id":1,"message":` + quote(rec2) + `}`},
		{"mixed array", `[` + lookup(rec1) + `,{"detail-type":"AWS API Call via CloudTrail","detail":` + rec2 + `}]`},
		{"array of arrays", `[[` + rec1 + `],[` + rec2 + `]]`},
		{"Records in a JSON Lines line", `{"Records":[` + rec1 + `]}` + "\n" + `{"Records":[` + rec2 + `]}`},
	}
	for _, tt := range tests {
		for _, zipped := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/gzip=%v", tt.name, zipped), func(t *testing.T) {
				in := []byte(tt.in)
				if zipped {
					in = gz(t, in)
				}
				res := decode(t, in, cloudtrail.DecodeOptions{})
				if res.err != nil {
					t.Fatalf("Decode: %v", res.err)
				}
				if len(res.recs) != 2 || res.st.Skipped != 0 || res.st.Errors != 0 || res.st.Warnings != 0 {
					t.Fatalf("got %d records, stats %+v; want 2 clean records", len(res.recs), res.st)
				}
				if res.recs[0].EventJSON != rec1 || res.recs[1].EventJSON != rec2 {
					t.Errorf("EventJSON = %s / %s, want the two records", res.recs[0].EventJSON, res.recs[1].EventJSON)
				}
				if got := str(res.recs[0].UserIdentity.ARN); got != "arn:aws:iam::111122223333:user/a" {
					t.Errorf("userIdentity.arn = %q", got)
				}
			})
		}
	}
}

func TestDecodeNormalisesFieldForms(t *testing.T) {
	in := `{"EventVersion":"1.11","EVENTTIME":"2024-01-02T14:04:05.123+11:00","EventSource":"ec2.amazonaws.com",
	"EventName":"RunInstances","EventID":"e1","ReadOnly":"false","ManagementEvent":"TRUE",
	"RequestParameters":{"k":"v"},"sessionCredentialFromConsole":true,
	"Resources":[{"accountId":"111122223333","type":"AWS::EC2::Instance","ARN":"arn:aws:ec2:r:1:instance/i-1","ARNPrefix":"arn:aws:ec2:"}],
	"tlsDetails":{"tlsVersion":"TLSv1.3","keyExchange":"x25519"},
	"userIdentity":{"type":"IdentityCenterUser","credentialId":"cred-1","accountId":"111122223333",
	  "onBehalfOf":{"userId":"u-1","identityStoreArn":"arn:aws:identitystore::1:identitystore/d-1"},
	  "inScopeOf":{"sourceArn":"arn:s","sourceAccount":"1","issuerType":"AWS::Lambda::Function","credentiaIsIssuedTo":"arn:c"},
	  "sessionContext":{"attributes":{"creationDate":"20131102T010628Z","mfaAuthenticated":false},
	    "sourceIdentity":"me","ec2RoleDelivery":"2.0","ec2IssuedInVPC":"vpc-1",
	    "webIdFederationData":{"federatedProvider":"arn:p","attributes":{"aud":"x","n":1}}}}}`
	res := decode(t, []byte(in), cloudtrail.DecodeOptions{})
	if res.err != nil || len(res.recs) != 1 || res.st.Warnings != 0 {
		t.Fatalf("got %d records, err %v, problems %v", len(res.recs), res.err, res.st.Problems)
	}
	r := res.recs[0]
	ui := r.UserIdentity
	sc := ui.SessionContext
	checks := []struct{ name, got, want string }{
		{"eventTime in UTC", r.EventTime.Format(time.RFC3339Nano), "2024-01-02T03:04:05.123Z"},
		{"eventVersion", str(r.EventVersion), "1.11"},
		{"readOnly string", fmt.Sprint(*r.ReadOnly), "false"},
		{"managementEvent string", fmt.Sprint(*r.ManagementEvent), "true"},
		{"requestParameters", get(r.RequestParameters, "k"), "v"},
		{"sessionCredentialFromConsole bool", str(r.SessionCredentialFromConsole), "true"},
		{"resources ARN", str(r.Resources[0].ARN), "arn:aws:ec2:r:1:instance/i-1"},
		{"resources ARNPrefix", str(r.Resources[0].ARNPrefix), "arn:aws:ec2:"},
		{"resources type", str(r.Resources[0].Type), "AWS::EC2::Instance"},
		{"tls keyExchange", str(r.TLSDetails.KeyExchange), "x25519"},
		{"credentialId", str(ui.CredentialID), "cred-1"},
		{"onBehalfOf.identityStoreArn", str(ui.OnBehalfOf.IdentityStoreARN), "arn:aws:identitystore::1:identitystore/d-1"},
		{"inScopeOf typo alias", str(ui.InScopeOf.CredentialsIssuedTo), "arn:c"},
		{"inScopeOf.issuerType", str(ui.InScopeOf.IssuerType), "AWS::Lambda::Function"},
		{"creationDate basic", sc.Attributes.CreationDate.Format(time.RFC3339), "2013-11-02T01:06:28Z"},
		{"mfaAuthenticated bool", str(sc.Attributes.MFAAuthenticated), "false"},
		{"sourceIdentity", str(sc.SourceIdentity), "me"},
		{"ec2RoleDelivery", str(sc.EC2RoleDelivery), "2.0"},
		{"ec2IssuedInVPC", str(sc.EC2IssuedInVPC), "vpc-1"},
		{"webId attributes number", get(sc.WebIDFederationData.Attributes, "n"), "1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestDecodeEventTimeForms(t *testing.T) {
	f := func(in string, want string) {
		t.Helper()
		res := decode(t, []byte(`{"eventName":"X","eventTime":`+quote(in)+`,"eventID":"e"}`), cloudtrail.DecodeOptions{})
		got := "dropped"
		if len(res.recs) == 1 {
			got = res.recs[0].EventTime.Format(time.RFC3339Nano)
		}
		if got != want {
			t.Errorf("eventTime %q: got %s, want %s", in, got, want)
		}
	}
	f("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z")
	f("2024-01-02T03:04:05.5Z", "2024-01-02T03:04:05.5Z")
	f("2024-01-02T05:04:05+02:00", "2024-01-02T03:04:05Z")
	f("2024-01-02 03:04:05", "2024-01-02T03:04:05Z")
	f("2024-01-02 03:04:05.123456789", "2024-01-02T03:04:05.123456789Z")
	f("20240102T030405Z", "2024-01-02T03:04:05Z")
	f("2024-02-30T03:04:05Z", "dropped")
	f("2024-01-02T24:04:05Z", "dropped")
	f("yesterday", "dropped")
	f("", "dropped")
}

func TestDecodeKeepsRecordsWithMistypedFieldsAsNullWithWarnings(t *testing.T) {
	in := `{"eventTime":"2024-01-02T03:04:05Z","eventID":"e","eventName":42,"eventSource":["s"],
	"userIdentity":"root","resources":{"ARN":"x"},"readOnly":"maybe","requestParameters":"text",
	"tlsDetails":7,"awsRegion":"us-east-1"}`
	res := decode(t, []byte(in), cloudtrail.DecodeOptions{})
	if res.err != nil || len(res.recs) != 1 || res.st.Errors != 0 {
		t.Fatalf("got %d records, %d errors, err %v", len(res.recs), res.st.Errors, res.err)
	}
	r := res.recs[0]
	if r.EventName != nil || r.EventSource != nil || r.UserIdentity != nil || r.Resources != nil ||
		r.ReadOnly != nil || r.RequestParameters != nil || r.TLSDetails != nil {
		t.Errorf("mistyped fields should be NULL: %+v", r)
	}
	if str(r.AWSRegion) != "us-east-1" {
		t.Errorf("good field lost: awsRegion = %q", str(r.AWSRegion))
	}
	var msgs []string
	for _, p := range res.st.Problems {
		if p.Severity != cloudtrail.Warning {
			t.Errorf("problem %v should be a warning", p)
		}
		msgs = append(msgs, p.Msg)
	}
	for _, field := range []string{"eventName is a number", "eventSource is an array", "userIdentity is a string",
		"resources is an object", `readOnly "maybe" is not a boolean`, "requestParameters is a string", "tlsDetails is a number"} {
		if !strings.Contains(strings.Join(msgs, "\n"), field) {
			t.Errorf("no warning %q in %q", field, msgs)
		}
	}
}

func TestDecodeSynthesisesAStableEventIDWhenMissing(t *testing.T) {
	in := []byte(`{"eventTime":"2024-01-02T03:04:05Z","eventName":"X","eventSource":"s"}`)
	a := decode(t, in, cloudtrail.DecodeOptions{})
	b := decode(t, append([]byte("  \n"), in...), cloudtrail.DecodeOptions{})
	c := decode(t, []byte(`{"eventTime":"2024-01-02T03:04:05Z","eventName":"Y","eventSource":"s"}`), cloudtrail.DecodeOptions{})
	if len(a.recs) != 1 || len(b.recs) != 1 || len(c.recs) != 1 {
		t.Fatal("records not kept")
	}
	id := a.recs[0].EventID
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("synthesised id %q is not a UUID", id)
	}
	if b.recs[0].EventID != id {
		t.Errorf("same record gave %q then %q", id, b.recs[0].EventID)
	}
	if c.recs[0].EventID == id {
		t.Errorf("different records share id %q", id)
	}
	if a.st.Warnings != 1 || !strings.Contains(a.st.Problems[0].Msg, "eventID is missing") {
		t.Errorf("problems = %v, want one eventID warning", a.st.Problems)
	}
}

func TestDecodeKeepsGoodRecordsAroundBadOnes(t *testing.T) {
	big := strings.Repeat("x", 10<<20)
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	tests := []struct {
		name                     string
		in                       string
		opts                     cloudtrail.DecodeOptions
		records, skipped, errors int
		fatal                    bool
		msgs                     []string
	}{
		{name: "record not an object", in: `[1,"two",` + rec1 + `,null,[],` + rec2 + `]`,
			records: 2, errors: 3, msgs: []string{"record 1 (line 1): record is a number, not an object", "record is a string", "record is null"}},
		{name: "invalid record inside a balanced array", in: `{"Records":[` + rec1 + `,{"eventTime" "x"},{"a":tru},` + rec2 + `]}`,
			records: 2, errors: 2, msgs: []string{"record 2 (line 1): invalid JSON", "record 3"}},
		{name: "broken JSON mid-array", in: `{"Records":[` + rec1 + `,` + rec2 + `,{"eventName":"x"]}`,
			records: 2, fatal: true, msgs: []string{"record 3 (line 1): invalid JSON: unexpected ']'"}},
		{name: "cut short mid-array", in: `[` + rec1 + `,` + rec2 + `,{"eventName":"x"`,
			records: 2, fatal: true, msgs: []string{"unexpected end of input"}},
		{name: "bad JSON Lines line", in: rec1 + "\n{\"eventTime\":2024-01-01}\nnot json\n" + rec2 + "\n",
			records: 2, errors: 3, msgs: []string{"record 2 (line 2): invalid JSON", "(line 3)"}},
		{name: "JSON Lines line cut short", in: rec1 + "\n" + `{"eventTime":"2024-01-02T03:04:05Z","eventName":"x` + "\n" + rec2 + "\n" + `{"eventName":[}` + "\n" + rec1 + "\n",
			records: 3, errors: 2, msgs: []string{"record 2 (line 2): invalid JSON: unexpected end of input: the line is not complete JSON", "record 4 (line 4): invalid JSON: unexpected '}'"}},
		{name: "last JSON Lines line cut short", in: rec1 + "\n" + rec2 + "\n" + `{"eventTime":"2024-01-02T03:04:05Z","eventName":"x`,
			records: 2, fatal: true, msgs: []string{"record 3 (line 3): invalid JSON: unexpected end of input"}},
		{name: "junk between JSON Lines", in: rec1 + "\n# comment {\n]\n" + rec2 + "\n",
			records: 2, errors: 2, msgs: []string{`record 2 (line 2): invalid JSON: unexpected '#'`, `record 3 (line 3): invalid JSON: unexpected ']'`}},
		{name: "eventTime garbage", in: `[` + strings.Replace(rec1, "2024-01-02T03:04:05Z", "yesterday", 1) + `,` + rec2 + `]`,
			records: 1, errors: 1, msgs: []string{`record 1 (line 1): eventTime "yesterday" is not a timestamp`}},
		{name: "eventTime missing", in: `{"eventName":"X","eventSource":"s","eventID":"e"}`,
			errors: 1, msgs: []string{"eventTime is missing"}},
		{name: "non-record objects are skipped", in: `[{"a":1},` + rec1 + `,{"detail-type":"GuardDuty Finding","detail":{"severity":5}}]`,
			records: 1, skipped: 2, msgs: []string{"not a CloudTrail record", `EventBridge event "GuardDuty Finding"`}},
		{name: "10 MB field over MaxRecordBytes", in: `[` + rec1 + `,{"eventTime":"2024-01-02T03:04:05Z","eventName":"` + big + `"},` + rec2 + `]`,
			opts: cloudtrail.DecodeOptions{MaxRecordBytes: 1 << 20}, records: 2, errors: 1, msgs: []string{"record 2 (line 1): record is larger than 1048576 bytes"}},
		{name: "10 MB field under the default limit", in: `[` + rec1 + `,{"eventTime":"2024-01-02T03:04:05Z","eventID":"e","eventName":"` + big + `"},` + rec2 + `]`,
			records: 3},
		{name: "deep nesting in a record", in: `[` + rec1 + `,{"eventTime":"2024-01-02T03:04:05Z","requestParameters":{"a":` + deep + `}},` + rec2 + `]`,
			records: 2, errors: 1, msgs: []string{"nesting is deeper than 1000 levels"}},
		{name: "deep nesting at top level", in: deep + "\n" + rec1,
			records: 1, errors: 1, msgs: []string{"nesting is deeper than 1000 levels"}},
		{name: "deep nesting inside a CloudTrailEvent string", in: `{"CloudTrailEvent":` + quote(`{"eventTime":"2024-01-02T03:04:05Z","eventName":"x","a":`+deep+`}`) + "}\n" + rec1,
			records: 1, errors: 1, msgs: []string{"nesting deeper than 1000 levels"}},
		{name: "arrays nested deeper than wrappers go", in: strings.Repeat("[", 900) + rec1 + strings.Repeat("]", 900) + "\n" + `[[` + rec2 + `]]`,
			records: 1, errors: 1, msgs: []string{"record 1 (line 1): record is an array, not an object"}},
		{name: "a duplicate record key refuses the record", in: `[` + rec1 + `,{"eventTime":"2024-01-02T03:04:05Z","eventID":"e","eventName":"A","eventName":"B"},` + rec2 + `]`,
			records: 2, errors: 1, msgs: []string{`record 2 (line 1): key "eventName" appears twice: the record is refused`}},
		{name: "a duplicate map key keeps the first value", in: `{"eventTime":"2024-01-02T03:04:05Z","eventID":"e","eventName":"A","requestParameters":{"k":"1","k":"2"}}`,
			records: 1, msgs: []string{`requestParameters has the key "k" twice`}},
		{name: "control character in a string", in: "[{\"eventTime\":\"2024-01-02T03:04:05Z\",\"eventName\":\"a\x01b\"}," + rec1 + "]",
			records: 1, errors: 1, msgs: []string{"control character"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := decode(t, []byte(tt.in), tt.opts)
			if (res.err != nil) != tt.fatal {
				t.Errorf("err = %v, want fatal=%v", res.err, tt.fatal)
			}
			if got, want := [3]int{res.st.Records, res.st.Skipped, res.st.Errors}, [3]int{tt.records, tt.skipped, tt.errors}; got != want {
				t.Errorf("records, skipped, errors = %v, want %v; problems %v", got, want, res.st.Problems)
			}
			all := fmt.Sprint(res.err)
			for _, p := range res.st.Problems {
				all += "\n" + p.String()
			}
			for _, m := range tt.msgs {
				if !strings.Contains(all, m) {
					t.Errorf("no %q in:\n%s", m, all)
				}
			}
		})
	}
}

// A map key given twice keeps its first value, once: the value json_extract_scalar reads from
// eventjson (DuckDB takes the first), so the map column and the JSON agree.
func TestDecodeDuplicateMapKeysKeepTheFirstValueOnce(t *testing.T) {
	many := `"k0":"first"`
	for i := 1; i < 100; i++ {
		many += fmt.Sprintf(`,"k%d":%d`, i, i)
	}
	many += `,"k0":"last","k50":"fifty"`
	res := decode(t, []byte(`{"eventTime":"2024-01-02T03:04:05Z","eventID":"e","eventName":"A","requestParameters":{`+many+`}}`), cloudtrail.DecodeOptions{})
	r := res.recs[0]
	if len(r.RequestParameters) != 100 || get(r.RequestParameters, "k0") != "first" || get(r.RequestParameters, "k50") != "50" {
		t.Errorf("requestParameters has %d entries, k0=%q, k50=%q; want 100, first, 50",
			len(r.RequestParameters), get(r.RequestParameters, "k0"), get(r.RequestParameters, "k50"))
	}
}

func TestDecodeReplacesInvalidUTF8AndWarns(t *testing.T) {
	in := "{\"eventTime\":\"2024-01-02T03:04:05Z\",\"eventID\":\"e\",\"userAgent\":\"abc\xff\xfedef\",\"requestParameters\":{\"k\":[\"\xc3\"]}}"
	res := decode(t, []byte(in), cloudtrail.DecodeOptions{})
	if len(res.recs) != 1 {
		t.Fatalf("got %d records, problems %v", len(res.recs), res.st.Problems)
	}
	r := res.recs[0]
	if got, want := str(r.UserAgent), "abc\uFFFDdef"; got != want {
		t.Errorf("userAgent = %q, want %q", got, want)
	}
	if got, want := get(r.RequestParameters, "k"), "[\"\uFFFD\"]"; got != want {
		t.Errorf("requestParameters[k] = %q, want %q", got, want)
	}
	if res.st.Warnings != 1 || !strings.Contains(res.st.Problems[0].Msg, "invalid UTF-8") {
		t.Errorf("problems = %v, want one UTF-8 warning", res.st.Problems)
	}
}

func TestDecodeTruncatedGzipKeepsRecordsBeforeAndFails(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	for i := 0; i < 2000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"eventTime":"2024-01-02T03:04:05Z","eventName":"E%d","eventID":"id-%d","requestParameters":{"n":%d,"pad":"%s"}}`, i, i, i, strings.Repeat("p", i%97))
	}
	b.WriteString(`]}`)
	full := gz(t, []byte(b.String()))
	whole := decode(t, full, cloudtrail.DecodeOptions{})
	if whole.err != nil || whole.st.Records != 2000 {
		t.Fatalf("whole file: %d records, err %v", whole.st.Records, whole.err)
	}
	cut := decode(t, full[:len(full)/2], cloudtrail.DecodeOptions{})
	if cut.err == nil {
		t.Fatal("truncated gzip: no error")
	}
	if cut.st.Records == 0 || cut.st.Records >= 2000 {
		t.Errorf("truncated gzip: %d records, want some but not all", cut.st.Records)
	}
	for i, r := range cut.recs {
		if got, want := str(r.EventName), fmt.Sprintf("E%d", i); got != want {
			t.Fatalf("record %d is %s, want %s", i, got, want)
		}
	}
	if !errors.Is(cut.err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want io.ErrUnexpectedEOF in the chain", cut.err)
	}
}

func TestDecodeStopsAtMaxDecompressedBytes(t *testing.T) {
	bomb := gz(t, []byte(`[`+rec1+`,{"eventTime":"2024-01-02T03:04:05Z","eventName":"`+strings.Repeat("A", 50<<20)+`"}]`))
	res := decode(t, bomb, cloudtrail.DecodeOptions{MaxDecompressedBytes: 1 << 20})
	if res.err == nil || !strings.Contains(res.err.Error(), "decompressed size limit") {
		t.Errorf("err = %v, want the decompressed size limit", res.err)
	}
	if res.st.Records != 1 || res.st.Bytes > 1<<20 {
		t.Errorf("records %d, bytes %d; want 1 record and at most 1 MiB read", res.st.Records, res.st.Bytes)
	}
}

func TestDecodeStopsWhenEmitFails(t *testing.T) {
	boom := errors.New("disk full")
	n := 0
	_, err := cloudtrail.Decode(strings.NewReader(`[`+rec1+`,`+rec2+`]`), "x.json", cloudtrail.DecodeOptions{}, func(*cloudtrail.Record) error {
		n++
		return boom
	})
	if !errors.Is(err, boom) || n != 1 {
		t.Errorf("err = %v after %d emits, want %v after 1", err, n, boom)
	}
}

// A record far larger than MaxRecordBytes is skipped while streaming: decoding it must allocate
// far less than its size (what is read before the input proves too large to hold whole,
// MaxInMemoryBytes, is allocated about twice over while its buffer grows).
func TestDecodeOversizeRecordIsNotHeldInMemory(t *testing.T) {
	const fieldSize = 128 << 20
	in := io.MultiReader(
		strings.NewReader(`[`+rec1+`,{"eventTime":"2024-01-02T03:04:05Z","eventName":"`),
		io.LimitReader(repeatReader('x'), fieldSize),
		strings.NewReader(`"},`+rec2+`]`),
	)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var names []string
	st, err := cloudtrail.Decode(in, "big.json", cloudtrail.DecodeOptions{MaxRecordBytes: 1 << 20}, func(r *cloudtrail.Record) error {
		names = append(names, str(r.EventName))
		return nil
	})
	runtime.ReadMemStats(&after)
	if err != nil || st.Errors != 1 || fmt.Sprint(names) != "[RunInstances TerminateInstances]" {
		t.Fatalf("err %v, errors %d, records %v", err, st.Errors, names)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 3*cloudtrail.DefaultMaxInMemoryBytes+8<<20 {
		t.Errorf("allocated %d MiB to skip a %d MiB record", grew>>20, fieldSize>>20)
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestProblemString(t *testing.T) {
	p := cloudtrail.Problem{File: "AWSLogs/x.json.gz", Record: 17, Line: 1, Severity: cloudtrail.Error, Msg: `eventTime "yesterday" is not a timestamp`}
	if got, want := p.String(), `AWSLogs/x.json.gz: record 17 (line 1): eventTime "yesterday" is not a timestamp`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	p.Severity = cloudtrail.Warning
	if got, want := p.String(), `AWSLogs/x.json.gz: record 17 (line 1): warning: eventTime "yesterday" is not a timestamp`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestDecodeCapsTheProblemListButCountsAll(t *testing.T) {
	in := "[" + strings.TrimSuffix(strings.Repeat("1,", 50), ",") + "]"
	res := decode(t, []byte(in), cloudtrail.DecodeOptions{MaxProblems: 10})
	if res.st.Errors != 50 || len(res.st.Problems) != 10 {
		t.Errorf("errors %d, problems kept %d; want 50, 10", res.st.Errors, len(res.st.Problems))
	}
}

// Records decoded in place share their input's memory; a caller that keeps a few records of
// each input (Keep, as ingest's selectors and time bounds do) must not keep every input whole:
// 100 inputs of about 1 MiB, one record kept of each, leave far less than 100 MiB behind — and
// the kept records are whole and right.
func TestDecodeKeepingFewRecordsDoesNotKeepTheirInputs(t *testing.T) {
	const inputs, perInput = 100, 1000
	pad := strings.Repeat("x", 1000)
	var kept []*cloudtrail.Record
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range inputs {
		var b strings.Builder
		b.WriteString(`{"Records":[`)
		for j := range perInput {
			if j > 0 {
				b.WriteByte(',')
			}
			name := "Other"
			if j == perInput/2 {
				name = "Kept"
			}
			fmt.Fprintf(&b, `{"eventTime":"2024-01-02T03:04:05Z","eventName":%q,"eventID":"id-%d-%d","userAgent":%q}`, name, i, j, pad)
		}
		b.WriteString(`]}`)
		_, err := cloudtrail.Decode(strings.NewReader(b.String()), "in.json", cloudtrail.DecodeOptions{
			Keep: func(r *cloudtrail.Record) bool { return str(r.EventName) == "Kept" },
		}, func(r *cloudtrail.Record) error {
			kept = append(kept, r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(kept) != inputs {
		t.Fatalf("%d records kept, want %d", len(kept), inputs)
	}
	for i, r := range kept {
		if r.EventID != fmt.Sprintf("id-%d-%d", i, perInput/2) || str(r.UserAgent) != pad || !strings.Contains(r.EventJSON, `"Kept"`) {
			t.Fatalf("record %d: %s %q", i, r.EventID, r.EventJSON)
		}
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 20<<20 {
		t.Errorf("keeping %d records of ~1 KB kept %d MiB of the heap", inputs, grew>>20)
	}
	runtime.KeepAlive(kept)
}

// A record's parts come from one block per record while they last (fields.go, recordBlock):
// parts beyond the block's arrays must hold their own values, and no two records may share any
// part. A record that repeats an object (its parts taken twice) is refused and shares nothing
// with the records around it.
func TestDecodeRecordPartsAreTheRecordsOwn(t *testing.T) {
	in := `{"Records":[` +
		`{"eventTime":"2024-01-02T03:04:05Z","eventID":"r","eventName":"Repeated",` +
		`"userIdentity":{"type":"IAMUser","userName":"u1","sessionContext":{"attributes":{"creationDate":"2024-01-01T00:00:00Z","mfaAuthenticated":"true"},"sessionIssuer":{"userName":"i1"}}},` +
		`"userIdentity":{"type":"AssumedRole","arn":"arn:r"},"tlsDetails":{"tlsVersion":"TLSv1.2"},"tlsDetails":{"cipherSuite":"c1"}},` +
		`{"eventTime":"2024-01-02T03:04:05Z","eventID":"a","eventName":"First",` +
		`"userIdentity":{"type":"AssumedRole","arn":"arn:2","sessionContext":{"sessionIssuer":{"arn":"arn:i2"}}},` +
		`"tlsDetails":{"clientProvidedHostHeader":"h2"},` +
		`"resources":[{"ARN":"r1"},{"ARN":"r2"},{"ARN":"r3"}],` +
		`"requestParameters":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6"},` +
		`"responseElements":{"g":"7","h":"8","i":"9","j":"10","k":"11"},` +
		`"additionalEventData":{"l":"12","m":{"n":13}},` +
		`"readOnly":true,"managementEvent":"false","sessionCredentialFromConsole":true},` +
		`{"eventTime":"2024-01-02T03:04:06Z","eventID":"b","eventName":"Second","readOnly":false,` +
		`"userIdentity":{"type":"Root","sessionContext":{"attributes":{"creationDate":"2024-01-02T00:00:00Z"},"webIdFederationData":{"federatedProvider":"p"}}},` +
		`"resources":[{"ARN":"s1"}],"requestParameters":{"a":"x"}}]}`
	res := decode(t, []byte(in), cloudtrail.DecodeOptions{})
	if len(res.recs) != 2 || res.st.Errors != 1 || !strings.Contains(res.st.Problems[0].String(), `record 1 (line 1): key "userIdentity" appears twice`) {
		t.Fatalf("%d records, problems %v; want 2 and the first record refused", len(res.recs), res.st.Problems)
	}
	r, s := res.recs[0], res.recs[1]

	u := r.UserIdentity
	if str(u.Type) != "AssumedRole" || str(u.ARN) != "arn:2" || u.UserName != nil {
		t.Errorf("userIdentity: type %q arn %q userName %v", str(u.Type), str(u.ARN), u.UserName)
	}
	if sc := u.SessionContext; sc == nil || sc.Attributes != nil || sc.SessionIssuer == nil || str(sc.SessionIssuer.ARN) != "arn:i2" || sc.SessionIssuer.UserName != nil {
		t.Errorf("userIdentity: sessionContext %+v; want only the issuer's ARN", sc)
	}
	if tl := r.TLSDetails; tl.TLSVersion != nil || tl.CipherSuite != nil || str(tl.ClientProvidedHostHeader) != "h2" {
		t.Errorf("tlsDetails: %+v; want only the host header", tl)
	}
	if len(r.Resources) != 3 || str(r.Resources[0].ARN) != "r1" || str(r.Resources[2].ARN) != "r3" {
		t.Errorf("resources = %d entries; want r1, r2, r3", len(r.Resources))
	}
	want := map[string]string{"a": "1", "f": "6"}
	for k, v := range want {
		if get(r.RequestParameters, k) != v {
			t.Errorf("requestParameters[%s] = %q, want %q", k, get(r.RequestParameters, k), v)
		}
	}
	if len(r.RequestParameters) != 6 || len(r.ResponseElements) != 5 || len(r.AdditionalEventData) != 2 ||
		get(r.ResponseElements, "k") != "11" || get(r.AdditionalEventData, "m") != `{"n":13}` {
		t.Errorf("maps: %d %d %d entries, k=%q m=%q", len(r.RequestParameters), len(r.ResponseElements), len(r.AdditionalEventData),
			get(r.ResponseElements, "k"), get(r.AdditionalEventData, "m"))
	}
	// Appending to one map must not write over the next one's entries (the block's entries
	// after requestParameters' six hold additionalEventData's: responseElements' five did not fit).
	_ = append(r.RequestParameters, cloudtrail.KV{Key: "z"})
	if r.ResponseElements[0].Key != "g" || r.AdditionalEventData[0].Key != "l" {
		t.Errorf("appending to requestParameters changed the next map: %q %q", r.ResponseElements[0].Key, r.AdditionalEventData[0].Key)
	}
	if r.ReadOnly == nil || !*r.ReadOnly || r.ManagementEvent == nil || *r.ManagementEvent || str(r.SessionCredentialFromConsole) != "true" {
		t.Errorf("booleans: readOnly %v managementEvent %v sessionCredentialFromConsole %q", r.ReadOnly, r.ManagementEvent, str(r.SessionCredentialFromConsole))
	}
	if len(r.EventJSONChecksum) != 64 || len(s.EventJSONChecksum) != 64 || r.EventJSONChecksum == s.EventJSONChecksum {
		t.Errorf("checksums %q and %q", r.EventJSONChecksum, s.EventJSONChecksum)
	}

	// The second record's parts are its own: writing through the first's pointers leaves it be.
	*r.EventName, *r.ReadOnly = "changed", false
	*r.Resources[0].ARN = "changed"
	r.RequestParameters[0].Key = "changed"
	if str(s.EventName) != "Second" || s.ReadOnly == nil || *s.ReadOnly || str(s.Resources[0].ARN) != "s1" || s.RequestParameters[0].Key != "a" {
		t.Errorf("the second record changed with the first: %q %v %q %q", str(s.EventName), s.ReadOnly, str(s.Resources[0].ARN), s.RequestParameters[0].Key)
	}
	su := s.UserIdentity
	if str(su.Type) != "Root" || su.SessionContext == nil || su.SessionContext.Attributes == nil ||
		su.SessionContext.Attributes.CreationDate == nil || su.SessionContext.Attributes.CreationDate.Day() != 2 ||
		su.SessionContext.WebIDFederationData == nil || str(su.SessionContext.WebIDFederationData.FederatedProvider) != "p" {
		t.Errorf("second userIdentity: %+v", su)
	}
	if s.UserIdentity == r.UserIdentity || s.UserIdentity.SessionContext == r.UserIdentity.SessionContext {
		t.Errorf("two records share a user identity")
	}
}

// A record repeating one key 200,000 times (a 1.6 MB record) has a warning for each repeat:
// all are counted, the first 100 kept as text — before, all 200,000 messages were held while
// the record was decoded, hundreds of bytes for every 8 bytes of input.
func TestDecodeCountsEveryWarningOfARecordButKeepsFewMessages(t *testing.T) {
	const repeats = 200_000
	in := `{"eventVersion":"1.08","eventTime":"2026-05-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"e1","requestParameters":{` +
		strings.TrimSuffix(strings.Repeat(`"k":"v",`, repeats), ",") + `}}`
	res := decode(t, []byte(in), cloudtrail.DecodeOptions{MaxProblems: -1})
	if len(res.recs) != 1 || res.st.Warnings != repeats-1 || len(res.st.Problems) != 100 {
		t.Fatalf("%d records, %d warnings, %d problems kept; want 1, %d, 100", len(res.recs), res.st.Warnings, len(res.st.Problems), repeats-1)
	}
}

// Reserve is asked before each item of 4 MiB or more is decoded, with its size, streamed or
// in memory; its error stops decoding; small items never ask.
func TestDecodeReservesBeforeDecodingALargeItem(t *testing.T) {
	rec := func(id string, pad int) string {
		return `{"eventVersion":"1.08","eventTime":"2026-05-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"` + id +
			`","requestParameters":{"p":"` + strings.Repeat("x", pad) + `"}}`
	}
	in := `{"Records":[` + rec("small", 10) + "," + rec("large", 5<<20) + "," + rec("small2", 10) + `]}`
	streamed := cloudtrail.DecodeOptions{MaxInMemoryBytes: -1}
	var asked []int
	streamed.Reserve = func(n int) error {
		asked = append(asked, n)
		return nil
	}
	res := decode(t, []byte(in), streamed)
	if len(res.recs) != 3 || len(asked) != 1 || asked[0] < 5<<20 || asked[0] > 6<<20 {
		t.Errorf("streamed: %d records, asked %v; want 3 records and one ask of about 5 MiB", len(res.recs), asked)
	}
	streamed.Reserve = func(int) error { return errors.New("no room") }
	res = decode(t, []byte(in), streamed)
	if res.err == nil || !strings.Contains(res.err.Error(), "no room") || len(res.recs) != 1 {
		t.Errorf("streamed: a refused Reserve gave %d records and %v; want the first record and its error", len(res.recs), res.err)
	}
	// An input of 4 MiB or more read whole and decoded in place asks once, for all of it.
	big := `{"Records":[` + rec("a", 3<<20) + "," + rec("b", 2<<20) + `]}`
	asked = nil
	res = decode(t, []byte(big), cloudtrail.DecodeOptions{MaxInMemoryBytes: 8 << 20, Reserve: func(n int) error {
		asked = append(asked, n)
		return nil
	}})
	if len(res.recs) != 2 || len(asked) != 1 || asked[0] != len(big) {
		t.Errorf("%d records, asked %v; want 2 and one ask of %d", len(res.recs), asked, len(big))
	}
}

// Records decoded in place take their blocks from slabs (fields.go, blockSlab), and a record
// refused — by Keep, for its eventTime, for a repeated key — gives its block back to be zeroed
// and handed to the next record. Whatever is refused around them, the kept records must stay
// whole and right, and share no part, with the checksum computed in pairs or deferred.
func TestDecodeRefusedRecordsAroundKeptOnes(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	type want struct{ id, user, param, res string }
	var wants []want
	const n = 100
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		tm, name := "2024-01-02T03:04:05Z", "Kept"
		switch i % 5 {
		case 1:
			name = "Refused"
		case 3:
			tm = "not a time"
		}
		if i%11 == 4 {
			name += `\ud800` // a lone surrogate: decoded again from its text
		}
		fmt.Fprintf(&b, `{"eventTime":%q,"eventName":"%s","eventID":"id-%d",`+
			`"userIdentity":{"type":"AssumedRole","userName":"u%d","sessionContext":{"sessionIssuer":{"arn":"arn:i%d"},"attributes":{"creationDate":"2024-01-01T00:00:00Z"}}},`+
			`"requestParameters":{"p":"v%d","q":"w"},"resources":[{"ARN":"r%d"}],"tlsDetails":{"tlsVersion":"TLSv1.%d"},"readOnly":%v}`,
			tm, name, i, i, i, i, i, i%3, i%2 == 0)
		if i%5 != 1 && i%5 != 3 {
			wants = append(wants, want{fmt.Sprintf("id-%d", i), fmt.Sprintf("u%d", i), fmt.Sprintf("v%d", i), fmt.Sprintf("r%d", i)})
		}
	}
	b.WriteString(`]}`)
	for _, deferSum := range []bool{false, true} {
		var res result
		res.st, res.err = cloudtrail.Decode(strings.NewReader(b.String()), "in.json", cloudtrail.DecodeOptions{
			DeferChecksum: deferSum,
			Keep:          func(r *cloudtrail.Record) bool { return !strings.HasPrefix(str(r.EventName), "Refused") },
		}, func(r *cloudtrail.Record) error {
			res.recs = append(res.recs, r)
			return nil
		})
		if res.err != nil || res.st.Errors != n/5 {
			t.Fatalf("defer %v: %v, %d errors, want %d", deferSum, res.err, res.st.Errors, n/5)
		}
		if len(res.recs) != len(wants) {
			t.Fatalf("defer %v: %d records kept, want %d", deferSum, len(res.recs), len(wants))
		}
		seen := map[any]bool{}
		for i, r := range res.recs {
			w := wants[i]
			u := r.UserIdentity
			if r.EventID != w.id || u == nil || str(u.UserName) != w.user || u.SessionContext == nil ||
				u.SessionContext.SessionIssuer == nil || str(u.SessionContext.SessionIssuer.ARN) != "arn:i"+w.id[3:] ||
				len(r.RequestParameters) != 2 || str(r.RequestParameters[0].Value) != w.param ||
				len(r.Resources) != 1 || str(r.Resources[0].ARN) != w.res || r.TLSDetails == nil || r.ReadOnly == nil ||
				!strings.Contains(r.EventJSON, `"id-`+w.id[3:]+`"`) {
				t.Fatalf("defer %v: record %d is not %v: %s", deferSum, i, w, r.EventJSON)
			}
			if sum := sha256.Sum256([]byte(r.EventJSON)); !deferSum && r.EventJSONChecksum != hex.EncodeToString(sum[:]) {
				t.Errorf("defer %v: record %d: checksum %q", deferSum, i, r.EventJSONChecksum)
			}
			for _, p := range []any{r, u, u.SessionContext, u.SessionContext.SessionIssuer, u.SessionContext.Attributes,
				&r.RequestParameters[0], &r.Resources[0], r.TLSDetails, r.ReadOnly, r.EventName} {
				if seen[p] {
					t.Fatalf("defer %v: record %d shares a part with an earlier one", deferSum, i)
				}
				seen[p] = true
			}
		}
	}
}
