package awsapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/awsapi"
	"github.com/auditlake/auditlake/internal/collect"
	"github.com/auditlake/auditlake/internal/integration"
	"github.com/auditlake/auditlake/internal/lake"
)

var awsErrorCode = regexp.MustCompile(`An error occurred \((\w+)\)`)

// cli runs `aws ARGS… --endpoint-url URL --output json` signing with creds. It returns the
// decoded output and, when the command failed with a service error, the error code.
func (ls *lakeServer) cli(t *testing.T, creds access.Credentials, args ...string) (out map[string]any, code string) {
	t.Helper()
	cmd := exec.Command("aws", append(args, "--endpoint-url", ls.url, "--region", "us-east-1", "--output", "json")...)
	cmd.Env = clientEnv(creds)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		m := awsErrorCode.FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("aws %v: %v\n%s", args, err, stderr.String())
		}
		return nil, m[1]
	}
	if bytes.TrimSpace(stdout.Bytes()) == nil {
		return nil, ""
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("aws %v: output is not JSON: %v\n%s", args, err, stdout.String())
	}
	return out, ""
}

// cliKnows says whether the installed AWS CLI has a command: Debian bookworm's awscli 2.9
// predates channels (create-channel) and CloudTrail Data (put-audit-events).
func cliKnows(service, command string) bool {
	key := service + " " + command
	if v, ok := cliCommands.Load(key); ok {
		return v.(bool)
	}
	known := exec.Command("aws", service, command, "help").Run() == nil
	cliCommands.Store(key, known)
	return known
}

var cliCommands sync.Map // "service command" → whether the installed CLI has it

// cliOr runs args with the AWS CLI when it has the command, and otherwise sends the operation
// (path, X-Amz-Target op, body in) signed by the AWS SDK for Go's signer, saying so.
func (ls *lakeServer) cliOr(t *testing.T, creds access.Credentials, args []string, path, op string, in any) (map[string]any, string) {
	t.Helper()
	if cliKnows(args[0], args[1]) {
		return ls.cli(t, creds, args...)
	}
	t.Logf("this AWS CLI has no %s %s: sent with the Go SDK's signer instead", args[0], args[1])
	service, target := "cloudtrail", ""
	if op == "" {
		service = "cloudtrail-data"
	} else {
		target = "CloudTrail_20131101." + op
	}
	out, code, err := ls.send(context.Background(), creds, service, path, target, in)
	if err != nil {
		t.Fatal(err)
	}
	return out, code
}

// must is cli for a call that must succeed.
func (ls *lakeServer) must(t *testing.T, creds access.Credentials, args ...string) map[string]any {
	t.Helper()
	out, code := ls.cli(t, creds, args...)
	if code != "" {
		t.Fatalf("aws %v: %s", args, code)
	}
	return out
}

// refused is cli for a call that must fail with code.
func (ls *lakeServer) refused(t *testing.T, creds access.Credentials, want string, args ...string) {
	t.Helper()
	if _, code := ls.cli(t, creds, args...); code != want {
		t.Fatalf("aws %v: error %q, want %q", args, code, want)
	}
}

