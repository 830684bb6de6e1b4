// Package configitems decodes AWS Config configuration items from every shape they are delivered
// in — snapshot and history files, change notifications (including the oversized form, whose item
// lives in another object), Config rule invocation events, EventBridge and SNS wrappers, and the
// output of `aws configservice get-resource-config-history` — into rows of the CloudTrail Lake
// Config-item event data store schema (aws-formats.md §1.2). It also evaluates the Config rule
// autoscaling-launch-template over stored items and answers the two questions the launch
// compliance report asks of Config: which id a launch template name stands for, and which Auto
// Scaling group an instance belonged to.
package configitems

import (
	"crypto/sha256"
	"fmt"
	"time"
)

// Lake envelope values of a Config-item event (aws-formats.md §1.2).
const (
	EventVersion  = "1.0"
	EventCategory = "ConfigurationItem"
	EventType     = "AwsConfigurationItem"
)

// Item is one configuration item in the row shape of a Lake Config-item event data store.
// Optional strings are nil when the item does not carry them (NULL in the store).
type Item struct {
	EventID            string
	EventTime          time.Time // = configurationItemCaptureTime, UTC
	AwsRegion          *string
	RecipientAccountID *string
	Data               EventData
	// EventJSON is the Lake event as JSON: eventVersion, eventCategory, eventType, eventID,
	// eventTime, awsRegion, recipientAccountId and eventData, the item as delivered in its
	// original key order with configuration as an object (the API sends it as a JSON string), so
	// that $.eventData.configuration.… paths work as in AWS's sample queries.
	EventJSON string
}

// EventData is the eventdata struct of the Lake schema.
type EventData struct {
	ConfigurationItemVersion     *string
	ConfigurationItemCaptureTime string
	ConfigurationItemStatus      *string
	ConfigurationItemStateID     *string
	AccountID                    *string
	ResourceType                 string
	ResourceID                   string
	ResourceName                 *string
	ARN                          *string
	AwsRegion                    *string
	AvailabilityZone             *string
	ResourceCreationTime         *string
	// Configuration and SupplementaryConfiguration are keyed by their top-level keys in the
	// item's order; a string value is kept as it is and any other value as compact JSON
	// (aws-formats.md §1.3). Nil when the item has none.
	Configuration              []KV
	SupplementaryConfiguration []KV
	// RelatedEvents is the relatedEvents array as compact JSON text; nil when absent or null.
	RelatedEvents *string
	Relationships []Relationship
	Tags          []KV
}

// KV is one entry of a MAP(VARCHAR, VARCHAR) column; a nil Value is a NULL.
type KV struct {
	Key   string
	Value *string
}

// Relationship is one element of eventdata.relationships. The API and the 2014 docs name the
// relationship "relationshipName", delivered files "name".
type Relationship struct {
	Name, ResourceType, ResourceID, ResourceName *string
}

// Get returns the value of key in kvs and whether it is present and not NULL.
func Get(kvs []KV, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.Key == key && kv.Value != nil {
			return *kv.Value, true
		}
	}
	return "", false
}

// EventID is the deterministic event id of a configuration item: a UUID-formatted SHA-256 of
// resource type, resource id and capture time, so the same item read from a snapshot, a history
// file and a notification gets the same id.
func EventID(resourceType, resourceID string, captureTime time.Time) string {
	h := sha256.Sum256([]byte(resourceType + "\x00" + resourceID + "\x00" + captureTime.UTC().Format(time.RFC3339Nano)))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x50 // name-based (as version 5)
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
