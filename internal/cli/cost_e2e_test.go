package cli_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// blogCURSubquery is the CostAndUsageReport subquery of the seed blog's first query, verbatim
// (reference/seed-blog.txt), with its placeholder table name.
const blogCURSubquery = `SELECT line_item_resource_id as Instance_ID,
      			line_item_product_code,
      			line_item_line_item_description as Description_COST,
      			SUM(line_item_unblended_cost) AS Unblended_COST
      		FROM "enter-your-cur-database"."enter-your-cur-table"
      		WHERE line_item_product_code = 'AmazonEC2'
      			AND line_item_line_item_type NOT IN ('Tax', 'Refund', 'Credit')
      		GROUP BY line_item_resource_id,
      			line_item_product_code,
      			line_item_line_item_description
      		ORDER BY Unblended_COST DESC`

func TestCurRegisterThenBlogCURSubqueryRunsVerbatim(t *testing.T) {
	dir := t.TempDir()
	out := mustRun(t, 0, dir, "cur", "register", "enter-your-cur-database.enter-your-cur-table", testdata("koku-cur-test-data", "test_cur.csv.gz"))
	for _, want := range []string{"(cur1-csv)", "files:    1", "periods:  2018-06", "rows:     19", "columns:  133"} {
		if !strings.Contains(out, want) {
			t.Errorf("register summary lacks %q:\n%s", want, out)
		}
	}
	rows := queryCSV(t, dir, blogCURSubquery)
	// 19 EC2 lines, each its own (resource, description) group; the largest, computed with
	// Python's decimal over the CSV, is i-30838321 at 0.012243222646854776.
	if len(rows) != 19 {
		t.Fatalf("blog subquery returned %d rows, want 19", len(rows))
	}
	if rows[0][0] != "i-30838321" || rows[0][1] != "AmazonEC2" || !strings.HasPrefix(rows[0][3], "0.01224322264685") {
		t.Errorf("top row = %v", rows[0])
	}

	out = mustRun(t, 0, dir, "cur", "list", "--output", "json")
	var list []struct {
		Name, Format string
		Files        int
		Rows         int64
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("cur list --output json: %v\n%s", err, out)
	}
	if len(list) != 1 || list[0].Name != "enter-your-cur-database.enter-your-cur-table" || list[0].Rows != 19 || list[0].Files != 1 {
		t.Errorf("cur list = %+v", list)
	}
	out = mustRun(t, 0, dir, "cur", "show", "enter-your-cur-database.enter-your-cur-table")
	shown := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		shown[strings.Join(strings.Fields(line), " ")] = true
	}
	for _, want := range []string{"line_item_unblended_cost DOUBLE", "line_item_usage_start_date TIMESTAMP", "reservation_reservation_a_r_n VARCHAR", "rows: 19", "columns: 133", "year VARCHAR", "month VARCHAR"} {
		if !shown[want] {
			t.Errorf("cur show lacks a line %q:\n%s", want, out)
		}
	}
	mustRun(t, 0, dir, "cur", "remove", "enter-your-cur-database.enter-your-cur-table")
	if _, _, code := run(t, dir, "query", blogCURSubquery); code == 0 {
		t.Error("query over a removed cost table succeeded")
	}
	if _, errOut, code := run(t, dir, "cur", "show", "enter-your-cur-database.enter-your-cur-table"); code != 1 || !strings.Contains(errOut, "auditlake cur list") {
		t.Errorf("cur show of a removed table: exit %d, stderr %q", code, errOut)
	}
}

func TestCurRegisterRefusesBadInputNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	src := t.TempDir() + "/not-billing.csv"
	os.WriteFile(src, []byte("a,b\n1,2\n"), 0o644)
	_, errOut, code := run(t, dir, "cur", "register", "cur.bad", src)
	if code != 1 || !strings.Contains(errOut, "not-billing.csv") || !strings.Contains(errOut, "not a CUR or FOCUS file") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if _, _, code := run(t, dir, "cur", "register", "nodot", src); code != 2 {
		t.Errorf("a name without a database: exit %d, want 2", code)
	}
}

