package awsapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/awsapi"
)

// TestHostileRequestsGetAWSErrors: bad methods, unknown operations, bodies that are not JSON or
// too large, out-of-range limits and forged tokens each get the AWS error a client expects.
func TestHostileRequestsGetAWSErrors(t *testing.T) {
	ls := startLakeServer(t, 30, awsapiDefaults)
	ctx := context.Background()
	f := func(op string, in any, want string) {
		t.Helper()
		out, code, err := ls.call(ctx, ls.admin, op, in)
		if err != nil {
			t.Fatalf("%s %v: %v", op, in, err)
		}
		if code != want {
			t.Errorf("%s %v: %q (%v), want %q", op, in, code, out["message"], want)
		}
	}
	f("LookupEvents", map[string]any{}, "UnknownOperationException")
	f("StartQuery", map[string]any{}, "InvalidParameterException")
	f("StartQuery", map[string]any{"QueryStatement": strings.Repeat("x", 10001)}, "InvalidParameterException")
	f("StartQuery", map[string]any{"QueryStatement": "INSERT INTO t VALUES (1)"}, "InvalidQueryStatementException")
	f("StartQuery", map[string]any{"QueryStatement": "/* c */ -- d\n COPY t TO 'x'"}, "InvalidQueryStatementException")
	f("StartQuery", map[string]any{"QueryStatement": "SELECT 1", "QueryParameters": []string{"a"}}, "UnsupportedOperationException")
	f("StartQuery", map[string]any{"QueryStatement": 7}, "SerializationException")
	f("ListEventDataStores", map[string]any{"MaxResults": 1001}, "InvalidMaxResultsException")
	f("ListEventDataStores", map[string]any{"NextToken": "forged-token"}, "InvalidNextTokenException")
	f("ListChannels", map[string]any{"NextToken": "c3RvcmVzOjA"}, "InvalidNextTokenException") // another listing's token
	f("GetEventDataStore", map[string]any{}, "InvalidParameterException")
	f("GetEventDataStore", map[string]any{"EventDataStore": "arn:aws:cloudtrail:us-east-1:1:trail/x"}, "EventDataStoreARNInvalidException")
	f("GetChannel", map[string]any{"Channel": "nope"}, "ChannelNotFoundException")
	f("CreateEventDataStore", map[string]any{"Name": "x y"}, "InvalidParameterException")
	f("CreateEventDataStore", map[string]any{"Name": "sel", "AdvancedEventSelectors": []any{map[string]any{"FieldSelectors": []any{map[string]any{"Field": "nope", "Equals": []string{"a"}}}}}}, "InvalidEventSelectorsException")
	f("CreateEventDataStore", map[string]any{"Name": "org", "OrganizationEnabled": true}, "UnsupportedOperationException")
	f("UpdateEventDataStore", map[string]any{"EventDataStore": ls.store.ID, "RetentionPeriod": 4000}, "InvalidParameterException")
	f("ListQueries", map[string]any{"EventDataStore": ls.store.ID, "QueryStatus": "DONE"}, "InvalidQueryStatusException")

	id, _, _ := ls.call(ctx, ls.admin, "StartQuery", map[string]any{"QueryStatement": "SELECT eventid FROM " + ls.store.ID})
	qid := id["QueryId"].(string)
	for {
		d, _, _ := ls.call(ctx, ls.admin, "DescribeQuery", map[string]any{"QueryId": qid})
		if d["QueryStatus"] == "FINISHED" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	f("GetQueryResults", map[string]any{"QueryId": qid, "MaxQueryResults": 0, "NextToken": "cmVzdWx0czo5OTk"}, "InvalidNextTokenException")
	f("GetQueryResults", map[string]any{"QueryId": qid, "MaxQueryResults": -1}, "InvalidMaxResultsException")

	// A body over 1 MiB is refused before it is read whole, in the AWS shape.
	r, _ := http.NewRequest(http.MethodPost, ls.url+"/", bytes.NewReader(bytes.Repeat([]byte("a"), 2<<20)))
	r.Header.Set("X-Amz-Target", awsapi.TargetPrefix+"ListEventDataStores")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("X-Amzn-ErrorType") != "RequestEntityTooLarge" {
		t.Errorf("a 2 MiB body: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	// GET / is still the dashboard: the API takes only POST /.
	resp, err = http.Get(ls.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amzn-ErrorType") != "" {
		t.Errorf("GET /: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

// TestQueriesTimeOutAndOldResultsAreForgotten: a query past QueryOptions.Timeout is TIMED_OUT,
// and past MaxKeptBytes the oldest finished results are forgotten (QueryIdNotFoundException),
// the newest kept.
func TestQueriesTimeOutAndOldResultsAreForgotten(t *testing.T) {
	// Two servers: one whose queries time out at once, one that keeps 20 KB of results (with
	// the default timeout, so that a slow machine does not time out the small queries).
	short := startLakeServer(t, 10, awsapi.QueryOptions{Timeout: 300 * time.Millisecond})
	ls := startLakeServer(t, 300, awsapi.QueryOptions{MaxKeptBytes: 20000})
	ctx := context.Background()
	run := func(ls *lakeServer, sql string) (string, map[string]any) {
		t.Helper()
		out, code, err := ls.call(ctx, ls.admin, "StartQuery", map[string]any{"QueryStatement": sql})
		if err != nil || code != "" {
			t.Fatalf("StartQuery %s: %v %s", sql, err, code)
		}
		id := out["QueryId"].(string)
		for {
			d, _, _ := ls.call(ctx, ls.admin, "DescribeQuery", map[string]any{"QueryId": id})
			if s := d["QueryStatus"]; s != "QUEUED" && s != "RUNNING" {
				return id, d
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if _, d := run(short, "SELECT count(*) FROM "+short.store.ID+" e, range(1000000000000) r WHERE r.range = -1"); d["QueryStatus"] != "TIMED_OUT" {
		t.Errorf("long query: %v", d)
	}
	// 300 event ids are ~16 KB of results: the second query's result pushes the first one out.
	first, d := run(ls, "SELECT eventid FROM "+ls.store.ID)
	if d["QueryStatus"] != "FINISHED" {
		t.Fatalf("first query: %v", d)
	}
	second, d := run(ls, "SELECT eventid FROM "+ls.store.ID)
	if d["QueryStatus"] != "FINISHED" {
		t.Fatalf("second query: %v", d)
	}
	if _, code, _ := ls.call(ctx, ls.admin, "GetQueryResults", map[string]any{"QueryId": first}); code != "QueryIdNotFoundException" {
		t.Errorf("the oldest result over the bound: %q, want it forgotten", code)
	}
	if res, code, _ := ls.call(ctx, ls.admin, "GetQueryResults", map[string]any{"QueryId": second}); code != "" || res["QueryStatistics"].(map[string]any)["TotalResultsCount"] != 300.0 {
		t.Errorf("the newest result: %q %v", code, res["QueryStatistics"])
	}
}
