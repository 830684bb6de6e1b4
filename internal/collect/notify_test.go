package collect

import (
	"strings"
	"testing"
	"time"
)

func TestParseNotificationShapes(t *testing.T) {
	f := func(body string, want []objectRef, wantErr string) {
		t.Helper()
		got, err := parseNotification(body)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%s: error %v, want one containing %q", body, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Errorf("%s: %v", body, err)
			return
		}
		if len(got) != len(want) {
			t.Errorf("%s: got %v, want %v", body, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: got %v, want %v", body, got, want)
			}
		}
	}
	s3 := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"b"},"object":{"key":"a+b%3Dc.json.gz"}}}]}`
	f(s3, []objectRef{{"b", "a b=c.json.gz"}}, "")
	f(`{"Type":"Notification","Message":`+quote(s3)+`}`, []objectRef{{"b", "a b=c.json.gz"}}, "")
	f(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`, nil, "")
	f(`{"Service":"Amazon S3","Event":"s3:TestEvent"}`, nil, "")
	f(`{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{"key":"a b.json"}}}`, []objectRef{{"b", "a b.json"}}, "")
	f(`{"detail-type":"Object Deleted","source":"aws.s3","detail":{}}`, nil, "")
	f(`{"s3Bucket":"t","s3ObjectKey":["k1","k2"]}`, []objectRef{{"t", "k1"}, {"t", "k2"}}, "")
	f(`{"Type":"Notification","Message":"{\"s3Bucket\":\"t\",\"s3ObjectKey\":[\"k\"]}"}`, []objectRef{{"t", "k"}}, "")
	f(`not json`, nil, "not JSON")
	f(`[]`, nil, "not JSON")
	f(`{"hello":1}`, nil, "not an S3 event notification")
	f(`{"Records":[{"eventSource":"aws:sqs"}]}`, nil, "not aws:s3")
	f(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":""},"object":{"key":"k"}}}]}`, nil, "names no bucket")
	f(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%zz"}}}]}`, nil, "key")
	f(`{"s3Bucket":"t","s3ObjectKey":[]}`, nil, "without")
	f(`{"s3Bucket":"t","s3ObjectKey":"k"}`, nil, "CloudTrail notification")
	f(`{"detail-type":"Object Created","source":"aws.ec2","detail":{}}`, nil, "not aws.s3")
	f(`{"Type":"Notification","Message":5}`, nil, "non-string Message")
	nested := s3
	for range 5 {
		nested = `{"Type":"Notification","Message":` + quote(nested) + `}`
	}
	f(nested, nil, "too deep")
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// FuzzParseNotification: any message body is parsed or refused with an error, never a panic,
// and a parsed body names objects with a bucket and a key.
func FuzzParseNotification(f *testing.F) {
	f.Add(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`)
	f.Add(`{"Type":"Notification","Message":"{\"s3Bucket\":\"t\",\"s3ObjectKey\":[\"k\"]}"}`)
	f.Add(`{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{"key":"k"}}}`)
	f.Fuzz(func(t *testing.T, body string) {
		refs, err := parseNotification(body)
		if err != nil {
			return
		}
		for _, r := range refs {
			if r.Bucket == "" || r.Key == "" {
				t.Fatalf("%q: a reference without bucket or key: %+v", body, r)
			}
		}
	})
}

func TestStartAfterAndLayout(t *testing.T) {
	now := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	leaf := "AWSLogs/o-abc123/111111111111/CloudTrail/us-east-1/"
	f := func(pos string, from time.Time, want string) {
		t.Helper()
		if got := startAfter(leaf, "CloudTrail", pos, now, from); got != want {
			t.Errorf("startAfter(%q, from %v) = %q, want %q", pos, from, got, want)
		}
	}
	f("", time.Time{}, "")
	f("", time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC), leaf+"2026/01/09")
	f(leaf+"2026/03/07/x.json.gz", time.Time{}, leaf+"2026/03/06")
	f(leaf+"2025/12/31/x.json.gz", time.Time{}, leaf+"2025/12/31/x.json.gz")
	if got := dayKey("AWSLogs/1/Config/us-east-1/", "Config", now); got != "AWSLogs/1/Config/us-east-1/2026/3/7/" {
		t.Errorf("Config day key %q", got)
	}
	for p, want := range map[string]string{
		leaf:                         leaf,
		leaf + "2026/03/":            leaf,
		"AWSLogs/111111111111/":      "",
		"AWSLogs/1/CloudTrail/":      "",
		"x/AWSLogs/1/CloudTrail/r/y": "x/AWSLogs/1/CloudTrail/r/",
	} {
		if got := leafOf(p, "CloudTrail"); got != want {
			t.Errorf("leafOf(%q) = %q, want %q", p, got, want)
		}
	}
	if got := nextDelay(time.Minute, 0); got != time.Minute {
		t.Errorf("no failure: %s", got)
	}
	for n := 1; n < 20; n++ {
		d := nextDelay(time.Minute, n)
		if d < time.Minute || d > 10*time.Minute {
			t.Errorf("after %d failures the delay %s is outside [1m, 10m]", n, d)
		}
	}
}
