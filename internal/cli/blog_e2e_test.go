package cli_test

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/configitems/configtest"
)

// The blog fixture: real CloudTrail records (plaso lookup-events, panther rule tests) plus the
// derived records of testdata/compliance-derived (direct launches, a CreateFleet, ends) and
// testdata/compliance-derived-autoscaling (three Auto Scaling launches: approved template by id
// with two instances, a template named only by name, an unapproved template), and the derived
// CUR 1.0 CSV (slash headers) there with cost lines for the same instance ids.
const (
	blogApprovedLT = "lt-0aaaaaaaaaaaaaaa1"
	blogCURTable   = `"enter-your-cur-database"."enter-your-cur-table"`
	blogEDSRef     = `"aws:cloudtrail"."enter-eds-id-here"`
	blogLTRef      = `'enter-approved-launch-template-id-here'`
)

// blogFixture ingests the fixture through the CLI into a fresh data directory and registers the
// cost CSV under the blog's own placeholder name (cur register accepts the dashes). It returns
// the directory and the store's id.
func blogFixture(t *testing.T) (dir, id string) {
	t.Helper()
	dir = t.TempDir()
	out := mustRun(t, 0, dir, "eds", "create", "prod-trail", "--retention-days", "3653", "--output", "json")
	var v struct{ ID string }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	// Exit 3: some panther test records are deliberately malformed; the good events are kept.
	mustRun(t, 3, dir, "ingest", "cloudtrail", "--eds", "prod-trail",
		testdata("plaso-cloudtrail-lookupevents"),
		testdata("panther-analysis-cloudtrail-tests", "panther_cloudtrail_rule_tests.jsonl"),
		testdata("compliance-derived"), testdata("compliance-derived-autoscaling", "autoscaling.json"))
	mustRun(t, 0, dir, "cur", "register", "enter-your-cur-database.enter-your-cur-table",
		testdata("compliance-derived-autoscaling", "cur-blog.csv"))
	return dir, v.ID
}

// blogQuery reads testdata/blog-query-N.sql (the blog's query as printed), replaces only the
// three placeholders (each must occur exactly once; the CUR one by itself, as the table is
// registered under that name), runs it with query --format csv -f and returns the rows sorted.
func blogQuery(t *testing.T, dir, file, storeID string) [][]string {
	t.Helper()
	b, err := os.ReadFile(testdata(file))
	if err != nil {
		t.Fatal(err)
	}
	sql := string(b)
	for _, r := range []struct{ from, to string }{
		{blogCURTable, blogCURTable},
		{blogEDSRef, `"aws:cloudtrail"."` + storeID + `"`},
		{blogLTRef, "'" + blogApprovedLT + "'"},
	} {
		if n := strings.Count(sql, r.from); n != 1 {
			t.Fatalf("%s has %s %d times, want once", file, r.from, n)
		}
		sql = strings.Replace(sql, r.from, r.to, 1)
	}
	q := filepath.Join(dir, file)
	if err := os.WriteFile(q, []byte(sql), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, 0, dir, "query", "--format", "csv", "-f", q)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("query output is not CSV: %v\n%s", err, out)
	}
	rows := recs[1:]
	sortRows(rows)
	return append([][]string{recs[0]}, rows...)
}

func sortRows(rows [][]string) {
	sort.Slice(rows, func(i, j int) bool { return strings.Join(rows[i], "\x00") < strings.Join(rows[j], "\x00") })
}

func compareRows(t *testing.T, name string, got, want [][]string) {
	t.Helper()
	sortRows(want[1:])
	n := len(got)
	if len(want) > n {
		n = len(want)
	}
	for i := 0; i < n; i++ {
		var g, w string
		if i < len(got) {
			g = strings.Join(got[i], " | ")
		}
		if i < len(want) {
			w = strings.Join(want[i], " | ")
		}
		if g != w {
			t.Errorf("%s row %d:\n got  %s\n want %s", name, i, g, w)
		}
	}
}

