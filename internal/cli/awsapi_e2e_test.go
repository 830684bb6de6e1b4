package cli_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestServeAnswersTheCloudTrailLakeAPI: `serve` mounts the CloudTrail Lake API on its port
// (issue 18): an unsigned call is refused in AWS's shape, a call signed with a user's access key
// lists the stores, and a query runs to FINISHED.
func TestServeAnswersTheCloudTrailLakeAPI(t *testing.T) {
	dir := t.TempDir()
	var creds struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}
	if err := json.Unmarshal([]byte(mustRunTB(t, dir, "user", "create", "alice", "--admin", "--output", "json")), &creds); err != nil {
		t.Fatal(err)
	}
	storeID := mustRunTB(t, dir, "eds", "create", "aws-door")
	storeID = storeID[:len(storeID)-1]
	base := serve(t, dir, io.Discard)

	call := func(op string, in any, sign bool) (int, map[string]any) {
		t.Helper()
		body, _ := json.Marshal(in)
		r, _ := http.NewRequest(http.MethodPost, base+"/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "CloudTrail_20131101."+op)
		if sign {
			sum := sha256.Sum256(body)
			c := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}
			if err := v4.NewSigner().SignHTTP(context.Background(), c, r, hex.EncodeToString(sum[:]), "cloudtrail", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return resp.StatusCode, out
	}
	if status, out := call("ListEventDataStores", map[string]any{}, false); status != http.StatusForbidden || out["__type"] != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned: %d %v", status, out)
	}
	status, out := call("ListEventDataStores", map[string]any{}, true)
	if stores, _ := out["EventDataStores"].([]any); status != http.StatusOK || len(stores) != 1 || stores[0].(map[string]any)["Name"] != "aws-door" {
		t.Fatalf("signed ListEventDataStores: %d %v", status, out)
	}
	_, out = call("StartQuery", map[string]string{"QueryStatement": "SELECT count(*) AS n FROM " + storeID}, true)
	id, _ := out["QueryId"].(string)
	if id == "" {
		t.Fatalf("StartQuery: %v", out)
	}
	for {
		_, d := call("DescribeQuery", map[string]string{"QueryId": id}, true)
		if s := d["QueryStatus"]; s == "FINISHED" {
			break
		} else if s != "QUEUED" && s != "RUNNING" {
			t.Fatalf("query: %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, res := call("GetQueryResults", map[string]string{"QueryId": id}, true); res["QueryStatistics"].(map[string]any)["TotalResultsCount"] != 1.0 {
		t.Errorf("GetQueryResults: %v", res)
	}
}
