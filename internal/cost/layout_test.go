package cost_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
)

// copyParquet writes the rows of a SELECT to a Parquet file with DuckDB.
func copyParquet(t *testing.T, sel, path string) {
	t.Helper()
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "256MB", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, "COPY ("+sel+") TO "+engine.Literal(path)+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
}

func TestCUR1OnlyTheNewestAssemblyOfAPeriodCounts(t *testing.T) {
	old := readFile(t, filepath.Join(testdata, "koku-cur-test-data/test_cur.csv"))     // 19 rows
	newer := readFile(t, filepath.Join(testdata, "koku-cur-test-data/2023-06-01.csv")) // 3 rows
	t0 := time.Date(2023, 11, 20, 0, 0, 0, 0, time.UTC)
	build := func(t *testing.T, periodManifestAssembly string) string {
		src := t.TempDir()
		period := filepath.Join(src, "cur", "report", "20231101-20231201")
		writeGzip(t, filepath.Join(period, "asm-old", "report-1.csv.gz"), old, t0)
		writeFile(t, filepath.Join(period, "asm-old", "report-Manifest.json"),
			[]byte(`{"assemblyId":"asm-old","reportKeys":["cur/report/20231101-20231201/asm-old/report-1.csv.gz"]}`), t0)
		writeGzip(t, filepath.Join(period, "asm-new", "report-1.csv.gz"), newer, t0.Add(24*time.Hour))
		writeFile(t, filepath.Join(period, "asm-new", "report-Manifest.json"),
			[]byte(`{"assemblyId":"asm-new","reportKeys":["cur/report/20231101-20231201/asm-new/report-1.csv.gz"]}`), t0.Add(24*time.Hour))
		writeFile(t, filepath.Join(period, "asm-new", "report-RedshiftManifest.json"), []byte(`{"entries":[]}`), t0.Add(24*time.Hour))
		if periodManifestAssembly != "" {
			writeFile(t, filepath.Join(period, "report-Manifest.json"),
				[]byte(`{"assemblyId":"`+periodManifestAssembly+`","reportKeys":["cur/report/20231101-20231201/`+periodManifestAssembly+`/report-1.csv.gz"]}`), t0.Add(48*time.Hour))
		}
		return filepath.Join(src, "cur", "report")
	}
	tests := []struct {
		name, periodManifest string
		rows                 int64
		sum                  float64
	}{
		{"newest assembly manifest wins without a period manifest", "", 3, 30},
		{"the period manifest's assemblyId wins over file times", "asm-old", 19, 0.0827499841274349353},
		{"the period manifest naming the newest", "asm-new", 3, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := register(t, dir, "b.cur", build(t, tc.periodManifest))
			if len(s.Table.Files) != 1 || s.Table.Rows != tc.rows {
				t.Fatalf("files %d rows %d, want 1 file with %d rows", len(s.Table.Files), s.Table.Rows, tc.rows)
			}
			if s.Table.Files[0].Period != "2023-11" {
				t.Errorf("file period = %q, want 2023-11", s.Table.Files[0].Period)
			}
			row := queryOne(t, session(t, dir), `SELECT count(*), sum(line_item_unblended_cost) FROM b.cur`)
			if row[0] != tc.rows || !near(row[1], tc.sum) {
				t.Errorf("count, sum = %v, %v; want %d, %v", row[0], row[1], tc.rows, tc.sum)
			}
		})
	}
}

func TestCUR2ManifestListsTheDataFilesAndMapsStayMaps(t *testing.T) {
	src := t.TempDir()
	data := filepath.Join(src, "exports", "cur2", "data", "BILLING_PERIOD=2024-01")
	row := `'id' || range AS identity_line_item_id, TIMESTAMP '2024-01-01 00:00:00' AS bill_billing_period_start_date,
		'Usage' AS line_item_line_item_type, 'AmazonEC2' AS line_item_product_code, 'i-0abc' AS line_item_resource_id,
		TIMESTAMP '2024-01-05 10:00:00' AS line_item_usage_start_date, '0.0464' AS line_item_unblended_rate,
		CAST(range + 0.25 AS DOUBLE) AS line_item_unblended_cost,
		MAP {'product_name': 'Amazon Elastic Compute Cloud', 'region': 'us-east-1'} AS product,
		MAP {'user_Name': 'web'} AS resource_tags, MAP {'bundled_discount': -0.5} AS discount`
	copyParquet(t, "SELECT "+row+" FROM range(4)", filepath.Join(data, "cur2-00001.snappy.parquet"))
	// A stale chunk the manifest does not list must not count.
	copyParquet(t, "SELECT "+row+" FROM range(100)", filepath.Join(data, "cur2-00002.snappy.parquet"))
	writeFile(t, filepath.Join(src, "exports", "cur2", "metadata", "BILLING_PERIOD=2024-01", "cur2-Manifest.json"),
		[]byte(`{"exportName":"cur2","dataFiles":["s3://bucket/exports/cur2/data/BILLING_PERIOD=2024-01/cur2-00001.snappy.parquet"]}`), time.Now())
	dir := t.TempDir()
	s := register(t, dir, "b.cur2", filepath.Join(src, "exports"))
	if s.Table.Format != "cur2" || len(s.Table.Files) != 1 || s.Table.Rows != 4 {
		t.Fatalf("format %s, %d files, %d rows; want cur2, 1 file, 4 rows", s.Table.Format, len(s.Table.Files), s.Table.Rows)
	}
	got := queryOne(t, session(t, dir), `SELECT count(*), sum(line_item_unblended_cost), any_value(product['product_name']),
		any_value(resource_tags['user_Name']), typeof(any_value(product)), typeof(any_value(discount)), typeof(any_value(line_item_unblended_rate))
		FROM b.cur2`)
	want := []any{int64(4), 7.0, "Amazon Elastic Compute Cloud", "web", "MAP(VARCHAR, VARCHAR)", "MAP(VARCHAR, DOUBLE)", "VARCHAR"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("column %d = %#v, want %#v", i, got[i], want[i])
		}
	}
}

