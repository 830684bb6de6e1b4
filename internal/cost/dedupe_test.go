package cost_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cost"
)

// skippedReasons maps each skipped file's base name to its reason.
func skippedReasons(tb cost.Table) map[string]string {
	out := map[string]string{}
	for _, s := range tb.Skipped {
		out[filepath.Base(s.URI)] = s.Reason
	}
	return out
}

// koku's folder holds test_cur.csv and test_cur.csv.gz (one report twice) and
// 2023-06-01-not-final.csv beside 2023-06-01.csv (the same three line items, without the invoice
// id a final bill has). Each line item must count once: 19 + 3 + 2 rows of the three distinct
// reports and the header-only file (row counts as in TestRegisterRealCostFilesGivesRowCountsAndSums).
func TestLocalFolderCountsEachReportOnce(t *testing.T) {
	dir := t.TempDir()
	s := register(t, dir, "k.all", filepath.Join(testdata, "koku-cur-test-data"))
	if s.Table.Rows != 19+3+2+0 || len(s.Table.Files) != 4 {
		t.Errorf("rows %d in %d files, want 24 in 4", s.Table.Rows, len(s.Table.Files))
	}
	why := skippedReasons(s.Table)
	if len(why) != 2 || !strings.Contains(why["test_cur.csv.gz"], "test_cur.csv (same name, other compression)") ||
		!strings.Contains(why["2023-06-01-not-final.csv"], "2023-06-01.csv, which counts (final: it has invoice ids)") {
		t.Errorf("skipped = %#v", s.Table.Skipped)
	}
	got := queryOne(t, session(t, dir), `SELECT count(*) - count(DISTINCT (identity_line_item_id, identity_time_interval)),
		string_agg(DISTINCT bill_invoice_id, ',') FILTER (WHERE year = '2023' AND month = '6') FROM k.all`)
	if got[0] != int64(0) || got[1] != "987654321" {
		t.Errorf("duplicate line items %v, June 2023 invoice ids %v; want 0, the final bill's 987654321", got[0], got[1])
	}
	// The registry keeps the list for cur show.
	tb, err := cost.Lookup(dir, "k.all")
	if err != nil || len(tb.Skipped) != 2 {
		t.Errorf("registered table's skipped files = %v (%v), want 2", tb.Skipped, err)
	}
}

func TestCopiesAreFoundByLineItemsWhateverTheirNames(t *testing.T) {
	full := readFile(t, filepath.Join(testdata, "koku-cur-test-data/test_cur.csv"))
	lines := bytes.SplitAfter(full, []byte("\n"))
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("same line items: the newer counts", func(t *testing.T) {
		src := t.TempDir()
		writeFile(t, filepath.Join(src, "a-export.csv"), full, t0.Add(time.Hour))
		writeGzip(t, filepath.Join(src, "b-download.csv.gz"), full, t0)
		s := register(t, t.TempDir(), "k.t", src)
		if s.Table.Rows != 19 || len(s.Table.Files) != 1 || filepath.Base(s.Table.Files[0].URI) != "a-export.csv" {
			t.Fatalf("rows %d files %v; want a-export.csv alone, 19 rows", s.Table.Rows, s.Table.Files)
		}
		if why := skippedReasons(s.Table)["b-download.csv.gz"]; !strings.Contains(why, "a-export.csv, which counts (newer)") {
			t.Errorf("reason = %q", why)
		}
	})
	t.Run("an earlier, shorter version: the longer counts", func(t *testing.T) {
		src := t.TempDir()
		writeFile(t, filepath.Join(src, "month.csv"), full, t0)
		writeFile(t, filepath.Join(src, "month-partial.csv"), bytes.Join(lines[:11], nil), t0.Add(time.Hour))
		s := register(t, t.TempDir(), "k.t", src)
		if s.Table.Rows != 19 || len(s.Table.Skipped) != 1 || filepath.Base(s.Table.Skipped[0].URI) != "month-partial.csv" {
			t.Fatalf("rows %d skipped %v; want 19 rows, month-partial.csv skipped", s.Table.Rows, s.Table.Skipped)
		}
		if !strings.Contains(s.Table.Skipped[0].Reason, "its 10 line items are all in") {
			t.Errorf("reason = %q", s.Table.Skipped[0].Reason)
		}
	})
	t.Run("partly shared line items: both count, with a warning", func(t *testing.T) {
		src := t.TempDir()
		writeFile(t, filepath.Join(src, "first.csv"), bytes.Join(lines[:11], nil), t0)
		writeFile(t, filepath.Join(src, "second.csv"), bytes.Join(append([][]byte{lines[0]}, lines[6:]...), nil), t0)
		s, err := cost.RegisterSource(context.Background(), t.TempDir(), cost.RegisterOptions{Name: "k.t", Source: src})
		if err != nil {
			t.Fatal(err)
		}
		if s.Table.Rows != 10+14 || len(s.Table.Skipped) != 0 || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "share 5 line items (of 10 and 14)") {
			t.Errorf("rows %d skipped %v warnings %q; want 24 rows, none skipped, one warning about 5 shared line items", s.Table.Rows, s.Table.Skipped, s.Warnings)
		}
	})
}

