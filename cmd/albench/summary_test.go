package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTargetsTable: the targets the sections record end the report as one table with each
// target's figure, baseline, ratio, limit and whether it is met, in the order recorded.
func TestTargetsTable(t *testing.T) {
	targetsFile = filepath.Join(t.TempDir(), "targets.tsv")
	t.Cleanup(func() { targetsFile = "" })
	record(ratioTarget("16: restricted reader / admin", 112, 100, "%.1f ms", 1.2))
	record(ratioTarget("19: ingest with every rule / without", 13.0, 10.0, "%.2f s", 1.15))
	record(huntTarget(20_000, 2*time.Second))
	record(huntTarget(10_000_000, 31*time.Second))
	record(absTarget("21.4: row groups a lookup by eventid reads", 4.5, "%.1f %%", 10))
	var out strings.Builder
	if err := printTargets(targetsFile, &out); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"## Targets",
		"| target | figure | baseline | ratio | limit | met |",
		"| 16: restricted reader / admin | 112.0 ms | 100.0 ms | 1.12 | ≤ 1.20 × | met |",
		"| 19: ingest with every rule / without | 13.00 s | 10.00 s | 1.30 | ≤ 1.15 × | not met |",
		"| 19: hunt of every rule over 20000 events | 2.0 s | — | — | ≤ 30.0 s | n/a: the target is at 10M events |",
		"| 19: hunt of every rule over 10000000 events | 31.0 s | — | — | ≤ 30.0 s | not met |",
		"| 21.4: row groups a lookup by eventid reads | 4.5 % | — | — | ≤ 10.0 % | met |",
		"2 of 5 targets met, 2 not met, 1 not measured at their scale in this run.",
	}
	got := out.String()
	last := -1
	for _, w := range want {
		i := strings.Index(got, w)
		if i < 0 || i < last {
			t.Fatalf("the table lacks %q (or has it out of order):\n%s", w, got)
		}
		last = i
	}
}

// TestTargetsTableBadLine: a line that is not the six fields is an error naming the file and
// line; no file at all is an empty table, not an error.
func TestTargetsTableBadLine(t *testing.T) {
	dir := t.TempDir()
	var out strings.Builder
	if err := printTargets(filepath.Join(dir, "none.tsv"), &out); err != nil || !strings.Contains(out.String(), "0 of 0 targets met") {
		t.Fatalf("no file: %v\n%s", err, out.String())
	}
	bad := filepath.Join(dir, "bad.tsv")
	if err := os.WriteFile(bad, []byte("a\tb\tc\td\te\tmet\nonly\ttwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := printTargets(bad, &out)
	if err == nil || !strings.Contains(err.Error(), "bad.tsv:2") {
		t.Fatalf("got %v, want an error naming bad.tsv:2", err)
	}
}

// TestTargetCellEscapes: a '|' in a recorded name does not break the Markdown table.
func TestTargetCellEscapes(t *testing.T) {
	targetsFile = filepath.Join(t.TempDir(), "targets.tsv")
	t.Cleanup(func() { targetsFile = "" })
	record(ratioTarget("x | y", 1, 1, "%.0f", 1))
	var out strings.Builder
	if err := printTargets(targetsFile, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `| x \| y | 1 | 1 | 1.00 | ≤ 1.00 × | met |`) {
		t.Fatalf("got:\n%s", out.String())
	}
}
