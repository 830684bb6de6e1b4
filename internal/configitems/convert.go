package configitems

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// ToItem converts one configuration item, in any of its spellings — 1.3 files (awsAccountId,
// ARN, configurationStateId as a number), the API and CLI (accountId, arn, version,
// configuration as a JSON string, relationshipName), the 2014 docs (configurationStateID,
// availibilityZone) — to a Lake row.
func ToItem(raw json.RawMessage) (Item, error) {
	it, _, err := toItem(raw)
	return it, err
}

// toItem is ToItem that also says how many invalid characters (invalid UTF-8, lone UTF-16
// surrogate escapes, in the item or in a configuration sent as a string) it stored as U+FFFD:
// the engine's JSON functions refuse a lone surrogate in the store's eventjson.
func toItem(raw json.RawMessage) (Item, int, error) {
	fixed, replaced := cloudtrail.ReplaceInvalidText(string(raw))
	if replaced > 0 {
		raw = json.RawMessage(fixed)
	}
	it, n, err := convert(raw)
	return it, replaced + n, err
}

// convert is toItem on valid text; n counts what the configuration string held.
func convert(raw json.RawMessage) (it Item, n int, err error) {
	ms, err := members(raw)
	if err != nil {
		return Item{}, 0, fmt.Errorf("configuration item is not a JSON object: %v", err)
	}
	f := fields(ms)
	d := &it.Data
	d.ResourceType = str(f["resourceType"])
	if d.ResourceType == "" {
		return Item{}, 0, errors.New("configuration item has no resourceType")
	}
	d.ResourceID = str(f["resourceId"])
	if d.ResourceID == "" {
		return Item{}, 0, fmt.Errorf("configuration item of type %s has no resourceId", d.ResourceType)
	}
	ctRaw := first(f, "configurationItemCaptureTime")
	ct, err := ParseTime(ctRaw)
	if err != nil {
		return Item{}, 0, fmt.Errorf("configuration item %s %s: configurationItemCaptureTime: %v", d.ResourceType, d.ResourceID, err)
	}
	it.EventTime = ct
	if s := text(ctRaw); s != nil {
		d.ConfigurationItemCaptureTime = *s
	}
	if ctRaw[0] != '"' { // epoch seconds from the raw API: give the string column a readable time
		d.ConfigurationItemCaptureTime = ct.Format(time.RFC3339Nano)
	}
	d.ConfigurationItemVersion = text(first(f, "configurationItemVersion", "version"))
	d.ConfigurationItemStatus = text(first(f, "configurationItemStatus"))
	d.ConfigurationItemStateID = text(first(f, "configurationStateId", "configurationStateID", "configurationItemStateId"))
	d.AccountID = text(first(f, "awsAccountId", "accountId"))
	d.ResourceName = text(first(f, "resourceName"))
	d.ARN = text(first(f, "ARN", "arn"))
	d.AwsRegion = text(first(f, "awsRegion"))
	d.AvailabilityZone = text(first(f, "availabilityZone", "availibilityZone"))
	if rc := first(f, "resourceCreationTime"); rc != nil {
		if bytes.TrimSpace(rc)[0] != '"' {
			if t, err := ParseTime(rc); err == nil {
				s := t.Format(time.RFC3339Nano)
				d.ResourceCreationTime = &s
			}
		} else {
			d.ResourceCreationTime = text(rc)
		}
	}
	it.AwsRegion = d.AwsRegion
	it.RecipientAccountID = d.AccountID

	conf, confObj, n, err := configuration(first(f, "configuration"))
	if err != nil {
		return Item{}, 0, fmt.Errorf("configuration item %s %s: configuration: %v", d.ResourceType, d.ResourceID, err)
	}
	d.Configuration = conf
	if d.SupplementaryConfiguration, err = kvs(first(f, "supplementaryConfiguration")); err != nil {
		return Item{}, 0, fmt.Errorf("configuration item %s %s: supplementaryConfiguration: %v", d.ResourceType, d.ResourceID, err)
	}
	if re := first(f, "relatedEvents"); re != nil {
		d.RelatedEvents = text(re)
	}
	if d.Relationships, err = relationships(first(f, "relationships")); err != nil {
		return Item{}, 0, fmt.Errorf("configuration item %s %s: relationships: %v", d.ResourceType, d.ResourceID, err)
	}
	if d.Tags, err = tags(first(f, "tags")); err != nil {
		return Item{}, 0, fmt.Errorf("configuration item %s %s: tags: %v", d.ResourceType, d.ResourceID, err)
	}
	it.EventID = EventID(d.ResourceType, d.ResourceID, ct)
	it.EventJSON = eventJSON(&it, ms, confObj)
	return it, n, nil
}