func TestCUR1AthenaParquetPartitionsBecomeYearAndMonth(t *testing.T) {
	src := t.TempDir()
	root := filepath.Join(src, "cur", "report", "report")
	row := `'id' || range AS identity_line_item_id, TIMESTAMP '2023-11-01' AS bill_billing_period_start_date,
		'Usage' AS line_item_line_item_type, CAST(range AS DOUBLE) AS line_item_unblended_cost`
	copyParquet(t, "SELECT "+row+" FROM range(5)", filepath.Join(root, "year=2023", "month=11", "report-00001.snappy.parquet"))
	copyParquet(t, "SELECT "+row+" FROM range(3)", filepath.Join(root, "year=2023", "month=12", "report-00001.snappy.parquet"))
	copyParquet(t, "SELECT 'READY' AS status", filepath.Join(src, "cur", "report", "cost_and_usage_data_status", "cost_and_usage_data_status.parquet"))
	writeFile(t, filepath.Join(root, "year=2023", "month=11", "report-Manifest.json"), []byte(`{}`), time.Now())
	dir := t.TempDir()
	s := register(t, dir, "b.athena", filepath.Join(src, "cur"))
	if s.Table.Format != "cur1-parquet" || !s.Table.Hive || len(s.Table.Files) != 2 || s.Table.Rows != 8 {
		t.Fatalf("format %s hive %v files %d rows %d; want cur1-parquet, hive, 2 files, 8 rows", s.Table.Format, s.Table.Hive, len(s.Table.Files), s.Table.Rows)
	}
	got := queryOne(t, session(t, dir), `SELECT count(*), sum(line_item_unblended_cost), typeof(any_value(year)), string_agg(DISTINCT month, ',' ORDER BY month)
		FROM b.athena WHERE year = '2023'`)
	want := []any{int64(8), 13.0, "VARCHAR", "11,12"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("column %d = %#v, want %#v", i, got[i], want[i])
		}
	}
}

func TestCUR2CSVMapColumnsParseFromJSON(t *testing.T) {
	src := filepath.Join(t.TempDir(), "cur2-00001.csv.gz")
	csv := "identity_line_item_id,bill_billing_period_start_date,line_item_line_item_type,line_item_usage_start_date,line_item_unblended_cost,product,resource_tags\n" +
		`a,2024-02-01T00:00:00Z,Usage,2024-02-03T04:00:00Z,1.5E-1,"{""product_name"":""Amazon Elastic Compute Cloud"",""region"":""us-east-1""}","{""user_Name"":""web""}"` + "\n" +
		`b,2024-02-01T00:00:00Z,Tax,2024-02-03T04:00:00Z,0.35,"{}",` + "\n"
	writeGzip(t, src, []byte(csv), time.Now())
	dir := t.TempDir()
	s := register(t, dir, "b.cur2csv", src)
	if s.Table.Format != "cur2" || s.Table.Rows != 2 {
		t.Fatalf("format %s rows %d; want cur2, 2", s.Table.Format, s.Table.Rows)
	}
	got := queryOne(t, session(t, dir), `SELECT sum(line_item_unblended_cost), max(product['region']), max(resource_tags['user_Name']),
		typeof(any_value(product)), max(line_item_usage_start_date) FROM b.cur2csv`)
	want := []any{0.5, "us-east-1", "web", "MAP(VARCHAR, VARCHAR)", time.Date(2024, 2, 3, 4, 0, 0, 0, time.UTC)}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("column %d = %#v, want %#v", i, got[i], want[i])
		}
	}
}
