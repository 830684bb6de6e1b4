package configitems_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/configitems"
	"github.com/auditlake/auditlake/internal/configitems/configtest"
)

const root = "../.."

func decode(t *testing.T, b []byte) configitems.Result {
	t.Helper()
	res, err := configitems.Decode(bytes.NewReader(b), "test.json")
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return res
}

func ptr(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func get(kvs []configitems.KV, k string) string {
	v, ok := configitems.Get(kvs, k)
	if !ok {
		return "<absent>"
	}
	return v
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// The real Config item cloud-custodian captured (a rule invocation whose invokingEvent is a
// ConfigurationItemChangeNotification, configurationItemVersion 1.2) decodes field by field.
func TestDecodeRealCustodianRuleEventExactFields(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "testdata/cloud-custodian-event-and-config-fixtures/cwe/event-config-rule-instance.json"))
	if err != nil {
		t.Fatal(err)
	}
	res := decode(t, b)
	if len(res.Items) != 1 || len(res.Problems) != 0 {
		t.Fatalf("got %d items, problems %v; want 1 item", len(res.Items), res.Problems)
	}
	it := res.Items[0]
	d := it.Data
	for _, c := range []struct{ name, got, want string }{
		{"resourcetype", d.ResourceType, "AWS::EC2::Instance"},
		{"resourceid", d.ResourceID, "i-094bc87c84d56c589"},
		{"capturetime", d.ConfigurationItemCaptureTime, "2016-08-24T00:13:58.422Z"},
		{"eventtime", it.EventTime.Format(time.RFC3339Nano), "2016-08-24T00:13:58.422Z"},
		{"version", ptr(d.ConfigurationItemVersion), "1.2"},
		{"status", ptr(d.ConfigurationItemStatus), "OK"},
		{"stateid (a number in the item)", ptr(d.ConfigurationItemStateID), "4"},
		{"accountid (awsAccountId)", ptr(d.AccountID), "644160558196"},
		{"recipientaccountid", ptr(it.RecipientAccountID), "644160558196"},
		{"arn (ARN)", ptr(d.ARN), "arn:aws:ec2:us-east-1:644160558196:instance/i-094bc87c84d56c589"},
		{"resourcename null", ptr(d.ResourceName), "<nil>"},
		{"awsregion", ptr(it.AwsRegion), "us-east-1"},
		{"availabilityzone", ptr(d.AvailabilityZone), "us-east-1d"},
		{"resourcecreationtime", ptr(d.ResourceCreationTime), "2016-08-23T22:37:57.000Z"},
		{"relatedevents", ptr(d.RelatedEvents), `["a8b850da-b0fd-4538-816b-c9ce5c7d1c9e"]`},
		{"configuration.instanceId", get(d.Configuration, "instanceId"), "i-094bc87c84d56c589"},
		{"configuration.state (nested as compact JSON)", get(d.Configuration, "state"), `{"code":80,"name":"stopped"}`},
		{"configuration.amiLaunchIndex (number as text)", get(d.Configuration, "amiLaunchIndex"), "0"},
		{"configuration.kernelId (null)", get(d.Configuration, "kernelId"), "<absent>"},
		{"configuration.tags", get(d.Configuration, "tags"), `[{"key":"Name","value":"redum-storage"}]`},
		{"tags.Name", get(d.Tags, "Name"), "redrum-redrum"},
		{"first configuration key", d.Configuration[0].Key, "instanceId"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if len(d.SupplementaryConfiguration) != 0 || d.SupplementaryConfiguration == nil {
		t.Errorf("supplementaryconfiguration = %v, want an empty (not NULL) map", d.SupplementaryConfiguration)
	}
	if len(d.Relationships) != 6 {
		t.Fatalf("got %d relationships, want 6", len(d.Relationships))
	}
	r := d.Relationships[3]
	if got := ptr(r.Name) + "|" + ptr(r.ResourceType) + "|" + ptr(r.ResourceID) + "|" + ptr(r.ResourceName); got != "Is attached to Volume|AWS::EC2::Volume|vol-1eefcfcc|<nil>" {
		t.Errorf("relationships[3] = %s", got)
	}
	if !uuidRE.MatchString(it.EventID) {
		t.Errorf("eventid %q is not a name-based UUID", it.EventID)
	}
	var ev struct {
		EventCategory string
		EventData     struct {
			Configuration struct{ State struct{ Name string } }
		}
	}
	if err := json.Unmarshal([]byte(it.EventJSON), &ev); err != nil || ev.EventCategory != "ConfigurationItem" || ev.EventData.Configuration.State.Name != "stopped" {
		t.Errorf("eventjson %.200s: category %q, $.eventData.configuration.state.name %q (err %v)", it.EventJSON, ev.EventCategory, ev.EventData.Configuration.State.Name, err)
	}
}

// get-resource-config-history output captured through boto3 (cloud-custodian's rds-cluster
// fixture): API names (version, accountId, arn, relationshipName), configuration as a JSON
// string, capture time with a -05:00 offset.
func TestDecodeRealAPIHistoryAliases(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "testdata/cloud-custodian-event-and-config-fixtures/config/rds-cluster.json"))
	if err != nil {
		t.Fatal(err)
	}
	res := decode(t, b)
	if len(res.Items) != 1 || len(res.Problems) != 0 {
		t.Fatalf("got %d items, problems %v", len(res.Items), res.Problems)
	}
	d := res.Items[0].Data
	for _, c := range []struct{ name, got, want string }{
		{"eventtime", res.Items[0].EventTime.Format(time.RFC3339Nano), "2020-11-02T08:28:12.399Z"},
		{"capturetime as delivered", d.ConfigurationItemCaptureTime, "2020-11-02T03:28:12.399000-05:00"},
		{"version", ptr(d.ConfigurationItemVersion), "1.3"},
		{"accountid", ptr(d.AccountID), "644160558196"},
		{"arn", ptr(d.ARN), "arn:aws:rds:us-east-1:644160558196:cluster:database-1"},
		{"stateid", ptr(d.ConfigurationItemStateID), "1604305692399"},
		{"configuration.engine", get(d.Configuration, "engine"), "aurora-postgresql"},
		{"configuration.port", get(d.Configuration, "port"), "5432"},
		{"relationship name (relationshipName)", ptr(d.Relationships[0].Name), "Is associated with "},
		{"relationship without resourceId", ptr(d.Relationships[1].ResourceID), "<nil>"},
		{"tags.Owner", get(d.Tags, "Owner"), "Mc-Mcslice"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

// Every container shape yields the same items, with the same event ids, whatever the spelling
// of the item's fields.
func TestDecodeEveryContainerShapeYieldsTheSameItems(t *testing.T) {
	items, err := configtest.Items(root)
	if err != nil {
		t.Fatal(err)
	}
	asg := items[3] // web-asg on Jan 1
	lt := items[0]
	file := func(ms ...map[string]any) []map[string]any {
		var out []map[string]any
		for _, m := range ms {
			out = append(out, configtest.FileStyle(m))
		}
		return out
	}
	api := func(ms ...map[string]any) []map[string]any {
		var out []map[string]any
		for _, m := range ms {
			out = append(out, configtest.APIStyle(m))
		}
		return out
	}
	notif := configtest.Notification(configtest.FileStyle(asg))
	ruleEvent, _ := json.Marshal(map[string]any{"configRuleName": "r", "invokingEvent": string(notif), "resultToken": "x"})
	sns, _ := json.Marshal(map[string]any{"Type": "Notification", "MessageId": "m", "Message": string(notif)})
	eb, _ := json.Marshal(map[string]any{"version": "0", "detail-type": "Configuration Item Change", "source": "aws.config", "detail": json.RawMessage(notif)})
	scheduled := []byte(`{"awsAccountId":"123456789012","notificationCreationTime":"2026-01-01T00:00:00Z","messageType":"ScheduledNotification","recordVersion":"1.0"}`)
	cases := []struct {
		name    string
		body    []byte
		want    []string // resource ids
		skipped int
		refs    int
	}{
		{"snapshot file", configtest.Snapshot(file(lt, asg)...), []string{configtest.ApprovedLT, configtest.GroupARN(configtest.WebGroup)}, 0, 0},
		{"gzipped history file", configtest.Gzip(configtest.History(file(asg)...)), []string{configtest.GroupARN(configtest.WebGroup)}, 0, 0},
		{"get-resource-config-history output", configtest.APIHistory(api(lt, asg)...), []string{configtest.ApprovedLT, configtest.GroupARN(configtest.WebGroup)}, 0, 0},
		{"2014-era names", configtest.History(configtest.LegacyStyle(asg)), []string{configtest.GroupARN(configtest.WebGroup)}, 0, 0},
		{"change notification", notif, []string{configtest.GroupARN(configtest.WebGroup)}, 0, 0},
		{"rule invocation event", ruleEvent, []string{configtest.GroupARN(configtest.WebGroup)}, 0, 0},
		{"SNS notification", sns, []string{configtest.GroupARN(configtest.WebGroup)}, 0, 0},
		{"EventBridge event", eb, []string{configtest.GroupARN(configtest.WebGroup)}, 0, 0},
		{"oversized notification names its object", configtest.Oversized(configtest.FileStyle(asg), "cfg-bucket", "AWSLogs/x.json.gz"), nil, 0, 1},
		{"scheduled notification holds no item", scheduled, nil, 1, 0},
		{"JSON Lines of items and a bare array", []byte(string(mustJSON(t, configtest.APIStyle(lt))) + "\n" + string(mustJSON(t, []any{configtest.FileStyle(asg)}))), []string{configtest.ApprovedLT, configtest.GroupARN(configtest.WebGroup)}, 0, 0},
	}
	wantID := configitems.EventID("AWS::AutoScaling::AutoScalingGroup", configtest.GroupARN(configtest.WebGroup), time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := decode(t, c.body)
			if len(res.Problems) != 0 {
				t.Fatalf("problems: %v", res.Problems)
			}
			var got []string
			for _, it := range res.Items {
				got = append(got, it.Data.ResourceID)
				if it.Data.ResourceType == "AWS::AutoScaling::AutoScalingGroup" {
					if it.EventID != wantID {
						t.Errorf("eventid %s, want %s (the same item in every shape)", it.EventID, wantID)
					}
					if lc := get(it.Data.Configuration, "launchConfigurationName"); lc != "web-lc" {
						t.Errorf("configuration.launchConfigurationName = %q", lc)
					}
					if acct := ptr(it.Data.AccountID); acct != configtest.Account {
						t.Errorf("accountid = %q", acct)
					}
					if az := ptr(it.Data.AvailabilityZone); az != "Multiple Availability Zones" {
						t.Errorf("availabilityzone = %q", az)
					}
					if id := ptr(it.Data.ConfigurationItemStateID); id != "1" {
						t.Errorf("stateid = %q", id)
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("items %v, want %v", got, c.want)
			}
			if res.Skipped != c.skipped || len(res.Refs) != c.refs {
				t.Errorf("skipped %d refs %v, want %d and %d", res.Skipped, res.Refs, c.skipped, c.refs)
			}
			if c.refs == 1 && res.Refs[0] != "s3://cfg-bucket/AWSLogs/x.json.gz" {
				t.Errorf("ref %q", res.Refs[0])
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Bad items are reported with their number and line, and never cost the good ones.
func TestDecodeBadItemsAreReportedAndGoodOnesKept(t *testing.T) {
	body := `{"fileVersion":"1.0","configurationItems":[
{"resourceType":"AWS::EC2::Instance","resourceId":"i-1","configurationItemCaptureTime":"2026-01-01T00:00:00Z"},
{"resourceType":"AWS::EC2::Instance","configurationItemCaptureTime":"2026-01-01T00:00:00Z"},
{"resourceType":"AWS::EC2::Instance","resourceId":"i-3","configurationItemCaptureTime":"yesterday"},
{"resourceType":"AWS::EC2::Instance","resourceId":"i-4","configurationItemCaptureTime":"2026-01-01T00:00:00Z","configuration":"{not json"},
"a string",
{"resourceType":"AWS::EC2::Instance","resourceId":"i-6","configurationItemCaptureTime":1767225600.5}
]}`
	res := decode(t, []byte(body))
	var ids []string
	for _, it := range res.Items {
		ids = append(ids, it.Data.ResourceID+"@"+it.EventTime.Format(time.RFC3339Nano))
	}
	if got, want := strings.Join(ids, " "), "i-1@2026-01-01T00:00:00Z i-6@2026-01-01T00:00:00.5Z"; got != want {
		t.Errorf("items %q, want %q", got, want)
	}
	var probs []string
	for _, p := range res.Problems {
		probs = append(probs, p.String())
	}
	want := []string{
		"test.json: item 2 (line 3): configuration item of type AWS::EC2::Instance has no resourceId",
		`test.json: item 3 (line 4): configuration item AWS::EC2::Instance i-3: configurationItemCaptureTime: "yesterday" is not a time`,
		"test.json: item 4 (line 5): configuration item AWS::EC2::Instance i-4: configuration: a string that is not JSON",
		"test.json: item 5 (line 6): configuration item is not a JSON object: got a string",
	}
	if strings.Join(probs, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(probs, "\n"), strings.Join(want, "\n"))
	}
}

// JSON that breaks off keeps the items before the break and reports the file as cut short.
func TestDecodeTruncatedJSONKeepsEarlierValues(t *testing.T) {
	body := `{"resourceType":"AWS::EC2::Instance","resourceId":"i-1","configurationItemCaptureTime":"2026-01-01T00:00:00Z"}
{"resourceType":"AWS::EC2::Instance","resourceId":"i-2","configurationItemCaptureTime":"2026-01-01T00:00:00Z"}
{"resourceType":"AWS::EC2::Instance","resou`
	res, err := configitems.Decode(strings.NewReader(body), "cut.json")
	if err == nil {
		t.Fatal("want an error for JSON that breaks off")
	}
	if len(res.Items) != 2 || len(res.Problems) != 1 || res.Problems[0].Item != 3 {
		t.Errorf("got %d items, problems %v; want 2 items and a problem on item 3", len(res.Items), res.Problems)
	}
}

func TestParseKeyReadsConfigLayout(t *testing.T) {
	f := func(key string, wantOK bool, want configitems.KeyInfo) {
		t.Helper()
		got, ok := configitems.ParseKey(key)
		if ok != wantOK || got != want {
			t.Errorf("ParseKey(%q) = %+v, %v; want %+v, %v", key, got, ok, want, wantOK)
		}
	}
	day := func(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }
	f("AWSLogs/123456789012/Config/us-east-2/2016/9/27/ConfigHistory/123456789012_Config_us-east-2_ConfigHistory_AWS::CloudTrail::Trail_20160927T195818Z_20160927T195819Z_1.json.gz", true,
		configitems.KeyInfo{Account: "123456789012", Region: "us-east-2", Date: day(2016, 9, 27), Kind: "ConfigHistory",
			From: time.Date(2016, 9, 27, 19, 58, 18, 0, time.UTC), To: time.Date(2016, 9, 27, 19, 58, 19, 0, time.UTC)})
	f("prefix/AWSLogs/123456789012/Config/eu-west-1/2026/01/05/ConfigSnapshot/123456789012_Config_eu-west-1_ConfigSnapshot_20260105T000000Z_b0f1.json.gz", true,
		configitems.KeyInfo{Account: "123456789012", Region: "eu-west-1", Date: day(2026, 1, 5), Kind: "ConfigSnapshot"})
	f("AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/05/x.json.gz", false, configitems.KeyInfo{})
	f("AWSLogs/123456789012/Config/us-east-1/2026/13/5/ConfigHistory/x.json.gz", false, configitems.KeyInfo{})
	f("AWSLogs/123456789012/Config/ConfigWritabilityCheckFile", false, configitems.KeyInfo{})
}
