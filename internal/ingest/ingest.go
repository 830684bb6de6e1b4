// Package ingest reads CloudTrail data from local files and S3 into an event data store:
// listing and pruning sources, decoding them in parallel, appending typed rows to the engine,
// and committing deduplicated batches atomically with the record of which sources were read.
package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/objstore"
	"github.com/auditlake/auditlake/internal/selector"
)

// Options control one ingest run.
type Options struct {
	Sources []string
	// Objects are objects listed already (by a collection source's poll or a notification),
	// read like the files of Sources: what the store holds already is skipped.
	Objects []objstore.Object
	// From and To bound what is ingested (zero = unbounded): objects by the date in their trail
	// key, events by eventtime (From inclusive, To exclusive).
	From, To time.Time
	Client   *objstore.Client
	Log      *slog.Logger
	// Progress receives a progress bar (Terminal) or periodic log lines; nil disables progress.
	Progress io.Writer
	Terminal bool
	// Workers decode sources in parallel; 0 means one per CPU.
	Workers int
	// BatchRows is how many events are committed at a time; 0 means 200,000.
	BatchRows int
	// MemoryBudget bounds the decoded records held at once, in bytes of
	// cloudtrail.Record.MemSize — decoded and waiting, batched, being written; 0 means
	// DefaultMemoryBudget. A batch is handed over early when its records reach half of it, so
	// a few huge records make a batch of their own, while ordinary batches fill to BatchRows.
	MemoryBudget int64
	// MemoryLimit is the engine's memory limit; empty means 512MB.
	MemoryLimit string
	// MaxProblems caps how many problems Summary keeps (all are counted); 0 means 1000.
	MaxProblems int
	// Check, when set, is asked about every object before it is read (log file integrity
	// validation). A non-empty reason refuses the object: it is reported as an error, not read,
	// and not recorded as ingested, so a later run reads it once it checks out. Flag turns
	// refusals into warnings: the object is read and the reason reported.
	Check func(uri string) (reason string)
	Flag  bool
	// Expect, when set, gives the hex SHA-256 an object's bytes must have (LakeExport: from the
	// delivery's verified sign file), or "" for no check. Such an object is copied to the
	// store's temporary directory as it is hashed, and decoded from that copy only when the
	// hash matches: one that does not is refused as a whole (reported as an error, nothing of
	// it ingested, not recorded as read), however it changes between the check and the read.
	Expect func(uri string) (sha256Hex string)

	tempDir string // for Expect's copies: the lake's
	// deferChecksum: records are written with eventjsonchecksum "" for readers to derive
	// (cloudtrail.DecodeOptions.DeferChecksum) — in every store but a published one, whose
	// files other engines read as they are (lake.WholeJSON).
	deferChecksum bool

	// CommitEachBatch commits each batch on its own, its files written per batch and date,
	// instead of holding a day's file open across batches (lake.Writer.HoldFiles) and
	// committing every few batches: for a caller that wants the store to follow the input batch
	// by batch (tests of what each commit does, of compaction of a load's small files).
	CommitEachBatch bool

	// AfterCommit, when set, is called after each commit that added data files (detection
	// rules evaluate the new events: package alerts). A commit names the batches written
	// since the one before (up to holdBatches of them, every one with CommitEachBatch). It
	// must not block.
	AfterCommit func()
	// Committed, when set, is called once the run has made its last commit, before the store's
	// upkeep (compaction) and whether or not the run failed: the detection rules then evaluate
	// the last commit at once, beside the upkeep, rather than after the pause they leave
	// between evaluations (package alerts). It must not block.
	Committed func()
	// Written, when set, is called once each batch is written, before its commit, with the
	// data files its records went into (files[i].Path, Date, and Rows: len(recs[i])), the
	// batch's records in each (recs[i]) and, when the store keeps them, their EC2 lifecycle
	// facts as computed for the facts files (facts[i] those of recs[i]; facts is nil
	// otherwise): detection rules evaluate them in Go (package alerts). A file held open
	// across batches (lake.Writer.HoldFiles) is given once per batch that wrote into it, with
	// that batch's records of it: what Written keeps of a file is the union of its calls, and
	// a file is committed only after its last. Every record written is given exactly once.
	// The records and facts (which point into them) must not be kept after it returns.
	Written func(files []lake.DataFile, recs [][]*cloudtrail.Record, facts [][]lifecycle.Fact)
	// Uncommitted, when set, is called with the data files given to Written that will never
	// be committed — their commit failed or was not tried (an earlier commit or write of the
	// run failed), or the file was removed unfinished (a held file aborted) — each once: they
	// are in no snapshot and never will be, so whatever Written kept of them can go.
	Uncommitted func(files []lake.DataFile)
	// Decoded, when set, is called with each record kept as soon as it is decoded, in the
	// decoding workers (in parallel, so it must be safe for concurrent use): detection rules
	// match it there (package alerts), off the writer's path, and Written takes the verdicts.
	// It must not keep the record.
	Decoded func(r *cloudtrail.Record)
}

