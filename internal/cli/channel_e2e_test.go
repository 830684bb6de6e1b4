package cli_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/cli"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/server"
)

const channelAccount = "111122223333"

// auditEventData returns an auditEventData payload as the JSON text a client sends.
func auditEventData(t *testing.T, uid, name, at, account string, extra map[string]any) string {
	t.Helper()
	d := map[string]any{
		"version":            "1.0",
		"userIdentity":       map[string]any{"type": "Employee", "principalId": "alice@example.com", "details": map[string]any{"team": "platform", "level": 3}},
		"userAgent":          "example-app/1.2",
		"eventSource":        "app.example.com",
		"eventName":          name,
		"eventTime":          at,
		"UID":                uid,
		"recipientAccountId": account,
	}
	for k, v := range extra {
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checksum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

type putResult struct {
	Successful []struct{ ID, EventID, Warning string }        `json:"successful"`
	Failed     []struct{ ID, ErrorCode, ErrorMessage string } `json:"failed"`
	Error      *struct{ Code, Message string }                `json:"error"`
}

func post(t *testing.T, u, token string, body []byte) (int, putResult) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r putResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("POST %s: status %d, body is not JSON: %q", u, resp.StatusCode, b)
	}
	return resp.StatusCode, r
}

func requestBody(t *testing.T, events ...map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"auditEvents": events})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// channelServer is an activity store "app-events" (created with edsFlags), a channel "my-app"
// on it, a token, and the API serving them.
type channelServer struct {
	dir, storeID, arn, token, base, putURL string
}

func startChannelServer(t *testing.T, edsFlags ...string) channelServer {
	t.Helper()
	dir := t.TempDir()
	out := mustRun(t, 0, dir, append([]string{"eds", "create", "app-events", "--type", "activity", "--output", "json"}, edsFlags...)...)
	var st struct{ ID string }
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("eds create printed %q: %v", out, err)
	}
	arn := strings.TrimSpace(mustRun(t, 0, dir, "channel", "create", "my-app", "--eds", "app-events", "--account", channelAccount))
	if !regexp.MustCompile(`^arn:aws:cloudtrail:us-east-1:` + channelAccount + `:channel/[0-9a-f-]{36}$`).MatchString(arn) {
		t.Fatalf("channel create printed %q, want a channel ARN", arn)
	}
	token := strings.TrimSpace(mustRun(t, 0, dir, "token", "create", "--channel", "my-app", "--name", "e2e"))
	if len(token) < 40 {
		t.Fatalf("token create printed %q", token)
	}

	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := serveInProcess(t, server.New(app.New(lk, app.Options{MaxQueries: 2}), slog.New(slog.DiscardHandler), server.Options{Access: access.Open(dir)}))
	return channelServer{dir: dir, storeID: st.ID, arn: arn, token: token, base: base,
		putURL: base + "/PutAuditEvents?channelArn=" + url.QueryEscape(arn)}
}

