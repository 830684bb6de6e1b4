package sigma_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/auditlake/auditlake/internal/sigma"
)

// FuzzParse: no input makes the compiler panic; every input compiles or is refused.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "sigma-aws-cloudtrail-rules", "rules", "*.yml"))
	for _, p := range files[:10] {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(rule("  sel:\n    a|contains|all:\n      - '\\\\*?'\n  condition: not (sel or 1 of them)")))
	f.Add([]byte(rule("  sel:\n    a: 1\n  condition: sel") + "...\n--- # two\n" + rule("  sel:\n    b: 1.10\n  condition: sel") + "---\naction: global\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := sigma.Parse("fuzz.yml", data)
		if (r == nil) == (err == nil) {
			t.Fatalf("rule %v and error %v", r, err)
		}
		// Each document ParseAll loads is its own text, which compiles alone to the same rule.
		rules, docs, _ := sigma.ParseAll("fuzz.yml", data)
		if len(docs) != len(rules) {
			t.Fatalf("%d rules, %d document numbers", len(rules), len(docs))
		}
		for _, r := range rules {
			again, err := sigma.Parse("fuzz.yml", []byte(r.Source))
			if err != nil || again.Predicate != r.Predicate {
				t.Fatalf("document %q compiles alone to %v, %v", r.Source, again, err)
			}
		}
	})
}
