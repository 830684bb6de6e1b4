package awsapi_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/awsapi"
)

// TestAWSReadCallsAreAudited: what a principal reads through the AWS door leaves an audit record,
// as the JSON API's and the Postgres door's listings and queries do — driven by the real AWS CLI.
// Each listing and description call (ListEventDataStores, GetEventDataStore, ListQueries) is
// one record with what it returned, also a failed one (a probe for a store that does not
// exist); DescribeQuery and GetQueryResults record the first read of each query (however
// often it is polled or paged) with the rows of the whole result; and while the audit log
// cannot take more, a read that would be recorded is refused with 503 before it reads.
func TestAWSReadCallsAreAudited(t *testing.T) {
	requireTool(t, "aws", "--version")
	ls, log := startAuditedLakeServer(t, 40)
	carol := ls.filtered
	stores := ls.must(t, carol, "cloudtrail", "list-event-data-stores")
	if n := len(stores["EventDataStores"].([]any)); n != 1 {
		t.Fatalf("carol lists %d stores, want 1: %v", n, stores)
	}
	ls.must(t, carol, "cloudtrail", "get-event-data-store", "--event-data-store", ls.store.ID)
	ls.refused(t, carol, "EventDataStoreNotFoundException", "cloudtrail", "get-event-data-store", "--event-data-store", "no-such-store")
	started := ls.must(t, carol, "cloudtrail", "start-query", "--query-statement", "SELECT eventid FROM "+ls.store.ID)
	id := started["QueryId"].(string)
	ls.finish(t, carol, id)
	ls.must(t, carol, "cloudtrail", "describe-query", "--query-id", id) // a second description
	rows, pages := ls.results(t, carol, id, 3)
	if pages < 2 {
		t.Fatalf("fixture: carol's %d rows came in %d page, want several", len(rows), pages)
	}
	ls.results(t, carol, id, 1000) // read again from the start
	ls.refused(t, carol, "QueryIdNotFoundException", "cloudtrail", "get-query-results", "--query-id", "00000000-0000-0000-0000-000000000000")
	ls.must(t, carol, "cloudtrail", "list-queries", "--event-data-store", ls.store.ID)
	var records []string
	for _, r := range doorRecords(t, ls, log, carol) {
		if r["op"] == "StartQuery" {
			continue
		}
		if r["ro"] != "true" {
			t.Errorf("record %v: want readOnly true", r)
		}
		records = append(records, strings.Join([]string{r["op"], r["code"], r["n"], r["param"]}, " "))
	}
	want := []string{
		"ListEventDataStores  1 ",
		"GetEventDataStore  1 " + ls.store.ID,
		"GetEventDataStore EventDataStoreNotFoundException 0 no-such-store",
		"DescribeQuery  1 " + id,
		"GetQueryResults  " + strconv.Itoa(len(rows)) + " " + id,
		"GetQueryResults QueryIdNotFoundException 0 00000000-0000-0000-0000-000000000000",
		"ListQueries  1 " + ls.store.ID,
	}
	if strings.Join(records, "\n") != strings.Join(want, "\n") {
		t.Errorf("carol's read records through the AWS door:\n%s\nwant:\n%s", strings.Join(records, "\n"), strings.Join(want, "\n"))
	}

	// While the audit log is full, a read that would be recorded is refused before it reads; one
	// already recorded (a further page of the results read above) still answers.
	log.MaxPending = 1
	log.Record(auditlog.Entry{Action: "StartQuery", Principal: "user:alice", Door: "aws"})
	if log.Check() == nil {
		t.Fatal("fixture: the audit log is not full")
	}
	ls.refused(t, carol, "ServiceUnavailableException", "cloudtrail", "list-event-data-stores")
	ls.refused(t, carol, "ServiceUnavailableException", "cloudtrail", "get-event-data-store", "--event-data-store", ls.store.ID)
	ls.results(t, carol, id, 3)
}

