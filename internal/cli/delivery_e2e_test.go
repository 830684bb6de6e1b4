package cli_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/cli"
)

// TestStartQueryDeliveryIsVerifiedWithTheServersListedKey: against the real serve, a
// StartQuery with DeliveryS3Uri (signed by an auditlake access key, with the AWS SDK) writes the
// result to an S3 bucket (gofakes3) in Lake's layout; DescribeQuery reports the DeliveryS3Uri and
// DeliveryStatus SUCCESS; the delivered CSV holds GetQueryResults' rows; `verify-query-results
// --fetch-public-keys --cloudtrail-endpoint-url <serve>` gets the key from the server's
// ListPublicKeys and accepts the delivery, and refuses it once a result file is altered. A reader
// with a row filter gets only its rows delivered; a DeliveryS3Uri that is not s3:// (a path on
// the server) is refused.
func TestStartQueryDeliveryIsVerifiedWithTheServersListedKey(t *testing.T) {
	dir := t.TempDir()
	storeID := createStore(t, dir, "src")
	mustRun(t, 0, dir, append([]string{"ingest", "cloudtrail", "--eds", "src"}, lakeSamples()...)...)
	reg := access.Open(dir)
	admin, err := reg.CreateUser("deliverer", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := reg.CreateUser("filtered", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	const filter = "eventsource = 'iam.amazonaws.com'"
	if _, err := reg.AddGrant(access.Grant{Privilege: access.Select, Principal: "user:filtered", Resource: "store:" + storeID, RowFilter: filter}, nil); err != nil {
		t.Fatal(err)
	}

	backend := s3mem.New()
	if err := backend.CreateBucket("deliveries"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	s3srv := srv.URL
	// One set of credentials for everything in this process: gofakes3 takes any, and the
	// server checks them for ListPublicKeys (verify-query-results signs it with them).
	t.Setenv("AWS_ACCESS_KEY_ID", admin.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", admin.SecretAccessKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	var logs syncBuffer
	base := serve(t, dir, &logs, "--endpoint-url", s3srv, "--region", "us-east-1")

	// One bound for every call of the test (deliveries, signing, polls, verify runs between them):
	// it stops a hung server only, so it is minutes, not what the steps take on an idle machine.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ct := func(c access.Credentials) *cloudtrail.Client {
		return cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String(base),
			Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")})
	}
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s3srv), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})

	// deliver runs stmt as c with a delivery under prefix and returns the delivery's folder (its
	// key prefix) and GetQueryResults' row count.
	deliver := func(c access.Credentials, stmt, prefix string) (folder string, rows int) {
		t.Helper()
		uri := "s3://deliveries/" + prefix
		started, err := ct(c).StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String(stmt), DeliveryS3Uri: aws.String(uri)})
		if err != nil {
			t.Fatalf("StartQuery with DeliveryS3Uri: %v", err)
		}
		var d *cloudtrail.DescribeQueryOutput
		for {
			d, err = ct(c).DescribeQuery(ctx, &cloudtrail.DescribeQueryInput{QueryId: started.QueryId})
			if err != nil {
				t.Fatal(err)
			}
			if d.QueryStatus != cttypes.QueryStatusQueued && d.QueryStatus != cttypes.QueryStatusRunning && d.DeliveryStatus != cttypes.DeliveryStatusPending {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if d.QueryStatus != cttypes.QueryStatusFinished || d.DeliveryStatus != cttypes.DeliveryStatusSuccess || aws.ToString(d.DeliveryS3Uri) != uri {
			t.Fatalf("DescribeQuery after the delivery: status %s, delivery %s to %q (%s)\nserver log:\n%s", d.QueryStatus, d.DeliveryStatus,
				aws.ToString(d.DeliveryS3Uri), aws.ToString(d.ErrorMessage), logs.String())
		}
		res, err := ct(c).GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: started.QueryId, MaxQueryResults: aws.Int32(1000)})
		if err != nil {
			t.Fatal(err)
		}
		list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("deliveries"), Prefix: aws.String(prefix)})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Contents {
			if k := aws.ToString(o.Key); strings.HasSuffix(k, "/"+aws.ToString(started.QueryId)+"/result_sign.json") {
				folder = strings.TrimSuffix(k, "result_sign.json")
			}
		}
		if folder == "" || !strings.Contains(folder, "/CloudTrail-Lake/Query/") {
			t.Fatalf("no result_sign.json of query %s in Lake's layout under %s: %d objects", aws.ToString(started.QueryId), uri, len(list.Contents))
		}
		return folder, int(aws.ToInt32(res.QueryStatistics.TotalResultsCount))
	}
	csvRows := func(key string) [][]string {
		t.Helper()
		obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("deliveries"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Body.Close()
		zr, err := gzip.NewReader(obj.Body)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(zr).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	verify := func(folder string) (string, string, int) {
		return run(t, t.TempDir(), "verify-query-results", "--s3-prefix-location", "s3://deliveries/"+folder, "--endpoint-url", s3srv,
			"--fetch-public-keys", "--region", "us-east-1", "--cloudtrail-endpoint-url", base)
	}

	table := `"aws:cloudtrail"."` + storeID + `"`
	stmt := "SELECT eventid, eventsource, eventname FROM " + table + " ORDER BY eventid"
	folder, total := deliver(admin, stmt, "lake/results")
	recs := csvRows(folder + "result_1.csv.gz")
	if len(recs) != total+1 || strings.Join(recs[0], ",") != "eventid,eventsource,eventname" || total < 300 {
		t.Fatalf("delivered %d CSV records (header first: %v), GetQueryResults has %d rows", len(recs), recs[0], total)
	}
	if out, errOut, code := verify(folder); code != 0 || !strings.Contains(out, "Successfully validated") {
		t.Fatalf("verify-query-results with the server's listed key: exit %d\n%s\n%s", code, out, errOut)
	}

	// The reader's delivery holds its rows only.
	rfolder, rtotal := deliver(reader, stmt, "reader/")
	rrecs := csvRows(rfolder + "result_1.csv.gz")
	if rtotal == 0 || rtotal >= total || len(rrecs) != rtotal+1 {
		t.Fatalf("the filtered reader's delivery: %d records, %d rows of %d", len(rrecs), rtotal, total)
	}
	for _, r := range rrecs[1:] {
		if r[1] != "iam.amazonaws.com" {
			t.Fatalf("the filtered reader's delivery holds a row its grant hides: %v", r)
		}
	}

	// Tampered: one row changed, re-gzipped, stored in place of result_1.csv.gz.
	recs[1][2] = "NotWhatHappened"
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if err := csv.NewWriter(zw).WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	// (deleted first: gofakes3 would merge the old object's checksum header into the new one)
	if _, err := backend.DeleteObject("deliveries", folder+"result_1.csv.gz"); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.PutObject("deliveries", folder+"result_1.csv.gz", map[string]string{}, bytes.NewReader(b.Bytes()), int64(b.Len()), nil); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := verify(folder); code != cli.ExitInvalid || !strings.Contains(out+errOut, "result_1.csv.gz") {
		t.Fatalf("verify-query-results of a tampered delivery: exit %d, want %d naming the file\n%s\n%s", code, cli.ExitInvalid, out, errOut)
	}

	// A bucket that is not there: the query FINISHED, its delivery FAILED, saying why.
	started, err := ct(admin).StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String(stmt), DeliveryS3Uri: aws.String("s3://no-such-bucket/x")})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, err := ct(admin).DescribeQuery(ctx, &cloudtrail.DescribeQueryInput{QueryId: started.QueryId})
		if err != nil {
			t.Fatal(err)
		}
		if d.DeliveryStatus == cttypes.DeliveryStatusPending || d.QueryStatus == cttypes.QueryStatusQueued || d.QueryStatus == cttypes.QueryStatusRunning {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if d.QueryStatus != cttypes.QueryStatusFinished || d.DeliveryStatus != cttypes.DeliveryStatusFailed || !strings.Contains(aws.ToString(d.ErrorMessage), "s3://no-such-bucket/x") {
			t.Fatalf("delivery to a missing bucket: status %s, delivery %s, %q", d.QueryStatus, d.DeliveryStatus, aws.ToString(d.ErrorMessage))
		}
		break
	}

	// A delivery to the server's own disk, or to nothing like S3, is refused at StartQuery.
	for _, uri := range []string{"/tmp/x", "file:///etc", "s3://", "s3://Bad_Bucket/x"} {
		_, err := ct(admin).StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String(stmt), DeliveryS3Uri: aws.String(uri)})
		var ipe *cttypes.InvalidParameterException
		if !errors.As(err, &ipe) {
			t.Fatalf("StartQuery with DeliveryS3Uri %q: %v, want InvalidParameterException", uri, err)
		}
	}
}
