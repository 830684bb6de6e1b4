package iceberg_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/iceberg-go/catalog"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
)

// TestGlueCatalogTableFollowsTheStore: with catalog glue (iceberg-go's Glue catalog through the
// AWS SDK, against a Glue endpoint on loopback that records its calls), the database and table
// are created as Athena expects them (table_type ICEBERG, metadata_location naming a metadata
// file iceberg-go reads and scans to the store's rows), every commit is an UpdateTable with the
// VersionId read before it, and ingest, compaction, purge and deletion each leave the table
// holding exactly the store's rows. A VersionId gone stale (a writer elsewhere) is refused
// and the table still ends up following the store.
func TestGlueCatalogTableFollowsTheStore(t *testing.T) {
	icebergtest.AWSEnv(t, "AKIDAUDITLAKETEST")
	ctx := context.Background()
	g := icebergtest.NewGlue(t)
	dir := t.TempDir()
	c := iceberg.Config{Type: "glue", Region: "eu-west-1", Endpoint: g.URL, Database: "auditlake", Warehouse: "file://" + filepath.Join(t.TempDir(), "warehouse")}
	lk, errs := attachREST(t, dir, c)
	reader, err := iceberg.Open(ctx, c.Properties(dir))
	if err != nil {
		t.Fatal(err)
	}
	followsStore(t, lk, reader, errs)

	// A second store: its Glue table read directly by its metadata_location.
	st := ingestStore(t, lk, "org-trail", 2000, 2, 4)
	if len(*errs) > 0 {
		t.Fatal(*errs)
	}
	glueTable := g.Table("auditlake", "org_trail")
	if glueTable == nil {
		t.Fatalf("no Glue table auditlake.org_trail; calls: %v", g.Calls())
	}
	params, _ := glueTable["Parameters"].(map[string]any)
	if params["table_type"] != "ICEBERG" || glueTable["TableType"] != "EXTERNAL_TABLE" {
		t.Fatalf("the Glue table is not an Iceberg table Athena reads: TableType %v, Parameters %v", glueTable["TableType"], params)
	}
	loc, _ := params["metadata_location"].(string)
	tbl, err := table.NewFromLocation(ctx, table.Identifier{"auditlake", "org_trail"}, loc, icebergio.LoadFSFunc(nil, loc), nil)
	if err != nil {
		t.Fatalf("metadata_location %q: %v", loc, err)
	}
	if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) || len(want) == 0 {
		t.Fatalf("the table at metadata_location holds %d events, the store %d", len(got), len(want))
	}

	// A writer elsewhere moved the table's version: the next UpdateTable is refused, and the
	// table follows the store all the same (iceberg-go retries on the new version, or the
	// commit's error is kept and catalog sync catches up).
	g.InterleaveWriter(1)
	ingestMore(t, lk, st, 500, 1, 6)
	*errs = nil
	if _, err := iceberg.SyncStore(ctx, reader, lk, st); err != nil {
		t.Fatal(err)
	}
	if tbl, err = reader.LoadTable(ctx, catalog.ToIdentifier("auditlake", "org_trail")); err != nil {
		t.Fatal(err)
	}
	if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) {
		t.Fatalf("after a concurrent modification the table holds %d events, the store %d", len(got), len(want))
	}

	var created, databases, updates, refused int
	for _, call := range g.Calls() {
		if call.AccessKey != "AKIDAUDITLAKETEST" || call.Region != "eu-west-1" {
			t.Fatalf("%s signed with key %q in %q, want the environment's key in eu-west-1", call.Op, call.AccessKey, call.Region)
		}
		switch call.Op {
		case "CreateDatabase":
			if di, _ := call.Input["DatabaseInput"].(map[string]any); di["Name"] == "auditlake" && call.Refused == "" {
				databases++
			}
		case "CreateTable":
			if call.Refused == "" {
				created++
			}
		case "UpdateTable":
			if v, _ := call.Input["VersionId"].(string); v == "" {
				t.Fatalf("UpdateTable without a VersionId: %v", call.Input)
			}
			if call.Refused == "ConcurrentModificationException" {
				refused++
			} else if call.Refused == "" {
				updates++
			}
		}
	}
	if databases != 1 || created != 2 || updates < 5 || refused == 0 {
		t.Fatalf("Glue calls: %d CreateDatabase auditlake, %d CreateTable, %d UpdateTable, %d refused as stale; want 1, 2, ≥5, ≥1", databases, created, updates, refused)
	}
}

