package integrity

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/auditlake/auditlake/internal/objstore"
)

// SignatureAlgorithm is the only digest signature algorithm CloudTrail uses.
const SignatureAlgorithm = "SHA256withRSA"

// digestJSON is the part of a digest file validation reads (aws-formats.md §2.3). Nullable
// fields are pointers: JSON null and absent are both nil.
type digestJSON struct {
	AWSAccountID                string  `json:"awsAccountId"`
	DigestStartTime             string  `json:"digestStartTime"`
	DigestEndTime               string  `json:"digestEndTime"`
	DigestS3Bucket              string  `json:"digestS3Bucket"`
	DigestS3Object              string  `json:"digestS3Object"`
	DigestPublicKeyFingerprint  string  `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    string  `json:"digestSignatureAlgorithm"`
	PreviousDigestS3Bucket      *string `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     *string `json:"previousDigestSignature"`
	LogFiles                    []struct {
		S3Bucket      string `json:"s3Bucket"`
		S3Object      string `json:"s3Object"`
		HashValue     string `json:"hashValue"`
		HashAlgorithm string `json:"hashAlgorithm"`
	} `json:"logFiles"`
}

// requiredDigestFields must be present (previousDigestSignature may be null) before a digest
// is checked; the AWS CLI requires the same set.
var requiredDigestFields = []string{
	"digestPublicKeyFingerprint", "digestS3Bucket", "digestS3Object",
	"previousDigestSignature", "digestEndTime", "digestStartTime",
}

// digestFile is a fetched digest: its parsed content, the SHA-256 of its uncompressed bytes, and
// the signature stored beside it (S3 user metadata or the local sidecar).
type digestFile struct {
	uri, key string
	hash     string
	d        digestJSON
	// formatErr says why the content could not be used (not gzip, not JSON, a field missing).
	formatErr string
	// sig and sigAlg come from the object's metadata; sigNote says why there is none.
	sig, sigAlg, sigNote string
}

// loadDigest fetches a digest and its stored signature. It returns an error only when the
// source cannot be read (objstore.IsNotExist tells a missing digest); bad content is recorded
// in formatErr.
func loadDigest(ctx context.Context, client *objstore.Client, uri, key string) (*digestFile, error) {
	rc, err := client.Open(ctx, uri)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("read digest %q: %w", uri, err)
	}
	df := &digestFile{uri: uri, key: key}
	if err := readSignature(ctx, client, df); err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		df.formatErr = "invalid format: not gzip: " + err.Error()
		return df, nil
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		df.formatErr = "invalid format: gunzip: " + err.Error()
		return df, nil
	}
	sum := sha256.Sum256(plain)
	df.hash = hex.EncodeToString(sum[:])
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(plain, &fields); err != nil {
		df.formatErr = "invalid format: " + err.Error()
		return df, nil
	}
	for _, f := range requiredDigestFields {
		if _, ok := fields[f]; !ok {
			df.formatErr = "invalid format: no field " + f
			return df, nil
		}
	}
	if err := json.Unmarshal(plain, &df.d); err != nil {
		df.formatErr = "invalid format: " + err.Error()
	}
	return df, nil
}

// readSignature fills df.sig and df.sigAlg from S3 user metadata, or for a local digest from
// the "<digest>.metadata.json" sidecar that CopyDigestMetadata writes.
func readSignature(ctx context.Context, client *objstore.Client, df *digestFile) error {
	if objstore.IsS3(df.uri) {
		_, meta, err := client.Stat(ctx, df.uri)
		if err != nil {
			return fmt.Errorf("read digest metadata %q: %w", df.uri, err)
		}
		df.sig, df.sigAlg = meta["signature"], meta["signature-algorithm"]
		if df.sig == "" {
			df.sigNote = "the object has no x-amz-meta-signature"
		}
		return nil
	}
	side := df.uri + SidecarSuffix
	rc, err := client.Open(ctx, side)
	if err != nil {
		if objstore.IsNotExist(err) {
			df.sigNote = "no " + SidecarSuffix + " file beside it holds its S3 metadata"
			return nil
		}
		return fmt.Errorf("read digest metadata: %w", err)
	}
	defer rc.Close()
	var m Metadata
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		df.sigNote = fmt.Sprintf("metadata file %s is not valid json: %v", side, err)
		return nil
	}
	df.sig, df.sigAlg = m.Signature, m.SignatureAlgorithm
	if df.sig == "" {
		df.sigNote = "metadata file " + side + " has no signature"
	}
	return nil
}

// StringToSign returns the bytes CloudTrail signs for a digest: end time, "bucket/key", the hex
// SHA-256 of the uncompressed digest, and the previous digest's signature ("null" for a
// starting digest, to match AWS's Java implementation), joined by newlines.
func StringToSign(digestEndTime, bucket, key, digestSHA256Hex string, previousSignature *string) []byte {
	prev := "null"
	if previousSignature != nil {
		prev = *previousSignature
	}
	return []byte(digestEndTime + "\n" + bucket + "/" + key + "\n" + digestSHA256Hex + "\n" + prev)
}

// VerifySignature checks an RSASSA-PKCS1-v1_5 SHA-256 signature, given in hex, over msg: the
// signature of CloudTrail digests and of Lake query-result sign files alike.
func VerifySignature(pub *rsa.PublicKey, msg []byte, sigHex string) error {
	sig, err := hex.DecodeString(strings.TrimSpace(sigHex))
	if err != nil {
		return fmt.Errorf("signature is not hex: %w", err)
	}
	sum := sha256.Sum256(msg)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
}

// hashLog returns the hex SHA-256 of a log file's uncompressed content. A file that is not
// valid gzip gives formatErr; only failures to read the source return err.
func hashLog(ctx context.Context, client *objstore.Client, uri string) (sum, formatErr string, err error) {
	rc, err := client.Open(ctx, uri)
	if err != nil {
		return "", "", err
	}
	defer rc.Close()
	src := &errReader{r: rc}
	h := sha256.New()
	if err := gunzipInto(h, src); err != nil {
		if src.err != nil {
			return "", "", fmt.Errorf("read log file %q: %w", uri, src.err)
		}
		if isFormatError(err) {
			return "", "not valid gzip: " + err.Error(), nil
		}
		return "", "", fmt.Errorf("read log file %q: %w", uri, err)
	}
	return hex.EncodeToString(h.Sum(nil)), "", nil
}

func gunzipInto(h hash.Hash, r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	_, err = io.Copy(h, zr)
	return err
}

func isFormatError(err error) bool {
	var ce flate.CorruptInputError
	return errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.As(err, &ce)
}

// errReader remembers the underlying reader's error so that a network failure is not
// mistaken for a corrupt file.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}