// setDefaults fills the zero fields of o; batchRows is the pipeline's default batch size.
func (o *Options) setDefaults(batchRows int) {
	if o.Client == nil {
		o.Client = objstore.New(objstore.Options{})
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.BatchRows <= 0 {
		o.BatchRows = batchRows
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = "320MB"
	}
	if o.MaxProblems <= 0 {
		o.MaxProblems = 1000
	}
}

// Summary reports what a run did.
type Summary struct {
	FilesSeen     int `json:"files_seen"`
	FilesSkipped  int `json:"files_skipped"` // unchanged since the last run, digests, out of range
	FilesIngested int `json:"files_ingested"`
	FilesFailed   int `json:"files_failed"`  // unreadable, cut short or with bad records (their good records are kept)
	FilesRefused  int `json:"files_refused"` // failed log file integrity validation
	FilesEmpty    int `json:"files_empty"`   // no bytes at all (each has a warning)
	// FilesCommitted counts the files recorded in the store's ingest state with their events:
	// after an interrupted run, what it kept.
	FilesCommitted int `json:"files_committed"`
	// Records counts every record read, each once in one of: EventsAdded, Duplicates,
	// OutOfRange, OutsideRetention, Filtered, BadRecords, SkippedRecords (see Unaccounted).
	Records int `json:"records_read"`
	// OutsideRetention counts events older than the store's retention: like CloudTrail Lake's
	// import, ingest does not bring them in.
	OutsideRetention int `json:"events_outside_retention"`
	// Filtered counts events the store's advanced event selectors leave out.
	Filtered       int   `json:"events_filtered"`
	EventsAdded    int64 `json:"events_added"`
	Duplicates     int64 `json:"duplicates"`
	OutOfRange     int   `json:"events_out_of_range"`
	Errors         int   `json:"errors"`
	Warnings       int   `json:"warnings"`
	SkippedRecords int   `json:"records_skipped"` // JSON values that are not CloudTrail records
	BadRecords     int   `json:"records_bad"`     // records dropped as invalid (each an error)
	Bytes          int64 `json:"bytes_read"`
	// Merged counts the store's small files the run merged at its end (compaction), taking
	// MergeTime; a run that adds nothing may still merge closed days left by an earlier one.
	Merged    int                  `json:"files_merged"`
	MergeTime time.Duration        `json:"-"`
	Elapsed   time.Duration        `json:"-"`
	Problems  []cloudtrail.Problem `json:"-"`
}

// Partial reports whether any input was bad.
func (s *Summary) Partial() bool { return s.Errors > 0 || s.FilesFailed > 0 }

// Unaccounted is how many records read fall in none of the summary's categories: 0 after a
// run that finished (a run cut short leaves the records of its last batch uncounted).
func (s *Summary) Unaccounted() int64 {
	return int64(s.Records) - s.EventsAdded - s.Duplicates -
		int64(s.OutOfRange+s.OutsideRetention+s.Filtered+s.BadRecords+s.SkippedRecords)
}

type job struct {
	obj objstore.Object
	at  time.Time // delivery time (deliveryTime), zero when the key says none
	seq int       // position in delivery order: problems are reported in it
}

// DefaultMemoryBudget is Options.MemoryBudget's default: two batches of 20,000 ordinary
// records (7 KB each by MemSize, 10 KB at most to stay under half of it) fit in it, so it
// only binds for records far larger than CloudTrail's; with the engine's memory limit and the
// Parquet encoders it keeps an ingest under 1 GiB whatever its records (docs/reliability.md).
const DefaultMemoryBudget = 384 << 20

// message is what decode workers send to the single appender.
type message struct {
	records []*cloudtrail.Record
	size    int64 // of the records, by MemSize, taken from the budget
	// flush asks for the batch being filled to be handed over now: a worker is waiting for
	// budget that only written batches give back.
	flush bool
	done  *fileDone
}

type fileDone struct {
	seq     int // the job's
	state   lake.SourceState
	stats   cloudtrail.Stats
	err     error
	bytes   int64
	dropped [3]int // records not kept, by reason (dropOutOfRange, …)
}

// Why a record is not kept.
const (
	dropOutOfRange = iota
	dropOutsideRetention
	dropFiltered
)

// begin takes the store's write lock and reads which sources it already holds.
func begin(lk *lake.Lake, store lake.Store) (*lake.Writer, map[string]lake.SourceState, error) {
	w, err := lk.BeginWrite(store.ID)
	if err != nil {
		return nil, nil, err
	}
	done, err := w.LoadSources()
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	return w, done, nil
}

// inputFormat is one kind of CloudTrail input: which files found by walking a source are read,
// and how each is decoded.
type inputFormat struct {
	// kind names the files in messages; none is the warning for a source without any.
	kind, none string
	isData     func(key string) bool
	// trailKeys: keys may follow CloudTrail's layout (digests skipped, dates pruned, delivery order).
	trailKeys bool
	decode    func(r io.Reader, name string, opts cloudtrail.DecodeOptions, emit func(*cloudtrail.Record) error) (cloudtrail.Stats, error)
}

var (
	trailFiles = inputFormat{kind: "CloudTrail", none: "no CloudTrail files found (files named *.json, *.jsonl or *.ndjson, gzipped or not, are read)",
		isData: LooksLikeData, trailKeys: true, decode: cloudtrail.Decode}
	lakeResults = inputFormat{kind: "CloudTrail Lake result", none: "no CloudTrail Lake result files found (files named *.csv.gz or *.csv are read)",
		isData: isLakeResult, decode: cloudtrail.DecodeLakeExport}
)

// isLakeResult reports whether a file found by walking a source may be a Lake query result file
// (result_N.csv.gz as delivered, or a CSV file).
func isLakeResult(key string) bool {
	k := strings.ToLower(key)
	return strings.HasSuffix(k, ".csv.gz") || strings.HasSuffix(k, ".csv")
}

// CloudTrail ingests opts.Sources into store.
func CloudTrail(ctx context.Context, lk *lake.Lake, store lake.Store, opts Options) (*Summary, error) {
	return ingestCloudTrail(ctx, lk, store, opts, trailFiles)
}

// LakeExport ingests the query result files CloudTrail Lake delivers (StartQuery with
// DeliveryS3Uri: gzip CSV files of a query that selected eventjson, see
// cloudtrail.DecodeLakeExport) into store, exactly as CloudTrail ingests trail files: the same
// dedupe, --from/--to, retention, event selectors and commits, each file recorded as read.
// A source's result_sign.json is not read here; opts.Check and opts.Expect are how a caller
// refuses files its signature does not vouch for (delivery.CheckSignatures).
func LakeExport(ctx context.Context, lk *lake.Lake, store lake.Store, opts Options) (*Summary, error) {
	return ingestCloudTrail(ctx, lk, store, opts, lakeResults)
}

func ingestCloudTrail(ctx context.Context, lk *lake.Lake, store lake.Store, opts Options, f inputFormat) (*Summary, error) {
	start := time.Now()
	if store.Type != lake.TypeCloudTrail {
		return nil, fmt.Errorf("store %q is a %s store; CloudTrail events go into a cloudtrail store", store.Name, store.Type)
	}
	opts.setDefaults(20_000)
	opts.tempDir = lk.TempDir()

	w, done, err := begin(lk, store)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	// A day's records go into files held open across batches (closed at lake.HeldFileBytes),
	// unless a caller wants each batch committed on its own. The detection hooks are given
	// each batch's records per file they went into (Written), a held file once per batch.
	w.HoldFiles(!opts.CommitEachBatch)
	// (A store published while this run writes has its hot files written whole when the
	// publication commits, under the write lock this run holds: lake.WriteWholeJSON.)
	opts.deferChecksum = !lk.WholeJSON(store.ID)

	sels, err := storeSelectors(store)
	if err != nil {
		return nil, err
	}
	cutoff := lake.RetentionCutoff(store, time.Now())
	sum := &Summary{}
	// List every source first: the total drives the progress bar, and a missing source fails
	// the run before anything is written.
	var jobs []job
	seen := map[string]bool{}
	consider := func(o objstore.Object) error {
		if seen[o.URI] {
			return nil
		}
		seen[o.URI] = true
		sum.FilesSeen++
		var ki cloudtrail.KeyInfo
		isTrailKey := false
		if f.trailKeys {
			ki, isTrailKey = cloudtrail.ParseKey(o.Key) // once: 15,000 files' keys
		}
		if skip := skipReason(o, ki, isTrailKey, f.trailKeys, opts, done); skip != "" {
			sum.FilesSkipped++
			opts.Log.Debug("skip source", "uri", o.URI, "reason", skip)
			return nil
		}
		if opts.Check != nil {
			if reason := opts.Check(o.URI); reason != "" {
				p := cloudtrail.Problem{File: o.URI, Severity: cloudtrail.Error, Msg: "integrity: " + reason}
				if opts.Flag {
					p.Severity = cloudtrail.Warning
					sum.Warnings++
				} else {
					sum.FilesRefused++
					sum.Errors++
				}
				if len(sum.Problems) < opts.MaxProblems {
					sum.Problems = append(sum.Problems, p)
				}
				if !opts.Flag {
					return nil
				}
			}
		}
		jobs = append(jobs, job{obj: o, at: deliveryTime(ki, isTrailKey)})
		return nil
	}
	for _, src := range opts.Sources {
		explicit := filepath.Clean(src)
		found := 0
		err := opts.Client.Walk(ctx, src, func(o objstore.Object) error {
			if o.URI != explicit && o.URI != src && !f.isData(o.Key) {
				return nil // LICENSE, README and the like next to the logs
			}
			found++
			return consider(o)
		})
		if err != nil {
			return nil, fmt.Errorf("list source %q: %w", src, err)
		}
		if found == 0 {
			sum.noFilesMsg(src, f.none)
		}
	}
	for _, o := range opts.Objects {
		if err := consider(o); err != nil {
			return nil, err
		}
	}
	sortByDelivery(jobs)
	for i := range jobs {
		jobs[i].seq = i
	}

	prog := newProgress(opts.Progress, opts.Terminal, len(jobs), opts.Log)
	defer prog.finish()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Records are filtered as they are decoded (so that the decoder knows which it keeps,
	// see cloudtrail.DecodeOptions.Keep); each file counts its own, added up by fill.
	drop := func(r *cloudtrail.Record) int {
		switch {
		case (!opts.From.IsZero() && r.EventTime.Before(opts.From)) || (!opts.To.IsZero() && !r.EventTime.Before(opts.To)):
			return dropOutOfRange
		case r.EventTime.Before(cutoff):
			return dropOutsideRetention
		case !selector.Match(sels, r):
			return dropFiltered
		}
		return -1
	}
	msgs := make(chan message, 8)
	bud := newBudget(opts.MemoryBudget)
	jobCh := make(chan job)
	var wg sync.WaitGroup
	for i := 0; i < opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobCh {
				decodeOne(ctx, opts, f, j, drop, bud, msgs)
			}
		}()
	}
	go func() {
		defer close(jobCh)
		for _, j := range jobs {
			select {
			case jobCh <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(msgs) }()

	// The engine opens while the workers decode the first files: opening it takes a few tenths
	// of a second of one CPU, which the other CPU would otherwise spend idle.
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: opts.MemoryLimit, TempDir: lk.TempDir()})
	if err != nil {
		cancel()
		for range msgs { // let the workers finish
		}
		return nil, err
	}
	defer db.Close()

	err = appendAll(ctx, db, w, opts, msgs, bud, sum, prog)
	if opts.Committed != nil {
		opts.Committed()
	}
	if err != nil {
		cancel()
		for range msgs { // let the workers finish
		}
		return sum, err
	}
	// The events are committed; compaction only speeds up later queries, so its failure is a
	// warning (the next ingest or 'eds compact' tries again). It hands the decoded batches'
	// memory back before it merges anything.
	mergeStart := time.Now()
	merged, err := lake.Compact(ctx, db, w, false)
	sum.Merged, sum.MergeTime = merged, time.Since(mergeStart)
	if err != nil {
		sum.Warnings++
		sum.Problems = append(sum.Problems, cloudtrail.Problem{File: "store " + store.Name, Severity: cloudtrail.Warning, Msg: "compaction deferred: " + err.Error()})
	} else if merged > 0 {
		opts.Log.Debug("compacted small files", "files", merged)
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}

func storeSelectors(s lake.Store) ([]selector.Selector, error) {
	if len(s.Selectors) == 0 {
		return nil, nil
	}
	sels, err := selector.Parse(s.Selectors)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.Name, err)
	}
	return sels, nil
}

