package cloudtrail

import (
	"os"
	"path/filepath"
	"testing"
)

// recordSamples are sample files of every way a record reaches finish: delivery files, JSON
// Lines, lookup-events output and EventBridge events.
func recordSamples(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, glob := range []string{"aws-cloudtrail-processing-library-serializer-tests/*.json", "panther-analysis-cloudtrail-tests/*.jsonl",
		"plaso-cloudtrail-lookupevents/*.jsonl", "stratus-red-team-detonation-logs/*.json", "cloud-custodian-event-and-config-fixtures/cwe/*.json"} {
		m, _ := filepath.Glob("../../testdata/" + glob)
		if len(m) == 0 {
			t.Fatalf("no samples match testdata/%s", glob)
		}
		files = append(files, m...)
	}
	return files
}

// TestRecordHashes: the hashes (and MemSize) the decoder caches are the ones computed from the fields, equal
// keys hash alike, and a missing account, source or name hashes unlike an empty one.
func TestRecordHashes(t *testing.T) {
	files := recordSamples(t)
	n := 0
	for _, f := range files {
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		// Some samples are damaged on purpose: their good records are checked all the same.
		Decode(in, f, DecodeOptions{}, func(r *Record) error {
			n++
			if r.keyHash == 0 || r.kindHash == 0 {
				t.Fatalf("%s: record %s has no cached hashes", f, r.EventID)
			}
			if r.keyHash != r.computeKeyHash() || r.kindHash != r.computeKindHash() {
				t.Fatalf("%s: record %s: cached hashes differ from its fields'", f, r.EventID)
			}
			if r.memSize == 0 || r.memSize != r.computeMemSize() || r.MemSize() != r.computeMemSize() {
				t.Fatalf("%s: record %s: cached MemSize %d, its fields' %d", f, r.EventID, r.memSize, r.computeMemSize())
			}
			if r.EventSource != nil && r.EventName != nil && KindHashOf(*r.EventSource, *r.EventName) != r.KindHash() {
				t.Fatalf("%s: record %s: KindHashOf its source and name differs from its KindHash", f, r.EventID)
			}
			return nil
		})
		in.Close()
	}
	if n < 500 {
		t.Fatalf("%d records decoded from %d files: the samples are missing", n, len(files))
	}
	s := func(v string) *string { return &v }
	key := func(id string, acct *string) uint64 {
		return (&Record{EventID: id, RecipientAccountID: acct}).KeyHash()
	}
	if key("a", s("1")) != key("a", s("1")) {
		t.Error("equal keys hash differently")
	}
	for _, c := range [][2]uint64{
		{key("a", nil), key("a", s(""))},
		{key("a", s("1")), key("a", s("2"))},
		{key("a", s("1")), key("b", s("1"))},
	} {
		if c[0] == c[1] {
			t.Error("distinct keys hash alike")
		}
	}
	kind := func(src, name *string) uint64 { return (&Record{EventSource: src, EventName: name}).KindHash() }
	if kind(s("ec2"), s("Run")) != kind(s("ec2"), s("Run")) || KindHashOf("ec2", "Run") != kind(s("ec2"), s("Run")) {
		t.Error("equal kinds hash differently")
	}
	distinct := []uint64{kind(nil, nil), kind(s(""), nil), kind(nil, s("")), kind(s(""), s("")), kind(s("x"), nil), kind(nil, s("x")), kind(s("x"), s("y")), kind(s("y"), s("x"))}
	for i := range distinct {
		for j := range i {
			if distinct[i] == distinct[j] {
				t.Errorf("kinds %d and %d hash alike", i, j)
			}
		}
	}
}
