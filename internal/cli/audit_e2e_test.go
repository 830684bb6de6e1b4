package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/engine"
)

// auditRows returns eventname, principal, as, queryStatement, tablesRead, rowsReturned and
// errorcode of every audit event, oldest first.
func auditRows(t *testing.T, dir string) [][]string {
	t.Helper()
	return queryCSV(t, dir, `SELECT eventname, useridentity.principalid, coalesce(requestparameters['as'], ''),
		coalesce(requestparameters['queryStatement'], ''), coalesce(responseelements['tablesRead'], ''),
		coalesce(responseelements['rowsReturned'], ''), coalesce(errorcode, '')
		FROM "aws:cloudtrail"."auditlake-audit" WHERE NOT (eventname = 'StartQuery' AND requestparameters['queryStatement'] LIKE '%auditlake-audit%')
		ORDER BY eventtime`)
}

// TestAuditLogRecordsQueriesAndAdministrativeChanges: every administrative command and every
// query (with its principal, the principal it ran as, the tables it read, its row count and its
// outcome) is an event of the built-in store auditlake-audit, queried like any store.
func TestAuditLogRecordsQueriesAndAdministrativeChanges(t *testing.T) {
	dir := t.TempDir()
	id := createStore(t, dir, "trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
	mustRun(t, 0, dir, "user", "create", "bob")
	mustRun(t, 0, dir, "grant", "select", "--on", "store:trail", "--to", "bob", "--row-filter", "eventsource = 'ec2.amazonaws.com'")
	mustRun(t, 0, dir, "query", "--as", "bob", `SELECT count(*) FROM "aws:cloudtrail"."`+id+`"`)
	mustRun(t, 1, dir, "query", `SELECT nosuchcolumn FROM "aws:cloudtrail"."`+id+`"`)
	mustRun(t, 0, dir, "user", "disable", "bob")
	mustRun(t, 2, dir, "user", "create") // a usage error did nothing: not recorded

	got := auditRows(t, dir)
	want := [][]string{
		{"CreateEventDataStore", "operator", "", "", "", "", ""},
		{"CreateUser", "operator", "", "", "", "", ""},
		{"GrantPermissions", "operator", "", "", "", "", ""},
		{"StartQuery", "operator", "user:bob", `SELECT count(*) FROM "aws:cloudtrail"."` + id + `"`, `["aws:cloudtrail.` + id + `"]`, "1", ""},
		{"StartQuery", "operator", "", `SELECT nosuchcolumn FROM "aws:cloudtrail"."` + id + `"`, "[]", "0", "QueryFailed"},
		{"DisableUser", "operator", "", "", "", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("audit log has %d events, want %d:\n%v", len(got), len(want), got)
	}
	for i := range want {
		if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("audit event %d = %q\nwant %q", i, got[i], want[i])
		}
	}
	out := mustRun(t, 0, dir, "validate-logs", "--audit-log", "--format", "json")
	var rep struct {
		Events, Covered int
		Problems        []string
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Problems) != 0 || rep.Covered != rep.Events || rep.Events < len(want) {
		t.Fatalf("validate-logs --audit-log on an intact log: %s (%v)", out, err)
	}
}

// TestAuditStoreIsWrittenOnlyByAuditlake: the audit store cannot be created by hand, deleted,
// renamed, unprotected or ingested into.
func TestAuditStoreIsWrittenOnlyByAuditlake(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 1, dir, "eds", "create", "auditlake-audit")  // reserved while it does not exist yet
	createStore(t, dir, "trail")                            // recorded: the audit store now exists
	mustRun(t, 1, dir, "eds", "create", "auditlake-alerts") // the alerts' store is reserved too
	if _, errOut, code := run(t, dir, "eds", "update", "trail", "--name", "auditlake-alerts"); code == 0 || !strings.Contains(errOut, "written only by auditlake") {
		t.Errorf("renaming a store to auditlake-alerts: exit %d, %q; want a refusal", code, errOut)
	}
	for _, args := range [][]string{
		{"eds", "delete", "auditlake-audit", "--yes"},
		{"eds", "update", "auditlake-audit", "--termination-protection", "off"},
		{"eds", "update", "auditlake-audit", "--name", "quiet"},
		{"ingest", "cloudtrail", "--eds", "auditlake-audit", testdata("stratus-red-team-detonation-logs")},
	} {
		_, errOut, code := run(t, dir, args...)
		if code == 0 || !strings.Contains(errOut, "written only by auditlake") {
			t.Errorf("auditlake %s: exit %d, %q; want a refusal", strings.Join(args, " "), code, errOut)
		}
	}
	if got := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."auditlake-audit" WHERE eventsource <> 'auditlake'`); got[0][0] != "0" {
		t.Errorf("the audit store holds %s events not from auditlake", got[0][0])
	}
}

// TestAuditLogTamperingIsDetected: an audit event changed in its Parquet file, a digest
// changed, and a digest removed are each reported by validate-logs --audit-log (exit 4).
func TestAuditLogTamperingIsDetected(t *testing.T) {
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		// Each action is folded from the spool into a commit and a digest of its own.
		createStore(t, dir, "trail")
		mustRun(t, 0, dir, "validate-logs", "--audit-log")
		mustRun(t, 0, dir, "user", "create", "bob")
		mustRun(t, 0, dir, "validate-logs", "--audit-log")
		mustRun(t, 0, dir, "role", "create", "finops")
		mustRun(t, 0, dir, "validate-logs", "--audit-log")
		// A record whose JSON writer escaped characters (<, >, &) is intact too.
		mustRun(t, 0, dir, "grant", "select", "--on", "store:trail", "--to", "bob", "--row-filter", "eventtime > TIMESTAMP '2000-01-01' AND eventname <> '<&>'")
		mustRun(t, 0, dir, "validate-logs", "--audit-log")
		return dir
	}
	digests := func(t *testing.T, dir string) []string {
		d, err := filepath.Glob(filepath.Join(dir, "auditlog", "digests", "*.json"))
		if err != nil || len(d) < 3 {
			t.Fatalf("digests: %v %v", d, err)
		}
		return d
	}
	check := func(t *testing.T, dir, want string) {
		t.Helper()
		out, _, code := run(t, dir, "validate-logs", "--audit-log")
		if code != 4 || !strings.Contains(out, want) {
			t.Errorf("validate-logs --audit-log after tampering: exit %d, want 4 and %q:\n%s", code, want, out)
		}
	}
	t.Run("event rewritten", func(t *testing.T) {
		dir := setup(t)
		files, _ := filepath.Glob(filepath.Join(dir, "stores", "*", "data", "*", "*.parquet"))
		var target string
		for _, f := range files {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), "CreateUser") || len(files) == 1 {
				target = f
			}
		}
		if target == "" {
			target = files[len(files)-1]
		}
		ctx := context.Background()
		db, err := engine.Open(ctx, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		tmp := target + ".tmp"
		if err := db.Exec(ctx, "COPY (SELECT * REPLACE (replace(eventjson, '\"bob\"', '\"eve\"') AS eventjson) FROM read_parquet("+engine.Literal(target)+")) TO "+engine.Literal(tmp)+" (FORMAT parquet)"); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, target); err != nil {
			t.Fatal(err)
		}
		check(t, dir, "modified")
	})
	t.Run("columns rewritten, record kept", func(t *testing.T) {
		// Queries read the columns, not eventjson: rewrite the source address of every event
		// and keep eventjson (which the digests cover), then bring the manifest's sizes in line
		// with the new files, as someone hiding where actions came from would.
		dir := setup(t)
		manifests, _ := filepath.Glob(filepath.Join(dir, "stores", "*", "manifest.json"))
		ctx := context.Background()
		db, err := engine.Open(ctx, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rewritten := 0
		for _, mf := range manifests {
			b, err := os.ReadFile(mf)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			files, _ := m["files"].([]any)
			for _, f := range files {
				f := f.(map[string]any)
				path := filepath.Join(filepath.Dir(mf), f["path"].(string))
				if b, _ := os.ReadFile(path); !strings.Contains(string(b), "auditlake/cli") {
					continue // not the audit store's
				}
				tmp := path + ".tmp"
				if err := db.Exec(ctx, "COPY (SELECT * REPLACE ('203.0.113.9' AS sourceipaddress) FROM read_parquet("+engine.Literal(path)+")) TO "+engine.Literal(tmp)+" (FORMAT parquet)"); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, path); err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				f["bytes"] = fi.Size()
				rewritten++
			}
			if b, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(mf, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if rewritten == 0 {
			t.Fatal("fixture: no audit store file found")
		}
		if got := queryCSV(t, dir, `SELECT DISTINCT sourceipaddress FROM "aws:cloudtrail"."auditlake-audit" WHERE eventname = 'CreateUser'`); len(got) != 1 || got[0][0] != "203.0.113.9" {
			t.Fatalf("fixture: the rewritten store reads %v", got)
		}
		check(t, dir, "columns were modified")
	})
	t.Run("digest edited", func(t *testing.T) {
		dir := setup(t)
		d := digests(t, dir)[1]
		b, _ := os.ReadFile(d)
		if err := os.WriteFile(d, []byte(strings.Replace(string(b), "CreateUser", "CreateRole", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		check(t, dir, "signature does not match")
	})
	t.Run("digest removed", func(t *testing.T) {
		dir := setup(t)
		if err := os.Remove(digests(t, dir)[1]); err != nil {
			t.Fatal(err)
		}
		check(t, dir, "missing")
	})
}

// breakAuditSpool makes the audit spool of dir unusable (its directory a file) and returns its path.
func breakAuditSpool(t *testing.T, dir string) string {
	t.Helper()
	mustRun(t, 0, dir, "validate-logs", "--audit-log") // folds the spool: its directory is empty
	spoolDir := filepath.Join(dir, "auditlog", "spool")
	if err := os.RemoveAll(spoolDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spoolDir, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	return spoolDir
}

// TestQueryResultIsShownOnlyOnceRecorded: a CLI query whose audit record cannot be written
// (the spool's directory is unusable) prints no result and fails, naming the audit log; with
// the spool writable again, the next query is recorded and shown.
func TestQueryResultIsShownOnlyOnceRecorded(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	spoolDir := breakAuditSpool(t, dir)
	out, errOut, code := run(t, dir, "query", "SELECT 'the result' AS r")
	if code == 0 || strings.Contains(out, "the result") || !strings.Contains(errOut, "audit log cannot record") {
		t.Errorf("query while the audit spool cannot be written: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if err := os.Remove(spoolDir); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, 0, dir, "query", "SELECT 'the result' AS r"); !strings.Contains(out, "the result") {
		t.Errorf("query: %q", out)
	}
	got := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."auditlake-audit" WHERE requestparameters['queryStatement'] = 'SELECT ''the result'' AS r'`)
	if got[0][0] != "1" {
		t.Errorf("the recorded query is in the audit store %s times, want 1", got[0][0])
	}
}

