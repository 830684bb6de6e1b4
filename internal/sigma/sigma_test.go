package sigma_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/sigma"
)

// corpus is the events every rule-by-rule case is run against; each case names the ones it
// must match, and every other event must not match. The ids say what each event is.
var corpus = []map[string]any{
	ev("e1-deletebucket-ok", "s3.amazonaws.com", "DeleteBucket", map[string]any{
		"userIdentity":      map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "userName": "alice", "accountId": "111122223333"},
		"sourceIPAddress":   "203.0.113.7",
		"userAgent":         "aws-cli/2.0 TruffleHog",
		"requestParameters": map[string]any{"bucketName": "Logs_100%", "Host": "logs.s3.amazonaws.com"},
	}),
	ev("e2-deletebucket-denied", "s3.amazonaws.com", "DeleteBucket", map[string]any{
		"errorCode": "AccessDenied", "errorMessage": "Access Denied",
		"userIdentity": map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/aws:ec2-instance/i-0123",
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "userName": "admin"}}},
		"sourceIPAddress":   "10.1.2.3",
		"userAgent":         "Boto3/1.34",
		"requestParameters": map[string]any{"bucketName": "LogsX100x"},
	}),
	ev("e3-deletebucket-lowercase", "S3.AMAZONAWS.COM", "deletebucket", map[string]any{
		"userIdentity":    map[string]any{"type": "Root", "arn": "arn:aws:iam::111122223333:root"},
		"sourceIPAddress": "198.51.100.200",
		"userAgent":       `star*agent a_b?c back\slash`,
	}),
	ev("e4-register-task", "ecs.amazonaws.com", "RegisterTaskDefinition", map[string]any{
		"userIdentity":    map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "userName": "bob"},
		"sourceIPAddress": "2001:db8::17",
		"requestParameters": map[string]any{"family": "web", "containerDefinitions": []any{
			map[string]any{"name": "a", "command": []any{"sh", "-c", "curl 169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"}},
			map[string]any{"name": "b", "command": []any{"nginx"}},
		}},
	}),
	ev("e5-update-login-self", "iam.amazonaws.com", "UpdateLoginProfile", map[string]any{
		"userIdentity":      map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "userName": "bob"},
		"requestParameters": map[string]any{"userName": "Bob"},
	}),
	ev("e6-update-login-other", "iam.amazonaws.com", "UpdateLoginProfile", map[string]any{
		"userIdentity":      map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory", "userName": "mallory"},
		"requestParameters": map[string]any{"userName": "bob"},
	}),
	ev("e7-console-nomfa", "signin.amazonaws.com", "ConsoleLogin", map[string]any{
		"userIdentity":        map[string]any{"type": "Root", "arn": "arn:aws:iam::111122223333:root"},
		"additionalEventData": map[string]any{"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com"},
		"responseElements":    map[string]any{"ConsoleLogin": "Success"},
		"sourceIPAddress":     "2001:db8:ffff::1",
		"eventType":           "AwsConsoleSignIn",
		"readOnly":            false,
	}),
	ev("e8-console-mfa", "signin.amazonaws.com", "ConsoleLogin", map[string]any{
		"userIdentity":        map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"},
		"additionalEventData": map[string]any{"MFAUsed": "Yes"},
		"responseElements":    map[string]any{"ConsoleLogin": "Success"},
		"sourceIPAddress":     "AWS Internal",
		"eventType":           "AwsConsoleSignIn",
		"readOnly":            true,
	}),
	ev("e9-versioning", "s3.amazonaws.com", "PutBucketVersioning", map[string]any{
		"userIdentity":      map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/ops/s"},
		"requestParameters": map[string]any{"bucketName": "b1", "VersioningConfiguration": map[string]any{"Status": "Suspended"}},
		"resources":         []any{map[string]any{"ARN": "arn:aws:s3:::b1", "type": "AWS::S3::Bucket"}},
		"sourceIPAddress":   "10.200.0.1",
		"responseElements":  nil,
		"layersCount":       3,
	}),
}

func ev(id, source, name string, extra map[string]any) map[string]any {
	e := map[string]any{"eventVersion": "1.08", "eventID": id, "eventTime": "2026-03-01T10:00:00Z", "eventSource": source, "eventName": name,
		"awsRegion": "us-east-1", "recipientAccountId": "111122223333", "eventType": "AwsApiCall"}
	for k, v := range extra {
		e[k] = v
	}
	return e
}

func rule(detection string) string {
	return "title: t\nid: 00000000-0000-0000-0000-000000000001\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n" + detection
}

// TestSigmaSemantics runs one detection per modifier and condition form over the corpus: the
// events each must match, and (by exact comparison) that no other event matches.
func TestSigmaSemantics(t *testing.T) {
	s, st := openStore(t, corpus)
	cases := semanticsCases()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := sigma.Parse("case.yml", []byte(rule(c.detection)))
			if err != nil {
				t.Fatal(err)
			}
			got := matching(t, s, st, r.Predicate)
			want := append([]string{}, c.want...)
			slices.Sort(want)
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v\npredicate: %s", got, want, r.Predicate)
			}
		})
	}
}

