package cli_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestLaunchAlertsOnCommitAreTheHuntsMatches: the launch-compliance rule evaluated as events
// are committed raises an alert for every launch its hunt finds over the same events — a
// CreateFleet launch too (the derived fixture's instant fleet, whose instance no RunInstances
// names), which the evaluation at commit once left out — named with its own event.
func TestLaunchAlertsOnCommitAreTheHuntsMatches(t *testing.T) {
	dir, _ := alertsLake(t)
	var hunted []struct {
		Rule      string `json:"rule"`
		EventID   string `json:"event_id"`
		EventName string `json:"event_name"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "hunt", "--eds", "trail", "--rules", "non-approved-launch", "--format", "json")), &hunted); err != nil {
		t.Fatal(err)
	}
	var want []string
	fleet := false
	for _, m := range hunted {
		want = append(want, m.EventID)
		if m.EventName == "CreateFleet" {
			fleet = true
		}
	}
	if !fleet {
		t.Fatalf("fixture: the hunt finds no CreateFleet launch: %+v", hunted)
	}
	out := mustRun(t, 0, dir, "query", "--format", "csv",
		`SELECT DISTINCT unnest(json_extract_string(requestparameters['eventIds'], '$[*]')) AS id FROM "aws:cloudtrail"."auditlake-alerts" WHERE eventname = 'Alert' ORDER BY 1`)
	got := strings.Fields(out)[1:]
	slices.Sort(want)
	want = slices.Compact(want)
	if !slices.Equal(got, want) {
		t.Fatalf("alerts raised at commit name events %v; the hunt over the same events %v", got, want)
	}
}
