package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/auditlake/auditlake/internal/delivery"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/integrity"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/objstore"
	"github.com/auditlake/auditlake/internal/server"
)

// lakeResultKind names Lake's query result files in ingest messages.
const lakeResultKind = "CloudTrail Lake result"

const ingestLakeExportUsage = `Usage: auditlake ingest lake-export --eds NAME|ID [--public-key FILE | --fetch-public-keys] [--from T] [--to T]
       [--profile P] [--region R] [--endpoint-url URL] SOURCE...

Ingests what CloudTrail Lake delivers for a query started with --delivery-s3-uri: gzip-compressed
CSV result files (<uri>/AWSLogs/<account>/CloudTrail-Lake/Query/<yyyy>/<mm>/<dd>/<query id>/result_N.csv.gz)
of a query that selected eventjson, with or without other columns, in any order. Each row's
eventjson is decoded as a CloudTrail record and ingested exactly as 'ingest cloudtrail' does:
deduplicated on eventid + recipientaccountid, --from/--to, the store's retention and advanced
event selectors, atomic commits, each file recorded as read (a rerun adds nothing).

A SOURCE is a result file, a directory or an s3:// prefix (searched for *.csv.gz and *.csv).
A row whose eventjson is empty, not JSON or not one CloudTrail record is reported with its file
and row, and dropped; a file without an eventjson column, or cut short, fails; the good rows and
files are kept. Exit code 3 means some input was bad.

--public-key verifies each delivery's result_sign.json first (as 'aws cloudtrail
verify-query-results' does): the signature over the files' SHA-256 hashes, with the key whose
fingerprint the sign file names (a PEM file, or the JSON of 'aws cloudtrail list-public-keys
--start-time <queryCompleteTime>' in the delivery's region). --fetch-public-keys asks CloudTrail
for it instead, as 'aws cloudtrail verify-query-results' does: ListPublicKeys in --region (the
delivery's), from each sign file's queryCompleteTime to 20 days later, with the default AWS
credentials or --profile. A result file whose hash differs, that no valid sign file lists, or
whose sign file's signature does not verify is refused: nothing of it is ingested (exit code 3);
a file a valid sign file lists that does not exist is reported too. Each file is hashed as it is
read, from a copy in <data>/tmp, so what is ingested is what was verified. For deliveries made
by auditlake itself, the key is 'auditlake delivery-key --public' of the server that made them.`

const ingestLakeExportExamples = `  auditlake ingest lake-export --eds prod-trail --fetch-public-keys --region us-east-1 s3://exports/lake/AWSLogs/111122223333/CloudTrail-Lake/Query/
  aws cloudtrail list-public-keys --region us-east-1 --start-time 2026-05-01 > lake-keys.json
  auditlake ingest lake-export --eds prod-trail --public-key lake-keys.json s3://exports/cloudtrail-lake/AWSLogs/111122223333/CloudTrail-Lake/Query/
  auditlake ingest lake-export --eds prod-trail ./lake-export/QUERY_ID/`

// keyFlags choose the public keys sign files are verified with.
type keyFlags struct {
	file, ctEndpoint *string
	fetch            *bool
}

func addKeyFlags(fs *flag.FlagSet, fileUsage string) keyFlags {
	return keyFlags{
		file:       fs.String("public-key", "", fileUsage),
		fetch:      fs.Bool("fetch-public-keys", false, "ask CloudTrail for the key each sign file names (ListPublicKeys in --region, from its queryCompleteTime), as 'aws cloudtrail verify-query-results' does"),
		ctEndpoint: fs.String("cloudtrail-endpoint-url", "", "with --fetch-public-keys: another CloudTrail API endpoint"),
	}
}

// source returns the keys the flags name, or nil when they name none.
func (k keyFlags) source(s3 s3Flags) (delivery.KeySource, error) {
	switch {
	case *k.file != "" && *k.fetch:
		return nil, usagef("--public-key and --fetch-public-keys are two ways to get the key: give one")
	case *k.ctEndpoint != "" && !*k.fetch:
		return nil, usagef("--cloudtrail-endpoint-url goes with --fetch-public-keys")
	case *k.file != "":
		keys, err := readPublicKeys(*k.file)
		if err != nil {
			return nil, err
		}
		return delivery.KeysOf(keys), nil
	case *k.fetch:
		return delivery.ListedKeys(objstore.New(objstore.Options{Profile: *s3.profile, Region: *s3.region, CloudTrailEndpointURL: *k.ctEndpoint})), nil
	}
	return nil, nil
}

