package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/objstore"
)

const curRegisterUsage = `Usage: auditlake cur register [--format auto|cur1-csv|cur1-parquet|cur2|focus] [--profile P] [--region R] [--endpoint-url URL] DATABASE.TABLE SOURCE

Makes billing files queryable as the table "DATABASE"."TABLE" without copying them into the store.
SOURCE is a file, a directory or s3://bucket/prefix; S3 objects are kept in a local cache keyed by
ETag. Formats are detected from the headers: CUR 1.0 CSV (.csv, .csv.gz, .csv.zip; lineItem/… headers
are renamed to the Athena names such as line_item_unblended_cost), CUR 1.0 Athena Parquet
(year=/month= partitions), CUR 2.0 Data Exports (Parquet or CSV; product, resource_tags … as maps)
and FOCUS 1.x. Report manifests are honoured: when a billing period has several assemblies only
the newest counts. Where no manifest decides (a local folder), a file that is another copy of a
report that counts is skipped: the same name with another compression (x.csv beside x.csv.gz),
or the same line items (a not-final report beside the final one). Skipped files are listed,
with the reason, here and in 'cur show'. Views have Athena's partition columns: year and month
('2026', '3') for CUR 1.0, billing_period ('2026-03') for CUR 2.0 and FOCUS. Run it again to
pick up new report versions.`

const curRegisterExamples = `  auditlake cur register cur.cur_2026 s3://my-billing-bucket/cur/my-report/
  auditlake cur register cur.focus ./focus_sample.csv
  auditlake cur register --endpoint-url http://127.0.0.1:9000 cur.exports s3://bucket/exports/cur2/`

func runCurRegister(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "cur register")
	format := fs.String("format", "auto", "auto, cur1-csv, cur1-parquet, cur2 or focus")
	profile := fs.String("profile", "", "AWS shared-config profile for S3 sources")
	region := fs.String("region", "", "AWS region for S3 sources")
	endpoint := fs.String("endpoint-url", "", "S3-compatible endpoint (path-style addressing)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("cur register takes DATABASE.TABLE and SOURCE")
	}
	f, err := cost.ParseFormat(*format)
	if err != nil {
		return usagef("%v", err)
	}
	if _, _, err := cost.SplitName(pos[0]); err != nil {
		return usagef("%v", err)
	}
	sum, err := cost.RegisterSource(ctx, env.DataDir, cost.RegisterOptions{
		Name: pos[0], Source: pos[1], Format: f, Log: env.Log,
		S3: objstore.Options{Profile: *profile, Region: *region, EndpointURL: *endpoint},
	})
	if err != nil {
		return err
	}
	t := sum.Table
	fmt.Fprintf(env.Stdout, "registered %s (%s)\n", t.SQLName(), t.Format)
	fmt.Fprintf(env.Stdout, "  files:    %d", len(t.Files))
	if sum.Downloaded+sum.Reused > 0 {
		fmt.Fprintf(env.Stdout, " (%d downloaded, %d from cache)", sum.Downloaded, sum.Reused)
	}
	fmt.Fprintln(env.Stdout)
	fmt.Fprintf(env.Stdout, "  periods:  %s\n", strings.Join(t.Periods, ", "))
	fmt.Fprintf(env.Stdout, "  rows:     %d\n", t.Rows)
	fmt.Fprintf(env.Stdout, "  columns:  %d\n", len(t.Columns()))
	if len(t.Skipped) > 0 {
		fmt.Fprintf(env.Stdout, "  skipped:  %d\n", len(t.Skipped))
		writeSkipped(env.Stdout, t.Skipped)
	}
	if len(sum.Warnings) > 0 {
		fmt.Fprintf(env.Stdout, "  warnings: %d\n", len(sum.Warnings))
		for _, w := range sum.Warnings {
			fmt.Fprintf(env.Stdout, "    %s\n", w)
		}
	}
	catalogCosts(ctx, env)
	return nil
}

