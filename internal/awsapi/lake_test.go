package awsapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/awsapi"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/server"
)

// Accounts of the test trail and the row filter of the filtered principal.
const (
	accountA  = "111122223333"
	accountB  = "444455556666"
	rowFilter = "recipientaccountid = '" + accountA + "'"
)

// lakeServer is a real auditlake server (lake, engine, access registry, API) on a loopback port
// with one CloudTrail store of known events and three principals: an admin, a reader whose
// grant shows only account A's rows, and a reader with no grant at all.
type lakeServer struct {
	url         string
	lk          *lake.Lake
	store       lake.Store
	admin       access.Credentials
	filtered    access.Credentials
	nobody      access.Credentials
	byAccount   map[string]int
	byEventName map[string]int
	events      int
}

var eventNames = []struct{ source, name string }{
	{"ec2.amazonaws.com", "RunInstances"}, {"ec2.amazonaws.com", "CreateTags"},
	{"signin.amazonaws.com", "ConsoleLogin"}, {"s3.amazonaws.com", "GetBucketAcl"},
}

// writeTrail writes n CloudTrail events (three in five of account A) as one delivery file and
// returns the counts by account and by event name.
func writeTrail(t testing.TB, dir string, n int) (byAccount, byName map[string]int) {
	t.Helper()
	byAccount, byName = map[string]int{}, map[string]int{}
	day := time.Now().UTC().AddDate(0, 0, -3).Truncate(24 * time.Hour)
	var recs []map[string]any
	for i := range n {
		acct := accountA
		if i%5 >= 3 {
			acct = accountB
		}
		ev := eventNames[i%len(eventNames)]
		byAccount[acct]++
		byName[ev.name]++
		recs = append(recs, map[string]any{
			"eventVersion": "1.08", "eventTime": day.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
			"eventSource": ev.source, "eventName": ev.name, "awsRegion": "us-east-1",
			"sourceIPAddress": "198.51.100.7", "userAgent": "test", "eventID": fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			"eventType": "AwsApiCall", "readOnly": false, "recipientAccountId": acct, "managementEvent": true, "eventCategory": "Management",
			"userIdentity": map[string]any{"type": "IAMUser", "accountId": acct, "arn": "arn:aws:iam::" + acct + ":user/u" + fmt.Sprint(i%3)},
		})
	}
	b, _ := json.Marshal(map[string]any{"Records": recs})
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(b)
	w.Close()
	p := filepath.Join(dir, "AWSLogs", accountA, "CloudTrail", "us-east-1", day.Format("2006/01/02"),
		accountA+"_CloudTrail_us-east-1_"+day.Format("20060102T1504Z")+"_test.json.gz")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return byAccount, byName
}

// startLakeServer starts the server; each of with may change the API's options (ls.lk is open).
func startLakeServer(t testing.TB, events int, qo awsapi.QueryOptions, with ...func(*lakeServer, *awsapi.Options)) *lakeServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	lk, err := lake.Open(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	ls := &lakeServer{lk: lk, events: events}
	ls.store, err = lk.Create("trail", lake.CreateOptions{Type: lake.TypeCloudTrail})
	if err != nil {
		t.Fatal(err)
	}
	ls.byAccount, ls.byEventName = writeTrail(t, filepath.Join(dir, "src"), events)
	if _, err := ingest.CloudTrail(ctx, lk, ls.store, ingest.Options{Sources: []string{filepath.Join(dir, "src")}}); err != nil {
		t.Fatal(err)
	}
	reg := access.Open(lk.Dir)
	if ls.admin, err = reg.CreateUser("alice", true, nil); err != nil {
		t.Fatal(err)
	}
	if ls.filtered, err = reg.CreateUser("carol", false, nil); err != nil {
		t.Fatal(err)
	}
	if ls.nobody, err = reg.CreateUser("dave", false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.AddGrant(access.Grant{Privilege: access.Select, Principal: "user:carol", Resource: "store:" + ls.store.ID, RowFilter: rowFilter}, nil); err != nil {
		t.Fatal(err)
	}
	b := app.New(lk, app.Options{})
	o := awsapi.Options{Backend: b, Lake: lk, Keys: reg, Queries: qo}
	for _, f := range with {
		f(ls, &o)
	}
	h := awsapi.New(o)
	s := server.New(b, slog.New(slog.DiscardHandler), server.Options{AWS: h})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(sctx, ln) }()
	t.Cleanup(func() {
		h.Close()
		cancel()
		<-done
		b.Close()
	})
	ls.url = "http://" + ln.Addr().String()
	return ls
}

// requireTool finds a client program; under CI (CI=true) a missing one fails the test, since
// .ci/run installs it, and elsewhere it skips.
func requireTool(t *testing.T, name string, check ...string) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil && len(check) > 0 {
		err = exec.Command(path, check...).Run()
	}
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI (.ci/run installs it): %v", name, err)
	}
	t.Skipf("%s not available: %v", name, err)
}

// clientEnv is the environment of an AWS client signing with creds: the test's own environment
// without any AWS_ setting, no configuration files, no instance metadata, one attempt.
func clientEnv(creds access.Credentials) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard")
}

var awsapiDefaults = awsapi.QueryOptions{}
