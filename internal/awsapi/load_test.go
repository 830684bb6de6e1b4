package awsapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/auditlake/auditlake/internal/access"
)

// call sends one CloudTrail operation signed by the AWS SDK for Go's signer and decodes the
// answer; code is the error's __type ("" on success).
func (ls *lakeServer) call(ctx context.Context, creds access.Credentials, op string, in any) (out map[string]any, code string, err error) {
	return ls.send(ctx, creds, "cloudtrail", "/", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."+op, in)
}

// send posts in as JSON to path (with its query) signed for service, with X-Amz-Target target
// when not empty.
func (ls *lakeServer) send(ctx context.Context, creds access.Credentials, service, path, target string, in any) (out map[string]any, code string, err error) {
	body, _ := json.Marshal(in)
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, ls.url+path, bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		r.Header.Set("X-Amz-Target", target)
	}
	sum := sha256.Sum256(body)
	c := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, c, r, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		return nil, "", err
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, "", fmt.Errorf("%s %s: HTTP %d, body %q is not JSON", path, target, resp.StatusCode, b)
	}
	if resp.StatusCode != http.StatusOK {
		if resp.Header.Get("X-Amzn-ErrorType") != out["__type"] {
			return nil, "", fmt.Errorf("%s %s: X-Amzn-ErrorType %q but __type %v", path, target, resp.Header.Get("X-Amzn-ErrorType"), out["__type"])
		}
		return out, fmt.Sprint(out["__type"]), nil
	}
	return out, "", nil
}

// query runs sql to the end the way a client does (StartQuery, DescribeQuery until done,
// GetQueryResults) and returns its rows.
func (ls *lakeServer) query(ctx context.Context, creds access.Credentials, sql string) ([]map[string]string, error) {
	out, code, err := ls.call(ctx, creds, "StartQuery", map[string]string{"QueryStatement": sql})
	if err != nil || code != "" {
		return nil, fmt.Errorf("StartQuery: %v %s %v", err, code, out)
	}
	id := out["QueryId"].(string)
	for {
		d, code, err := ls.call(ctx, creds, "DescribeQuery", map[string]string{"QueryId": id})
		if err != nil || code != "" {
			return nil, fmt.Errorf("DescribeQuery: %v %s %v", err, code, d)
		}
		if s := d["QueryStatus"]; s == "FINISHED" {
			break
		} else if s != "QUEUED" && s != "RUNNING" {
			return nil, fmt.Errorf("query %s: %v", s, d["ErrorMessage"])
		}
		time.Sleep(2 * time.Millisecond)
	}
	res, code, err := ls.call(ctx, creds, "GetQueryResults", map[string]any{"QueryId": id})
	if err != nil || code != "" {
		return nil, fmt.Errorf("GetQueryResults: %v %s %v", err, code, res)
	}
	var rows []map[string]string
	for _, r := range res["QueryResultRows"].([]any) {
		row := map[string]string{}
		for _, c := range r.([]any) {
			for k, v := range c.(map[string]any) {
				row[k] = v.(string)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// BenchmarkStartQueryToFinished measures issue 18's latency target (StartQuery→FINISHED of a
// small query ≤ 50 ms): StartQuery, then DescribeQuery until FINISHED, over HTTP with SigV4.
func BenchmarkStartQueryToFinished(b *testing.B) {
	ls := startLakeServer(b, 1000, awsapiDefaults)
	ctx := context.Background()
	sql := "SELECT eventname, count(*) AS n FROM " + ls.store.ID + " GROUP BY 1"
	if _, err := ls.query(ctx, ls.admin, sql); err != nil { // a warm session, as a server has
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		out, code, err := ls.call(ctx, ls.admin, "StartQuery", map[string]string{"QueryStatement": sql})
		if err != nil || code != "" {
			b.Fatal(err, code)
		}
		for {
			d, _, err := ls.call(ctx, ls.admin, "DescribeQuery", map[string]string{"QueryId": out["QueryId"].(string)})
			if err != nil {
				b.Fatal(err)
			}
			if d["QueryStatus"] == "FINISHED" {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// TestStressTwentyConcurrentClients is issue 18's load test: 20 clients (15 as the admin, 5 as
// the row-filtered reader) each run queries to the end, over and over, for a bounded time — 3
// seconds in make test, 60 under make stress (AUDITLAKE_STRESS=1) — and every one succeeds
// with the right answer.
func TestStressTwentyConcurrentClients(t *testing.T) {
	run := 3 * time.Second
	if os.Getenv("AUDITLAKE_STRESS") != "" {
		run = 60 * time.Second
	}
	ls := startLakeServer(t, 200, awsapiDefaults)
	sql := "SELECT recipientaccountid, count(*) AS n FROM " + ls.store.ID + " GROUP BY 1"
	want := map[bool]map[string]int{false: ls.byAccount, true: {accountA: ls.byAccount[accountA]}}
	ctx := context.Background()
	deadline := time.Now().Add(run)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		done int
	)
	for i := range 20 {
		filtered := i%4 == 3
		creds := ls.admin
		if filtered {
			creds = ls.filtered
		}
		wg.Go(func() {
			for n := 0; n == 0 || time.Now().Before(deadline); n++ {
				rows, err := ls.query(ctx, creds, sql)
				got := map[string]int{}
				for _, r := range rows {
					got[r["recipientaccountid"]], _ = strconv.Atoi(r["n"])
				}
				if err == nil && !maps.Equal(got, want[filtered]) {
					err = fmt.Errorf("client %d (filtered %v) got %v, want %v", i, filtered, got, want[filtered])
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				done++
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	t.Logf("20 clients ran %d queries in %s", done, run)
}
