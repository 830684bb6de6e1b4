package cli_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cli"
)

// Issue 14, items 6, 7 and 10: hostile input through PutAuditEvents and trail files.

// TestPutAuditEventsWithALoneSurrogateStoresValidJSONWithAWarning: an event whose eventData
// holds \ud800 (inside its JSON text, in a column and in a map value) or whose eventData string
// itself holds one is accepted with a warning, stored with U+FFFD, and json_extract_scalar over
// the whole store works — before, every such query failed ("no low surrogate").
func TestPutAuditEventsWithALoneSurrogateStoresValidJSONWithAWarning(t *testing.T) {
	cs := startChannelServer(t)
	inner := strings.NewReplacer("NAME-MARK", `X\ud800`, "MAP-MARK", `\udc00`).Replace(
		auditEventData(t, "u-1", "NAME-MARK", "2026-03-01T10:00:00Z", channelAccount, map[string]any{"requestParameters": map[string]any{"k": []string{"MAP-MARK"}}}))
	plain := auditEventData(t, "u-2", "Plain", "2026-03-01T11:00:00Z", channelAccount, nil)
	outer := auditEventData(t, "u-3", "OUTER-MARK", "2026-03-01T12:00:00Z", channelAccount, nil)
	// In the request body the eventData string is JSON text inside a JSON string: the first
	// event's escape reaches the stored text; the third's is an escape of the outer string.
	body := strings.Replace(string(requestBody(t,
		map[string]string{"id": "ev-inner", "eventData": inner},
		map[string]string{"id": "ev-plain", "eventData": plain},
		map[string]string{"id": "ev-outer", "eventData": outer},
	)), "OUTER-MARK", `Y\ud800`, 1)
	status, res := post(t, cs.putURL, cs.token, []byte(body))
	if status != http.StatusOK || len(res.Successful) != 3 || len(res.Failed) != 0 {
		t.Fatalf("status %d, %+v; want 3 successful", status, res)
	}
	for _, s := range res.Successful {
		if want := s.ID != "ev-plain"; want != strings.Contains(s.Warning, "U+FFFD") {
			t.Errorf("event %s: warning %q", s.ID, s.Warning)
		}
	}
	rows := queryCSV(t, cs.dir, `SELECT json_extract_scalar(eventjson, '$.eventData.eventName'), eventdata.eventname,
		json_extract_scalar(element_at(eventdata.requestparameters, 'k'), '$[0]'), json_extract_scalar(eventjson, '$.eventData.requestParameters.k[0]')
		FROM "aws:cloudtrail"."`+cs.storeID+`" ORDER BY eventtime`)
	want := [][]string{{"X\uFFFD", "X\uFFFD", "\uFFFD", "\uFFFD"}, {"Plain", "Plain", "", ""}, {"Y\uFFFD", "Y\uFFFD", "", ""}}
	if len(rows) != len(want) {
		t.Fatalf("rows %q, want %q", rows, want)
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d = %q, want %q", i, rows[i], want[i])
		}
	}
}

// TestPutAuditEventsRefusesDuplicateKeysNamingThem: recipientAccountId given twice passed
// validation with one value while eventjson carried the other. Now such an event (and one with
// a key twice in userIdentity or in a map) fails alone, InvalidData naming the key.
func TestPutAuditEventsRefusesDuplicateKeysNamingThem(t *testing.T) {
	cs := startChannelServer(t)
	good := auditEventData(t, "u-1", "Login", "2026-03-01T10:00:00Z", channelAccount, map[string]any{"requestParameters": map[string]any{"a": 1}})
	dup := func(old, new string) string { return strings.Replace(good, old, new, 1) }
	status, res := post(t, cs.putURL, cs.token, requestBody(t,
		map[string]string{"id": "ev-good", "eventData": good},
		map[string]string{"id": "ev-account", "eventData": strings.TrimSuffix(good, "}") + `,"recipientAccountId":"444455556666"}`},
		map[string]string{"id": "ev-identity", "eventData": dup(`"type":"Employee"`, `"type":"Employee","type":"Admin"`)},
		map[string]string{"id": "ev-details", "eventData": dup(`"level":3`, `"level":3,"level":9`)},
		map[string]string{"id": "ev-map", "eventData": dup(`"a":1`, `"a":1,"a":2`)},
	))
	if status != http.StatusOK || len(res.Successful) != 1 || res.Successful[0].ID != "ev-good" {
		t.Fatalf("status %d, %+v; want ev-good alone successful", status, res)
	}
	want := map[string]string{"ev-account": `"recipientAccountId" twice`, "ev-identity": `"userIdentity.type" twice`,
		"ev-details": `"userIdentity.details.level" twice`, "ev-map": `"requestParameters.a" twice`}
	for _, f := range res.Failed {
		if f.ErrorCode != "InvalidData" || !strings.Contains(f.ErrorMessage, want[f.ID]) {
			t.Errorf("failed %+v; want InvalidData naming %s", f, want[f.ID])
		}
		delete(want, f.ID)
	}
	if len(want) != 0 {
		t.Errorf("not refused: %v", want)
	}
	if got := queryCSV(t, cs.dir, `SELECT count(*) FROM "aws:cloudtrail"."`+cs.storeID+`"`)[0][0]; got != "1" {
		t.Errorf("store holds %s events, want 1", got)
	}
}

