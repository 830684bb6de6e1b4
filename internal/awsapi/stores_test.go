package awsapi_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
)

// TestAWSCLIStoreSettingsAreKeptOrRefused: a store's BillingMode is kept and shown back (get,
// update), bounds the retention as in Lake and changes only from fixed to extendable; the
// settings auditlake cannot honour (a single-region store, ingestion not started) are refused
// instead of accepted and ignored.
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
	ls.refused(t, admin, "InvalidParameterException", "cloudtrail", "update-event-data-store", "--event-data-store", arn, "--retention-period", "3000")
	ls.refused(t, admin, "InvalidParameterException", "cloudtrail", "create-event-data-store", "--name", "toolong",
		"--billing-mode", "FIXED_RETENTION_PRICING", "--retention-period", "3000")
	if u := ls.must(t, admin, "cloudtrail", "update-event-data-store", "--event-data-store", arn,
		"--billing-mode", "EXTENDABLE_RETENTION_PRICING", "--retention-period", "3000"); u["BillingMode"] != "EXTENDABLE_RETENTION_PRICING" || u["RetentionPeriod"].(float64) != 3000 {
		t.Errorf("update-event-data-store to extendable: %v", u)
	}
	ls.refused(t, admin, "InvalidParameterException", "cloudtrail", "update-event-data-store", "--event-data-store", arn, "--billing-mode", "FIXED_RETENTION_PRICING")
	ls.refused(t, admin, "InvalidParameterException", "cloudtrail", "create-event-data-store", "--name", "cheap", "--billing-mode", "FREE")

	ls.refused(t, admin, "UnsupportedOperationException", "cloudtrail", "create-event-data-store", "--name", "oneregion", "--no-multi-region-enabled")
	ls.refused(t, admin, "UnsupportedOperationException", "cloudtrail", "create-event-data-store", "--name", "stopped", "--no-start-ingestion")
	ls.refused(t, admin, "UnsupportedOperationException", "cloudtrail", "update-event-data-store", "--event-data-store", arn, "--no-multi-region-enabled")
	for _, name := range []string{"toolong", "cheap", "oneregion", "stopped"} {
		if _, err := ls.lk.Resolve(name); err == nil {
			t.Errorf("a refused create-event-data-store made store %s", name)
		}
	}
	if g := ls.must(t, admin, "cloudtrail", "get-event-data-store", "--event-data-store", arn); g["MultiRegionEnabled"] != true {
		t.Errorf("get-event-data-store after a refused update: %v", g)
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
	arn := ls.must(t, ls.admin, "cloudtrail", "create-event-data-store", "--name", "gone", "--no-termination-protection-enabled")["EventDataStoreArn"].(string)
	ls.must(t, ls.admin, "cloudtrail", "delete-event-data-store", "--event-data-store", arn)
	f := func(creds access.Credentials, command, op, store, want string) {
		t.Helper()
		if _, code := ls.cliOr(t, creds, []string{"cloudtrail", command, "--event-data-store", store}, "/", op, map[string]string{"EventDataStore": store}); code != want {
			t.Errorf("%s %s: %q, want %q", command, store, code, want)
		}
	}
	f(ls.admin, "restore-event-data-store", "RestoreEventDataStore", arn, "EventDataStoreNotFoundException")
	f(ls.admin, "restore-event-data-store", "RestoreEventDataStore", ls.store.ID, "InvalidEventDataStoreStatusException")
	f(ls.admin, "start-event-data-store-ingestion", "StartEventDataStoreIngestion", ls.store.ID, "InvalidEventDataStoreStatusException")
	f(ls.admin, "stop-event-data-store-ingestion", "StopEventDataStoreIngestion", ls.store.ID, "UnsupportedOperationException")
	f(ls.filtered, "stop-event-data-store-ingestion", "StopEventDataStoreIngestion", ls.store.ID, "AccessDeniedException")
	if g := ls.must(t, ls.admin, "cloudtrail", "get-event-data-store", "--event-data-store", ls.store.ID); g["Status"] != "ENABLED" {
		t.Errorf("the store after them: %v", g["Status"])
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
	f("AdvancedEventSelectors", "get-event-selectors", "--trail-name", ls.store.ID)
	f("ingest cloudtrail", "describe-trails")
}
