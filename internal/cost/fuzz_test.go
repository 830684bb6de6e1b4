package cost

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// costSamples returns the first lines (headers) and the first few KB of every real CUR/FOCUS
// CSV sample under testdata/.
func costSamples(tb testing.TB) (headers []string, heads [][]byte) {
	tb.Helper()
	var files []string
	for _, g := range []string{"*/*.csv", "*/*.csv.gz"} {
		m, _ := filepath.Glob(filepath.Join("..", "..", "testdata", g))
		files = append(files, m...)
	}
	if len(files) == 0 {
		tb.Fatal("no CSV samples under testdata/")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		if strings.HasSuffix(p, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				tb.Fatal(err)
			}
			line, _ := bufio.NewReader(zr).ReadString('\n')
			headers = append(headers, strings.TrimRight(line, "\r\n"))
			continue
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		headers = append(headers, strings.TrimRight(string(line), "\r"))
		heads = append(heads, b[:min(len(b), 4<<10)])
	}
	return headers, heads
}

// FuzzAthenaName checks the header normalisation: its output is a valid unquoted Athena column
// name (lowercase ASCII letters, digits and single underscores, none at either end), and
// normalising twice changes nothing, so a CUR 2.0 file whose headers are already snake_case
// keeps them.
func FuzzAthenaName(f *testing.F) {
	headers, _ := costSamples(f)
	for _, h := range headers {
		for _, col := range strings.Split(h, ",") {
			f.Add(col)
		}
	}
	f.Add("lineItem/UnblendedCost")
	f.Add("resourceTags/user:Name")
	f.Fuzz(func(t *testing.T, header string) {
		got := AthenaName(header)
		for i, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				t.Fatalf("AthenaName(%q) = %q: character %q at %d is not [a-z0-9_]", header, got, r, i)
			}
		}
		if strings.Contains(got, "__") || strings.HasPrefix(got, "_") || strings.HasSuffix(got, "_") {
			t.Fatalf("AthenaName(%q) = %q: doubled, leading or trailing underscore", header, got)
		}
		if again := AthenaName(got); again != got {
			t.Fatalf("AthenaName is not idempotent: %q -> %q -> %q", header, got, again)
		}
	})
}

// FuzzDetectFormat checks header detection on arbitrary CSV bytes: reading the header never
// panics and strips one byte-order mark (as the engine does); the detected format
// does not depend on the order of the columns; the view's columns are distinct and account for
// every raw column exactly once.
func FuzzDetectFormat(f *testing.F) {
	_, heads := costSamples(f)
	for _, h := range heads {
		f.Add(h)
	}
	f.Add([]byte("\ufeffBilledCost,ChargePeriodStart\n1,2024-01-01\n"))
	f.Add([]byte("identity/LineItemId,\"lineItem/Unblended\nCost\"\na,1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		cols, err := readCSVHeader(bytes.NewReader(in))
		if err != nil {
			return
		}
		// One leading byte-order mark is stripped, as the engine's CSV reader strips it: a
		// second one is part of the first column's name there (read_csv names the column
		// "\ufeffBilledCost" after "\ufeff\ufeffBilledCost"), so it is here too.
		if len(cols) > 0 && bytes.HasPrefix(in, []byte("\ufeff")) {
			raw := csv.NewReader(bytes.NewReader(in))
			raw.FieldsPerRecord, raw.LazyQuotes = -1, true
			if rec, err := raw.Read(); err == nil && len(rec) > 0 && cols[0] != strings.TrimPrefix(rec[0], "\ufeff") {
				t.Fatalf("header's first column %q, want %q (one byte-order mark stripped)", cols[0], strings.TrimPrefix(rec[0], "\ufeff"))
			}
		}
		for _, kind := range []string{"csv", "parquet"} {
			got := detectFormat(cols, kind)
			rev := slices.Clone(cols)
			slices.Reverse(rev)
			if again := detectFormat(rev, kind); again != got {
				t.Fatalf("detectFormat(%q, %s) = %q but %q with the columns reversed", cols, kind, got, again)
			}
			if got == "" {
				continue
			}
			names, raws := map[string]bool{}, 0
			for _, c := range outputColumns(got, cols) {
				if names[strings.ToLower(c.Name)] {
					t.Fatalf("view of %q (%s) has column %q twice", cols, got, c.Name)
				}
				names[strings.ToLower(c.Name)] = true
				raws += len(c.Raw)
			}
			if raws != len(cols) {
				t.Fatalf("view of %q (%s) maps %d raw columns, want %d", cols, got, raws, len(cols))
			}
		}
	})
}