// ARNs and CUR descriptions of the fixture.
const (
	arnFake  = "arn:aws:iam::012345678901:user/fakeusername"
	arnSome  = "arn:aws:sts::123412341234:assumed-role/SomeRole/person"
	arnARole = "arn:aws:sts::123456789012:assumed-role/ARole/user.name"
	arnAlice = "arn:aws:iam::111122223333:user/alice"
	arnBob   = "arn:aws:sts::111122223333:assumed-role/deployer/bob-session"
	arnASG   = "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling"
	arnThing = "arn:aws:sts::111222333444:assumed-role/SomeRole/AThing"
	dT2      = "$0.0146 per On Demand Linux t2.micro Instance Hour"
	dT2b     = "$0.0116 per On Demand Linux t2.micro Instance Hour"
	dT3a     = "$0.0094 per On Demand Linux t3a.micro Instance Hour"
	dT3      = "$0.0104 per On Demand Linux t3.micro Instance Hour"
	dP2      = "$0.90 per On Demand Linux p2.xlarge Instance Hour"
	dSP      = "t3.micro covered by Compute Savings Plans"
	dNeg     = "SavingsPlanNegation used by AccountId : 111122223333 and UsageSku : SKU1"
)

// TestBlogQueriesReturnAthenasRowsIncludingWhereTheRecipeIsWrong runs the blog's two Athena
// queries verbatim over the fixture and compares them row for row (sorted) with the answers
// worked out by hand under Trino semantics, including every row where the recipe is wrong; then
// runs the launch-compliance report on the same data and checks it is right where the blog is not.
//
// How the blog's CloudTrail subqueries behave (Trino):
//   - instance_id is json_extract_scalar(instancesSet, '$.items[0].instanceId'): only the FIRST
//     instance of a launch is seen, and in query 2 any event whose response has an instancesSet
//     (StopInstances, TerminateInstances) also yields an instance id.
//   - 'x' LIKE 'autoscaling.amazonaws.com' has no wildcard: it is equality.
//   - Auto Scaling launches whose request has no launchTemplateId (a template given by name, or
//     a fleet-driven launch with no launchTemplate at all) make NOT(NULL LIKE …) NULL: query 1
//     drops them, and query 2's CASE falls through to ELSE 'Approved Templates'.
//   - A NULL useragent makes both branches NULL/false: ELSE 'Approved Templates'.
//   - Dry runs and failed launches have responseElements NULL, so instance_id is NULL and the
//     INNER JOIN drops them: they are in the CloudTrail subquery but never listed.
//   - The CUR subquery groups by description (and in query 2 by usage start/end too), so one
//     instance can have several cost rows; every CloudTrail row of an instance repeats them.
func TestBlogQueriesReturnAthenasRowsIncludingWhereTheRecipeIsWrong(t *testing.T) {
	dir, id := blogFixture(t)

	// Query 1: instances "not launched from the approved template", with launcher and cost.
	want1 := [][]string{
		{"Instance_ID", "User_ARN", "Unblended_COST", "Description_COST"},
		// Console launch without a template (plaso): right.
		{"i-01234567890123456", arnFake, "0.05", dT2},
		// Direct launch, two usage lines with the same description summed 2.00+3.00: right.
		{"i-0690cd354a0c3850c", arnSome, "5", dT2b},
		// Two panther console RunInstances both have i-…000 as items[0]: the cost is listed
		// twice (WRONG: 1.00 counted as 2.00), and i-…001, items[1] of the second, is missing
		// (WRONG: its 0.50 is not reported).
		{"i-00000000000000000", arnARole, "1", dT3a},
		{"i-00000000000000000", arnARole, "1", dT3a},
		// alice launched with the approved template web-prod by NAME, directly: the OR branch
		// lists every direct RunInstances whatever its template (WRONG under the blog's own
		// definition; right only if "not through Auto Scaling" is the rule). Usage 1.00+1.50;
		// the Tax 0.20 and Refund -0.10 lines are excluded. a002 and a003 (items[1], items[2])
		// are missing (WRONG).
		{"i-0d00000000000a001", arnAlice, "2.5", dT3},
		// bob's Spot launch: the Savings Plan covered line and its negation have different
		// descriptions, so the instance is listed twice, +0.40 and -0.40 (misleading, not wrong).
		{"i-0d00000000000b001", arnBob, "-0.4", dNeg},
		{"i-0d00000000000b001", arnBob, "0.4", dSP},
		// Auto Scaling launch with the unapproved lt-0bbbbbbbbbbbbbbb2: right.
		{"i-0d00000000000f001", arnASG, "1.1", dT3},
		// Not listed: d001/d002 (Auto Scaling, approved template: right); e001 (Auto Scaling,
		// template batch-nightly by name: NULL comparison, WRONG); i-07d06021b0da55115 (real
		// EKS Auto Scaling launch with no launchTemplate in the request: NULL, WRONG, 4.00 lost);
		// c001 (CreateFleet, no RunInstances: WRONG, 0.30 lost); i-0d7e4b9be8a0de6ea (no cost
		// lines); dry runs and the failed stratus launch (instance_id NULL); i-0fff… (cost but
		// no launch in the trail); vol-0123; the AmazonS3 line.
	}
	compareRows(t, "blog query 1", blogQuery(t, dir, "blog-query-1.sql", id), want1)

	// Query 2: every CloudTrail event (no WHERE) with an instancesSet in its response joined
	// to cost lines per (instance, description, start, end), labelled by the CASE.
	const na, ap = "Non Approved", "Approved Templates"
	want2 := [][]string{
		{"Approval_STATUS", "Instance_ID", "User_ARN", "Unblended_COST", "Description_COST", "Start_DATE", "End_DATE"},
		// plaso: RunInstances (Non Approved) + StopInstances + TerminateInstances (not
		// RunInstances → ELSE Approved): the one 0.05 line three times (WRONG: cost tripled,
		// and the instance is both approved and not).
		{na, "i-01234567890123456", arnFake, "0.05", dT2, "2022-02-07 22:00:00", "2022-02-07 23:00:00"},
		{ap, "i-01234567890123456", arnFake, "0.05", dT2, "2022-02-07 22:00:00", "2022-02-07 23:00:00"},
		{ap, "i-01234567890123456", arnFake, "0.05", dT2, "2022-02-07 22:00:00", "2022-02-07 23:00:00"},
		// plaso TerminateInstances with no userAgent, of an instance launched outside the trail:
		// NULL useragent → ELSE 'Approved Templates' (WRONG: nothing says it was approved).
		{ap, "i-0d9853f67e40ab80b", arnThing, "0.25", dT3, "2021-10-29 00:00:00", "2021-10-29 23:00:00"},
		// Direct launch, one row per usage day.
		{na, "i-0690cd354a0c3850c", arnSome, "2", dT2b, "2022-10-14 00:00:00", "2022-10-14 12:00:00"},
		{na, "i-0690cd354a0c3850c", arnSome, "3", dT2b, "2022-10-15 00:00:00", "2022-10-15 12:00:00"},
		// Two RunInstances with i-…000 as items[0]: doubled; i-…001 missing (WRONG).
		{na, "i-00000000000000000", arnARole, "1", dT3a, "2024-04-02 15:00:00", "2024-04-02 16:00:00"},
		{na, "i-00000000000000000", arnARole, "1", dT3a, "2024-04-02 15:00:00", "2024-04-02 16:00:00"},
		// Real EKS Auto Scaling launch without launchTemplate in the request (NULL → ELSE) and
		// its Auto Scaling TerminateInstances (NULL → ELSE): 'Approved Templates' twice (WRONG:
		// template lt-07a0b5cea4ece8ffd is not approved; 4.00 counted as 8.00).
		{ap, "i-07d06021b0da55115", arnASG, "4", dP2, "2024-12-16 18:00:00", "2024-12-17 06:00:00"},
		{ap, "i-07d06021b0da55115", arnASG, "4", dP2, "2024-12-16 18:00:00", "2024-12-17 06:00:00"},
		// alice's RunInstances (Non Approved) and her TerminateInstances of a001+a002 (items[0]
		// a001, ELSE Approved): each usage line twice, once per label (WRONG); a002 missing.
		{na, "i-0d00000000000a001", arnAlice, "1", dT3, "2026-09-01 10:00:00", "2026-09-01 11:00:00"},
		{na, "i-0d00000000000a001", arnAlice, "1.5", dT3, "2026-09-02 00:00:00", "2026-09-02 01:00:00"},
		{ap, "i-0d00000000000a001", arnAlice, "1", dT3, "2026-09-01 10:00:00", "2026-09-01 11:00:00"},
		{ap, "i-0d00000000000a001", arnAlice, "1.5", dT3, "2026-09-02 00:00:00", "2026-09-02 01:00:00"},
		// a003 appears only through alice's StopInstances: 'Approved Templates' (right by
		// accident; its launch is not what is judged).
		{ap, "i-0d00000000000a003", arnAlice, "0.75", dT3, "2026-09-01 10:00:00", "2026-09-01 11:00:00"},
		// bob: Spot launch with an unapproved template, both Savings Plan lines.
		{na, "i-0d00000000000b001", arnBob, "-0.4", dNeg, "2026-09-01 11:00:00", "2026-09-01 12:00:00"},
		{na, "i-0d00000000000b001", arnBob, "0.4", dSP, "2026-09-01 11:00:00", "2026-09-01 12:00:00"},
		// Auto Scaling with the approved template: d001 right, d002 (items[1]) missing (WRONG).
		{ap, "i-0d00000000000d001", arnASG, "0.6", dT3, "2026-09-03 08:00:00", "2026-09-03 09:00:00"},
		// Auto Scaling with batch-nightly by name: NULL → 'Approved Templates' (WRONG).
		{ap, "i-0d00000000000e001", arnASG, "0.9", dT3, "2026-09-03 09:00:00", "2026-09-03 10:00:00"},
		// Auto Scaling with the unapproved lt-0bbbbbbbbbbbbbbb2: right.
		{na, "i-0d00000000000f001", arnASG, "1.1", dT3, "2026-09-03 10:00:00", "2026-09-03 11:00:00"},
		// Missing: c001 (CreateFleet's response has no instancesSet), a002, d002, i-…001.
	}
	compareRows(t, "blog query 2", blogQuery(t, dir, "blog-query-2.sql", id), want2)

	// The compliance report on the same data, approving lt-0aaaaaaaaaaaaaaa1 as the blog does:
	//
	//	instance             blog q1      blog q2                 report
	//	i-0d00000000000a001  listed       Non Approved + Approved approved (web-prod v2 by name)
	//	i-0d00000000000a002  missing      missing                 approved, 0.80
	//	i-0d00000000000a003  missing      Approved (via Stop)     approved, 0.75
	//	i-00000000000000001  missing      missing                 no_template, 0.50
	//	i-07d06021b0da55115  missing      Approved ×2             not_approved (tag lt-07a0…), 4.00 once
	//	i-0d00000000000c001  missing      missing                 approved (CreateFleet, web-prod v1), 0.30
	//	i-0d00000000000d002  (right)      missing                 approved, 0.70
	//	i-0d00000000000e001  missing      Approved                not_approved (batch-nightly)
	//	i-00000000000000000  listed ×2    Non Approved ×2         no_template, 1.00 once
	//	i-0d9853f67e40ab80b  —            Approved                no row (never launched in the trail)
	out := mustRun(t, 0, dir, "report", "launch-compliance", "--eds", "prod-trail", "--cur", "enter-your-cur-database.enter-your-cur-table",
		"--approved-template", blogApprovedLT, "--format", "json")
	var r struct {
		Rows []struct {
			InstanceID    string  `json:"instance_id"`
			Status        string  `json:"status"`
			TemplateID    string  `json:"template_id"`
			TemplateName  string  `json:"template_name"`
			LaunchedBy    string  `json:"launched_by"`
			UnblendedCost float64 `json:"unblended_cost"`
		}
		Summary map[string]float64
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report json: %v\n%s", err, out)
	}
	type row struct {
		status, lt, name, by string
		cost                 float64
	}
	wantReport := map[string]row{
		"i-01234567890123456": {"no_template", "", "", arnFake, 0.05},
		"i-0690cd354a0c3850c": {"no_template", "", "", arnSome, 5},
		"i-0d7e4b9be8a0de6ea": {"no_template", "", "", "arn:aws:sts::123123123123:assumed-role/DevAdministrator/temp_user", 0},
		"i-00000000000000000": {"no_template", "", "", arnARole, 1},
		"i-00000000000000001": {"no_template", "", "", arnARole, 0.5},
		"i-07d06021b0da55115": {"not_approved", "lt-07a0b5cea4ece8ffd", "", arnASG, 4},
		"i-0d00000000000a001": {"approved", blogApprovedLT, "web-prod", arnAlice, 2.5},
		"i-0d00000000000a002": {"approved", blogApprovedLT, "web-prod", arnAlice, 0.8},
		"i-0d00000000000a003": {"approved", blogApprovedLT, "web-prod", arnAlice, 0.75},
		"i-0d00000000000b001": {"not_approved", "lt-0bbbbbbbbbbbbbbb2", "", arnBob, 0},
		"i-0d00000000000c001": {"approved", blogApprovedLT, "web-prod", "arn:aws:sts::111122223333:assumed-role/KarpenterNodeRole/karpenter", 0.3},
		"i-0d00000000000d001": {"approved", blogApprovedLT, "web-prod", arnASG, 0.6},
		"i-0d00000000000d002": {"approved", blogApprovedLT, "web-prod", arnASG, 0.7},
		"i-0d00000000000e001": {"not_approved", "", "batch-nightly", arnASG, 0.9},
		"i-0d00000000000f001": {"not_approved", "lt-0bbbbbbbbbbbbbbb2", "", arnASG, 1.1},
	}
	got := map[string]row{}
	for _, x := range r.Rows {
		if _, dup := got[x.InstanceID]; dup {
			t.Errorf("report has two rows for %s", x.InstanceID)
		}
		got[x.InstanceID] = row{x.Status, x.TemplateID, x.TemplateName, x.LaunchedBy, x.UnblendedCost}
	}
	if len(got) != len(wantReport) {
		t.Errorf("report has %d rows, want %d", len(got), len(wantReport))
	}
	for id, w := range wantReport {
		if g, ok := got[id]; !ok || g != w {
			t.Errorf("report %s = %+v, want %+v", id, g, w)
		}
	}
	// Each instance's cost counted once: 0.05+5+1+0.5+4+2.5+0.8+0.75+0+0.3+0.6+0.7+0.9+1.1.
	if s := r.Summary["unblended_cost"]; s != 18.2 {
		t.Errorf("report unblended_cost = %v, want 18.2", s)
	}
}

