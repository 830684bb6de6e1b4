package generate_test

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/generate"
)

func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(zr).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, h := range rows[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func TestCUR2InstanceHoursMatchTruthHourByHour(t *testing.T) {
	o := load(t)
	files, _ := filepath.Glob(filepath.Join(o.cfg.Out, "cur2", generate.CURExport, "data", "BILLING_PERIOD=*", "*.csv.gz"))
	if len(files) == 0 {
		t.Fatal("no CUR 2.0 data files")
	}
	byID := map[string]generate.Instance{}
	for _, in := range o.truth.Instances {
		byID[in.ID] = in
	}
	cost := map[string]float64{}
	negation := map[string]float64{}
	kinds := map[string]int{}
	for _, f := range files {
		for _, r := range readCSV(t, f) {
			kinds[r["line_item_line_item_type"]]++
			id := r["line_item_resource_id"]
			if !strings.HasPrefix(id, "i-") {
				continue
			}
			in, ok := byID[id]
			if !ok {
				t.Fatalf("line for unknown instance %s", id)
			}
			c, _ := strconv.ParseFloat(r["line_item_unblended_cost"], 64)
			start, err := time.Parse("2006-01-02T15:04:05.000Z", r["line_item_usage_start_date"])
			if err != nil {
				t.Fatal(err)
			}
			if start.Before(in.LaunchTime.Truncate(time.Hour)) || (!in.TerminationTime.IsZero() && !start.Before(in.TerminationTime)) {
				t.Errorf("%s billed for %s outside its life %s–%s", id, start, in.LaunchTime, in.TerminationTime)
			}
			wantUsage := "BoxUsage:"
			if in.Spot {
				wantUsage = "SpotUsage:"
			}
			if !strings.Contains(r["line_item_usage_type"], wantUsage+in.InstanceType) {
				t.Errorf("%s: usage type %q, want %s%s", id, r["line_item_usage_type"], wantUsage, in.InstanceType)
			}
			switch r["line_item_line_item_type"] {
			case "Usage", "SavingsPlanCoveredUsage":
				cost[id] += c
			case "SavingsPlanNegation":
				negation[id] += c
			}
		}
	}
	for _, in := range o.truth.Instances {
		if math.Abs(cost[in.ID]-in.Cost) > 1e-5 {
			t.Errorf("%s: CUR instance-hour cost %.6f, truth %.6f", in.ID, cost[in.ID], in.Cost)
		}
		if in.SavingsPlanCovered && math.Abs(negation[in.ID]+cost[in.ID]) > 1e-5 {
			t.Errorf("%s: negation %.6f does not offset covered usage %.6f", in.ID, negation[in.ID], cost[in.ID])
		}
	}
	for _, k := range []string{"Usage", "SavingsPlanCoveredUsage", "SavingsPlanNegation", "Tax", "Credit"} {
		if kinds[k] == 0 {
			t.Errorf("no %s line items", k)
		}
	}
}

func TestCUR1NewestManifestNamesTheCurrentAssemblyOnly(t *testing.T) {
	o := load(t)
	periods, _ := filepath.Glob(filepath.Join(o.cfg.Out, "cur", generate.CURReport, "*-*"))
	if len(periods) == 0 {
		t.Fatal("no CUR 1.0 billing periods")
	}
	cur2, _ := filepath.Glob(filepath.Join(o.cfg.Out, "cur2", generate.CURExport, "data", "BILLING_PERIOD=*", "*.csv.gz"))
	cur2Rows := 0
	for _, f := range cur2 {
		cur2Rows += len(readCSV(t, f))
	}
	cur1Rows := 0
	for _, period := range periods {
		var top struct {
			AssemblyID string   `json:"assemblyId"`
			ReportKeys []string `json:"reportKeys"`
		}
		b, err := os.ReadFile(filepath.Join(period, generate.CURReport+"-Manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &top); err != nil {
			t.Fatal(err)
		}
		asms, _ := filepath.Glob(filepath.Join(period, "*", generate.CURReport+"-1.csv.gz"))
		if len(asms) != 2 {
			t.Fatalf("%s: %d assemblies, want the current one and one superseded", period, len(asms))
		}
		rows := map[string]int{}
		for _, a := range asms {
			rs := readCSV(t, a)
			rows[filepath.Base(filepath.Dir(a))] = len(rs)
			if rs[0]["lineItem/LineItemType"] == "" || rs[0]["identity/TimeInterval"] == "" {
				t.Errorf("%s: slash headers missing", a)
			}
		}
		if len(top.ReportKeys) != 1 || !strings.Contains(top.ReportKeys[0], top.AssemblyID) {
			t.Errorf("%s: manifest keys %v do not name assembly %s", period, top.ReportKeys, top.AssemblyID)
		}
		for id, n := range rows {
			if id != top.AssemblyID && n >= rows[top.AssemblyID] {
				t.Errorf("%s: superseded assembly %s has %d rows, current %d: want fewer", period, id, n, rows[top.AssemblyID])
			}
		}
		cur1Rows += rows[top.AssemblyID]
	}
	if cur1Rows != cur2Rows || int64(cur1Rows) != o.truth.Totals.CURLines {
		t.Errorf("current CUR 1.0 rows %d, CUR 2.0 rows %d, truth %d: want equal", cur1Rows, cur2Rows, o.truth.Totals.CURLines)
	}
}