// Files a manifest leaves out (superseded assemblies) are listed too, with the manifest's reason.
func TestSupersededAssembliesAreListedAsSkipped(t *testing.T) {
	out, _ := generateCUR(t)
	s := register(t, t.TempDir(), "gen.cur1", filepath.Join(out, "cur"))
	if len(s.Table.Skipped) != len(s.Table.Files) || len(s.Table.Files) != 2 {
		t.Fatalf("files %d, skipped %v; want one current and one superseded assembly per period (2 periods)", len(s.Table.Files), s.Table.Skipped)
	}
	for _, sk := range s.Table.Skipped {
		if !strings.Contains(sk.Reason, "superseded") {
			t.Errorf("%s: reason %q", sk.URI, sk.Reason)
		}
		for _, f := range s.Table.Files {
			if f.URI == sk.URI {
				t.Errorf("%s is both counted and skipped", sk.URI)
			}
		}
	}
}

// A report's own layout (a manifest chooses its file) with a downloaded copy of that file beside
// it: the copy is skipped, whatever its date, and the manifest's file counts.
func TestACopyBesideAManifestsFileIsSkipped(t *testing.T) {
	data := readFile(t, filepath.Join(testdata, "koku-cur-test-data/test_cur.csv"))
	src := t.TempDir()
	t0 := time.Date(2018, 7, 2, 0, 0, 0, 0, time.UTC)
	period := filepath.Join(src, "report", "20180601-20180701")
	writeGzip(t, filepath.Join(period, "asm-1", "report-1.csv.gz"), data, t0)
	writeFile(t, filepath.Join(period, "asm-1", "report-Manifest.json"),
		[]byte(`{"assemblyId":"asm-1","reportKeys":["report/20180601-20180701/asm-1/report-1.csv.gz"]}`), t0)
	writeFile(t, filepath.Join(src, "downloaded-june.csv"), data, t0.Add(48*time.Hour))
	s := register(t, t.TempDir(), "k.t", src)
	if s.Table.Rows != 19 || len(s.Table.Files) != 1 || filepath.Base(s.Table.Files[0].URI) != "report-1.csv.gz" {
		t.Fatalf("rows %d files %v; want the manifest's file alone, 19 rows", s.Table.Rows, s.Table.Files)
	}
	if why := skippedReasons(s.Table)["downloaded-june.csv"]; !strings.Contains(why, "report-1.csv.gz, which counts (chosen by its manifest)") {
		t.Errorf("reason = %q (skipped %v)", why, s.Table.Skipped)
	}
}

// Two assemblies of one billing period (the generator gives each its own line item ids, as AWS
// does across report versions) copied into a folder: nothing proves a copy, so both count, but
// the registration warns that they look like two versions of one report.
func TestTwoVersionsWithOtherIdsAreReportedAsADoubt(t *testing.T) {
	out, _ := generateCUR(t)
	asms, err := filepath.Glob(filepath.Join(out, "cur", "*", "20260301-20260401", "*", "*.csv.gz"))
	if err != nil || len(asms) != 2 {
		t.Fatalf("assemblies of March: %v %v", asms, err)
	}
	src := t.TempDir()
	for i, p := range asms {
		writeFile(t, filepath.Join(src, "march-"+string(rune('a'+i))+".csv.gz"), readFile(t, p), time.Now())
	}
	s, err := cost.RegisterSource(context.Background(), t.TempDir(), cost.RegisterOptions{Name: "k.t", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Table.Files) != 2 || len(s.Table.Skipped) != 0 || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "look like two versions of one report") {
		t.Errorf("files %d, skipped %v, warnings %q; want both counted and one warning", len(s.Table.Files), s.Table.Skipped, s.Warnings)
	}
}
