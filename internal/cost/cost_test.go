package cost_test

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/engine"
)

const testdata = "../../testdata"

// register registers src as name in dataDir and fails the test on error.
func register(t *testing.T, dataDir, name, src string, opts ...func(*cost.RegisterOptions)) cost.Summary {
	t.Helper()
	o := cost.RegisterOptions{Name: name, Source: src}
	for _, f := range opts {
		f(&o)
	}
	s, err := cost.RegisterSource(context.Background(), dataDir, o)
	if err != nil {
		t.Fatalf("register %s %s: %v", name, src, err)
	}
	return s
}

// session opens an engine with the registered cost tables, sealed as internal/query seals it
// (only the data dir allowed), so the tests also prove that views over files outside the data
// dir stay readable after sealing.
func session(t *testing.T, dataDir string) *engine.DB {
	t.Helper()
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "512MB", Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := cost.Register(ctx, db, dataDir); err != nil {
		t.Fatal(err)
	}
	if err := db.Seal(ctx, []string{dataDir}); err != nil {
		t.Fatal(err)
	}
	return db
}

func queryOne(t *testing.T, db *engine.DB, sql string) []any {
	t.Helper()
	res, err := db.UserQuery(context.Background(), sql, engine.Limits{})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if len(res.Rows) != 1 {
		t.Fatalf("%s: got %d rows, want 1", sql, len(res.Rows))
	}
	return res.Rows[0]
}

func near(got any, want float64) bool {
	g, ok := got.(float64)
	return ok && math.Abs(g-want) <= 1e-12*math.Max(1, math.Abs(want))
}

// The expected row counts and sums were computed independently of this code, with Python's
// csv and decimal modules over the files themselves (sum of the non-empty cost cells). The
// columns are the header's plus the partition columns Athena adds (year and month for CUR 1.0,
// which koku's Athena-named file already has; billing_period for FOCUS).
func TestRegisterRealCostFilesGivesRowCountsAndSums(t *testing.T) {
	tests := []struct {
		name, src string
		format    cost.Format
		rows      int64
		columns   int
		sumColumn string
		sum       float64
		periods   string
	}{
		{"koku slash style", "koku-cur-test-data/test_cur.csv", cost.FormatCUR1CSV, 19, 131 + 2, "line_item_unblended_cost", 0.0827499841274349353, "2018-06"},
		{"koku slash style gzip", "koku-cur-test-data/test_cur.csv.gz", cost.FormatCUR1CSV, 19, 131 + 2, "line_item_unblended_cost", 0.0827499841274349353, "2018-06"},
		{"koku wide slash style", "koku-cur-test-data/2023-06-01.csv", cost.FormatCUR1CSV, 3, 201 + 2, "line_item_unblended_cost", 30, "2023-06"},
		{"koku athena names", "koku-cur-test-data/2022-07-01-alt-columns.csv", cost.FormatCUR1CSV, 2, 154, "line_item_unblended_cost", 0, "2022-07"},
		{"koku header only", "koku-cur-test-data/empty_frame.csv", cost.FormatCUR1CSV, 0, 201 + 2, "line_item_unblended_cost", math.NaN(), ""},
		{"anonymised CUR 1.0 export", "focus-converters-aws-cur-sample/sample-anonymous-aws-export-dataset.csv", cost.FormatCUR1CSV, 1281, 94 + 2, "line_item_unblended_cost", 1.68230869740, "2023-11"},
		{"FOCUS 1.0 billed", "focus-sample-data/focus_sample.csv", cost.FormatFOCUS, 1000, 44 + 1, "BilledCost", 20.52022672899, "2024-09,2024-10"},
		{"FOCUS 1.0 effective", "focus-sample-data/focus_sample.csv", cost.FormatFOCUS, 1000, 44 + 1, "EffectiveCost", 14.97651418586, "2024-09,2024-10"},
		{"FOCUS 1.0 list", "focus-sample-data/focus_sample.csv", cost.FormatFOCUS, 1000, 44 + 1, "ListCost", 20.39090575119, "2024-09,2024-10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := register(t, dir, "billing.t", filepath.Join(testdata, tc.src))
			if s.Table.Format != tc.format {
				t.Errorf("format = %s, want %s", s.Table.Format, tc.format)
			}
			if s.Table.Rows != tc.rows {
				t.Errorf("registered rows = %d, want %d", s.Table.Rows, tc.rows)
			}
			if got := len(s.Table.Columns()); got != tc.columns {
				t.Errorf("columns = %d, want %d", got, tc.columns)
			}
			if got := strings.Join(s.Table.Periods, ","); got != tc.periods {
				t.Errorf("periods = %q, want %q", got, tc.periods)
			}
			db := session(t, dir)
			row := queryOne(t, db, `SELECT count(*), sum(`+engine.Ident(tc.sumColumn)+`) FROM billing.t`)
			if row[0] != tc.rows {
				t.Errorf("count(*) = %v, want %d", row[0], tc.rows)
			}
			if math.IsNaN(tc.sum) {
				if row[1] != nil {
					t.Errorf("sum = %v, want NULL", row[1])
				}
			} else if !near(row[1], tc.sum) {
				t.Errorf("sum(%s) = %v, want %v", tc.sumColumn, row[1], tc.sum)
			}
		})
	}
}