// finish polls describe-query until the query leaves QUEUED and RUNNING.
func (ls *lakeServer) finish(t *testing.T, creds access.Credentials, id string) map[string]any {
	t.Helper()
	for {
		d := ls.must(t, creds, "cloudtrail", "describe-query", "--query-id", id)
		if s := d["QueryStatus"]; s != "QUEUED" && s != "RUNNING" {
			return d
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// results pages get-query-results size rows at a time and returns every row as column → value.
func (ls *lakeServer) results(t *testing.T, creds access.Credentials, id string, size int) (rows []map[string]string, pages int) {
	t.Helper()
	token := ""
	for {
		args := []string{"cloudtrail", "get-query-results", "--query-id", id, "--max-query-results", strconv.Itoa(size)}
		if token != "" {
			args = append(args, "--next-token", token)
		}
		out := ls.must(t, creds, args...)
		if out["QueryStatus"] != "FINISHED" {
			t.Fatalf("get-query-results: status %v", out["QueryStatus"])
		}
		page := out["QueryResultRows"].([]any)
		stats := out["QueryStatistics"].(map[string]any)
		if int(stats["ResultsCount"].(float64)) != len(page) || len(page) > size {
			t.Fatalf("page of %d rows with ResultsCount %v (asked %d)", len(page), stats["ResultsCount"], size)
		}
		for _, r := range page {
			row := map[string]string{}
			for _, col := range r.([]any) {
				for k, v := range col.(map[string]any) {
					row[k] = v.(string)
				}
			}
			rows = append(rows, row)
		}
		pages++
		next, _ := out["NextToken"].(string)
		if next == "" {
			if total := int(stats["TotalResultsCount"].(float64)); total != len(rows) {
				t.Fatalf("TotalResultsCount %d, paged %d rows", total, len(rows))
			}
			return rows, pages
		}
		token = next
	}
}

func countsOf(t *testing.T, rows []map[string]string, key string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range rows {
		n, err := strconv.Atoi(r["n"])
		if err != nil {
			t.Fatalf("row %v: n is not a number", r)
		}
		out[r[key]] = n
	}
	return out
}

// TestAWSCLIQueriesAStore is issue 18's acceptance with the AWS CLI: start a query, poll
// describe-query, page get-query-results, cancel a long query, list queries; statements the
// engine refuses are InvalidQueryStatementException at start-query, as in Lake.
func TestAWSCLIQueriesAStore(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 200, awsapiDefaults)
	admin, id := ls.admin, ls.store.ID

	q := ls.must(t, admin, "cloudtrail", "start-query", "--query-statement",
		"SELECT eventname, count(*) AS n FROM "+id+" GROUP BY 1 ORDER BY 1")["QueryId"].(string)
	d := ls.finish(t, admin, q)
	if d["QueryStatus"] != "FINISHED" {
		t.Fatalf("query ended %v: %v", d["QueryStatus"], d["ErrorMessage"])
	}
	st := d["QueryStatistics"].(map[string]any)
	if st["EventsScanned"].(float64) != float64(ls.events) || st["BytesScanned"].(float64) <= 0 || st["EventsMatched"].(float64) != float64(len(ls.byEventName)) {
		t.Errorf("describe-query statistics %v: want %d events scanned, some bytes, %d matched", st, ls.events, len(ls.byEventName))
	}
	rows, pages := ls.results(t, admin, q, 1)
	if got := countsOf(t, rows, "eventname"); !maps.Equal(got, ls.byEventName) || pages != len(ls.byEventName) {
		t.Errorf("results %v in %d pages, want %v in %d", got, pages, ls.byEventName, len(ls.byEventName))
	}

	long := ls.must(t, admin, "cloudtrail", "start-query", "--query-statement",
		"SELECT count(*) FROM "+id+" e, range(1000000000000) r WHERE r.range = -1")["QueryId"].(string)
	if c := ls.must(t, admin, "cloudtrail", "cancel-query", "--query-id", long); c["QueryStatus"] != "CANCELLED" {
		t.Errorf("cancel-query: %v", c)
	}
	if d := ls.finish(t, admin, long); d["QueryStatus"] != "CANCELLED" {
		t.Errorf("cancelled query is %v", d["QueryStatus"])
	}
	ls.refused(t, admin, "InactiveQueryException", "cloudtrail", "cancel-query", "--query-id", long)
	ls.refused(t, admin, "InactiveQueryException", "cloudtrail", "cancel-query", "--query-id", q)

	list := func(args ...string) []string {
		out := ls.must(t, admin, append([]string{"cloudtrail", "list-queries", "--event-data-store", id}, args...)...)
		var ids []string
		for _, x := range out["Queries"].([]any) {
			ids = append(ids, x.(map[string]any)["QueryId"].(string))
		}
		return ids
	}
	if got := list(); len(got) != 2 || got[0] != long || got[1] != q {
		t.Errorf("list-queries: %v, want [%s %s] (newest first)", got, long, q)
	}
	if got := list("--query-status", "CANCELLED"); len(got) != 1 || got[0] != long {
		t.Errorf("list-queries --query-status CANCELLED: %v", got)
	}
	if got := list("--start-time", time.Now().Add(time.Hour).Format(time.RFC3339)); len(got) != 0 {
		t.Errorf("list-queries from an hour ahead: %v", got)
	}
	ls.refused(t, admin, "InvalidDateRangeException", "cloudtrail", "list-queries", "--event-data-store", id,
		"--start-time", "2026-01-02T00:00:00Z", "--end-time", "2026-01-01T00:00:00Z")

	ls.refused(t, admin, "InvalidQueryStatementException", "cloudtrail", "start-query", "--query-statement", "DELETE FROM "+id)
	if msg := ls.statementError(t, admin, "SELECT nosuchcolumn FROM "+id); !strings.Contains(msg, "nosuchcolumn") {
		t.Errorf("an unknown column: %q", msg)
	}
	// A statement that compiles but fails on the data (a value that does not cast) is a
	// FAILED query, as in Lake, not an invalid statement, however soon it fails.
	bad := ls.must(t, admin, "cloudtrail", "start-query", "--query-statement", "SELECT CAST(eventname AS integer) FROM "+id)["QueryId"].(string)
	if d := ls.finish(t, admin, bad); d["QueryStatus"] != "FAILED" || !strings.HasPrefix(d["ErrorMessage"].(string), "INVALID_CAST_ARGUMENT") {
		t.Errorf("a value that does not cast: %v", d)
	}
	ls.refused(t, admin, "QueryIdNotFoundException", "cloudtrail", "get-query-results", "--query-id", "00000000-0000-4000-8000-000000000000")
	ls.refused(t, admin, "EventDataStoreNotFoundException", "cloudtrail", "list-queries", "--event-data-store", "00000000-0000-4000-8000-000000000000")
	ls.refused(t, admin, "UnsupportedOperationException", "cloudtrail", "start-query", "--query-statement", "SELECT 1",
		"--delivery-s3-uri", "s3://bucket/results")
}

// TestAWSCLIManagesStoresAndChannels: list, get, create, update and delete event data stores
// (termination protection honoured), and a channel's whole life with PutAuditEvents on the
// cloudtrail-data signing name.
func TestAWSCLIManagesStoresAndChannels(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 20, awsapiDefaults)
	admin := ls.admin

	stores := ls.must(t, admin, "cloudtrail", "list-event-data-stores")["EventDataStores"].([]any)
	if len(stores) != 1 || stores[0].(map[string]any)["Name"] != "trail" {
		t.Fatalf("list-event-data-stores: %v", stores)
	}
	arn := stores[0].(map[string]any)["EventDataStoreArn"].(string)
	if g := ls.must(t, admin, "cloudtrail", "get-event-data-store", "--event-data-store", arn); g["Name"] != "trail" || g["RetentionPeriod"].(float64) != 2557 {
		t.Errorf("get-event-data-store: %v", g)
	}

	c := ls.must(t, admin, "cloudtrail", "create-event-data-store", "--name", "cli-store", "--retention-period", "30")
	if c["TerminationProtectionEnabled"] != true || c["RetentionPeriod"].(float64) != 30 {
		t.Errorf("create-event-data-store: %v (Lake protects a new store by default)", c)
	}
	newARN := c["EventDataStoreArn"].(string)
	ls.refused(t, admin, "EventDataStoreAlreadyExistsException", "cloudtrail", "create-event-data-store", "--name", "cli-store")
	if u := ls.must(t, admin, "cloudtrail", "update-event-data-store", "--event-data-store", newARN, "--retention-period", "60"); u["RetentionPeriod"].(float64) != 60 {
		t.Errorf("update-event-data-store: %v", u)
	}
	ls.refused(t, admin, "EventDataStoreTerminationProtectedException", "cloudtrail", "delete-event-data-store", "--event-data-store", newARN)
	ls.must(t, admin, "cloudtrail", "update-event-data-store", "--event-data-store", newARN, "--no-termination-protection-enabled")
	// A source collecting into the store would fail at every poll once it is gone: refused
	// until it is removed.
	sources := collect.Open(ls.lk.Dir)
	if err := sources.Add(collect.Source{Name: "into-cli-store", Type: collect.TypeCloudTrail, StoreID: newARN[strings.LastIndex(newARN, "/")+1:],
		Store: "cli-store", URI: "s3://trail/AWSLogs/", Every: collect.Duration(time.Minute), Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ls.refused(t, admin, "ConflictException", "cloudtrail", "delete-event-data-store", "--event-data-store", newARN)
	if err := sources.Remove("into-cli-store"); err != nil {
		t.Fatal(err)
	}
	ls.must(t, admin, "cloudtrail", "delete-event-data-store", "--event-data-store", newARN)
	ls.refused(t, admin, "EventDataStoreNotFoundException", "cloudtrail", "get-event-data-store", "--event-data-store", newARN)

	acts := ls.must(t, admin, "cloudtrail", "create-event-data-store", "--name", "app-activity", "--no-termination-protection-enabled",
		"--advanced-event-selectors", `[{"Name":"app","FieldSelectors":[{"Field":"eventCategory","Equals":["ActivityAuditLog"]}]}]`)
	actsARN := acts["EventDataStoreArn"].(string)
	channel := func(name, dest string) (map[string]any, string) {
		return ls.cliOr(t, admin, []string{"cloudtrail", "create-channel", "--name", name, "--source", "Custom",
			"--destinations", "Type=EVENT_DATA_STORE,Location=" + dest},
			"/", "CreateChannel", map[string]any{"Name": name, "Source": "Custom", "Destinations": []map[string]string{{"Type": "EVENT_DATA_STORE", "Location": dest}}})
	}
	if _, code := channel("wrong", arn); code != "InvalidEventDataStoreCategoryException" {
		t.Errorf("a channel into a CloudTrail store: %q", code)
	}
	ch, code := channel("app-events", actsARN)
	if code != "" {
		t.Fatalf("create-channel: %s", code)
	}
	chARN := ch["ChannelArn"].(string)
	if g, _ := ls.cliOr(t, admin, []string{"cloudtrail", "get-channel", "--channel", chARN}, "/", "GetChannel", map[string]string{"Channel": chARN}); g["Name"] != "app-events" ||
		g["Destinations"].([]any)[0].(map[string]any)["Location"] != actsARN {
		t.Errorf("get-channel: %v", g)
	}
	if l := ls.must(t, admin, "cloudtrail", "list-channels")["Channels"].([]any); len(l) != 1 || l[0].(map[string]any)["ChannelArn"] != chARN {
		t.Errorf("list-channels: %v", l)
	}

	event, _ := json.Marshal(map[string]any{"version": "1.0", "userIdentity": map[string]any{"type": "Employee", "principalId": "alice"},
		"eventSource": "app.example.com", "eventName": "Login", "eventTime": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339),
		"UID": "u-1", "recipientAccountId": awsapi.Account}) // the account of channels made through the API
	entries, _ := json.Marshal([]map[string]string{{"id": "e1", "eventData": string(event)}})
	put := func(creds access.Credentials) (map[string]any, string) {
		return ls.cliOr(t, creds, []string{"cloudtrail-data", "put-audit-events", "--channel-arn", chARN, "--audit-events", string(entries)},
			"/PutAuditEvents?channelArn="+url.QueryEscape(chARN), "", map[string]json.RawMessage{"auditEvents": entries})
	}
	if put, code := put(admin); code != "" || len(put["successful"].([]any)) != 1 || len(put["failed"].([]any)) != 0 {
		t.Fatalf("put-audit-events: %v", put)
	}
	actsID := acts["EventDataStoreArn"].(string)[len(acts["EventDataStoreArn"].(string))-36:]
	q := ls.must(t, admin, "cloudtrail", "start-query", "--query-statement", "SELECT eventdata.eventname AS n FROM "+actsID)["QueryId"].(string)
	if d := ls.finish(t, admin, q); d["QueryStatus"] != "FINISHED" {
		t.Fatalf("query of the activity store: %v", d)
	}
	if rows, _ := ls.results(t, admin, q, 10); len(rows) != 1 || rows[0]["n"] != "Login" {
		t.Errorf("activity store holds %v, want the one Login put", rows)
	}
	if _, code := put(ls.filtered); code != "ChannelInsufficientPermission" {
		t.Errorf("a reader putting events: %q", code)
	}

	ls.refused(t, admin, "ChannelExistsForEDSException", "cloudtrail", "delete-event-data-store", "--event-data-store", actsARN)
	if _, code := ls.cliOr(t, admin, []string{"cloudtrail", "delete-channel", "--channel", chARN}, "/", "DeleteChannel", map[string]string{"Channel": chARN}); code != "" {
		t.Fatalf("delete-channel: %s", code)
	}
	if _, code := ls.cliOr(t, admin, []string{"cloudtrail", "get-channel", "--channel", chARN}, "/", "GetChannel", map[string]string{"Channel": chARN}); code != "ChannelNotFoundException" {
		t.Errorf("get-channel of a deleted channel: %q", code)
	}
	ls.must(t, admin, "cloudtrail", "delete-event-data-store", "--event-data-store", actsARN)
}

// TestAWSCLIRefusesWrongSecretUnsignedAndUnprivileged: a wrong secret, an unknown key and an
// unsigned request are refused; a reader cannot manage stores; a principal cannot see another's
// queries; a principal with a row-filtered grant gets only its rows, and a principal with no
// grant does not see the store at all.
func TestAWSCLIRefusesWrongSecretUnsignedAndUnprivileged(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 100, awsapiDefaults)
	id := ls.store.ID

	wrong := ls.admin
	// Another first character, never the same one: a secret starting with "x" (1 in 64) made
	// "x"+secret[1:] the right secret, and the CLI's call succeeded.
	first := "x"
	if wrong.SecretAccessKey[0] == 'x' {
		first = "y"
	}
	wrong.SecretAccessKey = first + wrong.SecretAccessKey[1:]
	ls.refused(t, wrong, "InvalidSignatureException", "cloudtrail", "list-event-data-stores")
	unknown := ls.admin
	unknown.AccessKeyID = "ALAKAAAAAAAAAAAAAAAA"
	ls.refused(t, unknown, "UnrecognizedClientException", "cloudtrail", "list-event-data-stores")
	ls.refused(t, ls.admin, "MissingAuthenticationTokenException", "cloudtrail", "list-event-data-stores", "--no-sign-request")

	ls.refused(t, ls.filtered, "AccessDeniedException", "cloudtrail", "create-event-data-store", "--name", "mine")
	ls.refused(t, ls.filtered, "AccessDeniedException", "cloudtrail", "delete-event-data-store", "--event-data-store", id)
	ls.refused(t, ls.nobody, "EventDataStoreNotFoundException", "cloudtrail", "get-event-data-store", "--event-data-store", id)
	if l := ls.must(t, ls.nobody, "cloudtrail", "list-event-data-stores")["EventDataStores"].([]any); len(l) != 0 {
		t.Errorf("a principal without grants lists %v", l)
	}

	stmt := "SELECT recipientaccountid, count(*) AS n FROM " + id + " GROUP BY 1"
	mine := ls.must(t, ls.filtered, "cloudtrail", "start-query", "--query-statement", stmt)["QueryId"].(string)
	if d := ls.finish(t, ls.filtered, mine); d["QueryStatus"] != "FINISHED" {
		t.Fatalf("filtered principal's query: %v", d)
	} else if st := d["QueryStatistics"].(map[string]any); st["EventsScanned"].(float64) != 0 || st["BytesScanned"].(float64) != 0 {
		t.Errorf("a filtered principal learns the store's size: %v", st)
	}
	rows, _ := ls.results(t, ls.filtered, mine, 10)
	if got, want := countsOf(t, rows, "recipientaccountid"), map[string]int{accountA: ls.byAccount[accountA]}; !maps.Equal(got, want) {
		t.Errorf("row-filtered principal got %v, want only %v", got, want)
	}
	all := ls.must(t, ls.admin, "cloudtrail", "start-query", "--query-statement", stmt)["QueryId"].(string)
	ls.finish(t, ls.admin, all)
	if rows, _ := ls.results(t, ls.admin, all, 10); !maps.Equal(countsOf(t, rows, "recipientaccountid"), ls.byAccount) {
		t.Errorf("admin got %v, want %v", rows, ls.byAccount)
	}
	// Queries belong to their principal: another one's id is not found, never forbidden.
	ls.refused(t, ls.filtered, "QueryIdNotFoundException", "cloudtrail", "get-query-results", "--query-id", all)
	ls.refused(t, ls.admin, "QueryIdNotFoundException", "cloudtrail", "describe-query", "--query-id", mine)
	if msg := ls.statementError(t, ls.nobody, stmt); !strings.Contains(msg, "does not exist") {
		t.Errorf("a principal without grants querying the store: %q, want the table not found", msg)
	}
}

// statementError runs a statement the engine must refuse and returns why: start-query's
// InvalidQueryStatementException when the engine refused it within StartWait, or else the
// message of the FAILED query.
func (ls *lakeServer) statementError(t *testing.T, creds access.Credentials, stmt string) string {
	t.Helper()
	cmd := exec.Command("aws", "cloudtrail", "start-query", "--query-statement", stmt, "--endpoint-url", ls.url, "--output", "json")
	cmd.Env = clientEnv(creds)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if !strings.Contains(string(out), "(InvalidQueryStatementException)") {
			t.Fatalf("start-query %q: %s", stmt, out)
		}
		return string(out)
	}
	var res struct{ QueryId string }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	d := ls.finish(t, creds, res.QueryId)
	if d["QueryStatus"] != "FAILED" {
		t.Fatalf("start-query %q: %v, want it refused", stmt, d)
	}
	return d["ErrorMessage"].(string)
}

