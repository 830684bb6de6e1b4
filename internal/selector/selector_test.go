package selector

import (
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

func s(v string) *string { return &v }

func rec(source, name string, readOnly bool, resTypes ...string) *cloudtrail.Record {
	r := &cloudtrail.Record{EventSource: s(source), EventName: s(name), ReadOnly: &readOnly, EventCategory: s("Management"),
		UserIdentity: &cloudtrail.UserIdentity{ARN: s("arn:aws:iam::111122223333:user/alice")}}
	for _, t := range resTypes {
		r.Resources = append(r.Resources, cloudtrail.Resource{Type: s(t), ARN: s("arn:aws:x:::" + t)})
	}
	return r
}

func TestSelectorsKeepWhatCloudTrailLakeKeeps(t *testing.T) {
	f := func(name, selJSON string, r *cloudtrail.Record, want bool) {
		t.Helper()
		sels, err := Parse([]byte(selJSON))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := Match(sels, r); got != want {
			t.Errorf("%s: Match = %v, want %v", name, got, want)
		}
	}
	noKMSDecrypt := `[{"Name":"mgmt without KMS decrypt","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"eventSource","NotEquals":["kms.amazonaws.com"]}]}]`
	f("KMS Decrypt is dropped", noKMSDecrypt, rec("kms.amazonaws.com", "Decrypt", true), false)
	f("EC2 RunInstances is kept", noKMSDecrypt, rec("ec2.amazonaws.com", "RunInstances", false), true)
	f("no selectors keep everything", `[]`, rec("kms.amazonaws.com", "Decrypt", true), true)
	f("write-only", `[{"FieldSelectors":[{"Field":"readOnly","Equals":["false"]}]}]`, rec("s3.amazonaws.com", "GetObject", true), false)
	f("StartsWith on eventName", `[{"FieldSelectors":[{"Field":"eventName","StartsWith":["Describe","List"]}]}]`, rec("ec2.amazonaws.com", "DescribeInstances", true), true)
	f("NotStartsWith drops", `[{"FieldSelectors":[{"Field":"eventName","NotStartsWith":["Describe","List","Get"]}]}]`, rec("ec2.amazonaws.com", "GetConsoleOutput", true), false)
	f("EndsWith", `[{"FieldSelectors":[{"Field":"eventSource","EndsWith":[".amazonaws.com"]},{"Field":"eventName","NotEndsWith":["Instances"]}]}]`, rec("ec2.amazonaws.com", "RunInstances", false), false)
	f("any selector suffices", `[{"FieldSelectors":[{"Field":"eventName","Equals":["Nope"]}]},{"FieldSelectors":[{"Field":"userIdentity.arn","StartsWith":["arn:aws:iam::111122223333:"]}]}]`, rec("ec2.amazonaws.com", "RunInstances", false), true)
	f("resources.type Equals matches any resource", `[{"FieldSelectors":[{"Field":"resources.type","Equals":["AWS::S3::Object"]}]}]`, rec("s3.amazonaws.com", "GetObject", true, "AWS::S3::Bucket", "AWS::S3::Object"), true)
	f("resources.type NotEquals fails if any resource is excluded", `[{"FieldSelectors":[{"Field":"resources.type","NotEquals":["AWS::S3::Object"]}]}]`, rec("s3.amazonaws.com", "GetObject", true, "AWS::S3::Bucket", "AWS::S3::Object"), false)
	f("Equals on an absent field fails", `[{"FieldSelectors":[{"Field":"errorCode","Equals":["AccessDenied"]}]}]`, rec("s3.amazonaws.com", "GetObject", true), false)
	f("NotEquals on an absent field holds", `[{"FieldSelectors":[{"Field":"errorCode","NotEquals":["AccessDenied"]}]}]`, rec("s3.amazonaws.com", "GetObject", true), true)
	f("field names are case-insensitive", `[{"FieldSelectors":[{"Field":"EVENTNAME","Equals":["GetObject"]}]}]`, rec("s3.amazonaws.com", "GetObject", true), true)
}

func TestInvalidSelectorsAreRefusedWithTheReason(t *testing.T) {
	for _, bad := range []string{
		`[{"FieldSelectors":[{"Field":"nope","Equals":["x"]}]}]`,
		`[{"FieldSelectors":[{"Field":"eventName"}]}]`,
		`[{"FieldSelectors":[]}]`,
		`[{"FieldSelectors":[{"Field":"eventName","Like":["x"]}]}]`,
		`[{"FieldSelectors":[{"Field":"eventName","Equals":["a"]}]},{"FieldSelectors":[{"Field":"eventName","Equals":["a"]}]},{"FieldSelectors":[{"Field":"eventName","Equals":["a"]}]},{"FieldSelectors":[{"Field":"eventName","Equals":["a"]}]},{"FieldSelectors":[{"Field":"eventName","Equals":["a"]}]},{"FieldSelectors":[{"Field":"eventName","Equals":["a"]}]}]`,
		`{"not":"a list"}`,
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%s) accepted invalid selectors", bad)
		}
	}
}
