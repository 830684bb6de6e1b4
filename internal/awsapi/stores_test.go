package awsapi_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestAWSCLIStoreSettingsAreKeptOrRefused: a store's BillingMode is kept and shown back (get,
// update), bounds the retention as in Lake and changes only from fixed to extendable; the
// settings auditlake cannot honour (a single-region CloudTrail store, ingestion not started)
// are refused instead of accepted and ignored, while an activity store is single-region.
func TestAWSCLIStoreSettingsAreKeptOrRefused(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	admin := ls.admin

	c := ls.must(t, admin, "cloudtrail", "create-event-data-store", "--name", "fixed", "--no-termination-protection-enabled",
		"--billing-mode", "FIXED_RETENTION_PRICING", "--retention-period", "2000")
	arn := c["EventDataStoreArn"].(string)
	if c["BillingMode"] != "FIXED_RETENTION_PRICING" {
		t.Errorf("create-event-data-store --billing-mode FIXED_RETENTION_PRICING: %v", c["BillingMode"])
	}
	if g := ls.must(t, admin, "cloudtrail", "get-event-data-store", "--event-data-store", arn); g["BillingMode"] != "FIXED_RETENTION_PRICING" {
		t.Errorf("get-event-data-store of a fixed store: %v", g["BillingMode"])
	}
	// The refusals, signed by the Go SDK's signer (the CLI's start would take a second each).
	f := func(op string, in map[string]any, want string) {
		t.Helper()
		if code := ls.sdkCode(t, admin, op, in); code != want {
			t.Errorf("%s %v: %q, want %q", op, in, code, want)
		}
	}
	f("UpdateEventDataStore", map[string]any{"EventDataStore": arn, "RetentionPeriod": 3000}, "InvalidParameterException")
	f("CreateEventDataStore", map[string]any{"Name": "toolong", "BillingMode": "FIXED_RETENTION_PRICING", "RetentionPeriod": 3000}, "InvalidParameterException")
	f("UpdateEventDataStore", map[string]any{"EventDataStore": arn, "BillingMode": "EXTENDABLE_RETENTION_PRICING", "RetentionPeriod": 3000}, "")
	if g := ls.must(t, admin, "cloudtrail", "get-event-data-store", "--event-data-store", arn); g["BillingMode"] != "EXTENDABLE_RETENTION_PRICING" || g["RetentionPeriod"].(float64) != 3000 {
		t.Errorf("get-event-data-store after the update to extendable: %v", g)
	}
	f("UpdateEventDataStore", map[string]any{"EventDataStore": arn, "BillingMode": "FIXED_RETENTION_PRICING"}, "InvalidParameterException")
	f("CreateEventDataStore", map[string]any{"Name": "cheap", "BillingMode": "FREE"}, "InvalidParameterException")
	f("CreateEventDataStore", map[string]any{"Name": "oneregion", "MultiRegionEnabled": false}, "UnsupportedOperationException")
	f("CreateEventDataStore", map[string]any{"Name": "stopped", "StartIngestion": false}, "UnsupportedOperationException")
	f("UpdateEventDataStore", map[string]any{"EventDataStore": arn, "MultiRegionEnabled": false}, "UnsupportedOperationException")
	ls.refused(t, admin, "UnsupportedOperationException", "cloudtrail", "create-event-data-store", "--name", "oneregion", "--no-multi-region-enabled")
	// A store for a channel's events (ActivityAuditLog) is single-region, as Lake requires of an
	// integration's store and as AWS's own example makes it: --no-multi-region-enabled is its own.
	acts := ls.must(t, admin, "cloudtrail", "create-event-data-store", "--name", "app-events", "--no-multi-region-enabled", "--retention-period", "90",
		"--advanced-event-selectors", `[{"Name":"Select all external events","FieldSelectors":[{"Field":"eventCategory","Equals":["ActivityAuditLog"]}]}]`)
	if acts["MultiRegionEnabled"] != false {
		t.Errorf("create-event-data-store of an activity store: %v", acts)
	}
	for _, name := range []string{"toolong", "cheap", "oneregion", "stopped"} {
		if _, err := ls.lk.Resolve(name); err == nil {
			t.Errorf("a refused create-event-data-store made store %s", name)
		}
	}
	if s, err := ls.lk.Resolve("fixed"); err != nil || s.BillingMode != "EXTENDABLE_RETENTION_PRICING" || s.RetentionDays != 3000 {
		t.Errorf("the store after a refused update: %+v %v", s, err)
	}
}

