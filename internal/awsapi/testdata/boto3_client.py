"""Drives auditlake's CloudTrail Lake API with boto3, as a migrating script would, and prints
what it saw as JSON for the Go test (TestBoto3RunsEveryOperation) to check.

Environment: ENDPOINT, STORE_ID, ADMIN_KEY, ADMIN_SECRET, FILTERED_KEY, FILTERED_SECRET."""
import json
import os
import sys
import time

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

ENV = os.environ
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"})


def client(service, key, secret, **kw):
    return boto3.client(service, endpoint_url=ENV["ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret, **kw)


admin = client("cloudtrail", ENV["ADMIN_KEY"], ENV["ADMIN_SECRET"], config=CONFIG)
filtered = client("cloudtrail", ENV["FILTERED_KEY"], ENV["FILTERED_SECRET"], config=CONFIG)
store = ENV["STORE_ID"]
out = {}


def error_code(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return ""


def run(c, sql):
    qid = c.start_query(QueryStatement=sql)["QueryId"]
    while True:
        d = c.describe_query(QueryId=qid)
        if d["QueryStatus"] not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.02)
    if d["QueryStatus"] != "FINISHED":
        sys.exit("query %s ended %s: %s" % (sql, d["QueryStatus"], d.get("ErrorMessage")))
    rows, pages, token = [], 0, None
    while True:
        kw = {"QueryId": qid, "MaxQueryResults": 2}
        if token:
            kw["NextToken"] = token
        r = c.get_query_results(**kw)
        pages += 1
        for row in r["QueryResultRows"]:
            merged = {}
            for col in row:
                merged.update(col)
            rows.append(merged)
        token = r.get("NextToken")
        if not token:
            break
    return qid, d, rows, pages


# Stores.
out["stores"] = [s["Name"] for s in admin.list_event_data_stores()["EventDataStores"]]
created = admin.create_event_data_store(Name="boto-store", RetentionPeriod=30, TerminationProtectionEnabled=False)
arn = created["EventDataStoreArn"]
out["created_retention"] = admin.get_event_data_store(EventDataStore=arn)["RetentionPeriod"]
out["updated_retention"] = admin.update_event_data_store(EventDataStore=arn, RetentionPeriod=90)["RetentionPeriod"]
admin.update_event_data_store(EventDataStore=arn, TerminationProtectionEnabled=True)
out["delete_protected"] = error_code(admin.delete_event_data_store, EventDataStore=arn)
admin.update_event_data_store(EventDataStore=arn, TerminationProtectionEnabled=False)
admin.delete_event_data_store(EventDataStore=arn)
out["get_deleted"] = error_code(admin.get_event_data_store, EventDataStore=arn)

# Queries: run, page, cancel, list.
qid, desc, rows, pages = run(admin, "SELECT eventname, count(*) AS n FROM %s GROUP BY 1" % store)
out["by_event_name"] = {r["eventname"]: int(r["n"]) for r in rows}
out["pages"] = pages
out["events_scanned"] = desc["QueryStatistics"]["EventsScanned"]
out["creation_time_is_datetime"] = hasattr(desc["QueryStatistics"]["CreationTime"], "year")
long_id = admin.start_query(QueryStatement="SELECT count(*) FROM %s e, range(1000000000000) r WHERE r.range = -1" % store)["QueryId"]
out["cancel"] = admin.cancel_query(QueryId=long_id)["QueryStatus"]
out["cancelled"] = admin.describe_query(QueryId=long_id)["QueryStatus"]
out["cancel_again"] = error_code(admin.cancel_query, QueryId=long_id)
out["listed"] = [q["QueryId"] for q in admin.list_queries(EventDataStore=store)["Queries"]]
out["query_ids"] = [long_id, qid]
out["bad_statement"] = error_code(admin.start_query, QueryStatement="DROP TABLE x")

# A row-filtered principal.
_, _, rows, _ = run(filtered, "SELECT recipientaccountid, count(*) AS n FROM %s GROUP BY 1" % store)
out["filtered"] = {r["recipientaccountid"]: int(r["n"]) for r in rows}
out["filtered_create"] = error_code(filtered.create_event_data_store, Name="not-mine")

# Channels and PutAuditEvents on the cloudtrail-data signing name. Debian bookworm's boto3 1.26
# predates both: what this boto3 cannot call is listed, and the Go test checks it another way.
out["missing"] = []
if not hasattr(admin, "create_channel"):
    out["missing"].append("CreateChannel")
if "cloudtrail-data" not in boto3.session.Session().get_available_services():
    out["missing"].append("PutAuditEvents")
if not out["missing"]:
    acts = admin.create_event_data_store(Name="boto-activity", TerminationProtectionEnabled=False, AdvancedEventSelectors=[
        {"Name": "app", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["ActivityAuditLog"]}]}])
    ch = admin.create_channel(Name="boto-channel", Source="Custom",
                              Destinations=[{"Type": "EVENT_DATA_STORE", "Location": acts["EventDataStoreArn"]}])
    out["channel_get"] = admin.get_channel(Channel=ch["ChannelArn"])["Name"]
    out["channels"] = [c["Name"] for c in admin.list_channels()["Channels"]]
    data = client("cloudtrail-data", ENV["ADMIN_KEY"], ENV["ADMIN_SECRET"], config=CONFIG)
    event = {"version": "1.0", "userIdentity": {"type": "Employee", "principalId": "bob"}, "eventSource": "app.example.com",
             "eventName": "Logout", "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60)),
             "UID": "u-2", "recipientAccountId": "000000000000"}  # the account of channels made through the API
    put = data.put_audit_events(channelArn=ch["ChannelArn"], auditEvents=[{"id": "b1", "eventData": json.dumps(event)}])
    out["put"] = [s["id"] for s in put["successful"]] + [f["errorCode"] for f in put["failed"]]
    admin.delete_channel(Channel=ch["ChannelArn"])
    admin.delete_event_data_store(EventDataStore=acts["EventDataStoreArn"])
    out["channels_after"] = [c["Name"] for c in admin.list_channels()["Channels"]]

# Refusals.
# Another first character: "x" + secret[1:] is the secret itself when it starts with x (1 in 64).
wrong = client("cloudtrail", ENV["ADMIN_KEY"], ("y" if ENV["ADMIN_SECRET"][0] == "x" else "x") + ENV["ADMIN_SECRET"][1:], config=CONFIG)
out["wrong_secret"] = error_code(wrong.list_event_data_stores)
unsigned = client("cloudtrail", ENV["ADMIN_KEY"], ENV["ADMIN_SECRET"],
                  config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}))
out["unsigned"] = error_code(unsigned.list_event_data_stores)

print(json.dumps(out))
