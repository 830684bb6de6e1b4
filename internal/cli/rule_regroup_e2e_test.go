package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
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

// TestRuleAddSigmaRefusesOnlyTheFileWhoseIDIsANonSigmaRule: a Sigma file whose id (or, without
// one, its file name) is the name of a built-in or SQL rule already registered is refused with
// its file, id and reason, the other files of the directory are added, and the exit code is 3,
// as for every other refusal (docs/detections.md). Before, the whole directory was refused
// (exit 2, no rule added) and the usage printed.
func TestRuleAddSigmaRefusesOnlyTheFileWhoseIDIsANonSigmaRule(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 0, dir, "rule", "add", "root-use", "--builtin", "root-account-use")
	rulesDir := t.TempDir()
	for name, text := range map[string]string{
		"root-use.yml": "title: Mine\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName: GetCallerIdentity\n  condition: sel\n",
		"other.yml":    "title: Other\nid: other-1\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName: DeleteTrail\n  condition: sel\n",
	} {
		if err := os.WriteFile(filepath.Join(rulesDir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := run(t, dir, "rule", "add", "--sigma", rulesDir)
	if code != 3 || !strings.Contains(out, "1 Sigma rules added, 0 updated, 1 refused") || !strings.Contains(errOut, "root-use.yml (root-use) refused: ") || !strings.Contains(errOut, "builtin") {
		t.Fatalf("rule add --sigma with a file named as a built-in rule: exit %d\n%s\n%s", code, out, errOut)
	}
	if show := mustRun(t, 0, dir, "rule", "show", "root-use"); !strings.Contains(show, "kind:         builtin") {
		t.Fatalf("the built-in rule was replaced:\n%s", show)
	}
	mustRun(t, 0, dir, "rule", "show", "other-1")
}

// TestRuleAddSigmaNamesTheDocumentWhoseIDIsANonSigmaRule: in a file of several documents, the
// one whose id names a built-in rule is refused alone, naming its document as every other
// refusal of a document does; before, only the file was named.
func TestRuleAddSigmaNamesTheDocumentWhoseIDIsANonSigmaRule(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 0, dir, "rule", "add", "root-use", "--builtin", "root-account-use")
	file := filepath.Join(t.TempDir(), "two.yml")
	text := "title: Trail deleted\nid: trail-deleted\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName: DeleteTrail\n  condition: sel\n" +
		"---\ntitle: Mine\nid: root-use\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName: GetCallerIdentity\n  condition: sel\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, dir, "rule", "add", "--sigma", file)
	if code != 3 || !strings.Contains(out, "1 Sigma rules added, 0 updated, 1 refused") ||
		!strings.Contains(errOut, "two.yml document 2 (root-use) refused: a builtin rule named \"root-use\" exists") {
		t.Fatalf("rule add --sigma of a file whose second document is named as a built-in rule: exit %d\n%s\n%s", code, out, errOut)
	}
	mustRun(t, 0, dir, "rule", "show", "trail-deleted")
}

// TestRuleAddSigmaLoadsEachDocument: a rule followed by its correlation rule in one file (as
// SigmaHQ writes correlations) adds the rule and refuses the correlation document alone,
// naming it; before, the whole file was refused and nothing was added.
func TestRuleAddSigmaLoadsEachDocument(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "brute.yml")
	text := "title: Failed console logins\nid: failed-logins\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName: ConsoleLogin\n    errorMessage: Failed authentication\n  condition: sel\n" +
		"---\ntitle: Many failed console logins\nid: failed-logins-burst\ncorrelation:\n  type: event_count\n  rules: [failed-logins]\n  group-by: [sourceIPAddress]\n  timespan: 10m\n  condition:\n    gte: 10\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, dir, "rule", "add", "--sigma", file)
	if code != 3 || !strings.Contains(out, "1 Sigma rules added, 0 updated, 1 refused") ||
		!strings.Contains(errOut, "brute.yml document 2 (failed-logins-burst) refused: correlation rule (event_count)") {
		t.Fatalf("rule add --sigma of a rule and its correlation: exit %d\n%s\n%s", code, out, errOut)
	}
	show := mustRun(t, 0, dir, "rule", "show", "failed-logins")
	if !strings.Contains(show, "Failed authentication") || strings.Contains(show, "correlation") {
		t.Fatalf("rule show of the first document:\n%s", show)
	}
}

