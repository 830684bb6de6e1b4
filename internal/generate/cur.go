package generate

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Cost files. WriteCUR bills the plan's instances hour by hour in two formats:
//
//	DIR/cur/<report>/yyyymmdd-yyyymmdd/<assemblyId>/<report>-1.csv.gz   CUR 1.0, slash headers
//	DIR/cur/<report>/yyyymmdd-yyyymmdd/<assemblyId>/<report>-Manifest.json
//	DIR/cur/<report>/yyyymmdd-yyyymmdd/<report>-Manifest.json            names the newest assembly
//	DIR/cur2/<export>/data/BILLING_PERIOD=YYYY-MM/<export>-00001.csv.gz  CUR 2.0 (Data Exports)
//	DIR/cur2/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json
//
// Every billing period of CUR 1.0 also has one superseded, older assembly (the same report cut
// off half-way through the period), as AWS leaves behind when it rebuilds a report: a reader must
// take the newest manifest's reportKeys only.

// CUR names, fixed so tests and docs can point at them.
const (
	CURReport = "auditlake-cur"
	CURExport = "auditlake-cur2"
)

// curLine is one cost line item before it is written in either format.
type curLine struct {
	id, account, typ               string
	start, end                     time.Time
	product, usageType, operation  string
	az, resource                   string
	amount, rate, cost             float64
	description, term, unit        string
	instanceType, family, region   string
	publicRate, publicCost         float64
	spARN                          string
	spRate, spEffective, spCommitU float64
}

// usagePrefix is the region prefix of CUR usage types ("" for us-east-1).
func usagePrefix(region string) string {
	switch region {
	case "us-east-1":
		return ""
	case "us-east-2":
		return "USE2-"
	case "us-west-1":
		return "USW1-"
	case "us-west-2":
		return "USW2-"
	case "eu-west-1":
		return "EU-"
	case "eu-central-1":
		return "EUC1-"
	case "ap-southeast-2":
		return "APS2-"
	}
	code := strings.ToUpper(strings.ReplaceAll(azID(region, "a"), "-az1", ""))
	return code + "-"
}

// savingsPlanCovered says whether a Compute Savings Plan covers an On-Demand instance: a fixed,
// seed-free rule (about a third of On-Demand instances in the management account's plan) so
// tests can recompute it.
func savingsPlanCovered(in *Instance) bool {
	return !in.Spot && in.ID[len(in.ID)-1]%3 == 0
}

// InstanceCost returns the unblended cost of in's running hours within [from, to).
func (in *Instance) InstanceCost(from, to time.Time) float64 {
	c := 0.0
	for _, h := range in.RunningHours(from, to) {
		c += round10(h.Fraction) * in.HourlyPrice
	}
	return c
}

func round10(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 10, 64), 64)
	return v
}