// TestDetectionAndRetentionChangesAreAudited: the audit log recorded user, grant and store
// changes but not the changes that decide what is detected and kept — a rule added, disabled,
// enabled, regrouped or removed, an alert target added or removed, an alert acknowledged or
// closed, a store published, the catalog set, events purged — so an insider could switch a
// detection off, close the alert it raised or purge the events, and the log showed nothing. Each
// is now an event with its arguments; a webhook URL's path and query (Slack's and others' hold
// the token) and the target's secret are not in it.
func TestDetectionAndRetentionChangesAreAudited(t *testing.T) {
	dir, ids := alertsLake(t) // adds the rule non-approved-launch and the webhook target ops
	const slackToken = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
	mustRun(t, 0, dir, "alert-target", "add", "chat", "--slack-webhook", "https://hooks.slack.com/services/"+slackToken)
	mustRun(t, 0, dir, "rule", "disable", "non-approved-launch")
	mustRun(t, 0, dir, "rule", "enable", "non-approved-launch")
	mustRun(t, 0, dir, "rule", "group", "non-approved-launch", "--by", "account", "--window", "1d")
	mustRun(t, 0, dir, "alert", "ack", ids[0])
	mustRun(t, 0, dir, "alert", "close", ids[0])
	mustRun(t, 0, dir, "alert-target", "remove", "chat")
	mustRun(t, 0, dir, "eds", "purge")
	mustRun(t, 0, dir, "rule", "remove", "non-approved-launch")
	rows := queryCSV(t, dir, `SELECT eventname, requestparameters['command'], requestparameters['arguments'], coalesce(errorcode, '')
		FROM "aws:cloudtrail"."auditlake-audit" WHERE eventname <> 'StartQuery' ORDER BY eventtime`)
	var got []string
	all := ""
	for _, r := range rows {
		got = append(got, r[0]+" "+r[1])
		all += strings.Join(r, " ") + "\n"
	}
	for _, want := range []string{
		"CreateRule rule add", "CreateAlertTarget alert-target add", "DisableRule rule disable", "EnableRule rule enable",
		"UpdateRuleGrouping rule group", "AcknowledgeAlert alert ack", "CloseAlert alert close", "DeleteAlertTarget alert-target remove",
		"PurgeEvents eds purge", "DeleteRule rule remove",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no %q in the audit log:\n%s", want, all)
		}
	}
	if strings.Contains(all, slackToken) || strings.Contains(all, "a-webhook-secret-of-some-length") {
		t.Errorf("the audit log holds a target's token or secret:\n%s", all)
	}
	if !strings.Contains(all, "https://hooks.slack.com/REDACTED") {
		t.Errorf("the audit log does not name the Slack target's host:\n%s", all)
	}
}

