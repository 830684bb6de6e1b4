package ingest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"testing"
	"unsafe"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// A busy trail's delivery file of 5,000 events is 7–10 MB of JSON. Issue 21: such files cost
// about a third more CPU per event than small ones, because every one inflating to more than
// 8 MiB was streamed (Go's gzip, each record captured, then decoded again) instead of being
// inflated whole and decoded in place. With the options ingest decodes with (two workers, as
// on the bench machine), a 10 MB file is decoded in place: its records' JSON lies in one
// buffer, one after the other, separated by the commas of the Records array.
func TestBusyTrailFileOfTenMegabytesIsDecodedInPlace(t *testing.T) {
	if !cloudtrail.LibdeflateAvailable() {
		t.Skip("no libdeflate on this machine: every file is streamed")
	}
	var body bytes.Buffer
	body.WriteString(`{"Records":[`)
	const n = 5000
	for i := range n {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE%d","arn":"arn:aws:iam::111122223333:user/u%d","accountId":"111122223333","userName":"u%d"},"eventTime":"2026-05-01T10:%02d:%02dZ","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.%d","userAgent":"aws-cli/2","requestParameters":{"filterSet":"%0*d"},"responseElements":null,"requestID":"REQ%d","eventID":"00000000-0000-4000-8000-%012d","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`,
			i%97, i%31, i%31, i/60%60, i%60, i%250, 1600, i, i, i)
	}
	body.WriteString("]}")
	if body.Len() <= cloudtrail.DefaultMaxInMemoryBytes {
		t.Fatalf("the file is %d bytes: it must inflate to more than 8 MiB", body.Len())
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body.Bytes())
	zw.Close()

	var recs []*cloudtrail.Record
	st, err := cloudtrail.Decode(bytes.NewReader(gz.Bytes()), "busy.json.gz", decodeOptions(2, int64(gz.Len())), func(r *cloudtrail.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil || st.Records != n || len(recs) != n {
		t.Fatalf("decoded %d records (%d emitted), err %v; want %d", st.Records, len(recs), err, n)
	}
	for i := 1; i < n; i++ {
		prev, cur := unsafe.StringData(recs[i-1].EventJSON), unsafe.StringData(recs[i].EventJSON)
		if uintptr(unsafe.Pointer(cur)) != uintptr(unsafe.Pointer(prev))+uintptr(len(recs[i-1].EventJSON))+1 {
			t.Fatalf("record %d's JSON is not next to record %d's in the input: the file was streamed, not decoded in place", i, i-1)
		}
	}
}
