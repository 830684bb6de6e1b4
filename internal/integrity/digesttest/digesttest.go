// Package digesttest builds signed CloudTrail trails for tests: real log files (gzipped
// {"Records":[…]} from recorded events) and hourly digest files in AWS's exact key layout and
// JSON, chained and signed with an RSA key the test makes, written to a local directory that
// stands for the bucket, with each digest's S3 metadata in a "<digest>.metadata.json" sidecar.
// Serve puts the same tree into an in-process S3 server (gofakes3) with the signatures as user
// metadata. Only tests import this package.
package digesttest

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/auditlake/auditlake/internal/integrity"
)

// Trail is a generated trail: Root/<key> holds each object of s3://Bucket/<key>.
type Trail struct {
	Root                                  string
	Bucket, Prefix, Account, Region, Name string
	Key                                   *rsa.PrivateKey
	// Digests are the digest keys, oldest first; Logs[i] are the log keys digest i lists.
	Digests []string
	Logs    [][]string
	docs    []*DigestDoc
	sigs    []string
}

// DigestDoc is a digest file's JSON, fields in the order CloudTrail writes them.
type DigestDoc struct {
	AWSAccountID                string    `json:"awsAccountId"`
	DigestStartTime             string    `json:"digestStartTime"`
	DigestEndTime               string    `json:"digestEndTime"`
	DigestS3Bucket              string    `json:"digestS3Bucket"`
	DigestS3Object              string    `json:"digestS3Object"`
	DigestPublicKeyFingerprint  string    `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    string    `json:"digestSignatureAlgorithm"`
	NewestEventTime             *string   `json:"newestEventTime"`
	OldestEventTime             *string   `json:"oldestEventTime"`
	PreviousDigestS3Bucket      *string   `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string   `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string   `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string   `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     *string   `json:"previousDigestSignature"`
	LogFiles                    []LogFile `json:"logFiles"`
}

// LogFile is one logFiles[] entry of a digest.
type LogFile struct {
	S3Bucket        string `json:"s3Bucket"`
	S3Object        string `json:"s3Object"`
	HashValue       string `json:"hashValue"`
	HashAlgorithm   string `json:"hashAlgorithm"`
	NewestEventTime string `json:"newestEventTime"`
	OldestEventTime string `json:"oldestEventTime"`
}

// Start is the start of the first digest hour of every generated trail.
var Start = time.Date(2024, 7, 31, 10, 1, 31, 0, time.UTC)

// RepoFile returns the path of a file given relative to the repository root (found by walking up
// from the working directory to go.mod).
func RepoFile(tb testing.TB, rel string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, filepath.FromSlash(rel))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Samples returns the record arrays of the named Stratus Red Team detonation logs in
// testdata/stratus-red-team-detonation-logs.
func Samples(tb testing.TB, names ...string) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(RepoFile(tb, "testdata/stratus-red-team-detonation-logs/"+n))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// NewKey returns a fresh 2048-bit RSA key.
func NewKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// Build writes a trail under root: one digest per hour from Start, hour i listing one log file
// per record array in hours[i] (an empty hour gets a digest with no log files). Digest 0 is a
// starting digest; each later one chains to its predecessor.
func Build(tb testing.TB, root string, key *rsa.PrivateKey, hours [][][]byte) *Trail {
	tb.Helper()
	t := &Trail{Root: root, Bucket: "trail-bucket", Prefix: "corp", Account: "111122223333",
		Region: "us-east-1", Name: "management-events", Key: key}
	for i, logs := range hours {
		start := Start.Add(time.Duration(i) * time.Hour)
		doc := &DigestDoc{
			AWSAccountID:             t.Account,
			DigestStartTime:          start.Format(time.RFC3339),
			DigestEndTime:            start.Add(time.Hour).Format(time.RFC3339),
			DigestS3Bucket:           t.Bucket,
			DigestS3Object:           t.DigestKey(start.Add(time.Hour)),
			DigestSignatureAlgorithm: integrity.SignatureAlgorithm,
			LogFiles:                 []LogFile{},
		}
		var keys []string
		for j, records := range logs {
			at := start.Add(time.Duration(10+5*j) * time.Minute)
			lk := t.LogKey(at, j)
			plain := []byte(`{"Records":` + string(bytes.TrimSpace(records)) + `}`)
			t.WriteFile(tb, lk, Gzip(tb, plain))
			oldest, newest := eventTimes(tb, records)
			doc.LogFiles = append(doc.LogFiles, LogFile{S3Bucket: t.Bucket, S3Object: lk, HashValue: SHA256(plain),
				HashAlgorithm: "SHA-256", NewestEventTime: newest, OldestEventTime: oldest})
			if doc.OldestEventTime == nil || oldest < *doc.OldestEventTime {
				doc.OldestEventTime = &oldest
			}
			if doc.NewestEventTime == nil || newest > *doc.NewestEventTime {
				doc.NewestEventTime = &newest
			}
			keys = append(keys, lk)
		}
		t.Digests = append(t.Digests, doc.DigestS3Object)
		t.Logs = append(t.Logs, keys)
		t.docs = append(t.docs, doc)
		t.sigs = append(t.sigs, "")
		t.writeDigest(tb, i, key)
	}
	return t
}

// DigestKey is the key of the digest that ends at end.
func (t *Trail) DigestKey(end time.Time) string {
	return t.Prefix + "/AWSLogs/" + t.Account + "/CloudTrail-Digest/" + t.Region + "/" + end.Format("2006/01/02") + "/" +
		t.Account + "_CloudTrail-Digest_" + t.Region + "_" + t.Name + "_" + t.Region + "_" + end.Format("20060102T150405Z") + ".json.gz"
}

// LogKey is the key of a log file written at minute at; n varies the random suffix.
func (t *Trail) LogKey(at time.Time, n int) string {
	random := SHA256([]byte(at.String() + string(rune('a'+n))))[:16]
	return t.Prefix + "/AWSLogs/" + t.Account + "/CloudTrail/" + t.Region + "/" + at.Format("2006/01/02") + "/" +
		t.Account + "_CloudTrail_" + t.Region + "_" + at.Format("20060102T1504Z") + "_" + random + ".json.gz"
}

// Path is the local path of key.
func (t *Trail) Path(key string) string { return filepath.Join(t.Root, filepath.FromSlash(key)) }

// Source is the trail's local root as validate-logs takes it.
func (t *Trail) Source() string { return t.Root }

// WriteFile writes data at key, creating directories.
func (t *Trail) WriteFile(tb testing.TB, key string, data []byte) {
	tb.Helper()
	p := t.Path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Resign rewrites digest i signed by key (its fingerprint goes into the digest), leaving the
// rest of the chain as it is. Resigning the newest digest keeps the chain intact.
func (t *Trail) Resign(tb testing.TB, i int, key *rsa.PrivateKey) {
	tb.Helper()
	t.writeDigest(tb, i, key)
}

func (t *Trail) writeDigest(tb testing.TB, i int, key *rsa.PrivateKey) {
	tb.Helper()
	doc := t.docs[i]
	doc.DigestPublicKeyFingerprint = integrity.Fingerprint(&key.PublicKey)
	if i > 0 {
		prev := t.docs[i-1]
		plainPrev := mustJSON(tb, prev)
		hash, alg, sig := SHA256(plainPrev), "SHA-256", t.sigs[i-1]
		doc.PreviousDigestS3Bucket, doc.PreviousDigestS3Object = &prev.DigestS3Bucket, &prev.DigestS3Object
		doc.PreviousDigestHashValue, doc.PreviousDigestHashAlgorithm, doc.PreviousDigestSignature = &hash, &alg, &sig
	}
	plain := mustJSON(tb, doc)
	msg := integrity.StringToSign(doc.DigestEndTime, doc.DigestS3Bucket, doc.DigestS3Object, SHA256(plain), doc.PreviousDigestSignature)
	sum := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	t.sigs[i] = hex.EncodeToString(sig)
	t.WriteFile(tb, doc.DigestS3Object, Gzip(tb, plain))
	if err := integrity.WriteMetadata(t.Path(doc.DigestS3Object), integrity.Metadata{
		Signature: t.sigs[i], SignatureAlgorithm: integrity.SignatureAlgorithm}); err != nil {
		tb.Fatal(err)
	}
}

// Rewrite replaces the uncompressed content of the gzipped object at key with edit's result,
// without re-signing anything.
func (t *Trail) Rewrite(tb testing.TB, key string, edit func([]byte) []byte) {
	tb.Helper()
	f, err := os.Open(t.Path(key))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	out := edit(plain)
	if bytes.Equal(out, plain) {
		tb.Fatalf("rewrite %s: edit changed nothing", key)
	}
	t.WriteFile(tb, key, Gzip(tb, out))
}

// Remove deletes the object at key (and a digest's sidecar).
func (t *Trail) Remove(tb testing.TB, key string) {
	tb.Helper()
	if err := os.Remove(t.Path(key)); err != nil {
		tb.Fatal(err)
	}
	if err := os.Remove(t.Path(key) + integrity.SidecarSuffix); err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
}

// Serve starts an in-process S3 server holding the trail's tree in t.Bucket, digests with their
// sidecars turned into x-amz-meta-signature and x-amz-meta-signature-algorithm, sets fake AWS
// credentials in the environment, and returns the endpoint URL.
func (t *Trail) Serve(tb testing.TB) string {
	tb.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(t.Bucket); err != nil {
		tb.Fatal(err)
	}
	var keys []string
	err := filepath.WalkDir(t.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, integrity.SidecarSuffix) {
			return err
		}
		rel, err := filepath.Rel(t.Root, p)
		keys = append(keys, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(keys)
	for _, k := range keys {
		data, err := os.ReadFile(t.Path(k))
		if err != nil {
			tb.Fatal(err)
		}
		meta := map[string]string{}
		if side, err := os.ReadFile(t.Path(k) + integrity.SidecarSuffix); err == nil {
			var m integrity.Metadata
			if err := json.Unmarshal(side, &m); err != nil {
				tb.Fatal(err)
			}
			meta["X-Amz-Meta-Signature"] = m.Signature
			meta["X-Amz-Meta-Signature-Algorithm"] = m.SignatureAlgorithm
		}
		if _, err := backend.PutObject(t.Bucket, k, meta, bytes.NewReader(data), int64(len(data)), nil); err != nil {
			tb.Fatal(err)
		}
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	tb.Cleanup(srv.Close)
	tb.Setenv("AWS_ACCESS_KEY_ID", "test")
	tb.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	tb.Setenv("AWS_REGION", "us-east-1")
	tb.Setenv("AWS_CONFIG_FILE", filepath.Join(tb.TempDir(), "none"))
	tb.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(tb.TempDir(), "none"))
	return srv.URL
}

// Gzip compresses data.
func Gzip(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// SHA256 is the lowercase hex SHA-256 of data.
func SHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func eventTimes(tb testing.TB, records []byte) (oldest, newest string) {
	tb.Helper()
	var recs []struct {
		EventTime string `json:"eventTime"`
	}
	if err := json.Unmarshal(records, &recs); err != nil {
		tb.Fatal(err)
	}
	for _, r := range recs {
		if oldest == "" || r.EventTime < oldest {
			oldest = r.EventTime
		}
		if r.EventTime > newest {
			newest = r.EventTime
		}
	}
	return oldest, newest
}