// TestCLIReadsOfEventDataAreAudited: query was the only CLI read in the audit log; alerts,
// hunt, the reports, instance and rule coverage read the same events and showed them with no
// record, so a reader on the CLI left no trace a compliance review could find. Each is now a
// StartQuery event as the API's /api/alerts, /api/hunt and report endpoints record it: the
// principal, the tables read, the rows shown and the outcome (a hunt of a store that does not
// exist is recorded failed, NotFound, as a probe for store names).
func TestCLIReadsOfEventDataAreAudited(t *testing.T) {
	dir, _ := alertsLake(t)
	var st struct{ ID string }
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "eds", "show", "trail", "--output", "json")), &st); err != nil {
		t.Fatal(err)
	}
	id := st.ID
	lines := func(out string) int { return len(strings.Split(strings.TrimSpace(out), "\n")) }
	nAlerts := lines(mustRun(t, 0, dir, "alerts", "--format", "csv")) - 1
	nMatches := lines(mustRun(t, 0, dir, "hunt", "--eds", "trail", "--rules", "all", "--format", "jsonl"))
	nLaunches := lines(mustRun(t, 0, dir, "report", "launch-compliance", "--eds", "trail", "--from", "2026-09-01", "--format", "jsonl"))
	nEvents := lines(mustRun(t, 0, dir, "instance", "--eds", "trail", "--format", "jsonl", "i-0d00000000000a001"))
	nRules := lines(mustRun(t, 0, dir, "rule", "coverage", "--eds", "trail", "--format", "csv")) - 1
	mustRun(t, 1, dir, "hunt", "--eds", "no-such-store", "--rules", "all")
	mustRun(t, 1, dir, "report", "launch-compliance", "--eds", "no-such-store")
	rows := queryCSV(t, dir, `SELECT useridentity.principalid, additionaleventdata, coalesce(requestparameters['queryStatement'], ''),
		coalesce(requestparameters['report'], ''), coalesce(requestparameters['instanceId'], ''), coalesce(requestparameters['from'], ''),
		responseelements['tablesRead'], responseelements['rowsReturned'], coalesce(errorcode, '')
		FROM "aws:cloudtrail"."auditlake-audit" WHERE eventname = 'StartQuery' AND coalesce(requestparameters['queryStatement'], '') NOT LIKE '%auditlake-audit%'
		ORDER BY eventtime`)
	var got []string
	for _, r := range rows {
		if r[0] != "operator" || !strings.Contains(r[1], `"door":"cli"`) {
			t.Errorf("a CLI read recorded with principal %q and %s", r[0], r[1])
		}
		what, _, _ := strings.Cut(r[2], "\n")
		got = append(got, strings.Join(append([]string{what}, r[3:]...), "|"))
	}
	// alertsLake lists the alerts once itself.
	store := `["aws:cloudtrail.` + id + `"]`
	alertsTable := ""
	if len(got) > 0 {
		alertsTable = rows[0][6]
	}
	want := []string{
		"-- auditlake alerts||||" + alertsTable + "|" + fmt.Sprint(nAlerts) + "|",
		"-- auditlake alerts||||" + alertsTable + "|" + fmt.Sprint(nAlerts) + "|",
		"-- auditlake hunt: rules non-approved-launch over trail||||" + store + "|" + fmt.Sprint(nMatches) + "|",
		"|launch-compliance||2026-09-01T00:00:00Z|" + store + "|" + fmt.Sprint(nLaunches) + "|",
		"|instance|i-0d00000000000a001||" + store + "|" + fmt.Sprint(nEvents) + "|",
		"-- auditlake rule coverage: rules non-approved-launch over trail||||" + store + "|" + fmt.Sprint(nRules) + "|",
		"-- auditlake hunt: rules all over no-such-store||||[]|0|NotFound",
		"|launch-compliance|||[]|0|NotFound", // as the API's report of a store it does not know
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the audit log's CLI reads:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if alertsTable == "" || alertsTable == "[]" || strings.Contains(alertsTable, `\"`) {
		t.Errorf("alerts recorded reading %s, want the alerts' store as query names it", alertsTable)
	}
}

