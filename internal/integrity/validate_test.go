package integrity_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/integrity"
	"github.com/auditlake/auditlake/internal/integrity/digesttest"
	"github.com/auditlake/auditlake/internal/objstore"
)

// The trail every test starts from: digest 0 is a starting digest over two log files, digest 1
// covers an empty hour, digests 2 and 3 one log file each.
var sampleFiles = [][]string{
	{"aws.defense-evasion.cloudtrail-stop.json", "aws.defense-evasion.cloudtrail-delete.json"},
	{},
	{"aws.exfiltration.ec2-share-ami.json"},
	{"aws.persistence.iam-backdoor-user.json"},
}

func buildTrail(t *testing.T, key *rsa.PrivateKey) *digesttest.Trail {
	t.Helper()
	var hours [][][]byte
	for _, names := range sampleFiles {
		hours = append(hours, digesttest.Samples(t, names...))
	}
	return digesttest.Build(t, t.TempDir(), key, hours)
}

// names gives every file of a trail a short name: D0..D3 for digests, L0a, L0b, L2, L3 for logs.
func names(tr *digesttest.Trail) map[string]string {
	m := map[string]string{}
	for i, d := range tr.Digests {
		m[d] = "D" + string(rune('0'+i))
		for j, l := range tr.Logs[i] {
			n := "L" + string(rune('0'+i))
			if len(tr.Logs[i]) > 1 {
				n += string(rune('a' + j))
			}
			m[l] = n
		}
	}
	return m
}

func allValid(tr *digesttest.Trail) map[string]integrity.Status {
	want := map[string]integrity.Status{}
	for _, n := range names(tr) {
		want[n] = integrity.StatusValid
	}
	return want
}

// statuses maps a report back to short names; files not in the trail keep their key.
func statuses(t *testing.T, tr *digesttest.Trail, rep *integrity.Report, s3 bool) map[string]integrity.Status {
	t.Helper()
	n := names(tr)
	got := map[string]integrity.Status{}
	for _, v := range rep.Verdicts {
		var key string
		if s3 {
			key = strings.TrimPrefix(v.File, "s3://"+tr.Bucket+"/")
		} else {
			rel, err := filepath.Rel(tr.Root, v.File)
			if err != nil {
				t.Fatal(err)
			}
			key = filepath.ToSlash(rel)
		}
		name, ok := n[key]
		if !ok {
			name = key
		}
		if _, dup := got[name]; dup {
			t.Errorf("two verdicts for %s", name)
		}
		got[name] = v.Status
	}
	return got
}

func keySet(t *testing.T, keys ...*rsa.PrivateKey) integrity.KeySet { return keySetTB(t, keys...) }

func keySetTB(t testing.TB, keys ...*rsa.PrivateKey) integrity.KeySet {
	t.Helper()
	var pemText []byte
	for _, k := range keys {
		pemText = append(pemText, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)})...)
	}
	set, err := integrity.ParseKeys(pemText)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// tamperCases each change a fresh trail and say which verdicts change from valid.
