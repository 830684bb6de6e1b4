package alerts

import (
	"fmt"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/rules"
)

// TestLargeGroupIsSeveralRecordsOfOneAlert: a group of more matched events than one record
// carries (maxIDsPerAlert) is several records, each naming its share of the events once, all
// of the same group, with ids of their own.
func TestLargeGroupIsSeveralRecordsOfOneAlert(t *testing.T) {
	st := lake.Store{ID: "store-id", Name: "trail"}
	at := time.Date(2026, 12, 4, 10, 5, 0, 0, time.UTC)
	n := 2*maxIDsPerAlert + 1
	g := rules.MatchGroup{First: rules.Match{Rule: "r1", Title: "t", Severity: "low", EventTime: at, EventID: "e00000", Principal: "arn:p"}}
	for i := range n {
		g.EventIDs = append(g.EventIDs, fmt.Sprintf("e%05d", i))
	}
	recs := groupAlerts(st, g, rules.Grouping{Key: "principal", Window: time.Hour}, at)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	assignGroups(st, recs, map[string]rules.Rule{"r1": {ID: "r1"}})
	seen, ids := map[string]bool{}, map[string]bool{}
	for _, a := range recs {
		if a.Group != recs[0].Group || a.Group == "" || ids[a.ID] || a.Count != len(a.EventIDs) || len(a.EventIDs) > maxIDsPerAlert {
			t.Errorf("record %s: group %s, count %d of %d ids", a.ID, a.Group, a.Count, len(a.EventIDs))
		}
		ids[a.ID] = true
		for _, e := range a.EventIDs {
			if seen[e] {
				t.Errorf("event %s named twice", e)
			}
			seen[e] = true
		}
	}
	if len(seen) != n {
		t.Errorf("%d events named, want %d", len(seen), n)
	}
}