// TestSigmaRefusals: what is not supported is refused with the file, the rule id and the
// reason — never compiled into something wider or narrower.
func TestSigmaRefusals(t *testing.T) {
	cases := []struct{ name, yaml, reason string }{
		{"windash", rule("  sel:\n    userAgent|windash: '-x'\n  condition: sel"), "modifier windash is not supported for CloudTrail"},
		{"base64offset", rule("  sel:\n    userAgent|base64offset|contains: 'x'\n  condition: sel"), "modifier base64offset is not supported for CloudTrail"},
		{"unknown modifier", rule("  sel:\n    userAgent|sounds_like: 'x'\n  condition: sel"), `unknown modifier "sounds_like"`},
		{"invalid regex", rule("  sel:\n    userAgent|re: '(unclosed'\n  condition: sel"), "invalid regular expression"},
		{"named group the engine's RE2 cannot read", rule("  sel:\n    eventName|re: '(?<n>Console)Login'\n  condition: sel"), "write (?P<n>"},
		{"lookbehind regex", rule("  sel:\n    userAgent|re: '(?<!a)b'\n  condition: sel"), "invalid regular expression"},
		{"bad cidr", rule("  sel:\n    sourceIPAddress|cidr: '10.0.0.0/33'\n  condition: sel"), "not a network"},
		{"cidr with host bits set", rule("  sel:\n    sourceIPAddress|cidr: '10.1.2.3/8'\n  condition: sel"), `cidr: "10.1.2.3/8" has host bits set (pySigma refuses it too): write the network, 10.0.0.0/8, or the address alone`},
		{"IPv6 cidr with host bits set", rule("  sel:\n    sourceIPAddress|cidr: '2001:db8::1/32'\n  condition: sel"), `cidr: "2001:db8::1/32" has host bits set (pySigma refuses it too): write the network, 2001:db8::/32, or the address alone`},
		{"keywords mixed with field maps", rule("  sel:\n    - eventName: x\n    - evil\n  condition: sel"), "mixes keywords (values with no field) and maps"},
		{"a modifier with no field", rule("  sel:\n    '|contains': evil\n  condition: sel"), "a modifier with no field name"},
		{"fieldref with a wildcard", rule("  sel:\n    userIdentity.userName|fieldref: requestParameters.user*\n  condition: sel"), "a field reference names one field: no wildcards"},
		{"a comparison with a YAML 1.1 string", rule("  sel:\n    layersCount|gt: 1e3\n  condition: sel"), `gt compares numbers, "1e3" is not one`},
		{"an infinite number", rule("  sel:\n    layersCount: .inf\n  condition: sel"), `".inf" is not a finite number`},
		{"a search named twice", rule("  sel:\n    eventName: GetObject\n  sel:\n    eventName: PutObject\n  condition: sel"), `search sel is defined twice (lines 7 and 9)`},
		{"a field named twice in a search", rule("  sel:\n    eventName: GetObject\n    eventName: PutObject\n  condition: sel"), `search sel: eventName is given twice (lines 8 and 9)`},
		{"neq of keywords", rule("  sel:\n    '|neq': evil\n  condition: sel"), "keywords take only the all and cased modifiers"},
		{"a time modifier", rule("  sel:\n    eventTime|hour: 3\n  condition: sel"), "time modifier hour"},
		{"keywords with re", rule("  sel:\n    '|re': 'ev.l'\n  condition: sel"), "keywords take only the all and cased modifiers"},
		{"aggregation", rule("  sel:\n    eventName: x\n  condition: sel | count() > 5"), "aggregation"},
		{"timeframe", rule("  sel:\n    eventName: x\n  timeframe: 5m\n  condition: sel"), "timeframe"},
		{"unknown search", rule("  sel:\n    eventName: x\n  condition: sel and other"), `"other" is not a search of this rule`},
		{"pattern matches nothing", rule("  sel:\n    eventName: x\n  condition: 1 of filter_*"), "no search matches filter_*"},
		{"2 of", rule("  sel:\n    eventName: x\n  condition: 2 of sel*"), "only 1 of and all of"},
		{"unbalanced", rule("  sel:\n    eventName: x\n  condition: (sel"), "missing )"},
		{"no condition", rule("  sel:\n    eventName: x\n"), "no condition"},
		{"exists not boolean", rule("  sel:\n    errorCode|exists: maybe\n  condition: sel"), `exists takes a boolean (true or false, unquoted), not the text "maybe"`},
		{"exists of quoted text (pySigma refuses it)", rule("  sel:\n    errorCode|exists: 'true'\n  condition: sel"), `exists takes a boolean (true or false, unquoted), not the text "true"`},
		{"exists of a number", rule("  sel:\n    errorCode|exists: 1\n  condition: sel"), `exists takes a boolean (true or false, unquoted), not "1"`},
		{"contains and startswith", rule("  sel:\n    eventName|contains|startswith: x\n  condition: sel"), "cannot be combined"},
		{"null with modifier", rule("  sel:\n    eventName|contains: null\n  condition: sel"), "null cannot be combined"},
		{"bad field", rule("  sel:\n    'userIdentity..arn': x\n  condition: sel"), "cannot be mapped"},
		{"quote in a field", rule("  sel:\n    'requestParameters.a\"b': x\n  condition: sel"), "cannot be mapped"},
		{"NUL in a value", rule("  sel:\n    eventName: \"a\\0b\"\n  condition: sel"), "NUL character"},
		{"expand", rule("  sel:\n    sourceIPAddress|expand: '%admin_ips%'\n  condition: sel"), "expand"},
		{"other logsource", strings.Replace(rule("  sel:\n    eventName: x\n  condition: sel"), "product: aws", "product: windows", 1), "only product aws, service cloudtrail"},
		{"malformed YAML", "title: [unclosed\n", "malformed YAML"},
		{"collection", rule("  sel:\n    eventName: x\n  condition: sel") + "\n---\ntitle: second\n", "more than one YAML document"},
		{"id with a terminal escape", strings.Replace(rule("  sel:\n    eventName: x\n  condition: sel"), "id: 00000000-0000-0000-0000-000000000001", "id: \"a\\e[2Jb\"", 1), "is not a rule id"},
		{"title with a control character", strings.Replace(rule("  sel:\n    eventName: x\n  condition: sel"), "title: t", "title: \"t\\x07\"", 1), "control characters"},
		{"condition too long", rule("  sel:\n    eventName: x\n  condition: " + strings.Repeat("not ", 3000) + "sel"), "more than 2000"},
		{"a Sigma 2 correlation rule", "title: c\nid: x\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [userIdentity.arn]\n  timespan: 10m\n  condition:\n    gte: 20\n",
			"correlation rule (event_count): Sigma correlation rules are not supported"},
		{"a correlation rule after its base rule", rule("  sel:\n    eventName: x\n  condition: sel") + "\n---\ntitle: c\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 5m\n",
			"document 2 is a correlation rule (temporal): Sigma correlation rules are not supported"},
		{"a Sigma filter", "title: f\nid: x\nlogsource:\n  product: aws\n  service: cloudtrail\nfilter:\n  rules: [r]\n  selection:\n    eventName: x\n  condition: not selection\n",
			"a Sigma filter (filter:) is not supported"},
		{"correlation", "title: c\nid: x\ntype: event_count\nlogsource:\n  product: aws\n  service: cloudtrail\n", "correlation rules are not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := sigma.Parse("bad.yml", []byte(c.yaml))
			var re *sigma.RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("got rule %+v, err %v; want refused", r, err)
			}
			if !errors.Is(err, sigma.ErrRefused) || re.File != "bad.yml" || !strings.Contains(re.Reason, c.reason) {
				t.Errorf("got %v, want file bad.yml and reason containing %q", err, c.reason)
			}
			if strings.Contains(c.yaml, "id: 00000000") && re.ID != "00000000-0000-0000-0000-000000000001" {
				t.Errorf("refusal names id %q", re.ID)
			}
		})
	}
}

