package cloudtrail_test

import (
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

func TestParseKeyRecognisesTrailLayouts(t *testing.T) {
	day := func(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }
	at := func(y, m, d, h, mi, s int) time.Time { return time.Date(y, time.Month(m), d, h, mi, s, 0, time.UTC) }
	tests := []struct {
		name string
		key  string
		ok   bool
		want cloudtrail.KeyInfo
	}{
		{"account trail", "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz", true,
			cloudtrail.KeyInfo{Kind: cloudtrail.KindLog, Account: "111122223333", Region: "us-east-2", Date: day(2015, 8, 17), FileTime: at(2015, 8, 17, 14, 45, 0)}},
		{"bucket prefix", "my/prefix/AWSLogs/111122223333/CloudTrail/eu-west-1/2024/02/29/111122223333_CloudTrail_eu-west-1_20240229T2355Z_abcdefghijklmnop.json.gz", true,
			cloudtrail.KeyInfo{Kind: cloudtrail.KindLog, Prefix: "my/prefix/", Account: "111122223333", Region: "eu-west-1", Date: day(2024, 2, 29), FileTime: at(2024, 2, 29, 23, 55, 0)}},
		{"organization trail", "AWSLogs/o-exampleorgid/111122223333/CloudTrail/us-east-1/2026/03/17/111122223333_CloudTrail_us-east-1_20260317T0005Z_x.json.gz", true,
			cloudtrail.KeyInfo{Kind: cloudtrail.KindLog, OrgID: "o-exampleorgid", Account: "111122223333", Region: "us-east-1", Date: day(2026, 3, 17), FileTime: at(2026, 3, 17, 0, 5, 0)}},
		{"2023 doc name without underscore", "AWSLogs/111122223333/CloudTrail/us-west-2/2014/06/20/111122223333_CloudTrail_us-west-2_20140620T1255ZHdkvFTXOA3Vnhbc.json.gz", true,
			cloudtrail.KeyInfo{Kind: cloudtrail.KindLog, Account: "111122223333", Region: "us-west-2", Date: day(2014, 6, 20), FileTime: at(2014, 6, 20, 12, 55, 0)}},
		{"renamed file keeps the folder date", "AWSLogs/111122223333/CloudTrail/us-west-2/2014/06/20/copy.json", true,
			cloudtrail.KeyInfo{Kind: cloudtrail.KindLog, Account: "111122223333", Region: "us-west-2", Date: day(2014, 6, 20)}},
		{"insight", "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/01/02/111122223333_CloudTrail-Insight_us-east-1_20240102T0100Z_r.json.gz", true,
			cloudtrail.KeyInfo{Kind: cloudtrail.KindInsight, Account: "111122223333", Region: "us-east-1", Date: day(2024, 1, 2), FileTime: at(2024, 1, 2, 1, 0, 0)}},
		{"digest", "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz", true,
			cloudtrail.KeyInfo{Kind: cloudtrail.KindDigest, Account: "111122223333", Region: "us-east-2", Date: day(2015, 8, 17), FileTime: at(2015, 8, 17, 15, 1, 31)}},
		{"not a CloudTrail folder", "AWSLogs/111122223333/Config/us-east-1/2024/1/2/ConfigHistory/x.json.gz", false, cloudtrail.KeyInfo{}},
		{"short account", "AWSLogs/1111/CloudTrail/us-east-1/2024/01/02/x.json.gz", false, cloudtrail.KeyInfo{}},
		{"bad date", "AWSLogs/111122223333/CloudTrail/us-east-1/2024/02/30/x.json.gz", false, cloudtrail.KeyInfo{}},
		{"unpadded month", "AWSLogs/111122223333/CloudTrail/us-east-1/2024/2/03/x.json.gz", false, cloudtrail.KeyInfo{}},
		{"missing file", "AWSLogs/111122223333/CloudTrail/us-east-1/2024/02/03/", false, cloudtrail.KeyInfo{}},
		{"AWSLogs inside a word", "xAWSLogs/111122223333/CloudTrail/us-east-1/2024/02/03/f.json.gz", false, cloudtrail.KeyInfo{}},
		{"extra folder", "AWSLogs/111122223333/CloudTrail/us-east-1/2024/02/03/sub/f.json.gz", false, cloudtrail.KeyInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := cloudtrail.ParseKey(tt.key)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tt.ok, got)
			}
			if ok && got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestIsDigestKeyAndIsInsightKey(t *testing.T) {
	tests := []struct {
		key             string
		digest, insight bool
	}{
		{"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z.json.gz", true, false},
		{"p/AWSLogs/o-abc/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/d.json.gz", true, false},
		{"loose/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z.json.gz", true, false},
		{"AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/01/02/i.json.gz", false, true},
		{"AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/111122223333_CloudTrail_us-east-1_20240102T0100Z_r.json.gz", false, false},
		{"logs/trail.json", false, false},
	}
	for _, tt := range tests {
		if got := cloudtrail.IsDigestKey(tt.key); got != tt.digest {
			t.Errorf("IsDigestKey(%q) = %v, want %v", tt.key, got, tt.digest)
		}
		if got := cloudtrail.IsInsightKey(tt.key); got != tt.insight {
			t.Errorf("IsInsightKey(%q) = %v, want %v", tt.key, got, tt.insight)
		}
	}
}