// TestAWSCLIResultValuesAsLakeShowsThem: get-query-results shows each value as its column's
// type prints in Lake (Trino): a date as 2026-01-02 (a script grouping by date(eventtime) must
// not get a midnight timestamp), a time of day without a date, a REAL with the digits it holds,
// a UUID in its usual form, an interval as Trino prints it.
func TestAWSCLIResultValuesAsLakeShowsThem(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	q := ls.must(t, ls.admin, "cloudtrail", "start-query", "--query-statement", "SELECT DATE '2026-01-02' AS d, TIME '10:04:05.250' AS tm, "+
		"CAST(0.1 AS REAL) AS r, CAST('8e5f1a2b-0c3d-4e5f-8a9b-0c1d2e3f4a5b' AS UUID) AS u, INTERVAL '1' DAY + INTERVAL '2' HOUR AS i, "+
		"TIMESTAMP '2026-01-02 03:04:05.678' AS ts, CAST(1.5 AS DOUBLE) AS f, date(min(eventtime)) = current_date - INTERVAL '3' DAY AS b FROM "+ls.store.ID)["QueryId"].(string)
	if d := ls.finish(t, ls.admin, q); d["QueryStatus"] != "FINISHED" {
		t.Fatalf("query: %v", d)
	}
	rows, _ := ls.results(t, ls.admin, q, 10)
	want := map[string]string{"d": "2026-01-02", "tm": "10:04:05.250", "r": "0.1", "u": "8e5f1a2b-0c3d-4e5f-8a9b-0c1d2e3f4a5b",
		"i": "1 02:00:00.000", "ts": "2026-01-02 03:04:05.678", "f": "1.5", "b": "true"}
	if len(rows) != 1 || !maps.Equal(rows[0], want) {
		t.Errorf("values %v, want %v", rows, want)
	}
}

