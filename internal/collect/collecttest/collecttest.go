// Package collecttest gives collection tests real servers: an S3-compatible server (gofakes3)
// behind a handler that counts requests and can fail them as S3 does (503 SlowDown, 403
// AccessDenied), an SQS-compatible server (goaws) started in-process, and CloudTrail delivery
// files in AWS's key layout. Only tests import this package.
package collecttest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Admiral-Piett/goaws/app/router"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/sirupsen/logrus"
)

// S3 is an in-process S3 server.
type S3 struct {
	URL     string
	Backend *s3mem.Backend
	// Lists counts ListObjectsV2 requests, Requests all requests.
	Lists, Requests atomic.Int64

	mu     sync.Mutex
	faults map[string]int // bucket → HTTP status to answer with
	sqs    http.Handler   // SQS requests (X-Amz-Target: AmazonSQS.*), when NewSQS attached it
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
		s.mu.Lock()
		q := s.sqs
		s.mu.Unlock()
		if q != nil && r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.") {
			q.ServeHTTP(w, r)
			return
		}
		s.Requests.Add(1)
		if r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2" {
			s.Lists.Add(1)
		}
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		s.mu.Lock()
		code := s.faults[bucket]
		if r.Method == http.MethodGet && s.faults[bucket+"/"+key] != 0 {
			code = s.faults[bucket+"/"+key]
		}
		s.mu.Unlock()
		switch code {
		case 0:
			h.ServeHTTP(w, r)
		case http.StatusServiceUnavailable:
			writeError(w, code, "SlowDown", "Please reduce your request rate.")
		case http.StatusForbidden:
			writeError(w, code, "AccessDenied", "Access Denied")
		case http.StatusNotFound:
			writeError(w, code, "NoSuchKey", "The specified key does not exist.")
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

// Gone makes GETs of one object answer 404 NoSuchKey while listings still name it: an object
// deleted between a poll's listing and its read.
func (s *S3) Gone(bucket, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[bucket+"/"+key] = http.StatusNotFound
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

// SQS is an in-process SQS server (goaws, its query protocol reached from the SDK's JSON
// protocol through jsonToQuery) that counts requests, on the S3 server's endpoint
// (as LocalStack serves both on one): a source's one --endpoint-url reaches both.
type SQS struct {
	URL      string
	Requests atomic.Int64
}

// NewSQS starts an SQS server on s3's endpoint. goaws keeps its queues in process-wide state:
// queue names must be unique within a test binary.
func NewSQS(t testing.TB, s3 *S3) *SQS {
	t.Helper()
	s := &SQS{URL: s3.URL}
	logrus.SetOutput(io.Discard) // goaws logs every message
	h := jsonToQuery(router.New())
	s3.mu.Lock()
	s3.sqs = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Requests.Add(1)
		h.ServeHTTP(w, r)
	})
	s3.mu.Unlock()
	return s
}

// sqsClient is the real SDK's SQS client for the server (the tests' sender).
func (s *SQS) client() *sqs.Client {
	return sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("test", "test", ""))})
}

// CreateQueue creates a queue and returns its URL.
func (s *SQS) CreateQueue(t testing.TB, name string) string {
	t.Helper()
	if _, err := s.client().CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	return s.URL + "/queue/" + name
}

// Send puts a message on a queue.
func (s *SQS) Send(t testing.TB, queueURL, body string) {
	t.Helper()
	if _, err := s.client().SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
}

// Visible counts the messages on a queue (visible or in flight).
func (s *SQS) Visible(t testing.TB, queueURL string) (visible, inFlight int) {
	t.Helper()
	out, err := s.client().GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessages"], &visible)
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessagesNotVisible"], &inFlight)
	return visible, inFlight
}

// S3Event is an S3 event notification of objects created in bucket (keys URL-encoded, as S3 does).
func S3Event(bucket string, keys ...string) string {
	var recs []map[string]any
	for _, k := range keys {
		recs = append(recs, map[string]any{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
			"eventName": "ObjectCreated:Put", "s3": map[string]any{"bucket": map[string]any{"name": bucket},
				"object": map[string]any{"key": url.QueryEscape(k), "size": 1}}})
	}
	b, _ := json.Marshal(map[string]any{"Records": recs})
	return string(b)
}

// SNS wraps a message in an SNS notification envelope.
func SNS(message string) string {
	b, _ := json.Marshal(map[string]any{"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:us-east-1:111111111111:t", "Message": message})
	return string(b)
}

// EventBridge is an EventBridge "Object Created" event.
func EventBridge(bucket, key string) string {
	b, _ := json.Marshal(map[string]any{"version": "0", "detail-type": "Object Created", "source": "aws.s3",
		"detail": map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{"key": key}}})
	return string(b)
}

// CloudTrailNotification is CloudTrail's SNS delivery notification.
func CloudTrailNotification(bucket string, keys ...string) string {
	b, _ := json.Marshal(map[string]any{"s3Bucket": bucket, "s3ObjectKey": keys})
	return string(b)
}
