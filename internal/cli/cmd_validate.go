package cli

import (
	"context"
	"fmt"
	"github.com/auditlake/auditlake/internal/auditlog"
	"os"
	"text/tabwriter"

	"github.com/auditlake/auditlake/internal/integrity"
)

const validateLogsUsage = `Usage: auditlake validate-logs --public-key FILE [--from T] [--to T] [--format table|json|jsonl]
       [--profile P] [--region R] [--endpoint-url URL] SOURCE
       auditlake validate-logs --audit-log [--format table|json]

--audit-log checks auditlake's own audit log (the store auditlake-audit) against its digests:
each digest's signature and chain, every audited event present (or purged by retention) and
unchanged, no event that no digest lists. Exit code 0 when it is intact, 4 when not.

Validates CloudTrail log file integrity as 'aws cloudtrail validate-logs' does: every digest file
under SOURCE (s3://bucket/prefix, or a local copy) is checked against its signature and chained
to its predecessor, and every log file against the SHA-256 its digest lists.

Verdicts: log files are valid, modified, deleted (listed in a digest but absent) or not-covered
(present but listed by no valid digest); digests are valid, modified, invalid-signature or
missing (named by a successor but absent). Exit code 0 when everything is valid, 4 when not.

A digest's signature is kept in its S3 metadata. In a local copy it must sit beside the digest as
<digest file>.metadata.json: {"signature": "...", "signature-algorithm": "SHA256withRSA"}
(keep it when copying digests out of S3); only the newest digest needs it, older ones are verified with the signature
their successor repeats.

--public-key takes the JSON printed by 'aws cloudtrail list-public-keys' (keys are chosen by
their Fingerprint) or a PEM file of one or more RSA public keys (PKCS #1 or X.509). For PEM keys
the fingerprint is computed as the hex MD5 of the PKCS #1 DER key: AWS does not document it, but
its published list-public-keys example matches this rule.

--from and --to select digests by the time in their file name (to plus one hour, like the AWS
CLI) and log files by the minute in theirs.`

const validateLogsExamples = `  aws cloudtrail list-public-keys --region us-east-1 > keys.json
  auditlake validate-logs --public-key keys.json s3://my-trail-bucket/AWSLogs/111122223333/
  auditlake validate-logs --public-key keys.json --from 2026-01-01 --to 2026-01-31 ./trail-copy
  auditlake validate-logs --public-key keys.pem --format jsonl s3://bucket/prefix/ | jq 'select(.status != "valid")'`

func runValidateLogs(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "validate-logs")
	keyFile := fs.String("public-key", "", "public keys: list-public-keys JSON or PEM (required)")
	from := fs.String("from", "", "validate digests and log files from this date/time (UTC)")
	to := fs.String("to", "", "validate digests and log files up to this date (inclusive) or time (UTC)")
	format := formatFlag(fs, "table", "json", "jsonl")
	s3 := addS3Flags(fs)
	auditLog := fs.Bool("audit-log", false, "validate auditlake's own audit log instead of CloudTrail files")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *auditLog {
		if len(pos) > 0 || *keyFile != "" {
			return usagef("--audit-log takes no SOURCE and no --public-key")
		}
		return validateAuditLog(ctx, env, *format)
	}
	if *keyFile == "" {
		return usagef("--public-key is required")
	}
	if len(pos) != 1 {
		return usagef("name one SOURCE: s3://bucket/prefix or a local directory")
	}
	fromT, toT, err := parseRange(*from, *to)
	if err != nil {
		return err
	}
	keyData, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("read public keys %q: %w", *keyFile, err)
	}
	keys, err := integrity.ParseKeys(keyData)
	if err != nil {
		return fmt.Errorf("read public keys %q: %w", *keyFile, err)
	}
	rep, err := integrity.Validate(ctx, s3.client(), pos[0], keys, fromT, toT)
	if err != nil {
		return err
	}
	counts := rep.Counts()
	if *format != "table" {
		err := writeJSONRows(env.Stdout, *format == "jsonl", len(rep.Verdicts), func(i int) any { return rep.Verdicts[i] })
		if err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		fmt.Fprintln(env.Stderr, counts)
	} else {
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STATUS\tKIND\tFILE\tDETAIL")
		for _, v := range rep.Verdicts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Status, v.Kind, v.File, v.Detail)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		fmt.Fprintln(env.Stdout, counts)
	}
	if !rep.OK() {
		bad := counts.Logs + counts.Digests - counts.Log[integrity.StatusValid] - counts.Digest[integrity.StatusValid]
		verb := map[bool]string{true: "is", false: "are"}[bad == 1]
		return &InvalidError{Msg: fmt.Sprintf("%d of %s %s not valid", bad, plural(counts.Logs+counts.Digests, "file", "files"), verb)}
	}
	if counts.Digests == 0 {
		return &HintError{Err: fmt.Errorf("no digest files found under %q", pos[0]),
			Hint: "SOURCE must hold AWSLogs/<account>/CloudTrail-Digest/... (is log file validation enabled on the trail?)"}
	}
	return nil
}

// validateAuditLog runs validate-logs --audit-log.
func validateAuditLog(ctx context.Context, env *Env, format string) error {
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	rep, err := auditlog.Validate(ctx, lk)
	if err != nil {
		return err
	}
	if format == "json" {
		if err := writeJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintln(env.Stdout, p)
		}
		fmt.Fprintf(env.Stdout, "audit log: %s, %s; %d intact, %d purged by retention, %s\n",
			plural(rep.Events, "event", "events"), plural(rep.Digests, "digest", "digests"),
			rep.Covered, rep.Purged, plural(len(rep.Problems), "problem", "problems"))
	}
	if len(rep.Problems) > 0 {
		return &InvalidError{Msg: fmt.Sprintf("the audit log does not match its digests (%s)", plural(len(rep.Problems), "problem", "problems"))}
	}
	return nil
}
