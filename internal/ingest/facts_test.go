package ingest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
)

// factsEdgeCases are EC2 lifecycle events whose facts depend on details of the engine's JSON
// functions: escapes and non-ASCII text, numbers, repeated keys, JSON held in strings, JSON null,
// items of every shape, and values facts.sql gives NULL for (not JSON, unpaired surrogates).
const factsEdgeCases = `{"Records":[
{"eventTime":"2026-04-01T00:00:01Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventID":"f-1","recipientAccountId":"111111111111",
 "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","accountId":"999999999999","invokedBy":"autoscaling.amazonaws.com",
  "sessionContext":{"sourceIdentity":"alice","sessionIssuer":{"arn":"arn:aws:iam::1:role/r","userName":"r"}}},
 "userAgent":"aws-cli/2 \u00e9","sessionCredentialFromConsole":"true",
 "requestParameters":{"clientToken":"tok-1","launchTemplate":{"launchTemplateId":"lt-1","launchTemplateId":"lt-dup","version":7,"launchTemplateName":"n\u00e9\/x"}},
 "responseElements":{"instancesSet":{"items":[
  {"instanceId":"i-1","instanceLifecycle":"spot","tagSet":{"items":[{"key":"Name","value":"caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \n\t\u0001\u001f\u007f"},{"key":"aws:autoscaling:groupName","value":"g"}]}},
  {"instanceId":"i-2","tagSet":{"items":null}},
  {"instanceId":"i-3","tagSet":{"items":{"key":"one","value":"x"}}},
  null, "i-4", 5, {"instanceId":7}, {"instanceId":{"a":[1.50,1e2,1E-7,-0,12345678901234567890123,0.1,3.0e20,1e300,true,null]}}]}}},
{"eventTime":"2026-04-01T00:00:02Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventID":"f-2",
 "requestParameters":{"launchTemplate":"{\"launchTemplateId\":\"lt-in-a-string\",\"version\":\"$Latest\",}"},
 "responseElements":{"instancesSet":{"items":{"instanceId":"i-5"}}}},
{"eventTime":"2026-04-01T00:00:03Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventID":"f-3",
 "requestParameters":{"launchTemplate":"lt-plain-string"},"responseElements":{"instancesSet":{"items":[{"instanceId":"i-6","tagSet":{"items":[{"key":"k","value":"\ud800"}]}}]}}},
{"eventTime":"2026-04-01T00:00:04Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventID":"f-4","errorCode":"Client.DryRunOperation",
 "responseElements":{"instancesSet":{"items":[{"instanceId":"i-dry"}]}}},
{"eventTime":"2026-04-01T00:00:05Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventID":"f-5","responseElements":null},
{"eventTime":"2026-04-01T00:00:06Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventID":"f-6","responseElements":{}},
{"eventTime":"2026-04-01T00:00:07Z","eventSource":"ec2.amazonaws.com","eventName":"CreateFleet","eventID":"f-7","recipientAccountId":"111111111111",
 "requestParameters":{"CreateFleetRequest":{"LaunchTemplateConfigs":[{"LaunchTemplateSpecification":{"LaunchTemplateId":"lt-req0","Version":2}}]}},
 "responseElements":{"CreateFleetResponse":{"fleetId":"fleet-7","fleetInstanceSet":{"item":[
  {"instanceIds":{"item":["i-7a","i-7b",8,null]},"lifecycle":"spot","launchTemplateAndOverrides":{"launchTemplateSpecification":{"launchTemplateName":"from-item"}}},
  {"instanceIds":{"item":"i-7c"}},{"instanceIds":{"item":{"x":1}}},null]}}}},
{"eventTime":"2026-04-01T00:00:08Z","eventSource":"ec2.amazonaws.com","eventName":"CreateFleet","eventID":"f-8",
 "requestParameters":{"CreateFleetRequest":{"LaunchTemplateConfigs":{"LaunchTemplateSpecification":{"LaunchTemplateName":"obj","Version":"$Default"}}}},
 "responseElements":{"CreateFleetResponse":{"fleetId":88,"fleetInstanceSet":{"item":{"instanceIds":{"item":["i-8"]}}}}}},
{"eventTime":"2026-04-01T00:00:09Z","eventSource":"ec2.amazonaws.com","eventName":"CreateFleet","eventID":"f-9",
 "responseElements":{"CreateFleetResponse":"fleet-as-text"}},
{"eventTime":"2026-04-01T00:00:10Z","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","eventID":"f-10","userAgent":"autoscaling.amazonaws.com",
 "responseElements":{"instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}]}}},
{"eventTime":"2026-04-01T00:00:11Z","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","eventID":"f-11",
 "userIdentity":{"sessionContext":{"sessionIssuer":{"userName":"AWSServiceRoleForAutoScaling"}}},"responseElements":{"instancesSet":{"items":{"instanceId":"i-3"}}}},
{"eventTime":"2026-04-01T00:00:12Z","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","eventID":"f-12","userIdentity":{"invokedBy":"ec2.amazonaws.com"},
 "responseElements":{"instancesSet":{"items":[{"instanceId":"i-5"}]}}},
{"eventTime":"2026-04-01T00:00:13Z","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","eventID":"f-13","responseElements":{"instancesSet":"i-6"}},
{"eventTime":"2026-04-01T00:00:14Z","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","eventID":"f-14","responseElements":{"instancesSet":{"items":[{"instanceId":"i-7a"}]}}},
{"eventTime":"2026-04-01T00:00:15Z","eventSource":"ec2.amazonaws.com","eventName":"BidEvictedEvent","eventID":"f-15","recipientAccountId":"111111111111",
 "serviceEventDetails":{"instanceIdSet":["i-7b","i-8"]}},
{"eventTime":"2026-04-01T00:00:16Z","eventSource":"ec2.amazonaws.com","eventName":"BidEvictedEvent","eventID":"f-16","serviceEventDetails":{"instanceIdSet":[1,null,"a b"]}},
{"eventTime":"2026-04-01T00:00:17Z","eventSource":"ec2.amazonaws.com","eventName":"BidEvictedEvent","eventID":"f-17","serviceEventDetails":{"instanceIdSet":"i-9"}},
{"eventTime":"2026-04-01T00:00:18Z","eventSource":"ec2.amazonaws.com","eventName":"BidEvictedEvent","eventID":"f-18","serviceEventDetails":{"instanceIdSet":{"a":1}}},
{"eventTime":"2026-04-01T00:00:19Z","eventSource":"ec2.amazonaws.com","eventName":"BidEvictedEvent","eventID":"f-19","serviceEventDetails":{}},
{"eventTime":"2026-04-01T00:00:20Z","eventSource":"ec2.amazonaws.com","eventName":"CreateLaunchTemplate","eventID":"f-20","userIdentity":{"arn":"arn:aws:iam::1:user/u"},
 "responseElements":{"CreateLaunchTemplateResponse":{"launchTemplate":{"launchTemplateId":"lt-c","launchTemplateName":"c","latestVersionNumber":1,"defaultVersionNumber":1}}}},
{"eventTime":"2026-04-01T00:00:21Z","eventSource":"ec2.amazonaws.com","eventName":"CreateLaunchTemplateVersion","eventID":"f-21",
 "responseElements":{"CreateLaunchTemplateVersionResponse":{"launchTemplateVersion":{"launchTemplateId":"lt-c","versionNumber":2,"defaultVersion":true}}}},
{"eventTime":"2026-04-01T00:00:22Z","eventSource":"ec2.amazonaws.com","eventName":"CreateLaunchTemplateVersion","eventID":"f-22",
 "responseElements":{"CreateLaunchTemplateVersionResponse":{"launchTemplateVersion":{"launchTemplateName":"c","versionNumber":3.0,"defaultVersion":false}}}},
{"eventTime":"2026-04-01T00:00:23Z","eventSource":"ec2.amazonaws.com","eventName":"ModifyLaunchTemplate","eventID":"f-23",
 "requestParameters":{"ModifyLaunchTemplateRequest":{"LaunchTemplateId":"lt-c","SetDefaultVersion":"3"}},
 "responseElements":{"ModifyLaunchTemplateResponse":{"launchTemplate":{"launchTemplateId":"lt-c","defaultVersionNumber":3}}}},
{"eventTime":"2026-04-01T00:00:24Z","eventSource":"ec2.amazonaws.com","eventName":"ModifyLaunchTemplate","eventID":"f-24",
 "requestParameters":{"ModifyLaunchTemplateRequest":"text"},"responseElements":{"launchTemplate":{"launchTemplateId":"lt-d","latestVersionNumber":4}}},
{"eventTime":"2026-04-01T00:00:25Z","eventSource":"ec2.amazonaws.com","eventName":"CreateLaunchTemplate","eventID":"f-25","responseElements":{"CreateLaunchTemplateResponse":"lt-x"}},
{"eventTime":"2026-04-01T00:00:26Z","eventSource":"s3.amazonaws.com","eventName":"RunInstances","eventID":"f-26","responseElements":{"instancesSet":{"items":[{"instanceId":"i-not-ec2"}]}}}
]}`

