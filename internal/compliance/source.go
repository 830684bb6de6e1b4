package compliance

import (
	"context"
	"fmt"
	"strings"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// storeID returns the id of event data store name (a name or an id), or an error that names it
// when the session has no such store.
func storeID(s *query.Session, name string) (string, error) {
	for _, st := range s.Stores {
		if st.Name == name || st.ID == name {
			return st.ID, nil
		}
	}
	return "", fmt.Errorf("%w: %q", lake.ErrNotFound, name) // "no such event data store: …"
}

// storeTable returns the quoted table of event data store name (a name or an id), or an error
// that names it when the session has no such store.
func storeTable(s *query.Session, name string) (string, error) {
	for _, st := range s.Stores {
		if st.Name == name || st.ID == name {
			return engine.Ident(query.Schema) + "." + engine.Ident(st.ID), nil
		}
	}
	return "", fmt.Errorf("%w: %q", lake.ErrNotFound, name) // "no such event data store: …"
}

// costTable describes a cost table by the SQL expressions of the columns the reports need: a
// resource id, a cost per line, its product, kind and start time. CUR tables (Athena's CUR 1.0
// and CUR 2.0 column names, aws-formats.md §4.1) and FOCUS tables are understood; columns a
// table lacks, other than the resource id and the cost, read as NULL/0.
type costTable struct {
	from       string // quoted table
	resourceID string
	product    string // the AWS service code: AmazonEC2, …
	lineType   string
	excluded   string // SQL list of the lineType values the reports leave out
	usageStart string
	unblended  string
	effective  string
}

// openCost inspects table ("db.table" or "table") in the session and builds its expressions.
// A table with neither CUR nor FOCUS columns is refused with what the reports need.
func openCost(ctx context.Context, s *query.Session, table string) (*costTable, error) {
	schema, name, ok := strings.Cut(table, ".")
	if !ok {
		schema, name = "main", table
	}
	schema, name = strings.Trim(schema, `"`), strings.Trim(name, `"`)
	res, err := s.RunInternal(ctx, `SELECT lower(column_name) FROM duckdb_columns() WHERE schema_name = ? AND table_name = ?`, schema, name)
	if err != nil {
		return nil, fmt.Errorf("inspect cost table %q: %w", table, err)
	}
	if len(res.Rows) == 0 {
		return nil, fmt.Errorf("no such cost table: %q", table)
	}
	has := map[string]bool{}
	for _, r := range res.Rows {
		has[fmt.Sprint(r[0])] = true
	}
	num := func(col string) string {
		if !has[col] {
			return "0::DOUBLE"
		}
		return "coalesce(TRY_CAST(" + engine.Ident(col) + " AS DOUBLE), 0)"
	}
	str := func(col string) string {
		if !has[col] {
			return "NULL::VARCHAR"
		}
		return "CAST(" + engine.Ident(col) + " AS VARCHAR)"
	}
	ts := func(col string) string {
		if !has[col] {
			return "NULL::TIMESTAMP"
		}
		return "TRY_CAST(" + engine.Ident(col) + " AS TIMESTAMP)"
	}
	c := &costTable{from: engine.Ident(schema) + "." + engine.Ident(name)}
	switch {
	case has["line_item_resource_id"] && has["line_item_unblended_cost"]:
		c.resourceID = str("line_item_resource_id")
		c.product = str("line_item_product_code")
		c.lineType = str("line_item_line_item_type")
		c.excluded = "'Tax', 'Refund', 'Credit'"
		c.usageStart = ts("line_item_usage_start_date")
		c.unblended = num("line_item_unblended_cost")
		// Amortised cost per line as the FOCUS converter computes EffectiveCost (aws-formats.md §4.1).
		c.effective = "CASE " + c.lineType +
			" WHEN 'SavingsPlanCoveredUsage' THEN " + num("savings_plan_savings_plan_effective_cost") +
			" WHEN 'SavingsPlanRecurringFee' THEN " + num("savings_plan_total_commitment_to_date") + " - " + num("savings_plan_used_commitment") +
			" WHEN 'SavingsPlanNegation' THEN 0 WHEN 'SavingsPlanUpfrontFee' THEN 0" +
			" WHEN 'DiscountedUsage' THEN " + num("reservation_effective_cost") +
			" WHEN 'RIFee' THEN " + num("reservation_unused_amortized_upfront_fee_for_billing_period") + " + " + num("reservation_unused_recurring_fee") +
			" ELSE " + c.unblended + " END"
	case has["resourceid"] && has["billedcost"]:
		// FOCUS 1.x: ResourceId, BilledCost, EffectiveCost (amortised by the provider),
		// ChargePeriodStart, ChargeCategory. The service is AWS's x_ServiceCode where the export
		// has it, else ServiceName: AWS's FOCUS export names EC2 "Amazon Elastic Compute Cloud",
		// the FOCUS converter keeps the product code.
		// FOCUS allows the resource's ARN as its id: an EC2 instance's ARN reads as its id.
		c.resourceID = "regexp_replace(" + str("resourceid") + ", '^arn:aws[a-z-]*:ec2:[^:]*:[0-9]*:instance/', '')"
		service := str("servicename")
		c.product = "CASE " + service + " WHEN 'Amazon Elastic Compute Cloud' THEN 'AmazonEC2' ELSE " + service + " END"
		if has["x_servicecode"] {
			c.product = "coalesce(" + str("x_servicecode") + ", " + c.product + ")"
		}
		c.lineType = str("chargecategory")
		// Credits and refunds are ChargeCategory Credit (FOCUS 1.0) or Adjustment.
		c.excluded = "'Tax', 'Credit', 'Adjustment'"
		c.usageStart = ts("chargeperiodstart")
		c.unblended = num("billedcost")
		c.effective = c.unblended
		if has["effectivecost"] {
			c.effective = num("effectivecost")
		}
	default:
		return nil, fmt.Errorf("cost table %q has neither CUR columns (line_item_resource_id, line_item_unblended_cost) nor FOCUS columns (ResourceId, BilledCost): the reports need a resource id and a cost on every line, and use the line's product, type and usage start when present", table)
	}
	return c, nil
}

// ec2Lines is the WHERE clause of the EC2 lines the reports count: product AmazonEC2, taxes,
// refunds and credits excluded as in the blog's recipe.
func (c *costTable) ec2Lines() string {
	return c.product + " = 'AmazonEC2' AND coalesce(" + c.lineType + ", '') NOT IN (" + c.excluded + ")"
}

// perInstance is the cost subquery aggregated once per instance id.
func (c *costTable) perInstance() string {
	if c == nil {
		return "SELECT NULL::VARCHAR AS instance_id, 0::DOUBLE AS unblended_cost, 0::DOUBLE AS effective_cost WHERE false"
	}
	return "SELECT " + c.resourceID + " AS instance_id, sum(" + c.unblended + ") AS unblended_cost, sum(" + c.effective + ") AS effective_cost FROM " +
		c.from + " WHERE " + c.ec2Lines() + " AND " + c.resourceID + " LIKE 'i-%' GROUP BY 1"
}
