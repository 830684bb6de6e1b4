package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/generate"
)

const generateUsage = `Usage: auditlake generate --out DIR [--events N] [--seed S] [--accounts N] [--regions R,R]
       [--start YYYY-MM-DD] [--days N] [--org o-…] [--workers N] [--force] [--cur]

Writes a synthetic AWS organization's CloudTrail delivery under DIR, in the real organization
trail layout: DIR/AWSLogs/<org>/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_
<region>_<YYYYMMDDTHHmmZ>_<16 chars>.json.gz, each file a gzipped {"Records":[…]} covering five
minutes of one account and region.

The events are everyday noise (Describe*, AssumeRole, S3 data events, KMS, console sign-ins,
errors) and the EC2 story auditlake reports on: launch templates and their versions, launches by
Auto Scaling, EC2 Fleet, Spot Fleet, EMR, EKS node groups, the console, the CLI and SDKs, from
approved and unapproved templates or none, dry runs, failed launches, stops, starts,
terminations and Spot interruptions. A few events are delivered twice, as CloudTrail does.

--events is the exact number of distinct events (eventIDs); duplicate deliveries come on top.
The same flags and seed give byte-identical output. DIR/truth.json lists every instance (who
launched it, from which template, approved or not, when it ended and why), the approved
template ids and the totals.

--cur also bills the instances hour by hour: CUR 1.0 CSV (slash headers) under
DIR/cur/auditlake-cur/yyyymmdd-yyyymmdd/<assemblyId>/ with manifests, including one superseded
older assembly per period (read the newest manifest only), and CUR 2.0 Data Exports CSV under
DIR/cur2/auditlake-cur2/{data,metadata}/BILLING_PERIOD=YYYY-MM/. Instance-hour lines
(BoxUsage/SpotUsage, line_item_resource_id = instance id) match truth.json; Tax, Credit,
SavingsPlanCoveredUsage/Negation and EBS volume lines are included.`

const generateExamples = `  auditlake generate --out /tmp/lake --events 100000 --seed 7
  auditlake generate --out bench-data --events 1000000 --accounts 8 --regions us-east-1,eu-west-1,ap-southeast-2
  auditlake generate --out /tmp/lake --events 5000 --start 2026-01-01 --days 7 --force
  auditlake generate --out /tmp/lake --events 50000 --cur`

func runGenerate(ctx context.Context, env *Env, args []string) error {
	def := generate.DefaultConfig()
	fs := newFlags(env, "generate")
	out := fs.String("out", "", "output directory (required)")
	events := fs.Int("events", def.Events, "number of distinct CloudTrail events to write")
	seed := fs.Uint64("seed", def.Seed, "random seed; the same seed gives the same bytes")
	accounts := fs.Int("accounts", def.Accounts, "member accounts in the organization")
	regions := fs.String("regions", strings.Join(def.Regions, ","), "comma-separated regions")
	start := fs.String("start", def.Start.Format(time.DateOnly), "first day (UTC), YYYY-MM-DD")
	days := fs.Int("days", def.Days, "number of days covered")
	org := fs.String("org", def.Org, "organization id")
	workers := fs.Int("workers", 0, "files written in parallel (0: one per CPU)")
	force := fs.Bool("force", false, "replace an earlier generation in --out")
	cur := fs.Bool("cur", false, "also write CUR 1.0 and CUR 2.0 cost files for the instances (DIR/cur, DIR/cur2)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *out == "" {
		return usagef("--out is required")
	}
	startT, err := time.Parse(time.DateOnly, *start)
	if err != nil {
		return usagef("--start %q: want YYYY-MM-DD", *start)
	}
	cfg := generate.Config{Out: *out, Events: *events, Seed: *seed, Accounts: *accounts, Start: startT,
		Days: *days, Org: *org, Workers: *workers, Force: *force, CUR: *cur}
	for _, r := range strings.Split(*regions, ",") {
		if r = strings.TrimSpace(r); r != "" {
			cfg.Regions = append(cfg.Regions, r)
		}
	}
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	began := time.Now()
	sum, err := generate.Run(ctx, cfg, env.Log)
	if err != nil {
		return err
	}
	curNote := ""
	if cfg.CUR {
		curNote = fmt.Sprintf(", %s with %s", plural(sum.CURFiles, "cost file", "cost files"), plural(sum.CURLines, "line item", "line items"))
	}
	fmt.Fprintf(env.Stdout, "generated %s, %s (+%s), %.1f MB gzip (%.1f MB JSON), %s%s in %s (%.1fs)\n",
		plural(sum.Files, "file", "files"), plural(sum.Events, "event", "events"), plural(sum.Duplicates, "duplicate delivery", "duplicate deliveries"),
		float64(sum.Bytes)/1e6, float64(sum.JSONBytes)/1e6, plural(sum.Instances, "instance", "instances"), curNote, *out, time.Since(began).Seconds())
	return nil
}
