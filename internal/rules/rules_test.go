package rules_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/rules/rulestest"
	"github.com/auditlake/auditlake/internal/sigma"
)

func testdata(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "testdata"}, parts...)...)
}

// newStore ingests sources (files or directories) and records into a new store of a fresh lake
// and opens a session.
func newStore(t *testing.T, records []map[string]any, sources ...string) (*lake.Lake, *query.Session, lake.Store) {
	t.Helper()
	ctx := context.Background()
	lk, st := rulestest.EmptyLake(t)
	if len(records) > 0 {
		data, _ := json.Marshal(map[string]any{"Records": records})
		f := filepath.Join(t.TempDir(), "records.json")
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, f)
	}
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: sources}); err != nil && !strings.Contains(err.Error(), "error") {
		t.Fatal(err)
	}
	s, err := query.Open(ctx, lk, query.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return lk, s, st
}

// pantherCases returns the logs of the named panther-analysis rule test cases ("rule_id |
// test_name"), each with its eventID replaced by the case name: the upstream cases reuse ids
// such as "1", which ingest would deduplicate. With no names, every case's log, in file order.
func pantherCases(t *testing.T, names ...string) []map[string]any {
	t.Helper()
	f, err := os.Open(testdata("panther-analysis-cloudtrail-tests", "panther_cloudtrail_rule_tests.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	found := map[string]map[string]any{}
	var every []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var c struct {
			RuleID   string         `json:"rule_id"`
			TestName string         `json:"test_name"`
			Log      map[string]any `json:"log"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		name := c.RuleID + " | " + c.TestName
		if (len(names) == 0 || slices.Contains(names, name)) && c.Log != nil {
			c.Log["eventID"] = name
			found[name] = c.Log
			if len(names) == 0 {
				every = append(every, c.Log)
			}
		}
	}
	if len(names) == 0 {
		return every
	}
	var out []map[string]any
	for _, n := range names {
		if found[n] == nil {
			t.Fatalf("no panther case %q", n)
		}
		out = append(out, found[n])
	}
	return out
}

func ids(ms []rules.Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.EventID)
	}
	slices.Sort(out)
	return out
}

func evaluate(t *testing.T, s *query.Session, st lake.Store, r rules.Rule) []rules.Match {
	t.Helper()
	ms, err := rules.Evaluate(context.Background(), s, r, rules.Target{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func builtin(name string) rules.Rule {
	b, _ := rules.BuiltinNamed(name)
	return rules.Rule{ID: name, Title: b.Title, Kind: rules.KindBuiltin, Builtin: name, Severity: b.Severity, Enabled: true}
}

// TestBuiltinsOnRealSamples runs the built-in rules over real records: panther-analysis's rule
// test logs (root activity, console logins, trail changes) and the stratus-red-team
// detonations of StopLogging, DeleteTrail and a console login without MFA.
func TestBuiltinsOnRealSamples(t *testing.T) {
	cases := []string{
		"AWS.Root.Activity | Root Activity",                                           // root PutBucketVersioning
		"AWS.Root.Activity | Successful Root Login",                                   // root console login, no MFA
		"AWS.Root.Activity | Root Read-Only Enumeration",                              // root ListAccessKeys
		"AWS.CloudTrail.RootAccessKeyCreated | Root Access Key Created",               // root, invokedBy signin.amazonaws.com
		"AWS.Console.LoginWithoutMFA | No MFA Login - IAM User",                       // IAM user, no MFA
		"AWS.Console.LoginWithoutMFA | MFA Login",                                     // IAM user with MFA
		"AWS.Console.LoginWithoutMFA | MFA Login - SAML",                              // SAML federated sign-in
		"AWS.Console.LoginWithoutMFA | AWS SSOv2 Login",                               // assumed role (SSO)
		"AWS.Console.LoginWithoutMFA | No MFA - Login Failed",                         // failed login
		"AWS.CloudTrail.Stopped | CloudTrail Was Stopped",                             // StopLogging
		"AWS.CloudTrail.Stopped | Error Stopping CloudTrail",                          // StopLogging that failed
		"AWS.CloudTrail.SecurityConfigurationChange | Security Configuration Changed", // DeleteTrail
	}
	_, s, st := newStore(t, pantherCases(t, cases...),
		testdata("stratus-red-team-detonation-logs", "aws.defense-evasion.cloudtrail-stop.json"),
		testdata("stratus-red-team-detonation-logs", "aws.defense-evasion.cloudtrail-delete.json"),
		testdata("stratus-red-team-detonation-logs", "aws.initial-access.console-login-without-mfa.json"),
		testdata("stratus-red-team-detonation-logs", "aws.persistence.iam-create-admin-user.json"))
	stratusEvent := func(file, name string) string {
		data, err := os.ReadFile(testdata("stratus-red-team-detonation-logs", file))
		if err != nil {
			t.Fatal(err)
		}
		var recs []map[string]any
		if err := json.Unmarshal(data, &recs); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r["eventName"] == name {
				return r["eventID"].(string)
			}
		}
		t.Fatalf("no %s in %s", name, file)
		return ""
	}
	want := map[string][]string{
		"root-account-use": {"AWS.Root.Activity | Root Activity", "AWS.Root.Activity | Successful Root Login", "AWS.Root.Activity | Root Read-Only Enumeration"},
		"console-login-without-mfa": {"AWS.Console.LoginWithoutMFA | No MFA Login - IAM User", "AWS.Root.Activity | Successful Root Login",
			stratusEvent("aws.initial-access.console-login-without-mfa.json", "ConsoleLogin")},
		"cloudtrail-logging-stopped": {"AWS.CloudTrail.Stopped | CloudTrail Was Stopped", "AWS.CloudTrail.SecurityConfigurationChange | Security Configuration Changed",
			stratusEvent("aws.defense-evasion.cloudtrail-stop.json", "StopLogging"), stratusEvent("aws.defense-evasion.cloudtrail-delete.json", "DeleteTrail")},
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			got := ids(evaluate(t, s, st, builtin(name)))
			slices.Sort(w)
			if !slices.Equal(got, w) {
				t.Errorf("got %q\nwant %q", got, w)
			}
		})
	}
}

// TestLaunchComplianceRule: the built-in reports each instance launched outside the approved
// templates, with its template, launcher and reason — the compliance report's verdict — over
// the real plaso and panther RunInstances records and the derived launches.
func TestLaunchComplianceRule(t *testing.T) {
	_, s, st := newStore(t, nil, testdata("plaso-cloudtrail-lookupevents"),
		testdata("panther-analysis-cloudtrail-tests", "panther_cloudtrail_rule_tests.jsonl"), testdata("compliance-derived"))
	r := builtin(rules.LaunchCompliance)
	r.Approved = &compliance.Config{Approvals: compliance.Approvals{Templates: []compliance.ApprovedTemplate{{ID: "lt-0aaaaaaaaaaaaaaa1", Versions: []string{"2"}}}}}
	ms := evaluate(t, s, st, r)
	byInstance := map[string]rules.Match{}
	for _, m := range ms {
		inst := strings.Fields(m.Summary)[1]
		byInstance[inst] = m
	}
	eks := byInstance["i-07d06021b0da55115"] // panther's EKS node group launch
	if eks.Rule != rules.LaunchCompliance || eks.Severity != "high" ||
		!strings.Contains(eks.Summary, "via eks_nodegroup from lt-07a0b5cea4ece8ffd") || !strings.Contains(eks.Summary, "template lt-07a0b5cea4ece8ffd is not in the approved list") ||
		eks.Principal != "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling" {
		t.Errorf("EKS launch: %+v", eks)
	}
	plaso := byInstance["i-01234567890123456"] // plaso's console launch without a template
	if !strings.Contains(plaso.Summary, "from no template: no_template (no launch template)") || plaso.Principal != "arn:aws:iam::012345678901:user/fakeusername" || plaso.EventID == "" {
		t.Errorf("plaso launch: %+v", plaso)
	}
	for _, approved := range []string{"i-0d00000000000a001", "i-0d00000000000a002", "i-0d00000000000a003"} {
		if _, ok := byInstance[approved]; ok {
			t.Errorf("approved instance %s reported", approved)
		}
	}
	if _, ok := byInstance["i-0d00000000000c001"]; !ok { // template version 1: not approved
		t.Error("version 1 launch not reported")
	}
	// The same verdict as the report: every not-approved row, and only those.
	rep, err := compliance.LaunchCompliance(context.Background(), s, compliance.Params{Store: st.ID, Approved: r.Approved.Approvals})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, row := range rep.Rows {
		if row.Status != compliance.StatusApproved {
			n++
		}
	}
	if n != len(ms) || n == 0 {
		t.Errorf("%d matches, report has %d instances not approved", len(ms), n)
	}
	// A range that holds no launch gives no match.
	none, err := rules.Evaluate(context.Background(), s, r, rules.Target{Store: st, From: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(none) != 0 {
		t.Errorf("future range: %v, %v", none, err)
	}
}

// TestSQLRule: a SQL rule reads {events} (bound to the store's range) and its columns become
// the match; anything but one SELECT of {events} is refused when added.
func TestSQLRule(t *testing.T) {
	lk, s, st := newStore(t, nil, testdata("stratus-red-team-detonation-logs"))
	ctx := context.Background()
	good := rules.Rule{ID: "many-errors", Title: "many-errors", Kind: rules.KindSQL, Severity: "high", Enabled: true,
		SQL: "WITH e AS (SELECT * FROM {events} WHERE errorcode IS NOT NULL) SELECT useridentity.arn AS principal, count(*) AS n, max(eventtime) AS eventtime FROM e GROUP BY 1 HAVING count(*) >= 2"}
	if _, err := rules.Add(ctx, lk, good); err != nil {
		t.Fatal(err)
	}
	ms := evaluate(t, s, st, good)
	if len(ms) == 0 {
		t.Fatal("no match")
	}
	for _, m := range ms {
		if m.Principal == "" || !strings.Contains(m.Summary, "n=") || m.EventTime.IsZero() || m.Severity != "high" {
			t.Errorf("match %+v", m)
		}
	}
	// A rule returning whole events (SELECT *): each match is summarized as a Sigma rule's is,
	// with the columns the rule computed, its principal from useridentity; not every column of
	// the event (eventjson, the maps and structs: several kilobytes a match).
	star := rules.Rule{ID: "star", Title: "star", Kind: rules.KindSQL, Severity: "low", Enabled: true,
		SQL: "SELECT *, length(eventjson) AS size, repeat('x', 500) AS long FROM {events} WHERE eventname = 'GetPasswordData'"}
	if _, err := rules.Add(ctx, lk, star); err != nil {
		t.Fatal(err)
	}
	ms = evaluate(t, s, st, star)
	if len(ms) == 0 {
		t.Fatal("no match of SELECT *")
	}
	for _, m := range ms {
		want := "GetPasswordData (ec2.amazonaws.com) by " + m.Principal + " from " + m.SourceIP + " size="
		if !strings.HasPrefix(m.Principal, "arn:aws:sts::") || m.SourceIP == "" || m.EventID == "" || !strings.HasPrefix(m.Summary, want) ||
			!strings.Contains(m.Summary, " long="+strings.Repeat("x", 200)+"…") || strings.Contains(m.Summary, "eventversion=") ||
			strings.Contains(m.Summary, "{") || len(m.Summary) > 600 {
			t.Errorf("match of SELECT *: %+v", m)
		}
	}
	// An aggregate by eventname names what it has: no empty source, principal or address.
	byName := rules.Rule{ID: "by-name", Title: "by-name", Kind: rules.KindSQL, Severity: "low", Enabled: true,
		SQL: "SELECT eventname, count(*) AS n, max(eventtime) AS eventtime FROM {events} WHERE eventname = 'GetPasswordData' GROUP BY 1"}
	if _, err := rules.Add(ctx, lk, byName); err != nil {
		t.Fatal(err)
	}
	if ms = evaluate(t, s, st, byName); len(ms) != 1 || !strings.HasPrefix(ms[0].Summary, "GetPasswordData n=") || strings.Contains(ms[0].Summary, "eventtime=") {
		t.Errorf("aggregate by eventname: %+v", ms)
	}
	// A {events} inside a string is the string's text, not the table's name.
	quoted := rules.Rule{ID: "quoted", Title: "quoted", Kind: rules.KindSQL, Severity: "low", Enabled: true,
		SQL: "SELECT eventname, '{events} /* -- ' AS label FROM {events} WHERE eventname = 'GetPasswordData' AND '{events}' = '{' || 'events}'"}
	if _, err := rules.Add(ctx, lk, quoted); err != nil {
		t.Fatal(err)
	}
	if ms = evaluate(t, s, st, quoted); len(ms) == 0 || !strings.HasSuffix(ms[0].Summary, " label={events} /* -- ") {
		t.Errorf("a rule with {events} in its strings: %+v", ms)
	}
	for _, bad := range []struct{ sql, why string }{
		{"SELECT 1", "reads no {events}"},
		// {events} in a string, a comment or a quoted name is text: these read no events
		// (and would raise an alert at every commit).
		{"SELECT 1 AS n -- {events}", "reads no {events}"},
		{"SELECT 1 AS n /* FROM {events} */", "reads no {events}"},
		{"SELECT 'x' AS principal WHERE '{events}' <> ''", "reads no {events}"},
		{`SELECT * FROM "{events}"`, "reads no {events}"},
		{"SELECT * FROM {events} WHERE eventname = 'x", "unterminated string"},
		{"DELETE FROM {events}", "only SELECT"},
		{"SELECT * FROM {events}; SELECT 1", "more than one statement"},
		{"SELECT * FROM {events} JOIN \"aws:cloudtrail\".other USING (eventid)", "does not exist"},
		{"SELECT * FROM read_csv('/etc/passwd'), {events}", "not allowed"},
		{"SELECT * FROM {events} WHERE eventname IN (SELECT name FROM duckdb_settings())", "not allowed"},
	} {
		_, err := rules.Add(ctx, lk, rules.Rule{ID: "bad", Kind: rules.KindSQL, SQL: bad.sql})
		if err == nil || !strings.Contains(err.Error(), bad.why) {
			t.Errorf("%s: got %v, want %q", bad.sql, err, bad.why)
		}
	}
}

// TestSQLRuleWithAHugeResultFailsNotTheProcess: a SQL rule whose result is past maxSQLRows
// (a cross join multiplying the events) fails with the reason, having read at most one row
// more; one at the bound gives every row.
func TestSQLRuleWithAHugeResultFailsNotTheProcess(t *testing.T) {
	_, s, st := newStore(t, nil, testdata("stratus-red-team-detonation-logs"))
	rules.SetMaxSQLRows(t, 620)
	rule := func(n int) rules.Rule {
		return rules.Rule{ID: "cross", Title: "cross", Kind: rules.KindSQL, Severity: "low", Enabled: true,
			SQL: fmt.Sprintf("SELECT e.*, r.range AS k FROM range(%d) AS r, {events} AS e", n)}
	}
	if ms := evaluate(t, s, st, rule(2)); len(ms) != 620 {
		t.Errorf("2 × 310 events: %d matches, want 620", len(ms))
	}
	// 10 million rows unbounded: the test would not end, nor fit in memory.
	_, err := rules.Evaluate(context.Background(), s, rule(32_258), rules.Target{Store: st})
	if err == nil || !strings.Contains(err.Error(), "rule cross: the SQL rule returned more than 620 rows") || !strings.Contains(err.Error(), "GROUP BY") {
		t.Errorf("a huge result: %v", err)
	}
}

// TestHuntStreamsASQLRulePastTheEvaluationBound: a hunt is not bounded as a commit's
// evaluation is (maxSQLRows): a SQL rule of three times the bound's rows is streamed whole, in
// the order Evaluate gives under a larger bound (oldest first, then by id, the engine sorting);
// a result whose eventtime is text is sorted in Go and keeps the bound; an error from the
// caller stops the rule and is returned as it is.
func TestHuntStreamsASQLRulePastTheEvaluationBound(t *testing.T) {
	ctx := context.Background()
	_, s, st := newStore(t, nil, testdata("stratus-red-team-detonation-logs"))
	rule := func(sql string) rules.Rule {
		return rules.Rule{ID: "broad", Title: "broad", Kind: rules.KindSQL, Severity: "low", Enabled: true, SQL: sql}
	}
	// Three rows an event, their ids the event's with a suffix, the times shifted by the copy:
	// the engine's order differs from the scan's.
	cross := rule("SELECT e.eventtime - r.range * INTERVAL 1 SECOND AS eventtime, e.eventid || '-' || r.range AS eventid, e.eventname, e.useridentity FROM range(3) AS r, {events} AS e")
	want := evaluate(t, s, st, cross)
	if len(want) != 930 {
		t.Fatalf("3 × 310 events: %d matches, want 930", len(want))
	}
	stream := func(r rules.Rule, stop int) ([]rules.Match, int, error) {
		var got []rules.Match
		n, err := rules.NewHunt(s, rules.Target{Store: st}).Stream(ctx, r, func(m *rules.Match) error {
			if len(got) == stop {
				return errStop
			}
			got = append(got, *m)
			return nil
		})
		return got, n, err
	}
	rules.SetMaxSQLRows(t, 620)
	if _, err := rules.Evaluate(ctx, s, cross, rules.Target{Store: st}); err == nil || !strings.Contains(err.Error(), "more than 620 rows") {
		t.Fatalf("evaluation past the bound: %v", err)
	}
	got, n, err := stream(cross, -1)
	if err != nil || n != 930 || len(got) != 930 {
		t.Fatalf("hunt: %d matches (n %d), %v; want 930", len(got), n, err)
	}
	for i := range got {
		if !got[i].EventTime.Equal(want[i].EventTime) || got[i].EventID != want[i].EventID || got[i].Summary != want[i].Summary || got[i].Principal != want[i].Principal {
			t.Fatalf("match %d: %s %s %q, Evaluate's %s %s %q", i, got[i].EventTime, got[i].EventID, got[i].Summary, want[i].EventTime, want[i].EventID, want[i].Summary)
		}
	}
	if got, n, err := stream(cross, 5); !errors.Is(err, errStop) || n != 5 || len(got) != 5 {
		t.Errorf("stopped by the caller: %d matches (n %d), %v", len(got), n, err)
	}
	text := rule("SELECT CAST(e.eventtime AS VARCHAR) AS eventtime, e.eventid || '-' || r.range AS eventid FROM range(3) AS r, {events} AS e")
	if _, _, err := stream(text, -1); err == nil || !strings.Contains(err.Error(), "rule broad: the SQL rule returned more than 620 rows") {
		t.Errorf("a text eventtime, past the bound: %v", err)
	}
}

var errStop = errors.New("stop")

// TestRegistry: add, list, disable, enable, remove; re-adding a Sigma rule updates it and keeps
// its state; a taken name is refused.
func TestRegistry(t *testing.T) {
	ctx := context.Background()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rs, refused, err := sigma.Load(testdata("sigma-aws-cloudtrail-rules", "rules"))
	if err != nil || len(refused) > 0 {
		t.Fatal(err, refused)
	}
	res, err := rules.Add(ctx, lk, rules.FromSigma(rs)...)
	if err != nil || len(res.Added) != 57 {
		t.Fatalf("%v %v", res, err)
	}
	if _, err := rules.Add(ctx, lk, builtin("root-account-use")); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Add(ctx, lk, builtin("root-account-use")); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second add: %v", err)
	}
	if _, err := rules.Add(ctx, lk, rules.Rule{ID: "x", Kind: rules.KindBuiltin, Builtin: rules.LaunchCompliance}); err == nil || !strings.Contains(err.Error(), "--approved-config") {
		t.Errorf("launch-compliance without approvals: %v", err)
	}
	id := "4db60cc0-36fb-42b7-9b58-a5b53019fb74" // AWS CloudTrail Important Change
	if r, err := rules.SetEnabled(lk, id, false); err != nil || r.Enabled {
		t.Fatalf("disable: %+v %v", r, err)
	}
	res, err = rules.Add(ctx, lk, rules.FromSigma(rs)...)
	if err != nil || len(res.Updated) != 57 {
		t.Fatalf("re-add: %v %v", res, err)
	}
	if r, err := rules.Get(lk, "AWS CloudTrail Important Change"); err != nil || r.Enabled || r.ID != id {
		t.Errorf("re-added rule lost its state: %+v %v", r, err)
	}
	if _, err := rules.SetEnabled(lk, id, true); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Remove(lk, id); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Get(lk, id); !errors.Is(err, rules.ErrNotFound) {
		t.Errorf("removed rule: %v", err)
	}
	all, err := rules.List(lk)
	if err != nil || len(all) != 57 {
		t.Errorf("list: %d %v", len(all), err)
	}
}

// TestEvaluateAllEqualsEachRule: the fused scan of a commit's evaluation finds exactly what
// the rules find one query at a time, over the stratus detonations and the panther cases.
func TestEvaluateAllEqualsEachRule(t *testing.T) {
	_, s, st := newStore(t, pantherCases(t, "AWS.Root.Activity | Root Activity", "AWS.CloudTrail.Stopped | CloudTrail Was Stopped"), testdata("stratus-red-team-detonation-logs"))
	rs, refused, err := sigma.Load(testdata("sigma-aws-cloudtrail-rules", "rules"))
	if err != nil || len(refused) > 0 {
		t.Fatal(err, refused)
	}
	all := append(rules.FromSigma(rs), builtin("root-account-use"), builtin("cloudtrail-logging-stopped"), builtin("console-login-without-mfa"),
		rules.Rule{ID: "sql", Kind: rules.KindSQL, Severity: "low", SQL: "SELECT eventid, eventtime FROM {events} WHERE eventname = 'StopLogging'"})
	key := func(m rules.Match) string { return m.Rule + "|" + m.EventID + "|" + m.Summary }
	var want []string
	for _, r := range all {
		for _, m := range evaluate(t, s, st, r) {
			want = append(want, key(m))
		}
	}
	ms, err := rules.EvaluateAll(context.Background(), s, all, rules.Target{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, key(m))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) || len(got) < 80 {
		t.Errorf("fused: %d matches, one by one: %d", len(got), len(want))
	}
}

// TestSelectNamesEachRuleOnce: a hunt's rule list (CLI --rules, POST /api/hunt) names each rule
// once, where first named, whether named by id or title or twice; "all" is every enabled rule;
// an empty list, an unknown rule and "all" with none enabled are told apart.
func TestSelectNamesEachRuleOnce(t *testing.T) {
	lk, _, _ := newStore(t, nil)
	ctx := context.Background()
	if _, err := rules.Select(lk, []string{"all"}); !errors.Is(err, rules.ErrNoEnabled) {
		t.Fatalf("all with no rule: %v, want ErrNoEnabled", err)
	}
	a := rules.Rule{ID: "rule-a", Title: "Rule A", Kind: rules.KindBuiltin, Builtin: "root-account-use", Severity: "high", Enabled: true}
	b := rules.Rule{ID: "rule-b", Title: "Rule B", Kind: rules.KindBuiltin, Builtin: "cloudtrail-logging-stopped", Severity: "high"}
	if _, err := rules.Add(ctx, lk, a, b); err != nil {
		t.Fatal(err)
	}
	ids := func(rs []rules.Rule) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		refs []string
		want string
	}{
		{[]string{"all"}, "rule-a"},
		{[]string{" all "}, "rule-a"},
		{[]string{"rule-b", "Rule A", " rule-a", "rule-b", ""}, "rule-b,rule-a"},
		{[]string{"Rule B", "rule-b"}, "rule-b"},
	} {
		got, err := rules.Select(lk, c.refs)
		if err != nil || ids(got) != c.want {
			t.Errorf("Select %q: %s, %v; want %s", c.refs, ids(got), err, c.want)
		}
	}
	if _, err := rules.Select(lk, []string{"", " "}); !errors.Is(err, rules.ErrNoneNamed) {
		t.Errorf("a list of empty refs: %v, want ErrNoneNamed", err)
	}
	if _, err := rules.Select(lk, []string{"rule-a", "no-such-rule"}); !errors.Is(err, rules.ErrNotFound) {
		t.Errorf("an unknown rule: %v, want ErrNotFound", err)
	}
}
