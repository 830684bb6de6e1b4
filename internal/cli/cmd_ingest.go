package cli

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/integrity"
	"github.com/auditlake/auditlake/internal/objstore"
)

// parseTimeFlag accepts a date (2026-01-02), an RFC 3339 time, or "" (unbounded).
func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usagef("--%s %q is not a date (2026-01-02) or time (2026-01-02T15:04:05Z)", name, v)
}

// s3Flags are the S3 access flags every command that reads sources takes.
type s3Flags struct{ profile, region, endpoint *string }

func addS3Flags(fs interface {
	String(name, value, usage string) *string
}) s3Flags {
	return s3Flags{
		profile:  fs.String("profile", "", "AWS shared-config profile for s3:// sources"),
		region:   fs.String("region", "", "AWS region for s3:// sources"),
		endpoint: fs.String("endpoint-url", "", "S3-compatible endpoint (path-style), e.g. http://127.0.0.1:9000"),
	}
}

func (f s3Flags) client() *objstore.Client {
	return objstore.New(objstore.Options{Profile: *f.profile, Region: *f.region, EndpointURL: *f.endpoint})
}

func runIngestCloudTrail(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "ingest cloudtrail")
	eds := fs.String("eds", "", "event data store name or id (required)")
	from := fs.String("from", "", "ingest only events at or after this date/time (UTC)")
	to := fs.String("to", "", "ingest only events before this date/time (UTC)")
	workers := fs.Int("workers", 0, "files decoded in parallel (default: one per CPU)")
	batch := fs.Int("batch", 0, "events per atomic commit (default 20000; the Go heap may grow to about 12 KB per event of it, 512 MB at least)")
	memory := fs.String("memory-limit", "320MB", "engine memory limit during ingest")
	validate := fs.Bool("validate", false, "check log file integrity against the trail's digest files first (needs --public-key)")
	publicKey := fs.String("public-key", "", "with --validate: PEM file or 'aws cloudtrail list-public-keys' JSON")
	validateMode := fs.String("validate-mode", "refuse", "with --validate: refuse (do not ingest files that fail) or flag (ingest them, report a warning)")
	s3 := addS3Flags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *eds == "" {
		return usagef("--eds is required")
	}
	if *validate && *publicKey == "" {
		return usagef("--validate needs --public-key FILE")
	}
	if *validateMode != "refuse" && *validateMode != "flag" {
		return usagef("--validate-mode is refuse or flag, not %q", *validateMode)
	}
	if len(pos) == 0 {
		return usagef("name at least one SOURCE: a file, a directory or s3://bucket/prefix")
	}
	fromT, err := parseTimeFlag("from", *from)
	if err != nil {
		return err
	}
	toT, err := parseTimeFlag("to", *to)
	if err != nil {
		return err
	}
	// The engine's memory is bounded by --memory-limit; the Go heap holds two batches of decoded
	// records and the Parquet pages being encoded (about 250 MB at the default --batch). Let it
	// grow well past that before collecting, within a limit (tuneIngestGC): with the default
	// GOGC the collector rescans those batches several times per batch (a third of the run's
	// CPU), with a limit at the live size it never stops. GOMEMLIMIT and GOGC win. Only a
	// process of its own (RunProcess) is tuned: these settings are process-wide.
	if env.tuneRuntime {
		tuneIngestGC(*batch)
		tuneIngestProcs()
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	store, err := resolveStore(lk, *eds)
	if err != nil {
		return err
	}
	if err := checkWritable(store); err != nil {
		return err
	}
	opts := ingest.Options{
		Sources: pos, From: fromT, To: toT, Client: s3.client(), Log: env.Log,
		Progress: env.Stderr, Terminal: env.Terminal, Workers: *workers, BatchRows: *batch, MemoryLimit: *memory,
	}
	if *validate {
		check, err := integrityCheck(ctx, opts.Client, *publicKey, pos, fromT, toT)
		if err != nil {
			return err
		}
		opts.Check, opts.Flag = check, *validateMode == "flag"
	}
	sum, err := ingest.CloudTrail(ctx, lk, store, opts)
	return finishIngest(env, store.Name, sum, err, "the good events were ingested, the bad records are listed above")
}

// finishIngest prints an ingest's problems and summary and turns its outcome into the command's
// error: err itself, a PartialError saying partial (with what was kept), or nil.
func finishIngest(env *Env, store string, sum *ingest.Summary, err error, partial string) error {
	if sum != nil {
		for _, p := range sum.Problems {
			fmt.Fprintf(env.Stderr, "%s\n", p)
		}
		if n := sum.Errors + sum.Warnings - len(sum.Problems); n > 0 {
			fmt.Fprintf(env.Stderr, "… and %d more problems\n", n)
		}
		printIngestSummary(env, store, sum)
	}
	if err != nil {
		return err
	}
	if sum.Partial() {
		return &PartialError{Msg: fmt.Sprintf("%d errors: %s", sum.Errors, partial)}
	}
	return nil
}