// TestCLIReadsAreShownOnlyOnceRecorded: as a query, an alerts listing, a hunt, a report and an
// instance's trail whose audit record cannot be written print nothing and fail, naming the
// audit log.
func TestCLIReadsAreShownOnlyOnceRecorded(t *testing.T) {
	dir, _ := alertsLake(t)
	breakAuditSpool(t, dir)
	for _, args := range [][]string{
		{"alerts"},
		{"hunt", "--eds", "trail", "--rules", "all", "--format", "jsonl"},
		{"hunt", "--eds", "trail", "--rules", "all"},
		{"report", "launch-compliance", "--eds", "trail", "--format", "csv"},
		{"instance", "--eds", "trail", "i-0d00000000000a001"},
		{"rule", "coverage", "--eds", "trail"},
	} {
		out, errOut, code := run(t, dir, args...)
		if code == 0 || strings.Contains(out, "i-0d00000000000a001") || strings.Contains(out, "non-approved-launch") || !strings.Contains(errOut, "audit log cannot record") {
			t.Errorf("auditlake %s while the audit spool cannot be written: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
		}
	}
}

// TestEveryDoorNamesAStoreReadAlike: the audit log's tablesRead named a store as
// aws:cloudtrail.<id> for a query and a report, but as "aws:cloudtrail"."<id>" (quoted) for a
// dashboard hunt and alerts listing, so a review of who read a store (tablesRead LIKE
// '%aws:cloudtrail.<id>%') missed every hunt and alerts listing of the API. Every door and
// read now names it as a query does.
func TestEveryDoorNamesAStoreReadAlike(t *testing.T) {
	dir, _ := alertsLake(t)
	g := startGovernServer(t, dir, app.Options{})
	var st struct{ ID string }
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, "eds", "show", "trail", "--output", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if code := g.call(t, "user:alice", "GET", "/api/alerts", "", nil); code != 200 {
		t.Fatalf("GET /api/alerts: %d", code)
	}
	if code := g.call(t, "user:alice", "POST", "/api/hunt", `{"store":"trail","rules":"all"}`, nil); code != 200 {
		t.Fatalf("POST /api/hunt: %d", code)
	}
	mustRun(t, 0, dir, "hunt", "--eds", "trail", "--rules", "all")
	if err := g.audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows := queryCSV(t, dir, `SELECT additionaleventdata, substr(requestparameters['queryStatement'], 1, 20), responseelements['tablesRead']
		FROM "aws:cloudtrail"."auditlake-audit" WHERE eventname = 'StartQuery' AND (requestparameters['queryStatement'] LIKE '-- POST /api/hunt%'
		OR requestparameters['queryStatement'] LIKE '-- GET /api/alerts%' OR requestparameters['queryStatement'] LIKE '-- auditlake hunt%') ORDER BY eventtime`)
	if len(rows) != 3 {
		t.Fatalf("%d records of the hunts and alerts listing, want 3: %v", len(rows), rows)
	}
	for _, r := range rows {
		var tables []string
		if err := json.Unmarshal([]byte(r[2]), &tables); err != nil || len(tables) != 1 || !strings.HasPrefix(tables[0], "aws:cloudtrail.") {
			t.Errorf("%s %s recorded reading %s, want [\"aws:cloudtrail.<id>\"] as a query's record names it", r[0], r[1], r[2])
		}
	}
	if want := `["aws:cloudtrail.` + st.ID + `"]`; rows[1][2] != want || rows[2][2] != want {
		t.Errorf("the API's and the CLI's hunts of trail recorded reading %s and %s, want %s", rows[1][2], rows[2][2], want)
	}
}

// TestAHuntOfTheAuditLogSeesTheSpooledActions: the CLI's actions wait in the spool until a
// commit folds them, and a query of the audit store folds first; a hunt (and rule coverage) of
// it did not, so a detection run over the audit log by hand missed the newest actions (a user
// created, a rule disabled) until some query happened to name the store. It folds first too.
func TestAHuntOfTheAuditLogSeesTheSpooledActions(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "rule", "add", "new-user", "--sql", "SELECT * FROM {events} WHERE eventname = 'CreateUser'")
	mustRun(t, 0, dir, "user", "create", "bob")
	out := mustRun(t, 0, dir, "hunt", "--eds", "auditlake-audit", "--rules", "new-user", "--format", "csv")
	if n := len(strings.Split(strings.TrimSpace(out), "\n")) - 1; n != 1 {
		t.Errorf("hunt of the audit log for CreateUser found %d matches, want 1:\n%s", n, out)
	}
	mustRun(t, 0, dir, "user", "create", "carol")
	out = mustRun(t, 0, dir, "rule", "coverage", "--eds", "auditlake-audit", "--format", "csv")
	if !strings.Contains(out, "new-user,new-user,sql,medium,true,2") {
		t.Errorf("rule coverage of the audit log, want new-user with 2 matches:\n%s", out)
	}
}

