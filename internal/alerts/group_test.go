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

// TestNotificationNamesEachEventOnce: a group's members can name the same event (one
// RunInstances launching several instances, each a launch-compliance match): the notification
// counts every match and names each event once, oldest first, at most maxNotifiedIDs of them.
func TestNotificationNamesEachEventOnce(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 5, 0, 0, time.UTC)
	fresh := []Alert{
		{ID: "a1", EventTime: at, EventIDs: []string{"run-1"}, Resource: "i-1"},
		{ID: "a2", EventTime: at, EventIDs: []string{"run-1"}, Resource: "i-2"},
		{ID: "a3", EventTime: at.Add(time.Minute), EventIDs: []string{"run-2"}, Resource: "i-3"},
		{ID: "a4", EventTime: at.Add(2 * time.Minute), EventIDs: []string{"run-1"}, Resource: "i-4"},
	}
	n := notification(fresh, []int{0, 1, 2, 3}, "g")
	if n.ID != "g" || n.Group != "g" || n.Count != 4 || fmt.Sprint(n.EventIDs) != "[run-1 run-2]" || n.Resource != "i-1" {
		t.Errorf("notification %s (group %s): count %d, ids %v, resource %s; want g, 4, [run-1 run-2], i-1", n.ID, n.Group, n.Count, n.EventIDs, n.Resource)
	}
	// More distinct events than a notification names: the first maxNotifiedIDs, the count whole.
	var many []Alert
	var members []int
	for i := range maxNotifiedIDs + 5 {
		id := fmt.Sprintf("e%03d", i)
		many = append(many, Alert{ID: id, EventTime: at.Add(time.Duration(i) * time.Second), EventIDs: []string{id, id}})
		members = append(members, i)
	}
	n = notification(many, members, "g2")
	if n.Count != 2*(maxNotifiedIDs+5) || len(n.EventIDs) != maxNotifiedIDs || n.EventIDs[0] != "e000" || n.EventIDs[maxNotifiedIDs-1] != fmt.Sprintf("e%03d", maxNotifiedIDs-1) {
		t.Errorf("count %d, %d ids (%v … %v); want %d, %d", n.Count, len(n.EventIDs), n.EventIDs[0], n.EventIDs[len(n.EventIDs)-1], 2*(maxNotifiedIDs+5), maxNotifiedIDs)
	}
	// One member: its ids as they are (a group's ids come each once from finishGroups).
	n = notification(fresh, []int{2}, "g3")
	if n.Count != 1 || fmt.Sprint(n.EventIDs) != "[run-2]" {
		t.Errorf("one member: count %d, ids %v", n.Count, n.EventIDs)
	}
}
