package web_test

import (
	"io/fs"
	"regexp"
	"testing"

	"github.com/auditlake/auditlake/web"
)

// TestCommittedAssetsAreEmbedded: the binary carries the built dashboard whatever built it
// (make, go build, go install): index.html and every script and stylesheet it names.
func TestCommittedAssetsAreEmbedded(t *testing.T) {
	assets := web.Assets()
	if assets == nil {
		t.Fatal("web/dist holds no index.html: build with make web and commit web/dist")
	}
	index, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="\./(assets/[^"]+)"`).FindAllSubmatch(index, -1)
	if len(refs) < 2 {
		t.Fatalf("index.html names %d assets, want its script and stylesheet:\n%s", len(refs), index)
	}
	for _, r := range refs {
		if _, err := fs.Stat(assets, string(r[1])); err != nil {
			t.Errorf("index.html names %s, which is not embedded: %v", r[1], err)
		}
	}
}