// blogConfigSources builds, from AWS's published Config property schemas, the Config items the
// trail lacks: launch template batch-nightly (lt-0eeeeeeeeeeeeeee5, default version 2, latest 3),
// which no CreateLaunchTemplate event in the fixture names, and Auto Scaling group batch-asg
// listing i-0d00000000000e001 (launched without an aws:autoscaling:groupName tag) after its launch.
func blogConfigSources(t *testing.T) string {
	t.Helper()
	root := filepath.Join("..", "..")
	lt, err := configtest.LoadSchema(root, "AWS::EC2::LaunchTemplate")
	if err != nil {
		t.Fatal(err)
	}
	asg, err := configtest.LoadSchema(root, "AWS::AutoScaling::AutoScalingGroup")
	if err != nil {
		t.Fatal(err)
	}
	const acct, region = "111122223333", "us-east-1"
	groupARN := "arn:aws:autoscaling:us-east-1:111122223333:autoScalingGroup:5b4f4c2e-1a2b-4c3d-8e9f-0000000000e1:autoScalingGroupName/batch-asg"
	var items []map[string]any
	for _, b := range []struct {
		s *configtest.Schema
		p map[string]any
	}{
		{lt, map[string]any{
			"resourceId": "lt-0eeeeeeeeeeeeeee5", "resourceName": "batch-nightly", "configurationItemCaptureTime": "2026-09-02T00:00:00.000Z",
			"configurationStateId": "1788307200000", "arn": "arn:aws:ec2:us-east-1:111122223333:launch-template/lt-0eeeeeeeeeeeeeee5",
			"availabilityZone": "Regional", "resourceCreationTime": "2026-09-02T00:00:00.000Z",
			"configuration.Id": "lt-0eeeeeeeeeeeeeee5", "configuration.LaunchTemplateName": "batch-nightly",
			"configuration.LatestVersionNumber": "3", "configuration.DefaultVersionNumber": "2",
		}},
		{asg, map[string]any{
			"resourceId": groupARN, "resourceName": "batch-asg", "arn": groupARN, "configurationItemCaptureTime": "2026-09-03T09:05:00.000Z",
			"configurationStateId": "1", "availabilityZone": "Multiple Availability Zones", "resourceCreationTime": "2026-09-02T00:00:00.000Z",
			"configuration.autoScalingGroupName": "batch-asg", "configuration.autoScalingGroupARN": groupARN,
			"configuration.minSize": 0, "configuration.maxSize": 2, "configuration.desiredCapacity": 1,
			"configuration.launchTemplate.launchTemplateName": "batch-nightly", "configuration.launchTemplate.version": "$Default",
			"configuration.instances[0].instanceId": "i-0d00000000000e001", "configuration.instances[0].lifecycleState": "InService",
		}},
	} {
		b.p["accountId"], b.p["awsRegion"], b.p["configurationItemStatus"], b.p["version"] = acct, region, "OK", "1.3"
		it, err := b.s.Build(b.p)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, configtest.FileStyle(it))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "snapshot.json"), configtest.Snapshot(items...), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReportUsesConfigItemsForTemplateNamesAndGroups: with --config-eds, the template that
