package awsapi_test

import (
	"context"
	"encoding/base64"
	"maps"
	"slices"
	"testing"

	"github.com/auditlake/auditlake/internal/lake"
)

// TestAWSCLIListQueriesTokenIsTiedToItsFilters: a list-queries NextToken is taken only with the
// store and filters of the call that gave it; with another status, time range or store it is
// InvalidNextTokenException, as in Lake (it was read as an offset into the other listing and
// skipped its first queries), and a truncated or forged token is that 400 too.
func TestAWSCLIListQueriesTokenIsTiedToItsFilters(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	other := ls.must(t, ls.admin, "cloudtrail", "create-event-data-store", "--name", "other")["EventDataStoreArn"].(string)
	for range 3 {
		ls.startFinished(t, ls.admin, "SELECT count(*) FROM "+ls.store.ID)
	}
	list := []string{"cloudtrail", "list-queries", "--event-data-store", ls.store.ID, "--max-results", "1"}
	first := ls.must(t, ls.admin, list...)
	token, _ := first["NextToken"].(string)
	if token == "" {
		t.Fatalf("list-queries of 3 queries by 1: no NextToken: %v", first)
	}
	if next := ls.must(t, ls.admin, append(list, "--next-token", token)...); len(next["Queries"].([]any)) != 1 {
		t.Errorf("the second page with its token: %v", next)
	}
	ls.refused(t, ls.admin, "InvalidNextTokenException", append(list, "--next-token", token, "--query-status", "FINISHED")...)
	// The other refusals, signed by the Go SDK's signer (the CLI's start would take a second each).
	for _, in := range []map[string]any{
		{"StartTime": "2026-01-01T00:00:00Z"},
		{"EventDataStore": other},
		{"NextToken": token[:len(token)-3]},
		{"NextToken": base64.RawURLEncoding.EncodeToString([]byte("queries:1"))},
	} {
		req := map[string]any{"EventDataStore": ls.store.ID, "MaxResults": 1, "NextToken": token}
		maps.Copy(req, in)
		if code := ls.sdkCode(t, ls.admin, "ListQueries", req); code != "InvalidNextTokenException" {
			t.Errorf("ListQueries %v: %q, want InvalidNextTokenException", in, code)
		}
	}
}

