package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
)

// icebergTable opens the catalog from what `catalog show --output json` prints, as any Iceberg
// client would (iceberg-go's catalog.Load), and loads the table.
func icebergTable(t *testing.T, dir, tableName string) *table.Table {
	t.Helper()
	return catalogTable(t, dir, "auditlake", tableName)
}

// icebergIDs are the eventids of the table's current snapshot, sorted, read by iceberg-go's scan.
func icebergIDs(t *testing.T, tbl *table.Table) []string {
	t.Helper()
	if tbl.CurrentSnapshot() == nil {
		return nil
	}
	_, recs, err := tbl.Scan(table.WithSelectedFields("eventid")).ToArrowRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		col := rec.Column(0).(*array.String)
		for i := range col.Len() {
			ids = append(ids, col.Value(i))
		}
		rec.Release()
	}
	slices.Sort(ids)
	return ids
}

// storeEventIDs are the store's eventids, sorted, as auditlake's own query reads them.
func storeEventIDs(t *testing.T, dir, id string) []string {
	t.Helper()
	var ids []string
	for _, row := range queryCSV(t, dir, `SELECT eventid FROM "aws:cloudtrail"."`+id+`" ORDER BY eventid`) {
		ids = append(ids, row[0])
	}
	slices.Sort(ids)
	return ids
}

func idSum(ids []string) string {
	return fmt.Sprintf("%d events, sha256 %x", len(ids), sha256.Sum256([]byte(strings.Join(ids, "\n"))))
}

// killAfter starts cmd and SIGKILLs it after delay; it reports whether the kill cut it off.
func killAfter(t *testing.T, cmd *exec.Cmd, delay time.Duration) bool {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return false
	case <-time.After(delay):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return true
	}
}

// TestPublishSurvivesSIGKILLDuringUploadAndCommit kills `eds publish` and then a published
// store's ingest (whose commits upload their files before their snapshots) at random moments,
// runs them again and `catalog sync`, and checks that the table, scanned by iceberg-go from the
// fake S3, holds exactly the store's events, that every file it names is on S3 under the prefix,
// and that no object was stored twice. `make stress` (AUDITLAKE_STRESS=1) runs 40; make test 10.
func TestPublishSurvivesSIGKILLDuringUploadAndCommit(t *testing.T) {
	runs := 10
	if os.Getenv("AUDITLAKE_STRESS") != "" {
		runs = 40
	}
	s3 := icebergtest.NewS3(t, "lake")
	first, second := t.TempDir(), t.TempDir()
	mustRun(t, 0, t.TempDir(), "generate", "--out", first, "--events", "4000", "--days", "3", "--seed", "5")
	mustRun(t, 0, t.TempDir(), "generate", "--out", second, "--events", "3000", "--days", "2", "--seed", "6")
	tmpl := t.TempDir()
	id := createStore(t, tmpl, "crash")
	mustRun(t, 0, tmpl, "catalog", "set", "sql")
	mustRun(t, 0, tmpl, "ingest", "cloudtrail", "--eds", "crash", "--batch", "500", filepath.Join(first, "AWSLogs"))
	rng := rand.New(rand.NewPCG(20, uint64(runs)))
	killedPublish, killedIngest := 0, 0
	for run := range runs {
		data := filepath.Join(t.TempDir(), "data")
		if out, err := exec.Command("cp", "-a", tmpl, data).CombinedOutput(); err != nil {
			t.Fatalf("copy the data directory: %v %s", err, out)
		}
		prefix := fmt.Sprintf("run%02d/", run)
		publish := []string{"--data", data, "eds", "publish", "crash", "--to", "s3://lake/" + prefix, "--endpoint-url", s3.URL, "--region", "us-east-1"}
		ingestArgs := []string{"--data", data, "ingest", "cloudtrail", "--eds", "crash", "--batch", "300", filepath.Join(second, "AWSLogs")}
		d1 := time.Duration(100+rng.IntN(1500)) * time.Millisecond
		if killAfter(t, child(publish...), d1) {
			killedPublish++
		}
		if out, err := child(publish...).CombinedOutput(); err != nil {
			t.Fatalf("run %d: publish again after a kill at %s: %v\n%s", run, d1, err, out)
		}
		d2 := time.Duration(100+rng.IntN(2500)) * time.Millisecond
		if killAfter(t, child(ingestArgs...), d2) {
			killedIngest++
		}
		for _, args := range [][]string{ingestArgs, {"--data", data, "catalog", "sync"}} {
			if out, err := child(args...).CombinedOutput(); err != nil {
				t.Fatalf("run %d: %s after a kill at %s: %v\n%s", run, args[2], d2, err, out)
			}
		}
		tbl := icebergTable(t, data, "crash")
		if want := "s3://lake/" + strings.TrimSuffix(prefix, "/"); tbl.Location() != want {
			t.Fatalf("run %d: table at %s, want %s", run, tbl.Location(), want)
		}
		tasks, err := tbl.Scan().PlanFiles(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if p := task.File.FilePath(); !strings.HasPrefix(p, "s3://lake/"+prefix+"data/") {
				t.Fatalf("run %d: the table names %s, not a file under the prefix", run, p)
			}
		}
		got, want := icebergIDs(t, tbl), storeEventIDs(t, data, id)
		if idSum(got) != idSum(want) || len(want) == 0 {
			t.Fatalf("run %d (kills at %s, %s): the table holds %s, the store %s", run, d1, d2, idSum(got), idSum(want))
		}
		stored := s3.Stored("lake/" + prefix + "data/")
		for k, n := range stored {
			if n != 1 {
				t.Fatalf("run %d (kills at %s, %s): %s was stored %d times", run, d1, d2, k, n)
			}
		}
		if len(stored) < len(tasks) {
			t.Fatalf("run %d: %d objects stored, the table names %d", run, len(stored), len(tasks))
		}
	}
	t.Logf("%d runs: %d publishes and %d published ingests killed; table == store every time, no object stored twice", runs, killedPublish, killedIngest)
	if killedPublish+killedIngest == 0 {
		t.Fatal("no run was killed mid-way; the delays are too long for this machine")
	}
}

