package lifecycle

import (
	"slices"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// TestFactKindsPassTheirEvents: Of skips a record whose KindHash is not one of factKinds before
// it compares any string, so every EC2 event name with facts must hash into factKinds, for a
// record the decoder cached the hash of and for one built by hand alike — and other sources'
// events of those names, or EC2's other events, must not.
func TestFactKindsPassTheirEvents(t *testing.T) {
	if len(factKinds) != len(factsOf) {
		t.Fatalf("%d kinds for %d event names", len(factKinds), len(factsOf))
	}
	kind := func(src, name string) uint64 {
		return (&cloudtrail.Record{EventSource: &src, EventName: &name}).KindHash()
	}
	for name := range factsOf {
		if !slices.Contains(factKinds, kind("ec2.amazonaws.com", name)) {
			t.Errorf("ec2 %s is not among factKinds: Of would skip its facts", name)
		}
		if slices.Contains(factKinds, kind("autoscaling.amazonaws.com", name)) {
			t.Errorf("autoscaling %s is among factKinds", name)
		}
	}
	for _, name := range []string{"DescribeInstances", "StopInstances", ""} {
		if slices.Contains(factKinds, kind("ec2.amazonaws.com", name)) {
			t.Errorf("ec2 %q is among factKinds", name)
		}
	}
}