// TestAWSCLIStoreLifecycleAnswersAsLake: auditlake deletes a store at once and a store always
// takes what is ingested into it, so restore-event-data-store of a deleted store is not found,
// of a live one InvalidEventDataStoreStatusException (not PENDING_DELETION), and
// start-event-data-store-ingestion is InvalidEventDataStoreStatusException (already ENABLED),
// stop-event-data-store-ingestion UnsupportedOperationException. They were
// UnknownOperationException.
func TestAWSCLIStoreLifecycleAnswersAsLake(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	gone, err := ls.lk.Create("gone", lake.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ls.lk.Delete(gone.ID); err != nil {
		t.Fatal(err)
	}
	if _, code := ls.cliOr(t, ls.admin, []string{"cloudtrail", "restore-event-data-store", "--event-data-store", ls.store.ID},
		"/", "RestoreEventDataStore", map[string]string{"EventDataStore": ls.store.ID}); code != "InvalidEventDataStoreStatusException" {
		t.Errorf("restore-event-data-store of a live store: %q", code)
	}
	// The others signed by the Go SDK's signer (the CLI's start would take a second each).
	f := func(creds access.Credentials, op, store, want string) {
		t.Helper()
		if code := ls.sdkCode(t, creds, op, map[string]string{"EventDataStore": store}); code != want {
			t.Errorf("%s %s: %q, want %q", op, store, code, want)
		}
	}
	f(ls.admin, "RestoreEventDataStore", storeARNOf(ls, gone), "EventDataStoreNotFoundException")
	f(ls.admin, "StartEventDataStoreIngestion", ls.store.ID, "InvalidEventDataStoreStatusException")
	f(ls.admin, "StopEventDataStoreIngestion", ls.store.ID, "UnsupportedOperationException")
	f(ls.filtered, "StopEventDataStoreIngestion", ls.store.ID, "AccessDeniedException")
	if s, err := ls.lk.Resolve(ls.store.ID); err != nil || s.Name != "trail" {
		t.Errorf("the store after them: %+v %v", s, err)
	}
}

// TestAWSCLIUnansweredOperationsSayWhatDoesTheirWork: lookup-events, the trail, dashboard and
// import commands stay UnknownOperationException, but the CLI's error says what does their
// work in auditlake instead of only that the X-Amz-Target is unknown.
func TestAWSCLIUnansweredOperationsSayWhatDoesTheirWork(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	f := func(want string, args ...string) {
		t.Helper()
		cmd := exec.Command("aws", append(append([]string{"cloudtrail"}, args...), "--endpoint-url", ls.url, "--output", "json")...)
		cmd.Env = clientEnv(ls.admin)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "(UnknownOperationException)") || !strings.Contains(string(out), want) {
			t.Errorf("aws cloudtrail %v: %v %s, want UnknownOperationException saying %q", args, err, out, want)
		}
	}
	f("StartQuery", "lookup-events", "--max-results", "5")
	for op, want := range map[string]string{"GetEventSelectors": "AdvancedEventSelectors", "DescribeTrails": "ingest cloudtrail", "ListDashboards": "web dashboard"} {
		out, code, err := ls.call(context.Background(), ls.admin, op, map[string]any{})
		if msg, _ := out["message"].(string); err != nil || code != "UnknownOperationException" || !strings.Contains(msg, want) {
			t.Errorf("%s: %v %q %v, want UnknownOperationException saying %q", op, err, code, out, want)
		}
	}
}