// i-0d00000000000e001 named only as "batch-nightly" (no CreateLaunchTemplate in the trail) is
// resolved to its id and its $Default to version 2 from the Config item, so approving the id
// approves it; its auto_scaling_group comes from the Config group that listed it, while tagged
// instances keep their tag's group. Without --config-eds there is no Config lookup at all.
func TestReportUsesConfigItemsForTemplateNamesAndGroups(t *testing.T) {
	dir, _ := blogFixture(t)
	createConfigStore(t, dir, "cfg")
	mustRun(t, 0, dir, "ingest", "config", "--eds", "cfg", blogConfigSources(t))

	type row struct{ Status, TemplateID, TemplateName, TemplateVersion, AutoScalingGroup string }
	report := func(args ...string) map[string]row {
		t.Helper()
		out := mustRun(t, 0, dir, append([]string{"report", "launch-compliance", "--eds", "prod-trail",
			"--approved-template", "lt-0eeeeeeeeeeeeeee5", "--approved-template", blogApprovedLT, "--format", "json"}, args...)...)
		var r struct{ Rows []map[string]any }
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		m := map[string]row{}
		for _, x := range r.Rows {
			if _, ok := x["auto_scaling_group"]; !ok {
				t.Fatalf("row without auto_scaling_group: %v", x)
			}
			s := func(k string) string { v, _ := x[k].(string); return v }
			m[s("instance_id")] = row{s("status"), s("template_id"), s("template_name"), s("template_version"), s("auto_scaling_group")}
		}
		return m
	}
	tests := []struct {
		name string
		args []string
		want map[string]row
	}{
		{"without Config", nil, map[string]row{
			"i-0d00000000000e001": {"not_approved", "", "batch-nightly", "$Default", ""},
			"i-0d00000000000d001": {"approved", blogApprovedLT, "web-prod", "2", "web-asg"},
			"i-07d06021b0da55115": {"not_approved", "lt-07a0b5cea4ece8ffd", "", "1", "eks-ng-0ca246e9-cac9e862-bfd9-a821-c9fd-9916df5654eb"},
			"i-0d00000000000a001": {"approved", blogApprovedLT, "web-prod", "2", ""},
		}},
		{"with --config-eds", []string{"--config-eds", "cfg"}, map[string]row{
			"i-0d00000000000e001": {"approved", "lt-0eeeeeeeeeeeeeee5", "batch-nightly", "2", "batch-asg"},
			"i-0d00000000000d001": {"approved", blogApprovedLT, "web-prod", "2", "web-asg"},
			"i-07d06021b0da55115": {"not_approved", "lt-07a0b5cea4ece8ffd", "", "1", "eks-ng-0ca246e9-cac9e862-bfd9-a821-c9fd-9916df5654eb"},
			"i-0d00000000000a001": {"approved", blogApprovedLT, "web-prod", "2", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := report(tt.args...)
			for id, w := range tt.want {
				if got[id] != w {
					t.Errorf("%s = %+v, want %+v", id, got[id], w)
				}
			}
		})
	}

	// The group is in the CSV (last column), the table and the instance trail too.
	out := mustRun(t, 0, dir, "report", "launch-compliance", "--eds", "prod-trail", "--config-eds", "cfg", "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	last := len(recs[0]) - 1
	if recs[0][last] != "auto_scaling_group" {
		t.Fatalf("CSV header ends with %q, want auto_scaling_group", recs[0][last])
	}
	for _, r := range recs[1:] {
		if r[0] == "i-0d00000000000e001" && r[last] != "batch-asg" {
			t.Errorf("CSV auto_scaling_group of e001 = %q, want batch-asg", r[last])
		}
	}
	if out := mustRun(t, 0, dir, "report", "launch-compliance", "--eds", "prod-trail", "--config-eds", "cfg"); !strings.Contains(out, "batch-asg") {
		t.Errorf("table lacks the group batch-asg:\n%s", out)
	}
	if out := mustRun(t, 0, dir, "instance", "i-0d00000000000e001", "--eds", "prod-trail", "--config-eds", "cfg"); !strings.Contains(out, "via autoscaling (group batch-asg); template lt-0eeeeeeeeeeeeeee5 version 2") {
		t.Errorf("instance trail lacks the Config group and template:\n%s", out)
	}
	// A Config lookup against a CloudTrail store is refused naming it.
	if _, errOut, code := run(t, dir, "report", "launch-compliance", "--eds", "prod-trail", "--config-eds", "prod-trail"); code == 0 || !strings.Contains(errOut, `"prod-trail" is of type "cloudtrail", not config`) {
		t.Errorf("--config-eds on a CloudTrail store: exit %d, stderr %q", code, errOut)
	}
}
