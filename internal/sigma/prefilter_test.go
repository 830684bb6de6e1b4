package sigma_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/sigma"
)

// TestPrefilterIsImplied checks, for detections of every form that touch eventSource and
// eventName and for all 57 community rules, that a rule's Prefilter reads only the prefilter
// columns and holds for every event of the corpus (case variants included) its Predicate
// matches; and that the forms which say something about those columns have one.
func TestPrefilterIsImplied(t *testing.T) {
	s, st := openStore(t, corpus)
	cases := []struct {
		name, detection string
		wantPre         bool
	}{
		{"equality", "  sel:\n    eventName: DeleteBucket\n  condition: sel", true},
		{"field name in another case", "  sel:\n    EventSource: s3.amazonaws.com\n  condition: sel", true},
		{"cased", "  sel:\n    eventName|cased: DeleteBucket\n  condition: sel", true},
		{"list", "  sel:\n    eventName:\n      - ConsoleLogin\n      - putbucketversioning\n  condition: sel", true},
		{"wildcards", "  sel:\n    eventName: 'Delete*'\n    eventSource: '?3.amazonaws.com'\n  condition: sel", true},
		{"contains, startswith, endswith, re", "  a:\n    eventName|contains: bucket\n  b:\n    eventSource|startswith: S3\n  c:\n    eventName|re: '^Update'\n  d:\n    eventSource|endswith: .COM\n  condition: (a and b) or c or d", true},
		{"all", "  sel:\n    eventName|contains|all:\n      - Delete\n      - Bucket\n  condition: sel", true},
		{"null", "  sel:\n    eventName: null\n  condition: sel", true},
		{"exists", "  sel:\n    eventSource|exists: true\n  condition: sel", true},
		{"and with another field", "  sel:\n    eventName: DeleteBucket\n    userIdentity.type: Root\n  condition: sel", true},
		{"or with another field: nothing known", "  a:\n    eventName: DeleteBucket\n  b:\n    userIdentity.type: Root\n  condition: a or b", false},
		{"list of maps", "  sel:\n    - eventName: ConsoleLogin\n      userIdentity.type: Root\n    - eventSource: iam.amazonaws.com\n  condition: sel", true},
		{"not: nothing known", "  sel:\n    eventName: DeleteBucket\n  condition: not sel", false},
		{"and not", "  sel:\n    eventSource: s3.amazonaws.com\n  f:\n    eventName: DeleteBucket\n  condition: sel and not f", true},
		{"1 of", "  sel_a:\n    eventName: ConsoleLogin\n  sel_b:\n    eventName: DeleteBucket\n  condition: 1 of sel_*", true},
		{"all of them", "  a:\n    eventSource: s3.amazonaws.com\n  b:\n    requestParameters.bucketName|contains: Logs\n  condition: all of them", true},
		{"fieldref: not a prefilter", "  sel:\n    eventName|fieldref: eventName\n  condition: sel", false},
		{"list of conditions", "  a:\n    eventName: ConsoleLogin\n  b:\n    eventSource: ecs.amazonaws.com\n  condition:\n    - a\n    - b", true},
	}
	check := func(name string, r *sigma.Rule) {
		t.Helper()
		if r.Prefilter == "" {
			return
		}
		if reads := columnsRead(r.Prefilter); len(reads) > 0 {
			t.Errorf("%s: prefilter %s reads %v", name, r.Prefilter, reads)
		}
		matched := matching(t, s, st, r.Predicate)
		admitted := matching(t, s, st, "coalesce("+r.Prefilter+", false)")
		for _, id := range matched {
			if !slices.Contains(admitted, id) {
				t.Errorf("%s: %s matches %s, which its prefilter %s does not admit", name, r.Predicate, id, r.Prefilter)
			}
		}
	}
	for _, c := range cases {
		r, err := sigma.Parse("t.yml", []byte(rule(c.detection)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (r.Prefilter != "") != c.wantPre {
			t.Errorf("%s: prefilter %q", c.name, r.Prefilter)
		}
		check(c.name, r)
	}
	rs, refused, err := sigma.Load(filepath.Join("..", "..", "testdata", "sigma-aws-cloudtrail-rules", "rules"))
	if err != nil || len(refused) > 0 {
		t.Fatal(err, refused)
	}
	with := 0
	for _, r := range rs {
		if r.Prefilter != "" {
			with++
		}
		check(r.ID, r)
	}
	// Every community rule but those that name neither field (or only under a not) has one.
	if with < 50 {
		t.Errorf("%d of %d community rules have a prefilter", with, len(rs))
	}
	t.Logf("%d of %d community rules have a prefilter", with, len(rs))
}

// columnsRead returns the double-quoted identifiers sql reads that are not prefilter columns.
func columnsRead(sql string) []string {
	var out []string
	for i, part := range strings.Split(sql, `"`) {
		if i%2 == 1 && !slices.Contains(sigma.PrefilterColumns, part) {
			out = append(out, fmt.Sprintf("%q", part))
		}
	}
	return out
}