func TestPutAuditEventsEndToEndReportsEveryEntryRefusesBadCallsAndIsQueryableAtOnce(t *testing.T) {
	cs := startChannelServer(t)
	dir, arn, token, base, putURL := cs.dir, cs.arn, cs.token, cs.base, cs.putURL
	st := struct{ ID string }{cs.storeID}

	good1 := auditEventData(t, "u-1", "CreateUser", "2026-03-01T10:00:00Z", channelAccount, nil)
	good2 := auditEventData(t, "u-2", "DeleteUser", "2026-03-01T11:00:00", channelAccount, nil)
	good3 := auditEventData(t, "u-3", "UpdateRole", "2026-03-01T12:00:00Z", channelAccount, map[string]any{
		"requestParameters": map[string]any{"role": "admin", "scopes": []string{"read", "write"}},
		"sourceIPAddress":   "2001:db8::1",
	})
	batch := requestBody(t,
		map[string]string{"id": "ev-1", "eventData": good1, "eventDataChecksum": checksum(good1)},
		map[string]string{"id": "ev-2", "eventData": good2},
		map[string]string{"id": "ev-3", "eventData": good3, "eventDataChecksum": checksum(good3)},
		map[string]string{"id": "ev-badsum", "eventData": good1, "eventDataChecksum": checksum(good1 + " ")},
		map[string]string{"id": "bad id!", "eventData": good1},
		map[string]string{"id": "ev-noname", "eventData": auditEventData(t, "u-5", "", "2026-03-01T10:00:00Z", channelAccount, map[string]any{"eventName": nil})},
		map[string]string{"id": "ev-account", "eventData": auditEventData(t, "u-6", "CreateUser", "2026-03-01T10:00:00Z", "999999999999", nil)},
	)
	status, res := post(t, putURL, token, batch)
	if status != http.StatusOK {
		t.Fatalf("good batch: status %d, %+v", status, res.Error)
	}
	var gotOK []string
	eventIDs := map[string]string{}
	for _, s := range res.Successful {
		gotOK = append(gotOK, s.ID)
		if !uuidPattern.MatchString(s.EventID) {
			t.Errorf("event %s: eventID %q is not a UUID", s.ID, s.EventID)
		}
		eventIDs[s.ID] = s.EventID
	}
	if got, want := strings.Join(gotOK, ","), "ev-1,ev-2,ev-3"; got != want {
		t.Errorf("successful ids = %s, want %s", got, want)
	}
	var gotFail []string
	for _, f := range res.Failed {
		gotFail = append(gotFail, f.ID+"="+f.ErrorCode)
		if f.ErrorMessage == "" {
			t.Errorf("failed entry %s has no errorMessage", f.ID)
		}
	}
	if got, want := strings.Join(gotFail, ","), "ev-badsum=InvalidChecksum,bad id!=InvalidData,ev-noname=FieldNotFound,ev-account=InvalidRecipient"; got != want {
		t.Errorf("failed entries = %s\nwant %s", got, want)
	}

	// A retried call gets the same eventIDs and adds nothing.
	status, res = post(t, putURL, token, batch)
	if status != http.StatusOK || len(res.Successful) != 3 {
		t.Fatalf("retry: status %d, %+v", status, res)
	}
	for _, s := range res.Successful {
		if s.EventID != eventIDs[s.ID] {
			t.Errorf("retry: event %s got eventID %s, first call gave %s", s.ID, s.EventID, eventIDs[s.ID])
		}
	}

	// The second path, by channel name, on another day.
	good4 := auditEventData(t, "u-4", "Login", "2026-03-02T08:30:00Z", channelAccount, nil)
	status, res = post(t, base+"/api/channels/my-app/events", token, requestBody(t, map[string]string{"id": "ev-4", "eventData": good4, "eventDataChecksum": checksum(good4)}))
	if status != http.StatusOK || len(res.Successful) != 1 || len(res.Failed) != 0 {
		t.Fatalf("/api/channels/my-app/events: status %d, %+v", status, res)
	}

	// Calls refused as a whole: valid events, so any that slipped through would be counted below.
	var many []map[string]string
	for i := range 101 {
		d := auditEventData(t, fmt.Sprintf("m-%d", i), "Bulk", "2026-03-03T00:00:00Z", channelAccount, nil)
		many = append(many, map[string]string{"id": fmt.Sprintf("m-%d", i), "eventData": d})
	}
	pad := strings.Repeat("x", 11*1024)
	var big []map[string]string
	for i := range 100 {
		d := auditEventData(t, fmt.Sprintf("b-%d", i), "Big", "2026-03-03T00:00:00Z", channelAccount, map[string]any{"requestParameters": map[string]any{"pad": pad}})
		big = append(big, map[string]string{"id": fmt.Sprintf("b-%d", i), "eventData": d})
	}
	one := requestBody(t, map[string]string{"id": "ev-x", "eventData": auditEventData(t, "u-x", "X", "2026-03-03T00:00:00Z", channelAccount, nil)})
	unknownARN := "arn:aws:cloudtrail:us-east-1:" + channelAccount + ":channel/00000000-0000-4000-8000-000000000000"
	mustRun(t, 0, dir, "channel", "create", "other-app", "--eds", "app-events", "--account", channelAccount)
	otherToken := strings.TrimSpace(mustRun(t, 0, dir, "token", "create", "--channel", "other-app"))
	var admin access.Credentials
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "user", "create", "root-ish", "--admin", "--output", "json")), &admin); err != nil {
		t.Fatal(err)
	}
	adminToken := admin.AccessKeyID + ":" + admin.SecretAccessKey
	refused := []struct {
		name       string
		url, token string
		body       []byte
		wantStatus int
		wantCode   string
	}{
		{"101 events", putURL, token, requestBody(t, many...), http.StatusRequestEntityTooLarge, "too_many_events"},
		{"body over 1 MB", putURL, token, requestBody(t, big...), http.StatusRequestEntityTooLarge, "body_too_large"},
		{"wrong token", putURL, token + "x", one, http.StatusUnauthorized, "unauthorized"},
		{"no token", putURL, "", one, http.StatusUnauthorized, "unauthorized"},
		{"old alk_ token", putURL, "alk_" + strings.Repeat("x", 43), one, http.StatusUnauthorized, "unauthorized"},
		{"secret without key id", putURL, token[strings.Index(token, ":")+1:], one, http.StatusUnauthorized, "unauthorized"},
		// A key without a put grant on the channel named gets one 403, whether it exists or not.
		{"unknown channel", base + "/PutAuditEvents?channelArn=" + url.QueryEscape(unknownARN), token, one, http.StatusForbidden, "AccessDeniedException"},
		{"another channel's key", putURL, otherToken, one, http.StatusForbidden, "AccessDeniedException"},
		{"an admin's key, unknown channel", base + "/PutAuditEvents?channelArn=" + url.QueryEscape(unknownARN), adminToken, one, http.StatusNotFound, "ChannelNotFound"},
		{"duplicated id", putURL, token, requestBody(t, map[string]string{"id": "d", "eventData": good1}, map[string]string{"id": "d", "eventData": good2}), http.StatusBadRequest, "DuplicatedAuditEventId"},
	}
	if n := len(requestBody(t, big...)); n <= 1<<20 {
		t.Fatalf("oversize body is only %d bytes", n)
	}
	for _, c := range refused {
		status, res := post(t, c.url, c.token, c.body)
		if status != c.wantStatus || res.Error == nil || res.Error.Code != c.wantCode || res.Error.Message == "" {
			t.Errorf("%s: status %d, error %+v; want %d %s", c.name, status, res.Error, c.wantStatus, c.wantCode)
		}
		if len(res.Successful)+len(res.Failed) != 0 {
			t.Errorf("%s: a refused call reported entries: %+v", c.name, res)
		}
	}

	// Query the events back through the command line.
	rows := queryCSV(t, dir, `SELECT eventdata.eventname, metadata.channelarn, eventtime, eventcategory, eventtype, recipientaccountid,
		eventid, element_at(eventdata.requestparameters, 'scopes'), eventdata.useridentity.details['level'], eventdata.uid
		FROM "aws:cloudtrail"."`+st.ID+`" ORDER BY eventtime`)
	want := [][]string{
		{"CreateUser", arn, "2026-03-01 10:00:00", "ActivityAuditLog", "ActivityLog", channelAccount, eventIDs["ev-1"], "", "3", "u-1"},
		{"DeleteUser", arn, "2026-03-01 11:00:00", "ActivityAuditLog", "ActivityLog", channelAccount, eventIDs["ev-2"], "", "3", "u-2"},
		{"UpdateRole", arn, "2026-03-01 12:00:00", "ActivityAuditLog", "ActivityLog", channelAccount, eventIDs["ev-3"], `["read","write"]`, "3", "u-3"},
		{"Login", arn, "2026-03-02 08:30:00", "ActivityAuditLog", "ActivityLog", channelAccount, "", "", "3", "u-4"},
	}
	if len(rows) != len(want) {
		t.Fatalf("store holds %d events, want %d:\n%v", len(rows), len(want), rows)
	}
	for i := range want {
		if want[i][6] == "" {
			want[i][6] = rows[i][6]
		}
		if got := strings.Join(rows[i], "|"); got != strings.Join(want[i], "|") {
			t.Errorf("row %d:\n got %s\nwant %s", i, got, strings.Join(want[i], "|"))
		}
	}
	// eventjson is the wrapped event, as CloudTrail Lake stores it.
	ej := queryCSV(t, dir, `SELECT json_extract_scalar(eventjson, '$.metadata.channelARN'), json_extract_scalar(eventjson, '$.eventData.UID')
		FROM "aws:cloudtrail"."app-events" WHERE eventdata.eventname = 'UpdateRole'`)
	if len(ej) != 1 || ej[0][0] != arn || ej[0][1] != "u-3" {
		t.Errorf("eventjson of UpdateRole: %v", ej)
	}
}

