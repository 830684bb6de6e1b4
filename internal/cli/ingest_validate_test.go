package cli_test

import (
	"os"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cli"
	"github.com/auditlake/auditlake/internal/integrity/digesttest"
)

// TestIngestWithValidateRefusesTamperedLogFiles: with --validate, a log file whose hash no longer
// matches its digest is not ingested (exit 3, named), the valid files are, and --validate-mode
// flag ingests it with a warning instead.
func TestIngestWithValidateRefusesTamperedLogFiles(t *testing.T) {
	key := digesttest.NewKey(t)
	tr := validateTrail(t, key)
	pub := writePEM(t, key)
	// Tamper with the one-record file of the third hour: replace its content by another valid
	// trail file's, so it still decodes but no longer matches its digest.
	tampered := tr.Path(tr.Logs[2][0])
	other, err := os.ReadFile(tr.Path(tr.Logs[0][0]))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tampered, other, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	createStore(t, dir, "checked")
	out, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "checked", "--validate", "--public-key", pub, tr.Source())
	if code != cli.ExitPartial {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, cli.ExitPartial, out, errOut)
	}
	if !strings.Contains(errOut, tampered) || !strings.Contains(errOut, "integrity: modified") {
		t.Fatalf("the refused file must be named with its verdict:\n%s", errOut)
	}
	if !strings.Contains(out, "1 refused by --validate") {
		t.Fatalf("summary should count the refused file:\n%s", out)
	}
	clean := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."checked"`)[0][0]
	if clean == "0" {
		t.Fatal("the valid files were not ingested")
	}
	// Flag mode: the tampered file is read too, with a warning; its events are duplicates of the
	// file it was overwritten with, so the count stays.
	out, errOut, code = run(t, dir, "ingest", "cloudtrail", "--eds", "checked", "--validate", "--validate-mode", "flag", "--public-key", pub, tr.Source())
	if code != cli.ExitOK || !strings.Contains(errOut, "integrity: modified") {
		t.Fatalf("flag mode: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "1 ingested") {
		t.Fatalf("flag mode should ingest the flagged file:\n%s", out)
	}
	if _, _, code := run(t, dir, "ingest", "cloudtrail", "--eds", "checked", "--validate", tr.Source()); code != cli.ExitUsage {
		t.Fatalf("--validate without --public-key: exit %d, want usage error", code)
	}
}