// TestRefusedChangesAreAudited: an administrative call through the AWS door that is refused —
// a reader's DeleteEventDataStore, CreateEventDataStore, UpdateEventDataStore, CreateChannel,
// DeleteChannel (AccessDeniedException), a CancelQuery of another principal's query id — left
// no audit record: changes were recorded only once the caller was allowed to make them, while
// a failed read (a probe for a store) was recorded. Each such attempt is now a record with the
// caller, what it named and the error; driven by the real AWS CLI.
func TestRefusedChangesAreAudited(t *testing.T) {
	requireTool(t, "aws", "--version")
	ls, log := startAuditedLakeServer(t, 20)
	carol := ls.filtered
	alices := ls.startFinished(t, ls.admin, "SELECT eventid FROM "+ls.store.ID)
	arn := "arn:aws:cloudtrail:us-east-1:000000000000:channel/00000000-0000-4000-8000-000000000000"
	ls.refused(t, carol, "AccessDeniedException", "cloudtrail", "delete-event-data-store", "--event-data-store", ls.store.ID)
	ls.refused(t, carol, "AccessDeniedException", "cloudtrail", "update-event-data-store", "--event-data-store", ls.store.ID, "--retention-period", "7")
	ls.refused(t, carol, "AccessDeniedException", "cloudtrail", "create-event-data-store", "--name", "sneaky")
	ls.refused(t, carol, "AccessDeniedException", "cloudtrail", "create-channel", "--name", "sneaky-channel", "--source", "Custom",
		"--destinations", "Type=EVENT_DATA_STORE,Location="+ls.store.ID)
	ls.refused(t, carol, "ChannelNotFoundException", "cloudtrail", "delete-channel", "--channel", arn)
	ls.refused(t, carol, "QueryIdNotFoundException", "cloudtrail", "cancel-query", "--query-id", alices)
	var records []string
	for _, r := range doorRecords(t, ls, log, carol) {
		if r["ro"] != "false" {
			t.Errorf("record %v: want readOnly false", r)
		}
		records = append(records, strings.Join([]string{r["op"], r["code"], r["param"]}, " "))
	}
	want := []string{
		"DeleteEventDataStore AccessDeniedException " + ls.store.ID,
		"UpdateEventDataStore AccessDeniedException " + ls.store.ID,
		"CreateEventDataStore AccessDeniedException sneaky",
		"CreateChannel AccessDeniedException sneaky-channel",
		"DeleteChannel ChannelNotFoundException " + arn,
		"CancelQuery QueryIdNotFoundException " + alices,
	}
	if strings.Join(records, "\n") != strings.Join(want, "\n") {
		t.Errorf("carol's refused changes through the AWS door:\n%s\nwant:\n%s", strings.Join(records, "\n"), strings.Join(want, "\n"))
	}
}

// startAuditedLakeServer is startLakeServer with one audit log for the backend's queries and
// the door's own records.
func startAuditedLakeServer(t *testing.T, events int) (*lakeServer, *auditlog.Log) {
	var log *auditlog.Log
	ls := startLakeServer(t, events, awsapiDefaults, func(ls *lakeServer, o *awsapi.Options) {
		log = auditlog.Open(ls.lk)
		o.Backend.(*app.Backend).Audit = log
		o.Audit = log
	})
	return ls, log
}

// doorRecords flushes log and returns the AWS door's audit records of creds' principal, oldest
// first: op, code (the error), n (rows returned), param (the store, name, channel or query id it
// named), ro (readOnly). Each must carry creds' access key id.
func doorRecords(t *testing.T, ls *lakeServer, log *auditlog.Log, creds access.Credentials) []map[string]string {
	t.Helper()
	ctx := context.Background()
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	audit, err := ls.lk.Resolve(auditlog.StoreName)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ls.query(ctx, ls.admin, `SELECT eventname AS op, coalesce(errorcode, '') AS code,
		json_extract_scalar(responseelements, '$.rowsReturned') AS n,
		coalesce(json_extract_scalar(requestparameters, '$.eventDataStore'), json_extract_scalar(requestparameters, '$.name'),
			json_extract_scalar(requestparameters, '$.channel'), json_extract_scalar(requestparameters, '$.queryId'), '') AS param,
		useridentity.accesskeyid AS key, CAST(readonly AS VARCHAR) AS ro
		FROM `+audit.ID+` WHERE useridentity.principalid = 'user:`+creds.User+`' AND json_extract_scalar(additionaleventdata, '$.door') = 'aws'
		ORDER BY eventtime`)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r["key"] != creds.AccessKeyID {
			t.Errorf("record %v: want the access key %s", r, creds.AccessKeyID)
		}
	}
	return got
}
