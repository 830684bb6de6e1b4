package objstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Listing is what one List call found: the objects (in key order) and, with a delimiter, the
// common prefixes ("folders") below the prefix.
type Listing struct {
	Objects  []Object
	Prefixes []string
	// Requests is how many ListObjectsV2 pages the listing took.
	Requests int
}

// List lists s3://bucket/prefix in key order, only keys after startAfter when it is not empty
// (ListObjectsV2 StartAfter: a poll that remembers where it got to pays for what is new, not
// for what it has seen), grouping keys by delimiter when it is not empty.
func (c *Client) List(ctx context.Context, bucket, prefix, startAfter, delimiter string) (Listing, error) {
	var out Listing
	cl, err := c.client(ctx)
	if err != nil {
		return out, err
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
	if startAfter != "" {
		in.StartAfter = aws.String(startAfter)
	}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	p := s3.NewListObjectsV2Paginator(cl, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		out.Requests++
		if err != nil {
			return out, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			out.Prefixes = append(out.Prefixes, aws.ToString(cp.Prefix))
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue
			}
			obj := Object{URI: "s3://" + bucket + "/" + key, Key: key, Size: aws.ToInt64(o.Size),
				ETag: strings.Trim(aws.ToString(o.ETag), `"`)}
			if o.LastModified != nil {
				obj.ModTime = *o.LastModified
			}
			out.Objects = append(out.Objects, obj)
		}
	}
	return out, nil
}

// Failure kinds of S3 and SQS errors, as Classify names them.
const (
	FailThrottled   = "throttled"        // 503 SlowDown, 429, throttling codes: back off and retry
	FailServer      = "server error"     // other 5xx: back off and retry
	FailDenied      = "access denied"    // 403: the credentials lack a permission
	FailNoBucket    = "bucket not found" // the bucket (or queue) is gone
	FailCredentials = "credentials"      // missing, expired or invalid credentials
	FailNotFound    = "not found"        // the object is gone
)

// Classify names the kind of an S3 or SQS failure (one of the Fail* constants), or "" for
// another error.
func Classify(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
			"RequestThrottled", "RequestThrottledException", "ProvisionedThroughputExceededException":
			return FailThrottled
		case "AccessDenied", "AccessDeniedException", "AllAccessDisabled", "Forbidden":
			return FailDenied
		case "NoSuchBucket", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue":
			return FailNoBucket
		case "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "InvalidClientTokenId",
			"SignatureDoesNotMatch", "TokenRefreshRequired", "UnrecognizedClientException", "InvalidToken":
			return FailCredentials
		case "NoSuchKey", "NotFound":
			return FailNotFound
		}
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "StatusCode: 503"), strings.Contains(s, "StatusCode: 429"):
		return FailThrottled
	case strings.Contains(s, "StatusCode: 5"):
		return FailServer
	case strings.Contains(s, "StatusCode: 403"):
		return FailDenied
	case strings.Contains(s, "failed to retrieve credentials"), strings.Contains(s, "no EC2 IMDS role found"),
		strings.Contains(s, "load aws configuration"):
		return FailCredentials
	case IsNotExist(err):
		return FailNotFound
	}
	return ""
}
