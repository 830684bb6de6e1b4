package cli_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	icebergpkg "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"

	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
)

// TestPublishedTableOpensFromCatalogShow: with a REST catalog (bearer token read from the
// environment) and with Glue (no warehouse: the table exists once the store is published),
// eds publish moves the table to S3 and what catalog show --output json prints — the catalog's
// properties, the S3 endpoint, where the REST token is read from, no secret — opens it with
// iceberg-go's catalog.Load, and its scan from S3 holds the store's events, after the
// publication and after a published ingest.
func TestPublishedTableOpensFromCatalogShow(t *testing.T) {
	for _, kind := range []string{"rest", "glue"} {
		t.Run(kind, func(t *testing.T) {
			icebergtest.AWSEnv(t, "AKIDAUDITLAKECLI")
			s3 := icebergtest.NewS3(t, "lake")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "sk-publish-7d41")
			dir, src := t.TempDir(), t.TempDir()
			mustRun(t, 0, dir, "generate", "--out", src, "--events", "3000", "--days", "3", "--seed", "9")
			id := createStore(t, dir, "prod-trail")
			const token = "tok-publish-c0de"
			switch kind {
			case "rest":
				srv := icebergtest.NewREST(t, icebergtest.RESTOptions{Token: token,
					Storage: icebergpkg.Properties{"s3.endpoint": s3.URL, "s3.region": "us-east-1", "s3.path-style-access": "true"}})
				t.Setenv("AUDITLAKE_TEST_PUBLISH_TOKEN", token)
				mustRun(t, 0, dir, "catalog", "set", "rest", srv.URL, "--token", "env:AUDITLAKE_TEST_PUBLISH_TOKEN")
			case "glue":
				g := icebergtest.NewGlue(t)
				mustRun(t, 0, dir, "catalog", "set", "glue", "--region", "us-east-1", "--endpoint-url", g.URL)
				defer func() {
					gt := g.Table("auditlake", "prod_trail")
					params, _ := gt["Parameters"].(map[string]any)
					if loc, _ := params["metadata_location"].(string); params["table_type"] != "ICEBERG" || !strings.HasPrefix(loc, "s3://lake/auditlake/prod-trail/metadata/") {
						t.Errorf("the Glue table is not the published Iceberg table: %v", gt)
					}
				}()
			}
			days, err := filepath.Glob(filepath.Join(src, "AWSLogs", "*", "*", "CloudTrail", "*", "*", "*", "*"))
			if err != nil || len(days) < 3 {
				t.Fatalf("generated days: %v (%v)", days, err)
			}
			_, errOut, code := run(t, dir, append([]string{"ingest", "cloudtrail", "--eds", "prod-trail", "--batch", "1000"}, days[:len(days)/2]...)...)
			if code != 0 || strings.Contains(errOut, "did not follow") {
				t.Fatalf("ingest before the publication: exit %d, stderr:\n%s", code, errOut)
			}
			mustRun(t, 0, dir, "eds", "publish", "prod-trail", "--to", "s3://lake/auditlake/prod-trail/", "--endpoint-url", s3.URL, "--region", "us-east-1")

			var props map[string]string
			out := mustRun(t, 0, dir, "catalog", "show", "--output", "json")
			if err := json.Unmarshal([]byte(out), &props); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, token) || strings.Contains(out, "sk-publish-7d41") {
				t.Fatalf("catalog show prints a secret:\n%s", out)
			}
			if props["s3.endpoint"] != s3.URL || props["s3.region"] != "us-east-1" {
				t.Fatalf("catalog show lacks the S3 settings of the published tables: %v", props)
			}
			open := func(step string) {
				t.Helper()
				p := maps.Clone(props)
				name := p["name"]
				delete(p, "name")
				if ref := p["auditlake.token-from"]; ref != "" {
					env, ok := strings.CutPrefix(ref, "env:")
					if !ok {
						t.Fatalf("token read from %q", ref)
					}
					p["token"] = os.Getenv(env)
				} else if kind == "rest" {
					t.Fatalf("catalog show does not say where the REST token is read from: %v", props)
				}
				ctx := context.Background()
				cat, err := catalog.Load(ctx, name, icebergpkg.Properties(p))
				if err != nil {
					t.Fatalf("catalog.Load(%q, catalog show's properties): %v", name, err)
				}
				tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "prod_trail"))
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				if tbl.Location() != "s3://lake/auditlake/prod-trail" {
					t.Fatalf("%s: the table is at %s, want the S3 prefix", step, tbl.Location())
				}
				if got, want := idSum(icebergIDs(t, tbl)), idSum(storeEventIDs(t, dir, id)); got != want {
					t.Fatalf("%s: the table scanned from S3 holds %s, the store %s", step, got, want)
				}
			}
			open("publish")
			_, errOut, code = run(t, dir, append([]string{"ingest", "cloudtrail", "--eds", "prod-trail", "--batch", "1000"}, days[len(days)/2:]...)...)
			if code != 0 || strings.Contains(errOut, "did not follow") {
				t.Fatalf("ingest after the publication: exit %d, stderr:\n%s", code, errOut)
			}
			open("published ingest")
		})
	}
}
