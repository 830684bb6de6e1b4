package objstore

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
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

// MD5Meta is the user metadata key (x-amz-meta-auditlake-md5) an uploaded object carries: the
// hex MD5 of the whole file, so a resumed upload recognizes an object already there whatever
// its ETag (a multipart object's ETag is not the MD5 of its bytes).
const MD5Meta = "auditlake-md5"

// DefaultPartSize is the part size of multipart uploads; files up to it go in one PutObject.
const DefaultPartSize = 64 << 20

// Uploaded is what an upload stored: the file's size and hex MD5.
type Uploaded struct {
	Size int64  `json:"size"`
	MD5  string `json:"md5"`
}

// FileMD5 is the hex MD5 of the file at path and its size.
func FileMD5(path string) (Uploaded, error) {
	f, err := os.Open(path)
	if err != nil {
		return Uploaded{}, err
	}
	defer f.Close()
	h := md5.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Uploaded{}, fmt.Errorf("read %q: %w", path, err)
	}
	return Uploaded{Size: n, MD5: hex.EncodeToString(h.Sum(nil))}, nil
}

// Sum is the size and hex MD5 of the S3 object uri as an upload stored them (the MD5 from the
// object's auditlake-md5 metadata, or its ETag when it was a single PUT); found is false when
// there is no such object.
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
	sum = Uploaded{Size: obj.Size, MD5: meta[MD5Meta]}
	if sum.MD5 == "" && !strings.Contains(obj.ETag, "-") {
		sum.MD5 = obj.ETag
	}
	return sum, true, nil
}

// Upload stores the local file path as the S3 object uri: one PutObject up to partSize
// (DefaultPartSize when 0), a multipart upload above it. Every request carries its Content-MD5,
// so S3 refuses a body damaged in transit; the ETag S3 answers is checked against the MD5s too;
// each request is retried with backoff. The object carries the whole file's MD5 as metadata.
func (c *Client) Upload(ctx context.Context, uri, path string, partSize int64) (Uploaded, error) {
	bucket, key, err := SplitS3(uri)
	if err != nil {
		return Uploaded{}, err
	}
	cl, err := c.client(ctx)
	if err != nil {
		return Uploaded{}, err
	}
	if partSize <= 0 {
		partSize = DefaultPartSize
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
	// The MD5 of every part and of the whole file, read once; a file of one part is hashed
	// once (its part's MD5 is the whole file's).
	whole := md5.New()
	var parts [][]byte
	for off := int64(0); off < size || off == 0; off += partSize {
		h := md5.New()
		var w io.Writer = h
		if size > partSize {
			w = io.MultiWriter(h, whole)
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
	sum := parts[0]
	if len(parts) > 1 {
		sum = whole.Sum(nil)
	}
	up := Uploaded{Size: size, MD5: hex.EncodeToString(sum)}
	meta := map[string]string{MD5Meta: up.MD5}
	// The body is bound by its Content-MD5, a signed header, so the signature does not hash the
	// payload again (SigV4 does over plain HTTP), and the SDK adds no second checksum.
	only := func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}
	if len(parts) == 1 {
		err = retry(ctx, func() error {
			out, err := cl.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(key), Metadata: meta,
				Body: io.NewSectionReader(f, 0, size), ContentLength: aws.Int64(size),
				ContentMD5: aws.String(base64.StdEncoding.EncodeToString(parts[0])),
			}, only)
			if err != nil {
				return err
			}
			if e := strings.Trim(aws.ToString(out.ETag), `"`); etagIsMD5(out.ServerSideEncryption, out.SSECustomerAlgorithm) && e != "" && !strings.EqualFold(e, up.MD5) {
				return fmt.Errorf("S3 answered ETag %s, the file's MD5 is %s", e, up.MD5)
			}
			return nil
		})
		if err != nil {
			return up, fmt.Errorf("put %q: %w", uri, err)
		}
		return up, nil
	}
	var id *string
	err = retry(ctx, func() error {
		out, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), Metadata: meta}, only)
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
	all := md5.New()
	for i, sum := range parts {
		off := int64(i) * partSize
		n := min(partSize, size-off)
		all.Write(sum)
		err = retry(ctx, func() error {
			out, err := cl.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(int32(i + 1)),
				Body: io.NewSectionReader(f, off, n), ContentLength: aws.Int64(n),
				ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum)),
			}, only)
			if err != nil {
				return err
			}
			if e := strings.Trim(aws.ToString(out.ETag), `"`); etagIsMD5(out.ServerSideEncryption, out.SSECustomerAlgorithm) && !strings.EqualFold(e, hex.EncodeToString(sum)) {
				return fmt.Errorf("S3 answered ETag %s for part %d, its MD5 is %x", e, i+1, sum)
			}
			done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
			return nil
		})
		if err != nil {
			abort()
			return up, fmt.Errorf("put %q: part %d: %w", uri, i+1, err)
		}
	}
	wantETag := fmt.Sprintf("%x-%d", all.Sum(nil), len(parts))
	err = retry(ctx, func() error {
		out, err := cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
		}, only)
		if err != nil {
			return err
		}
		if e := strings.Trim(aws.ToString(out.ETag), `"`); etagIsMD5(out.ServerSideEncryption, nil) && !strings.EqualFold(e, wantETag) {
			return fmt.Errorf("S3 answered ETag %s for the whole upload, the parts' MD5s make %s", e, wantETag)
		}
		return nil
	})
	if err != nil {
		abort()
		return up, fmt.Errorf("put %q: complete multipart upload: %w", uri, err)
	}
	return up, nil
}

// etagIsMD5 reports whether S3's ETag is the MD5 of what it stored: it is with no encryption and
// with SSE-S3, not with SSE-KMS or customer keys (the Content-MD5 check still applies then).
func etagIsMD5(sse types.ServerSideEncryption, customer *string) bool {
	return (sse == "" || sse == types.ServerSideEncryptionAes256) && aws.ToString(customer) == ""
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
