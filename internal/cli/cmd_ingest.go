package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/integrity"
	"github.com/auditlake/auditlake/internal/lake"
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

// ctIngestFlags are the flags every ingest of CloudTrail events takes (ingest cloudtrail,
// ingest lake-export).
type ctIngestFlags struct {
	eds, from, to, memory *string
	workers, batch        *int
	s3                    s3Flags
}

func addCTIngestFlags(fs *flag.FlagSet) ctIngestFlags {
	return ctIngestFlags{
		eds:     fs.String("eds", "", "event data store name or id (required)"),
		from:    fs.String("from", "", "ingest only events at or after this date/time (UTC)"),
		to:      fs.String("to", "", "ingest only events up to this date (inclusive: all of that day) or before this time (UTC)"),
		workers: fs.Int("workers", 0, "files decoded in parallel (default: one per CPU)"),
		batch:   fs.Int("batch", 0, "events per atomic commit (default 20000; the Go heap may grow to about 12 KB per event of it, 512 MB at least)"),
		memory:  fs.String("memory-limit", "320MB", "engine memory limit during ingest"),
		s3:      addS3Flags(fs),
	}
}

// open checks the flags and sources, tunes the runtime for an ingest and opens the store.
func (f ctIngestFlags) open(env *Env, pos []string) (*lake.Lake, lake.Store, ingest.Options, error) {
	var opts ingest.Options
	if *f.eds == "" {
		return nil, lake.Store{}, opts, usagef("--eds is required")
	}
	if len(pos) == 0 {
		return nil, lake.Store{}, opts, usagef("name at least one SOURCE: a file, a directory or s3://bucket/prefix")
	}
	fromT, toT, err := parseRange(*f.from, *f.to)
	if err != nil {
		return nil, lake.Store{}, opts, err
	}
	// The engine's memory is bounded by --memory-limit; the Go heap holds two batches of decoded
	// records and the Parquet pages being encoded (about 250 MB at the default --batch). Let it
	// grow past that before collecting, within a limit (tuneIngestGC): with the default GOGC
	// the collector rescans those batches several times per batch, with a limit at the live
	// size it never stops. Its pages are huge pages where the kernel allows (hugeHeap).
	// GOMEMLIMIT and GOGC win. Only a process of its own (RunProcess) is tuned: these
	// settings are process-wide.
	if env.tuneRuntime {
		tuneIngestGC(*f.batch)
		tuneIngestProcs()
		if os.Getenv("GOMEMLIMIT") == "" {
			hugeHeap(hugeHeapSize(debug.SetMemoryLimit(-1)))
		}
	}
	lk, err := openLake(env)
	if err != nil {
		return nil, lake.Store{}, opts, err
	}
	store, err := resolveStore(lk, *f.eds)
	if err != nil {
		return nil, lake.Store{}, opts, err
	}
	if err := checkWritable(store); err != nil {
		return nil, lake.Store{}, opts, err
	}
	opts = ingest.Options{
		Sources: pos, From: fromT, To: toT, Client: f.s3.client(), Log: env.Log,
		Progress: env.Stderr, Terminal: env.Terminal, Workers: *f.workers, BatchRows: *f.batch, MemoryLimit: *f.memory,
	}
	return lk, store, opts, nil
}

func runIngestCloudTrail(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "ingest cloudtrail")
	ct := addCTIngestFlags(fs)
	validate := fs.Bool("validate", false, "check log file integrity against the trail's digest files first (needs --public-key)")
	publicKey := fs.String("public-key", "", "with --validate: PEM file or 'aws cloudtrail list-public-keys' JSON")
	validateMode := fs.String("validate-mode", "refuse", "with --validate: refuse (do not ingest files that fail) or flag (ingest them, report a warning)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *validate && *publicKey == "" {
		return usagef("--validate needs --public-key FILE")
	}
	if *validateMode != "refuse" && *validateMode != "flag" {
		return usagef("--validate-mode is refuse or flag, not %q", *validateMode)
	}
	lk, store, opts, err := ct.open(env, pos)
	if err != nil {
		return err
	}
	if *validate {
		check, err := integrityCheck(ctx, opts.Client, *publicKey, pos, opts.From, opts.To)
		if err != nil {
			return err
		}
		opts.Check, opts.Flag = check, *validateMode == "flag"
	}
	watcher, finishAlerts := watchAlerts(ctx, env, lk, store)
	if watcher != nil {
		watcher.Hook(&opts)
	}
	sum, err := ingest.CloudTrail(ctx, lk, store, opts)
	finishAlerts()
	return finishIngest(ctx, env, store.Name, pos, "CloudTrail", "events", sum, err)
}

