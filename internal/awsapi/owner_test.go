package awsapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
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
	started, code, err := ls.call(ctx, ls.filtered, "StartQuery", map[string]string{"QueryStatement": stmt})
	if err != nil || code != "" {
		t.Fatalf("StartQuery: %v %s %v", err, code, started)
	}
	id := started["QueryId"].(string)
	for {
		d, code, err := ls.call(ctx, ls.filtered, "DescribeQuery", map[string]string{"QueryId": id})
		if err != nil || code != "" {
			t.Fatalf("DescribeQuery: %v %s %v", err, code, d)
		}
		if d["QueryStatus"] == "FINISHED" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
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
