package objstore

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MD5Meta is the user metadata key (x-amz-meta-auditlake-md5) an object uploaded before
// session 15 carries: the hex MD5 of the whole file. Such objects are still recognized (Same).
const MD5Meta = "auditlake-md5"

// CRC32CMeta is the user metadata key (x-amz-meta-auditlake-crc32c) an uploaded object carries:
// the hex CRC-32C of the whole file, so a resumed upload recognizes an object already there
// whatever its ETag or checksum type (a multipart object's are of its parts).
const CRC32CMeta = "auditlake-crc32c"

// DefaultPartSize is the part size of multipart uploads; files up to it go in one PutObject.
const DefaultPartSize = 64 << 20

// S3's limits on uploads: a part (but the last) is 5 MiB to 5 GiB, an upload has at most 10,000
// parts, and an object (as one PutObject, a part's limit) is at most 5 TiB.
const (
	MinPartSize   = 5 << 20
	MaxPartSize   = 5 << 30
	MaxParts      = 10000
	MaxObjectSize = 5 << 40
)

// PartSize is the part size an upload of size bytes uses when asked for requested
// (DefaultPartSize when 0 or less): raised, in whole MiB, to what fits the file in MaxParts
// parts — a file past requested × 10,000 would be refused by S3 at part 10,001 — and never above
// MaxPartSize. A file larger than S3's largest object is an error.
func PartSize(size, requested int64) (int64, error) {
	if requested <= 0 {
		requested = DefaultPartSize
	}
	if size > MaxObjectSize {
		return 0, fmt.Errorf("%d bytes: larger than S3's largest object (5 TiB)", size)
	}
	if need := (size + MaxParts - 1) / MaxParts; need > requested {
		requested = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return min(requested, MaxPartSize), nil
}

// Uploaded is what an upload stored: the file's size and hex CRC-32C (Castagnoli), or, for an
// upload of an earlier version, its hex MD5.
type Uploaded struct {
	Size   int64  `json:"size"`
	MD5    string `json:"md5,omitempty"`
	CRC32C string `json:"crc32c,omitempty"`
}

// Same reports whether u and o say the same bytes: the same size and the same sum of a kind both
// have (an object of an earlier version has only an MD5).
func (u Uploaded) Same(o Uploaded) bool {
	switch {
	case u.Size != o.Size:
		return false
	case u.CRC32C != "" && o.CRC32C != "":
		return strings.EqualFold(u.CRC32C, o.CRC32C)
	case u.MD5 != "" && o.MD5 != "":
		return strings.EqualFold(u.MD5, o.MD5)
	}
	return false
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// NewCRC32C is the CRC-32C (Castagnoli) hash uploads use: SSE4.2 makes it about twenty times
// cheaper than MD5, and S3 checks it (x-amz-checksum-crc32c) as it would a Content-MD5.
func NewCRC32C() hash.Hash32 { return crc32.New(castagnoli) }

// FileMD5 is the hex MD5 of the file at path and its size.
func FileMD5(path string) (Uploaded, error) {
	n, sum, err := fileSum(path, md5.New())
	return Uploaded{Size: n, MD5: sum}, err
}

// FileCRC32C is the hex CRC-32C of the file at path and its size.
func FileCRC32C(path string) (Uploaded, error) {
	n, sum, err := fileSum(path, NewCRC32C())
	return Uploaded{Size: n, CRC32C: sum}, err
}

// FileLike is the size and sum of the file at path of the kind like has, to compare with it
// (Same): its CRC-32C, or its MD5 when like has only an MD5.
func FileLike(path string, like Uploaded) (Uploaded, error) {
	if like.CRC32C == "" && like.MD5 != "" {
		return FileMD5(path)
	}
	return FileCRC32C(path)
}

func fileSum(path string, h hash.Hash) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %q: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// Sum is the size and sum of the S3 object uri as an upload stored them (the CRC-32C from the
// object's auditlake-crc32c metadata; for an object of an earlier version, the MD5 from its
// auditlake-md5 metadata, or its ETag when it was a single PUT); found is false when there is
// no such object.
func (c *Client) Sum(ctx context.Context, uri string) (sum Uploaded, found bool, err error) {
	var obj Object
	var meta map[string]string
	err = retry(ctx, func() error {
		var err error
		obj, meta, err = c.Stat(ctx, uri)
		return err
	})
	if err != nil {
		if IsNotExist(err) {
			return Uploaded{}, false, nil
		}
		return Uploaded{}, false, err
	}
	sum = Uploaded{Size: obj.Size, CRC32C: meta[CRC32CMeta], MD5: meta[MD5Meta]}
	if sum.CRC32C == "" && sum.MD5 == "" && !strings.Contains(obj.ETag, "-") {
		sum.MD5 = obj.ETag
	}
	return sum, true, nil
}

// Upload stores the local file path as the S3 object uri: one PutObject up to partSize
// (DefaultPartSize when 0; raised for a file that would need more than S3's 10,000 parts:
// PartSize), a multipart upload above it. Every request carries the CRC-32C of
// its body (x-amz-checksum-crc32c, a signed header), so S3 refuses a body damaged in transit,
// and the checksum S3 answers is checked against it too; the body is hashed once, by this
// function (the SDK neither computes a checksum of its own nor, over plain HTTP, the SigV4
// payload SHA-256). Each request is retried with backoff. The object carries the whole file's
// CRC-32C as metadata.
func (c *Client) Upload(ctx context.Context, uri, path string, partSize int64) (Uploaded, error) {
	bucket, key, err := SplitS3(uri)
	if err != nil {
		return Uploaded{}, err
	}
	cl, err := c.client(ctx)
	if err != nil {
		return Uploaded{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Uploaded{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Uploaded{}, err
	}
	size := st.Size()
	if partSize, err = PartSize(size, partSize); err != nil {
		return Uploaded{}, fmt.Errorf("put %q from %s: %w", uri, path, err)
	}
	// The CRC-32C of every part and of the whole file, read once.
	whole := NewCRC32C()
	var parts [][]byte
	for off := int64(0); off < size || off == 0; off += partSize {
		h := NewCRC32C()
		var w io.Writer = io.MultiWriter(h, whole)
		if size <= partSize {
			w, h = whole, whole // one part: its CRC-32C is the whole file's, computed once
		}
		n, err := io.Copy(w, io.NewSectionReader(f, off, min(partSize, size-off)))
		if err != nil {
			return Uploaded{}, fmt.Errorf("read %q: %w", path, err)
		}
		parts = append(parts, h.Sum(nil))
		if n == 0 {
			break
		}
	}
	up := Uploaded{Size: size, CRC32C: hex.EncodeToString(whole.Sum(nil))}
	meta := map[string]string{CRC32CMeta: up.CRC32C}
	// The body is bound by its x-amz-checksum-crc32c, a signed header, so the signature does not
	// hash the payload again (SigV4 does over plain HTTP), and the SDK adds no second checksum.
	only := func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}
	b64 := base64.StdEncoding.EncodeToString
	// answered checks the checksum S3 answers (when it does) against the one sent.
	answered := func(got *string, want, what string) error {
		if g := aws.ToString(got); g != "" && g != want {
			return fmt.Errorf("S3 answered CRC-32C %s for %s, it is %s", g, what, want)
		}
		return nil
	}
	if len(parts) == 1 {
		err = retry(ctx, func() error {
			out, err := cl.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(key), Metadata: meta,
				Body: io.NewSectionReader(f, 0, size), ContentLength: aws.Int64(size),
				ChecksumCRC32C: aws.String(b64(parts[0])),
			}, only)
			if err != nil {
				return err
			}
			return answered(out.ChecksumCRC32C, b64(parts[0]), "the file")
		})
		if err != nil {
			return up, fmt.Errorf("put %q: %w", uri, err)
		}
		return up, nil
	}
	var id *string
	err = retry(ctx, func() error {
		out, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Metadata: meta,
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		}, only)
		if err == nil {
			id = out.UploadId
		}
		return err
	})
	if err != nil {
		return up, fmt.Errorf("put %q: start multipart upload: %w", uri, err)
	}
	abort := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		cl.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id})
	}
	var done []types.CompletedPart
	all := NewCRC32C() // S3's composite checksum: the CRC-32C of the parts' CRC-32Cs
	for i, sum := range parts {
		off := int64(i) * partSize
		n := min(partSize, size-off)
		all.Write(sum)
		err = retry(ctx, func() error {
			out, err := cl.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(int32(i + 1)),
				Body: io.NewSectionReader(f, off, n), ContentLength: aws.Int64(n),
				ChecksumCRC32C: aws.String(b64(sum)),
			}, only)
			if err != nil {
				return err
			}
			if err := answered(out.ChecksumCRC32C, b64(sum), fmt.Sprintf("part %d", i+1)); err != nil {
				return err
			}
			done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1)), ChecksumCRC32C: aws.String(b64(sum))})
			return nil
		})
		if err != nil {
			abort()
			return up, fmt.Errorf("put %q: part %d: %w", uri, i+1, err)
		}
	}
	composite := fmt.Sprintf("%s-%d", b64(all.Sum(nil)), len(parts))
	err = retry(ctx, func() error {
		out, err := cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
		}, only)
		if err != nil {
			return err
		}
		return answered(out.ChecksumCRC32C, composite, "the whole upload")
	})
	if err != nil {
		abort()
		return up, fmt.Errorf("put %q: complete multipart upload: %w", uri, err)
	}
	return up, nil
}

