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

// FOCUS lets ResourceId be the resource's ARN; an EC2 instance ARN is read as the instance id.
// The fixture's i-0d00000000000a001 is billed 1.00 + 1.50 on two lines (one by id, one by ARN);
// the Tax line and the Credit are left out.
func TestFOCUSResourceIdMayBeTheInstanceARN(t *testing.T) {
	s := openFixture(t)
	ctx := context.Background()
	if err := s.ExecInternal(ctx, `CREATE OR REPLACE TABLE main.focus_arn AS SELECT * FROM (VALUES
		('i-0d00000000000a001', 1.00, 0.90, TIMESTAMP '2026-09-01 10:00:00', 'Usage', 'Amazon Elastic Compute Cloud'),
		('arn:aws:ec2:us-east-1:111122223333:instance/i-0d00000000000a001', 1.50, 1.20, TIMESTAMP '2026-09-02 00:00:00', 'Usage', 'Amazon Elastic Compute Cloud'),
		('arn:aws:ec2:us-east-1:111122223333:instance/i-0d00000000000a001', 0.20, 0.20, TIMESTAMP '2026-09-02 00:00:00', 'Tax', 'Amazon Elastic Compute Cloud'),
		('i-0d00000000000a001', -0.50, -0.50, TIMESTAMP '2026-09-02 00:00:00', 'Credit', 'Amazon Elastic Compute Cloud'))
		AS v(ResourceId, BilledCost, EffectiveCost, ChargePeriodStart, ChargeCategory, ServiceName)`); err != nil {
		t.Fatal(err)
	}
	tr, err := compliance.Instance(ctx, s, "i-0d00000000000a001", compliance.Params{Store: "prod-trail", Cost: "focus_arn"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Summary == nil || math.Abs(tr.Summary.UnblendedCost-2.5) > 1e-9 || math.Abs(tr.Summary.EffectiveCost-2.1) > 1e-9 || len(tr.DailyCost) != 2 {
		t.Errorf("summary %+v, daily %+v; want 2.50 billed, 2.10 effective over 2 days", tr.Summary, tr.DailyCost)
	}
}
