package awsapi_test

import (
	"context"
	"errors"
	"testing"

	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/awsapi"
	"github.com/auditlake/auditlake/internal/integration"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestAdministrativeChangesAreRefusedWhileTheAuditLogIsFull: while the audit log holds as many
// uncommitted entries as it may, every administrative change through the AWS door (create,
// update, delete of a store; create, delete of a channel) is refused with 503
// ServiceUnavailableException and not made — as queries are refused then — rather than made
// unaudited; once a flush commits the backlog, the same changes are made and recorded.
func TestAdministrativeChangesAreRefusedWhileTheAuditLogIsFull(t *testing.T) {
	var log *auditlog.Log
	var app lake.Store
	ls := startLakeServer(t, 10, awsapiDefaults, func(ls *lakeServer, o *awsapi.Options) {
		var err error
		if app, err = ls.lk.Create("app-events", lake.CreateOptions{Type: lake.TypeActivity}); err != nil {
			t.Fatal(err)
		}
		log = auditlog.Open(ls.lk)
		log.MaxPending = 1
		o.Audit = log
	})
	ctx := context.Background()
	ch, code, err := ls.call(ctx, ls.admin, "CreateChannel", map[string]any{"Name": "app", "Source": "Custom",
		"Destinations": []map[string]string{{"Type": "EVENT_DATA_STORE", "Location": app.ID}}})
	if err != nil || code != "" {
		t.Fatalf("CreateChannel before the log is full: %v %q %v", ch, code, err)
	}
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	log.Record(auditlog.Entry{Action: "StartQuery", Principal: "user:alice", Door: "aws"}) // the log is full
	if log.Check() == nil {
		t.Fatal("fixture: the audit log is not full")
	}
	chARN := ch["ChannelArn"].(string)
	changes := []struct {
		op string
		in map[string]any
	}{
		{"CreateEventDataStore", map[string]any{"Name": "new-store"}},
		{"UpdateEventDataStore", map[string]any{"EventDataStore": ls.store.ID, "RetentionPeriod": 90}},
		{"DeleteEventDataStore", map[string]any{"EventDataStore": ls.store.ID}},
		{"CreateChannel", map[string]any{"Name": "app2", "Source": "Custom", "Destinations": []map[string]string{{"Type": "EVENT_DATA_STORE", "Location": app.ID}}}},
		{"DeleteChannel", map[string]any{"Channel": chARN}},
	}
	unchanged := func() {
		t.Helper()
		if _, err := ls.lk.Resolve("new-store"); !errors.Is(err, lake.ErrNotFound) {
			t.Errorf("the refused CreateEventDataStore made a store: %v", err)
		}
		st, err := ls.lk.Resolve(ls.store.ID)
		if err != nil {
			t.Errorf("the refused DeleteEventDataStore deleted the store: %v", err)
		} else if st.RetentionDays != ls.store.RetentionDays {
			t.Errorf("the refused UpdateEventDataStore set the retention to %d", st.RetentionDays)
		}
		if _, err := integration.ResolveChannel(ls.lk, "app2"); err == nil {
			t.Error("the refused CreateChannel made a channel")
		}
		if _, err := integration.ResolveChannel(ls.lk, chARN); err != nil {
			t.Errorf("the refused DeleteChannel deleted the channel: %v", err)
		}
	}
	for _, c := range changes {
		out, code, err := ls.call(ctx, ls.admin, c.op, c.in)
		if err != nil || code != "ServiceUnavailableException" {
			t.Errorf("%s while the audit log is full: %q %v (%v), want ServiceUnavailableException", c.op, code, err, out["message"])
		}
	}
	unchanged()
	// Reads are recorded too (TestAWSReadCallsAreAudited): refused the same way, not answered unaudited.
	if _, code, err := ls.call(ctx, ls.admin, "GetEventDataStore", map[string]any{"EventDataStore": ls.store.ID}); err != nil || code != "ServiceUnavailableException" {
		t.Errorf("GetEventDataStore while the audit log is full: %q %v, want ServiceUnavailableException", code, err)
	}
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if c.op == "DeleteEventDataStore" {
			continue // termination protection may refuse it; the others show the log takes changes again
		}
		if out, code, err := ls.call(ctx, ls.admin, c.op, c.in); err != nil || code != "" {
			t.Errorf("%s after the flush: %q %v (%v)", c.op, code, err, out["message"])
		}
		if err := log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