// TestCommunityRulesAllLoad: every one of the 57 SigmaHQ CloudTrail rules compiles, and each
// predicate runs over a store of the real stratus-red-team detonations.
func TestCommunityRulesAllLoad(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "sigma-aws-cloudtrail-rules", "rules")
	rules, refused, err := sigma.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refused {
		t.Errorf("refused: %v", r)
	}
	if len(rules) != 57 {
		t.Fatalf("loaded %d rules, want 57", len(rules))
	}
	s, st := openStore(t, nil, filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs"))
	ids := map[string]bool{}
	for _, r := range rules {
		if ids[r.ID] {
			t.Errorf("duplicate id %s", r.ID)
		}
		ids[r.ID] = true
		matching(t, s, st, r.Predicate) // fails the test if the SQL does not run
	}
	// Spot checks on real records: the stratus console login without MFA has MFAUsed "No"
	// (the rule says 'NO': Sigma equality is case-insensitive).
	for _, r := range rules {
		if strings.HasSuffix(r.File, "aws_cloudtrail_console_login_success_without_mfa.yml") {
			if got := matching(t, s, st, r.Predicate); len(got) != 1 {
				t.Errorf("console login without MFA matched %v, want the one stratus event", got)
			}
		}
	}
}

// TestLoadKeepsGoodRulesBesideBadOnes: a directory with a malformed file loads the rest.
func TestLoadKeepsGoodRulesBesideBadOnes(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "good.yml"), rule("  sel:\n    eventName: x\n  condition: sel"))
	write(t, filepath.Join(dir, "sub", "bad.yaml"), "detection: [")
	write(t, filepath.Join(dir, "notes.txt"), "not a rule")
	rules, refused, err := sigma.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || len(refused) != 1 || !strings.HasSuffix(refused[0].File, "bad.yaml") {
		t.Fatalf("rules %d, refused %v", len(rules), refused)
	}
	if _, _, err := sigma.Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing path loaded")
	}
}

