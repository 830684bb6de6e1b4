package cli_test

import (
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
)

// TestAthenaDDLOfAPublishedStoreNeedsNoLocation is issue 20's contract `auditlake athena ddl
// prod-trail`: the DDL of a published store is at its publication's S3 prefix without
// --location (it required --location: exit 2); a store not published gets its DDL at a
// placeholder location, with a warning naming the store and how to publish it; --location still
// names another prefix.
func TestAthenaDDLOfAPublishedStoreNeedsNoLocation(t *testing.T) {
	icebergtest.AWSEnv(t, "AKIDAUDITLAKEDDL")
	s3 := icebergtest.NewS3(t, "lake")
	dir, src := t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "1000", "--days", "2", "--seed", "4")
	createStore(t, dir, "prod-trail")
	mustRun(t, 0, dir, "catalog", "set", "sql")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "prod-trail", src)
	if out, errOut, code := run(t, dir, "athena", "ddl", "prod-trail"); code != 0 || !strings.Contains(out, "LOCATION 's3://your-bucket/auditlake/prod_trail/'") ||
		!strings.Contains(errOut, "prod-trail is not published") || !strings.Contains(errOut, "eds publish prod-trail") {
		t.Fatalf("athena ddl of a store not published: exit %d, %s", code, errOut)
	}
	mustRun(t, 0, dir, "eds", "publish", "prod-trail", "--to", "s3://lake/auditlake/prod-trail/", "--endpoint-url", s3.URL, "--region", "us-east-1")
	// A published store's commits upload with its table's snapshots: the tables stay on.
	if _, errOut, code := run(t, dir, "catalog", "set", "none"); code != 2 || !strings.Contains(errOut, "store prod-trail is published to s3://lake/auditlake/prod-trail/") {
		t.Fatalf("catalog set none with a published store: exit %d, %s", code, errOut)
	}
	ddl := mustRun(t, 0, dir, "athena", "ddl", "prod-trail")
	if !strings.Contains(ddl, "CREATE TABLE auditlake.prod_trail") || !strings.Contains(ddl, "LOCATION 's3://lake/auditlake/prod-trail/'") {
		t.Errorf("athena ddl of the published store:\n%s", ddl)
	}
	if ddl := mustRun(t, 0, dir, "athena", "ddl", "prod-trail", "--location", "s3://copy/trail/"); !strings.Contains(ddl, "LOCATION 's3://copy/trail/'") {
		t.Errorf("athena ddl --location s3://copy/trail/:\n%s", ddl)
	}
}