// TestReportsRecordTheRowsTheyShowedAtEveryDoor: a report's or an instance trail's record said
// rowsReturned 0 at the API, whatever it showed — a review could not tell a report of every
// launch from an empty one — while the CLI's record of the same report counted its rows. Both
// count them: a report's rows, a trail's events.
func TestReportsRecordTheRowsTheyShowedAtEveryDoor(t *testing.T) {
	dir, _ := alertsLake(t)
	g := startGovernServer(t, dir, app.Options{})
	var rep struct{ Rows []any }
	if code := g.call(t, "user:alice", "GET", "/api/reports/launch-compliance?store=trail", "", &rep); code != 200 || len(rep.Rows) == 0 {
		t.Fatalf("GET /api/reports/launch-compliance: %d, %d rows", code, len(rep.Rows))
	}
	var tr struct{ Events []any }
	if code := g.call(t, "user:alice", "GET", "/api/instances/i-0d00000000000a001?store=trail", "", &tr); code != 200 || len(tr.Events) == 0 {
		t.Fatalf("GET /api/instances/i-0d00000000000a001: %d, %d events", code, len(tr.Events))
	}
	mustRun(t, 0, dir, "report", "launch-compliance", "--eds", "trail")
	mustRun(t, 0, dir, "instance", "--eds", "trail", "i-0d00000000000a001")
	if err := g.audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows := queryCSV(t, dir, `SELECT additionaleventdata, requestparameters['report'], responseelements['rowsReturned']
		FROM "aws:cloudtrail"."auditlake-audit" WHERE eventname = 'StartQuery' AND requestparameters['report'] IS NOT NULL ORDER BY eventtime`)
	want := []string{
		`{"door":"api"} launch-compliance ` + fmt.Sprint(len(rep.Rows)),
		`{"door":"api"} instance ` + fmt.Sprint(len(tr.Events)),
		`{"door":"cli"} launch-compliance ` + fmt.Sprint(len(rep.Rows)),
		`{"door":"cli"} instance ` + fmt.Sprint(len(tr.Events)),
	}
	var got []string
	for _, r := range rows {
		got = append(got, strings.Join(r, " "))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the reports' records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestQueryAsRecordsThePrincipalByItsName: query --as took bob, user:bob or role:finops and the
// record kept what was typed, so the same principal was "bob" in one record and "user:bob" in
// another, and neither matched how the other doors name it (useridentity.principalid
// user:bob): a review of what bob read missed the CLI's reads as bob typed without its kind. The
// record names the principal as every door does.
func TestQueryAsRecordsThePrincipalByItsName(t *testing.T) {
	dir := t.TempDir()
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "user", "create", "bob")
	mustRun(t, 0, dir, "role", "create", "finops")
	for _, as := range []string{"bob", "user:bob", "role:finops"} {
		mustRun(t, 0, dir, "query", "--as", as, "SELECT '"+as+"' AS who")
	}
	rows := queryCSV(t, dir, `SELECT requestparameters['queryStatement'], requestparameters['as'] FROM "aws:cloudtrail"."auditlake-audit"
		WHERE requestparameters['queryStatement'] LIKE 'SELECT ''%'' AS who' ORDER BY eventtime`)
	var got []string
	for _, r := range rows {
		got = append(got, r[0]+" -> "+r[1])
	}
	want := []string{"SELECT 'bob' AS who -> user:bob", "SELECT 'user:bob' AS who -> user:bob", "SELECT 'role:finops' AS who -> role:finops"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("query --as recorded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