// TestLoadRefusesASecondRuleWithTheSameID: two files of one directory with the same id (a rule
// copied and not given a new id, or two files without one and the same name) were both
// "loaded", and the registry kept the last, so the first was silently dropped ("1 added, 1
// updated"). The second is refused, naming the file that has the id.
func TestLoadRefusesASecondRuleWithTheSameID(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yml"), rule("  sel:\n    eventName: x\n  condition: sel"))
	write(t, filepath.Join(dir, "b.yml"), rule("  sel:\n    eventName: y\n  condition: sel"))
	write(t, filepath.Join(dir, "one", "noid.yml"), "title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName: x\n  condition: sel\n")
	write(t, filepath.Join(dir, "two", "noid.yml"), "title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName: y\n  condition: sel\n")
	rules, refused, err := sigma.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].File != filepath.Join(dir, "a.yml") || rules[1].File != filepath.Join(dir, "one", "noid.yml") {
		t.Fatalf("rules %v", rules)
	}
	if len(refused) != 2 {
		t.Fatalf("refused %v", refused)
	}
	for i, want := range [][2]string{{"b.yml", "a.yml"}, {filepath.Join("two", "noid.yml"), filepath.Join("one", "noid.yml")}} {
		got := refused[i]
		if got.File != filepath.Join(dir, want[0]) || got.ID == "" || !strings.Contains(got.Reason, filepath.Join(dir, want[1])) {
			t.Errorf("refused[%d] = %v, want %s refused for the id of %s", i, got, want[0], want[1])
		}
	}
}

