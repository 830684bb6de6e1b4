package selector

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// FuzzParse checks the selector parser: no input panics; accepted selectors obey CloudTrail
// Lake's rules (at most MaxSelectors, canonical field names, a condition on every field) and
// survive a JSON round trip unchanged, with the same verdict on real CloudTrail records.
func FuzzParse(f *testing.F) {
	dir := filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")
	var recs []*cloudtrail.Record
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := cloudtrail.Decode(bytes.NewReader(b), p, cloudtrail.DecodeOptions{}, func(r *cloudtrail.Record) error {
			recs = append(recs, r)
			return nil
		}); err != nil {
			f.Fatal(err)
		}
		// Selectors as CloudTrail itself logged them (PutEventSelectors requests).
		for _, m := range regexp.MustCompile(`"advancedEventSelectors":\s*(\[[^\]]*(\][^\]]*)*?\]\s*\])`).FindAllSubmatch(b, -1) {
			f.Add(m[1])
		}
	}
	if len(recs) == 0 {
		f.Fatal("no records in the stratus samples")
	}
	f.Add([]byte(`[{"Name":"no KMS","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"eventSource","NotEquals":["kms.amazonaws.com"]}]}]`))
	f.Add([]byte(`[{"FieldSelectors":[{"Field":"resources.type","Equals":["AWS::S3::Object"]},{"Field":"resources.ARN","StartsWith":["arn:aws:s3:::b/"],"NotEndsWith":[".tmp"]}]}]`))
	f.Add([]byte(`[{"FieldSelectors":[{"Field":"READONLY","Equals":["false"]}]},{"FieldSelectors":[{"Field":"userIdentity.arn","EndsWith":["/alice"]}]}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		sels, err := Parse(in)
		if err != nil {
			return
		}
		if len(sels) > MaxSelectors {
			t.Fatalf("accepted %d selectors", len(sels))
		}
		for _, s := range sels {
			if len(s.FieldSelectors) == 0 {
				t.Fatalf("accepted a selector without field selectors: %+v", s)
			}
			for _, fs := range s.FieldSelectors {
				if canon, ok := fields[lower(fs.Field)]; !ok || canon != fs.Field {
					t.Fatalf("field %q kept in a non-canonical spelling", fs.Field)
				}
			}
		}
		b, err := json.Marshal(sels)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(b)
		if err != nil {
			t.Fatalf("round trip of %s: %v", b, err)
		}
		// Compared as JSON: an empty list and an absent one are the same selector.
		if b2, _ := json.Marshal(again); !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the selectors:\n%s\n%s", b, b2)
		}
		for i, r := range recs {
			if Match(sels, r) != Match(again, r) {
				t.Fatalf("record %d: verdict changed after a round trip of %s", i, b)
			}
		}
	})
}

func lower(s string) string { return string(bytes.ToLower([]byte(s))) }