// sortByDelivery orders trail files by delivery time (the time in their name, else their
// folder's day), then key. Listing order is by key — account, then region, then day — so an
// organization's history would otherwise cycle through every day once per account and region,
// and each batch would write a small file into every day's partition; in delivery order a batch
// covers a few days, and a day's events land in one or two files.
func sortByDelivery(jobs []job) {
	slices.SortStableFunc(jobs, func(a, b job) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.obj.Key, b.obj.Key)
	})
}

// deliveryTime is when CloudTrail delivered a file, from its key (parsed by ParseKey, ok
// when it is a trail key): the time in its name, else its folder's day; zero for other keys.
func deliveryTime(ki cloudtrail.KeyInfo, ok bool) time.Time {
	switch {
	case !ok:
		return time.Time{}
	case !ki.FileTime.IsZero():
		return ki.FileTime
	}
	return ki.Date
}

// LooksLikeData reports whether a file found by walking a directory or prefix may hold events.
// A file named explicitly on the command line is always read.
func LooksLikeData(key string) bool {
	k := strings.ToLower(key)
	for _, ext := range []string{".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz"} {
		if strings.HasSuffix(k, ext) {
			return true
		}
	}
	return false
}

// skipReason says why an object is not read, or "" to read it; ki is its key parsed (ok when
// it is a trail key).
func skipReason(o objstore.Object, ki cloudtrail.KeyInfo, ok, trailKeys bool, opts Options, done map[string]lake.SourceState) string {
	if trailKeys && ((ok && ki.Kind == cloudtrail.KindDigest) || (!ok && cloudtrail.IsDigestKey(o.Key))) {
		return "digest file"
	}
	if strings.HasSuffix(o.Key, ".metadata.json") || strings.HasSuffix(o.Key, "ConfigWritabilityCheckFile") {
		return "not a log file"
	}
	if !trailKeys && (o.Key == "result_sign.json" || strings.HasSuffix(o.Key, "/result_sign.json")) {
		return "a Lake delivery's sign file"
	}
	if ok && !ki.Date.IsZero() {
		day := ki.Date
		if !opts.From.IsZero() && day.Add(24*time.Hour).Before(opts.From) {
			return "before --from"
		}
		if !opts.To.IsZero() && !day.Before(opts.To) {
			return "after --to"
		}
	}
	if st, ok := done[o.URI]; ok && st.Complete(o.Version()) {
		return "unchanged since last ingest"
	}
	return ""
}