// lines calls emit for every line item of one billing period [from, to), cut off at asOf.
func (p *Plan) lines(from, to, asOf time.Time, assembly string, emit func(*curLine) error) error {
	end := minTime(to, asOf)
	n := 0
	id := func(parts ...string) string {
		n++
		h := mix(p.Config.Seed, uint64(n), uint64(len(assembly)))
		for _, s := range parts {
			for _, c := range []byte(s) {
				h = mix(h, uint64(c))
			}
		}
		return fmt.Sprintf("%016x%016x", h, mix(h, 7))[:32]
	}
	taxBase := map[string]float64{}
	spARN := "arn:aws:savingsplans::" + p.Accounts[0].ID + ":savingsplan/" + fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", mix(p.Config.Seed, 9)>>32, 0x1a2b, 0x3c4d, 0x8e5f, mix(p.Config.Seed, 10)>>16)
	for i := range p.Instances {
		in := &p.Instances[i]
		prefix := usagePrefix(in.Region)
		family := strings.SplitN(in.InstanceType, ".", 2)[0]
		for _, h := range in.RunningHours(from, end) {
			amt := round10(h.Fraction)
			l := curLine{account: in.Account, typ: "Usage", start: h.Hour, end: h.Hour.Add(time.Hour), product: "AmazonEC2",
				usageType: prefix + "BoxUsage:" + in.InstanceType, operation: "RunInstances", az: in.AvailabilityZone,
				resource: in.ID, amount: amt, rate: in.HourlyPrice, cost: amt * in.HourlyPrice, term: "OnDemand", unit: "Hrs",
				instanceType: in.InstanceType, family: family, region: in.Region, publicRate: priceOf(in.InstanceType, in.Region, false)}
			l.publicCost = amt * l.publicRate
			l.description = fmt.Sprintf("$%s per On Demand Linux %s Instance Hour", strconv.FormatFloat(in.HourlyPrice, 'f', -1, 64), in.InstanceType)
			if in.Spot {
				l.usageType, l.operation, l.term = prefix+"SpotUsage:"+in.InstanceType, "RunInstances:SV001", "Spot"
				l.description = fmt.Sprintf("$%s per Linux %s spot instance-hour", strconv.FormatFloat(in.HourlyPrice, 'f', -1, 64), in.InstanceType)
			}
			if savingsPlanCovered(in) {
				l.typ, l.spARN, l.spRate = "SavingsPlanCoveredUsage", spARN, round10(in.HourlyPrice*0.72)
				l.spEffective, l.spCommitU = amt*l.spRate, amt*l.spRate
				l.id = id(in.ID, "sp", h.Hour.String())
				if err := emit(&l); err != nil {
					return err
				}
				neg := l
				neg.typ, neg.cost, neg.spEffective, neg.spCommitU = "SavingsPlanNegation", -l.cost, 0, 0
				neg.rate = -l.rate
				neg.description = "SavingsPlanNegation used by AccountId : " + in.Account + " and UsageSku : " + strings.ToUpper(id(in.InstanceType)[:16])
				neg.id = id(in.ID, "neg", h.Hour.String())
				if err := emit(&neg); err != nil {
					return err
				}
				taxBase[in.Account] += l.spEffective
			} else {
				l.id = id(in.ID, h.Hour.String())
				if err := emit(&l); err != nil {
					return err
				}
				taxBase[in.Account] += l.cost
			}
			// The root gp3 volume, billed in GB-months per hour.
			hoursInMonth := to.Sub(from).Hours()
			vol := curLine{account: in.Account, typ: "Usage", start: h.Hour, end: h.Hour.Add(time.Hour), product: "AmazonEC2",
				usageType: prefix + "EBS:VolumeUsage.gp3", operation: "CreateVolume-Gp3", az: in.AvailabilityZone, resource: in.VolumeID,
				amount: round10(float64(in.VolumeGB) / hoursInMonth), rate: 0.08, term: "OnDemand", unit: "GB-Mo", region: in.Region,
				description: "$0.08 per GB-month of General Purpose (gp3) provisioned storage", publicRate: 0.08}
			vol.cost, vol.publicCost = vol.amount*vol.rate, vol.amount*vol.rate
			vol.id = id(in.VolumeID, h.Hour.String())
			if err := emit(&vol); err != nil {
				return err
			}
			taxBase[in.Account] += vol.cost
		}
	}
	for _, a := range p.Accounts {
		if taxBase[a.ID] == 0 {
			continue
		}
		tax := curLine{id: id(a.ID, "tax"), account: a.ID, typ: "Tax", start: from, end: to, product: "AmazonEC2", usageType: "",
			amount: 1, cost: round10(taxBase[a.ID] * 0.08), description: "Tax for product code AmazonEC2"}
		if err := emit(&tax); err != nil {
			return err
		}
	}
	credit := curLine{id: id("credit"), account: p.Accounts[0].ID, typ: "Credit", start: from, end: to, product: "AmazonEC2",
		amount: 0, cost: -25, description: "AWS Credit"}
	return emit(&credit)
}

var cur1Columns = []string{"identity/LineItemId", "identity/TimeInterval", "bill/InvoiceId", "bill/InvoicingEntity",
	"bill/BillingEntity", "bill/BillType", "bill/PayerAccountId", "bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate",
	"lineItem/UsageAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate", "lineItem/UsageEndDate",
	"lineItem/ProductCode", "lineItem/UsageType", "lineItem/Operation", "lineItem/AvailabilityZone", "lineItem/ResourceId",
	"lineItem/UsageAmount", "lineItem/CurrencyCode", "lineItem/UnblendedRate", "lineItem/UnblendedCost",
	"lineItem/BlendedRate", "lineItem/BlendedCost", "lineItem/LineItemDescription", "lineItem/TaxType", "lineItem/LegalEntity",
	"product/ProductName", "product/instanceType", "product/instanceFamily", "product/region", "product/operatingSystem",
	"product/tenancy", "product/servicecode", "product/usagetype", "pricing/publicOnDemandCost", "pricing/publicOnDemandRate",
	"pricing/term", "pricing/unit", "savingsPlan/SavingsPlanARN", "savingsPlan/SavingsPlanRate",
	"savingsPlan/SavingsPlanEffectiveCost", "savingsPlan/UsedCommitment"}