func tamperCases(other *rsa.PrivateKey) []struct {
	name    string
	tamper  func(t *testing.T, tr *digesttest.Trail)
	changes map[string]integrity.Status
} {
	return []struct {
		name    string
		tamper  func(t *testing.T, tr *digesttest.Trail)
		changes map[string]integrity.Status
	}{
		{
			name:    "untouched trail with empty hour and starting digest is all valid",
			tamper:  func(*testing.T, *digesttest.Trail) {},
			changes: nil,
		},
		{
			name: "log file edited after delivery is modified",
			tamper: func(t *testing.T, tr *digesttest.Trail) {
				tr.Rewrite(t, tr.Logs[2][0], func(p []byte) []byte {
					return bytes.Replace(p, []byte(`"eventName"`), []byte(`"eventname"`), 1)
				})
			},
			changes: map[string]integrity.Status{"L2": integrity.StatusModified},
		},
		{
			name:    "log file removed after delivery is deleted",
			tamper:  func(t *testing.T, tr *digesttest.Trail) { tr.Remove(t, tr.Logs[0][1]) },
			changes: map[string]integrity.Status{"L0b": integrity.StatusDeleted},
		},
		{
			name: "log file added inside a digested hour is not covered",
			tamper: func(t *testing.T, tr *digesttest.Trail) {
				recs := digesttest.Samples(t, "aws.exfiltration.ec2-share-ebs-snapshot.json")[0]
				tr.WriteFile(t, tr.LogKey(digesttest.Start.Add(2*time.Hour+40*time.Minute), 7),
					digesttest.Gzip(t, []byte(`{"Records":`+string(recs)+`}`)))
			},
			changes: map[string]integrity.Status{
				"corp/AWSLogs/111122223333/CloudTrail/us-east-1/2024/07/31/111122223333_CloudTrail_us-east-1_20240731T1241Z_" +
					digesttest.SHA256([]byte(digesttest.Start.Add(2*time.Hour+40*time.Minute).String() + "h"))[:16] + ".json.gz": integrity.StatusNotCovered,
			},
		},
		{
			name: "digest rewritten to hide an edited log file is modified and its log not covered",
			tamper: func(t *testing.T, tr *digesttest.Trail) {
				var oldHash, newHash string
				tr.Rewrite(t, tr.Logs[2][0], func(p []byte) []byte {
					oldHash = digesttest.SHA256(p)
					q := bytes.Replace(p, []byte(`"eventName"`), []byte(`"eventname"`), 1)
					newHash = digesttest.SHA256(q)
					return q
				})
				tr.Rewrite(t, tr.Digests[2], func(p []byte) []byte {
					return bytes.Replace(p, []byte(oldHash), []byte(newHash), 1)
				})
			},
			changes: map[string]integrity.Status{"D2": integrity.StatusModified, "L2": integrity.StatusNotCovered},
		},
		{
			name:    "middle digest deleted is missing and the chain resumes before it",
			tamper:  func(t *testing.T, tr *digesttest.Trail) { tr.Remove(t, tr.Digests[1]) },
			changes: map[string]integrity.Status{"D1": integrity.StatusMissing},
		},
		{
			name:    "digest deleted to hide its log file is missing and the log not covered",
			tamper:  func(t *testing.T, tr *digesttest.Trail) { tr.Remove(t, tr.Digests[2]) },
			changes: map[string]integrity.Status{"D2": integrity.StatusMissing, "L2": integrity.StatusNotCovered},
		},
		{
			name: "newest digest with another digest's signature has an invalid signature",
			tamper: func(t *testing.T, tr *digesttest.Trail) {
				side, err := os.ReadFile(tr.Path(tr.Digests[2]) + integrity.SidecarSuffix)
				if err != nil {
					t.Fatal(err)
				}
				tr.WriteFile(t, tr.Digests[3]+integrity.SidecarSuffix, side)
			},
			changes: map[string]integrity.Status{"D3": integrity.StatusInvalidSignature, "L3": integrity.StatusNotCovered},
		},
		{
			name:    "newest digest signed by a key not in the set has an invalid signature",
			tamper:  func(t *testing.T, tr *digesttest.Trail) { tr.Resign(t, 3, other) },
			changes: map[string]integrity.Status{"D3": integrity.StatusInvalidSignature, "L3": integrity.StatusNotCovered},
		},
		{
			name: "digest copied over another digest's place is modified",
			tamper: func(t *testing.T, tr *digesttest.Trail) {
				data, err := os.ReadFile(tr.Path(tr.Digests[1]))
				if err != nil {
					t.Fatal(err)
				}
				tr.WriteFile(t, tr.Digests[2], data)
			},
			changes: map[string]integrity.Status{"D2": integrity.StatusModified, "L2": integrity.StatusNotCovered},
		},
	}
}

func TestValidateReportsEachTamperingLocalAndS3(t *testing.T) {
	key, other := digesttest.NewKey(t), digesttest.NewKey(t)
	keys := keySet(t, key)
	for _, tc := range tamperCases(other) {
		for _, backend := range []string{"local", "s3"} {
			t.Run(tc.name+"/"+backend, func(t *testing.T) {
				tr := buildTrail(t, key)
				tc.tamper(t, tr)
				want := allValid(tr)
				maps.Copy(want, tc.changes)
				source, client := tr.Source(), objstore.New(objstore.Options{})
				if backend == "s3" {
					client = objstore.New(objstore.Options{EndpointURL: tr.Serve(t)})
					source = "s3://" + tr.Bucket + "/" + tr.Prefix + "/"
				}
				rep, err := integrity.Validate(context.Background(), client, source, keys, time.Time{}, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				got := statuses(t, tr, rep, backend == "s3")
				if !maps.Equal(got, want) {
					t.Errorf("verdicts:\n got %v\nwant %v", got, want)
					for _, v := range rep.Verdicts {
						t.Logf("%s %s %s %s", v.Kind, v.Status, v.File, v.Detail)
					}
				}
				if gotOK, wantOK := rep.OK(), len(tc.changes) == 0; gotOK != wantOK {
					t.Errorf("OK() = %v, want %v", gotOK, wantOK)
				}
			})
		}
	}
}
