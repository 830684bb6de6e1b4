package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	icebergpkg "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
)

// icebergRows opens the catalog from what `catalog show --output json` prints, as any Iceberg
// client would (iceberg-go's catalog.Load), and counts the rows of the table by its own scan.
func icebergRows(t *testing.T, dir, tableName string) int64 {
	t.Helper()
	return catalogRows(t, dir, "auditlake", tableName, "eventid")
}

// catalogRows is icebergRows for any table: namespace.tableName, scanning the column col.
func catalogRows(t *testing.T, dir, namespace, tableName, col string) int64 {
	t.Helper()
	return icebergtest.Rows(t, catalogTable(t, dir, namespace, tableName), col)
}

// catalogTable opens the catalog from what `catalog show --output json` prints, as any Iceberg
// client would (iceberg-go's catalog.Load), and loads the table namespace.tableName.
func catalogTable(t *testing.T, dir, namespace, tableName string) *table.Table {
	t.Helper()
	var props map[string]string
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "catalog", "show", "--output", "json")), &props); err != nil {
		t.Fatal(err)
	}
	name := props["name"]
	rest := maps.Clone(props)
	delete(rest, "name")
	ctx := context.Background()
	cat, err := catalog.Load(ctx, name, icebergpkg.Properties(rest))
	if err != nil {
		t.Fatalf("catalog.Load(%q, %v): %v", name, rest, err)
	}
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier(namespace, tableName))
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// TestStoresArePublishedAsIcebergTablesAnyClientOpens: with a catalog set, ingest, compaction
// and deletion each leave the table holding exactly the store's rows; eds show names the
// table and athena ddl prints an Iceberg CREATE TABLE.
func TestStoresArePublishedAsIcebergTablesAnyClientOpens(t *testing.T) {
	dir, src := t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "4000", "--days", "3", "--seed", "5")
	id := createStore(t, dir, "prod-trail")
	mustRun(t, 0, dir, "catalog", "set", "sql")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "prod-trail", "--batch", "1000", filepath.Join(src, "AWSLogs"))
	count := func() int64 {
		n, err := strconv.ParseInt(queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."`+id+`"`)[0][0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := count()
	if got := icebergRows(t, dir, "prod_trail"); got != want || want == 0 {
		t.Fatalf("after ingest the Iceberg table has %d rows, the store %d", got, want)
	}
	show := mustRun(t, 0, dir, "eds", "show", "prod-trail")
	if !strings.Contains(show, "iceberg:") || !strings.Contains(show, "table auditlake.prod_trail, snapshot ") {
		t.Fatalf("eds show does not name the Iceberg table:\n%s", show)
	}
	mustRun(t, 0, dir, "eds", "compact", "prod-trail")
	if got := icebergRows(t, dir, "prod_trail"); got != want {
		t.Fatalf("after compaction the Iceberg table has %d rows, the store %d", got, want)
	}
	ddl := mustRun(t, 0, dir, "athena", "ddl", "prod-trail", "--location", "s3://lake/auditlake/prod-trail/")
	for _, s := range []string{"CREATE TABLE auditlake.prod_trail", "'table_type'='ICEBERG'", "PARTITIONED BY (day(eventtime))", "`useridentity` struct<", "auditlake.eds_" + strings.ReplaceAll(id, "-", "_"), "coalesce(nullif(eventjsonchecksum, ''), lower(to_hex(sha256(to_utf8(" + ctparquet.IDsJSONSQL + "))))) AS eventjsonchecksum", ctparquet.IDsJSONSQL + " AS eventjson", "'projection.enabled'='true'"} {
		if !strings.Contains(ddl, s) {
			t.Errorf("athena ddl lacks %q:\n%s", s, ddl)
		}
	}
	// Nothing to catch up: no error, no change; an old metadata file no snapshot names (left by
	// an older version's expiry) is deleted and said so, a young one stays.
	meta := filepath.Join(strings.TrimPrefix(catalogTable(t, dir, "auditlake", "prod_trail").Location(), "file://"), "metadata")
	old, young := filepath.Join(meta, "snap-1-0-0bad.avro"), filepath.Join(meta, "0bad-m0.avro")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("left over"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-49 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, 0, dir, "catalog", "sync")
	if !strings.Contains(out, "prod-trail: deleted 1 old metadata files no snapshot names") {
		t.Fatalf("catalog sync does not say it deleted the old metadata file:\n%s", out)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the old metadata file nothing names is still there (%v)", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("the young one went: %v", err)
	}
	if got := icebergRows(t, dir, "prod_trail"); got != want {
		t.Fatalf("after catalog sync the Iceberg table has %d rows, the store %d", got, want)
	}
	mustRun(t, 0, dir, "eds", "delete", "prod-trail", "--yes")
	if got := icebergRows(t, dir, "prod_trail"); got != 0 {
		t.Fatalf("after the store's deletion the Iceberg table has %d rows", got)
	}
	// Bad settings are refused before anything is written.
	if _, errOut, code := run(t, dir, "catalog", "set", "rest", "ftp://x"); code != 2 || !strings.Contains(errOut, "not an http(s) URL") {
		t.Fatalf("catalog set rest ftp://x: exit %d, %s", code, errOut)
	}
	if _, errOut, code := run(t, dir, "catalog", "set", "glue"); code != 2 || !strings.Contains(errOut, "--region") {
		t.Fatalf("catalog set glue without a region: exit %d, %s", code, errOut)
	}
}

// TestStoresAreIcebergTablesByDefault: with no catalog set, the embedded SQL catalog is the
// data directory's (issue 20: "an embedded SQL catalog ... is the default"): catalog show prints
// it and an ingest's rows are in the table; catalog set none turns the tables off (commits no
// longer followed, catalog show and sync say so) and catalog set sql catches the table up.
func TestStoresAreIcebergTablesByDefault(t *testing.T) {
	dir, src := t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "2000", "--days", "2", "--seed", "9")
	createStore(t, dir, "prod-trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "prod-trail", filepath.Join(src, "AWSLogs"))
	want := icebergRows(t, dir, "prod_trail")
	if want != 2000 {
		t.Fatalf("with no catalog set, the default table holds %d rows, want 2000", want)
	}
	if show := mustRun(t, 0, dir, "eds", "show", "prod-trail"); !strings.Contains(show, "table auditlake.prod_trail, snapshot ") {
		t.Fatalf("eds show does not name the default catalog's table:\n%s", show)
	}
	// athena ddl of a store not published prints the DDL at a placeholder location, and says so.
	ddl, errOut, code := run(t, dir, "athena", "ddl", "prod-trail")
	if code != 0 || !strings.Contains(ddl, "'table_type'='ICEBERG'") || !strings.Contains(ddl, "LOCATION 's3://your-bucket/auditlake/prod_trail/'") ||
		!strings.Contains(errOut, "placeholder") {
		t.Fatalf("athena ddl of an unpublished store: exit %d\n%s\n%s", code, ddl, errOut)
	}
	if out := mustRun(t, 0, dir, "catalog", "set", "none"); !strings.Contains(out, "catalog: none") {
		t.Fatalf("catalog set none: %s", out)
	}
	for _, args := range [][]string{{"catalog", "show"}, {"catalog", "sync"}} {
		if _, errOut, code := run(t, dir, args...); code != 1 || !strings.Contains(errOut, "turned off") {
			t.Fatalf("%v with the tables turned off: exit %d, %s", args, code, errOut)
		}
	}
	src2 := t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src2, "--events", "1000", "--days", "2", "--seed", "10")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "prod-trail", filepath.Join(src2, "AWSLogs"))
	mustRun(t, 0, dir, "catalog", "set", "sql")
	if got := icebergRows(t, dir, "prod_trail"); got != 3000 {
		t.Fatalf("catalog set sql after an ingest made with the tables off: %d rows, want 3000", got)
	}
}

// TestCatalogWarehouseGivenAsALocalPathIsKeptAbsolute: catalog set sql --warehouse with a
// relative path kept the path as given, so each later command resolved it against its own
// working directory: the catalog named metadata files relative to wherever the last command
// ran, each command run elsewhere made the table again there, and no other Iceberg client could
// open it. The path is now made an absolute file:// location when it is set.
func TestCatalogWarehouseGivenAsALocalPathIsKeptAbsolute(t *testing.T) {
	dir, src, here, elsewhere := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "500", "--days", "2", "--seed", "3")
	createStore(t, dir, "prod-trail")
	t.Chdir(here)
	mustRun(t, 0, dir, "catalog", "set", "sql", "--warehouse", "wh")
	t.Chdir(elsewhere)
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "prod-trail", src)
	var props map[string]string
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "catalog", "show", "--output", "json")), &props); err != nil {
		t.Fatal(err)
	}
	want := "file://" + filepath.Join(here, "wh")
	if props["warehouse"] != want {
		t.Fatalf("catalog show's warehouse is %q, want %q", props["warehouse"], want)
	}
	if loc := catalogTable(t, dir, "auditlake", "prod_trail").Location(); !strings.HasPrefix(loc, want+"/") {
		t.Fatalf("the table is at %q, not in the warehouse %s", loc, want)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "wh")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a command run in another directory wrote a warehouse there (%v)", err)
	}
	if got := icebergRows(t, dir, "prod_trail"); got != 500 {
		t.Fatalf("the table holds %d rows, want 500", got)
	}
}

// TestATableACrashLeftBehindIsSaidAndCaughtUpAtTheNextStart: a commit whose table sync never ran
// (the process killed between the store's commit and the table's; made here by ingesting
// through a lake without the catalog's hooks) is shown by eds show as behind, though no sync
// failed, and the next start of collect (or serve) catches the table up without a commit.
func TestATableACrashLeftBehindIsSaidAndCaughtUpAtTheNextStart(t *testing.T) {
	dir, src, more := t.TempDir(), t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "600", "--days", "2", "--seed", "3")
	mustRun(t, 0, dir, "generate", "--out", more, "--events", "400", "--days", "1", "--seed", "4")
	createStore(t, dir, "prod-trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "prod-trail", src)
	if show := mustRun(t, 0, dir, "eds", "show", "prod-trail"); strings.Contains(show, "iceberg behind") {
		t.Fatalf("eds show after an ingest whose syncs ran:\n%s", show)
	}
	lk, err := lake.Open(dir) // no hooks: the table does not follow
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Resolve("prod-trail")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(context.Background(), lk, st, ingest.Options{Sources: []string{more}}); err != nil {
		t.Fatal(err)
	}
	if got := icebergRows(t, dir, "prod_trail"); got != 600 {
		t.Fatalf("the table holds %d rows before the catch-up; the test needs the first ingest's 600", got)
	}
	show := mustRun(t, 0, dir, "eds", "show", "prod-trail")
	if !strings.Contains(show, "iceberg behind:") || !strings.Contains(show, "not the store's") {
		t.Fatalf("eds show does not say the table is behind:\n%s", show)
	}
	var v struct {
		Behind *struct{ Error string } `json:"iceberg_behind"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "eds", "show", "prod-trail", "--output", "json")), &v); err != nil || v.Behind == nil {
		t.Fatalf("eds show --output json: iceberg_behind %+v (%v)", v.Behind, err)
	}
	mustRun(t, 0, dir, "collect", "--once")
	if got := icebergRows(t, dir, "prod_trail"); got != 1000 {
		t.Fatalf("after collect started, the table holds %d rows, the store 1000", got)
	}
	if show := mustRun(t, 0, dir, "eds", "show", "prod-trail"); strings.Contains(show, "iceberg behind") {
		t.Fatalf("eds show after the catch-up:\n%s", show)
	}
}
