package app

import (
	"errors"
	"testing"

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