// TestGlueCatalogUnreachableLeavesTheStoreCommitted: with the Glue endpoint down, the sync
// fails naming it, the error is kept for eds show, and the store's commit stands.
func TestGlueCatalogUnreachableLeavesTheStoreCommitted(t *testing.T) {
	icebergtest.AWSEnv(t, "AKIDAUDITLAKETEST")
	g := icebergtest.NewGlue(t)
	url := g.URL
	dir := t.TempDir()
	c := iceberg.Config{Type: "glue", Region: "eu-west-1", Endpoint: url, Warehouse: "file://" + filepath.Join(t.TempDir(), "warehouse"), Extra: map[string]string{"glue.max-retries": "1"}}
	lk, errs := attachREST(t, dir, c)
	// The endpoint goes away (a closed port).
	g.Close()
	st := ingestStore(t, lk, "org-trail", 1000, 1, 2)
	if len(*errs) == 0 {
		t.Fatal("a commit with the Glue endpoint down reported nothing")
	}
	if m, err := lk.ReadManifest(st.ID); err != nil || len(m.Files) == 0 {
		t.Fatalf("the store's commit did not stand with Glue down: %v", err)
	}
	last, ok := iceberg.LastSyncError(dir, st.ID)
	if !ok || !strings.Contains(last.Error, strings.TrimPrefix(url, "http://")) {
		t.Fatalf("the kept error does not name the endpoint: %+v", last)
	}
}

// TestGlueTableOfTheSameNameThatIsNotIcebergIsLeftAlone: a user's own (Hive) table named
// auditlake.<store> is neither replaced nor written: the sync fails naming it, the store's
// commit stands.
func TestGlueTableOfTheSameNameThatIsNotIcebergIsLeftAlone(t *testing.T) {
	icebergtest.AWSEnv(t, "AKIDAUDITLAKETEST")
	g := icebergtest.NewGlue(t)
	hive := map[string]any{"Name": "org_trail", "TableType": "EXTERNAL_TABLE", "Parameters": map[string]any{"classification": "parquet"},
		"StorageDescriptor": map[string]any{"Location": "s3://someone/else/"}}
	g.Put("auditlake", hive)
	dir := t.TempDir()
	lk, errs := attachREST(t, dir, iceberg.Config{Type: "glue", Region: "eu-west-1", Endpoint: g.URL, Warehouse: "file://" + filepath.Join(t.TempDir(), "warehouse")})
	st := ingestStore(t, lk, "org-trail", 1000, 1, 8)
	if len(*errs) == 0 || !strings.Contains((*errs)[0].Error(), "not an iceberg table") {
		t.Fatalf("a sync onto a user's non-Iceberg table did not fail naming it: %v", *errs)
	}
	if m, err := lk.ReadManifest(st.ID); err != nil || len(m.Files) == 0 {
		t.Fatalf("the store's commit did not stand: %v", err)
	}
	got := g.Table("auditlake", "org_trail")
	if got["VersionId"] != "1" || got["Parameters"].(map[string]any)["classification"] != "parquet" {
		t.Fatalf("the user's table was changed: %v", got)
	}
	for _, c := range g.Calls() {
		if c.Op == "UpdateTable" || c.Op == "DeleteTable" || (c.Op == "CreateTable" && c.Refused == "") {
			t.Fatalf("auditlake wrote to Glue over a user's table: %s %v", c.Op, c.Input)
		}
	}
}
