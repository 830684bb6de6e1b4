package sigma

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestScalarValueAsPySigmaReadsIt: a plain value is what pySigma makes of it — PyYAML's YAML
// 1.1 resolution, then str of SigmaNumber (the expected texts were taken from PyYAML 6.0.3
// and SigmaNumber's rule: an int when float(v) == int(v)). Quoted values are text as written.
func TestScalarValueAsPySigmaReadsIt(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"0x16", "22"}, {"-0x16", "-22"}, {"0X16", "0X16"}, {"0b101", "5"}, {"0b12", "0b12"},
		{"007", "7"}, {"08", "08"}, {"0o17", "0o17"}, {"00", "0"}, {"-0", "0"}, {"0_", "0"},
		{"1_000", "1000"}, {"1__0", "10"}, {"_1", "_1"}, {"1_", "1"}, {"+5", "5"},
		{"1:30", "90"}, {"1:30.5", "90.5"},
		{"1e3", "1e3"}, {"1E3", "1E3"}, {"1e16", "1e16"}, {"1e-5", "1e-5"}, {"1.0e3", "1.0e3"}, {"0.1e1", "0.1e1"},
		{"1.0e+3", "1000"}, {"1.0E+3", "1000"}, {"1.e+3", "1000"}, {"1.0e+16", "10000000000000000"}, {"1.5e+16", "15000000000000000"},
		{"1.5", "1.5"}, {"1.50", "1.5"}, {"1.10", "1.1"}, {"1.0", "1"}, {"+1.0", "1"}, {"1.", "1"}, {"0.0", "0"}, {"-0.0", "0"},
		{".5", "0.5"}, {"-.5", "-.5"}, {"+.5", "+.5"}, {"-1.5", "-1.5"}, {"09.5", "9.5"}, {"012.5", "12.5"},
		{"0.1", "0.1"}, {"0.00001", "1e-05"}, {"1.0e-5", "1e-05"}, {"3.0e-05", "3e-05"}, {"0.0001", "0.0001"}, {"1234567.5", "1234567.5"},
		{"9007199254740993.0", "9007199254740992"},
		{"12345678901234567890", "1.2345678901234567e+19"}, {"123456789012345678901234567890", "1.2345678901234568e+29"},
		{"0xFFFFFFFFFFFFFFFFFF", "4.722366482869645e+21"}, {"123456789012", "123456789012"}, {"032092706103", "032092706103"},
		{"1,000", "1,000"}, {"true", "true"}, {"yes", "yes"}, {"'0x16'", "0x16"}, {`"1.10"`, "1.10"}, {"!!str 0x16", "0x16"},
	}
	for _, c := range cases {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(c.yaml), &n); err != nil {
			t.Fatal(err)
		}
		got, err := scalarValue(n.Content[0])
		if err != nil || got.null || got.text != c.want {
			t.Errorf("%s: got %+v, %v; want %q", c.yaml, got, err, c.want)
		}
	}
	for _, bad := range []string{".inf", "-.inf", ".nan", "0b_", "0x_", "1.0e+400"} {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(bad), &n); err != nil {
			t.Fatal(err)
		}
		if got, err := scalarValue(n.Content[0]); err == nil {
			t.Errorf("%s: got %+v, want refused (pySigma: invalid number)", bad, got)
		}
	}
}

// TestWarningsOfValuesReadAsNumbers: an unquoted value whose number's text is not what is
// written (eventVersion: 1.10 is 1.1 to pySigma) is compiled as pySigma reads it, and the
// rule says so; a quoted value, a number written as its text, keys and the condition do not.
func TestWarningsOfValuesReadAsNumbers(t *testing.T) {
	text := "title: t\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventVersion: 1.10\n    recipientAccountId:\n      - 012345670123\n      - '012345670124'\n" +
		"    layersCount: 3\n    requestParameters.size|gt: 0x10\n  '1.50':\n    eventName: x\n  keywords:\n    - 2.0\n  condition: sel or keywords or 1.50\n"
	r, err := Parse("v.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"line 7: eventVersion: 1.10 is read as the number 1.1 (an unquoted number, as pySigma reads it): quote it ('1.10') to match the text as written",
		"line 9: recipientAccountId: 012345670123 is read as the number 1402433619 ",
		"line 12: requestParameters.size|gt: 0x10 is read as the number 16 ",
		"line 16: keywords: 2.0 is read as the number 2 ",
	}
	if len(r.Warnings) != len(want) {
		t.Fatalf("warnings %q, want %d", r.Warnings, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(r.Warnings[i], w) {
			t.Errorf("warning %d = %q, want %q…", i, r.Warnings[i], w)
		}
	}
}
