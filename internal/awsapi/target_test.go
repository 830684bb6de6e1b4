package awsapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/auditlake/auditlake/internal/awsapi"
)

// TestTheOperationMustBeSigned: the operation a request runs is its X-Amz-Target header, and
// the server accepted a signature that did not cover it (SignedHeaders without x-amz-target):
// the body, path and host were signed, but whoever saw such a request (a log, a proxy, plain
// HTTP) could send it again within the 15 minutes of its date with another operation on the
// same body — the admin's GetEventDataStore became DeleteEventDataStore of that store. Every
// AWS SDK and the AWS CLI sign X-Amz-Target; a request whose signature leaves it out is now
// refused (IncompleteSignatureException) and runs nothing.
func TestTheOperationMustBeSigned(t *testing.T) {
	ls := startLakeServer(t, 10, awsapiDefaults)
	body := []byte(`{"EventDataStore":"` + ls.store.ID + `"}`)
	r, err := http.NewRequest(http.MethodPost, ls.url+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: ls.admin.AccessKeyID, SecretAccessKey: ls.admin.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), awsapi.ServiceLake, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Amz-Target", awsapi.TargetPrefix+"DeleteEventDataStore") // after signing
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != "IncompleteSignatureException" {
		t.Errorf("DeleteEventDataStore with an X-Amz-Target the signature does not cover: %d %s, want 400 IncompleteSignatureException",
			resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	if _, err := ls.lk.Resolve(ls.store.ID); err != nil {
		t.Fatalf("the store after the request: %v", err)
	}
	// Signed as the SDKs sign it, the same operation runs.
	if _, code, err := ls.call(context.Background(), ls.admin, "GetEventDataStore", map[string]any{"EventDataStore": ls.store.ID}); err != nil || code != "" {
		t.Fatalf("GetEventDataStore signed by the SDK: %v %s", err, code)
	}
}
