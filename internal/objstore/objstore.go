// Package objstore lists and reads the objects auditlake ingests from: local files, local
// directories (walked recursively) and S3 prefixes, writes objects (Put), and asks CloudTrail
// for its public signing keys (ListPublicKeys). It is the only package that imports the AWS SDK,
// so every other package sees one small interface whatever the source.
//
// A source is named by a URI: a path ("./AWSLogs", "/data/x.json.gz") or "s3://bucket/prefix".
// S3 access uses the SDK's default credential chain, optionally narrowed to a profile and region;
// EndpointURL points it at an S3-compatible server (path-style addressing is then used).
package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Options selects the S3 credentials, region and endpoint. The zero value uses the SDK defaults.
type Options struct {
	Profile     string
	Region      string
	EndpointURL string
	// CloudTrailEndpointURL points ListPublicKeys at another CloudTrail API endpoint (a test
	// server, or an auditlake server that answers the CloudTrail Lake API).
	CloudTrailEndpointURL string
}

// Object is one listed file or S3 object.
type Object struct {
	// URI is the object's full name: a cleaned local path or "s3://bucket/key".
	URI string
	// Key is the part of the name used for layout matching: the S3 key, or the local path with
	// forward slashes.
	Key     string
	Size    int64
	ModTime time.Time
	// ETag is the S3 entity tag (quotes removed); empty for local files.
	ETag string
}

// Version is a string that changes whenever the object's content may have changed. Ingest state
// keys on it so that a rewritten file is read again.
func (o Object) Version() string {
	if o.ETag != "" {
		return o.ETag
	}
	return fmt.Sprintf("%d-%d", o.Size, o.ModTime.UnixNano())
}

// Client reads local paths and S3 URIs. It is safe for concurrent use.
type Client struct {
	opts Options

	once   sync.Once
	cfg    aws.Config
	s3     *s3.Client
	cfgErr error
	// requests counts the HTTP requests sent to S3 and SQS (retries included).
	requests atomic.Int64
}

// Requests is how many HTTP requests the client has sent to S3 and SQS, retries included.
func (c *Client) Requests() int64 { return c.requests.Load() }

// countingDoer counts the requests an SDK client sends.
type countingDoer struct {
	base aws.HTTPClient
	n    *atomic.Int64
}

func (d countingDoer) Do(r *http.Request) (*http.Response, error) {
	d.n.Add(1)
	return d.base.Do(r)
}

// New returns a client; S3 configuration is loaded lazily on first S3 use.
func New(opts Options) *Client { return &Client{opts: opts} }

// IsS3 reports whether uri names an S3 location.
func IsS3(uri string) bool { return strings.HasPrefix(uri, "s3://") }

// SplitS3 splits "s3://bucket/key" into bucket and key.
func SplitS3(uri string) (bucket, key string, err error) {
	if !IsS3(uri) {
		return "", "", fmt.Errorf("not an s3 uri: %q", uri)
	}
	rest := strings.TrimPrefix(uri, "s3://")
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("s3 uri %q has no bucket", uri)
	}
	return bucket, key, nil
}

func (c *Client) client(ctx context.Context) (*s3.Client, error) {
	c.once.Do(func() {
		var lo []func(*awsconfig.LoadOptions) error
		if c.opts.Profile != "" {
			lo = append(lo, awsconfig.WithSharedConfigProfile(c.opts.Profile))
		}
		if c.opts.Region != "" {
			lo = append(lo, awsconfig.WithRegion(c.opts.Region))
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx, lo...)
		if err != nil {
			c.cfgErr = fmt.Errorf("load aws configuration: %w", err)
			return
		}
		if cfg.Region == "" {
			cfg.Region = "us-east-1"
		}
		cfg.HTTPClient = countingDoer{base: cfg.HTTPClient, n: &c.requests}
		c.cfg = cfg
		c.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) {
			// S3-compatible servers often send no checksum; that is not worth a log line per object.
			o.DisableLogOutputChecksumValidationSkipped = true
			if c.opts.EndpointURL != "" {
				o.BaseEndpoint = aws.String(c.opts.EndpointURL)
				o.UsePathStyle = true
			}
		})
	})
	return c.s3, c.cfgErr
}

// SigningKey is one of CloudTrail's public keys as ListPublicKeys returns it: Value is DER
// (PKCS #1 by AWS's documentation).
type SigningKey struct {
	Value              []byte
	Fingerprint        string
	ValidFrom, ValidTo time.Time
}

// ListPublicKeys calls CloudTrail's ListPublicKeys in the client's region for the keys valid
// between start and end (the keys that sign digest files and Lake's query result sign files),
// every page of them.
func (c *Client) ListPublicKeys(ctx context.Context, start, end time.Time) ([]SigningKey, error) {
	if _, err := c.client(ctx); err != nil {
		return nil, err
	}
	ct := cloudtrail.NewFromConfig(c.cfg, func(o *cloudtrail.Options) {
		if c.opts.CloudTrailEndpointURL != "" {
			o.BaseEndpoint = aws.String(c.opts.CloudTrailEndpointURL)
		}
	})
	in := &cloudtrail.ListPublicKeysInput{StartTime: aws.Time(start), EndTime: aws.Time(end)}
	var keys []SigningKey
	for {
		out, err := ct.ListPublicKeys(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("cloudtrail list-public-keys in %s: %w", c.cfg.Region, err)
		}
		for _, k := range out.PublicKeyList {
			sk := SigningKey{Value: k.Value, Fingerprint: aws.ToString(k.Fingerprint)}
			if k.ValidityStartTime != nil {
				sk.ValidFrom = *k.ValidityStartTime
			}
			if k.ValidityEndTime != nil {
				sk.ValidTo = *k.ValidityEndTime
			}
			keys = append(keys, sk)
		}
		if aws.ToString(out.NextToken) == "" || len(out.PublicKeyList) == 0 {
			return keys, nil
		}
		in.NextToken = out.NextToken
	}
}

