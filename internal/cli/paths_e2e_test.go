package cli_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDataAndCostPathsWithQuotesSpacesAndNonASCII: a data directory and a cost file whose paths
// hold ', ", spaces and non-ASCII letters work end to end — every path reaches SQL through the
// engine's one quoting pair (engine.Ident, engine.Literal).
func TestDataAndCostPathsWithQuotesSpacesAndNonASCII(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, `it's "our" lake é 名`)
	costDir := filepath.Join(root, `cost "files" l'été`)
	if err := os.MkdirAll(costDir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(testdata("koku-cur-test-data", "2023-06-01.csv"))
	if err != nil {
		t.Fatal(err)
	}
	costFile := filepath.Join(costDir, `report "june" d'été.csv`)
	if err := os.WriteFile(costFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	id := createStore(t, dir, "trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
	mustRun(t, 0, dir, "cur", "register", `cur.it's`, costFile)
	got := queryCSV(t, dir, `SELECT (SELECT count(*) FROM "aws:cloudtrail"."`+id+`"), (SELECT count(*) FROM "cur"."it's")`)
	if got[0][0] != "310" || got[0][1] != "3" {
		t.Errorf("counts %v, want 310 events and 3 cost lines", got[0])
	}
	mustRun(t, 0, dir, "report", "daily-spend", "--eds", "trail", "--cur", `cur.it's`, "--format", "csv")
	mustRun(t, 0, dir, "eds", "compact", "trail")
	if got := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."trail"`); got[0][0] != "310" {
		t.Errorf("after compaction %v events, want 310", got[0])
	}
}