// TestAWSCLIMapValuesAreJSON: a MAP (CloudTrail's requestparameters, additionaleventdata) is
// shown as a JSON object in its entries' order, alone or inside an array or a row, with its
// values as their cells print; it was the driver's debugging text "OrderedMap{k: v}".
func TestAWSCLIMapValuesAreJSON(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	q := ls.must(t, ls.admin, "cloudtrail", "start-query", "--query-statement",
		"SELECT MAP(ARRAY['instanceId', 'bucketName'], ARRAY['i-1', 'b \"q\"']) AS m, ARRAY[MAP(ARRAY['k'], ARRAY[1])] AS am, "+
			"CAST(ROW(MAP(ARRAY['at'], ARRAY[TIMESTAMP '2026-01-02 03:04:05'])) AS ROW(x MAP(VARCHAR, TIMESTAMP))) AS rm")["QueryId"].(string)
	if d := ls.finish(t, ls.admin, q); d["QueryStatus"] != "FINISHED" {
		t.Fatalf("query: %v", d)
	}
	rows, _ := ls.results(t, ls.admin, q, 10)
	want := map[string]string{"m": `{"instanceId":"i-1","bucketName":"b \"q\""}`, "am": `[{"k":1}]`, "rm": `{"x":{"at":"2026-01-02 03:04:05.000"}}`}
	if len(rows) != 1 || !maps.Equal(rows[0], want) {
		t.Errorf("values %v, want %v", rows, want)
	}
}

