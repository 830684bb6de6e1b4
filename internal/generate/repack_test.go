package generate_test

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/generate"
)

// TestRepackKeepsEveryEventInDeliveryOrder: the large-file shape holds the generation's events,
// each once, in delivery order (the source files by the time in their names), perFile to a file
// but the last, under the trail's key layout; a count under 1 and a folder without delivery
// files are errors.
func TestRepackKeepsEveryEventInDeliveryOrder(t *testing.T) {
	o := load(t)
	const perFile = 1000
	src, out := filepath.Join(o.cfg.Out, "AWSLogs"), t.TempDir()
	files, records, err := generate.Repack(src, out, perFile)
	if err != nil {
		t.Fatal(err)
	}
	if records != len(o.records) || files != (records+perFile-1)/perFile {
		t.Fatalf("repacked %d records into %d files; want %d records, %d files", records, files, len(o.records), (len(o.records)+perFile-1)/perFile)
	}
	when := regexp.MustCompile(`_(\d{8}T\d{4}Z)_`)
	keys := slices.Sorted(maps.Keys(o.files))
	slices.SortStableFunc(keys, func(a, b string) int {
		return cmp.Compare(when.FindStringSubmatch(a)[1], when.FindStringSubmatch(b)[1])
	})
	var want []string
	for _, k := range keys {
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(o.files[k], &doc); err != nil {
			t.Fatal(err)
		}
		for _, r := range doc.Records {
			want = append(want, string(r))
		}
	}

	big := regexp.MustCompile(`^AWSLogs/(o-[a-z0-9]+/)?[0-9]{12}/CloudTrail/[a-z0-9-]+/\d{4}/\d{2}/\d{2}/.*-big(\d{5})\.json\.gz$`)
	got := make([][]string, files)
	err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		rel = "AWSLogs/" + filepath.ToSlash(rel)
		m := big.FindStringSubmatch(rel)
		if m == nil {
			t.Fatalf("repacked file %s is not named after a delivery file", rel)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return err
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			return err
		}
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(body, &doc); err != nil {
			return err
		}
		n, _ := strconv.Atoi(m[2])
		if n >= files {
			t.Fatalf("repacked file %s: number %d of %d", rel, n, files)
		}
		for _, r := range doc.Records {
			got[n] = append(got[n], string(r))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for i, f := range got {
		if i < len(got)-1 && len(f) != perFile {
			t.Fatalf("repacked file %d has %d records, want %d", i, len(f), perFile)
		}
		all = append(all, f...)
	}
	if !slices.Equal(all, want) {
		t.Fatalf("the repacked records are not the generation's in delivery order (%d of %d)", len(all), len(want))
	}

	if _, _, err := generate.Repack(src, t.TempDir(), 0); err == nil {
		t.Error("repack with 0 events a file: no error")
	}
	if _, _, err := generate.Repack(t.TempDir(), t.TempDir(), perFile); err == nil || !strings.Contains(err.Error(), "no .json.gz files") {
		t.Errorf("repack of an empty folder: %v", err)
	}
}