// writeSkipped lists the files of a cost source that do not count, one a line, with the reason.
func writeSkipped(w io.Writer, skipped []cost.Skipped) {
	for _, s := range skipped {
		fmt.Fprintf(w, "    %s: %s\n", s.URI, s.Reason)
	}
}

func runCurList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "cur list")
	output := formatFlag(fs, "table", "json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	tables, err := cost.Tables(env.DataDir)
	if err != nil {
		return err
	}
	if *output == "json" {
		out := []map[string]any{}
		for _, t := range tables {
			row := map[string]any{"name": t.Name(), "database": t.Database, "table": t.Table, "format": t.Format,
				"source": t.Source, "files": len(t.Files), "periods": t.Periods, "rows": t.Rows, "registered_at": t.RegisteredAt}
			if e, behind := iceberg.LastCostSyncError(env.DataDir, t.Name()); behind {
				row["iceberg_behind"] = e
			}
			out = append(out, row)
		}
		return writeJSON(env.Stdout, out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tFORMAT\tFILES\tROWS\tPERIODS\tSOURCE")
	for _, t := range tables {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", t.Name(), t.Format, len(t.Files), t.Rows, strings.Join(t.Periods, ","), t.Source)
	}
	return tw.Flush()
}

func lookupCost(env *Env, name string) (cost.Table, error) {
	t, err := cost.Lookup(env.DataDir, name)
	if errors.Is(err, cost.ErrNotFound) {
		return t, &HintError{Err: err, Hint: "list cost tables with: auditlake cur list"}
	}
	if err != nil {
		return t, usagef("%v", err)
	}
	return t, nil
}

func runCurShow(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "cur show")
	output := formatFlag(fs, "text", "json")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("cur show takes DATABASE.TABLE")
	}
	t, err := lookupCost(env, pos[0])
	if err != nil {
		return err
	}
	// Its Iceberg table's last failed sync, while it is behind (as eds show says a store's).
	behind, isBehind := iceberg.LastCostSyncError(env.DataDir, t.Name())
	if *output == "json" {
		out := map[string]any{"table": t, "columns": t.Columns()}
		if isBehind {
			out["iceberg_behind"] = behind
		}
		return writeJSON(env.Stdout, out)
	}
	w := env.Stdout
	fmt.Fprintf(w, "table:         %s\n", t.SQLName())
	fmt.Fprintf(w, "format:        %s\n", t.Format)
	fmt.Fprintf(w, "source:        %s\n", t.Source)
	fmt.Fprintf(w, "registered at: %s\n", t.RegisteredAt.Format("2006-01-02T15:04:05Z"))
	fmt.Fprintf(w, "periods:       %s\n", strings.Join(t.Periods, ", "))
	fmt.Fprintf(w, "rows:          %d\n", t.Rows)
	fmt.Fprintf(w, "files:         %d\n", len(t.Files))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range t.Files {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.URI, f.Period, plural(int(f.Rows), "row", "rows"))
	}
	tw.Flush()
	if len(t.Skipped) > 0 {
		fmt.Fprintf(w, "skipped:       %d\n", len(t.Skipped))
		writeSkipped(w, t.Skipped)
	}
	if isBehind {
		fmt.Fprintf(w, "iceberg behind: its Iceberg table did not follow the last change (%s): %s — it catches up at the next command that opens the catalog, or with auditlake catalog sync\n", behind.At.Format(time.RFC3339), behind.Error)
	}
	fmt.Fprintf(w, "columns:       %d\n", len(t.Columns()))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range t.Columns() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.Name, c.Type)
	}
	return tw.Flush()
}

func runCurRemove(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "cur remove")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("cur remove takes DATABASE.TABLE")
	}
	if _, err := lookupCost(env, pos[0]); err != nil {
		return err
	}
	if err := cost.Remove(env.DataDir, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "removed %s (source files untouched)\n", pos[0])
	catalogCosts(ctx, env)
	return nil
}
