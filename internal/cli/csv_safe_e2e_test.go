package cli_test

import (
	"encoding/csv"
	"slices"
	"strings"
	"testing"
)

// TestQueryCSVSafeNeutralisesFormulaCellsAndKeepsNumbers: query --format csv prints the exact
// values (scripts depend on them); with --csv-safe, text cells a spreadsheet would run as a
// formula (=, +, -, @, tab, CR first) and such column names get a leading ', while numbers
// (-5, -2.5), ordinary text and times are unchanged (issue 14, item 12).
func TestQueryCSVSafeNeutralisesFormulaCellsAndKeepsNumbers(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "any")
	sql := `SELECT '=HYPERLINK("http://x","y")' AS a, '+1' AS b, '-2+3' AS c, '@SUM(A1)' AS d, chr(9) || '=1' AS e, chr(13) || 'x' AS f,
		'plain' AS g, -5 AS n, -2.5 AS x, TIMESTAMP '2026-03-01 10:00:00' AS t, '' AS empty, 'a=b' AS mid, -5 AS "=col"`
	exact := mustRun(t, 0, dir, "query", "--format", "csv", sql)
	safe := mustRun(t, 0, dir, "query", "--format", "csv", "--csv-safe", sql)
	read := func(out string) [][]string {
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil || len(recs) != 2 {
			t.Fatalf("not CSV of one row: %v\n%s", err, out)
		}
		return recs
	}
	e, s := read(exact), read(safe)
	wantExact := []string{`=HYPERLINK("http://x","y")`, "+1", "-2+3", "@SUM(A1)", "\t=1", "\rx", "plain", "-5", "-2.5", "2026-03-01 10:00:00", "", "a=b", "-5"}
	wantSafe := []string{`'=HYPERLINK("http://x","y")`, "'+1", "'-2+3", "'@SUM(A1)", "'\t=1", "'\rx", "plain", "-5", "-2.5", "2026-03-01 10:00:00", "", "a=b", "-5"}
	if strings.Join(e[1], "|") != strings.Join(wantExact, "|") {
		t.Errorf("plain CSV row = %q, want the exact values %q", e[1], wantExact)
	}
	if strings.Join(s[1], "|") != strings.Join(wantSafe, "|") {
		t.Errorf("--csv-safe row = %q, want %q", s[1], wantSafe)
	}
	if e[0][12] != "=col" || s[0][12] != "'=col" {
		t.Errorf("header: plain %q, safe %q", e[0][12], s[0][12])
	}
	out, errOut, _ := run(t, dir, "query", "--help")
	if help := out + errOut; !strings.Contains(help, "--csv-safe") || !strings.Contains(help, "exact values") {
		t.Errorf("query --help does not explain --csv-safe:\n%s", help)
	}
}

// TestAlertsCSVSafeNeutralisesEventText: an alert's principal, resource and summary come from
// the events — an IAM user name may start with = + @ or - — so alerts --format csv --csv-safe
// neutralises them as query does, and without the flag prints them exact.
func TestAlertsCSVSafeNeutralisesEventText(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	// The principal as a rule may read it from a request: a user name IAM accepts.
	mustRun(t, 0, dir, "rule", "add", "users", "--sql",
		`SELECT '=HYPERLINK("http://x","y")@corp' AS principal, count(*) AS n FROM {events} WHERE eventname = 'StopLogging'`)
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
	cell := func(out string) string {
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil || len(recs) != 2 {
			t.Fatalf("not CSV of one alert: %v\n%s", err, out)
		}
		return recs[1][slices.Index(recs[0], "principal")]
	}
	if got := cell(mustRun(t, 0, dir, "alerts", "--format", "csv")); got != `=HYPERLINK("http://x","y")@corp` {
		t.Errorf("plain CSV principal = %q", got)
	}
	if got := cell(mustRun(t, 0, dir, "alerts", "--format", "csv", "--csv-safe", "--rule", "users", "--status", "open", "--since", "1d")); got != `'=HYPERLINK("http://x","y")@corp` {
		t.Errorf("--csv-safe principal = %q", got)
	}
}
