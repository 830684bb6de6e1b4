#!/usr/bin/env python3
"""Derives the CUR 2.0 Data Exports CSV fixture of this folder from koku's real-shaped CUR 1.0
file 2023-06-01.csv (project-koku/koku @ 768be82, koku/masu/test/data/, Apache-2.0), copied
under ../koku-cur-test-data/. Each of its three SavingsPlanCoveredUsage rows becomes a CUR 2.0
row: bill_/identity_/line_item_/pricing_/savings_plan_ columns renamed as AWS Data Exports name
them, product/*, costCategory/* and the user tags folded into the JSON map columns product,
cost_category and resource_tags (keys as CUR 2.0 writes them: snake_case, tags as user_<key>).
A fourth row, a Tax line, is written by hand to carry the hostile cell shapes AWS emits in map
columns and text cells: a tag value holding a comma, a double quote, a backslash, non-ASCII letters
and an escaped line break, and a description holding a comma, quotes and a raw line break. The file is written with Python's csv module (QUOTE_MINIMAL, doubled quotes), which is
how AWS quotes these files. Run: python3 derive.py"""
import csv, json, os, re

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, "..", "koku-cur-test-data", "2023-06-01.csv")
out_dir = os.path.join(here, "data", "BILLING_PERIOD=2023-06")
os.makedirs(out_dir, exist_ok=True)


def snake(s):
    s = re.sub(r"([A-Z])", r"_\1", s).lower()
    s = re.sub(r"[^a-z0-9]+", "_", s)
    return s.strip("_")


columns = ["identity_line_item_id", "identity_time_interval", "bill_bill_type", "bill_billing_entity",
           "bill_billing_period_end_date", "bill_billing_period_start_date", "bill_invoice_id",
           "bill_payer_account_id", "cost_category", "line_item_availability_zone",
           "line_item_blended_cost", "line_item_blended_rate", "line_item_currency_code",
           "line_item_legal_entity", "line_item_line_item_description", "line_item_line_item_type",
           "line_item_operation", "line_item_product_code", "line_item_resource_id",
           "line_item_unblended_cost", "line_item_unblended_rate", "line_item_usage_account_id",
           "line_item_usage_amount", "line_item_usage_end_date", "line_item_usage_start_date",
           "line_item_usage_type", "pricing_public_on_demand_cost", "pricing_public_on_demand_rate",
           "pricing_term", "pricing_unit", "product", "product_instance_type", "product_region_code",
           "resource_tags", "savings_plan_savings_plan_effective_cost"]

rows = []
with open(src, newline="") as f:
    for rec in csv.DictReader(f):
        row = {}
        product, cats, tags = {}, {}, {}
        for k, v in rec.items():
            if v == "":
                continue
            group, _, name = k.partition("/")
            if group == "product":
                if name in ("instanceType", "regionCode"):
                    row["product_" + snake(name)] = v
                else:
                    product[snake(name)] = v
            elif group == "costCategory":
                cats[name] = v
            elif group in ("noTags", "resourceTags"):
                tags[re.sub(r"[^A-Za-z0-9]", "_", name)] = v
            else:
                col = snake(group) + "_" + snake(name)
                if col in columns:
                    row[col] = v
        row["product"] = json.dumps(product, separators=(",", ":"), ensure_ascii=False)
        row["cost_category"] = json.dumps(cats, separators=(",", ":"), ensure_ascii=False)
        row["resource_tags"] = json.dumps(tags, separators=(",", ":"), ensure_ascii=False)
        rows.append(row)

# The hand-written Tax row.
rows.append({
    "identity_line_item_id": "hand0000000000000000000000000000000000tax",
    "identity_time_interval": "2023-06-01T00:00:00Z/2023-07-01T00:00:00Z",
    "bill_bill_type": "Anniversary", "bill_billing_entity": "AWS",
    "bill_billing_period_end_date": "2023-07-01T00:00:00Z",
    "bill_billing_period_start_date": "2023-06-01T00:00:00Z",
    "bill_invoice_id": "987654321", "bill_payer_account_id": "0099999999999",
    "cost_category": "{}",
    "line_item_currency_code": "NOK", "line_item_legal_entity": "Amazon Web Services EMEA SARL",
    "line_item_line_item_description": 'Tax for product code AmazonEC2,\n"m5" usage',
    "line_item_line_item_type": "Tax", "line_item_product_code": "AmazonEC2",
    "line_item_unblended_cost": "2.5", "line_item_blended_cost": "2.5",
    "line_item_usage_account_id": "0099999999999", "line_item_usage_amount": "1",
    "line_item_usage_start_date": "2023-06-01T00:00:00Z", "line_item_usage_end_date": "2023-07-01T00:00:00Z",
    "product": json.dumps({"product_name": "Amazon Elastic Compute Cloud", "region": "eu-west-1"}, separators=(",", ":")),
    "resource_tags": json.dumps({"user_owner": 'Ærøskøbing, "ops"\\team', "user_note": "line one\nline two"},
                                separators=(",", ":"), ensure_ascii=False),
})

with open(os.path.join(out_dir, "cur2-derived-00001.csv"), "w", newline="", encoding="utf-8") as f:
    w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
