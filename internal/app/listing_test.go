package app

import (
	"context"
	"fmt"
	"testing"

	"github.com/auditlake/auditlake/internal/auditlog"
)

// TestCatalogListingsAreAudited: listing the tables (their columns) and the event data stores —
// the dashboard's and API's store and table lists, the Postgres door's catalog — is recorded in
// the audit log with the caller and the count listed, as a query is; it was not recorded.
func TestCatalogListingsAreAudited(t *testing.T) {
	b := newTestBackend(t, Options{})
	b.Audit = auditlog.Open(b.lk)
	ctx := context.Background()
	caller := asOperator("192.0.2.1")
	tables, err := b.Tables(caller)
	if err != nil {
		t.Fatal(err)
	}
	stores, err := b.Stores(caller)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := b.Query(caller, `SELECT eventname, useridentity.principalid, CAST(json_extract_scalar(responseelements, '$.rowsReturned') AS BIGINT)
		FROM "aws:cloudtrail"."auditlake-audit" WHERE eventname IN ('ListTables', 'ListEventDataStores') ORDER BY 1`, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([][]any{{"ListEventDataStores", "operator", int64(len(stores))}, {"ListTables", "operator", int64(len(tables))}})
	if got := fmt.Sprint(res.Rows); got != want {
		t.Errorf("audit entries %s, want %s", got, want)
	}
}