func runIngestLakeExport(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "ingest lake-export")
	ct := addCTIngestFlags(fs)
	kf := addKeyFlags(fs, "verify result_sign.json with this key first: PEM file or 'aws cloudtrail list-public-keys' JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	keys, err := kf.source(ct.s3)
	if err != nil {
		return err
	}
	lk, store, opts, err := ct.open(env, pos)
	if err != nil {
		return err
	}
	var missing func() []string
	if keys != nil {
		sigs, err := delivery.CheckSignatures(ctx, opts.Client, pos, keys)
		if err != nil {
			return err
		}
		opts.Check = func(uri string) string {
			_, reason := sigs.Want(uri)
			return reason
		}
		opts.Expect = func(uri string) string {
			h, _ := sigs.Want(uri)
			return h
		}
		missing = sigs.Missing
	} else {
		fmt.Fprintln(env.Stderr, "note: result_sign.json not verified (no --public-key or --fetch-public-keys)")
	}
	sum, err := ingest.LakeExport(ctx, lk, store, opts)
	if sum != nil && missing != nil {
		for _, uri := range missing() {
			sum.AddError(uri, "integrity: missing (listed in its folder's result_sign.json, but absent: its events are not here)")
		}
	}
	return finishIngest(ctx, env, store.Name, pos, lakeResultKind, "events", sum, err)
}

// readPublicKeys reads --public-key: PEM or 'aws cloudtrail list-public-keys' JSON.
func readPublicKeys(file string) (integrity.KeySet, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return integrity.KeySet{}, fmt.Errorf("read public keys %q: %w", file, err)
	}
	keys, err := integrity.ParseKeys(data)
	if err != nil {
		return integrity.KeySet{}, fmt.Errorf("read public keys %q: %w", file, err)
	}
	return keys, nil
}

const deliveryKeyUsage = `Usage: auditlake delivery-key [--public]

The key auditlake signs its query result deliveries with ('query --deliver', and StartQuery with
DeliveryS3Uri on the CloudTrail Lake API): an RSA key pair kept in <data>/delivery-key.pem (mode
0600), created on first use. Without flags, prints its fingerprint (the publicKeyFingerprint of
every sign file it signs) and where it is kept; --public prints the public key as PEM, to hand to
whoever verifies the deliveries ('auditlake verify-query-results --public-key FILE', or openssl
as AWS documents for Lake's own).`

const deliveryKeyExamples = `  auditlake delivery-key
  auditlake delivery-key --public > auditlake-delivery.pem`

func runDeliveryKey(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "delivery-key")
	public := fs.Bool("public", false, "print the public key (PEM)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("delivery-key takes no arguments")
	}
	signer, err := delivery.LoadOrCreateKey(env.DataDir)
	if err != nil {
		return err
	}
	if *public {
		_, err := env.Stdout.Write(signer.PublicKeyPEM())
		return err
	}
	fmt.Fprintf(env.Stdout, "fingerprint: %s\nkey file: %s\n", signer.Fingerprint(), delivery.KeyPath(env.DataDir))
	return nil
}

const verifyQueryResultsUsage = `Usage: auditlake verify-query-results (--s3-prefix-location s3://BUCKET/PREFIX/ | --s3-bucket BUCKET [--s3-prefix PREFIX]
       | --local-export-path DIR) [--public-key FILE | --fetch-public-keys] [--format table|json] [--profile P] [--region R] [--endpoint-url URL]

Verifies a delivery of query results (CloudTrail Lake's, or auditlake's own from 'query --deliver')
as 'aws cloudtrail verify-query-results' does: the folder's result_sign.json, every result file it
lists against its SHA-256 (of the compressed file), and the signature over those hashes. It also
reports result files in the folder that the sign file does not list. The folder is the one that
holds result_sign.json: .../CloudTrail-Lake/Query/<yyyy>/<mm>/<dd>/<query id>/.

--public-key takes a PEM file or the JSON of 'aws cloudtrail list-public-keys' (for Lake's
deliveries: in the delivery's region, --start-time at or before its queryCompleteTime); the key
is chosen by the sign file's publicKeyFingerprint. --fetch-public-keys gets it from CloudTrail as the
AWS CLI does (ListPublicKeys in --region from the sign file's queryCompleteTime to 20 days later).
Without either, this data directory's own delivery key is used (auditlake delivery-key).

Exit code 0 when the signature and every file are valid; 4 when not, naming the files that fail.`

