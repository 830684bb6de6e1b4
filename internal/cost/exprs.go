package cost

import (
	"strings"

	"github.com/auditlake/auditlake/internal/engine"
)

// Expressions are SQL expressions over a cost table's view columns that mean the same thing in
// every format, for reports that join cost with events (the compliance report). A column a table
// lacks becomes a typed NULL, so the expressions always bind.
type Expressions struct {
	ResourceID     string // the EC2 instance id for instance-hours
	ProductCode    string // AmazonEC2, …
	LineItemType   string // Usage, Tax, …; FOCUS ChargeCategory
	UsageStart     string // TIMESTAMP, inclusive
	UsageEnd       string // TIMESTAMP, exclusive
	UnblendedCost  string // DOUBLE; FOCUS BilledCost
	EffectiveCost  string // DOUBLE, amortised (RIs, Savings Plans)
	UsageType      string // e.g. USW2-BoxUsage:m5.large; FOCUS SkuPriceId has no equivalent
	UsageAccountID string
}

// Expressions returns the format's expressions for t.
func (t Table) Expressions() Expressions {
	have := map[string]bool{}
	for _, c := range t.Columns() {
		have[strings.ToLower(c.Name)] = true
	}
	col := func(name, typ string) string {
		if have[strings.ToLower(name)] {
			return engine.Ident(name)
		}
		return "CAST(NULL AS " + typ + ")"
	}
	d := func(name string) string { return col(name, typeDouble) }
	if t.Format == FormatFOCUS {
		usageType := "CAST(NULL AS VARCHAR)"
		if have["x_usagetype"] {
			usageType = engine.Ident("x_UsageType")
		}
		return Expressions{
			ResourceID:     col("ResourceId", typeVarchar),
			ProductCode:    col("ServiceName", typeVarchar),
			LineItemType:   col("ChargeCategory", typeVarchar),
			UsageStart:     col("ChargePeriodStart", typeTimestamp),
			UsageEnd:       col("ChargePeriodEnd", typeTimestamp),
			UnblendedCost:  d("BilledCost"),
			EffectiveCost:  d("EffectiveCost"),
			UsageType:      usageType,
			UsageAccountID: col("SubAccountId", typeVarchar),
		}
	}
	typ := col("line_item_line_item_type", typeVarchar)
	unblended := d("line_item_unblended_cost")
	effective := "CASE " +
		"WHEN " + typ + " = 'SavingsPlanCoveredUsage' THEN " + d("savings_plan_savings_plan_effective_cost") + " " +
		"WHEN " + typ + " = 'SavingsPlanRecurringFee' THEN " + d("savings_plan_total_commitment_to_date") + " - " + d("savings_plan_used_commitment") + " " +
		"WHEN " + typ + " IN ('SavingsPlanNegation', 'SavingsPlanUpfrontFee') THEN 0 " +
		"WHEN " + typ + " = 'DiscountedUsage' THEN " + d("reservation_effective_cost") + " " +
		"WHEN " + typ + " = 'RIFee' THEN " + d("reservation_unused_amortized_upfront_fee_for_billing_period") + " + " + d("reservation_unused_recurring_fee") + " " +
		"WHEN " + typ + " = 'Fee' AND coalesce(" + col("reservation_reservation_a_r_n", typeVarchar) + ", '') <> '' THEN 0 " +
		"ELSE " + unblended + " END"
	return Expressions{
		ResourceID:     col("line_item_resource_id", typeVarchar),
		ProductCode:    col("line_item_product_code", typeVarchar),
		LineItemType:   typ,
		UsageStart:     col("line_item_usage_start_date", typeTimestamp),
		UsageEnd:       col("line_item_usage_end_date", typeTimestamp),
		UnblendedCost:  unblended,
		EffectiveCost:  effective,
		UsageType:      col("line_item_usage_type", typeVarchar),
		UsageAccountID: col("line_item_usage_account_id", typeVarchar),
	}
}

// SQLName is the quoted "DATABASE"."TABLE" of the view.
func (t Table) SQLName() string { return engine.Ident(t.Database) + "." + engine.Ident(t.Table) }
