package cli_test

import (
	"os"
	"path/filepath"
	"strconv"
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

// TestAthenaViewsOfConfigAndActivityStoresReadOnlyTheirColumns: the view athena ddl prints
// for queries written for CloudTrail Lake selects only columns of its own table. A Config or
// activity store has no eventjsonchecksum, sharedeventid, requestid or useridentity, and its
// eventjson is never cut: its view named them (the CloudTrail store's expression that puts back
// a cut eventjson), so Athena refused to create it (COLUMN_NOT_FOUND). Each view's SELECT is
// run here over its store, in auditlake's own Trino dialect, as Athena would run it over the
// table. (A CloudTrail store's view is not run here: it hashes with Trino's to_utf8, which
// auditlake's dialect lacks.)
func TestAthenaViewsOfConfigAndActivityStoresReadOnlyTheirColumns(t *testing.T) {
	dir := t.TempDir()
	createConfigStore(t, dir, "cfg")
	mustRun(t, 0, dir, "ingest", "config", "--eds", "cfg", configSources(t))
	mustRun(t, 0, dir, "eds", "create", "app-events", "--type", "activity")
	ev := auditEventData(t, "v-1", "Export", "2026-04-01T09:00:00Z", channelAccount, nil)
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(ev+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, dir, "ingest", "events", "--eds", "app-events", file)
	for store, table := range map[string]string{"cfg": "cfg", "app-events": "app_events"} {
		ddl := mustRun(t, 0, dir, "athena", "ddl", store, "--location", "s3://lake/"+store+"/")
		_, view, ok := strings.Cut(ddl, "CREATE OR REPLACE VIEW ")
		if !ok {
			t.Fatalf("athena ddl %s prints no view:\n%s", store, ddl)
		}
		_, sel, _ := strings.Cut(view, " AS ")
		sel, _, _ = strings.Cut(sel, ";")
		sel = strings.Replace(sel, "FROM auditlake."+table, `FROM "aws:cloudtrail"."`+store+`"`, 1)
		if _, errOut, code := run(t, dir, "query", "--format", "csv", "SELECT count(*) FROM ("+sel+")"); code != 0 {
			t.Errorf("the view of store %s does not read its own columns: %s\n%s", store, errOut, sel)
		}
	}
}

// TestAthenaDDLRefusesALocationItCannotQuote: athena ddl --location pasted the prefix into the
// DDL's string literals as it was, so a prefix holding a quote (an S3 key may) printed broken
// DDL — LOCATION 's3://lake/it's/' — with exit 0. Such a location is now a usage error naming
// it, and nothing is printed.
func TestAthenaDDLRefusesALocationItCannotQuote(t *testing.T) {
	dir, src := t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "300", "--days", "1", "--seed", "2")
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", src)
	for _, loc := range []string{"s3://lake/it's/", `s3://lake/back\slash/`} {
		out, errOut, code := run(t, dir, "athena", "ddl", "trail", "--location", loc)
		if code != 2 || out != "" || !strings.Contains(errOut, strconv.Quote(strings.TrimSuffix(loc, "/"))) {
			t.Errorf("athena ddl --location %s: exit %d, want 2 naming it and no DDL\nstdout:\n%s\nstderr:\n%s", loc, code, out, errOut)
		}
	}
}
