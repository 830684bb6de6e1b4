package iceberg_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	iceberggo "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"

	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
	"github.com/auditlake/auditlake/internal/lake"
)

// attachREST sets dir's catalog to c (any type) and attaches it to a lake there, as every auditlake
// command does; the hooks' errors are collected.
func attachREST(t *testing.T, dir string, c iceberg.Config) (*lake.Lake, *[]error) {
	t.Helper()
	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := iceberg.SaveConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	var errs []error
	closeCat, err := iceberg.Attach(context.Background(), lk, func(err error) { errs = append(errs, err) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeCat)
	return lk, &errs
}

// TestRESTCatalogTableFollowsTheStore: with an Iceberg REST catalog (a conformant server on
// loopback that wants an OAuth2 client credential, read from the environment), ingest,
// compaction, purge and deletion each leave the table — loaded through iceberg-go's REST client
// and scanned — holding exactly the store's rows; the secret is in no file auditlake wrote.
func TestRESTCatalogTableFollowsTheStore(t *testing.T) {
	srv := icebergtest.NewREST(t, icebergtest.RESTOptions{Token: "tok-7f3a", ClientID: "auditlake", ClientSecret: "s3cr3t-9c1"})
	t.Setenv("AUDITLAKE_TEST_REST_CREDENTIAL", "auditlake:s3cr3t-9c1")
	dir := t.TempDir()
	lk, errs := attachREST(t, dir, iceberg.Config{Type: "rest", URI: srv.URL, Credential: "env:AUDITLAKE_TEST_REST_CREDENTIAL"})
	reader, err := iceberg.Open(context.Background(), iceberggo.Properties{"type": "rest", "uri": srv.URL, "token": "tok-7f3a"})
	if err != nil {
		t.Fatal(err)
	}
	followsStore(t, lk, reader, errs)

	var commits, tokens int
	for _, c := range srv.Calls() {
		switch c {
		case "POST /v1/namespaces/auditlake/tables/prod_trail":
			commits++
		case "POST /v1/oauth/tokens":
			tokens++
		}
	}
	if commits < 4 || tokens == 0 {
		t.Fatalf("%d table commits and %d token exchanges at the REST catalog: %v", commits, tokens, srv.Calls())
	}
	if err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || fi.Size() > 1<<20 {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "s3cr3t-9c1") {
			t.Errorf("%s holds the catalog's secret", p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestRESTCatalogRefusingCommitsLeavesTheStoreCommitted: while the REST catalog fails every
// table commit (409 CommitFailedException, or 500), the store's own commits still succeed, the
// error is reported and kept for eds show, and the table catches up at the next commit (409) or
// at catalog sync (500), which clears the error.
func TestRESTCatalogRefusingCommitsLeavesTheStoreCommitted(t *testing.T) {
	for _, status := range []int{409, 500} {
		t.Run(statusName(status), func(t *testing.T) {
			ctx := context.Background()
			srv := icebergtest.NewREST(t, icebergtest.RESTOptions{})
			dir := t.TempDir()
			lk, errs := attachREST(t, dir, iceberg.Config{Type: "rest", URI: srv.URL})
			reader, err := iceberg.Open(ctx, iceberggo.Properties{"type": "rest", "uri": srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			st := ingestStore(t, lk, "org-trail", 3000, 3, 11)
			if len(*errs) > 0 {
				t.Fatal(*errs)
			}
			ident := catalog.ToIdentifier("auditlake", "org_trail")
			before := storeIDs(t, lk, st)

			srv.FailCommits(status)
			purgeToNewestDay(t, lk, st) // the store's commit succeeds with the catalog failing
			after := storeIDs(t, lk, st)
			if len(after) >= len(before) {
				t.Fatalf("the purge left %d of %d events; the test needs it to remove some", len(after), len(before))
			}
			if len(*errs) == 0 || !strings.Contains((*errs)[0].Error(), "the test server refuses commits") {
				t.Fatalf("the refused commit was not reported: %v", *errs)
			}
			last, ok := iceberg.LastSyncError(dir, st.ID)
			if !ok || !strings.Contains(last.Error, "the test server refuses commits") {
				t.Fatalf("the refused commit was not kept for eds show: %+v %v", last, ok)
			}
			tbl, err := reader.LoadTable(ctx, ident)
			if err != nil {
				t.Fatal(err)
			}
			if got := scanIDs(t, tbl, 0); !equal(got, before) {
				t.Fatalf("while refused the table holds %d events, want the %d before the purge", len(got), len(before))
			}

			srv.Heal()
			if status == 409 {
				ingestMore(t, lk, st, 500, 1, 12) // the next commit of the store catches up
			} else {
				// catalog sync catches up.
				cat, err := iceberg.Open(ctx, iceberggo.Properties{"type": "rest", "uri": srv.URL})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := iceberg.SyncStore(ctx, cat, lk, st); err != nil {
					t.Fatal(err)
				}
			}
			if tbl, err = reader.LoadTable(ctx, ident); err != nil {
				t.Fatal(err)
			}
			if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) || len(want) < len(after) {
				t.Fatalf("after the catalog healed the table holds %d events, the store %d", len(got), len(want))
			}
			if last, ok := iceberg.LastSyncError(dir, st.ID); ok {
				t.Fatalf("the error is still kept after the table caught up: %+v", last)
			}
		})
	}
}

func statusName(status int) string {
	if status == 409 {
		return "409 CommitFailed"
	}
	return "500"
}

// TestSharedCatalogDoesNotDropAnotherInstallationsTable: two data directories (two auditlake
// installations) sharing one REST catalog each have a store named prod-trail, so both map to
// auditlake.prod_trail. The second's sync took the first's table for the table of a deleted
// store of its own and dropped it, then the first's did the same to the second's: each sync
// destroyed the other's table and its history. A table whose store this data directory does
// not have and whose files are not this data directory's is refused now, naming its store, as
// two stores of one data directory with one table name are.
func TestSharedCatalogDoesNotDropAnotherInstallationsTable(t *testing.T) {
	ctx := context.Background()
	srv := icebergtest.NewREST(t, icebergtest.RESTOptions{})
	c := iceberg.Config{Type: "rest", URI: srv.URL}
	lkA, errsA := attachREST(t, t.TempDir(), c)
	lkB, errsB := attachREST(t, t.TempDir(), c)
	stA := ingestStore(t, lkA, "prod-trail", 500, 1, 3)
	ingestStore(t, lkB, "prod-trail", 300, 1, 4)
	if len(*errsA) != 0 {
		t.Fatalf("installation A's syncs: %v", *errsA)
	}
	if len(*errsB) == 0 || !strings.Contains(errors.Join(*errsB...).Error(), stA.ID) {
		t.Errorf("installation B's sync into A's table: %v; want it refused, naming A's store %s", *errsB, stA.ID)
	}
	reader, err := iceberg.Open(ctx, iceberggo.Properties{"type": "rest", "uri": srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := reader.LoadTable(ctx, catalog.ToIdentifier("auditlake", "prod_trail"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tbl.Properties()["auditlake.store-id"]; got != stA.ID {
		t.Fatalf("auditlake.prod_trail is store %s's, want A's %s", got, stA.ID)
	}
	if got := icebergtest.Rows(t, tbl); got != 500 {
		t.Fatalf("A's table holds %d rows, want 500", got)
	}
}