func printIngestSummary(env *Env, store string, s *ingest.Summary) {
	if s.EventsAdded == 0 && s.Errors == 0 {
		fmt.Fprintf(env.Stdout, "nothing new to ingest into %s: %d files seen, %d skipped (already ingested or out of range), %d duplicate events\n",
			store, s.FilesSeen, s.FilesSkipped, s.Duplicates)
	}
	fmt.Fprintf(env.Stdout, "files: %d seen, %d skipped, %d ingested, %d failed\n", s.FilesSeen, s.FilesSkipped, s.FilesIngested, s.FilesFailed)
	if s.FilesRefused > 0 {
		fmt.Fprintf(env.Stdout, "files refused by --validate: %d (not ingested; listed above)\n", s.FilesRefused)
	}
	fmt.Fprintf(env.Stdout, "events: %d read, %d added, %d duplicates, %d out of range, %d skipped records\n", s.Records, s.EventsAdded, s.Duplicates, s.OutOfRange, s.SkippedRecords)
	if s.OutsideRetention > 0 || s.Filtered > 0 {
		fmt.Fprintf(env.Stdout, "not kept: %d older than the store's retention, %d left out by its advanced event selectors\n", s.OutsideRetention, s.Filtered)
	}
	fmt.Fprintf(env.Stdout, "problems: %d errors, %d warnings\n", s.Errors, s.Warnings)
	if s.Merged > 0 {
		fmt.Fprintf(env.Stdout, "store upkeep: %d small files merged in %s\n", s.Merged, s.MergeTime.Round(time.Millisecond))
	}
	if s.Elapsed > 0 {
		fmt.Fprintf(env.Stdout, "time: %s (%.0f events/s, %.1f MB/s read)\n", s.Elapsed.Round(time.Millisecond),
			float64(s.Records)/s.Elapsed.Seconds(), float64(s.Bytes)/1e6/s.Elapsed.Seconds())
	}
}

// integrityCheck validates every source's log files against their digests (as validate-logs
// does) and returns the per-file check ingest applies: a log file must be valid; one no digest
// lists yet (CloudTrail delivers digests hourly) is refused too, and read by a later run.
func integrityCheck(ctx context.Context, client *objstore.Client, keyFile string, sources []string, from, to time.Time) (func(string) string, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read public keys: %w", err)
	}
	keys, err := integrity.ParseKeys(data)
	if err != nil {
		return nil, err
	}
	var reports []*integrity.Report
	for _, src := range sources {
		rep, err := integrity.Validate(ctx, client, src, keys, from, to)
		if err != nil {
			return nil, fmt.Errorf("validate %s: %w", src, err)
		}
		reports = append(reports, rep)
	}
	return func(uri string) string {
		for _, rep := range reports {
			if v, ok := rep.Lookup(uri); ok {
				if v.Status == integrity.StatusValid {
					return ""
				}
				return fmt.Sprintf("%s %s", v.Status, v.Detail)
			}
		}
		return "not covered by any digest yet"
	}, nil
}

// ingestHeapLimit bounds the Go heap of an ingest at the default batch size; with the engine's
// --memory-limit (320MB by default) the process stays under 1 GiB whatever the input size.
const ingestHeapLimit = 512 << 20

// defaultProcs is GOMAXPROCS as the runtime chose it (the CPUs, or the container's quota).
var defaultProcs = runtime.GOMAXPROCS(0)

// tuneIngestProcs lets one more goroutine run Go code than there are CPUs. An ingest spends
// a third of its time in C (libdeflate inflating, zstd compressing, a few milliseconds a call)
// and waits on fsync; a thread in a C call or a system call keeps its P until the runtime's
// monitor hands it over (20 µs to 10 ms later), so with one P per CPU the decoders and the
// writer's goroutines often waited for a P while a CPU sat idle (10 % of a 1M ingest). The
// kernel shares the CPUs when all of them run Go code at once. An environment setting wins.
func tuneIngestProcs() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(defaultProcs + 1)
	}
}

// tuneIngestGC sets the collector for an ingest of batches of batch events (0: the default):
// collect at 5× the live heap (GOGC=400), within ingestHeapLimit or 12 KB per batch event,
// whichever is larger (two batches of decoded records live at once, ~3 KB each, and the
// collector needs room above them). An environment setting of either wins.
func tuneIngestGC(batch int) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(max(ingestHeapLimit, int64(batch)*12<<10))
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
