package app

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/server"
)

// TestAlertsRefuseAReaderAlikeWhetherOrNotAnyAlertExists: before any alert is stored (no
// alerts store yet), a reader without a grant that could read the alerts store is refused as it
// is once the store exists — an empty list would tell it that no alert was ever raised — while
// the admin and a grant on all get the empty list.
func TestAlertsRefuseAReaderAlikeWhetherOrNotAnyAlertExists(t *testing.T) {
	b := newTestBackend(t, Options{})
	createUsers(t, b, "bob", "carol")
	if _, err := b.access.CreateUser("alice", true, nil); err != nil {
		t.Fatal(err)
	}
	grant(t, b, access.Grant{Privilege: access.Select, Resource: "all", Principal: "user:carol"})
	if _, err := b.Alerts(asUser(t, b, "bob"), server.AlertFilter{Limit: 10}); !errors.Is(err, server.ErrForbidden) {
		t.Errorf("a reader with no grant, no alerts store: %v, want ErrForbidden", err)
	}
	for _, who := range []string{"alice", "carol"} {
		list, err := b.Alerts(asUser(t, b, who), server.AlertFilter{Limit: 10})
		if err != nil || list == nil || len(list) != 0 {
			t.Errorf("%s, no alerts store: %v, %v; want an empty list", who, list, err)
		}
	}
}

// TestAlertOfNamesEachEventOnce: the ids of an alert's records, folded by alerts.DetailSQL, can
// name an event more than once (launch-compliance records are one per instance, and one
// RunInstances launches several); the API's alert names each once, in their order, and keeps
// the count of matches.
func TestAlertOfNamesEachEventOnce(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 5, 0, 0, time.UTC)
	row := []any{"g1", at, "non-approved-launch", "t", "high", "trail", "arn:p", "111122223333", "eu-west-1", "i-1", "s",
		int64(3), "open", []any{"run-1", "run-1", "run-2", "run-1"}, at.Format(time.RFC3339Nano), "ops"}
	a := alertOf(row)
	if a.Count != 3 || fmt.Sprint(a.EventIDs) != "[run-1 run-2]" || a.ID != "g1" || a.SentTo != "ops" {
		t.Errorf("alert %s: count %d, ids %v, sent to %q; want g1, 3, [run-1 run-2], ops", a.ID, a.Count, a.EventIDs, a.SentTo)
	}
}