// A worker sends its records in chunks of chunk records or chunkBytes (by MemSize).
const (
	chunk      = 512
	chunkBytes = 8 << 20
)

// decodeOne reads one object and sends its records in chunks, then its completion. Each record
// takes its MemSize from bud before it is kept; when that has to wait, the records held are
// sent first with a request to hand the batch over, so that the wait ends. A large record
// (cloudtrail.DecodeOptions.Reserve) waits for room for twice its JSON before it is decoded,
// so that it is not decoded while the batches ahead of it fill the budget.
func decodeOne(ctx context.Context, opts Options, f inputFormat, j job, drop func(*cloudtrail.Record) int, bud *budget, msgs chan<- message) {
	fd := &fileDone{seq: j.seq, state: lake.SourceState{URI: j.obj.URI, Version: j.obj.Version(), At: time.Now().UTC()}}
	rc, err := opts.Client.Open(ctx, j.obj.URI)
	if err == nil && opts.Expect != nil {
		if want := opts.Expect(j.obj.URI); want != "" {
			rc, err = spoolChecked(rc, opts.tempDir, j.obj.URI, want)
		}
	}
	if err != nil {
		fd.err = err
		msgs <- message{done: fd}
		return
	}
	counter := &countingReader{r: rc}
	buf := make([]*cloudtrail.Record, 0, chunk)
	var size int64 // of buf
	send := func(flush bool) error {
		select {
		case msgs <- message{records: buf, size: size, flush: flush}:
		case <-ctx.Done():
			return ctx.Err()
		}
		buf, size = make([]*cloudtrail.Record, 0, chunk), 0
		return nil
	}
	// take takes n bytes from bud: at once if they are free, else waiting, having sent what
	// buf holds and asked for the batch to be handed over (again at every wake-up: the batch
	// is handed over only while the committer is idle).
	take := func(n int64) error {
		for {
			ok, wake := bud.tryAcquire(n)
			if ok {
				return nil
			}
			if err := send(true); err != nil {
				return err
			}
			select {
			case <-wake:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	var reserved int64 // taken by Reserve for the large item being decoded
	unreserve := func() {
		if reserved > 0 {
			bud.release(reserved)
			reserved = 0
		}
	}
	defer unreserve()
	dopts := decodeOptions(opts.Workers, j.obj.Size)
	dopts.DeferChecksum = opts.deferChecksum
	dopts.Keep = func(r *cloudtrail.Record) bool {
		if why := drop(r); why >= 0 {
			fd.dropped[why]++
			return false
		}
		return true
	}
	dopts.Reserve = func(n int) error {
		unreserve()
		if err := take(2 * int64(n)); err != nil {
			return err
		}
		reserved = 2 * int64(n)
		return nil
	}
	stats, err := f.decode(counter, j.obj.URI, dopts, func(r *cloudtrail.Record) error {
		if opts.Decoded != nil {
			opts.Decoded(r)
		}
		n := r.MemSize()
		unreserve() // the record's own size replaces it
		if err := take(n); err != nil {
			return err
		}
		buf = append(buf, r)
		size += n
		if len(buf) == chunk || size >= chunkBytes {
			return send(false)
		}
		return nil
	})
	rc.Close()
	if len(buf) > 0 {
		msgs <- message{records: buf, size: size}
	}
	fd.stats = stats
	fd.err = err
	fd.bytes = counter.n
	fd.state.Records = stats.Records
	fd.state.Problems = len(stats.Problems)
	msgs <- message{done: fd}
}

// decodeOptions are the limits a worker of workers decodes an object of size bytes with.
func decodeOptions(workers int, size int64) cloudtrail.DecodeOptions {
	return cloudtrail.DecodeOptions{MaxDecompressedBytes: maxDecompressed(size), MaxInMemoryBytes: maxInMemory(workers), Size: size}
}

// Decompressed-size guard against gzip bombs: CloudTrail's gzip files inflate about 10-15
// times, so an object may inflate to decompressRatio times its size, and never less than
// minDecompressedLimit (which also covers plain JSON files of any realistic size).
const (
	decompressRatio      = 100
	minDecompressedLimit = 1 << 30
)

// maxDecompressed is the MaxDecompressedBytes for an object of size bytes.
func maxDecompressed(size int64) int64 {
	return max(size*decompressRatio, minDecompressedLimit)
}

// inMemoryBudget bounds what all decoding workers together hold of whole objects read into
// memory (cloudtrail.DecodeOptions.MaxInMemoryBytes); a larger object is streamed.
const inMemoryBudget = 128 << 20

// maxWholeFile is the largest object one worker reads whole: a busy trail's files of 5,000
// events are 7–10 MB of JSON, and one streamed (Go's gzip, each record captured, then
// decoded) costs about a third more CPU per event than one inflated by libdeflate and decoded
// in place — cloudtrail.DefaultMaxInMemoryBytes (8 MiB) sent half of them down that path.
const maxWholeFile = 32 << 20

func maxInMemory(workers int) int {
	return min(maxWholeFile, inMemoryBudget/max(workers, 1))
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// batch is records handed to the committer with the sources it completes.
type batch struct {
	records   *lake.Batch // prepared by fill before the hand-over
	size      int64       // of the records, by MemSize: given back to the budget once written
	completed []lake.SourceState
}

// appendAll is the single consumer: it gathers records into batches of BatchRows and hands
// each to the committer with the sources completed so far. The committer is two goroutines in
// a pipeline: one writes a batch's files (its own engine connection, for the dedupe check),
// the other commits them — fsyncs and the manifest, mostly waiting on the disk — while the
// next batches are written (up to writtenAhead ahead). Commits happen in batch order, one at a
// time; a batch is written knowing the files of the commits still to come (lake.Writer keeps
// them as pending). A full
// batch waits for the hand-over, so at most two are in memory; a batch's records give their
// budget back once its files are written.
func appendAll(ctx context.Context, db *engine.DB, w *lake.Writer, opts Options, msgs <-chan message, bud *budget, sum *Summary, prog *progress) error {
	commitDB, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer commitDB.Close()
	batches := make(chan batch)
	// A written batch holds no records (their budget is back), only its files' names: the
	// writer goes on with the next batches while a commit waits on the disk's fsyncs (on a
	// busy disk, a tenth of a second or more, during which the decoders, their batch full and
	// not taken, waited too).
	writtenBatches := make(chan writtenBatch, writtenAhead)
	var added, dups, files atomic.Int64
	var failed atomic.Bool
	// writing is set while the writer has a batch: fill hands a batch over early (a worker
	// waits for budget) only while it is not, as the batch being written gives its budget
	// back anyway. The writer wakes the waiting workers when it is done, to ask again.
	var writing atomic.Bool
	writeErr, commitErr := make(chan error, 1), make(chan error, 1)
	go func() {
		defer close(writtenBatches)
		var first error
		// The batches written since the last hand-over to the committer: their records may be
		// in files still held open (lake.Writer.HoldFiles), which no commit may name yet, so
		// their sources wait with them. Every holdBatches batches the held files are closed.
		var carry writtenBatch
		carried := 0
		// given are the files given to Written since the last hand-over (a held file once,
		// however many batches it took): if they are never handed over to the committer (a
		// write failed, or a commit), they go to Uncommitted here.
		var given []lake.DataFile
		givenPath := map[string]bool{}
		closeHeld := func() {
			files, err := w.CloseHeld()
			if err != nil {
				first = err
				failed.Store(true)
				return
			}
			carry.files = append(carry.files, files...)
		}
		handOver := func() {
			writtenBatches <- carry
			carry, carried = writtenBatch{}, 0
			given = given[:0]
			clear(givenPath)
		}
		for b := range batches {
			writing.Store(true)
			if first == nil && !failed.Load() {
				var wb writtenBatch
				wb, first = writeBatch(ctx, commitDB, w, b)
				if first == nil && opts.Written != nil && wb.staged > 0 {
					if parts := written(b.records); len(parts.files) > 0 {
						for _, f := range parts.files {
							if !givenPath[f.Path] {
								givenPath[f.Path] = true
								given = append(given, f)
							}
						}
						opts.Written(parts.files, parts.recs, parts.facts)
					}
				}
				bud.release(b.size)
				if first != nil {
					failed.Store(true)
				} else {
					carry.add(wb)
					if carried++; w.Held() && carried >= holdBatches {
						closeHeld()
					}
					if first == nil && !w.Held() {
						handOver()
					}
				}
			} else {
				bud.release(b.size)
			}
			writing.Store(false)
			bud.notify()
		}
		if first == nil && !failed.Load() && carried > 0 {
			if closeHeld(); first == nil {
				handOver()
			}
		}
		// What was given to Written and not handed over is never committed: removed (a held
		// file aborted, a file closed by a failed write) or left for the next writer to remove.
		if len(given) > 0 && opts.Uncommitted != nil {
			opts.Uncommitted(given)
		}
		writeErr <- first
	}()
	go func() {
		var first error
		for wb := range writtenBatches {
			if first == nil {
				first = commitWritten(w, wb, &added, &dups)
				if first != nil {
					failed.Store(true)
				} else {
					files.Add(int64(len(wb.completed)))
					if opts.AfterCommit != nil && len(wb.files) > 0 {
						opts.AfterCommit()
					}
				}
			}
			if first != nil && opts.Uncommitted != nil && len(wb.files) > 0 {
				opts.Uncommitted(wb.files)
			}
			// After a failed commit the batches written are left for the next writer to
			// remove (no manifest names them): the failed commit may have named its files.
		}
		commitErr <- first
	}()
	err = fill(ctx, opts, msgs, sum, prog, batches, &failed, &writing)
	close(batches)
	werr, cerr := <-writeErr, <-commitErr
	switch { // the cause; fill only saw that a write or commit failed
	case cerr != nil:
		err = cerr
	case werr != nil:
		err = werr
	}
	sum.EventsAdded += added.Load()
	sum.Duplicates += dups.Load()
	sum.FilesCommitted += int(files.Load())
	return err
}

// writtenAhead is how many written batches may wait for their commit.
const writtenAhead = 4

// holdBatches is how many batches' records a held file may take before the held files are
// closed and the batches committed (lake.Writer.HoldFiles): a day of a busy trail's events
// goes into files of lake.HeldFileBytes rather than one per batch, and a crash loses at most
// this many batches' work (their files were never named by a commit; the next run reads their
// sources again).
const holdBatches = 8

// writtenBatch is a batch whose files are written, waiting for its commit.
type writtenBatch struct {
	files           []lake.DataFile
	staged, written int64
	completed       []lake.SourceState
}

// add carries wb's files, counts and sources into b, whose commit names them all.
func (b *writtenBatch) add(wb writtenBatch) {
	b.files = append(b.files, wb.files...)
	b.staged += wb.staged
	b.written += wb.written
	b.completed = append(b.completed, wb.completed...)
}

// writtenParts is what Options.Written is given of a written batch: per data file the batch
// wrote records into, those records and their EC2 lifecycle facts (nil when not computed).
type writtenParts struct {
	files []lake.DataFile
	recs  [][]*cloudtrail.Record
	facts [][]lifecycle.Fact
}

// written returns the data files b's records went into (lake.Batch.File: a file of b, or a
// held file that takes other batches' records too), each with b's records in it — only
// those: a held file is given once per batch that wrote into it — and their facts.
func written(b *lake.Batch) writtenParts {
	var p writtenParts
	p.facts = [][]lifecycle.Fact{}
	for _, d := range b.Dates() {
		path := b.File(d)
		if path == "" {
			continue
		}
		recs := b.Records(d)
		p.files = append(p.files, lake.DataFile{Path: path, Date: d, Rows: int64(len(recs))})
		p.recs = append(p.recs, recs)
		if p.facts != nil {
			f, ok := b.Facts(d)
			if !ok {
				p.facts = nil // not computed: Written computes them
				continue
			}
			p.facts = append(p.facts, f)
		}
	}
	return p
}

// writeBatch writes the files of one batch, not yet committed.
func writeBatch(ctx context.Context, db *engine.DB, w *lake.Writer, b batch) (writtenBatch, error) {
	wb := writtenBatch{staged: int64(b.records.Staged()), completed: b.completed}
	if wb.staged > 0 {
		var err error
		wb.files, wb.written, err = lake.WriteRecords(ctx, db, w, b.records)
		if err != nil {
			return wb, err
		}
	}
	return wb, nil
}

// commitWritten commits a written batch with the sources it completes.
func commitWritten(w *lake.Writer, wb writtenBatch, added, dups *atomic.Int64) error {
	if len(wb.files) > 0 || len(wb.completed) > 0 {
		if err := w.Commit(wb.files, nil, wb.completed); err != nil {
			return err
		}
	}
	// A batch of duplicates only commits nothing, and its events are still counted.
	added.Add(wb.written)
	dups.Add(wb.staged - wb.written)
	return nil
}

// fill gathers records into batches and hands each full one to the committer. A commit
// failure surfaces at the next hand-over, or at the end.
func fill(ctx context.Context, opts Options, msgs <-chan message, sum *Summary, prog *progress,
	batches chan<- batch, failed, writing *atomic.Bool) error {
	var cur batch
	var records []*cloudtrail.Record
	// A batch is handed over at BatchRows records or at half the budget, whichever comes first.
	maxSize := opts.MemoryBudget / 2
	// Files finish in whatever order the workers get to them; their problems are reported in
	// delivery order, so that the same input gives the same report (and, past MaxProblems,
	// keeps the same problems).
	probs := fileProblems{max: opts.MaxProblems - len(sum.Problems)}
	defer func() { sum.Problems = append(sum.Problems, probs.sorted()...) }()
	hand := func() error {
		if failed.Load() {
			return errors.New("a commit failed")
		}
		cur.records, records = lake.NewBatch(records), nil
		select {
		case batches <- cur:
		case <-ctx.Done():
			return ctx.Err()
		}
		cur = batch{}
		return nil
	}
	for m := range msgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		sum.Records += len(m.records)
		records = append(records, m.records...)
		cur.size += m.size
		if fd := m.done; fd != nil {
			sum.OutOfRange += fd.dropped[dropOutOfRange]
			sum.OutsideRetention += fd.dropped[dropOutsideRetention]
			sum.Filtered += fd.dropped[dropFiltered]
			sum.Records += fd.dropped[dropOutOfRange] + fd.dropped[dropOutsideRetention] + fd.dropped[dropFiltered]
			if errors.Is(fd.err, context.Canceled) {
				continue // not recorded: the next run reads the file again
			}
			if ref := (*refusedError)(nil); errors.As(fd.err, &ref) {
				sum.FilesRefused++
				sum.Errors++
				probs.add(fd.seq, cloudtrail.Problem{File: fd.state.URI, Severity: cloudtrail.Error, Msg: "integrity: " + ref.reason})
				prog.fileDone(0, sum)
				continue // not recorded: nothing of it was read
			}
			fd.count(sum, &probs)
			cur.completed = append(cur.completed, fd.state)
			prog.fileDone(fd.bytes, sum)
		}
		if len(records) >= opts.BatchRows || cur.size >= maxSize || (m.flush && len(records) > 0 && !writing.Load()) {
			if err := hand(); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return hand()
}

// fileProblems keeps the first max problems in (file, order within the file) order, whatever
// order the files come in.
type fileProblems struct {
	max  int
	list []seqProblem
	next int // problems added so far
}

type seqProblem struct {
	file, n int // the file's position, the problem's position among all added
	p       cloudtrail.Problem
}

func (f *fileProblems) add(file int, p cloudtrail.Problem) {
	if f.max <= 0 {
		return
	}
	f.list = append(f.list, seqProblem{file, f.next, p})
	f.next++
	if len(f.list) >= 2*f.max {
		f.list = f.sortedItems() // bounded: at most 2·max problems held
	}
}

func (f *fileProblems) sortedItems() []seqProblem {
	slices.SortFunc(f.list, func(a, b seqProblem) int {
		if c := cmp.Compare(a.file, b.file); c != 0 {
			return c
		}
		return cmp.Compare(a.n, b.n)
	})
	return f.list[:min(len(f.list), f.max)]
}

func (f *fileProblems) sorted() []cloudtrail.Problem {
	if f.max <= 0 {
		return nil
	}
	out := make([]cloudtrail.Problem, 0, len(f.list))
	for _, sp := range f.sortedItems() {
		out = append(out, sp.p)
	}
	return out
}