// TestATruncatedOrEditedTokenIsRefused: a NextToken cut short or with one character changed is
// InvalidNextTokenException for every listing. A token was its listing and an offset in
// base64, so dropping its last characters often left a valid token of another offset and the
// client got a page it had not asked for.
func TestATruncatedOrEditedTokenIsRefused(t *testing.T) {
	ls := startLakeServer(t, 30, awsapiDefaults)
	ctx := context.Background()
	for _, name := range []string{"store-1", "store-2", "store-3"} {
		if _, err := ls.lk.Create(name, lake.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	qid := ls.startFinished(t, ls.admin, "SELECT eventid FROM "+ls.store.ID)
	for _, c := range []struct {
		op   string
		in   map[string]any
		page string
	}{
		{"ListEventDataStores", map[string]any{"MaxResults": 1}, "MaxResults"},
		{"GetQueryResults", map[string]any{"QueryId": qid, "MaxQueryResults": 12}, "MaxQueryResults"},
	} {
		first, code, err := ls.call(ctx, ls.admin, c.op, c.in)
		token, _ := first["NextToken"].(string)
		if err != nil || code != "" || token == "" {
			t.Fatalf("%s %v: %v %s %v", c.op, c.in, err, code, first)
		}
		if _, code, _ := ls.call(ctx, ls.admin, c.op, with(c.in, "NextToken", token)); code != "" {
			t.Errorf("%s with its own token: %s", c.op, code)
		}
		edited := []byte(token)
		edited[len(edited)/2] ^= 'A' ^ 'B'
		for _, bad := range []string{token[:len(token)-1], token[:len(token)-2], token[:len(token)-4], string(edited)} {
			if out, code, err := ls.call(ctx, ls.admin, c.op, with(c.in, "NextToken", bad)); err != nil || code != "InvalidNextTokenException" {
				t.Errorf("%s with token %q (of %q): %v %q %v, want InvalidNextTokenException", c.op, bad, token, err, code, out)
			}
		}
	}
}

// TestListingsThatGiveNoTokenRefuseOne: ListPublicKeys and ListTags answer in one page and give
// no NextToken, so one sent to them is made up: a 400 (InvalidTokenException,
// InvalidNextTokenException), not the first page again. ListPublicKeys ignored it.
func TestListingsThatGiveNoTokenRefuseOne(t *testing.T) {
	ls := startLakeServer(t, 5, awsapiDefaults)
	if code := ls.sdkCode(t, ls.admin, "ListPublicKeys", map[string]any{"NextToken": "made-up"}); code != "InvalidTokenException" {
		t.Errorf("ListPublicKeys with a made-up token: %q", code)
	}
	if code := ls.sdkCode(t, ls.admin, "ListTags", map[string]any{"ResourceIdList": []string{storeARNOf(ls, ls.store)}, "NextToken": "made-up"}); code != "InvalidNextTokenException" {
		t.Errorf("ListTags with a made-up token: %q", code)
	}
}

// with is in with key set to v (a copy).
func with(in map[string]any, key string, v any) map[string]any {
	out := maps.Clone(in)
	out[key] = v
	return out
}

// TestAWSCLIListQueriesPagesStayPutWhileQueriesStart: list-queries lists newest first, so a
// query started while a client pages comes first; its next page must go on where the last one
// stopped. The token was an offset, and the next page began with the query the last page
// ended with.
func TestAWSCLIListQueriesPagesStayPutWhileQueriesStart(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	var started []string // oldest first
	for range 3 {
		started = append(started, ls.startFinished(t, ls.admin, "SELECT count(*) FROM "+ls.store.ID))
	}
	ids := func(out map[string]any) []string {
		var got []string
		for _, x := range out["Queries"].([]any) {
			got = append(got, x.(map[string]any)["QueryId"].(string))
		}
		return got
	}
	list := []string{"cloudtrail", "list-queries", "--event-data-store", ls.store.ID, "--max-results", "2"}
	first := ls.must(t, ls.admin, list...)
	if got := ids(first); !slices.Equal(got, []string{started[2], started[1]}) {
		t.Fatalf("first page %v, want the two newest %v", got, started[1:])
	}
	ls.startFinished(t, ls.admin, "SELECT count(*) FROM "+ls.store.ID) // started between the pages
	next := ls.must(t, ls.admin, append(list, "--next-token", first["NextToken"].(string))...)
	if got := ids(next); !slices.Equal(got, []string{started[0]}) || next["NextToken"] != nil {
		t.Errorf("next page %v (token %v), want only the oldest %s", got, next["NextToken"], started[0])
	}
}

// TestAWSCLIListEventDataStoresPagesStayPutWhileStoresChange: list-event-data-stores lists by
// name; a store made (named to sort first) or deleted while a client pages must not make its
// next page repeat or skip a store. The token was an offset.
func TestAWSCLIListEventDataStoresPagesStayPutWhileStoresChange(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults) // its store is "trail"
	for _, name := range []string{"bravo", "delta"} {
		if _, err := ls.lk.Create(name, lake.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(out map[string]any) []string {
		var got []string
		for _, x := range out["EventDataStores"].([]any) {
			got = append(got, x.(map[string]any)["Name"].(string))
		}
		return got
	}
	list := []string{"cloudtrail", "list-event-data-stores", "--max-results", "1"}
	first := ls.must(t, ls.admin, list...)
	if got := names(first); !slices.Equal(got, []string{"bravo"}) {
		t.Fatalf("first page %v", got)
	}
	if _, err := ls.lk.Create("alpha", lake.CreateOptions{}); err != nil { // sorts before the first page
		t.Fatal(err)
	}
	second := ls.must(t, ls.admin, append(list, "--next-token", first["NextToken"].(string))...)
	if got := names(second); !slices.Equal(got, []string{"delta"}) {
		t.Errorf("second page %v, want [delta]", got)
	}
	if _, err := ls.lk.Update(ls.store.ID, func(s *lake.Store) error { s.TerminationProtection = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := ls.lk.Delete(ls.store.ID); err != nil { // "trail", the next page's first store
		t.Fatal(err)
	}
	if _, err := ls.lk.Create("echo", lake.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	third := ls.must(t, ls.admin, append(list, "--next-token", second["NextToken"].(string))...)
	if got := names(third); !slices.Equal(got, []string{"echo"}) {
		t.Errorf("third page %v, want [echo] (the store after the deleted one)", got)
	}
}
