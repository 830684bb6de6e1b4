package collect

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// objectRef is an S3 object a notification names.
type objectRef struct{ Bucket, Key string }

// parseNotification reads an SQS message body: an S3 event notification (ObjectCreated:*
// records; other events are ignored), the same inside an SNS envelope, an EventBridge "Object
// Created" event, or CloudTrail's own delivery notification ({"s3Bucket":…,"s3ObjectKey":[…]},
// usually inside an SNS envelope). It returns the objects created; none for a message that
// names no new object (an S3 test event, a deletion). A body that is none of these is an error
// saying what it is not.
func parseNotification(body string) ([]objectRef, error) {
	return parseNotificationDepth(body, 0)
}

func parseNotificationDepth(body string, depth int) ([]objectRef, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &top); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	str := func(k string) string {
		var s string
		if raw, ok := top[k]; ok {
			_ = json.Unmarshal(raw, &s)
		}
		return s
	}
	switch {
	case str("Type") == "Notification" && top["Message"] != nil:
		if depth > 2 {
			return nil, errors.New("SNS envelopes nested too deep")
		}
		msg := str("Message")
		if msg == "" {
			return nil, errors.New("SNS envelope with an empty or non-string Message")
		}
		refs, err := parseNotificationDepth(msg, depth+1)
		if err != nil {
			return nil, fmt.Errorf("SNS message: %w", err)
		}
		return refs, nil
	case top["Records"] != nil:
		return s3Records(top["Records"])
	case str("Event") == "s3:TestEvent":
		return nil, nil
	case top["detail-type"] != nil:
		return eventBridge(str("source"), str("detail-type"), top["detail"])
	case top["s3Bucket"] != nil || top["s3ObjectKey"] != nil:
		var n struct {
			Bucket string   `json:"s3Bucket"`
			Keys   []string `json:"s3ObjectKey"`
		}
		if err := json.Unmarshal([]byte(body), &n); err != nil {
			return nil, fmt.Errorf("CloudTrail notification: %v", err)
		}
		if n.Bucket == "" || len(n.Keys) == 0 {
			return nil, errors.New("CloudTrail notification without s3Bucket or s3ObjectKey")
		}
		refs := make([]objectRef, 0, len(n.Keys))
		for _, k := range n.Keys {
			if k == "" {
				return nil, errors.New("CloudTrail notification with an empty s3ObjectKey")
			}
			refs = append(refs, objectRef{n.Bucket, k})
		}
		return refs, nil
	}
	return nil, errors.New("not an S3 event notification, an SNS envelope, an EventBridge event or a CloudTrail notification")
}

// s3Records reads the Records of an S3 event notification. Keys are URL-encoded there (a
// space as '+').
func s3Records(raw json.RawMessage) ([]objectRef, error) {
	var recs []struct {
		EventSource string `json:"eventSource"`
		EventName   string `json:"eventName"`
		S3          *struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"s3"`
	}
	if err := json.Unmarshal(raw, &recs); err != nil {
		return nil, fmt.Errorf("S3 event notification: Records: %v", err)
	}
	var refs []objectRef
	for i, r := range recs {
		if r.EventSource != "aws:s3" {
			return nil, fmt.Errorf("S3 event notification: record %d: eventSource %q is not aws:s3", i+1, r.EventSource)
		}
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			continue
		}
		if r.S3 == nil || r.S3.Bucket.Name == "" || r.S3.Object.Key == "" {
			return nil, fmt.Errorf("S3 event notification: record %d names no bucket or key", i+1)
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return nil, fmt.Errorf("S3 event notification: record %d: key %q: %v", i+1, r.S3.Object.Key, err)
		}
		refs = append(refs, objectRef{r.S3.Bucket.Name, key})
	}
	return refs, nil
}

// eventBridge reads an EventBridge event from S3 (keys are not URL-encoded there).
func eventBridge(source, detailType string, raw json.RawMessage) ([]objectRef, error) {
	if source != "aws.s3" {
		return nil, fmt.Errorf("EventBridge event from %q, not aws.s3", source)
	}
	if detailType != "Object Created" {
		return nil, nil
	}
	var d struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key string `json:"key"`
		} `json:"object"`
	}
	if err := json.Unmarshal(raw, &d); err != nil || d.Bucket.Name == "" || d.Object.Key == "" {
		return nil, errors.New("EventBridge Object Created event without detail.bucket.name or detail.object.key")
	}
	return []objectRef{{d.Bucket.Name, d.Object.Key}}, nil
}