func TestIngestEventsFromFileValidatesLikeTheEndpointAndIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 0, dir, "eds", "create", "file-events", "--type", "activity")
	arn := strings.TrimSpace(mustRun(t, 0, dir, "channel", "create", "batch", "--eds", "file-events", "--account", channelAccount))
	good1 := auditEventData(t, "f-1", "Export", "2026-04-01T09:00:00Z", channelAccount, nil)
	good2 := auditEventData(t, "f-2", "Import", "2026-04-01T09:05:00Z", channelAccount, nil)
	bare := auditEventData(t, "f-3", "Purge", "2026-04-02T00:00:00Z", channelAccount, nil)
	lines := []string{
		string(requestBody(t, map[string]string{"id": "a1", "eventData": good1, "eventDataChecksum": checksum(good1)},
			map[string]string{"id": "a2", "eventData": good1, "eventDataChecksum": checksum(good2)})),
		`{"id":"a3","eventData":` + strconv.Quote(good2) + `}`,
		bare,
		auditEventData(t, "f-4", "Other", "2026-04-02T00:00:00Z", "999999999999", nil),
	}
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, dir, "ingest", "events", "--channel", "batch", file)
	if code != cli.ExitPartial {
		t.Fatalf("exit %d, want %d (some rejected)\n%s\n%s", code, cli.ExitPartial, out, errOut)
	}
	if !strings.Contains(out, "5 read, 3 accepted (3 new, 0 already in the store), 2 rejected") {
		t.Errorf("summary: %s", out)
	}
	for _, want := range []string{`event "a2": InvalidChecksum`, `event "f-4": InvalidRecipient`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not list %s:\n%s", want, errOut)
		}
	}
	out, _, code = run(t, dir, "ingest", "events", "--channel", arn, file)
	if code != cli.ExitPartial || !strings.Contains(out, "3 accepted (0 new, 3 already in the store)") {
		t.Errorf("second ingest: exit %d, %s", code, out)
	}
	got := queryCSV(t, dir, `SELECT eventdata.eventname, eventdata.uid, metadata.channelarn FROM "aws:cloudtrail"."file-events" ORDER BY eventtime`)
	want := [][]string{{"Export", "f-1", arn}, {"Import", "f-2", arn}, {"Purge", "f-3", arn}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("store holds %v, want %v", got, want)
	}

	// --eds without a channel: no channel ARN, any account.
	mustRun(t, 0, dir, "eds", "create", "loose-events", "--type", "activity")
	other := filepath.Join(t.TempDir(), "other.jsonl")
	if err := os.WriteFile(other, []byte(lines[3]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, dir, "ingest", "events", "--eds", "loose-events", other)
	got = queryCSV(t, dir, `SELECT eventdata.uid, recipientaccountid, coalesce(metadata.channelarn, 'none') FROM "aws:cloudtrail"."loose-events"`)
	if fmt.Sprint(got) != fmt.Sprint([][]string{{"f-4", "999999999999", "none"}}) {
		t.Errorf("--eds store holds %v", got)
	}
	_, errOut, code = run(t, dir, "ingest", "events", "--channel", "nope", other)
	if code != cli.ExitFailure || !strings.Contains(errOut, "auditlake channel list") {
		t.Errorf("unknown channel: exit %d, %s", code, errOut)
	}
}