func TestSlashHeadersBecomeTheNamesKokusAthenaStyleFileUses(t *testing.T) {
	dir := t.TempDir()
	slash := register(t, dir, "b.slash", filepath.Join(testdata, "koku-cur-test-data/2023-06-01.csv"))
	athena := register(t, dir, "b.athena", filepath.Join(testdata, "koku-cur-test-data/2022-07-01-alt-columns.csv"))
	// The Athena-named file's columns are exactly its header.
	header, err := os.ReadFile(filepath.Join(testdata, "koku-cur-test-data/2022-07-01-alt-columns.csv"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(header), "\n")
	want := strings.Split(strings.TrimRight(first, "\r"), ",")
	var got []string
	for _, c := range athena.Table.Columns() {
		got = append(got, c.Name)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("alt-columns view columns:\n got %v\nwant %v", got, want)
	}
	// Every slash-style header whose Athena form appears in the Athena-named file maps to it;
	// count the overlap and pin the names the blog and the compliance report need.
	athenaSet := map[string]bool{}
	for _, c := range want {
		athenaSet[c] = true
	}
	overlap := 0
	slashSet := map[string]bool{}
	for _, c := range slash.Table.Columns() {
		slashSet[c.Name] = true
		if athenaSet[c.Name] {
			overlap++
		}
	}
	for _, c := range []string{"line_item_resource_id", "line_item_unblended_cost", "line_item_line_item_type",
		"line_item_usage_start_date", "line_item_product_code", "line_item_line_item_description",
		"product_max_iopsvolume", "product_clock_speed", "reservation_amortized_upfront_fee_for_billing_period",
		"savings_plan_savings_plan_effective_cost", "cost_category_charge_type", "no_tags_user_openshift_project"} {
		if !slashSet[c] {
			t.Errorf("slash-style file has no column %q", c)
		}
	}
	if overlap < 100 {
		t.Errorf("only %d of the slash-style file's columns match the Athena-named file's", overlap)
	}
}

func TestViewTypesAreAthenas(t *testing.T) {
	dir := t.TempDir()
	register(t, dir, "b.cur", filepath.Join(testdata, "focus-converters-aws-cur-sample/sample-anonymous-aws-export-dataset.csv"))
	register(t, dir, "b.focus", filepath.Join(testdata, "focus-sample-data/focus_sample.csv"))
	db := session(t, dir)
	res, err := db.UserQuery(context.Background(), `SELECT * FROM b.cur LIMIT 0`, engine.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, c := range res.Columns {
		types[c.Name] = c.Type
	}
	for col, want := range map[string]string{
		"line_item_unblended_cost": "DOUBLE", "line_item_usage_amount": "DOUBLE", "pricing_public_on_demand_cost": "DOUBLE",
		"line_item_usage_start_date": "TIMESTAMP", "bill_billing_period_start_date": "TIMESTAMP",
		"line_item_unblended_rate": "VARCHAR", "identity_time_interval": "VARCHAR", "line_item_product_code": "VARCHAR",
	} {
		if types[col] != want {
			t.Errorf("%s: type %q, want %q", col, types[col], want)
		}
	}
	// A cost in scientific notation and an ISO timestamp with milliseconds and Z, as the
	// anonymised export writes them (line 16 of the file).
	row := queryOne(t, db, `SELECT DISTINCT line_item_unblended_cost, line_item_usage_start_date, line_item_unblended_rate FROM b.cur
		WHERE identity_line_item_id = 'cjxa4463xpabcdabcdabcdabcdabcdabcdabcdabci2diiqamka' AND identity_time_interval = '2023-11-04T00:00:00Z/2023-11-05T00:00:00Z'`)
	if !near(row[0], 1.81e-8) {
		t.Errorf("cost = %v, want 1.81e-8", row[0])
	}
	if ts, ok := row[1].(time.Time); !ok || !ts.Equal(time.Date(2023, 11, 4, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("usage start = %v, want 2023-11-04 23:00:00", row[1])
	}
	if row[2] != "0.02" {
		t.Errorf("rate = %#v, want the string \"0.02\"", row[2])
	}
	row = queryOne(t, db, `SELECT typeof(BilledCost), typeof(ChargePeriodStart), typeof(billingperiodend), min(ChargePeriodStart) FROM b.focus GROUP BY ALL`)
	if row[0] != "DOUBLE" || row[1] != "TIMESTAMP" || row[2] != "TIMESTAMP" {
		t.Errorf("FOCUS types = %v", row[:3])
	}
}

// 26 rows of the FOCUS sample are EC2 instance-hours: ResourceType 'instance' priced in Hours
// (counted with Python over the CSV; two more rows with i- ids are $0.00 "Mbps per instance-hour"
// EBS-optimised lines that carry no ResourceType).
func TestFOCUSInstanceHoursAndExpressions(t *testing.T) {
	dir := t.TempDir()
	s := register(t, dir, "b.focus", filepath.Join(testdata, "focus-sample-data/focus_sample.csv"))
	db := session(t, dir)
	row := queryOne(t, db, `SELECT count(*) FROM b.focus WHERE ServiceName = 'Amazon Elastic Compute Cloud' AND ResourceType = 'instance' AND PricingUnit = 'Hours'`)
	if row[0] != int64(26) {
		t.Errorf("instance-hour rows = %v, want 26", row[0])
	}
	row = queryOne(t, db, `SELECT count(*) FROM b.focus WHERE ServiceName = 'Amazon Elastic Compute Cloud' AND ResourceId LIKE 'i-%' AND PricingUnit = 'Hours'`)
	if row[0] != int64(28) {
		t.Errorf("EC2 hour rows with instance ids = %v, want 28", row[0])
	}
	x := s.Table.Expressions()
	row = queryOne(t, db, `SELECT sum(`+x.UnblendedCost+`), sum(`+x.EffectiveCost+`), count(`+x.ResourceID+`), count(`+x.UsageStart+`) FROM `+s.Table.SQLName())
	if !near(row[0], 20.52022672899) || !near(row[1], 14.97651418586) || row[2] != int64(1000) || row[3] != int64(1000) {
		t.Errorf("expressions over FOCUS = %v", row)
	}
}

func TestEffectiveCostExpressionUsesSavingsPlanEffectiveCost(t *testing.T) {
	dir := t.TempDir()
	// Three SavingsPlanCoveredUsage lines: unblended 10 each, SavingsPlanEffectiveCost 0.1 each.
	s := register(t, dir, "b.sp", filepath.Join(testdata, "koku-cur-test-data/2023-06-01.csv"))
	db := session(t, dir)
	x := s.Table.Expressions()
	row := queryOne(t, db, `SELECT sum(`+x.UnblendedCost+`), sum(`+x.EffectiveCost+`), any_value(`+x.UsageType+`), any_value(`+x.ResourceID+`) FROM `+s.Table.SQLName())
	if !near(row[0], 30) || !near(row[1], 0.3) {
		t.Errorf("unblended, effective = %v, %v; want 30, 0.3", row[0], row[1])
	}
	if row[3] != "i-99995555" {
		t.Errorf("resource id = %v", row[3])
	}
}

func TestBadInputIsRefusedWithTheFileNamed(t *testing.T) {
	dir := t.TempDir()
	src := t.TempDir()
	notCost := filepath.Join(src, "people.csv")
	os.WriteFile(notCost, []byte("name,age\nann,3\n"), 0o644)
	ragged := filepath.Join(src, "ragged.csv")
	os.WriteFile(ragged, []byte("identity/LineItemId,lineItem/UnblendedCost\na,1\nb,2,extra\nc,3\n"), 0o644)
	register(t, dir, "b.keep", filepath.Join(testdata, "koku-cur-test-data/test_cur.csv"))
	before, _ := os.ReadFile(filepath.Join(dir, "cost", "registry.json"))
	for _, tc := range []struct{ src, want string }{
		{notCost, "people.csv\" is not a CUR or FOCUS file"},
		{ragged, "ragged.csv"},
	} {
		_, err := cost.RegisterSource(context.Background(), dir, cost.RegisterOptions{Name: "b.bad", Source: tc.src})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("register %s: error %v, want one containing %q", tc.src, err, tc.want)
		}
		if tc.src == ragged && (err == nil || !strings.Contains(err.Error(), "line 3:")) {
			t.Errorf("ragged file error does not name the line: %v", err)
		}
	}
	after, _ := os.ReadFile(filepath.Join(dir, "cost", "registry.json"))
	if string(before) != string(after) {
		t.Error("a failed registration changed the registry")
	}
}

func TestZippedCSVIsUnzippedIntoTheCache(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "report-1.csv.zip")
	writeZip(t, src, "report-1.csv", readFile(t, filepath.Join(testdata, "koku-cur-test-data/test_cur.csv")))
	s := register(t, dir, "b.zip", src)
	if s.Table.Rows != 19 {
		t.Errorf("rows = %d, want 19", s.Table.Rows)
	}
	if !strings.HasPrefix(s.Table.Files[0].Local, cost.CacheDir(dir)) {
		t.Errorf("zip read from %q, not from the cache", s.Table.Files[0].Local)
	}
	db := session(t, dir)
	if row := queryOne(t, db, `SELECT sum(line_item_unblended_cost) FROM b.zip`); !near(row[0], 0.0827499841274349353) {
		t.Errorf("sum = %v", row[0])
	}
}

func TestListShowAndRemove(t *testing.T) {
	dir := t.TempDir()
	register(t, dir, "b.one", filepath.Join(testdata, "koku-cur-test-data/test_cur.csv"))
	register(t, dir, "a.two", filepath.Join(testdata, "focus-sample-data/focus_sample.csv"))
	// Registering again under the same name replaces the entry.
	register(t, dir, "b.one", filepath.Join(testdata, "koku-cur-test-data/2023-06-01.csv"))
	tables, err := cost.Tables(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range tables {
		names = append(names, tb.Name()+":"+string(tb.Format))
	}
	if got, want := strings.Join(names, " "), "a.two:focus b.one:cur1-csv"; got != want {
		t.Errorf("tables = %q, want %q", got, want)
	}
	if tb, err := cost.Lookup(dir, "b.one"); err != nil || tb.Rows != 3 {
		t.Errorf("lookup b.one = %d rows, %v; want 3 rows", tb.Rows, err)
	}
	if err := cost.Remove(dir, "b.one"); err != nil {
		t.Fatal(err)
	}
	if _, err := cost.Lookup(dir, "b.one"); err == nil {
		t.Error("b.one still registered after remove")
	}
	if err := cost.Remove(dir, "b.one"); err == nil {
		t.Error("removing a missing table succeeded")
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeZip(t *testing.T, p, name string, data []byte) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create(name)
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func writeGzip(t *testing.T, p string, data []byte, mtime time.Time) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write(data)
	zw.Close()
	f.Close()
	os.Chtimes(p, mtime, mtime)
}

func writeFile(t *testing.T, p string, data []byte, mtime time.Time) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, mtime, mtime)
}

func sortedPeriods(tb cost.Table) string {
	p := append([]string(nil), tb.Periods...)
	sort.Strings(p)
	return strings.Join(p, ",")
}

// A cost cell that does not parse as its column's type reads as NULL (TRY_CAST, as Athena
// does), so a sum over the column silently leaves it out: registration says so, per file and
// column, with the count and an example, and still registers. A clean real file gives no
// warning.
func TestValuesThatDoNotParseAreReportedAtRegistration(t *testing.T) {
	dir := t.TempDir()
	if s := register(t, dir, "c.clean", filepath.Join(testdata, "koku-cur-test-data/test_cur.csv")); len(s.Warnings) != 0 {
		t.Fatalf("the clean koku file gave warnings: %q", s.Warnings)
	}
	// The same real file, with three cost cells and one start date damaged as hand edits or a
	// spreadsheet's locale leave them.
	raw, err := os.ReadFile(filepath.Join(testdata, "koku-cur-test-data/test_cur.csv"))
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1 // the file's rows are shorter than its header where their last cells are empty
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string) int { return slices.Index(rows[0], name) }
	unblended, start := col("lineItem/UnblendedCost"), col("lineItem/UsageStartDate")
	rows[1][unblended], rows[2][unblended], rows[3][unblended] = "N/A", "1,25", "n/a"
	rows[4][start] = "yesterday"
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.WriteAll(rows)
	src := filepath.Join(t.TempDir(), "damaged.csv")
	if err := os.WriteFile(src, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s := register(t, dir, "c.damaged", src)
	want := []string{
		src + `: column line_item_usage_start_date has 1 value that is not a timestamp (e.g. "yesterday") and reads as NULL`,
		src + `: column line_item_unblended_cost has 3 values that are not a number (e.g. `,
	}
	if len(s.Warnings) != 2 || !slices.ContainsFunc(s.Warnings, func(w string) bool { return w == want[0] }) ||
		!slices.ContainsFunc(s.Warnings, func(w string) bool {
			return strings.HasPrefix(w, want[1]) && strings.HasSuffix(w, ") and read as NULL")
		}) {
		t.Fatalf("warnings %q\nwant\n%q", s.Warnings, want)
	}
	if s.Table.Rows != int64(len(rows)-1) {
		t.Errorf("rows %d, want %d", s.Table.Rows, len(rows)-1)
	}
	// The same lines as a Parquet file whose columns are all text (an export that typed
	// nothing): its text columns are cast in the scan.
	db, err := engine.Open(context.Background(), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pq := filepath.Join(t.TempDir(), "damaged.parquet")
	var named []string
	for _, h := range rows[0] {
		named = append(named, engine.Ident(h)+" AS "+engine.Ident(cost.AthenaName(h)))
	}
	if err := db.Exec(context.Background(), "COPY (SELECT "+strings.Join(named, ", ")+" FROM read_csv("+engine.Literal(src)+", all_varchar = true, null_padding = true)) TO "+engine.Literal(pq)+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	s = register(t, dir, "c.damagedparquet", pq)
	if len(s.Warnings) != 2 || !slices.ContainsFunc(s.Warnings, func(w string) bool {
		return w == pq+`: column line_item_usage_start_date has 1 value that is not a timestamp (e.g. "yesterday") and reads as NULL`
	}) {
		t.Fatalf("the Parquet file's warnings %q", s.Warnings)
	}
}

// A header that names a column twice (here the real koku file with its unblended cost repeated
// at the end, holding other values) is read with the first: registration says so.
func TestARepeatedColumnIsReportedAtRegistration(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testdata, "koku-cur-test-data/test_cur.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	lines[0] = strings.TrimRight(lines[0], "\r\n") + ",lineitem/unblendedcost\n"
	for i := 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "" {
			lines[i] = strings.TrimRight(lines[i], "\r\n") + ",999\n"
		}
	}
	src := filepath.Join(t.TempDir(), "repeated.csv")
	if err := os.WriteFile(src, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := register(t, dir, "c.repeated", src)
	want := src + `: the header names column "lineItem/UnblendedCost" 2 times; only the first is read`
	if len(s.Warnings) != 1 || s.Warnings[0] != want {
		t.Fatalf("warnings %q, want [%q]", s.Warnings, want)
	}
	if got := queryOne(t, session(t, dir), `SELECT max(line_item_unblended_cost) FROM "c"."repeated"`)[0]; got == 999.0 {
		t.Error("the repeated column's values were read")
	}
}

// A billing period after next month (a typing or clock error) is registered and said.
func TestABillingPeriodInTheFutureIsReportedAtRegistration(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testdata, "koku-cur-test-data/test_cur.csv"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "future.csv")
	if err := os.WriteFile(src, []byte(strings.Replace(string(raw), "2018-06-01T00:00:00Z", "2098-06-01T00:00:00Z", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := register(t, t.TempDir(), "c.future", src)
	if want := src + ": billing period 2098-06 is in the future"; len(s.Warnings) != 1 || s.Warnings[0] != want || !slices.Equal(s.Table.Periods, []string{"2018-06", "2098-06"}) {
		t.Fatalf("warnings %q periods %q, want [%q] and both periods", s.Warnings, s.Table.Periods, want)
	}
}
