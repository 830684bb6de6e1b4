package cli_test

import (
	"strings"
	"testing"
)

// TestRuleAddSigmaAgainKeepsGrouping: re-adding the Sigma rules (a newer copy of the rule files)
// without --group-by/--window keeps the grouping set by auditlake rule group; given again, they
// replace it.
func TestRuleAddSigmaAgainKeepsGrouping(t *testing.T) {
	dir := t.TempDir()
	sigmaDir := testdata("sigma-aws-cloudtrail-rules", "rules")
	mustRun(t, 0, dir, "rule", "add", "--sigma", sigmaDir)
	const rule = "AWS CloudTrail Important Change"
	mustRun(t, 0, dir, "rule", "group", rule, "--by", "account", "--window", "30m")

	if out := mustRun(t, 0, dir, "rule", "add", "--sigma", sigmaDir); !strings.Contains(out, "0 Sigma rules added, 57 updated") {
		t.Fatalf("re-add: %s", out)
	}
	if out := mustRun(t, 0, dir, "rule", "show", rule); !strings.Contains(out, "one per account per 30m") {
		t.Errorf("re-added without --group-by: the grouping was reset:\n%s", out)
	}
	mustRun(t, 0, dir, "rule", "add", "--sigma", sigmaDir, "--window", "2h")
	if out := mustRun(t, 0, dir, "rule", "show", rule); !strings.Contains(out, "one per account per 2h") {
		t.Errorf("re-added with --window 2h only:\n%s", out)
	}
	mustRun(t, 0, dir, "rule", "add", "--sigma", sigmaDir, "--group-by", "region")
	if out := mustRun(t, 0, dir, "rule", "show", rule); !strings.Contains(out, "one per region per 2h") {
		t.Errorf("re-added with --group-by region:\n%s", out)
	}
}
