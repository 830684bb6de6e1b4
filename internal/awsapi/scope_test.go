package awsapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/awsapi"
	"github.com/auditlake/auditlake/internal/server"
)

// signedCall sends ListEventDataStores to ls signed by the AWS SDK for Go's signer for region
// and service at path (with its query), lets tweak change the signed request, and returns the
// HTTP status and the AWS error code ("" on success).
func (ls *lakeServer) signedCall(t *testing.T, creds access.Credentials, region, service, path string, tweak func(r *http.Request)) (int, string) {
	t.Helper()
	body := []byte(`{}`)
	r, err := http.NewRequest(http.MethodPost, ls.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", awsapi.TargetPrefix+"ListEventDataStores")
	sum := sha256.Sum256(body)
	c := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), c, r, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(r)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType")
}

// TestSignatureMustNameTheServersRegionServiceAndOneMechanism: a signature is valid only for the
// server's region and the cloudtrail service, and a request carries one: a second Authorization
// header, or query string authentication besides the header, is 400 IncompleteSignatureException
// instead of the first one checked and the other ignored. Each refusal counts in the shared
// failed-authentication limit.
func TestSignatureMustNameTheServersRegionServiceAndOneMechanism(t *testing.T) {
	failures := server.NewFailureLimiter(server.Options{LoginFailuresPerKey: 100, LoginFailuresPerAddress: 11})
	ls := startLakeServer(t, 10, awsapiDefaults, func(_ *lakeServer, o *awsapi.Options) {
		o.Region = "eu-west-3"
		o.Failures = failures
	})
	f := func(name, region, service, path string, tweak func(*http.Request), wantStatus int, wantCode string) {
		t.Helper()
		status, code := ls.signedCall(t, ls.admin, region, service, path, tweak)
		if status != wantStatus || code != wantCode {
			t.Errorf("%s: HTTP %d %q, want %d %q", name, status, code, wantStatus, wantCode)
		}
	}
	f("the server's region", "eu-west-3", "cloudtrail", "/", nil, 200, "")
	f("another region", "us-east-1", "cloudtrail", "/", nil, 403, "InvalidSignatureException")
	f("no region", "", "cloudtrail", "/", nil, 403, "InvalidSignatureException")
	f("the data service on /", "eu-west-3", "cloudtrail-data", "/", nil, 400, "IncompleteSignatureException")
	f("another service", "eu-west-3", "sts", "/", nil, 400, "IncompleteSignatureException")

	// A valid signature plus another Authorization header, in either order.
	other := "AWS4-HMAC-SHA256 Credential=" + ls.filtered.AccessKeyID + "/20200101/eu-west-3/cloudtrail/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("0", 64)
	f("a second Authorization header after", "eu-west-3", "cloudtrail", "/", func(r *http.Request) { r.Header.Add("Authorization", other) }, 400, "IncompleteSignatureException")
	f("a second Authorization header before", "eu-west-3", "cloudtrail", "/", func(r *http.Request) {
		valid := r.Header.Get("Authorization")
		r.Header["Authorization"] = []string{other, valid}
	}, 400, "IncompleteSignatureException")
	f("the same Authorization header twice", "eu-west-3", "cloudtrail", "/", func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }, 400, "IncompleteSignatureException")
	// Query string authentication in the signed URL besides the header (the header's
	// signature covers the query, so it alone would verify).
	f("header and query auth", "eu-west-3", "cloudtrail", "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Signature=00", nil, 400, "IncompleteSignatureException")
	f("header and a query signature alone", "eu-west-3", "cloudtrail", "/?X-Amz-Signature=00", nil, 400, "IncompleteSignatureException")
	f("X-Amz-Date twice", "eu-west-3", "cloudtrail", "/", func(r *http.Request) { r.Header.Add("X-Amz-Date", "20200101T000000Z") }, 400, "IncompleteSignatureException")

	// Every refusal above (10, none a missing signature) counted against the client's address:
	// with a limit of 11 one more reaches it, and then even a good signature is throttled.
	f("one more refusal", "us-east-1", "cloudtrail", "/", nil, 403, "InvalidSignatureException")
	f("a good signature after 11 refusals", "eu-west-3", "cloudtrail", "/", nil, 429, "ThrottlingException")
}

// TestAWSCLIMustSignForTheServersRegion: the AWS CLI configured for another region than the
// server's is refused with InvalidSignatureException; for the server's region it works and the
// ARNs name that region.
func TestAWSCLIMustSignForTheServersRegion(t *testing.T) {
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 10, awsapiDefaults, func(_ *lakeServer, o *awsapi.Options) { o.Region = "eu-west-3" })
	run := func(region string) (string, error) {
		cmd := exec.Command("aws", "cloudtrail", "list-event-data-stores", "--endpoint-url", ls.url, "--region", region, "--output", "json")
		cmd.Env = clientEnv(ls.admin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("us-east-1"); err == nil || !strings.Contains(out, "InvalidSignatureException") || !strings.Contains(out, "eu-west-3") {
		t.Errorf("signed for us-east-1: %v\n%s", err, out)
	}
	if out, err := run("eu-west-3"); err != nil || !strings.Contains(out, "arn:aws:cloudtrail:eu-west-3:") {
		t.Errorf("signed for eu-west-3: %v\n%s", err, out)
	}
}
