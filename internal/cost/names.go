package cost

import (
	"strings"
	"unicode"
)

// AthenaName turns a CUR 1.0 CSV header such as "lineItem/UnblendedCost" into the column name
// AWS's Athena integration gives it ("line_item_unblended_cost"), by the rules of the CUR user
// guide: an underscore before every uppercase letter, everything lowercased, every
// non-alphanumeric character replaced by an underscore, runs of underscores collapsed, leading
// and trailing underscores trimmed. Non-ASCII letters count as non-alphanumeric. Names that are already in that form are returned unchanged.
func AthenaName(header string) string {
	var b strings.Builder
	for _, r := range header {
		switch {
		case r < 128 && unicode.IsUpper(r):
			// Only ASCII letters are kept: a lowered non-ASCII capital ("Ș" -> "ș") would not
			// be a valid Athena name and a second pass would change it again.
			b.WriteByte('_')
			b.WriteRune(unicode.ToLower(r))
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	for strings.Contains(s, "__") {
		s = strings.ReplaceAll(s, "__", "_")
	}
	return strings.Trim(s, "_")
}

// Column types of the views, as Athena has them.
const (
	typeVarchar   = "VARCHAR"
	typeDouble    = "DOUBLE"
	typeTimestamp = "TIMESTAMP"
	typeMapString = "MAP(VARCHAR, VARCHAR)"
	typeMapDouble = "MAP(VARCHAR, DOUBLE)"
)

// curTimestamps are the CUR columns Athena types as timestamp. The reservation and Savings Plan
// start/end times stay strings, as in the Glue tables AWS publishes.
var curTimestamps = map[string]bool{
	"bill_billing_period_start_date": true,
	"bill_billing_period_end_date":   true,
	"line_item_usage_start_date":     true,
	"line_item_usage_end_date":       true,
}

// curDoubles are the CUR columns Athena types as double (costs, amounts, the normalization
// factor, commitment figures). Rates stay strings.
var curDoubles = map[string]bool{
	"line_item_blended_cost":                                           true,
	"line_item_unblended_cost":                                         true,
	"line_item_net_unblended_cost":                                     true,
	"line_item_usage_amount":                                           true,
	"line_item_normalization_factor":                                   true,
	"line_item_normalized_usage_amount":                                true,
	"pricing_public_on_demand_cost":                                    true,
	"reservation_amortized_upfront_cost_for_usage":                     true,
	"reservation_amortized_upfront_fee_for_billing_period":             true,
	"reservation_effective_cost":                                       true,
	"reservation_net_amortized_upfront_cost_for_usage":                 true,
	"reservation_net_amortized_upfront_fee_for_billing_period":         true,
	"reservation_net_effective_cost":                                   true,
	"reservation_net_recurring_fee_for_usage":                          true,
	"reservation_net_unused_amortized_upfront_fee_for_billing_period":  true,
	"reservation_net_unused_recurring_fee":                             true,
	"reservation_net_upfront_value":                                    true,
	"reservation_recurring_fee_for_usage":                              true,
	"reservation_unused_amortized_upfront_fee_for_billing_period":      true,
	"reservation_unused_normalized_unit_quantity":                      true,
	"reservation_unused_quantity":                                      true,
	"reservation_unused_recurring_fee":                                 true,
	"reservation_upfront_value":                                        true,
	"savings_plan_amortized_upfront_commitment_for_billing_period":     true,
	"savings_plan_net_amortized_upfront_commitment_for_billing_period": true,
	"savings_plan_net_recurring_commitment_for_billing_period":         true,
	"savings_plan_net_savings_plan_effective_cost":                     true,
	"savings_plan_recurring_commitment_for_billing_period":             true,
	"savings_plan_savings_plan_effective_cost":                         true,
	"savings_plan_savings_plan_rate":                                   true,
	"savings_plan_total_commitment_to_date":                            true,
	"savings_plan_used_commitment":                                     true,
	"discount_total_discount":                                          true,
	"discount_bundled_discount":                                        true,
}

// cur2Maps are the CUR 2.0 map columns and their types.
var cur2Maps = map[string]string{
	"product":       typeMapString,
	"resource_tags": typeMapString,
	"cost_category": typeMapString,
	"tags":          typeMapString,
	"discount":      typeMapDouble,
}

// focusDoubles and focusTimestamps type FOCUS columns as the CID Glue table does.
var focusDoubles = map[string]bool{
	"billedcost": true, "effectivecost": true, "listcost": true, "listunitprice": true,
	"contractedcost": true, "contractedunitprice": true, "consumedquantity": true,
	"pricingquantity": true, "commitmentdiscountquantity": true,
	"pricingcurrencycontractedunitprice": true, "pricingcurrencyeffectivecost": true,
	"pricingcurrencylistunitprice": true,
}

var focusTimestamps = map[string]bool{
	"billingperiodstart": true, "billingperiodend": true, "chargeperiodstart": true, "chargeperiodend": true,
}

// columnType is the view type of a column (already normalised for CUR) in a table of format f.
func columnType(f Format, name string) string {
	if f == FormatFOCUS {
		l := strings.ToLower(name)
		switch {
		case focusDoubles[l]:
			return typeDouble
		case focusTimestamps[l]:
			return typeTimestamp
		}
		return typeVarchar
	}
	if f == FormatCUR2 {
		if t, ok := cur2Maps[name]; ok {
			return t
		}
	}
	switch {
	case curTimestamps[name]:
		return typeTimestamp
	case curDoubles[name], strings.HasPrefix(name, "split_line_item_") && name != "split_line_item_parent_resource_id":
		return typeDouble
	}
	return typeVarchar
}