// TestEventsOutsideTheRetentionAreRefusedByPutAuditEventsAndIngestEvents: an event 10 years old
// sent to a store that keeps 7 days was answered successful, then purged at the next start. Now
// it fails (InvalidData saying so) through the endpoint and through ingest events --channel
// (exit 3), and the recent event beside it is kept.
func TestEventsOutsideTheRetentionAreRefusedByPutAuditEventsAndIngestEvents(t *testing.T) {
	cs := startChannelServer(t, "--retention-days", "7")
	now := time.Now().UTC()
	old := auditEventData(t, "u-old", "Old", now.AddDate(-10, 0, 0).Format("2006-01-02T15:04:05Z"), channelAccount, nil)
	recent := auditEventData(t, "u-new", "Recent", now.Add(-time.Hour).Format("2006-01-02T15:04:05Z"), channelAccount, nil)
	status, res := post(t, cs.putURL, cs.token, requestBody(t,
		map[string]string{"id": "ev-old", "eventData": old}, map[string]string{"id": "ev-new", "eventData": recent}))
	if status != http.StatusOK || len(res.Successful) != 1 || res.Successful[0].ID != "ev-new" || len(res.Failed) != 1 {
		t.Fatalf("status %d, %+v; want ev-new successful and ev-old failed", status, res)
	}
	if f := res.Failed[0]; f.ID != "ev-old" || f.ErrorCode != "InvalidData" || !strings.Contains(f.ErrorMessage, "outside the retention") {
		t.Errorf("failed entry %+v", f)
	}

	file := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(file, requestBody(t, map[string]string{"id": "ev-old-2", "eventData": old}), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, cs.dir, "ingest", "events", "--channel", "my-app", file)
	if code != cli.ExitPartial || !strings.Contains(errOut, `event "ev-old-2": InvalidData: eventTime`) || !strings.Contains(out, "0 accepted") {
		t.Errorf("ingest events: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := queryCSV(t, cs.dir, `SELECT eventdata.eventname FROM "aws:cloudtrail"."`+cs.storeID+`"`); len(got) != 1 || got[0][0] != "Recent" {
		t.Errorf("store holds %v, want the recent event only", got)
	}
}

// TestTrailFileWithALoneSurrogateAndADuplicateEventIDKeepsTheOthersAndStaysQueryable: a trail
// file whose records hold \ud800 (kept as U+FFFD, with a warning) and a duplicate eventID (the
// record refused, naming the key) is ingested with exit 3 and the other records kept; then
// json_extract_scalar over the store's eventjson works.
func TestTrailFileWithALoneSurrogateAndADuplicateEventIDKeepsTheOthersAndStaysQueryable(t *testing.T) {
	dir := t.TempDir()
	id := createStore(t, dir, "trail")
	src := t.TempDir()
	rec := func(id, name, more string) string {
		return `{"eventVersion":"1.08","eventTime":"2026-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"` + name +
			`","eventID":"` + id + `","recipientAccountId":"111122223333","requestParameters":{"userName":"` + name + `"}` + more + `}`
	}
	trail := `{"Records":[` + strings.Join([]string{
		rec("e-1", "CreateUser", ""),
		rec("e-2", `Create\ud800User`, ""),
		rec("e-3", "DeleteUser", `,"eventID":"e-other"`),
		rec("e-4", "GetUser", `,"userIdentity":{"arn":"a","arn":"b"}`),
		rec("e-5", "ListUsers", `,"responseElements":{"x":"first","x":"second"}`),
	}, ",") + `]}`
	if err := os.WriteFile(filepath.Join(src, "trail.json"), []byte(trail), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, dir, "ingest", "cloudtrail", "--eds", "trail", src)
	if code != cli.ExitPartial {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, cli.ExitPartial, out, errOut)
	}
	for _, want := range []string{"record 2 (line 1): warning: 2 lone UTF-16 surrogate", `record 3 (line 1): key "eventID" appears twice`, `record 4 (line 1): key "userIdentity.arn" appears twice`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("no %q in:\n%s", want, errOut)
		}
	}
	// A map key given twice keeps its first value in the map column, as the JSON functions read it.
	rows := queryCSV(t, dir, `SELECT eventid, json_extract_scalar(eventjson, '$.eventName'), json_extract_scalar(eventjson, '$.requestParameters.userName'), element_at(requestparameters, 'userName'),
		json_extract_scalar(eventjson, '$.responseElements.x'), element_at(responseelements, 'x')
		FROM "aws:cloudtrail"."`+id+`" ORDER BY eventid`)
	want := "e-1|CreateUser|CreateUser|CreateUser||\ne-2|Create\uFFFDUser|Create\uFFFDUser|Create\uFFFDUser||\ne-5|ListUsers|ListUsers|ListUsers|first|first"
	var got []string
	for _, r := range rows {
		got = append(got, strings.Join(r, "|"))
	}
	if strings.Join(got, "\n") != want {
		t.Errorf("store holds\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
}

// TestConfigItemsWithLoneSurrogatesOrBadUTF8AreStoredAsReplacementCharsWithAWarning: Config
// stores had the same flaw as CloudTrail stores — one item with \ud800 made every
// json_extract_scalar over the store's eventjson fail. Such items (a lone surrogate, invalid
// UTF-8, a lone surrogate inside a configuration sent as a JSON string) are kept with a warning
// and U+FFFD, and the ingest exits 0.
func TestConfigItemsWithLoneSurrogatesOrBadUTF8AreStoredAsReplacementCharsWithAWarning(t *testing.T) {
	dir := t.TempDir()
	createConfigStore(t, dir, "cfg")
	src := t.TempDir()
	item := func(id, name, conf string) string {
		return `{"configurationItemVersion":"1.3","configurationItemCaptureTime":"2026-03-01T10:00:00.000Z","configurationItemStatus":"OK",` +
			`"configurationStateId":"1","awsAccountId":"111122223333","resourceType":"AWS::EC2::Instance","resourceId":"` + id +
			`","resourceName":"` + name + `","awsRegion":"us-east-1","configuration":` + conf + `,"tags":{},"relationships":[]}`
	}
	snapshot := `{"fileVersion":"1.0","configSnapshotId":"s","configurationItems":[` + strings.Join([]string{
		item("i-1", "ok", `{"k":"ok"}`),
		item("i-2", `a\ud800`, `{"k":"\udc00"}`),
		item("i-3", "b\xff", `{"k":"ok"}`),
		item("i-4", "c", `"{\"k\":\"c\\ud800\"}"`),
	}, ",") + `]}`
	if err := os.WriteFile(filepath.Join(src, "snapshot.json"), []byte(snapshot), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, dir, "ingest", "config", "--eds", "cfg", src)
	if code != 0 || !strings.Contains(out, "4 added") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"record 2 (line 1): warning: 2 invalid characters", "record 3 (line 1): warning: 1 invalid characters", "record 4 (line 1): warning: 1 invalid characters"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("no %q in:\n%s", want, errOut)
		}
	}
	rows := queryCSV(t, dir, `SELECT eventdata.resourceid, json_extract_scalar(eventjson, '$.eventData.resourceName'),
		json_extract_scalar(eventjson, '$.eventData.configuration.k'), element_at(eventdata.configuration, 'k')
		FROM "aws:cloudtrail"."cfg" ORDER BY 1`)
	var got []string
	for _, r := range rows {
		got = append(got, strings.Join(r, "|"))
	}
	want := "i-1|ok|ok|ok\ni-2|a\uFFFD|\uFFFD|\uFFFD\ni-3|b\uFFFD|ok|ok\ni-4|c|c\uFFFD|c\uFFFD"
	if strings.Join(got, "\n") != want {
		t.Errorf("store holds\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
}
