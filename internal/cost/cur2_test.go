package cost_test

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/generate"
)

// generateCUR writes a small organization whose instances run across a month boundary, so the
// cost files cover two billing periods, and returns the output directory.
func generateCUR(t *testing.T) (string, *generate.Summary) {
	t.Helper()
	cfg := generate.DefaultConfig()
	cfg.Out = t.TempDir()
	cfg.Events = 1500
	cfg.Start = time.Date(2026, 2, 27, 0, 0, 0, 0, time.UTC)
	cfg.Days = 4
	cfg.CUR = true
	cfg.Workers = 2
	s, err := generate.Run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Out, s
}

// The generator's CUR 2.0 Data Exports CSV sits under data/BILLING_PERIOD=YYYY-MM/ and holds the
// map columns as JSON with doubled quotes. It used to fail with "a row has more fields than the
// header": DuckDB's reader took BILLING_PERIOD= for a Hive partition and added a column.
func TestGeneratedCUR2CSVRegistersAndAgreesWithCUR1(t *testing.T) {
	out, gen := generateCUR(t)
	dir := t.TempDir()
	cur2 := register(t, dir, "gen.cur2", filepath.Join(out, "cur2"))
	cur1 := register(t, dir, "gen.cur1", filepath.Join(out, "cur"))
	if cur2.Table.Format != cost.FormatCUR2 || cur1.Table.Format != cost.FormatCUR1CSV {
		t.Fatalf("formats %s, %s; want cur2, cur1-csv", cur2.Table.Format, cur1.Table.Format)
	}
	if cur2.Table.Rows != gen.CURLines || cur1.Table.Rows != gen.CURLines {
		t.Fatalf("rows cur2 %d, cur1 %d; the generator wrote %d current line items", cur2.Table.Rows, cur1.Table.Rows, gen.CURLines)
	}
	db := session(t, dir)
	// The two exports are read by different paths (slash headers vs snake_case and JSON maps):
	// every line item must carry the same cost and product name in both.
	got := queryOne(t, db, `SELECT count(*), count(c1.identity_line_item_id),
		count(*) FILTER (WHERE c2.line_item_unblended_cost IS DISTINCT FROM c1.line_item_unblended_cost),
		count(*) FILTER (WHERE c2.product['product_name'] IS DISTINCT FROM c1.product_product_name),
		count(DISTINCT c2.product['region'])
		FROM gen.cur2 c2 LEFT JOIN gen.cur1 c1
		ON c1.identity_line_item_id = c2.identity_line_item_id AND c1.line_item_line_item_type = c2.line_item_line_item_type
		AND c1.identity_time_interval = c2.identity_time_interval AND c1.line_item_resource_id IS NOT DISTINCT FROM c2.line_item_resource_id`)
	if got[0] != gen.CURLines || got[1] != gen.CURLines || got[2] != int64(0) || got[3] != int64(0) {
		t.Errorf("join of CUR 2.0 to CUR 1.0: rows %v, matched %v, cost differs %v, product name differs %v; want %d, %d, 0, 0",
			got[0], got[1], got[2], got[3], gen.CURLines, gen.CURLines)
	}
	if got[4].(int64) < 1 {
		t.Errorf("no product['region'] parsed from the JSON map column")
	}
}

// The hand-checked fixture (testdata/cur2-derived, derived from koku's real-shaped rows; see
// derive.py there) holds map cells with commas, escaped quotes, a backslash and non-ASCII text,
// and a description with a raw line break. The expected values were read with Python's csv and
// json modules.
func TestCUR2RealShapedRowsKeepTheirCellsWhole(t *testing.T) {
	dir := t.TempDir()
	s := register(t, dir, "b.cur2", filepath.Join(testdata, "cur2-derived"))
	if s.Table.Format != cost.FormatCUR2 || s.Table.Rows != 4 {
		t.Fatalf("format %s rows %d; want cur2, 4", s.Table.Format, s.Table.Rows)
	}
	db := session(t, dir)
	got := queryOne(t, db, `SELECT sum(line_item_unblended_cost), sum(savings_plan_savings_plan_effective_cost),
		max(resource_tags['user_owner']), max(resource_tags['user_note']), max(line_item_line_item_description) FILTER (WHERE line_item_line_item_type = 'Tax'),
		max(product['processor_features']), max(cost_category['qe_source']), string_agg(DISTINCT billing_period, ',')
		FROM b.cur2`)
	want := []any{32.5, 0.30000000000000004, `Ærøskøbing, "ops"\team`, "line one\nline two", "Tax for product code AmazonEC2,\n\"m5\" usage",
		"Intel AVX Intel Turbo", "aws-single", "2023-06"}
	for i := range want {
		if f, ok := want[i].(float64); ok {
			if !near(got[i], f) {
				t.Errorf("column %d = %#v, want %v", i, got[i], f)
			}
			continue
		}
		if got[i] != want[i] {
			t.Errorf("column %d = %#v, want %#v", i, got[i], want[i])
		}
	}
}

// Athena's CUR 1.0 integration partitions by year and month as strings without zero padding,
// and published queries filter on them; Data Exports tables have billing_period ('2026-03').
// Each is checked against the usage dates of the line items, read by the test from the files.
func TestAthenaPartitionColumnsFollowTheBillingPeriod(t *testing.T) {
	out, _ := generateCUR(t)
	dir := t.TempDir()
	register(t, dir, "gen.cur1", filepath.Join(out, "cur"))
	register(t, dir, "gen.cur2", filepath.Join(out, "cur2"))
	march := marchLines(t, filepath.Join(out, "cur2"))
	if march == 0 {
		t.Fatal("the generated files have no March line items; the test proves nothing")
	}
	db := session(t, dir)
	for _, q := range []string{
		`SELECT count(*) FROM gen.cur1 WHERE year = '2026' AND month = '3'`,
		`SELECT count(*) FROM "gen"."cur1" WHERE "year" = '2026' AND "month" = '3'`,
		`SELECT count(*) FROM gen.cur2 WHERE billing_period = '2026-03'`,
	} {
		if got := queryOne(t, db, q)[0]; got != march {
			t.Errorf("%s = %v, want %d", q, got, march)
		}
	}
	if got := queryOne(t, db, `SELECT count(*) FROM gen.cur1 WHERE month = '03'`)[0]; got != int64(0) {
		t.Errorf("month = '03' matched %v rows; Athena's month is not zero-padded", got)
	}
	got := queryOne(t, db, `SELECT typeof(any_value(year)), typeof(any_value(month)), string_agg(DISTINCT year || '-' || month, ',' ORDER BY year || '-' || month) FROM gen.cur1`)
	if got[0] != "VARCHAR" || got[1] != "VARCHAR" || got[2] != "2026-2,2026-3" {
		t.Errorf("year/month types and values = %v, want VARCHAR, VARCHAR, 2026-2,2026-3", got)
	}
}

// marchLines counts, with encoding/csv over the gzipped CUR 2.0 files, the line items whose
// billing period starts in March 2026.
func marchLines(t *testing.T, root string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || filepath.Ext(p) != ".gz" {
			return err
		}
		r := csv.NewReader(gunzip(t, p))
		head, err := r.Read()
		if err != nil {
			return err
		}
		col := -1
		for i, h := range head {
			if h == "bill_billing_period_start_date" {
				col = i
			}
		}
		for {
			rec, err := r.Read()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if ts, err := time.Parse(time.RFC3339, rec[col]); err == nil && ts.Year() == 2026 && ts.Month() == 3 {
				n++
			} else if err != nil {
				return err
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func gunzip(t *testing.T, p string) io.Reader {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return gz
}
