package integrity_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/integrity"
	"github.com/auditlake/auditlake/internal/integrity/digesttest"
	"github.com/auditlake/auditlake/internal/objstore"
)

// TestStringToSignIsAWSLayout pins the signed string to the form in AWS's custom-validation
// documentation, independently of the test signer (which uses the same function).
func TestStringToSignIsAWSLayout(t *testing.T) {
	prev := "50887ccf"
	f := func(prevSig *string, want string) {
		t.Helper()
		got := string(integrity.StringToSign("2015-08-17T15:01:31Z", "S3-bucket-name", "AWSLogs/x.json.gz", "9bb6", prevSig))
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	f(&prev, "2015-08-17T15:01:31Z\nS3-bucket-name/AWSLogs/x.json.gz\n9bb6\n50887ccf")
	f(nil, "2015-08-17T15:01:31Z\nS3-bucket-name/AWSLogs/x.json.gz\n9bb6\nnull")
}

func listPublicKeysJSON(t *testing.T, fingerprint string, der []byte) []byte {
	t.Helper()
	out, err := json.Marshal(map[string]any{"PublicKeyList": []map[string]any{{
		"Value":             base64.StdEncoding.EncodeToString(der),
		"ValidityStartTime": "2024-07-01T00:00:00+00:00",
		"ValidityEndTime":   1735689600, // the CLI's "wire" timestamp form
		"Fingerprint":       fingerprint,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseKeysFormsSelectTheSigningKey(t *testing.T) {
	key := digesttest.NewKey(t)
	pkix, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(&key.PublicKey)
	fp := integrity.Fingerprint(&key.PublicKey)
	tr := buildTrail(t, key)
	cases := []struct {
		name      string
		input     []byte
		wantValid bool
	}{
		{"list-public-keys json with x.509 value", listPublicKeysJSON(t, fp, pkix), true},
		{"list-public-keys json with pkcs1 value", listPublicKeysJSON(t, fp, pkcs1), true},
		{"list-public-keys json with uppercase fingerprint", listPublicKeysJSON(t, strings.ToUpper(fp), pkix), true},
		{"list-public-keys json under another fingerprint", listPublicKeysJSON(t, "31e8b5433410dfb61a9dc45cc65b22ff", pkix), false},
		{"pem pkcs1 block", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}), true},
		{"pem x.509 block after another key", append(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY",
			Bytes: x509.MarshalPKCS1PublicKey(&digesttest.NewKey(t).PublicKey)}),
			pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})...), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := integrity.ParseKeys(tc.input)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := integrity.Validate(context.Background(), objstore.New(objstore.Options{}), tr.Source(), keys, time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.OK(); got != tc.wantValid {
				t.Errorf("OK() = %v, want %v; %s", got, tc.wantValid, rep.Counts())
			}
		})
	}
}

func TestParseKeysKeepsValidityWindow(t *testing.T) {
	key := digesttest.NewKey(t)
	fp := integrity.Fingerprint(&key.PublicKey)
	keys, err := integrity.ParseKeys(listPublicKeysJSON(t, fp, x509.MarshalPKCS1PublicKey(&key.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := keys.Lookup(fp)
	if !ok {
		t.Fatalf("no key %s", fp)
	}
	if want := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC); !got.ValidFrom.Equal(want) {
		t.Errorf("ValidFrom = %v, want %v", got.ValidFrom, want)
	}
	if want := time.Unix(1735689600, 0); !got.ValidTo.Equal(want) {
		t.Errorf("ValidTo = %v, want %v", got.ValidTo, want)
	}
	if got.Key.N.Cmp(key.PublicKey.N) != 0 {
		t.Errorf("parsed key differs from the one encoded")
	}
}

func TestParseKeysRejectsUnusableInput(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecKeyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER}))
	for _, in := range []string{"", "not a key", `{"PublicKeyList":[]}`, `{"PublicKeyList":[{"Value":"!!","Fingerprint":"ab"}]}`, ecKeyPEM} {
		if _, err := integrity.ParseKeys([]byte(in)); err == nil {
			t.Errorf("ParseKeys(%.30q) = nil error, want one", in)
		}
	}
}

// TestFingerprintMatchesAWSPublishedKey checks the fingerprint rule against the one key and
// fingerprint AWS has published together (the aws-cli list-public-keys example): the
// fingerprint is the hex MD5 of the PKCS #1 DER key. It also reads the CLI's epoch-seconds times.
func TestFingerprintMatchesAWSPublishedKey(t *testing.T) {
	data, err := os.ReadFile(digesttest.RepoFile(t, "testdata/aws-cli-list-public-keys-example/list-public-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "7f3f401420072e50a65a141430817ab3"
	keys, err := integrity.ParseKeys(data)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := keys.Lookup(want)
	if !ok {
		t.Fatalf("no key under the published fingerprint %s", want)
	}
	if got := integrity.Fingerprint(k.Key); got != want {
		t.Errorf("Fingerprint(published key) = %s, want %s", got, want)
	}
	if got, want := k.ValidFrom, time.Unix(1453076702, 0).UTC(); !got.Equal(want) {
		t.Errorf("ValidFrom = %v, want %v", got, want)
	}
	// The same key as PEM (no fingerprint given) is filed under the same fingerprint.
	pemKeys, err := integrity.ParseKeys(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustPKIX(t, k.Key)}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pemKeys.Lookup(want); !ok {
		t.Errorf("pem form of the published key is not found under %s", want)
	}
}

func mustPKIX(t *testing.T, k *rsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// FuzzParseKeys: any input either fails or yields keys that all have a fingerprint and a key.
func FuzzParseKeys(f *testing.F) {
	if data, err := os.ReadFile(digesttest.RepoFile(f, "testdata/aws-cli-list-public-keys-example/list-public-keys.json")); err == nil {
		f.Add(data)
	}
	f.Add([]byte("-----BEGIN RSA PUBLIC KEY-----\nMAA=\n-----END RSA PUBLIC KEY-----\n"))
	f.Add([]byte(`{"PublicKeyList":[{"Value":"","Fingerprint":"x","ValidityStartTime":1e300}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := integrity.ParseKeys(data)
		if err != nil {
			return
		}
		if keys.Len() == 0 {
			t.Fatalf("no error and no keys")
		}
	})
}