// TestAWSCLIQueuedQueryCancelledScannedNothing: a query cancelled while it waited QUEUED never
// ran, so describe-query says it scanned nothing and took no time (a script adding up
// BytesScanned must not count the store for it), as a query that ran says what it scanned.
func TestAWSCLIQueuedQueryCancelledScannedNothing(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 20, awsapi.QueryOptions{MaxRunning: 1})
	long := "SELECT count(*) FROM " + ls.store.ID + " e, range(1000000000000) r WHERE r.range = -1"
	running := ls.must(t, ls.admin, "cloudtrail", "start-query", "--query-statement", long)["QueryId"].(string)
	queued := ls.must(t, ls.admin, "cloudtrail", "start-query", "--query-statement", long)["QueryId"].(string)
	if d := ls.must(t, ls.admin, "cloudtrail", "describe-query", "--query-id", queued); d["QueryStatus"] != "QUEUED" {
		t.Fatalf("second query with one running at a time: %v", d)
	}
	ls.must(t, ls.admin, "cloudtrail", "cancel-query", "--query-id", queued)
	ls.must(t, ls.admin, "cloudtrail", "cancel-query", "--query-id", running)
	for id, ran := range map[string]bool{queued: false, running: true} {
		d := ls.finish(t, ls.admin, id)
		st := d["QueryStatistics"].(map[string]any)
		if d["QueryStatus"] != "CANCELLED" || (st["EventsScanned"].(float64) == float64(ls.events)) != ran || (st["BytesScanned"].(float64) > 0) != ran ||
			!ran && st["ExecutionTimeInMillis"].(float64) != 0 {
			t.Errorf("query that ran=%v, cancelled: %v", ran, d)
		}
	}
}