// finishIngest prints an ingest's problems and summary and turns its outcome into the command's
// error: err itself, a PartialError saying what was kept (also when the run was interrupted:
// what was committed stays), or nil. kind names the files read ("CloudTrail", "Config"), what
// they hold ("events", "configuration items").
func finishIngest(ctx context.Context, env *Env, store string, sources []string, kind, what string, sum *ingest.Summary, err error) error {
	if sum == nil {
		if err != nil && ctx.Err() != nil { // interrupted while listing or opening
			return &PartialError{Msg: "interrupted before anything was committed; run again to continue"}
		}
		return err
	}
	if err == nil && sum.FilesSeen == 0 {
		hint := "a directory or prefix is searched for files named *.json, *.jsonl or *.ndjson, gzipped or not; a file named on the command line is read whatever its name"
		if kind == lakeResultKind {
			hint = "a directory or prefix is searched for files named *.csv.gz or *.csv (Lake delivers result_1.csv.gz …); a file named on the command line is read whatever its name"
		}
		return &HintError{Err: fmt.Errorf("no %s files found in %s", kind, strings.Join(sources, ", ")), Hint: hint}
	}
	for _, p := range sum.Problems {
		fmt.Fprintf(env.Stderr, "%s\n", p)
	}
	if n := sum.Errors + sum.Warnings - len(sum.Problems); n > 0 {
		fmt.Fprintf(env.Stderr, "… and %s\n", plural(n, "more problem", "more problems"))
	}
	if err != nil {
		if ctx.Err() != nil {
			return &PartialError{Msg: fmt.Sprintf("interrupted: %s committed from %s; run again to continue",
				plural(int(sum.EventsAdded), what[:len(what)-1], what), plural(sum.FilesCommitted, "file", "files"))}
		}
		return err
	}
	printIngestSummary(env, store, kind, what, sum)
	if sum.Partial() {
		kept := "nothing was added"
		if sum.EventsAdded > 0 {
			kept = fmt.Sprintf("the good input was kept: %s added", plural(int(sum.EventsAdded), what[:len(what)-1], what))
		}
		return &PartialError{Msg: fmt.Sprintf("%s (listed above); %s", plural(sum.Errors, "error", "errors"), kept)}
	}
	return nil
}

