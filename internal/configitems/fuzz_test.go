package configitems_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/configitems"
)

// FuzzDecode checks that no input makes Decode panic and that every item it returns carries
// the dedupe key (resource type and id, capture time) and a well-formed event id, and an
// eventjson the engine's JSON functions read (valid UTF-8, no lone surrogate escape).
func FuzzDecode(f *testing.F) {
	for _, p := range []string{"cwe/event-config-rule-instance.json", "config/rds-cluster.json", "config/app-elb.json", "config/s3.json", "config/app-elb-config-event.json", "config/poll-evaluation.json"} {
		b, err := os.ReadFile(filepath.Join(root, "testdata/cloud-custodian-event-and-config-fixtures", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"configurationItems":[{"resourceType":"T","resourceId":"r","configurationItemCaptureTime":1.5e9,"configuration":"{\"a\":[1]}"}]}`))
	f.Add([]byte(`{"configurationItems":[{"resourceType":"T","resourceId":"r\ud800","configurationItemCaptureTime":1.5e9,"configuration":"{\"a\":\"\\udc00\"}"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, _ := configitems.Decode(bytes.NewReader(b), "fuzz.json")
		for _, it := range res.Items {
			if it.Data.ResourceType == "" || it.Data.ResourceID == "" || it.EventTime.IsZero() || !uuidRE.MatchString(it.EventID) {
				t.Fatalf("item without its key: %+v", it)
			}
			if _, n := cloudtrail.ReplaceInvalidText(it.EventJSON); n > 0 {
				t.Fatalf("item's eventjson holds invalid UTF-8 or a lone surrogate escape: %s", it.EventJSON)
			}
		}
	})
}