// TestAWSCLIStartQueryByAliasIsUnsupported: StartQuery takes a QueryStatement or, for Lake's
// dashboards, a QueryAlias with QueryParameters; auditlake has no dashboards, and says so
// (UnsupportedOperationException) rather than that a QueryStatement is missing.
func TestAWSCLIStartQueryByAliasIsUnsupported(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	ls.refused(t, ls.admin, "UnsupportedOperationException", "cloudtrail", "start-query", "--query-alias", "top-services")
	ls.refused(t, ls.admin, "UnsupportedOperationException", "cloudtrail", "start-query", "--query-alias", "top-services", "--query-parameters", "2026-01-01", "7")
	ls.refused(t, ls.admin, "InvalidParameterException", "cloudtrail", "start-query", "--query-statement", " ")
}

// TestAWSCLIQueryNamingTheStoreByName: a statement may name a store by its name,
// "aws:cloudtrail".<name>, as auditlake query takes it; list-queries of that store lists the
// query and describe-query counts what it scanned, as for a statement naming the store's id.
// A statement that only mentions the name elsewhere is not the store's.
func TestAWSCLIQueryNamingTheStoreByName(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 10, awsapiDefaults)
	var byName []string
	for _, from := range []string{`"aws:cloudtrail".trail`, `"aws:cloudtrail"."trail"`, `"AWS:CloudTrail" . "Trail"`} {
		q := ls.must(t, ls.admin, "cloudtrail", "start-query", "--query-statement", "SELECT count(*) AS n FROM "+from)["QueryId"].(string)
		d := ls.finish(t, ls.admin, q)
		if d["QueryStatus"] != "FINISHED" || d["QueryStatistics"].(map[string]any)["EventsScanned"].(float64) != float64(ls.events) {
			t.Errorf("FROM %s: %v, want FINISHED having scanned %d events", from, d, ls.events)
		}
		byName = append([]string{q}, byName...)
	}
	other := ls.must(t, ls.admin, "cloudtrail", "start-query", "--query-statement", "SELECT 'trail' AS trail, 'aws:cloudtrail' AS s")["QueryId"].(string)
	ls.finish(t, ls.admin, other)
	var listed []string
	for _, x := range ls.must(t, ls.admin, "cloudtrail", "list-queries", "--event-data-store", "trail")["Queries"].([]any) {
		listed = append(listed, x.(map[string]any)["QueryId"].(string))
	}
	if !slices.Equal(listed, byName) {
		t.Errorf("list-queries: %v, want %v", listed, byName)
	}
}

// TestAWSCLIChannelDestinationIsTheStoresARN: a channel made with another region
// (auditlake channel create --region) keeps its own ARN, but get-channel names its destination
// by the store's ARN as get-event-data-store gives it (the server's region), so a script can
// find the channel that feeds a store by comparing the two.
func TestAWSCLIChannelDestinationIsTheStoresARN(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	acts, err := ls.lk.Create("app-activity", lake.CreateOptions{Type: lake.TypeActivity})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := integration.CreateChannel(ls.lk, "eu-app", acts.ID, integration.ChannelOptions{Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	storeARN := ls.must(t, ls.admin, "cloudtrail", "get-event-data-store", "--event-data-store", acts.ID)["EventDataStoreArn"]
	g, code := ls.cliOr(t, ls.admin, []string{"cloudtrail", "get-channel", "--channel", ch.ARN}, "/", "GetChannel", map[string]string{"Channel": ch.ARN})
	if code != "" {
		t.Fatalf("get-channel: %s", code)
	}
	if g["ChannelArn"] != ch.ARN || g["Destinations"].([]any)[0].(map[string]any)["Location"] != storeARN {
		t.Errorf("get-channel: %v, want the channel's own ARN and the destination %v", g, storeARN)
	}
}
