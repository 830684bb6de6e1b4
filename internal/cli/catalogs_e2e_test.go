package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
)

// TestRESTCatalogFromTheCommandLine: catalog set rest URL against a REST catalog on loopback;
// ingest, compaction and deletion each leave the table (opened from catalog show's properties
// through iceberg-go's REST client) holding the store's rows; while the catalog fails commits
// the commands still succeed, warn, and eds show says the table is behind until catalog sync.
func TestRESTCatalogFromTheCommandLine(t *testing.T) {
	srv := icebergtest.NewREST(t, icebergtest.RESTOptions{})
	dir, src := t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "4000", "--days", "3", "--seed", "7")
	id := createStore(t, dir, "prod-trail")
	mustRun(t, 0, dir, "catalog", "set", "rest", srv.URL, "--property", "scope=catalog")
	var props map[string]string
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "catalog", "show", "--output", "json")), &props); err != nil {
		t.Fatal(err)
	}
	if props["type"] != "rest" || props["uri"] != srv.URL || props["name"] != "auditlake" || props["scope"] != "catalog" {
		t.Fatalf("catalog show --output json: %v", props)
	}
	// First one region's files, then (while the catalog fails) all of them.
	first, err := filepath.Glob(filepath.Join(src, "AWSLogs", "*", "*", "CloudTrail", "eu-west-1"))
	if err != nil || len(first) == 0 {
		t.Fatalf("no eu-west-1 files generated (%v)", err)
	}
	mustRun(t, 0, dir, append([]string{"ingest", "cloudtrail", "--eds", "prod-trail", "--batch", "1000"}, first...)...)
	count := func() int64 {
		n, err := strconv.ParseInt(queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."`+id+`"`)[0][0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got, want := icebergRows(t, dir, "prod_trail"), count(); got != want || want == 0 {
		t.Fatalf("after ingest the REST catalog's table has %d rows, the store %d", got, want)
	}

	srv.FailCommits(500)
	_, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "prod-trail", "--batch", "1000", filepath.Join(src, "AWSLogs"))
	if code != 0 || !strings.Contains(errOut, "did not follow the commit") {
		t.Fatalf("ingest with the catalog failing commits: exit %d (want 0, the store's commit stands), stderr:\n%s", code, errOut)
	}
	want := count()
	if got := icebergRows(t, dir, "prod_trail"); got >= want {
		t.Fatalf("the table has %d rows while the catalog refused the commits, the store %d", got, want)
	}
	show := mustRun(t, 0, dir, "eds", "show", "prod-trail")
	if !strings.Contains(show, "iceberg behind:") || !strings.Contains(show, "the test server refuses commits") {
		t.Fatalf("eds show does not say the table is behind:\n%s", show)
	}
	srv.Heal()
	mustRun(t, 0, dir, "catalog", "sync")
	if got := icebergRows(t, dir, "prod_trail"); got != want {
		t.Fatalf("after catalog sync the table has %d rows, the store %d", got, want)
	}
	if show := mustRun(t, 0, dir, "eds", "show", "prod-trail"); strings.Contains(show, "iceberg behind:") {
		t.Fatalf("eds show still says the table is behind after catalog sync:\n%s", show)
	}
	mustRun(t, 0, dir, "eds", "compact", "prod-trail")
	if got := icebergRows(t, dir, "prod_trail"); got != want {
		t.Fatalf("after compaction the table has %d rows, the store %d", got, want)
	}
	mustRun(t, 0, dir, "eds", "delete", "prod-trail", "--yes")
	if got := icebergRows(t, dir, "prod_trail"); got != 0 {
		t.Fatalf("after the store's deletion the table has %d rows", got)
	}
}

// TestRESTCatalogSecretsAreReadNotKept: a secured REST catalog's credential is named by
// env:NAME or file:PATH, read when the catalog is opened, never written or printed; a secret on
// the command line, a secret in --property and an unset variable are refused.
func TestRESTCatalogSecretsAreReadNotKept(t *testing.T) {
	srv := icebergtest.NewREST(t, icebergtest.RESTOptions{Token: "tok-51d2", ClientID: "auditlake", ClientSecret: "cr3d-8e0b"})
	dir, src := t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "1500", "--days", "2", "--seed", "3")
	createStore(t, dir, "org-trail")
	secretFile := filepath.Join(t.TempDir(), "credential")
	if err := os.WriteFile(secretFile, []byte("auditlake:cr3d-8e0b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{
		{"--credential", "auditlake:cr3d-8e0b"},
		{"--token", "tok-51d2"},
		{"--property", "token=tok-51d2"},
		{"--property", "s3.secret-access-key=x"},
	} {
		args := append([]string{"catalog", "set", "rest", srv.URL}, bad...)
		if _, errOut, code := run(t, dir, args...); code != 2 || (!strings.Contains(errOut, "env:NAME") && !strings.Contains(errOut, "holds a secret")) {
			t.Fatalf("catalog set rest %v: exit %d, %s", bad, code, errOut)
		}
	}
	if _, errOut, code := run(t, dir, "catalog", "set", "rest", srv.URL, "--token", "env:AUDITLAKE_TEST_UNSET_TOKEN"); code == 0 || !strings.Contains(errOut, "AUDITLAKE_TEST_UNSET_TOKEN is not set") {
		t.Fatalf("catalog set rest with an unset token variable: exit %d, %s", code, errOut)
	}
	// A wrong credential is the catalog's refusal, named.
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("auditlake:nope"), 0o600)
	if _, errOut, code := run(t, dir, "catalog", "set", "rest", srv.URL, "--credential", "file:"+wrong); code == 0 || !strings.Contains(errOut, "invalid_client") {
		t.Fatalf("catalog set rest with a wrong credential: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "iceberg", "catalog.json")); !os.IsNotExist(err) {
		t.Fatalf("a catalog that could not be opened was set (%v)", err)
	}
	mustRun(t, 0, dir, "catalog", "set", "rest", srv.URL, "--credential", "file:"+secretFile)
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "org-trail", filepath.Join(src, "AWSLogs"))
	out := mustRun(t, 0, dir, "catalog", "sync")
	if !strings.Contains(out, "auditlake.org_trail") {
		t.Fatalf("catalog sync:\n%s", out)
	}
	show := mustRun(t, 0, dir, "catalog", "show")
	json := mustRun(t, 0, dir, "catalog", "show", "--output", "json")
	if !strings.Contains(show, "credential read from:") || strings.Contains(show+json, "cr3d-8e0b") {
		t.Fatalf("catalog show prints the secret or not where it comes from:\n%s\n%s", show, json)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "iceberg", "catalog.json")); err != nil || strings.Contains(string(b), "cr3d-8e0b") {
		t.Fatalf("catalog.json holds the secret (%v):\n%s", err, b)
	}
	if eds := mustRun(t, 0, dir, "eds", "show", "org-trail"); !strings.Contains(eds, "table auditlake.org_trail, snapshot ") {
		t.Fatalf("eds show through the secured catalog:\n%s", eds)
	}
}

// TestGlueCatalogFromTheCommandLine: catalog set glue --region --database --endpoint-url (a Glue
// endpoint on loopback), credentials from the environment: ingest publishes the table, and
// catalog show --output json opens it in iceberg-go's Glue catalog with the store's rows.
func TestGlueCatalogFromTheCommandLine(t *testing.T) {
	icebergtest.AWSEnv(t, "AKIDAUDITLAKECLI")
	g := icebergtest.NewGlue(t)
	dir, src := t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "1500", "--days", "2", "--seed", "4")
	id := createStore(t, dir, "prod-trail")
	wh := "file://" + filepath.Join(t.TempDir(), "warehouse")
	mustRun(t, 0, dir, "catalog", "set", "glue", "--region", "eu-west-1", "--database", "auditlake", "--endpoint-url", g.URL, "--warehouse", wh)
	var props map[string]string
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "catalog", "show", "--output", "json")), &props); err != nil {
		t.Fatal(err)
	}
	if props["type"] != "glue" || props["glue.region"] != "eu-west-1" || props["glue.endpoint"] != g.URL || props["warehouse"] != wh {
		t.Fatalf("catalog show --output json: %v", props)
	}
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "prod-trail", filepath.Join(src, "AWSLogs"))
	want, err := strconv.ParseInt(queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."`+id+`"`)[0][0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if got := icebergRows(t, dir, "prod_trail"); got != want || want == 0 {
		t.Fatalf("the Glue table has %d rows, the store %d", got, want)
	}
	if tbl := g.Table("auditlake", "prod_trail"); tbl == nil {
		t.Fatal("no Glue table auditlake.prod_trail")
	}
	if _, errOut, code := run(t, dir, "catalog", "set", "glue", "--region", "eu-west-1", "--token", "env:X"); code != 2 || !strings.Contains(errOut, "AWS credential chain") {
		t.Fatalf("catalog set glue --token: exit %d, %s", code, errOut)
	}
	// A Glue endpoint that cannot be reached is not set, as an unreachable REST catalog is not:
	// the catalog in use stays, and so does the table that follows the store.
	down := icebergtest.NewGlue(t)
	down.Close()
	if _, errOut, code := run(t, dir, "catalog", "set", "glue", "--region", "eu-west-1", "--endpoint-url", down.URL, "--warehouse", wh); code == 0 || !strings.Contains(errOut, "the catalog setting is unchanged") || !strings.Contains(errOut, "Glue") {
		t.Fatalf("catalog set glue with an unreachable endpoint: exit %d, %s", code, errOut)
	}
	props = nil
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "catalog", "show", "--output", "json")), &props); err != nil {
		t.Fatal(err)
	}
	if props["type"] != "glue" || props["glue.endpoint"] != g.URL {
		t.Fatalf("after a failed catalog set, catalog show says %v; want the Glue catalog set before", props)
	}
}

