package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestProblemsAreReportedInDeliveryOrder: files finish decoding in whatever order the workers
// reach them — here the first file is by far the largest — but the report lists problems by
// file in delivery order, each file's in record order, and past MaxProblems keeps the first
// ones in that order, the same on every run.
func TestProblemsAreReportedInDeliveryOrder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var want []string // "file record" of every problem, in delivery order
	for f, name := range []string{"a.json", "b.json", "c.json", "d.json", "e.json", "f.json"} {
		var recs []string
		if f == 0 { // slow to decode: many good records before the bad ones
			for i := range 20_000 {
				recs = append(recs, fmt.Sprintf(`{"eventVersion":"1.08","eventTime":"2026-05-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"good-%d","recipientAccountId":"111111111111"}`, i))
			}
		}
		for i := range 2 {
			recs = append(recs, fmt.Sprintf(`{"eventVersion":"1.08","eventTime":"not a time %d","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"bad-%s-%d"}`, i, name, i))
			want = append(want, fmt.Sprintf("%s %d", name, len(recs)))
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"Records":[`+strings.Join(recs, ",")+`]}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for run := range 4 {
		st, err := lk.Create(fmt.Sprintf("order-%d", run), lake.CreateOptions{RetentionDays: 3653})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{dir}, Workers: 3, MaxProblems: 5})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Errors != 12 || sum.EventsAdded != 20_000 {
			t.Fatalf("run %d: %d errors, %d events added; want 12 and 20000", run, sum.Errors, sum.EventsAdded)
		}
		got := make([]string, len(sum.Problems))
		for i, p := range sum.Problems {
			got[i] = fmt.Sprintf("%s %d", filepath.Base(p.File), p.Record)
			if p.Severity != cloudtrail.Error {
				t.Errorf("run %d: problem %v is not an error", run, p)
			}
		}
		if !slices.Equal(got, want[:5]) {
			t.Fatalf("run %d: problems %v, want the first five in delivery order %v", run, got, want[:5])
		}
	}
}

// TestConfigProblemsAreReportedInListingOrder: the same for Config ingest — the first object,
// by far the largest, finishes last, yet its problems come first.
func TestConfigProblemsAreReportedInListingOrder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var want []string
	for f, name := range []string{"a.json", "b.json", "c.json", "d.json"} {
		pad := ""
		if f == 0 {
			pad = `"padding":"` + strings.Repeat("x", 20<<20) + `",`
		}
		doc := `{` + pad + `"configurationItems":[1,"two"]}`
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, name+" 1", name+" 2")
	}
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for run := range 3 {
		st, err := lk.Create(fmt.Sprintf("config-order-%d", run), lake.CreateOptions{Type: lake.TypeConfig})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := ingest.Config(ctx, lk, st, ingest.Options{Sources: []string{dir}, Workers: 3, MaxProblems: 5})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Errors != 8 {
			t.Fatalf("run %d: %d errors, want 8: %v", run, sum.Errors, sum.Problems)
		}
		got := make([]string, len(sum.Problems))
		for i, p := range sum.Problems {
			got[i] = fmt.Sprintf("%s %d", filepath.Base(p.File), p.Record)
		}
		if !slices.Equal(got, want[:5]) {
			t.Fatalf("run %d: problems %v, want the first five in listing order %v", run, got, want[:5])
		}
	}
}
