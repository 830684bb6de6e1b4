package awsapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/auditlog"
)

// TestQueryResultsBelongToThePrincipalNotItsName: a user deleted and created again with the same
// name is another principal — its GetQueryResults, DescribeQuery and ListQueries do not find the
// former user's query (QueryIdNotFoundException, never "forbidden") — while the same user with
// another access key (rotation) still reads its own.
func TestQueryResultsBelongToThePrincipalNotItsName(t *testing.T) {
	ls := startLakeServer(t, 20, awsapiDefaults)
	ctx := context.Background()
	reg := access.Open(ls.lk.Dir)
	stmt := "SELECT eventid FROM " + ls.store.ID
	id := ls.startFinished(t, ls.filtered, stmt)
	second, err := reg.CreateKey("carol", nil)
	if err != nil {
		t.Fatal(err)
	}
	if out, code, err := ls.call(ctx, second, "GetQueryResults", map[string]string{"QueryId": id}); err != nil || code != "" {
		t.Fatalf("the same user with another key: %v %s %v", err, code, out)
	}

	if err := reg.DeleteUser("carol"); err != nil {
		t.Fatal(err)
	}
	again, err := reg.CreateUser("carol", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.AddGrant(access.Grant{Privilege: access.Select, Principal: "user:carol", Resource: "store:" + ls.store.ID}, nil); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"GetQueryResults", "DescribeQuery", "CancelQuery"} {
		if out, code, err := ls.call(ctx, again, op, map[string]string{"QueryId": id}); err != nil || code != "QueryIdNotFoundException" {
			t.Errorf("%s of the former carol's query by the new carol: %v %q %v, want QueryIdNotFoundException", op, err, code, out)
		}
	}
	list, code, err := ls.call(ctx, again, "ListQueries", map[string]string{"EventDataStore": ls.store.ID})
	if err != nil || code != "" {
		t.Fatalf("ListQueries: %v %s %v", err, code, list)
	}
	if qs, _ := list["Queries"].([]any); len(qs) != 0 {
		t.Errorf("the new carol lists the former carol's queries: %v", qs)
	}
}

// TestStatementsRefusedBeforeTheEngineAreAudited: a StartQuery statement the door refuses itself
// (not a SELECT) is in the audit log as the engine's refusal would be — principal, door aws,
// statement, QueryFailed — and while the audit log cannot be written it is 503
// ServiceUnavailableException, as a query is, instead of answered unaudited.
func TestStatementsRefusedBeforeTheEngineAreAudited(t *testing.T) {
	ls, log := startAuditedLakeServer(t, 10)
	ctx := context.Background()
	stmt := "DELETE FROM " + ls.store.ID + " WHERE eventid = 'refused-by-the-door'"
	if out, code, err := ls.call(ctx, ls.filtered, "StartQuery", map[string]string{"QueryStatement": stmt}); err != nil || code != "InvalidQueryStatementException" {
		t.Fatalf("StartQuery %q: %v %q %v", stmt, err, code, out)
	}
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	audit, err := ls.lk.Resolve(auditlog.StoreName)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ls.query(ctx, ls.admin, `SELECT useridentity.principalid AS who, json_extract_scalar(additionaleventdata, '$.door') AS door,
		errorcode AS code FROM `+audit.ID+` WHERE json_extract_scalar(requestparameters, '$.queryStatement') = '`+strings.ReplaceAll(stmt, "'", "''")+`'`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0]["who"] != "user:carol" || rows[0]["door"] != "aws" || rows[0]["code"] != "QueryFailed" {
		t.Errorf("audit entries of the refused statement: %v, want one by user:carol, door aws, QueryFailed", rows)
	}

	log.MaxPending = 1
	log.Record(auditlog.Entry{Action: "StartQuery", Principal: "user:alice", Door: "aws"})
	log.Record(auditlog.Entry{Action: "StartQuery", Principal: "user:alice", Door: "aws"})
	if log.Check() == nil {
		t.Fatal("fixture: the audit log is not full")
	}
	if out, code, err := ls.call(ctx, ls.filtered, "StartQuery", map[string]string{"QueryStatement": stmt}); err != nil || code != "ServiceUnavailableException" {
		t.Errorf("StartQuery %q while the audit log is full: %v %q %v, want ServiceUnavailableException", stmt, err, code, out)
	}
}

// TestANextTokenOpensNoOtherQuery: GetQueryResults' NextToken of one principal's query, given with
// another principal's own query or with the first query's id by that other principal, opens
// nothing: InvalidNextTokenException for its own query, QueryIdNotFoundException for the other's.
func TestANextTokenOpensNoOtherQuery(t *testing.T) {
	ls := startLakeServer(t, 30, awsapiDefaults)
	ctx := context.Background()
	stmt := "SELECT eventid FROM " + ls.store.ID
	admins := ls.startFinished(t, ls.admin, stmt)
	page, code, err := ls.call(ctx, ls.admin, "GetQueryResults", map[string]any{"QueryId": admins, "MaxQueryResults": 2})
	token, _ := page["NextToken"].(string)
	if err != nil || code != "" || token == "" {
		t.Fatalf("the admin's first page: %v %s %v", err, code, page)
	}
	carols := ls.startFinished(t, ls.filtered, stmt)
	for _, c := range []struct {
		id, want string
	}{{carols, "InvalidNextTokenException"}, {admins, "QueryIdNotFoundException"}} {
		out, code, err := ls.call(ctx, ls.filtered, "GetQueryResults", map[string]any{"QueryId": c.id, "NextToken": token, "MaxQueryResults": 1000})
		if err != nil || code != c.want {
			t.Errorf("carol's GetQueryResults of %s with the admin's token: %v %q %v, want %s", c.id, err, code, out, c.want)
		}
	}
}

// startFinished starts stmt as creds through the API (SDK signer) and waits until it is FINISHED;
// it returns the query's id.
func (ls *lakeServer) startFinished(t *testing.T, creds access.Credentials, stmt string) string {
	t.Helper()
	ctx := context.Background()
	out, code, err := ls.call(ctx, creds, "StartQuery", map[string]string{"QueryStatement": stmt})
	if err != nil || code != "" {
		t.Fatalf("StartQuery: %v %s %v", err, code, out)
	}
	id := out["QueryId"].(string)
	for {
		d, code, err := ls.call(ctx, creds, "DescribeQuery", map[string]string{"QueryId": id})
		if err != nil || code != "" {
			t.Fatalf("DescribeQuery: %v %s %v", err, code, d)
		}
		if d["QueryStatus"] == "FINISHED" {
			return id
		}
		time.Sleep(5 * time.Millisecond)
	}
}
