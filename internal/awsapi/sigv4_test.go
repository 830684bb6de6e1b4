package awsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/auditlake/auditlake/internal/access"
)

// TestSignatureOfAWSDocumentedExample holds the canonical request, the signing key and the
// signature to the worked example of AWS's SigV4 documentation (IAM ListUsers, 2015-08-30).
func TestSignatureOfAWSDocumentedExample(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	r.Host = "iam.amazonaws.com"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	empty := sha256.Sum256(nil)
	cr := canonicalRequest(r, []string{"content-type", "host", "x-amz-date"}, hex.EncodeToString(empty[:]))
	crHash := sha256.Sum256([]byte(cr))
	if got, want := hex.EncodeToString(crHash[:]), "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"; got != want {
		t.Fatalf("canonical request hash %s, want %s; canonical request:\n%s", got, want, cr)
	}
	toSign := "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n" + hex.EncodeToString(crHash[:])
	sig := hex.EncodeToString(hmacSHA256(signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam"), toSign))
	if want := "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"; sig != want {
		t.Fatalf("signature %s, want %s", sig, want)
	}
}

// signed returns a request signed by the AWS SDK for Go's own signer (an implementation
// independent of the verifier) with creds at time at, for service.
func signed(t *testing.T, creds access.Credentials, method, url string, body []byte, service string, at time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, url, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "CloudTrail_20131101.ListEventDataStores")
	sum := sha256.Sum256(body)
	c := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), c, r, hex.EncodeToString(sum[:]), service, "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerifyAcceptsSDKSignedRequestsAndRefusesEveryTampering(t *testing.T) {
	reg := access.Open(t.TempDir())
	creds, err := reg.CreateUser("alice", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	body := []byte(`{"MaxResults":5}`)
	check := func(name string, r *http.Request, body []byte, at time.Time, wantCode string) {
		t.Helper()
		v, e := verify(r, body, reg, at, DefaultRegion, ServiceLake)
		switch {
		case wantCode == "" && e != nil:
			t.Errorf("%s: refused: %v", name, e)
		case wantCode == "" && (v.principal.User != "alice" || v.keyID != creds.AccessKeyID || v.region != "us-east-1"):
			t.Errorf("%s: verified as %+v", name, v)
		case wantCode != "" && e == nil:
			t.Errorf("%s: accepted, want %s", name, wantCode)
		case wantCode != "" && e.Code != wantCode:
			t.Errorf("%s: %s (%s), want %s", name, e.Code, e.Message, wantCode)
		}
	}
	url := "http://127.0.0.1:8080/?b=2&a=x%20y&a=1"
	check("signed", signed(t, creds, http.MethodPost, url, body, ServiceLake, now), body, now, "")
	check("signed 14 min ago", signed(t, creds, http.MethodPost, url, body, ServiceLake, now.Add(-14*time.Minute)), body, now, "")
	check("signed 16 min ago", signed(t, creds, http.MethodPost, url, body, ServiceLake, now.Add(-16*time.Minute)), body, now, "InvalidSignatureException")
	check("signed 16 min ahead", signed(t, creds, http.MethodPost, url, body, ServiceLake, now.Add(16*time.Minute)), body, now, "InvalidSignatureException")
	check("other body", signed(t, creds, http.MethodPost, url, body, ServiceLake, now), []byte(`{"MaxResults":6}`), now, "InvalidSignatureException")
	check("other service", signed(t, creds, http.MethodPost, url, body, "s3", now), body, now, "IncompleteSignatureException")

	r := signed(t, creds, http.MethodPost, url, body, ServiceLake, now)
	r.Header.Set("X-Amz-Target", "CloudTrail_20131101.DeleteEventDataStore")
	check("signed header changed", r, body, now, "InvalidSignatureException")

	r = signed(t, creds, http.MethodPost, url, body, ServiceLake, now)
	r.URL.RawQuery = "b=2&a=1"
	check("query changed", r, body, now, "InvalidSignatureException")

	r = signed(t, creds, http.MethodPost, url, body, ServiceLake, now)
	r.Host = "evil.example:8080"
	check("host changed", r, body, now, "InvalidSignatureException")

	r = signed(t, creds, http.MethodPost, url, body, ServiceLake, now)
	r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
	check("payload hash header lies", r, body, now, "InvalidSignatureException")

	wrong := creds
	wrong.SecretAccessKey = strings.Repeat("x", 40)
	check("wrong secret", signed(t, wrong, http.MethodPost, url, body, ServiceLake, now), body, now, "InvalidSignatureException")
	unknown := creds
	unknown.AccessKeyID = "ALAKAAAAAAAAAAAAAAAA"
	check("unknown key", signed(t, unknown, http.MethodPost, url, body, ServiceLake, now), body, now, "UnrecognizedClientException")

	r = signed(t, creds, http.MethodPost, url, body, ServiceLake, now)
	r.Header.Del("Authorization")
	check("unsigned", r, body, now, "MissingAuthenticationTokenException")

	r = signed(t, creds, http.MethodPost, url, body, ServiceLake, now)
	r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=", "SignedHeaders=x;", 1))
	check("signed header list changed", r, body, now, "InvalidSignatureException")

	r = signed(t, creds, http.MethodPost, url, body, ServiceLake, now)
	r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
	check("host not signed", r, body, now, "IncompleteSignatureException")

	for _, bad := range []string{"AWS4-HMAC-SHA256", "Basic abc", "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA256 Credential=" + creds.AccessKeyID + "/20200101/us-east-1/cloudtrail/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("a", 64)} {
		r = signed(t, creds, http.MethodPost, url, body, ServiceLake, now)
		r.Header.Set("Authorization", bad)
		check("malformed "+bad, r, body, now, "IncompleteSignatureException")
	}

	if err := reg.SetDisabled("alice", "", true); err != nil {
		t.Fatal(err)
	}
	check("disabled user", signed(t, creds, http.MethodPost, url, body, ServiceLake, now), body, now, "UnrecognizedClientException")
}

func TestURIEncodeKeepsOnlyUnreservedCharacters(t *testing.T) {
	f := func(in string, slash bool, want string) {
		t.Helper()
		if got := uriEncode(in, slash); got != want {
			t.Errorf("uriEncode(%q, %v) = %q, want %q", in, slash, got, want)
		}
	}
	f("AZaz09-._~", false, "AZaz09-._~")
	f("a b+c/d=é", false, "a%20b%2Bc%2Fd%3D%C3%A9")
	f("/a b/", true, "/a%20b/")
	f("%2F", true, "%252F")
}

func FuzzVerifyNeverPanics(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=ALAK/20200101/us-east-1/cloudtrail/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20200101T000000Z", "a=%zz&b")
	f.Fuzz(func(t *testing.T, auth, date, query string) {
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", nil)
		r.URL.RawQuery = query
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		reg := access.Open(t.TempDir())
		if v, e := verify(r, nil, reg, time.Now(), DefaultRegion, ServiceLake); e == nil || v != nil {
			t.Fatalf("a forged request was accepted: %+v", v)
		}
	})
}

func TestStatementStartSkipsCommentsAndParentheses(t *testing.T) {
	f := func(sql, want string) {
		t.Helper()
		if got := statementStart(sql); got != want {
			t.Errorf("statementStart(%q) = %q, want %q", sql, got, want)
		}
	}
	f("SELECT\t1", "SELECT")
	f("  select*from t", "SELECT")
	f("-- c\n/* d */ ((WITH x AS (SELECT 1) SELECT * FROM x))", "WITH")
	f("/* unclosed", "")
	f("DELETE FROM t", "DELETE")
	f("", "")
}
