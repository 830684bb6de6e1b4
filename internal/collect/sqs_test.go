package collect_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/collect"
	"github.com/auditlake/auditlake/internal/collect/collecttest"
)

// addQueue makes an SQS queue and adds the source "queue" fed by it alone.
func (e *env) addQueue(t *testing.T, name string) (*collecttest.SQS, string, collect.Source) {
	t.Helper()
	q := collecttest.NewSQS(t, e.s3)
	url := q.CreateQueue(t, name)
	src := collect.Source{Name: "queue", Type: collect.TypeCloudTrail, StoreID: e.store.ID, QueueURL: url,
		Every: collect.Duration(time.Minute), EndpointURL: e.s3.URL}
	if err := e.reg.Add(src); err != nil {
		t.Fatal(err)
	}
	return q, url, src
}

// TestQueueNotificationsInEveryShape: S3 event notifications direct, through SNS and through
// EventBridge, and CloudTrail's own SNS notification — each file ingested, each message deleted
// after the commit; a malformed message and one naming a gone object are recorded with their
// message id and left on the queue.
func TestQueueNotificationsInEveryShape(t *testing.T) {
	e := newEnv(t, "trail")
	q, url, src := e.addQueue(t, "shapes")
	a, r := "111111111111", "us-east-1"
	k1 := e.deliver(t, "trail", "", a, r, e.now.Add(-4*time.Minute), "direct", 2)
	k2 := e.deliver(t, "trail", "", a, r, e.now.Add(-3*time.Minute), "via sns", 3) // a space: URL-encoded in S3 events
	k3 := e.deliver(t, "trail", "", a, r, e.now.Add(-2*time.Minute), "eventbridge", 4)
	k4 := e.deliver(t, "trail", "", a, r, e.now.Add(-1*time.Minute), "cloudtrail", 5)
	q.Send(t, url, collecttest.S3Event("trail", k1))
	q.Send(t, url, collecttest.SNS(collecttest.S3Event("trail", k2)))
	q.Send(t, url, collecttest.EventBridge("trail", k3))
	q.Send(t, url, collecttest.SNS(collecttest.CloudTrailNotification("trail", k4)))
	q.Send(t, url, `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"trail"}`)
	q.Send(t, url, `this is not a notification`)
	q.Send(t, url, collecttest.S3Event("trail", "AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01/gone.json.gz"))

	ctx := context.Background()
	for range 5 {
		if n, _ := e.c.Receive(ctx, src, 0); n == 0 {
			break
		}
	}
	if got := e.rows(t); got != 14 {
		t.Fatalf("store holds %d events, want 14", got)
	}
	st := e.state(t, "queue")
	if st.Messages != 5 {
		t.Errorf("%d messages deleted, want 5 (four notifications and the test event)", st.Messages)
	}
	joined := strings.Join(st.Problems, "\n")
	if !strings.Contains(joined, "malformed notification") || !strings.Contains(joined, "gone.json.gz is gone") {
		t.Errorf("problems do not name the malformed message and the gone object:\n%s", joined)
	}
	for _, p := range st.Problems {
		if !strings.HasPrefix(p, "message ") {
			t.Errorf("problem without its message id: %q", p)
		}
	}
	// goaws counts a message in flight in both numbers.
	if visible, inFlight := q.Visible(t, url); max(visible, inFlight) != 2 {
		t.Errorf("queue holds %d (%d in flight) messages, want the 2 bad ones left for the redrive policy", visible, inFlight)
	}
	sts, _ := e.reg.Statuses(e.now)
	if sts[0].Status != "problems" || !strings.HasPrefix(sts[0].LastError, "message ") {
		t.Errorf("source status %q, last error %q", sts[0].Status, sts[0].LastError)
	}
}
