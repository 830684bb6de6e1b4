package awsapi_test

import (
	"encoding/base64"
	"testing"
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
	ls.refused(t, ls.admin, "InvalidNextTokenException", append(list, "--next-token", token, "--start-time", "2026-01-01T00:00:00Z")...)
	ls.refused(t, ls.admin, "InvalidNextTokenException", "cloudtrail", "list-queries", "--event-data-store", other, "--next-token", token)
	ls.refused(t, ls.admin, "InvalidNextTokenException", append(list, "--next-token", token[:len(token)-3])...)
	ls.refused(t, ls.admin, "InvalidNextTokenException", append(list, "--next-token", base64.RawURLEncoding.EncodeToString([]byte("queries:1")))...)
}
