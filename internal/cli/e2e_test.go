package cli_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/auditlake/auditlake/internal/cli"
)

// run runs the auditlake command line in-process against data dir dir.
func run(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), append([]string{"--data", dir}, args...), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// mustRun fails the test unless the command exits with want.
func mustRun(t *testing.T, want int, dir string, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, dir, args...)
	if code != want {
		t.Fatalf("auditlake %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out
}

func createStore(t *testing.T, dir, name string) string {
	t.Helper()
	out := mustRun(t, 0, dir, "eds", "create", name, "--output", "json")
	var v struct{ ID, Name string }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("eds create --output json printed %q: %v", out, err)
	}
	if v.Name != name || len(v.ID) != 36 {
		t.Fatalf("eds create printed %+v", v)
	}
	return v.ID
}

// queryCSV runs a query and returns its CSV rows without the header.
func queryCSV(t *testing.T, dir, sql string) [][]string {
	t.Helper()
	out := mustRun(t, 0, dir, "query", "--format", "csv", sql)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("query output is not CSV: %v\n%s", err, out)
	}
	return recs[1:]
}

func testdata(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "testdata"}, parts...)...)
}

func TestIngestIsIdempotentAndDeduplicatesAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	id := createStore(t, dir, "samples")
	stratus := testdata("stratus-red-team-detonation-logs")
	out := mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "samples", stratus)
	if !strings.Contains(out, "310 added") {
		t.Fatalf("first ingest should add the 310 distinct stratus events:\n%s", out)
	}
	got := queryCSV(t, dir, `SELECT count(*), count(DISTINCT eventid) FROM "aws:cloudtrail"."`+id+`"`)
	if got[0][0] != "310" || got[0][1] != "310" {
		t.Fatalf("store holds %v events, want 310 distinct", got)
	}
	// Same sources again: nothing new, and it says so.
	out = mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "samples", stratus)
	if !strings.Contains(out, "nothing new") || !strings.Contains(out, "0 added") {
		t.Fatalf("second ingest should add nothing and say so:\n%s", out)
	}
	// The same events in a different file (a copy under another name) are duplicates.
	copyDir := t.TempDir()
	src := filepath.Join(stratus, "aws.persistence.iam-create-admin-user.json")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(copyDir, "again.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", id, copyDir)
	if !strings.Contains(out, " 0 added") {
		t.Fatalf("re-delivered events must be deduplicated:\n%s", out)
	}
	got = queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."`+id+`"`)
	if got[0][0] != "310" {
		t.Fatalf("after re-delivery the store holds %s events, want 310", got[0][0])
	}
}

func TestSeedBlogCloudTrailSubqueryRunsVerbatim(t *testing.T) {
	dir := t.TempDir()
	id := createStore(t, dir, "blog")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "blog",
		testdata("plaso-cloudtrail-lookupevents"), testdata("stratus-red-team-detonation-logs"))
	// The subquery aliased CloudTrail in the blog's first query, placeholders filled.
	sql := `SELECT useridentity.arn as User_ARN, json_extract_scalar(
				element_at(
					CAST(responseelements AS map(varchar, varchar)),
					'instancesSet'
				),
				'$.items[0].instanceId'
			) as instance_id
		FROM "aws:cloudtrail"."` + id + `"
		WHERE (
				useragent like 'autoscaling.amazonaws.com'
				and NOT(
					json_extract_scalar(
						element_at(requestparameters, 'launchTemplate'),
						'$.launchTemplateId'
					) like 'lt-0123456789abcdef0'
				)
			)
			OR (
				useragent not like 'autoscaling.amazonaws.com'
				and eventname LIKE 'RunInstances'
			)`
	rows := queryCSV(t, dir, sql)
	var got []string
	for _, r := range rows {
		got = append(got, r[0]+" "+r[1])
	}
	sort.Strings(got)
	want := []string{
		// plaso: a console launch by an IAM user.
		"arn:aws:iam::012345678901:user/fakeusername i-01234567890123456",
		// stratus: a RunInstances that failed (UnauthorizedOperation): no instance, and the
		// blog's query still lists it — one of the ways the recipe is wrong.
		"arn:aws:sts::900138736586:assumed-role/stratus-red-team-ec2lui-role-idtzskbvtd/aws-go-sdk-1722511821294449000 ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("blog subquery rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestIngestFromS3ThroughAnS3Server(t *testing.T) {
	backend := s3mem.New()
	faker := gofakes3.New(backend)
	srv := httptest.NewServer(faker.Server())
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	if err := backend.CreateBucket("trail"); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(testdata("stratus-red-team-detonation-logs", "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		key := "AWSLogs/o-abc123def4/900138736586/CloudTrail/us-east-1/2024/08/01/" + filepath.Base(f)
		if _, err := backend.PutObject("trail", key, map[string]string{}, bytes.NewReader(b), int64(len(b)), nil); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	id := createStore(t, dir, "from-s3")
	out := mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "from-s3", "--endpoint-url", srv.URL, "s3://trail/AWSLogs/o-abc123def4/")
	if !strings.Contains(out, "310 added") {
		t.Fatalf("S3 ingest should add 310 events:\n%s", out)
	}
	out = mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "from-s3", "--endpoint-url", srv.URL, "s3://trail/AWSLogs/o-abc123def4/")
	if !strings.Contains(out, "nothing new") {
		t.Fatalf("second S3 ingest should skip unchanged objects by ETag:\n%s", out)
	}
	rows := queryCSV(t, dir, `SELECT eventname FROM "aws:cloudtrail"."`+id+`" WHERE eventname = 'RunInstances'`)
	if len(rows) != 1 {
		t.Fatalf("want the one RunInstances of the stratus logs, got %v", rows)
	}
}

func TestEDSLifecycleAndTerminationProtection(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 0, dir, "eds", "create", "kept", "--retention-days", "90", "--termination-protection")
	mustRun(t, 1, dir, "eds", "create", "bad", "--retention-days", "3")
	mustRun(t, 1, dir, "eds", "create", "kept")
	out := mustRun(t, 0, dir, "eds", "list", "--output", "json")
	var list []struct {
		Name          string `json:"name"`
		RetentionDays int    `json:"retention_days"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].RetentionDays != 90 {
		t.Fatalf("eds list: %v %s", err, out)
	}
	_, errOut, code := run(t, dir, "eds", "delete", "kept")
	if code != 1 || !strings.Contains(errOut, "termination protection") {
		t.Fatalf("delete of a protected store: exit %d, %s", code, errOut)
	}
	mustRun(t, 1, dir, "eds", "update", "kept", "--retention-days", "30") // lowering needs --yes
	mustRun(t, 0, dir, "eds", "update", "kept", "--retention-days", "30", "--yes", "--termination-protection", "off")
	_, errOut, code = run(t, dir, "eds", "delete", "kept")
	if code != 1 || !strings.Contains(errOut, "--yes") {
		t.Fatalf("delete without --yes: exit %d, want 1 and a request to confirm with --yes\n%s", code, errOut)
	}
	mustRun(t, 0, dir, "eds", "show", "kept")
	mustRun(t, 0, dir, "eds", "delete", "kept", "--yes")
	mustRun(t, 1, dir, "eds", "show", "kept")
}

func TestBadInputKeepsGoodEventsAndExitsPartial(t *testing.T) {
	dir := t.TempDir()
	id := createStore(t, dir, "bad")
	src := t.TempDir()
	good, err := os.ReadFile(testdata("stratus-red-team-detonation-logs", "aws.persistence.iam-create-admin-user.json"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(good, &recs); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "good.json"), good, 0o644)
	os.WriteFile(filepath.Join(src, "broken.json"), []byte(`{"Records":[`+string(recs[0])+`, 42, {"eventTime": "not a time", "eventName": "X"}`), 0o644)
	out, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "bad", src)
	if code != cli.ExitPartial {
		t.Fatalf("exit %d, want %d (partial)\n%s\n%s", code, cli.ExitPartial, out, errOut)
	}
	if !strings.Contains(errOut, "broken.json") {
		t.Fatalf("errors must name the file:\n%s", errOut)
	}
	rows := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."`+id+`"`)
	if rows[0][0] != itoa(len(recs)) {
		t.Fatalf("store holds %s events, want the %d good ones", rows[0][0], len(recs))
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
