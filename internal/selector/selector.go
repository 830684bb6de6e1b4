// Package selector implements CloudTrail Lake advanced event selectors: which events a store
// keeps. An event is kept when it matches any selector; it matches a selector when every field
// selector of it matches; a field selector matches when every condition it states holds.
// Selectors are applied at ingest, so noisy events (KMS Decrypt, S3 GetObject) never land.
package selector

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// MaxSelectors is CloudTrail Lake's limit per event data store.
const MaxSelectors = 5

// Selector is one advanced event selector, in the AWS JSON shape.
type Selector struct {
	Name           string          `json:"Name,omitempty"`
	FieldSelectors []FieldSelector `json:"FieldSelectors"`
}

// FieldSelector states conditions on one field.
type FieldSelector struct {
	Field         string   `json:"Field"`
	Equals        []string `json:"Equals,omitempty"`
	NotEquals     []string `json:"NotEquals,omitempty"`
	StartsWith    []string `json:"StartsWith,omitempty"`
	NotStartsWith []string `json:"NotStartsWith,omitempty"`
	EndsWith      []string `json:"EndsWith,omitempty"`
	NotEndsWith   []string `json:"NotEndsWith,omitempty"`
}

// fields maps the accepted field names (case-insensitively) to their canonical spelling.
var fields = map[string]string{
	"eventcategory": "eventCategory", "eventsource": "eventSource", "eventname": "eventName",
	"readonly": "readOnly", "resources.type": "resources.type", "resources.arn": "resources.ARN",
	"useridentity.arn": "userIdentity.arn", "errorcode": "errorCode", "eventtype": "eventType",
	"sessioncredentialfromconsole": "sessionCredentialFromConsole",
}

// Parse reads and validates selectors given as JSON (the AWS CLI's --advanced-event-selectors
// form: a list of {Name, FieldSelectors:[{Field, Equals, …}]}).
func Parse(data []byte) ([]Selector, error) {
	var sels []Selector
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sels); err != nil {
		return nil, fmt.Errorf("read advanced event selectors: %w", err)
	}
	if err := Validate(sels); err != nil {
		return nil, err
	}
	return sels, nil
}

// Validate checks selectors against CloudTrail Lake's rules.
func Validate(sels []Selector) error {
	if len(sels) > MaxSelectors {
		return fmt.Errorf("%d advanced event selectors: at most %d are allowed", len(sels), MaxSelectors)
	}
	for i, s := range sels {
		if len(s.FieldSelectors) == 0 {
			return fmt.Errorf("selector %d (%q) has no field selectors", i+1, s.Name)
		}
		for j, f := range s.FieldSelectors {
			canon, ok := fields[strings.ToLower(f.Field)]
			if !ok {
				return fmt.Errorf("selector %d field selector %d: unknown field %q (want one of eventCategory, eventSource, eventName, readOnly, resources.type, resources.ARN, userIdentity.arn, errorCode, eventType, sessionCredentialFromConsole)", i+1, j+1, f.Field)
			}
			sels[i].FieldSelectors[j].Field = canon
			if len(f.Equals)+len(f.NotEquals)+len(f.StartsWith)+len(f.NotStartsWith)+len(f.EndsWith)+len(f.NotEndsWith) == 0 {
				return fmt.Errorf("selector %d field %s: no condition (Equals, NotEquals, StartsWith, NotStartsWith, EndsWith or NotEndsWith)", i+1, canon)
			}
		}
	}
	return nil
}

// Match reports whether the record is kept by sels. No selectors keep everything.
func Match(sels []Selector, r *cloudtrail.Record) bool {
	if len(sels) == 0 {
		return true
	}
	for _, s := range sels {
		if matchSelector(s, r) {
			return true
		}
	}
	return false
}

func matchSelector(s Selector, r *cloudtrail.Record) bool {
	for _, f := range s.FieldSelectors {
		if !matchField(f, values(f.Field, r)) {
			return false
		}
	}
	return true
}

// values returns the field's values on the record: one for scalar fields, one per resource for
// resources.*; an absent field has no values.
func values(field string, r *cloudtrail.Record) []string {
	one := func(p *string) []string {
		if p == nil {
			return nil
		}
		return []string{*p}
	}
	switch field {
	case "eventCategory":
		if r.EventCategory == nil {
			return []string{"Management"} // records before eventVersion 1.07 are management events
		}
		return one(r.EventCategory)
	case "eventSource":
		return one(r.EventSource)
	case "eventName":
		return one(r.EventName)
	case "readOnly":
		if r.ReadOnly == nil {
			return nil
		}
		return []string{fmt.Sprint(*r.ReadOnly)}
	case "errorCode":
		return one(r.ErrorCode)
	case "eventType":
		return one(r.EventType)
	case "sessionCredentialFromConsole":
		return one(r.SessionCredentialFromConsole)
	case "userIdentity.arn":
		if r.UserIdentity == nil {
			return nil
		}
		return one(r.UserIdentity.ARN)
	case "resources.type", "resources.ARN":
		var out []string
		for _, res := range r.Resources {
			p := res.Type
			if field == "resources.ARN" {
				p = res.ARN
			}
			if p != nil {
				out = append(out, *p)
			}
		}
		return out
	}
	return nil
}

// matchField: positive conditions (Equals, StartsWith, EndsWith) need some value to match one
// of their patterns; negative ones (Not…) need no value to match any of theirs. For a
// multi-valued field (resources) a value must satisfy every positive condition at once.
func matchField(f FieldSelector, vals []string) bool {
	for _, v := range vals {
		if anyOf(f.NotEquals, v, eq) || anyOf(f.NotStartsWith, v, strings.HasPrefix) || anyOf(f.NotEndsWith, v, strings.HasSuffix) {
			return false
		}
	}
	if len(f.Equals)+len(f.StartsWith)+len(f.EndsWith) == 0 {
		return true
	}
	for _, v := range vals {
		if (len(f.Equals) == 0 || anyOf(f.Equals, v, eq)) &&
			(len(f.StartsWith) == 0 || anyOf(f.StartsWith, v, strings.HasPrefix)) &&
			(len(f.EndsWith) == 0 || anyOf(f.EndsWith, v, strings.HasSuffix)) {
			return true
		}
	}
	return false
}

func eq(a, b string) bool { return a == b }

func anyOf(patterns []string, v string, fn func(string, string) bool) bool {
	for _, p := range patterns {
		if fn(v, p) {
			return true
		}
	}
	return false
}
