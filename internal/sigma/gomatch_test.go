package sigma_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/sigma"
)

// decodeRecords decodes records (and raw JSON record texts) as ingest does.
func decodeRecords(t testing.TB, records []map[string]any, raw ...string) []*cloudtrail.Record {
	t.Helper()
	var texts []string
	for _, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(b))
	}
	texts = append(texts, raw...)
	var out []*cloudtrail.Record
	if _, err := cloudtrail.Decode(strings.NewReader(`{"Records":[`+strings.Join(texts, ",")+`]}`), "corpus", cloudtrail.DecodeOptions{}, func(r *cloudtrail.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// goVerdicts runs r's Go matcher over recs: the ids it matches and those it leaves to the
// engine, each sorted.
func goVerdicts(r *sigma.Rule, recs []*cloudtrail.Record) (yes, unknown []string) {
	yes, unknown = []string{}, []string{}
	var ev sigma.Event
	for _, rec := range recs {
		ev.Reset(rec)
		switch r.Match(&ev) {
		case sigma.Yes:
			yes = append(yes, rec.EventID)
		case sigma.Unknown:
			unknown = append(unknown, rec.EventID)
		}
	}
	slices.Sort(yes)
	slices.Sort(unknown)
	return yes, unknown
}

// TestGoMatcherSemantics runs every case of TestSigmaSemantics' kind through the Go matcher:
// each has one, and it matches exactly what the SQL matches, with no event left to the engine
// (the corpus is ASCII).
func TestGoMatcherSemantics(t *testing.T) {
	s, st := openStore(t, corpus)
	recs := decodeRecords(t, corpus)
	for _, c := range semanticsCases() {
		t.Run(c.name, func(t *testing.T) {
			r, err := sigma.Parse("case.yml", []byte(rule(c.detection)))
			if err != nil {
				t.Fatal(err)
			}
			if !r.HasGo() {
				t.Fatalf("no Go matcher: %s", r.GoRefused)
			}
			want := matching(t, s, st, r.Predicate)
			yes, unknown := goVerdicts(r, recs)
			if !slices.Equal(yes, want) || len(unknown) > 0 {
				t.Errorf("Go matches %v (unknown %v), SQL %v", yes, unknown, want)
			}
		})
	}
}

// hostile are events whose values are where a Go matcher could part from the engine: Unicode
// case folding, wildcard characters in values, very long values, nested JSON arrays and
// objects in requestParameters, numbers the engine re-formats, addresses not written
// canonically, line breaks (a key held twice never reaches a record: the decoder keeps the first).
var hostile = []map[string]any{
	ev("h1-unicode", "s3.amazonaws.com", "GetObject", map[string]any{
		"userAgent":    "İSTANBUL-Agent ǅ",
		"userIdentity": map[string]any{"type": "IAMUser", "userName": "kelvin\u212a", "arn": "ARN:Straße"},
	}),
	ev("h2-wildcard-chars", "s3.amazonaws.com", "GetObject", map[string]any{
		"userAgent": `a*b?c\d%_`,
	}),
	ev("h3-long", "s3.amazonaws.com", "GetObject", map[string]any{
		"userAgent":         strings.Repeat("x", 200000) + "TruffleHog",
		"requestParameters": map[string]any{"bucketName": strings.Repeat("ab", 50000)},
	}),
	ev("h4-nested", "ecs.amazonaws.com", "RegisterTaskDefinition", map[string]any{
		"requestParameters": map[string]any{
			"a":    []any{[]any{1, 2}, []any{map[string]any{"b": "deep"}}, map[string]any{"b": "obj"}, "plain"},
			"list": []any{[]any{"nginx"}, "sh"},
			"n":    []any{1.5, 2, 1e3, -7, 12345678901234567890.0},
			"obj":  map[string]any{"k": "v\"q\\/", "arr": []any{true, nil, "x"}, "tab": "a\tb", "uni": "été"},
			"esc":  "line\nbreak",
		},
	}),
	ev("h6-ip-leading-zero", "ec2.amazonaws.com", "DescribeInstances", map[string]any{"sourceIPAddress": "010.1.2.3"}),
	ev("h6-ip-mapped", "ec2.amazonaws.com", "DescribeInstances", map[string]any{"sourceIPAddress": "::ffff:10.1.2.3"}),
	ev("h6-ip-long-v6", "ec2.amazonaws.com", "DescribeInstances", map[string]any{"sourceIPAddress": "0:0:0:0:0:0:0:1"}),
	ev("h6-ip-zone", "ec2.amazonaws.com", "DescribeInstances", map[string]any{"sourceIPAddress": "fe80::1%eth0"}),
	ev("h6-ip-space", "ec2.amazonaws.com", "DescribeInstances", map[string]any{"sourceIPAddress": "10.1.2.3 "}),
	ev("h6-ip-name", "ec2.amazonaws.com", "DescribeInstances", map[string]any{"sourceIPAddress": "ec2.amazonaws.com"}),
	ev("h7-num-float", "s3.amazonaws.com", "PutObject", map[string]any{"layersCount": "3.0", "requestParameters": map[string]any{"size": " 3"}}),
	ev("h7-num-exp", "s3.amazonaws.com", "PutObject", map[string]any{"layersCount": "1e1", "requestParameters": map[string]any{"size": "+4"}}),
	ev("h8-newline", "s3.amazonaws.com", "GetObject", map[string]any{"userAgent": "Boto3\nx"}),
}

// TestGoMatcherHostileValues runs detections of every modifier over the hostile events in Go
// and in SQL: wherever the Go matcher answers, it answers as the engine does; it leaves to the
// engine only what the engine alone can tell (listed per case), and decides the rest.
func TestGoMatcherHostileValues(t *testing.T) {
	s, st := openStore(t, hostile)
	recs := decodeRecords(t, hostile)
	cases := []struct {
		name, detection string
		refused         bool     // no Go matcher: the rule runs in SQL
		unknown         []string // events left to the engine
	}{
		{"uncased contains over non-ASCII text", "  sel:\n    userAgent|contains: istanbul\n  condition: sel", false, []string{"h1-unicode"}},
		{"uncased non-ASCII value: SQL only", "  sel:\n    userAgent|startswith: 'İSTANBUL'\n  condition: sel", true, nil},
		{"cased non-ASCII value", "  sel:\n    userAgent|cased|startswith: 'İSTANBUL'\n  condition: sel", false, nil},
		{"Kelvin sign folds in the engine only", "  sel:\n    userIdentity.userName: kelvink\n  condition: sel", false, []string{"h1-unicode"}},
		{"sharp s", "  sel:\n    userIdentity.arn|contains: 'strasse'\n  condition: sel", false, []string{"h1-unicode"}},
		{"escaped wildcards", "  sel:\n    userAgent: 'a\\*b\\?c\\d%_'\n  condition: sel", false, []string{"h1-unicode"}},
		{"escaped star is not a wildcard", "  sel:\n    userAgent: 'a\\*'\n  condition: sel", false, nil}, // h1's 18 bytes are no 2 characters
		{"question mark over non-ASCII, cased", "  sel:\n    userAgent|cased: '?STANBUL*'\n  condition: sel", false, []string{"h1-unicode"}},
		{"uncased equality with a non-ASCII value of more than four bytes a character: no", "  sel:\n    userAgent: ab\n  condition: sel", false, nil},
		{"uncased startswith longer than a non-ASCII value: no", "  sel:\n    userIdentity.userName|startswith: kelvinkelvink\n  condition: sel", false, nil},
		{"uncased contains longer than a non-ASCII value: no", "  sel:\n    userIdentity.arn|contains: 'arn:strasse!'\n  condition: sel", false, nil},
		{"long value endswith", "  sel:\n    userAgent|endswith: trufflehog\n  condition: sel", false, []string{"h1-unicode"}},
		{"long value, wildcards", "  sel:\n    userAgent: 'x*x?x*hog'\n    requestParameters.bucketName: '*ab*ba*'\n  condition: sel", false, nil},
		{"nested arrays: element of an element is not a value", "  sel:\n    requestParameters.list: nginx\n  condition: sel", false, nil},
		{"nested arrays: object element's field", "  sel:\n    requestParameters.a.b: obj\n  condition: sel", false, nil},
		{"nested arrays: field two arrays down", "  sel:\n    requestParameters.a.b: deep\n  condition: sel", false, nil},
		{"array element equality", "  sel:\n    requestParameters.a: plain\n  condition: sel", false, nil},
		{"integer element (the floats beside it do not matter)", "  sel:\n    requestParameters.n: 2\n  condition: sel", false, nil},
		{"negative integer element", "  sel:\n    requestParameters.n: '-7'\n  condition: sel", false, nil},
		{"a float element is the engine's to write", "  sel:\n    requestParameters.n: '1.5'\n  condition: sel", false, []string{"h4-nested"}},
		{"object as JSON text", "  sel:\n    requestParameters.obj.arr: 'true'\n  condition: sel", false, nil},
		{"whole object text with escapes", "  sel:\n    requestParameters|contains: 'v\\\"q'\n  condition: sel", false, []string{"h4-nested"}},
		{"map value with a line break", "  sel:\n    requestParameters.esc|contains: 'break'\n  condition: sel", false, nil},
		{"cidr v4", "  sel:\n    sourceIPAddress|cidr: 10.0.0.0/8\n  condition: sel", false, []string{"h6-ip-leading-zero", "h6-ip-space", "h6-ip-zone", "h6-ip-long-v6", "h6-ip-name"}},
		{"cidr v6", "  sel:\n    sourceIPAddress|cidr: '::1/128'\n  condition: sel", false, []string{"h6-ip-leading-zero", "h6-ip-space", "h6-ip-zone", "h6-ip-long-v6", "h6-ip-name"}},
		{"numbers: plain decimals only", "  sel:\n    layersCount|gte: 3\n  condition: sel", false, []string{"h7-num-exp"}},
		{"numbers in a map", "  sel:\n    requestParameters.size|lt: 4\n  condition: sel", false, []string{"h7-num-exp", "h7-num-float"}},
		{"re over a line break", "  sel:\n    userAgent|re: 'x$'\n  condition: sel", false, []string{"h1-unicode", "h8-newline"}},
		{"not over an unknown is unknown", "  sel:\n    eventSource: s3.amazonaws.com\n  f:\n    userAgent|contains: istanbul\n  condition: sel and not f", false, []string{"h1-unicode"}},
		{"or decides over an unknown", "  a:\n    eventSource: s3.amazonaws.com\n  b:\n    userAgent|contains: istanbul\n  condition: a or b", false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := sigma.Parse("case.yml", []byte(rule(c.detection)))
			if err != nil {
				t.Fatal(err)
			}
			if r.HasGo() == c.refused {
				t.Fatalf("has a Go matcher: %v (%s), want %v", r.HasGo(), r.GoRefused, !c.refused)
			}
			if c.refused {
				return
			}
			want := matching(t, s, st, r.Predicate)
			yes, unknown := goVerdicts(r, recs)
			for _, id := range yes {
				if !slices.Contains(want, id) {
					t.Errorf("Go matches %s, the SQL does not", id)
				}
			}
			for _, id := range want {
				if !slices.Contains(yes, id) && !slices.Contains(unknown, id) {
					t.Errorf("the SQL matches %s, Go says no", id)
				}
			}
			wantUnknown := append([]string{}, c.unknown...)
			slices.Sort(wantUnknown)
			if !slices.Equal(unknown, wantUnknown) && !(len(unknown) == 0 && len(wantUnknown) == 0) {
				t.Errorf("left to the engine: %v, want %v (SQL matches %v)", unknown, wantUnknown, want)
			}
		})
	}
}

// TestJSONNullIsMissing: a field whose value is JSON null is missing — exists is false and
// null holds — for every kind of field (a column, a struct field, a map value, a value in a
// map value's JSON, an element of resources, a field read from the record's text), in SQL and
// in the Go matcher alike. The specification 2.1 says exists checks presence only; the store
// keeps a column's null and its absence alike (docs/detections.md: why).
func TestJSONNullIsMissing(t *testing.T) {
	recs := []map[string]any{
		ev("nulls", "s3.amazonaws.com", "GetObject", map[string]any{
			"errorCode": nil, "layersCount": nil, "userIdentity": map[string]any{"type": "IAMUser", "userName": nil},
			"requestParameters": map[string]any{"a": nil, "o": map[string]any{"z": nil}}, "resources": []any{map[string]any{"ARN": nil}},
		}),
		ev("values", "s3.amazonaws.com", "GetObject", map[string]any{
			"errorCode": "x", "layersCount": 1, "userIdentity": map[string]any{"type": "IAMUser", "userName": "u"},
			"requestParameters": map[string]any{"a": "x", "o": map[string]any{"z": "x"}}, "resources": []any{map[string]any{"ARN": "x"}},
		}),
		ev("absent", "s3.amazonaws.com", "GetObject", nil),
	}
	s, st := openStore(t, recs)
	decoded := decodeRecords(t, recs)
	for _, f := range []string{"errorCode", "layersCount", "userIdentity.userName", "requestParameters.a", "requestParameters.o.z", "resources.ARN"} {
		for _, c := range []struct {
			cond string
			want []string
		}{
			{"|exists: true", []string{"values"}},
			{"|exists: false", []string{"absent", "nulls"}},
			{": null", []string{"absent", "nulls"}},
		} {
			r, err := sigma.Parse("null.yml", []byte(rule("  sel:\n    "+f+c.cond+"\n  condition: sel")))
			if err != nil {
				t.Fatal(err)
			}
			got := matching(t, s, st, r.Predicate)
			yes, unknown := goVerdicts(r, decoded)
			if !slices.Equal(got, c.want) || !slices.Equal(yes, c.want) || len(unknown) > 0 {
				t.Errorf("%s%s: SQL %v, Go %v (unknown %v), want %v", f, c.cond, got, yes, unknown, c.want)
			}
		}
	}
}
