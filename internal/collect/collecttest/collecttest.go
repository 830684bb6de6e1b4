// Package collecttest gives collection tests real servers: an S3-compatible server (gofakes3)
// behind a handler that counts requests and can fail them as S3 does (503 SlowDown, 403
// AccessDenied), an SQS-compatible server (goaws) started in-process, and CloudTrail delivery
// files in AWS's key layout. Only tests import this package.
package collecttest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Admiral-Piett/goaws/app/router"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is an in-process S3 server.
type S3 struct {
	URL     string
	Backend *s3mem.Backend
	// Lists counts ListObjectsV2 requests, Requests all requests.
	Lists, Requests atomic.Int64

	mu     sync.Mutex
	faults map[string]int // bucket → HTTP status to answer with
}

// NewS3 starts an S3 server holding buckets, with credentials for the SDK in the environment.
func NewS3(t testing.TB, buckets ...string) *S3 {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s := &S3{Backend: s3mem.New(), faults: map[string]int{}}
	faker := gofakes3.New(s.Backend)
	h := faker.Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Requests.Add(1)
		if r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2" {
			s.Lists.Add(1)
		}
		bucket, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		s.mu.Lock()
		code := s.faults[bucket]
		s.mu.Unlock()
		switch code {
		case 0:
			h.ServeHTTP(w, r)
		case http.StatusServiceUnavailable:
			writeError(w, code, "SlowDown", "Please reduce your request rate.")
		case http.StatusForbidden:
			writeError(w, code, "AccessDenied", "Access Denied")
		default:
			writeError(w, code, "InternalError", "We encountered an internal error. Please try again.")
		}
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	for _, b := range buckets {
		if err := s.Backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func writeError(w http.ResponseWriter, code int, s3code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(code)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>TEST</RequestId></Error>`, s3code, msg)
}

// Fail makes every request to bucket answer with status (503: SlowDown, 403: AccessDenied,
// another: InternalError); 0 heals it.
func (s *S3) Fail(bucket string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[bucket] = status
}

// Put stores an object.
func (s *S3) Put(t testing.TB, bucket, key string, body []byte) {
	t.Helper()
	if _, err := s.Backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(body), int64(len(body)), nil); err != nil {
		t.Fatal(err)
	}
}

// TrailKey is the key CloudTrail gives a log file delivered at t (org is "" for an account trail).
func TrailKey(org, account, region string, t time.Time, suffix string) string {
	t = t.UTC()
	p := "AWSLogs/"
	if org != "" {
		p += org + "/"
	}
	return fmt.Sprintf("%s%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%sZ_%s.json.gz", p, account, region, t.Format("2006/01/02"),
		account, region, t.Format("20060102T1504"), suffix)
}

// TrailFile is a gzipped CloudTrail delivery file of n events at t, with event ids
// "<idPrefix>-<i>" (unique when idPrefix is).
func TrailFile(account, region string, t time.Time, idPrefix string, n int) []byte {
	type rec struct {
		EventVersion       string            `json:"eventVersion"`
		UserIdentity       map[string]string `json:"userIdentity"`
		EventTime          string            `json:"eventTime"`
		EventSource        string            `json:"eventSource"`
		EventName          string            `json:"eventName"`
		AWSRegion          string            `json:"awsRegion"`
		SourceIPAddress    string            `json:"sourceIPAddress"`
		UserAgent          string            `json:"userAgent"`
		EventID            string            `json:"eventID"`
		ReadOnly           bool              `json:"readOnly"`
		EventType          string            `json:"eventType"`
		RecipientAccountID string            `json:"recipientAccountId"`
	}
	var recs []rec
	for i := range n {
		recs = append(recs, rec{EventVersion: "1.08", UserIdentity: map[string]string{"type": "AssumedRole", "accountId": account},
			EventTime: t.UTC().Add(-time.Duration(i) * time.Second).Format(time.RFC3339), EventSource: "s3.amazonaws.com",
			EventName: "GetObject", AWSRegion: region, SourceIPAddress: "192.0.2.1", UserAgent: "collecttest",
			EventID: fmt.Sprintf("%s-%d", idPrefix, i), ReadOnly: true, EventType: "AwsApiCall", RecipientAccountID: account})
	}
	b, _ := json.Marshal(map[string]any{"Records": recs})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// SQS is an in-process SQS server (goaws) that counts requests.
type SQS struct {
	URL      string
	Requests atomic.Int64
}

// NewSQS starts an SQS server. goaws keeps its queues in process-wide state: queue names
// must be unique within a test binary.
func NewSQS(t testing.TB) *SQS {
	t.Helper()
	s := &SQS{}
	h := router.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}