// TestCostTablesInTheCatalogFromTheCommandLine: cur register catalogues the cost table as
// auditlake_cost.<db>_<table> holding the rows auditlake's query counts, catalog sync lists it,
// and cur remove drops it.
func TestCostTablesInTheCatalogFromTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 0, dir, "catalog", "set", "sql")
	out := mustRun(t, 0, dir, "cur", "register", "cur.billing", testdata("koku-cur-test-data", "test_cur.csv"))
	if !strings.Contains(out, "iceberg:  auditlake_cost.cur_billing") {
		t.Fatalf("cur register does not name the Iceberg table:\n%s", out)
	}
	want, err := strconv.ParseInt(queryCSV(t, dir, `SELECT count(*) FROM cur.billing`)[0][0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if got := catalogRows(t, dir, "auditlake_cost", "cur_billing", "line_item_usage_account_id"); got != want || want == 0 {
		t.Fatalf("the cost table's Iceberg table has %d rows, auditlake's query %d", got, want)
	}
	if out := mustRun(t, 0, dir, "catalog", "sync"); !strings.Contains(out, "cost cur.billing") || !strings.Contains(out, "auditlake_cost.cur_billing") {
		t.Fatalf("catalog sync does not list the cost table:\n%s", out)
	}
	out = mustRun(t, 0, dir, "cur", "remove", "cur.billing")
	if !strings.Contains(out, "iceberg:  auditlake_cost.cur_billing dropped") {
		t.Fatalf("cur remove does not say the Iceberg table was dropped:\n%s", out)
	}
}

// TestCostTableFollowsTheCSVCacheFromTheCommandLine: a CSV cost table's delivery changes (a
// file re-delivered with other rows, then one removed); the next query's cache refresh brings
// the cost table's Iceberg table along (opened from catalog show's properties), without cur
// register or catalog sync.
func TestCostTableFollowsTheCSVCacheFromTheCommandLine(t *testing.T) {
	dir, csvDir := t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "catalog", "set", "sql")
	for name, src := range map[string]string{"a.csv": "test_cur.csv", "b.csv": "2023-06-01.csv"} {
		b, err := os.ReadFile(testdata("koku-cur-test-data", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(csvDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, 0, dir, "cur", "register", "cur.billing", csvDir)
	count := func(step string) int64 {
		t.Helper()
		want, err := strconv.ParseInt(queryCSV(t, dir, `SELECT count(*) FROM cur.billing`)[0][0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := catalogRows(t, dir, "auditlake_cost", "cur_billing", "line_item_usage_account_id"); got != want || want == 0 {
			t.Fatalf("%s: the cost table's Iceberg table has %d rows, auditlake's query %d", step, got, want)
		}
		return want
	}
	all := count("registered")
	b, err := os.ReadFile(filepath.Join(csvDir, "a.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if err := os.WriteFile(filepath.Join(csvDir, "a.csv"), []byte(strings.Join(lines[:4], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := count("a re-delivered file"); n >= all {
		t.Fatalf("the re-delivered file's fewer rows did not count: %d, before %d", n, all)
	}
	if err := os.Remove(filepath.Join(csvDir, "b.csv")); err != nil {
		t.Fatal(err)
	}
	if n := count("a removed file"); n != 3 {
		t.Fatalf("after the removal the table has %d rows, want the re-delivered file's 3", n)
	}
}

// TestCostTableBehindWhileTheCatalogFailsThenCatchesUp: while the REST catalog fails commits,
// cur register succeeds with a warning, and cur show (text and JSON) and cur list --output json
// say the cost table's Iceberg table is behind, naming the failure, as eds show says a store's;
// the next command that opens the catalog (a query) catches the table up, and cur show no
// longer says it is behind.
func TestCostTableBehindWhileTheCatalogFailsThenCatchesUp(t *testing.T) {
	srv := icebergtest.NewREST(t, icebergtest.RESTOptions{})
	dir := t.TempDir()
	mustRun(t, 0, dir, "catalog", "set", "rest", srv.URL)
	srv.FailCommits(500)
	_, errOut, code := run(t, dir, "cur", "register", "cur.billing", testdata("koku-cur-test-data", "test_cur.csv"))
	if code != 0 || !strings.Contains(errOut, "did not follow") {
		t.Fatalf("cur register with the catalog failing commits: exit %d (want 0, the registration stands), stderr:\n%s", code, errOut)
	}
	if show := mustRun(t, 0, dir, "cur", "show", "cur.billing"); !strings.Contains(show, "iceberg behind:") || !strings.Contains(show, "the test server refuses commits") {
		t.Fatalf("cur show does not say the cost table's Iceberg table is behind:\n%s", show)
	}
	var shown struct {
		Behind *struct {
			Error string `json:"error"`
		} `json:"iceberg_behind"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "cur", "show", "cur.billing", "--output", "json")), &shown); err != nil || shown.Behind == nil || shown.Behind.Error == "" {
		t.Fatalf("cur show --output json has no iceberg_behind (%v): %+v", err, shown)
	}
	var listed []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "cur", "list", "--output", "json")), &listed); err != nil || len(listed) != 1 || listed[0]["iceberg_behind"] == nil {
		t.Fatalf("cur list --output json has no iceberg_behind (%v): %v", err, listed)
	}

	srv.Heal()
	want, err := strconv.ParseInt(queryCSV(t, dir, `SELECT count(*) FROM cur.billing`)[0][0], 10, 64) // the next run
	if err != nil {
		t.Fatal(err)
	}
	if got := catalogRows(t, dir, "auditlake_cost", "cur_billing", "line_item_usage_account_id"); got != want || want == 0 {
		t.Fatalf("after the next run the cost table's Iceberg table has %d rows, auditlake's query %d", got, want)
	}
	if show := mustRun(t, 0, dir, "cur", "show", "cur.billing"); strings.Contains(show, "iceberg behind:") {
		t.Fatalf("cur show still says the table is behind after it caught up:\n%s", show)
	}
}
