package iceberg_test

import (
	"strings"
	"testing"

	iceberggo "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
)

// TestPublishedTableWithRESTCatalog: eds publish with an Iceberg REST catalog (a conformant
// server on loopback that wants a bearer token, with its own S3 settings): the table the REST
// catalog serves is located at the S3 prefix, its metadata is there, and iceberg-go's scan through
// the REST catalog reads the store's events from S3 after the publication, ingest, compaction,
// purge, expiry and the store's deletion.
func TestPublishedTableWithRESTCatalog(t *testing.T) {
	s3 := icebergtest.NewS3(t, "lake")
	srv := icebergtest.NewREST(t, icebergtest.RESTOptions{Token: "tok-rest-publish",
		Storage: iceberggo.Properties{"s3.endpoint": s3.URL, "s3.region": "us-east-1", "s3.path-style-access": "true"}})
	t.Setenv("AUDITLAKE_TEST_REST_TOKEN", "tok-rest-publish")
	c := iceberg.Config{Type: "rest", URI: srv.URL, Token: "env:AUDITLAKE_TEST_REST_TOKEN", KeepRetired: "1h"}
	publishedFollows(t, s3, c, func(step string, tbl *table.Table) {
		if tbl.Location() != "s3://lake/auditlake/prod-trail" {
			t.Fatalf("%s: the REST catalog's table is at %s, want the S3 prefix", step, tbl.Location())
		}
	})
	var commits int
	for _, call := range srv.Calls() {
		if call == "POST /v1/namespaces/auditlake/tables/prod_trail" {
			commits++
		}
	}
	if commits < 5 {
		t.Fatalf("%d table commits at the REST catalog, want one per step: %v", commits, srv.Calls())
	}
}

// TestPublishedTableWithGlueCatalog: eds publish with the Glue catalog (iceberg-go's Glue
// catalog through the AWS SDK against a Glue endpoint on loopback): after every step the Glue
// table is what Athena reads — table_type ICEBERG, metadata_location on S3 under the prefix,
// previous_metadata_location the one before, the storage location the prefix — and iceberg-go's
// scan through Glue reads the store's events from S3.
func TestPublishedTableWithGlueCatalog(t *testing.T) {
	icebergtest.AWSEnv(t, "AKIDAUDITLAKETEST")
	s3 := icebergtest.NewS3(t, "lake")
	g := icebergtest.NewGlue(t)
	c := iceberg.Config{Type: "glue", Region: "us-east-1", Endpoint: g.URL, Database: "auditlake", KeepRetired: "1h"}
	publishedFollows(t, s3, c, func(step string, tbl *table.Table) {
		gt := g.Table("auditlake", "prod_trail")
		if gt == nil {
			t.Fatalf("%s: no Glue table auditlake.prod_trail", step)
		}
		params, _ := gt["Parameters"].(map[string]any)
		loc, _ := params["metadata_location"].(string)
		if params["table_type"] != "ICEBERG" || gt["TableType"] != "EXTERNAL_TABLE" {
			t.Fatalf("%s: the Glue table is not an Iceberg table Athena reads: TableType %v, Parameters %v", step, gt["TableType"], params)
		}
		if loc != tbl.MetadataLocation() || !strings.HasPrefix(loc, "s3://lake/auditlake/prod-trail/metadata/") {
			t.Fatalf("%s: Glue's metadata_location %q; the table's %q, want it under the S3 prefix", step, loc, tbl.MetadataLocation())
		}
		// The metadata file before the current one (the table's metadata log), as Athena and
		// Glue's own writers set it.
		var want string
		for e := range tbl.Metadata().PreviousFiles() {
			want = e.MetadataFile
		}
		if prev, _ := params["previous_metadata_location"].(string); want == "" || prev != want {
			t.Fatalf("%s: previous_metadata_location %q, want the metadata file before the current one, %q", step, prev, want)
		}
		sd, _ := gt["StorageDescriptor"].(map[string]any)
		if sl, _ := sd["Location"].(string); strings.TrimSuffix(sl, "/") != "s3://lake/auditlake/prod-trail" {
			t.Fatalf("%s: the Glue table's storage location is %q, want the S3 prefix", step, sl)
		}
	})
}
