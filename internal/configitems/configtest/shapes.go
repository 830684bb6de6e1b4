package configtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strings"
)

// FileStyle renames an item built from the schema (advanced-query names: accountId, arn,
// configurationStateId as a string) to the 1.3 names of snapshot and history files:
// awsAccountId, ARN, configurationStateId as a number.
func FileStyle(item map[string]any) map[string]any {
	out := clone(item)
	rename(out, "accountId", "awsAccountId")
	rename(out, "arn", "ARN")
	if s, ok := out["configurationStateId"].(string); ok {
		out["configurationStateId"] = json.Number(s)
	}
	if _, ok := out["configurationItemVersion"]; !ok {
		out["configurationItemVersion"] = "1.3"
	}
	return out
}

// APIStyle renames an item to the names of the GetResourceConfigHistory API and the CLI:
// version, accountId, arn, configuration as a JSON string, relationshipName.
func APIStyle(item map[string]any) map[string]any {
	out := clone(item)
	rename(out, "configurationItemVersion", "version")
	if c, ok := out["configuration"]; ok {
		b, _ := json.Marshal(c)
		out["configuration"] = string(b)
	}
	if rels, ok := out["relationships"].([]any); ok {
		for _, r := range rels {
			if m, ok := r.(map[string]any); ok {
				rename(m, "name", "relationshipName")
			}
		}
	}
	return out
}

// LegacyStyle renames an item to the 2014 documentation's names: configurationStateID,
// availibilityZone (sic), accountId, arn, configurationItemVersion "1.0".
func LegacyStyle(item map[string]any) map[string]any {
	out := clone(item)
	rename(out, "configurationStateId", "configurationStateID")
	rename(out, "availabilityZone", "availibilityZone")
	out["configurationItemVersion"] = "1.0"
	return out
}

func rename(m map[string]any, from, to string) {
	if v, ok := m[from]; ok {
		delete(m, from)
		m[to] = v
	}
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	d.Decode(&out)
	return out
}

// Snapshot is a ConfigSnapshot file body.
func Snapshot(items ...map[string]any) []byte {
	return mustJSON(map[string]any{"fileVersion": "1.0", "configSnapshotId": "b0f1e7a2-5c1d-4f5e-9d43-4f0c6a1e2b3c", "configurationItems": items})
}

// History is a ConfigHistory file body.
func History(items ...map[string]any) []byte {
	return mustJSON(map[string]any{"fileVersion": "1.0", "configurationItems": items})
}

// APIHistory is the output of aws configservice get-resource-config-history.
func APIHistory(items ...map[string]any) []byte {
	return mustJSON(map[string]any{"configurationItems": items, "nextToken": "AAAAexample"})
}

// Notification is a ConfigurationItemChangeNotification message.
func Notification(item map[string]any) []byte {
	return mustJSON(map[string]any{"configurationItemDiff": map[string]any{"changedProperties": map[string]any{}, "changeType": "UPDATE"},
		"configurationItem": item, "notificationCreationTime": "2026-01-04T10:05:00.000Z",
		"messageType": "ConfigurationItemChangeNotification", "recordVersion": "1.3"})
}

// Oversized is an OversizedConfigurationItemChangeNotification naming the object at
// bucket/key that holds the item.
func Oversized(item map[string]any, bucket, key string) []byte {
	summary := map[string]any{}
	for k, v := range item {
		if k != "configuration" && k != "supplementaryConfiguration" {
			summary[k] = v
		}
	}
	summary["changeType"] = "UPDATE"
	return mustJSON(map[string]any{"configurationItemSummary": summary,
		"s3DeliverySummary":        map[string]any{"s3BucketLocation": bucket + "/" + key, "errorCode": nil, "errorMessage": nil},
		"notificationCreationTime": "2026-01-04T10:05:00.000Z", "messageType": "OversizedConfigurationItemChangeNotification", "recordVersion": "1.0"})
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Key is an object key in Config's delivery layout, with month and day not zero-padded as
// Config writes them: AWSLogs/<acct>/Config/<region>/<YYYY>/<M>/<D>/<kind>/<file>.
func Key(account, region string, y, m, d int, kind, file string) string {
	return fmt.Sprintf("AWSLogs/%s/Config/%s/%d/%d/%d/%s/%s", account, region, y, m, d, kind, file)
}

func mustJSON(v any) []byte {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(err) // test data built in code is always encodable
	}
	return []byte(b.String())
}
