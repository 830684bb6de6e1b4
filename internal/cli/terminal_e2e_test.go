package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTableOutputCannotBeForgedOrDriveTheTerminal ingests a RunInstances record whose caller's
// session name and Auto Scaling group tag hold a line break, a tab and terminal escape
// sequences (a CloudTrail file is input like any other, and an Auto Scaling group's name may
// hold line breaks), then prints the compliance report, the instance's trail and a query as
// tables. Each instance stays one line — a value cannot add a row that looks like another
// instance's — and no escape character reaches the terminal, where it could clear the screen,
// rewrite the window title or hide text. Before, the report and the trail printed values as
// they were, and the query's table passed escape characters through.
func TestTableOutputCannotBeForgedOrDriveTheTerminal(t *testing.T) {
	dir := t.TempDir()
	const forged = "x\ni-0fake0000000001  111122223333  2026-09-01 10:00  arn:aws:iam::111122223333:user/alice\tcli\x1b[2J\x1b]0;owned\x07\x9b31m"
	rec := `{"eventVersion":"1.11","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/ops/` + jsonText(forged) + `","accountId":"111122223333"},` +
		`"eventTime":"2026-09-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2",` +
		`"requestParameters":{"instancesSet":{"items":[{"minCount":1,"maxCount":1}]}},` +
		`"responseElements":{"instancesSet":{"items":[{"instanceId":"i-0e00000000000e001","instanceType":"t3.micro","placement":{"availabilityZone":"us-east-1a"},` +
		`"tagSet":{"items":[{"key":"aws:autoscaling:groupName","value":"` + jsonText(forged) + `"}]}}]}},` +
		`"requestID":"r1","eventID":"e0000000-0000-4000-8000-000000000001","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}`
	src := filepath.Join(dir, "forged.json")
	if err := os.WriteFile(src, []byte(`{"Records":[`+rec+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	createStore(t, dir, "prod-trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "prod-trail", src)

	check := func(what, out string, rows int) {
		t.Helper()
		if strings.ContainsAny(out, "\x1b\x07\u009b") {
			t.Errorf("%s: the output holds a terminal control character:\n%q", what, out)
		}
		if strings.Contains(out, "\ni-0fake") {
			t.Errorf("%s: a value started a line of its own that reads as another instance:\n%s", what, out)
		}
		if n := strings.Count(out, "\n"); n != rows {
			t.Errorf("%s: %d lines, want %d:\n%s", what, n, rows, out)
		}
	}
	out := mustRun(t, 0, dir, "report", "launch-compliance", "--eds", "prod-trail", "--format", "table")
	check("report launch-compliance", out, 4) // header, the instance, a blank line, the summary
	out = mustRun(t, 0, dir, "instance", "i-0e00000000000e001", "--eds", "prod-trail")
	check("instance", out, 4) // the summary, a blank line, the header, the launch
	out = mustRun(t, 0, dir, "query", `SELECT useridentity.arn FROM "aws:cloudtrail"."prod-trail"`)
	check("query", out, 3) // header, the row, the row count
}

// jsonText is s as the inside of a JSON string.
func jsonText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			b.WriteString(`\u00` + "0123456789abcdef"[r>>4:r>>4+1] + "0123456789abcdef"[r&15:r&15+1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