// semanticsCases are TestSigmaSemantics' detections and the corpus events each must match.
func semanticsCases() []semanticsCase {
	all := func(except ...string) []string {
		var out []string
		for _, e := range corpus {
			if id := e["eventID"].(string); !slices.Contains(except, id) {
				out = append(out, id)
			}
		}
		return out
	}
	return []semanticsCase{
		{"keywords are found in the record's text, case-insensitively", "  keywords:\n    - truffleHOG\n    - 'nginx'\n  condition: keywords",
			[]string{"e1-deletebucket-ok", "e4-register-task"}},
		{"a keyword has wildcards", "  keywords: 'logs?100'\n  condition: keywords",
			[]string{"e1-deletebucket-ok", "e2-deletebucket-denied"}},
		{"a keyword with a backslash is found in the record's text, where JSON escapes it", "  keywords:\n    - 'back\\slash'\n  condition: keywords",
			[]string{"e3-deletebucket-lowercase"}},
		{"a keyword with a backslash and wildcards, all", "  keywords:\n    '|all':\n      - 'a_b?c back\\s*h'\n      - 'star\\*agent'\n  condition: keywords",
			[]string{"e3-deletebucket-lowercase"}},
		{"a keyword is found in keys too", "  keywords:\n    - layersCount\n  condition: keywords",
			[]string{"e9-versioning"}},
		{"keywords with all need every one, as the specification writes it", "  keywords:\n    '|all':\n      - truffleHOG\n      - 'logs_100'\n  condition: keywords",
			[]string{"e1-deletebucket-ok"}},
		{"keywords with all: one missing is no match", "  keywords:\n    '|all':\n      - truffleHOG\n      - nginx\n  condition: keywords", nil},
		{"keywords with all beside a field condition", "  sel:\n    '|all':\n      - '111122223333'\n      - 'logs'\n    eventName: DeleteBucket\n  condition: sel",
			[]string{"e1-deletebucket-ok", "e2-deletebucket-denied"}},
		{"cased keywords", "  keywords:\n    '|cased|all':\n      - TruffleHog\n      - 'aws-cli'\n  condition: keywords", []string{"e1-deletebucket-ok"}},
		{"cased keywords keep their case", "  keywords:\n    '|cased': trufflehog\n  condition: keywords", nil},
		{"keywords with field conditions", "  kw:\n    - accessdenied\n  sel:\n    eventName: DeleteBucket\n  condition: kw and sel",
			[]string{"e2-deletebucket-denied"}},
		{"equality is case-insensitive", "  sel:\n    eventName: DeleteBucket\n  condition: sel",
			[]string{"e1-deletebucket-ok", "e2-deletebucket-denied", "e3-deletebucket-lowercase"}},
		{"cased equality", "  sel:\n    eventName|cased: DeleteBucket\n  condition: sel",
			[]string{"e1-deletebucket-ok", "e2-deletebucket-denied"}},
		{"map is AND", "  sel:\n    eventName: DeleteBucket\n    userIdentity.type: IAMUser\n  condition: sel",
			[]string{"e1-deletebucket-ok"}},
		{"list is OR", "  sel:\n    eventName:\n      - ConsoleLogin\n      - PutBucketVersioning\n  condition: sel",
			[]string{"e7-console-nomfa", "e8-console-mfa", "e9-versioning"}},
		{"list of maps is OR", "  sel:\n    - eventName: ConsoleLogin\n      userIdentity.type: Root\n    - eventName: UpdateLoginProfile\n      userIdentity.userName: mallory\n  condition: sel",
			[]string{"e6-update-login-other", "e7-console-nomfa"}},
		{"star wildcard", "  sel:\n    userIdentity.arn: 'arn:aws:iam::*:user/*'\n  condition: sel",
			[]string{"e1-deletebucket-ok", "e4-register-task", "e5-update-login-self", "e6-update-login-other", "e8-console-mfa"}},
		{"question mark is one character", "  sel:\n    eventName: 'DeleteBu?ket'\n  condition: sel",
			[]string{"e1-deletebucket-ok", "e2-deletebucket-denied", "e3-deletebucket-lowercase"}},
		{"question mark is exactly one", "  sel:\n    eventName: 'DeleteBuc?ket'\n  condition: sel", nil},
		{"escaped star is literal", "  sel:\n    userAgent: 'star\\*agent*'\n  condition: sel", []string{"e3-deletebucket-lowercase"}},
		{"escaped star does not match other text", "  sel:\n    userAgent: 'sta\\*'\n  condition: sel", nil},
		{"percent and underscore are literals", "  sel:\n    requestParameters.bucketName: 'logs_100%'\n  condition: sel", []string{"e1-deletebucket-ok"}},
		{"underscore is literal inside wildcards", "  sel:\n    userAgent|contains: 'a_b'\n  condition: sel", []string{"e3-deletebucket-lowercase"}},
		{"lone backslash is literal", "  sel:\n    userAgent|endswith: 'back\\slash'\n  condition: sel", []string{"e3-deletebucket-lowercase"}},
		{"null is missing", "  sel:\n    eventName: DeleteBucket\n    errorCode: null\n  condition: sel",
			[]string{"e1-deletebucket-ok", "e3-deletebucket-lowercase"}},
		{"contains", "  sel:\n    userAgent|contains: trufflehog\n  condition: sel", []string{"e1-deletebucket-ok"}},
		{"startswith", "  sel:\n    userAgent|startswith: BOTO3\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"endswith", "  sel:\n    userIdentity.arn|endswith: ':root'\n  condition: sel", []string{"e3-deletebucket-lowercase", "e7-console-nomfa"}},
		{"contains all", "  sel:\n    userAgent|contains|all:\n      - aws-cli\n      - truffle\n  condition: sel", []string{"e1-deletebucket-ok"}},
		{"contains all needs every value", "  sel:\n    userAgent|contains|all:\n      - aws-cli\n      - boto\n  condition: sel", nil},
		{"contains star is any value", "  sel:\n    errorMessage|contains: '*'\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"re is case-sensitive", "  sel:\n    userIdentity.arn|re: '.+:assumed-role/aws:.+'\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"re is a search, not a full match", "  sel:\n    userAgent|re: 'Truffle'\n  condition: sel", []string{"e1-deletebucket-ok"}},
		{"re i", "  sel:\n    userAgent|re|i: '^boto3/'\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"re with a named group written (?P<name>…)", "  sel:\n    userAgent|re: '^(?P<sdk>boto3|Boto3)/'\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"re ignorecase, pySigma's long name of i", "  sel:\n    userAgent|re|ignorecase: '^boto3/'\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"re multiline and dotall, pySigma's long names of m and s", "  sel:\n    userAgent|re|multiline|dotall: '^Boto3/.+$'\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"re without i", "  sel:\n    userAgent|re: '^boto3/'\n  condition: sel", nil},
		{"cidr v4", "  sel:\n    sourceIPAddress|cidr:\n      - 10.0.0.0/8\n      - 198.51.100.128/25\n  condition: sel",
			[]string{"e2-deletebucket-denied", "e3-deletebucket-lowercase", "e9-versioning"}},
		{"cidr v6", "  sel:\n    sourceIPAddress|cidr: '2001:db8::/112'\n  condition: sel", []string{"e4-register-task"}},
		{"cidr: an address alone is its own network, as pySigma's ip_network reads it", "  sel:\n    sourceIPAddress|cidr:\n      - 10.1.2.3\n      - '2001:db8::17'\n  condition: sel",
			[]string{"e2-deletebucket-denied", "e4-register-task"}},
		{"an IPv6 network holds no IPv4 address", "  sel:\n    sourceIPAddress|cidr: '::/0'\n  condition: sel",
			[]string{"e4-register-task", "e7-console-nomfa"}},
		{"the IPv4-mapped block is the IPv4 addresses", "  sel:\n    sourceIPAddress|cidr: '::ffff:0:0/96'\n  condition: sel",
			[]string{"e1-deletebucket-ok", "e2-deletebucket-denied", "e3-deletebucket-lowercase", "e9-versioning"}},
		{"exists true", "  sel:\n    errorCode|exists: true\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"exists yes: a boolean to PyYAML", "  sel:\n    errorCode|exists: yes\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"exists Off: a boolean to PyYAML", "  sel:\n    eventName: ConsoleLogin\n    additionalEventData.LoginTo|exists: Off\n  condition: sel", []string{"e8-console-mfa"}},
		{"exists false", "  sel:\n    eventName: ConsoleLogin\n    additionalEventData.LoginTo|exists: false\n  condition: sel", []string{"e8-console-mfa"}},
		{"fieldref is case-insensitive equality", "  sel:\n    eventName: UpdateLoginProfile\n  f:\n    userIdentity.userName|fieldref: requestParameters.userName\n  condition: sel and not f",
			[]string{"e6-update-login-other"}},
		{"fieldref endswith", "  sel:\n    userIdentity.arn|fieldref|endswith: requestParameters.userName\n  condition: sel", []string{"e5-update-login-self"}},
		{"struct path", "  sel:\n    userIdentity.sessionContext.sessionIssuer.userName: admin\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"map value", "  sel:\n    additionalEventData.MFAUsed: 'NO'\n    responseElements.ConsoleLogin: Success\n  condition: sel", []string{"e7-console-nomfa"}},
		{"map key is case-sensitive", "  sel:\n    additionalEventData.mfaused: 'NO'\n  condition: sel", nil},
		{"nested JSON in a map value", "  sel:\n    requestParameters.VersioningConfiguration.Status: suspended\n  condition: sel", []string{"e9-versioning"}},
		{"arrays: any element", "  sel:\n    requestParameters.containerDefinitions.command|contains: '$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'\n  condition: sel", []string{"e4-register-task"}},
		{"arrays: element equality", "  sel:\n    requestParameters.containerDefinitions.command: nginx\n  condition: sel", []string{"e4-register-task"}},
		{"arrays: the array text is not a value", "  sel:\n    requestParameters.containerDefinitions.command|startswith: '['\n  condition: sel", nil},
		{"whole object as JSON text", "  sel:\n    requestParameters|contains: Suspended\n  condition: sel", []string{"e9-versioning"}},
		{"list field from the record JSON", "  sel:\n    resources.ARN: 'arn:aws:s3:::b1'\n  condition: sel", []string{"e9-versioning"}},
		{"field outside the schema from the record JSON", "  sel:\n    layersCount: 3\n  condition: sel", []string{"e9-versioning"}},
		{"a whole object named in another case", "  sel:\n    REQUESTPARAMETERS|contains: Suspended\n  condition: sel", []string{"e9-versioning"}},
		{"a field of resources named in another case", "  sel:\n    Resources.ARN: 'arn:aws:s3:::b1'\n  condition: sel", []string{"e9-versioning"}},
		{"a whole struct named in another case", "  sel:\n    useridentity.SESSIONCONTEXT.sessionissuer|contains: '\"admin\"'\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"field that no record has", "  sel:\n    status: success\n  condition: sel", nil},
		{"boolean column", "  sel:\n    readOnly: 'true'\n  condition: sel", []string{"e8-console-mfa"}},
		{"timestamp column as CloudTrail writes it", "  sel:\n    eventTime|startswith: '2026-03-01T10:00:00Z'\n    eventName: PutBucketVersioning\n  condition: sel", []string{"e9-versioning"}},
		{"numbers compare", "  sel:\n    layersCount|gte: 3\n  condition: sel", []string{"e9-versioning"}},
		{"numbers compare lt", "  sel:\n    layersCount|lt: 3\n  condition: sel", nil},
		{"an unquoted number is read as pySigma reads YAML 1.1: 0x3 is 3", "  sel:\n    layersCount: 0x3\n  condition: sel", []string{"e9-versioning"}},
		{"an unquoted number is read as pySigma reads YAML 1.1: 3.0 is 3, 003 octal 3, +3 is 3", "  sel:\n    layersCount:\n      - 3.0\n  sel2:\n    layersCount: 003\n  sel3:\n    layersCount: +3\n  sel4:\n    layersCount: 0b11\n  condition: all of sel*", []string{"e9-versioning"}},
		{"a hexadecimal number compares", "  sel:\n    layersCount|gte: 0x3\n  condition: sel", []string{"e9-versioning"}},
		{"1e0 is text to YAML 1.1 (no dot, no exponent sign), as pySigma reads it", "  sel:\n    layersCount: 3e0\n  condition: sel", nil},
		{"a quoted number is text as written", "  sel:\n    layersCount: '3.0'\n  condition: sel", nil},
		{"neq of a number: a missing field is not equal (pySigma negates the condition)", "  sel:\n    layersCount|neq: 4\n  condition: sel", all()},
		{"neq of the number is no match", "  sel:\n    layersCount|neq: 3.0\n  condition: sel", all("e9-versioning")},
		{"neq of text is not equal, case-insensitively", "  sel:\n    eventName|neq: consolelogin\n  condition: sel", all("e7-console-nomfa", "e8-console-mfa")},
		{"neq of a list is none of them", "  sel:\n    eventName|neq:\n      - ConsoleLogin\n      - DeleteBucket\n  condition: sel",
			[]string{"e4-register-task", "e5-update-login-self", "e6-update-login-other", "e9-versioning"}},
		{"neq with all is not every one of them", "  sel:\n    userAgent|contains|all|neq:\n      - aws-cli\n      - truffle\n  condition: sel", all("e1-deletebucket-ok")},
		{"neq after startswith: does not start with", "  sel:\n    eventName|startswith|neq: Delete\n    eventSource: s3.amazonaws.com\n  condition: sel", []string{"e9-versioning"}},
		{"neq of null is a field that exists", "  sel:\n    errorCode|neq: null\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"neq with cased", "  sel:\n    eventName|cased|neq: DeleteBucket\n    eventSource|cased|neq: ecs.amazonaws.com\n    eventSource|contains: s3\n  condition: sel",
			[]string{"e3-deletebucket-lowercase", "e9-versioning"}},
		{"neq of a map value's array: no element equals", "  sel:\n    requestParameters.containerDefinitions.command|neq: nginx\n  condition: sel", all("e4-register-task")},
		{"neq with fieldref: the fields differ", "  sel:\n    eventName: UpdateLoginProfile\n    userIdentity.userName|fieldref|neq: requestParameters.userName\n  condition: sel", []string{"e6-update-login-other"}},
		{"neq with re: no match", "  sel:\n    eventSource|re|neq: '^s3'\n    eventName: DeleteBucket\n  condition: sel", []string{"e3-deletebucket-lowercase"}},
		{"neq with cidr: outside the network, or no address", "  sel:\n    sourceIPAddress|cidr|neq: 10.0.0.0/8\n  condition: sel", all("e2-deletebucket-denied", "e9-versioning")},
		{"neq with gt: not greater", "  sel:\n    layersCount|gt|neq: 2\n  condition: sel", all("e9-versioning")},
		{"not over a missing field is true", "  sel:\n    eventSource|endswith: .amazonaws.com\n  f:\n    errorCode: AccessDenied\n  condition: sel and not f",
			all("e2-deletebucket-denied")},
		{"and or precedence", "  a:\n    eventName: ConsoleLogin\n  b:\n    userIdentity.type: Root\n  c:\n    eventName: UpdateLoginProfile\n  condition: a and b or c",
			[]string{"e5-update-login-self", "e6-update-login-other", "e7-console-nomfa"}},
		{"parentheses", "  a:\n    eventName: ConsoleLogin\n  b:\n    userIdentity.type: Root\n  c:\n    eventName: UpdateLoginProfile\n  condition: b and (a or c)",
			[]string{"e7-console-nomfa"}},
		{"1 of pattern", "  selection_a:\n    eventName: ConsoleLogin\n  selection_b:\n    eventName: PutBucketVersioning\n  other:\n    eventName: DeleteBucket\n  condition: 1 of selection_*",
			[]string{"e7-console-nomfa", "e8-console-mfa", "e9-versioning"}},
		{"any of is 1 of, as pySigma reads it", "  selection_a:\n    eventName: ConsoleLogin\n  selection_b:\n    eventName: PutBucketVersioning\n  other:\n    eventName: DeleteBucket\n  condition: any of selection_*", []string{"e7-console-nomfa", "e8-console-mfa", "e9-versioning"}},
		{"a pattern leaves out names starting with _, as them does", "  sel_a:\n    eventName: ConsoleLogin\n  _sel_b:\n    eventName: PutBucketVersioning\n  condition: 1 of *sel_*", []string{"e7-console-nomfa", "e8-console-mfa"}},
		{"a pattern starting with _ names them", "  sel_a:\n    eventName: ConsoleLogin\n  _sel_b:\n    eventName: PutBucketVersioning\n  condition: 1 of _sel*", []string{"e9-versioning"}},
		{"all of pattern", "  sel_a:\n    eventName: ConsoleLogin\n  sel_b:\n    userIdentity.type: Root\n  condition: all of sel_*", []string{"e7-console-nomfa"}},
		{"1 of them", "  a:\n    eventName: RegisterTaskDefinition\n  b:\n    eventName: PutBucketVersioning\n  _c:\n    eventName: ConsoleLogin\n  condition: 1 of them",
			[]string{"e4-register-task", "e9-versioning"}},
		{"all of them", "  a:\n    eventSource: signin.amazonaws.com\n  b:\n    userIdentity.type: IAMUser\n  condition: all of them", []string{"e8-console-mfa"}},
		{"not 1 of", "  sel:\n    eventName: DeleteBucket\n  filter_a:\n    errorCode: AccessDenied\n  filter_b:\n    userIdentity.type: Root\n  condition: sel and not 1 of filter_*",
			[]string{"e1-deletebucket-ok"}},
		{"double not", "  sel:\n    eventName: DeleteBucket\n  condition: not not sel",
			[]string{"e1-deletebucket-ok", "e2-deletebucket-denied", "e3-deletebucket-lowercase"}},
		{"condition list is OR", "  a:\n    eventName: RegisterTaskDefinition\n  b:\n    eventName: PutBucketVersioning\n  condition:\n    - a\n    - b",
			[]string{"e4-register-task", "e9-versioning"}},
		{"quote in a value stays a value", "  sel:\n    eventName: \"x' OR 1=1 --\"\n  condition: sel", nil},
		{"not binds tighter than and", "  a:\n    eventName: DeleteBucket\n  b:\n    eventSource: s3.amazonaws.com\n  condition: not a and b", []string{"e9-versioning"}},
		{"and binds tighter than or, not tighter than both", "  a:\n    eventName: ConsoleLogin\n  b:\n    eventSource: s3.amazonaws.com\n  c:\n    eventName: DeleteBucket\n  condition: a or not b and c", []string{"e7-console-nomfa", "e8-console-mfa"}},
		{"nested parentheses", "  a:\n    eventName: DeleteBucket\n  b:\n    userIdentity.type: Root\n  c:\n    errorCode: AccessDenied\n  condition: ((a) and (b or (c)))", []string{"e2-deletebucket-denied", "e3-deletebucket-lowercase"}},
		{"not over parentheses", "  a:\n    eventSource: s3.amazonaws.com\n  b:\n    eventName: DeleteBucket\n  condition: a and not (b or a)", nil},
		{"an empty string is a field equal to it, not a missing field", "  sel:\n    errorMessage: ''\n  condition: sel", nil},
		{"contains of an empty string is any value the field has", "  sel:\n    userAgent|contains: ''\n  condition: sel", []string{"e1-deletebucket-ok", "e2-deletebucket-denied", "e3-deletebucket-lowercase"}},
		{"a lone star is any value, not a missing field", "  sel:\n    errorCode: '*'\n  condition: sel", []string{"e2-deletebucket-denied"}},
		{"a value or null", "  sel:\n    errorCode:\n      - AccessDenied\n      - null\n    eventName: DeleteBucket\n  condition: sel", []string{"e1-deletebucket-ok", "e2-deletebucket-denied", "e3-deletebucket-lowercase"}},
		{"escaped question mark and backslash", "  sel:\n    userAgent|contains: 'a_b\\?c back\\\\slash'\n  condition: sel", []string{"e3-deletebucket-lowercase"}},
		{"escaped question mark is not one character", "  sel:\n    userAgent|contains: 'a_\\?'\n  condition: sel", nil},
		{"all of them leaves out _ names", "  a:\n    eventSource: signin.amazonaws.com\n  _b:\n    userIdentity.type: Root\n  condition: all of them", []string{"e7-console-nomfa", "e8-console-mfa"}},
		{"1 of them in a larger condition", "  sel_a:\n    eventName: DeleteBucket\n  sel_b:\n    eventName: ConsoleLogin\n  filter:\n    userIdentity.type: Root\n  condition: 1 of sel_* and not filter", []string{"e1-deletebucket-ok", "e2-deletebucket-denied", "e8-console-mfa"}},
	}
}

type semanticsCase struct {
	name, detection string
	want            []string
}

// TestLoadEachDocumentOfAFile: a file of several YAML documents loads each rule document on
// its own and refuses each other document alone, naming its number — before, the whole file
// was refused for its correlation document or for having several rules. Only malformed YAML
// refuses the whole file.
func TestLoadEachDocumentOfAFile(t *testing.T) {
	dir := t.TempDir()
	base := func(id, name string) string {
		return "title: r " + name + "\n" + id + "logsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventName: " + name + "\n  condition: sel\n"
	}
	write(t, filepath.Join(dir, "multi.yml"), "# several rules\n"+base("id: a1\n", "DeleteBucket")+
		"---\n"+base("", "ConsoleLogin")+
		"---\ntitle: c\nid: c1\ncorrelation:\n  type: event_count\n  rules: [a1]\n  timespan: 5m\n  condition:\n    gte: 3\n"+
		"---\ntitle: f\nid: f1\nlogsource:\n  product: aws\n  service: cloudtrail\nfilter:\n  rules: [a1]\n  selection:\n    eventName: x\n  condition: not selection\n"+
		"--- # a rule that cannot compile\n"+strings.Replace(base("id: bad1\n", "x"), "eventName:", "eventName|sounds_like:", 1)+
		"...\n---\n"+base("id: a2\n", "PutBucketVersioning")+"---\n")
	write(t, filepath.Join(dir, "sub", "collection.yml"), base("id: before\n", "GetObject")+
		"---\naction: global\nlogsource:\n  product: aws\n  service: cloudtrail\n"+
		"---\ntitle: takes the global part\nid: g1\ndetection:\n  sel:\n    eventName: x\n  condition: sel\n"+
		"---\naction: reset\n---\n"+base("id: after\n", "PutObject"))
	write(t, filepath.Join(dir, "sub", "malformed.yml"), base("id: m1\n", "x")+"---\n"+base("id: m2\n", "y")+"---\ntitle: [unclosed\n")
	rules, refused, err := sigma.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		got = append(got, r.ID)
		again, err := sigma.Parse(r.File, []byte(r.Source))
		if err != nil || again.Predicate != r.Predicate || strings.Contains(r.Source, "\nid:") && again.ID != r.ID {
			t.Errorf("rule %s: its Source (%q) compiles to %v, %v", r.ID, r.Source, again, err)
		}
	}
	if want := []string{"a1", "multi-2", "a2", "before", "after"}; !slices.Equal(got, want) {
		t.Errorf("loaded %v, want %v", got, want)
	}
	// Each refusal's file, document, id and a part of its reason.
	want := []sigma.RefusedError{
		{File: "multi.yml", Doc: 3, ID: "c1", Reason: "correlation rule (event_count): Sigma correlation rules are not supported"},
		{File: "multi.yml", Doc: 4, ID: "f1", Reason: "a Sigma filter (filter:) is not supported"},
		{File: "multi.yml", Doc: 5, ID: "bad1", Reason: `unknown modifier "sounds_like"`},
		{File: filepath.Join("sub", "collection.yml"), Doc: 2, Reason: `action "global": Sigma rule collections`},
		{File: filepath.Join("sub", "collection.yml"), Doc: 3, ID: "g1", Reason: "takes the collection's global part (document 2, action: global)"},
		{File: filepath.Join("sub", "collection.yml"), Doc: 4, Reason: `action "reset"`},
		{File: filepath.Join("sub", "malformed.yml"), Reason: "malformed YAML"},
	}
	if len(refused) != len(want) {
		t.Fatalf("refused %v, want %d", refused, len(want))
	}
	for i, w := range want {
		if r := refused[i]; r.File != filepath.Join(dir, w.File) || r.Doc != w.Doc || r.ID != w.ID || !strings.Contains(r.Reason, w.Reason) {
			t.Errorf("refused[%d] = %+v, want %+v", i, r, w)
		}
	}
	if msg := refused[0].Error(); !strings.Contains(msg, "multi.yml document 3 (c1) refused: correlation rule") {
		t.Errorf("message %q does not name the document", msg)
	}
}