// cur2Columns are the CUR 2.0 names of the same fields (product is a map column, written as JSON).
var cur2Columns = []string{"identity_line_item_id", "identity_time_interval", "bill_invoice_id", "bill_invoicing_entity",
	"bill_billing_entity", "bill_bill_type", "bill_payer_account_id", "bill_billing_period_start_date",
	"bill_billing_period_end_date", "line_item_usage_account_id", "line_item_line_item_type", "line_item_usage_start_date",
	"line_item_usage_end_date", "line_item_product_code", "line_item_usage_type", "line_item_operation",
	"line_item_availability_zone", "line_item_resource_id", "line_item_usage_amount", "line_item_currency_code",
	"line_item_unblended_rate", "line_item_unblended_cost", "line_item_blended_rate", "line_item_blended_cost",
	"line_item_line_item_description", "line_item_tax_type", "line_item_legal_entity", "product", "product_instance_type",
	"product_instance_family", "product_region_code", "product_operation", "product_servicecode", "product_usagetype",
	"pricing_public_on_demand_cost", "pricing_public_on_demand_rate", "pricing_term", "pricing_unit",
	"savings_plan_savings_plan_a_r_n", "savings_plan_savings_plan_rate", "savings_plan_savings_plan_effective_cost",
	"savings_plan_used_commitment"}

func num(x float64) string {
	if x == 0 {
		return "0"
	}
	return strconv.FormatFloat(x, 'f', 10, 64)
}

func (l *curLine) row(payer string, from, to time.Time, cur2 bool) []string {
	const ts = "2006-01-02T15:04:05.000Z"
	taxType, tenancy, os := "", "", ""
	if l.typ == "Tax" {
		taxType = "VAT"
	}
	if l.instanceType != "" {
		tenancy, os = "Shared", "Linux"
	}
	rate := num(l.rate)
	if l.typ == "Tax" || l.typ == "Credit" {
		rate = ""
	}
	productName := "Amazon Elastic Compute Cloud"
	product := productName
	if cur2 {
		b, _ := json.Marshal(map[string]string{"product_name": productName, "region": l.region, "operating_system": os, "tenancy": tenancy})
		product = string(b)
	}
	head := []string{l.id, l.start.Format(time.RFC3339) + "/" + l.end.Format(time.RFC3339), "", "Amazon Web Services, Inc.",
		"AWS", "Anniversary", payer, from.Format(ts), to.Format(ts),
		l.account, l.typ, l.start.Format(ts), l.end.Format(ts),
		l.product, l.usageType, l.operation, l.az, l.resource,
		num(l.amount), "USD", rate, num(l.cost),
		rate, num(l.cost), l.description, taxType, "Amazon Web Services, Inc."}
	var prod []string
	if cur2 {
		prod = []string{product, l.instanceType, l.family, l.region, l.operation, "AmazonEC2", l.usageType}
	} else {
		prod = []string{product, l.instanceType, l.family, l.region, os, tenancy, "AmazonEC2", l.usageType}
	}
	tail := []string{num(l.publicCost), num(l.publicRate), l.term, l.unit, l.spARN, num(l.spRate), num(l.spEffective), num(l.spCommitU)}
	return append(append(head, prod...), tail...)
}

// billingPeriods returns the months [from, to) overlapping the plan.
func (p *Plan) billingPeriods() [][2]time.Time {
	var out [][2]time.Time
	m := time.Date(p.Start.Year(), p.Start.Month(), 1, 0, 0, 0, 0, time.UTC)
	for ; m.Before(p.End); m = m.AddDate(0, 1, 0) {
		out = append(out, [2]time.Time{m, m.AddDate(0, 1, 0)})
	}
	return out
}

// CURSummary counts what WriteCUR wrote.
type CURSummary struct {
	Files int   `json:"files"`
	Lines int64 `json:"lines"` // line items of the current CUR 1.0 assemblies (equal to CUR 2.0's)
}

