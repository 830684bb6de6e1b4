package cli_test

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/engine"
)

// focusFromCUR converts a registered CUR table to a FOCUS 1.0 CSV by the rules of the FinOps
// Foundation's converter (testdata/focus-converters-aws-cur-sample/aws-cur.csv: BilledCost,
// ChargeCategory, EffectiveCost, ResourceId, ServiceName, ChargePeriodStart/End), so the test
// has a FOCUS table for a generated organization.
func focusFromCUR(t *testing.T, dataDir, table, out string) {
	t.Helper()
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "256MB", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := cost.Register(ctx, db, dataDir); err != nil {
		t.Fatal(err)
	}
	// Columns the generated CUR 1.0 lacks are added as NULL so the rules bind.
	from := "SELECT *"
	for _, col := range []string{"line_item_net_unblended_cost", "savings_plan_total_commitment_to_date", "reservation_effective_cost"} {
		var n int
		if err := db.QueryRow(ctx, "SELECT count(*) FROM (DESCRIBE SELECT * FROM "+table+") WHERE column_name = ?", col).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			from += ", NULL::DOUBLE AS " + col
		}
	}
	q := `SELECT line_item_resource_id AS ResourceId,
		coalesce(line_item_net_unblended_cost, line_item_unblended_cost) AS BilledCost,
		CASE line_item_line_item_type
			WHEN 'SavingsPlanCoveredUsage' THEN savings_plan_savings_plan_effective_cost
			WHEN 'SavingsPlanRecurringFee' THEN savings_plan_total_commitment_to_date - savings_plan_used_commitment
			WHEN 'SavingsPlanNegation' THEN 0 WHEN 'SavingsPlanUpfrontFee' THEN 0
			WHEN 'DiscountedUsage' THEN reservation_effective_cost
			ELSE line_item_unblended_cost END AS EffectiveCost,
		CASE WHEN line_item_line_item_type = 'Tax' THEN 'Tax'
			WHEN line_item_line_item_type IN ('Fee', 'SavingsPlanUpfrontFee', 'RIFee', 'SavingsPlanRecurringFee') THEN 'Purchase'
			WHEN line_item_line_item_type IN ('Credit', 'Refund') THEN 'Adjustment'
			ELSE 'Usage' END AS ChargeCategory,
		line_item_product_code AS ServiceName,
		line_item_usage_start_date AS ChargePeriodStart, line_item_usage_end_date AS ChargePeriodEnd,
		bill_billing_period_start_date AS BillingPeriodStart, line_item_usage_account_id AS SubAccountId
		FROM (` + from + ` FROM ` + table + `)`
	if err := db.Exec(ctx, "COPY ("+q+") TO "+engine.Literal(out)+" (HEADER, DELIMITER ',')"); err != nil {
		t.Fatal(err)
	}
}

type reportRow struct {
	InstanceID string  `json:"instance_id"`
	Status     string  `json:"status"`
	Unblended  float64 `json:"unblended_cost"`
	Effective  float64 `json:"effective_cost"`
}

// A generated organization's reports read the same from its CUR table and from the FOCUS
// conversion of it: launch-compliance, daily-spend and instance used to fail on FOCUS with
// "no column line_item_resource_id".
func TestReportsOnFOCUSMatchTheCURTheyWereConvertedFrom(t *testing.T) {
	src, dir := t.TempDir(), t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "3000", "--days", "3", "--seed", "5", "--cur")
	createStore(t, dir, "org")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "org", filepath.Join(src, "AWSLogs"))
	mustRun(t, 0, dir, "cur", "register", "cur.c1", filepath.Join(src, "cur"))
	focus := filepath.Join(t.TempDir(), "focus.csv")
	focusFromCUR(t, dir, `"cur"."c1"`, focus)
	if out := mustRun(t, 0, dir, "cur", "register", "cur.focus", focus); !strings.Contains(out, "(focus)") {
		t.Fatalf("the converted file was not detected as FOCUS:\n%s", out)
	}

	launches := func(table string) map[string]reportRow {
		var rep struct{ Rows []reportRow }
		if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "report", "launch-compliance", "--eds", "org", "--cur", table, "--format", "json")), &rep); err != nil {
			t.Fatal(err)
		}
		out := map[string]reportRow{}
		for _, r := range rep.Rows {
			out[r.InstanceID] = r
		}
		return out
	}
	cur, foc := launches("cur.c1"), launches("cur.focus")
	billed, sp := 0, 0
	for id, c := range cur {
		f := foc[id]
		if math.Abs(c.Unblended-f.Unblended) > 1e-6 || math.Abs(c.Effective-f.Effective) > 1e-6 {
			t.Errorf("%s: CUR %v/%v, FOCUS %v/%v", id, c.Unblended, c.Effective, f.Unblended, f.Effective)
		}
		if c.Unblended != 0 {
			billed++
		}
		if math.Abs(c.Unblended-c.Effective) > 1e-6 {
			sp++
		}
	}
	if len(cur) != len(foc) || billed == 0 || sp == 0 {
		t.Fatalf("instances CUR %d FOCUS %d, billed %d, with an effective cost of their own %d: the test proves nothing", len(cur), len(foc), billed, sp)
	}

	daily := func(table string) map[string]reportRow {
		var rep struct {
			Rows []struct {
				Day, Status string
				Unblended   float64 `json:"unblended_cost"`
				Effective   float64 `json:"effective_cost"`
			}
		}
		if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "report", "daily-spend", "--eds", "org", "--cur", table, "--format", "json")), &rep); err != nil {
			t.Fatal(err)
		}
		out := map[string]reportRow{}
		for _, r := range rep.Rows {
			out[r.Day+" "+r.Status] = reportRow{Unblended: r.Unblended, Effective: r.Effective}
		}
		return out
	}
	dc, df := daily("cur.c1"), daily("cur.focus")
	if len(dc) == 0 || len(dc) != len(df) {
		t.Errorf("daily rows CUR %d, FOCUS %d", len(dc), len(df))
	}
	for k, c := range dc {
		if f := df[k]; math.Abs(c.Unblended-f.Unblended) > 1e-6 || math.Abs(c.Effective-f.Effective) > 1e-6 {
			t.Errorf("daily %s: CUR %+v, FOCUS %+v", k, c, f)
		}
	}

	for id, c := range cur {
		if c.Unblended == 0 {
			continue
		}
		a := mustRun(t, 0, dir, "instance", "--eds", "org", "--cur", "cur.c1", "--format", "json", id)
		b := mustRun(t, 0, dir, "instance", "--eds", "org", "--cur", "cur.focus", "--format", "json", id)
		var ca, cb struct {
			DailyCost []reportRow `json:"daily_cost"`
		}
		if err := json.Unmarshal([]byte(a), &ca); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(b), &cb); err != nil {
			t.Fatal(err)
		}
		if len(ca.DailyCost) == 0 || len(ca.DailyCost) != len(cb.DailyCost) {
			t.Fatalf("instance %s: cost days CUR %d, FOCUS %d\n%s\n%s", id, len(ca.DailyCost), len(cb.DailyCost), a, b)
		}
		for i := range ca.DailyCost {
			if math.Abs(ca.DailyCost[i].Unblended-cb.DailyCost[i].Unblended) > 1e-6 || math.Abs(ca.DailyCost[i].Effective-cb.DailyCost[i].Effective) > 1e-6 {
				t.Errorf("instance %s day %d: CUR %+v, FOCUS %+v", id, i, ca.DailyCost[i], cb.DailyCost[i])
			}
		}
		break
	}
}
