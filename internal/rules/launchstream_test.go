package rules_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/rules"
)

// runInstances is a RunInstances record of one instance, launched at at without a template.
func runInstances(eventID, instanceID, at string) map[string]any {
	return map[string]any{"eventVersion": "1.11", "eventTime": at, "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances",
		"awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "eventID": eventID, "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
		"userIdentity":      map[string]any{"type": "IAMUser", "principalId": "AIDAALICE", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333", "userName": "alice"},
		"requestParameters": map[string]any{"instancesSet": map[string]any{"items": []any{map[string]any{"minCount": 1, "maxCount": 1}}}},
		"responseElements":  map[string]any{"instancesSet": map[string]any{"items": []any{map[string]any{"instanceId": instanceID, "instanceType": "t3.micro"}}}}}
}

// TestHuntStreamsLaunchComplianceInEvaluatesOrder: a hunt's launch-compliance rule hands on the
// verdict's rows as they come (it held them all, and every match, before the first was written:
// the hunt's peak memory at 10M events) and gives Evaluate's matches in Evaluate's order — also
// where launches of one time come from events whose ids order them otherwise than their
// instance ids (the verdict's order) — and an error of the writer stops it and is returned as
// it is.
func TestHuntStreamsLaunchComplianceInEvaluatesOrder(t *testing.T) {
	out := generatetest.Trail(t, 5000, 3, 21, tenDaysAgo)
	approved, err := compliance.LoadConfig(filepath.Join(out, "approved-templates.json"))
	if err != nil {
		t.Fatal(err)
	}
	const at = "2026-09-01T10:00:00Z"
	_, s, st := newStore(t, []map[string]any{
		runInstances("e-b", "i-0000000000000000a", at), runInstances("e-a", "i-0000000000000000b", at),
		runInstances("e-c", "i-0000000000000000c", at)}, out, testdata("compliance-derived"))
	r := builtin(rules.LaunchCompliance)
	r.Approved = approved
	ms := evaluate(t, s, st, r)
	var tied []string
	for _, m := range ms {
		if m.EventTime.Format("2006-01-02T15:04:05Z") == at && len(m.EventID) == 3 {
			tied = append(tied, m.EventID)
		}
	}
	if !reflect.DeepEqual(tied, []string{"e-a", "e-b", "e-c"}) || len(ms) < 10 {
		t.Fatalf("fixture: %d matches, the tied launches %q", len(ms), tied)
	}
	var streamed []rules.Match
	n, err := rules.NewHunt(s, rules.Target{Store: st}).Stream(context.Background(), r, func(m *rules.Match) error {
		streamed = append(streamed, *m)
		return nil
	})
	if err != nil || n != len(streamed) || !reflect.DeepEqual(streamed, ms) {
		t.Errorf("Stream gave %d matches (%d counted, %v), not Evaluate's %d in its order", len(streamed), n, err, len(ms))
	}
	stop := errors.New("writer failed")
	n, err = rules.NewHunt(s, rules.Target{Store: st}).Stream(context.Background(), r, func(*rules.Match) error { return stop })
	if err != stop || n != 0 {
		t.Errorf("a writer's error: %d written, %v; want 0 and the error as it is", n, err)
	}
}