// TestFactsFromGoMatchTheQuery holds the EC2 lifecycle facts ingest writes from the records in
// hand (lifecycle.Of, a Parquet file per data file) equal to facts.sql run by the engine over
// the data file: same column types, the same rows. The records are every real sample in
// testdata, a generated organization, and factsEdgeCases.
func TestFactsFromGoMatchTheQuery(t *testing.T) {
	ctx := context.Background()
	recs := referenceRecords(t)
	n := len(recs)
	cloudtrail.Decode(strings.NewReader(factsEdgeCases), "facts-edge-cases.json", cloudtrail.DecodeOptions{}, func(r *cloudtrail.Record) error {
		recs = append(recs, r)
		return nil
	})
	if len(recs)-n != 26 {
		t.Fatalf("facts edge cases: %d records decoded, want 26", len(recs)-n)
	}
	lk, st, w, db := newWriter(t)
	files, _, err := lake.WriteRecords(ctx, db, w, lake.NewBatch(slices.Clone(recs)))
	if err != nil {
		t.Fatal(err)
	}
	total, withFacts := 0, 0
	for _, f := range files {
		want := "(" + lifecycle.SQL("read_parquet("+engine.Literal(lk.AbsPath(st.ID, f.Path))+", hive_partitioning = false)") + ")"
		var wantRows int
		if err := db.QueryRow(ctx, "SELECT count(*) FROM "+want).Scan(&wantRows); err != nil {
			t.Fatal(err)
		}
		if f.FactsVersion != lifecycle.Version {
			t.Fatalf("%s: facts version %d", f.Path, f.FactsVersion)
		}
		if f.Facts == "" {
			if wantRows > 0 {
				t.Errorf("%s: no facts file, want %d rows", f.Path, wantRows)
			}
			continue
		}
		withFacts++
		got := "read_parquet(" + engine.Literal(lk.AbsPath(st.ID, f.Facts)) + ", hive_partitioning = false)"
		if g, w := describe(t, db, got), describe(t, db, want); g != w {
			t.Fatalf("column types differ:\n got %s\nwant %s", g, w)
		}
		g, wr := sortedRows(t, db, got), sortedRows(t, db, want)
		if !slices.Equal(g, wr) {
			for _, r := range g {
				if !slices.Contains(wr, r) {
					t.Errorf("%s: fact from Go not given by the query:\n%s", f.Path, r)
				}
			}
			for _, r := range wr {
				if !slices.Contains(g, r) {
					t.Errorf("%s: fact from the query not given by Go:\n%s", f.Path, r)
				}
			}
			t.Fatalf("%s: %d facts from Go, %d from the query", f.Path, len(g), len(wr))
		}
		total += len(g)
	}
	if withFacts < 2 || total < 100 {
		t.Fatalf("only %d facts in %d files: the comparison proves little", total, withFacts)
	}
	t.Logf("%d facts in %d files agree", total, withFacts)
}

// sortedRows is every row of rel as JSON text, sorted.
func sortedRows(t *testing.T, db *engine.DB, rel string) []string {
	t.Helper()
	out := firstColumn(t, db, "SELECT to_json(x)::VARCHAR FROM "+rel+" AS x")
	slices.Sort(out)
	return out
}