// TestRuleListWarnsOfRulesThatReadDifferently: a Sigma rule registered before auditlake read
// unquoted numbers as pySigma does (eventVersion: 1.10 was the text "1.10", now the number
// 1.1) is compiled again from its stored YAML on every load, and so matched other events
// than when it was added, silently. rule add warns of such a value, rule list warns of a rule
// added before its predicate was kept that has one, or of a rule whose predicate is not the
// one it had when added, and rule show says so.
func TestRuleListWarnsOfRulesThatReadDifferently(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "v.yml")
	text := "title: Old event version\nid: old-version\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventVersion: 1.10\n  condition: sel\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, dir, "rule", "add", "--sigma", file)
	if code != 0 || !strings.Contains(errOut, "warning: sigma rule "+file+" (old-version): line 6: eventVersion: 1.10 is read as the number 1.1") {
		t.Fatalf("rule add: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, _ := run(t, dir, "rule", "list"); errOut != "" {
		t.Fatalf("rule list warns of a rule that reads as when it was added:\n%s", errOut)
	}
	if show := mustRun(t, 0, dir, "rule", "show", "old-version"); !strings.Contains(show, "warning:   line 6: eventVersion: 1.10 is read as the number 1.1") {
		t.Fatalf("rule show:\n%s", show)
	}
	registry := filepath.Join(dir, "rules.json")
	edit := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(registry)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(from)
		if !re.Match(b) {
			t.Fatalf("rules.json has no %s:\n%s", from, b)
		}
		if err := os.WriteFile(registry, re.ReplaceAll(b, []byte(to)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Registered by an earlier version: no predicate kept.
	edit(`"compiled": "[0-9a-f]+",?`, "")
	_, errOut, code = run(t, dir, "rule", "list")
	if code != 0 || !strings.Contains(errOut, "warning: rule old-version: line 6: eventVersion: 1.10 is read as the number 1.1") {
		t.Fatalf("rule list of a rule registered before: exit %d\n%s", code, errOut)
	}
	if js := mustRun(t, 0, dir, "rule", "list", "--format", "json"); !strings.Contains(js, `"warnings"`) {
		t.Fatalf("rule list --format json:\n%s", js)
	}
	// Compiled to another predicate when it was added.
	edit(`"file":`, `"compiled": "00", "file":`)
	_, errOut, _ = run(t, dir, "rule", "list")
	if !strings.Contains(errOut, "warning: rule old-version: it compiles to another SQL predicate than when it was added") || strings.Contains(errOut, "line 6") {
		t.Fatalf("rule list of a rule compiled differently:\n%s", errOut)
	}
	// Added again: confirmed, no warning.
	mustRun(t, 0, dir, "rule", "add", "--sigma", file)
	if _, errOut, _ := run(t, dir, "rule", "list"); errOut != "" {
		t.Fatalf("rule list after the rule was added again:\n%s", errOut)
	}
}

// TestHuntRunsARuleNamedTwiceOnce: --rules naming one rule twice (by id and by title) ran it
// twice, and printed each of its matches twice; an empty list of ids (",") looked up a rule
// named "" and said it was not found.
func TestHuntRunsARuleNamedTwiceOnce(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 0, dir, "eds", "create", "trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
	mustRun(t, 0, dir, "rule", "add", "--sigma", testdata("sigma-aws-cloudtrail-rules", "rules", "aws_cloudtrail_disable_logging.yml"))
	id := "4db60cc0-36fb-42b7-9b58-a5b53019fb74"
	once := mustRun(t, 0, dir, "hunt", "--eds", "trail", "--rules", id, "--format", "csv")
	if n := strings.Count(once, "\n"); n < 2 {
		t.Fatalf("the rule matched nothing:\n%s", once)
	}
	if twice := mustRun(t, 0, dir, "hunt", "--eds", "trail", "--rules", id+", AWS CloudTrail Important Change,"+id, "--format", "csv"); twice != once {
		t.Fatalf("hunt of a rule named twice:\n%s\nwant\n%s", twice, once)
	}
	if _, errOut, code := run(t, dir, "hunt", "--eds", "trail", "--rules", " , "); code != 2 || !strings.Contains(errOut, "names no rule") {
		t.Fatalf("hunt --rules ' , ': exit %d\n%s", code, errOut)
	}
}