const verifyQueryResultsExamples = `  auditlake verify-query-results --s3-prefix-location s3://audit-results/AWSLogs/123456789012/CloudTrail-Lake/Query/2026/05/10/QUERY_ID/
  auditlake verify-query-results --local-export-path ./QUERY_ID --public-key auditlake-delivery.pem
  auditlake verify-query-results --fetch-public-keys --region us-east-1 --s3-prefix-location s3://my-bucket/lake/AWSLogs/111122223333/CloudTrail-Lake/Query/2026/05/10/QUERY_ID/
  aws cloudtrail list-public-keys --region us-east-1 --start-time 2026-05-10 > lake-keys.json
  auditlake verify-query-results --s3-bucket my-bucket --s3-prefix lake/AWSLogs/111122223333/CloudTrail-Lake/Query/2026/05/10/QUERY_ID/ --public-key lake-keys.json`

func runVerifyQueryResults(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "verify-query-results")
	location := fs.String("s3-prefix-location", "", "the delivery's folder: s3://bucket/prefix/ (or a local directory)")
	bucket := fs.String("s3-bucket", "", "the bucket of the delivery (with --s3-prefix), as the AWS CLI takes it")
	prefix := fs.String("s3-prefix", "", "with --s3-bucket: the folder's key prefix")
	local := fs.String("local-export-path", "", "a local directory holding the result files and result_sign.json")
	kf := addKeyFlags(fs, "PEM file or 'aws cloudtrail list-public-keys' JSON (default: this data directory's delivery key)")
	format := formatFlag(fs, "table", "json")
	s3 := addS3Flags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q: name the delivery with --s3-prefix-location, --s3-bucket/--s3-prefix or --local-export-path", pos[0])
	}
	var folder string
	given := 0
	for _, v := range []string{*location, *bucket, *local} {
		if v != "" {
			given++
		}
	}
	switch {
	case given != 1:
		return usagef("name the delivery with one of --s3-prefix-location, --s3-bucket (with --s3-prefix) or --local-export-path")
	case *prefix != "" && *bucket == "":
		return usagef("--s3-prefix goes with --s3-bucket")
	case *location != "":
		folder = *location
	case *bucket != "":
		folder = "s3://" + *bucket + "/" + strings.TrimPrefix(*prefix, "/")
	default:
		folder = *local
	}
	keys, err := kf.source(s3)
	if err != nil {
		return err
	}
	if keys == nil {
		signer, err := delivery.LoadKey(env.DataDir)
		if errors.Is(err, os.ErrNotExist) {
			return usagef("no --public-key, and %s has no delivery key of its own: pass the signer's public key, or --fetch-public-keys for CloudTrail's", env.DataDir)
		}
		if err != nil {
			return err
		}
		keys = delivery.KeysOf(signer.KeySet())
	}
	rep, err := delivery.Verify(ctx, s3.client(), folder, keys)
	if errors.Is(err, delivery.ErrNoSignFile) || errors.Is(err, delivery.ErrBadSignFile) || (err != nil && objstore.IsNotExist(err)) {
		return &InvalidError{Msg: err.Error()}
	}
	if err != nil {
		return err
	}
	if *format == "json" {
		if err := writeJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STATUS\tFILE\tDETAIL")
		for _, f := range rep.Files {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Status, f.File, f.Detail)
		}
		sigStatus, sigDetail := "valid", ""
		if rep.Signature != "valid" {
			sigStatus, sigDetail = "invalid-signature", rep.Signature
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", sigStatus, rep.SignFile, sigDetail)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if rep.OK() {
		if *format != "json" {
			fmt.Fprintln(env.Stdout, "Successfully validated sign and query result files")
		}
		return nil
	}
	var bad []string
	if rep.Signature != "valid" {
		bad = append(bad, rep.SignFile+": "+rep.Signature)
	}
	for _, f := range rep.Failed() {
		bad = append(bad, fmt.Sprintf("%s: %s", f.File, f.Status))
	}
	return &InvalidError{Msg: "query results not valid: " + strings.Join(bad, "; ")}
}

// deliverResult writes a query's result with delivery.Write, signed with the data directory's
// delivery key, and prints where.
func deliverResult(ctx context.Context, env *Env, dest string, client *objstore.Client, res *engine.Result) error {
	signer, err := delivery.LoadOrCreateKey(env.DataDir)
	if err != nil {
		return err
	}
	cols := make([]string, len(res.Columns))
	typed := make([]server.Column, len(res.Columns))
	for i, c := range res.Columns {
		cols[i], typed[i] = c.Name, server.Column{Name: c.Name, Type: c.Type}
	}
	loc, err := delivery.Write(ctx, dest, cols, server.PresentedRows(typed, res.Rows), lake.NewUUID(), signer, delivery.Options{Client: client})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "delivered %s in %s to %s\n", plural(loc.Rows, "row", "rows"), plural(len(loc.Files), "file", "files"), loc.Folder)
	if res.Truncated {
		fmt.Fprintln(env.Stderr, "the result was truncated by --max-rows")
	}
	return nil
}