// A store a channel sends events to, or a source collects into, is not deleted — not even with
// --yes — until they are removed: the error names each and the command that removes it (a
// source left behind failed at every poll, a channel's calls failed).
func TestStoreDeleteIsRefusedWhileAChannelOrASourceWritesToIt(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 0, dir, "eds", "create", "app-events", "--type", "activity")
	mustRun(t, 0, dir, "channel", "create", "my-app", "--eds", "app-events", "--account", channelAccount)
	mustRun(t, 0, dir, "eds", "create", "trail")
	mustRun(t, 0, dir, "source", "add", "org", "--eds", "trail", "s3://trail/AWSLogs/", "--every", "1m", "--endpoint-url", "http://127.0.0.1:9")
	mustRun(t, 0, dir, "source", "add", "org2", "--eds", "trail", "s3://trail2/AWSLogs/", "--every", "1m", "--endpoint-url", "http://127.0.0.1:9")
	mustRun(t, 0, dir, "source", "add", "bill", "--type", "cur", "--table", "cur.cur_2026", "s3://billing/cur/", "--endpoint-url", "http://127.0.0.1:9")
	refused := func(store, want, fix string) {
		t.Helper()
		_, errOut, code := run(t, dir, "eds", "delete", store, "--yes")
		if code != cli.ExitFailure || !strings.Contains(errOut, want) || !strings.Contains(errOut, fix) || strings.Contains(errOut, "bill") {
			t.Fatalf("eds delete %s: exit %d\n%s\nwant exit %d saying %q and %q", store, code, errOut, cli.ExitFailure, want, fix)
		}
		mustRun(t, 0, dir, "eds", "show", store)
	}
	refused("app-events", "cannot delete store app-events: channel my-app sends events to it", "remove them first: auditlake channel delete my-app")
	refused("trail", "source org collects into it; source org2 collects into it", "auditlake source remove org; auditlake source remove org2")
	mustRun(t, 0, dir, "channel", "delete", "my-app")
	mustRun(t, 0, dir, "eds", "delete", "app-events", "--yes")
	mustRun(t, 0, dir, "source", "remove", "org")
	refused("trail", "source org2 collects into it", "auditlake source remove org2")
	mustRun(t, 0, dir, "source", "remove", "org2")
	mustRun(t, 0, dir, "eds", "delete", "trail", "--yes")
}
