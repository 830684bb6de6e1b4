package integrity

import (
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/objstore"
)

func TestParseEntriesAcceptTrailLayouts(t *testing.T) {
	cases := []struct {
		name, key                string
		digest                   bool
		wantLayoutFrom, wantTime string
		wantScope, wantChain     string
	}{
		{
			name:   "digest from the aws documentation example",
			key:    "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz",
			digest: true, wantLayoutFrom: "AWSLogs/", wantTime: "2015-08-17T15:01:31Z",
			wantScope: "AWSLogs/111122223333/us-east-2", wantChain: "AWSLogs/111122223333/us-east-2 your-trail-name us-east-2",
		},
		{
			name:   "organization trail digest, trail name with underscores, under a prefix",
			key:    "logs/AWSLogs/o-exampleorgid/111122223333/CloudTrail-Digest/eu-west-1/2026/03/01/111122223333_CloudTrail-Digest_eu-west-1_org_trail_1_us-east-1_20260301T000512Z.json.gz",
			digest: true, wantLayoutFrom: "AWSLogs/", wantTime: "2026-03-01T00:05:12Z",
			wantScope: "logs/AWSLogs/o-exampleorgid/111122223333/eu-west-1", wantChain: "logs/AWSLogs/o-exampleorgid/111122223333/eu-west-1 org_trail_1 us-east-1",
		},
		{
			name:           "log file with underscore before the random part",
			key:            "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz",
			wantLayoutFrom: "AWSLogs/", wantTime: "2015-08-17T14:45:00Z", wantScope: "AWSLogs/111122223333/us-east-2",
		},
		{
			name:           "log file without underscore before the random part, in a local copy",
			key:            "/data/copy/AWSLogs/111122223333/CloudTrail/us-west-2/2014/06/20/111122223333_CloudTrail_us-west-2_20140620T1255ZHdkvFTXOA3Vnhbc.json.gz",
			wantLayoutFrom: "AWSLogs/", wantTime: "2014-06-20T12:55:00Z", wantScope: "/data/copy/AWSLogs/111122223333/us-west-2",
		},
		{
			name:           "prefix that itself contains AWSLogs",
			key:            "x/AWSLogs/backup/AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/02/111122223333_CloudTrail_us-east-1_20260102T0310Z_abcdEFGH12345678.json.gz",
			wantLayoutFrom: "AWSLogs/111122223333/", wantTime: "2026-01-02T03:10:00Z", wantScope: "x/AWSLogs/backup/AWSLogs/111122223333/us-east-1",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parse := parseLogEntry
			if tc.digest {
				parse = parseDigestEntry
			}
			e, ok := parse(objstore.Object{URI: tc.key, Key: tc.key})
			if !ok {
				t.Fatalf("not recognised")
			}
			if got := e.time.Format(time.RFC3339); got != tc.wantTime {
				t.Errorf("time %s, want %s", got, tc.wantTime)
			}
			if e.scope != tc.wantScope {
				t.Errorf("scope %q, want %q", e.scope, tc.wantScope)
			}
			if e.chain != tc.wantChain {
				t.Errorf("chain %q, want %q", e.chain, tc.wantChain)
			}
			if e.base+e.layout != tc.key || e.layout[:len(tc.wantLayoutFrom)] != tc.wantLayoutFrom {
				t.Errorf("base %q layout %q do not split the key at %q", e.base, e.layout, tc.wantLayoutFrom)
			}
			if got := layoutOf(tc.key); got != e.layout {
				t.Errorf("layoutOf = %q, want %q", got, e.layout)
			}
			// The other kind must not claim the key.
			other := parseDigestEntry
			if tc.digest {
				other = parseLogEntry
			}
			if _, ok := other(objstore.Object{Key: tc.key}); ok {
				t.Errorf("recognised as both a log file and a digest")
			}
		})
	}
}

func TestParseEntriesRejectOtherObjects(t *testing.T) {
	for _, key := range []string{
		"AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/02/111122223333_CloudTrail_us-east-1_20260102T0310Z_abc.json",
		"AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/01/02/111122223333_CloudTrail-Insight_us-east-1_20260102T0310Z_abc.json.gz",
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/02/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20260102T031000Z.json.gz" + SidecarSuffix,
		"AWSLogs/111122223333/Config/us-east-1/2026/1/2/ConfigHistory/x.json.gz",
	} {
		if _, ok := parseLogEntry(objstore.Object{Key: key}); ok {
			t.Errorf("parseLogEntry accepted %s", key)
		}
		if _, ok := parseDigestEntry(objstore.Object{Key: key}); ok {
			t.Errorf("parseDigestEntry accepted %s", key)
		}
	}
}
