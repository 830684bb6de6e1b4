package compliance_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// TestOddEC2EventsNeitherFailAnIngestNorAReport ingests EC2 lifecycle events whose parameters
// have shapes the facts query does not expect — a string where an object is expected (the Lake
// keeps it unquoted, so it is not JSON), one item where a list is expected, numbers, nulls,
// empty objects — among ordinary events. Before, one such event made the EC2 lifecycle facts
// query fail and with it the whole batch: nothing was stored, and every later run failed on
// the same file. Now every event is stored, an item given as one object counts as one
// instance, and the report runs, from stored facts and from facts computed from the events.
func TestOddEC2EventsNeitherFailAnIngestNorAReport(t *testing.T) {
	ctx := context.Background()
	n := 0
	ev := func(name, params, response, extra string) string {
		n++
		s := fmt.Sprintf(`{"eventVersion":"1.08","eventTime":"2026-03-04T05:06:%02dZ","eventSource":"ec2.amazonaws.com","eventName":%q,"awsRegion":"us-east-1","eventID":"odd-%02d","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u"}`, n, name, n)
		if params != "" {
			s += `,"requestParameters":` + params
		}
		if response != "" {
			s += `,"responseElements":` + response
		}
		return s + extra + "}"
	}
	events := []string{
		ev("RunInstances", `{"launchTemplate":"lt-0aaaaaaaaaaaaaaaa"}`, `{"instancesSet":{"items":[{"instanceId":"i-0000000000000001"}]}}`, ""),
		ev("RunInstances", `{"launchTemplate":{"launchTemplateId":"lt-0bbbbbbbbbbbbbbbb","version":7}}`, `{"instancesSet":{"items":{"instanceId":"i-0000000000000002"}}}`, ""),
		ev("RunInstances", `{"launchTemplate":null}`, `{"instancesSet":"i-0000000000000003"}`, ""),
		ev("RunInstances", `{}`, `{"instancesSet":{"items":["i-0000000000000004",7,null]}}`, ""),
		ev("RunInstances", `{"launchTemplate":[1,2]}`, `{"instancesSet":{}}`, ""),
		ev("CreateFleet", `{"CreateFleetRequest":"x"}`, `{"CreateFleetResponse":"fleet-1"}`, ""),
		ev("CreateFleet", `{"CreateFleetRequest":{"LaunchTemplateConfigs":"x"}}`, `{"CreateFleetResponse":{"fleetId":"fleet-2","fleetInstanceSet":{"item":{"instanceIds":{"item":["i-0000000000000005",{"a":1}]}}}}}`, ""),
		ev("CreateFleet", `{"CreateFleetRequest":{}}`, `{"CreateFleetResponse":{"fleetId":"fleet-3","fleetInstanceSet":{"item":"i-1"}}}`, ""),
		ev("TerminateInstances", `{}`, `{"instancesSet":"i-0000000000000001"}`, ""),
		ev("TerminateInstances", `{}`, `{"instancesSet":{"items":{"instanceId":"i-0000000000000002"}}}`, ""),
		ev("BidEvictedEvent", "", "", `,"serviceEventDetails":{"instanceIdSet":"i-0000000000000004"}`),
		ev("BidEvictedEvent", "", "", `,"serviceEventDetails":{"instanceIdSet":{"a":1}}`),
		ev("CreateLaunchTemplate", `{}`, `{"CreateLaunchTemplateResponse":"lt-x"}`, ""),
		ev("CreateLaunchTemplateVersion", `{}`, `{"CreateLaunchTemplateVersionResponse":{"launchTemplateVersion":"v"}}`, ""),
		ev("ModifyLaunchTemplate", `{"ModifyLaunchTemplateRequest":"x"}`, `{"launchTemplate":"lt-y"}`, ""),
		ev("DescribeInstances", `{"filterSet":{}}`, ``, ""),
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "odd.json")
	if err := os.WriteFile(src, []byte(`{"Records":[`+strings.Join(events, ",")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	lk, err := lake.Open(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("odd-trail", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{src}})
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if sum.EventsAdded != int64(len(events)) {
		t.Fatalf("%d events added, want %d", sum.EventsAdded, len(events))
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Items that are not objects (RunInstances) or not strings (CreateFleet) are no instances.
	want := "i-0000000000000001 i-0000000000000002 i-0000000000000005"
	rep, err := compliance.LaunchCompliance(ctx, s, compliance.Params{Store: st.ID})
	if err != nil {
		t.Fatalf("report from stored facts: %v", err)
	}
	if got := instanceIDs(rep); got != want {
		t.Errorf("report from stored facts: instances %q, want %q", got, want)
	}
	// The same from the events, as for a store written before facts were kept.
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) == 0 || m.Files[0].FactsVersion == 0 {
		t.Fatalf("no stored facts: %+v", m.Files)
	}
	stripFacts(t, lk, st.ID)
	s2, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, stored := s2.Facts(st.ID); stored {
		t.Fatal("facts still stored after stripping them")
	}
	rep, err = compliance.LaunchCompliance(ctx, s2, compliance.Params{Store: st.ID})
	if err != nil {
		t.Fatalf("report from the events: %v", err)
	}
	if got := instanceIDs(rep); got != want {
		t.Errorf("report from the events: instances %q, want %q", got, want)
	}
}

func instanceIDs(r *compliance.Report) string {
	var ids []string
	for _, row := range r.Rows {
		ids = append(ids, row.InstanceID)
	}
	sort.Strings(ids)
	return strings.Join(ids, " ")
}