func TestCurRegisterFromS3CachesByETag(t *testing.T) {
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	if err := backend.CreateBucket("billing"); err != nil {
		t.Fatal(err)
	}
	put := func(key, file string) {
		t.Helper()
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(file, ".gz") {
			var zb bytes.Buffer
			zw := gzip.NewWriter(&zb)
			zw.Write(b)
			zw.Close()
			b = zb.Bytes()
		}
		if _, err := backend.PutObject("billing", key, map[string]string{}, bytes.NewReader(b), int64(len(b)), nil); err != nil {
			t.Fatal(err)
		}
	}
	key := "cur/report/report-00001.csv.gz"
	put(key, testdata("koku-cur-test-data", "test_cur.csv.gz"))
	dir := t.TempDir()
	args := []string{"cur", "register", "--endpoint-url", srv.URL, "cur.s3", "s3://billing/cur/report/"}
	if out := mustRun(t, 0, dir, args...); !strings.Contains(out, "(1 downloaded, 0 from cache)") || !strings.Contains(out, "rows:     19") {
		t.Fatalf("first register:\n%s", out)
	}
	if out := mustRun(t, 0, dir, args...); !strings.Contains(out, "(0 downloaded, 1 from cache)") {
		t.Fatalf("unchanged ETag should reuse the cache:\n%s", out)
	}
	rows := queryCSV(t, dir, `SELECT count(*), count(DISTINCT line_item_resource_id) FROM cur.s3`)
	if rows[0][0] != "19" || rows[0][1] != "19" {
		t.Errorf("query over the S3 table = %v", rows)
	}
	// The object is rewritten: a new ETag means a new download and the new contents.
	put(key, testdata("koku-cur-test-data", "2023-06-01.csv"))
	if out := mustRun(t, 0, dir, args...); !strings.Contains(out, "(1 downloaded, 0 from cache)") || !strings.Contains(out, "rows:     3") {
		t.Fatalf("changed ETag should download again:\n%s", out)
	}
	rows = queryCSV(t, dir, `SELECT count(*), sum(line_item_unblended_cost) FROM cur.s3`)
	if rows[0][0] != "3" || rows[0][1] != "30" {
		t.Errorf("query after refresh = %v", rows)
	}
}

// A local folder with one report twice (test_cur.csv and .csv.gz) and a not-final report beside
// the final one: cur register and cur show say which files were skipped and why.
func TestCurRegisterAndShowNameTheSkippedCopies(t *testing.T) {
	dir := t.TempDir()
	out := mustRun(t, 0, dir, "cur", "register", "k.all", "../../testdata/koku-cur-test-data")
	for _, want := range []string{"rows:     24", "skipped:  2",
		"    ../../testdata/koku-cur-test-data/test_cur.csv.gz: another copy of ../../testdata/koku-cur-test-data/test_cur.csv",
		"    ../../testdata/koku-cur-test-data/2023-06-01-not-final.csv: a copy: its 3 line items are all in ../../testdata/koku-cur-test-data/2023-06-01.csv"} {
		if !strings.Contains(out, want) {
			t.Errorf("cur register output lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, 0, dir, "cur", "show", "k.all")
	if !strings.Contains(out, "skipped:       2\n") || !strings.Contains(out, "2023-06-01-not-final.csv: a copy") {
		t.Errorf("cur show does not list the skipped files:\n%s", out)
	}
}

// Published CUR queries filter on Athena's partition columns; through the query command's
// dialect they select the billing period (koku's test_cur.csv is June 2018, 19 rows).
func TestQueryFiltersOnAthenasYearAndMonth(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 0, dir, "cur", "register", "cur.k", "../../testdata/koku-cur-test-data/test_cur.csv")
	for q, want := range map[string]string{
		`SELECT count(*) AS n FROM "cur"."k" WHERE year = '2018' AND month = '6'`:              "n\n19\n",
		`SELECT count(*) AS n FROM cur.k WHERE year = '2018' AND month = '06'`:                 "n\n0\n",
		`SELECT DISTINCT year, month FROM cur.k WHERE CAST(month AS integer) BETWEEN 1 AND 12`: "year,month\n2018,6\n",
	} {
		if got := mustRun(t, 0, dir, "query", "--format", "csv", q); got != want {
			t.Errorf("%s = %q, want %q", q, got, want)
		}
	}
}