// WriteCUR writes CUR 1.0 and CUR 2.0 cost files for the plan under p.Config.Out.
func WriteCUR(p *Plan) (*CURSummary, error) {
	sum := &CURSummary{}
	payer := p.Accounts[0].ID
	for pi, bp := range p.billingPeriods() {
		from, to := bp[0], bp[1]
		rng := from.Format("20060102") + "-" + to.Format("20060102")
		base := filepath.Join(p.Config.Out, "cur", CURReport, rng)
		r := newRand(mix(p.Config.Seed, 11, uint64(pi)))
		old, cur := uuid(r), uuid(r)
		// The superseded assembly: the report as it stood half-way through the plan.
		half := p.Start.Add(p.End.Sub(p.Start) / 2)
		for _, asm := range []struct {
			id   string
			asOf time.Time
		}{{old, half}, {cur, p.End}} {
			key := filepath.ToSlash(filepath.Join(CURReport, rng, asm.id, CURReport+"-1.csv.gz"))
			n, err := writeCSV(filepath.Join(p.Config.Out, "cur", filepath.FromSlash(key)), cur1Columns, func(emit func([]string) error) error {
				return p.lines(from, to, asm.asOf, asm.id, func(l *curLine) error { return emit(l.row(payer, from, to, false)) })
			})
			if err != nil {
				return nil, err
			}
			sum.Files++
			if asm.id == cur {
				sum.Lines += n
			}
			man := cur1Manifest(payer, asm.id, from, to, key)
			if err := writeJSON(filepath.Join(base, asm.id, CURReport+"-Manifest.json"), man); err != nil {
				return nil, err
			}
			if asm.id == cur {
				if err := writeJSON(filepath.Join(base, CURReport+"-Manifest.json"), man); err != nil {
					return nil, err
				}
			}
		}
		period := from.Format("2006-01")
		dataKey := filepath.ToSlash(filepath.Join(CURExport, "data", "BILLING_PERIOD="+period, CURExport+"-00001.csv.gz"))
		if _, err := writeCSV(filepath.Join(p.Config.Out, "cur2", filepath.FromSlash(dataKey)), cur2Columns, func(emit func([]string) error) error {
			return p.lines(from, to, p.End, cur, func(l *curLine) error { return emit(l.row(payer, from, to, true)) })
		}); err != nil {
			return nil, err
		}
		sum.Files++
		cols := make([]map[string]string, len(cur2Columns))
		for i, c := range cur2Columns {
			cols[i] = map[string]string{"name": c, "type": cur2Type(c)}
		}
		man2 := map[string]any{"exportArn": "arn:aws:bcm-data-exports:us-east-1:" + payer + ":export/" + CURExport + "-" + cur[:8],
			"exportName": CURExport, "billingPeriod": period, "schema": cols, "dataFiles": []string{dataKey},
			"compression": "GZIP", "format": "TEXT_OR_CSV", "executionId": cur}
		if err := writeJSON(filepath.Join(p.Config.Out, "cur2", CURExport, "metadata", "BILLING_PERIOD="+period, CURExport+"-Manifest.json"), man2); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

func cur2Type(c string) string {
	switch {
	case c == "product":
		return "map<string,string>"
	case strings.HasSuffix(c, "_date"):
		return "timestamp"
	case strings.HasSuffix(c, "_rate") || c == "identity_time_interval":
		return "string"
	case strings.HasSuffix(c, "_cost") || strings.HasSuffix(c, "_amount") || strings.HasSuffix(c, "_commitment"):
		return "double"
	}
	return "string"
}

func cur1Manifest(payer, assembly string, from, to time.Time, key string) map[string]any {
	cols := make([]map[string]string, len(cur1Columns))
	for i, c := range cur1Columns {
		cat, name, _ := strings.Cut(c, "/")
		cols[i] = map[string]string{"category": cat, "name": name, "type": "String"}
	}
	return map[string]any{"assemblyId": assembly, "account": payer, "columns": cols, "charset": "UTF-8",
		"compression": "GZIP", "contentType": "text/csv", "reportId": fmt.Sprintf("%x", mix(uint64(len(key)), 3)),
		"reportName": CURReport, "billingPeriod": map[string]string{"start": from.Format("20060102T150405.000Z"), "end": to.Format("20060102T150405.000Z")},
		"bucket": "auditlake-billing", "reportKeys": []string{key}, "additionalArtifactKeys": []string{}}
}

// writeCSV streams rows into a gzipped CSV file and returns the number of data rows.
func writeCSV(path string, header []string, rows func(emit func([]string) error) error) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, fmt.Errorf("create directory for %q: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("create cost file %q: %w", path, err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	w := csv.NewWriter(zw)
	var n int64
	if err := w.Write(header); err != nil {
		return 0, fmt.Errorf("write cost file %q: %w", path, err)
	}
	if err := rows(func(r []string) error { n++; return w.Write(r) }); err != nil {
		return 0, fmt.Errorf("write cost file %q: %w", path, err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return 0, fmt.Errorf("write cost file %q: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		return 0, fmt.Errorf("write cost file %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("close cost file %q: %w", path, err)
	}
	return n, nil
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create directory for %q: %w", path, err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %q: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}