// printIngestSummary prints the summary of a finished ingest, once: what happened to the files,
// then to the records read — each counted in exactly one category.
func printIngestSummary(env *Env, store, kind, what string, s *ingest.Summary) {
	w := env.Stdout
	if s.EventsAdded == 0 && s.Errors == 0 {
		fmt.Fprintf(w, "nothing new to ingest into %s\n", store)
	}
	refused := "refused by --validate"
	if kind == lakeResultKind { // checked against their result_sign.json (--public-key, --fetch-public-keys)
		refused = "refused by the sign file check"
	}
	files := []string{plural(s.FilesSeen, "file seen", "files seen")}
	files = append(files, counts(
		s.FilesIngested, "ingested",
		s.FilesSkipped, "skipped (unchanged since the last ingest, or out of range)",
		s.FilesFailed, "failed",
		s.FilesRefused, refused,
		s.FilesEmpty, "empty")...)
	fmt.Fprintf(w, "files: %s\n", strings.Join(files, ", "))
	recs := []string{fmt.Sprintf("%d read", s.Records), fmt.Sprintf("%d added", s.EventsAdded), fmt.Sprintf("%d duplicates", s.Duplicates)}
	recs = append(recs, counts(
		s.OutOfRange, "out of range (--from/--to)",
		s.OutsideRetention, "older than the store's retention",
		s.Filtered, "left out by its advanced event selectors",
		s.BadRecords, "bad",
		s.SkippedRecords, "skipped (not "+kind+" records)")...)
	fmt.Fprintf(w, "%s: %s\n", what, strings.Join(recs, ", "))
	if s.Errors > 0 || s.Warnings > 0 {
		fmt.Fprintf(w, "problems: %s, %s\n", plural(s.Errors, "error", "errors"), plural(s.Warnings, "warning", "warnings"))
	}
	if s.Merged > 0 {
		fmt.Fprintf(w, "store upkeep: %s merged in %s\n", plural(s.Merged, "small file", "small files"), s.MergeTime.Round(time.Millisecond))
	}
	if s.Elapsed > 0 {
		fmt.Fprintf(w, "time: %s (%.0f %s/s, %.1f MB/s read)\n", s.Elapsed.Round(time.Millisecond),
			float64(s.Records)/s.Elapsed.Seconds(), what, float64(s.Bytes)/1e6/s.Elapsed.Seconds())
	}
}

// counts renders the non-zero counts of pairs (n, label) as "n label".
func counts(pairs ...any) []string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if n := pairs[i].(int); n > 0 {
			out = append(out, fmt.Sprintf("%d %s", n, pairs[i+1]))
		}
	}
	return out
}

// plural renders n with the noun in the number n asks for: "1 file", "2 files", "0 files".
func plural[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
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

// ingestHeapLimit bounds the Go heap of an ingest at the default batch size; with the engine
// (--memory-limit, 320MB by default, of which a load uses far less) the process stayed under
// 0.85 GiB on every input measured, the worst records of docs/reliability.md included.
// The live heap of an ingest is ~250 MB (two batches of decoded records and the Parquet
// pages), so the collector runs each time the heap grows by what the limit leaves above it:
// 512 MiB left ~200 MB and ran it ~20 times a 1M ingest, with the scavenger returning pages
// the next batch faulted in again; 700 MiB leaves ~1.8 times as much (peak RSS 0.79 GiB at
// 1M and 0.83 GiB at 10M events, where 512 MiB read 0.64 / 0.66; BENCHMARKS.md, issue 21
// target 6, session 16).
const ingestHeapLimit = 700 << 20

// hugeHeapSize is how much heap hugeHeap maps in one object for an ingest whose heap limit is
// limit: 7/8 of it, but never more than of the default limit. A --batch large enough to raise
// the limit (12 KB per batch event) must not turn into one allocation of gigabytes up front,
// which a machine with less memory, or with strict overcommit, refuses — and a refused
// allocation is fatal to a Go program. Past the default limit the heap grows as it did before.
func hugeHeapSize(limit int64) int64 { return min(limit, ingestHeapLimit) / 8 * 7 }

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
// collect at 2.2× the live heap (ingestGCPercent), within ingestHeapLimit or 12 KB per batch
// event, whichever is larger (two batches of decoded records live at once, ~3 KB each, and
// the collector needs room above them). An environment setting of either wins.
func tuneIngestGC(batch int) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(max(ingestHeapLimit, int64(batch)*12<<10))
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(ingestGCPercent)
	}
}

// ingestGCPercent is an ingest's GOGC: at the default batch the live heap is ~250–280 MB, so
// the collector runs at ~550–620 MB, below the limit. At GOGC 400 the limit set the goal
// instead, ~97 % of it, while the runtime's scavenger keeps mapped memory under 95 % of the
// limit: after every collection it returned pages the next batch faulted in again (at 10M
// events 640,000 page faults, 440,000 of them faulting in the same memory again, and with
// the heap in huge pages (hugeHeap) each of those zeroed 2 MiB).
const ingestGCPercent = 120
