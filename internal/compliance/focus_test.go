package compliance_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/compliance"
)

// The FOCUS 1.0 sample's EC2 lines (ServiceName "Amazon Elastic Compute Cloud", ChargeCategory
// not Tax/Credit/Adjustment): 553 lines over 30 days of September 2024, BilledCost 18.6553930505,
// EffectiveCost 16, one Credit of -2.6137 on 2024-09-24 left out; 2024-09-24 alone is 2.8032821332
// billed, 3 effective (Python's csv and decimal over the file). None of its (garbled) instance
// ids is launched in the fixture's trail, so every line is unattributed.
func TestDailySpendReadsAFOCUSTable(t *testing.T) {
	s := openFixture(t)
	d, err := compliance.DailySpend(context.Background(), s, compliance.Params{Store: "prod-trail", Cost: "cur.focus_sample"})
	if err != nil {
		t.Fatal(err)
	}
	var billed, effective float64
	for _, r := range d.Rows {
		if r.Status != compliance.StatusUnattributed || !strings.HasPrefix(r.Day, "2024-09-") {
			t.Errorf("row %+v: want unattributed days of September 2024", r)
		}
		billed += r.Unblended
		effective += r.Effective
		if r.Day == "2024-09-24" && (math.Abs(r.Unblended-2.8032821332) > 1e-9 || r.Effective != 3) {
			t.Errorf("2024-09-24 = %+v, want 2.8032821332 billed, 3 effective (the credit left out)", r)
		}
	}
	if len(d.Rows) != 30 || math.Abs(billed-18.6553930505) > 1e-9 || math.Abs(effective-16) > 1e-9 {
		t.Errorf("%d days, billed %v, effective %v; want 30, 18.6553930505, 16", len(d.Rows), billed, effective)
	}
	r, err := compliance.LaunchCompliance(context.Background(), s, compliance.Params{Store: "prod-trail", Cost: "cur.focus_sample"})
	if err != nil {
		t.Fatalf("launch compliance over FOCUS: %v", err)
	}
	if r.Summary.Instances == 0 || r.Summary.Unblended != 0 {
		t.Errorf("summary %+v: want the trail's instances, none billed in the sample", r.Summary)
	}
}

// A table with neither CUR nor FOCUS columns is refused at report time, saying what is needed.
func TestReportsRefuseACostTableWithoutCostColumns(t *testing.T) {
	s := openFixture(t)
	if err := s.ExecInternal(context.Background(), `CREATE OR REPLACE TABLE main.not_cost AS SELECT 'i-1' AS instance, 1.0 AS amount`); err != nil {
		t.Fatal(err)
	}
	_, err := compliance.DailySpend(context.Background(), s, compliance.Params{Store: "prod-trail", Cost: "not_cost"})
	if err == nil || !strings.Contains(err.Error(), "neither CUR columns (line_item_resource_id, line_item_unblended_cost) nor FOCUS columns (ResourceId, BilledCost)") {
		t.Errorf("error = %v", err)
	}
}