// configuration returns the configuration's top-level entries and the configuration as a JSON
// object (the API sends it as a JSON string holding the object, whose lone surrogate escapes
// are replaced and counted in n).
func configuration(raw json.RawMessage) (kv []KV, obj json.RawMessage, n int, err error) {
	if raw == nil {
		return nil, nil, 0, nil
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		s := str(raw)
		if s == "" {
			return nil, nil, 0, nil
		}
		s, n = cloudtrail.ReplaceLoneSurrogates(s)
		raw = json.RawMessage(s)
		if !json.Valid(raw) {
			return nil, nil, 0, errors.New("a string that is not JSON")
		}
		raw = bytes.TrimSpace(raw)
	}
	if raw[0] != '{' {
		return nil, nil, 0, fmt.Errorf("got %s, want an object", kind(raw))
	}
	out, err := kvs(raw)
	return out, raw, n, err
}

// kvs converts an object to map entries in document order: strings as they are, other values
// as compact JSON (aws-formats.md §1.3).
func kvs(raw json.RawMessage) ([]KV, error) {
	if raw == nil {
		return nil, nil
	}
	ms, err := members(raw)
	if err != nil {
		return nil, err
	}
	out := make([]KV, 0, len(ms))
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if seen[m.Key] {
			continue // a map holds a key once; the first wins, as in fields
		}
		seen[m.Key] = true
		out = append(out, KV{Key: m.Key, Value: text(m.Raw)})
	}
	return out, nil
}

// tags reads {"k":"v"} (files, API) or [{"key":"k","value":"v"}] (some resource configurations).
func tags(raw json.RawMessage) ([]KV, error) {
	if raw == nil {
		return nil, nil
	}
	if bytes.TrimSpace(raw)[0] == '[' {
		var arr []struct {
			Key   *string `json:"key"`
			Value *string `json:"value"`
		}
		if err := json.Unmarshal(raw, &arr); err != nil {
			return nil, err
		}
		out := make([]KV, 0, len(arr))
		for _, t := range arr {
			if t.Key != nil {
				out = append(out, KV{Key: *t.Key, Value: t.Value})
			}
		}
		return out, nil
	}
	return kvs(raw)
}

func relationships(raw json.RawMessage) ([]Relationship, error) {
	if raw == nil {
		return nil, nil
	}
	var arr []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, err
	}
	out := make([]Relationship, 0, len(arr))
	for _, r := range arr {
		out = append(out, Relationship{
			Name:         text(first(r, "name", "relationshipName")),
			ResourceType: text(first(r, "resourceType")),
			ResourceID:   text(first(r, "resourceId")),
			ResourceName: text(first(r, "resourceName")),
		})
	}
	return out, nil
}

// eventJSON renders the Lake event: the envelope, then the item as delivered with configuration
// as an object.
func eventJSON(it *Item, ms []member, confObj json.RawMessage) string {
	var b bytes.Buffer
	put := func(k string, v any) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		if raw, ok := v.(json.RawMessage); ok {
			json.Compact(&b, raw)
			return
		}
		vb, _ := json.Marshal(v)
		b.Write(vb)
	}
	b.WriteByte('{')
	put("eventVersion", EventVersion)
	put("eventCategory", EventCategory)
	put("eventType", EventType)
	put("eventID", it.EventID)
	put("eventTime", it.EventTime.Format(time.RFC3339Nano))
	put("awsRegion", it.AwsRegion)
	put("recipientAccountId", it.RecipientAccountID)
	b.WriteString(`,"eventData":{`)
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(m.Key)
		b.Write(kb)
		b.WriteByte(':')
		v := m.Raw
		if m.Key == "configuration" && confObj != nil {
			v = confObj
		}
		if err := json.Compact(&b, v); err != nil {
			b.WriteString("null")
		}
	}
	b.WriteString("}}")
	return b.String()
}