// Walk calls fn for every object under uri, in lexical order of Key. A local file yields itself;
// a directory yields every regular file below it, symbolic links to regular files included
// (links to directories are not followed, so a link loop cannot make the walk endless). A named
// pipe, device or socket given as uri is an error: opening one could wait for ever.
func (c *Client) Walk(ctx context.Context, uri string, fn func(Object) error) error {
	if IsS3(uri) {
		return c.walkS3(ctx, uri, fn)
	}
	return walkLocal(ctx, uri, fn)
}

func walkLocal(ctx context.Context, root string, fn func(Object) error) error {
	root = filepath.Clean(root)
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("open source %q: %w", root, err)
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("open source %q: not a regular file or directory but %s", root, kind(st.Mode()))
		}
		return fn(localObject(root, st))
	}
	var objs []Object
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %q: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		var info fs.FileInfo
		switch {
		case d.Type().IsRegular():
			info, err = d.Info()
		case d.Type()&fs.ModeSymlink != 0:
			if info, err = os.Stat(p); err != nil || !info.Mode().IsRegular() {
				return nil // dangling, or a link to a directory, pipe or device
			}
		default:
			return nil // a pipe, device or socket
		}
		if err != nil {
			return fmt.Errorf("stat %q: %w", p, err)
		}
		objs = append(objs, localObject(p, info))
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	for _, o := range objs {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// kind names what a file that is neither regular nor a directory is.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

func localObject(p string, info fs.FileInfo) Object {
	return Object{URI: p, Key: filepath.ToSlash(p), Size: info.Size(), ModTime: info.ModTime()}
}

func (c *Client) walkS3(ctx context.Context, uri string, fn func(Object) error) error {
	bucket, prefix, err := SplitS3(uri)
	if err != nil {
		return err
	}
	cl, err := c.client(ctx)
	if err != nil {
		return err
	}
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %q: %w", uri, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue
			}
			obj := Object{
				URI:  "s3://" + bucket + "/" + key,
				Key:  key,
				Size: aws.ToInt64(o.Size),
				ETag: strings.Trim(aws.ToString(o.ETag), `"`),
			}
			if o.LastModified != nil {
				obj.ModTime = *o.LastModified
			}
			if err := fn(obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// Open returns the object's bytes as stored (still compressed if the object is).
func (c *Client) Open(ctx context.Context, uri string) (io.ReadCloser, error) {
	if !IsS3(uri) {
		f, err := os.Open(uri)
		if err != nil {
			return nil, fmt.Errorf("open %q: %w", uri, err)
		}
		return f, nil
	}
	bucket, key, err := SplitS3(uri)
	if err != nil {
		return nil, err
	}
	cl, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", uri, err)
	}
	return out.Body, nil
}

// Stat returns the object's listing entry and its user metadata (S3 "x-amz-meta-*" headers,
// keys lowercased without the prefix; nil for local files).
func (c *Client) Stat(ctx context.Context, uri string) (Object, map[string]string, error) {
	if !IsS3(uri) {
		st, err := os.Stat(uri)
		if err != nil {
			return Object{}, nil, fmt.Errorf("stat %q: %w", uri, err)
		}
		return localObject(filepath.Clean(uri), st), nil, nil
	}
	bucket, key, err := SplitS3(uri)
	if err != nil {
		return Object{}, nil, err
	}
	cl, err := c.client(ctx)
	if err != nil {
		return Object{}, nil, err
	}
	out, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return Object{}, nil, fmt.Errorf("head %q: %w", uri, err)
	}
	obj := Object{URI: uri, Key: key, Size: aws.ToInt64(out.ContentLength), ETag: strings.Trim(aws.ToString(out.ETag), `"`)}
	if out.LastModified != nil {
		obj.ModTime = *out.LastModified
	}
	meta := make(map[string]string, len(out.Metadata))
	for k, v := range out.Metadata {
		meta[strings.ToLower(k)] = v
	}
	return obj, meta, nil
}

// ErrNotExist is returned (wrapped) by Stat and Open when the object does not exist.
var ErrNotExist = fs.ErrNotExist

// IsNotExist reports whether err says the object is missing, for local files and S3 alike.
func IsNotExist(err error) bool {
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "NoSuchKey") || strings.Contains(s, "NotFound") || strings.Contains(s, "StatusCode: 404")
}

// Put stores data as the object uri: an S3 PutObject, or a local file written whole and renamed
// into place (its directories created), so a reader never sees part of it.
func (c *Client) Put(ctx context.Context, uri string, data []byte) error {
	if !IsS3(uri) {
		dir := filepath.Dir(uri)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create directory %q: %w", dir, err)
		}
		f, err := os.CreateTemp(dir, "."+filepath.Base(uri)+".*")
		if err != nil {
			return fmt.Errorf("write %q: %w", uri, err)
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(f.Name(), 0o644)
		}
		if err == nil {
			err = os.Rename(f.Name(), uri)
		}
		if err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("write %q: %w", uri, err)
		}
		return nil
	}
	bucket, key, err := SplitS3(uri)
	if err != nil {
		return err
	}
	cl, err := c.client(ctx)
	if err != nil {
		return err
	}
	_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
	if err != nil {
		return fmt.Errorf("put %q: %w", uri, err)
	}
	return nil
}