// TestEDSPublishRefusesBadSettings: publishing needs a catalog (the tables not turned off) and an
// s3:// prefix; bad settings are refused with the exit code of their kind before anything is
// uploaded.
func TestEDSPublishRefusesBadSettings(t *testing.T) {
	s3 := icebergtest.NewS3(t, "lake")
	dir := t.TempDir()
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "catalog", "set", "none")
	if _, errOut, code := run(t, dir, "eds", "publish", "trail", "--to", "s3://lake/x/", "--endpoint-url", s3.URL); code != 1 || !strings.Contains(errOut, "catalog set sql") {
		t.Fatalf("publish with the tables turned off: exit %d, %s", code, errOut)
	}
	mustRun(t, 0, dir, "catalog", "set", "sql")
	for _, to := range []string{"", "/tmp/x", "s3:///x/", "s3://lake/a//b/"} {
		if _, errOut, code := run(t, dir, "eds", "publish", "trail", "--to", to, "--endpoint-url", s3.URL); code != 2 {
			t.Fatalf("publish --to %q: exit %d, %s; want 2", to, code, errOut)
		}
	}
	if _, errOut, code := run(t, dir, "eds", "publish", "nope", "--to", "s3://lake/x/", "--endpoint-url", s3.URL); code != 1 {
		t.Fatalf("publish of a missing store: exit %d, %s; want 1", code, errOut)
	}
	out := mustRun(t, 0, dir, "eds", "publish", "trail", "--to", "s3://lake/x", "--endpoint-url", s3.URL, "--region", "us-east-1")
	if !strings.Contains(out, "published to s3://lake/x/") {
		t.Fatalf("publish said %q", out)
	}
	if show := mustRun(t, 0, dir, "eds", "show", "trail"); !strings.Contains(show, "published:") || !strings.Contains(show, "s3://lake/x/ (since ") {
		t.Fatalf("eds show does not say where the store is published:\n%s", show)
	}
	if _, errOut, code := run(t, dir, "eds", "publish", "trail", "--to", "s3://lake/y/", "--endpoint-url", s3.URL); code == 0 || !strings.Contains(errOut, "already published to s3://lake/x/") {
		t.Fatalf("publish to a second prefix: exit %d, %s", code, errOut)
	}
}

// TestEDSPublishRunAgainKeepsItsEndpointRegionAndPartSize: eds publish run again for a store
// already published (to set --local-days, as docs/scale-out.md shows it) keeps the endpoint,
// region and part size it was published with unless they are given, as it keeps the local days
// and the cache size. Before, the publication was recorded again without them: the store's S3
// home became AWS's default endpoint, the publish failed, and so did every later commit's sync;
// its uploads went back to 64 MB parts.
func TestEDSPublishRunAgainKeepsItsEndpointRegionAndPartSize(t *testing.T) {
	s3 := icebergtest.NewS3(t, "lake")
	t.Setenv("AWS_REGION", "eu-west-3") // the SDK's default region is not the publication's
	dir := t.TempDir()
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "catalog", "set", "sql")
	mustRun(t, 0, dir, "eds", "publish", "trail", "--to", "s3://lake/x/", "--endpoint-url", s3.URL, "--region", "us-east-1", "--part-size", "8388608")
	mustRun(t, 0, dir, "eds", "publish", "trail", "--to", "s3://lake/x/", "--local-days", "30")
	// A part size S3 refuses (below 5 MiB, above 5 GiB) is a usage error, and changes nothing.
	for _, size := range []string{"5242879", "5368709121"} {
		if _, errOut, code := run(t, dir, "eds", "publish", "trail", "--to", "s3://lake/x/", "--part-size", size); code != 2 || !strings.Contains(errOut, "5 MiB (5242880) to 5 GiB") {
			t.Errorf("--part-size %s: exit %d, %s", size, code, errOut)
		}
	}
	// The part size too (a server whose parts must be smaller than the default's 64 MB).
	var pubs map[string]struct {
		PartSize int64 `json:"part_size"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "iceberg", "publish.json")); err != nil || json.Unmarshal(b, &pubs) != nil || len(pubs) != 1 {
		t.Fatalf("publish.json: %v %s", err, b)
	}
	for _, p := range pubs {
		if p.PartSize != 8388608 {
			t.Fatalf("after eds publish run again without --part-size, the part size is %d; want 8388608", p.PartSize)
		}
	}
	var props map[string]string
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "catalog", "show", "--output", "json")), &props); err != nil {
		t.Fatal(err)
	}
	if props["s3.endpoint"] != s3.URL || props["s3.region"] != "us-east-1" {
		t.Fatalf("after eds publish run again without --endpoint-url and --region, the catalog's S3 properties are %v; want endpoint %s, region us-east-1", props, s3.URL)
	}
	mustRun(t, 0, dir, "catalog", "sync")
}