var sharedConfigs struct {
	sync.Mutex
	m map[string]*aws.Config
}

// SharedAWSConfig is the SDK's default configuration in region (the environment's when ""),
// with one HTTP client, loaded once per process: for another library's S3 client (iceberg-go's
// file IO takes it through its context) that would otherwise load it for every use.
func SharedAWSConfig(ctx context.Context, region string) (*aws.Config, error) {
	sharedConfigs.Lock()
	defer sharedConfigs.Unlock()
	if cfg, ok := sharedConfigs.m[region]; ok {
		return cfg, nil
	}
	var lo []func(*awsconfig.LoadOptions) error
	if region != "" {
		lo = append(lo, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("load aws configuration: %w", err)
	}
	cfg.HTTPClient = awshttp.NewBuildableClient()
	if sharedConfigs.m == nil {
		sharedConfigs.m = map[string]*aws.Config{}
	}
	sharedConfigs.m[region] = &cfg
	return &cfg, nil
}

// Delete removes the S3 object uri (no error when it is already gone).
func (c *Client) Delete(ctx context.Context, uri string) error {
	bucket, key, err := SplitS3(uri)
	if err != nil {
		return err
	}
	cl, err := c.client(ctx)
	if err != nil {
		return err
	}
	err = retry(ctx, func() error {
		_, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil && IsNotExist(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete %q: %w", uri, err)
	}
	return nil
}

// retry runs fn up to 5 times, waiting 200 ms, 400 ms, … between attempts (the SDK retries
// each request too; this outer loop rides out a longer outage). A missing object and a
// cancelled context are not retried.
func retry(ctx context.Context, fn func() error) error {
	wait := 200 * time.Millisecond
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = fn(); err == nil || IsNotExist(err) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
	return err
}
