package ingest

import (
	"cmp"
	"context"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/configitems"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/objstore"
)

// configResult is one decoded source.
type configResult struct {
	seq   int // the object's position in the listing: problems are reported in it
	obj   objstore.Object
	res   configitems.Result
	err   error
	bytes int64
}

// Config ingests AWS Config configuration items from opts.Sources into a config store: snapshot
// and history files, change notifications (an oversized notification's item is read from the
// object it names), rule events and get-resource-config-history output, local or from S3 in
// Config's key layout. Items are deduplicated on resource id + capture time, so re-ingesting or
// reading the same item from a snapshot and a history file adds it once. From and To bound
// objects by the day in their key and items by capture time.
func Config(ctx context.Context, lk *lake.Lake, store lake.Store, opts Options) (*Summary, error) {
	start := time.Now()
	if store.Type != lake.TypeConfig {
		return nil, fmt.Errorf("store %q is a %s store; Config items go into a config store (auditlake eds create NAME --type config)", store.Name, store.Type)
	}
	opts.setDefaults(100_000)
	w, done, err := begin(lk, store)
	if err != nil {
		return nil, err
	}
	defer w.Close()

	sum := &Summary{}
	var jobs []objstore.Object
	seen := map[string]bool{}
	consider := func(o objstore.Object) {
		if seen[o.URI] {
			return
		}
		seen[o.URI] = true
		sum.FilesSeen++
		if skip := configSkipReason(o, opts, done); skip != "" {
			sum.FilesSkipped++
			opts.Log.Debug("skip source", "uri", o.URI, "reason", skip)
			return
		}
		jobs = append(jobs, o)
	}
	for _, o := range opts.Objects {
		consider(o)
	}
	for _, src := range opts.Sources {
		explicit := filepath.Clean(src)
		found := 0
		err := opts.Client.Walk(ctx, src, func(o objstore.Object) error {
			if o.URI != explicit && o.URI != src && !LooksLikeData(o.Key) {
				return nil
			}
			found++
			consider(o)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list source %q: %w", src, err)
		}
		if found == 0 {
			sum.noFiles(src, "Config")
		}
	}

	db, err := engine.Open(ctx, engine.Options{MemoryLimit: opts.MemoryLimit, TempDir: lk.TempDir()})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := lake.CreateConfigStaging(ctx, db); err != nil {
		return nil, err
	}
	prog := newProgress(opts.Progress, opts.Terminal, len(jobs), opts.Log)
	defer prog.finish()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan configResult, 4)
	jobCh := make(chan int)
	var wg sync.WaitGroup
	for i := 0; i < opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range jobCh {
				r := decodeConfig(ctx, opts.Client, jobs[seq])
				r.seq = seq
				results <- r
			}
		}()
	}
	go func() {
		defer close(jobCh)
		for seq := range jobs {
			select {
			case jobCh <- seq:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	// Objects finish in whatever order the workers get to them; their problems are reported in
	// listing order, so that the same input gives the same report.
	ap := &configAppender{db: db, w: w, opts: opts, sum: sum, probs: fileProblems{max: opts.MaxProblems - len(sum.Problems)},
		cutoff: lake.RetentionCutoff(store, time.Now())}
	defer func() { sum.Problems = append(sum.Problems, ap.probs.sorted()...) }()
	if err := ap.open(ctx); err != nil {
		cancel()
		for range results {
		}
		return sum, err
	}
	type seqRef struct {
		seq int
		ref string
	}
	var refs []seqRef
	for r := range results {
		if err == nil {
			err = ap.add(ctx, r)
			for _, ref := range r.res.Refs {
				refs = append(refs, seqRef{r.seq, ref})
			}
			prog.fileDone(r.bytes, sum)
		}
	}
	slices.SortStableFunc(refs, func(a, b seqRef) int { return cmp.Compare(a.seq, b.seq) })
	// Oversized items live in the objects their notifications name; read each once, after the
	// objects naming them (in their order).
	for i := 0; err == nil && i < len(refs); i++ {
		ref, seq := refs[i].ref, refs[i].seq
		if seen[ref] {
			continue
		}
		seen[ref] = true
		sum.FilesSeen++
		o, _, serr := opts.Client.Stat(ctx, ref)
		if serr != nil {
			sum.FilesFailed++
			ap.problem(seq, cloudtrail.Problem{File: ref, Severity: cloudtrail.Error, Msg: "read oversized configuration item: " + serr.Error()})
			continue
		}
		if st, ok := done[o.URI]; ok && st.Complete(o.Version()) {
			sum.FilesSkipped++
			continue
		}
		r := decodeConfig(ctx, opts.Client, o)
		r.seq = seq
		err = ap.add(ctx, r)
		for _, next := range r.res.Refs {
			refs = append(refs, seqRef{seq, next})
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = ap.commit(ctx)
	}
	ap.close()
	if err != nil {
		return sum, err
	}
	if merged, err := lake.Compact(ctx, db, w, false); err != nil {
		return sum, fmt.Errorf("compact: %w", err)
	} else if merged > 0 {
		opts.Log.Debug("compacted small files", "files", merged)
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}

// configSkipReason says why an object is not read, or "" to read it.
func configSkipReason(o objstore.Object, opts Options, done map[string]lake.SourceState) string {
	if configitems.IsNotData(o.Key) {
		return "not a configuration file"
	}
	if cloudtrail.IsDigestKey(o.Key) {
		return "digest file"
	}
	// A history file's name gives the window its items were captured in; snapshots hold items
	// captured at any time before delivery, so only history files are pruned by name, and with a
	// day's margin since the window's exact meaning is not documented.
	if ki, ok := configitems.ParseKey(o.Key); ok && !ki.From.IsZero() {
		if !opts.To.IsZero() && ki.From.After(opts.To.Add(24*time.Hour)) {
			return "after --to"
		}
		if !opts.From.IsZero() && ki.To.Add(24*time.Hour).Before(opts.From) {
			return "before --from"
		}
	}
	if st, ok := done[o.URI]; ok && st.Complete(o.Version()) {
		return "unchanged since last ingest"
	}
	return ""
}

func decodeConfig(ctx context.Context, cl *objstore.Client, o objstore.Object) configResult {
	out := configResult{obj: o}
	rc, err := cl.Open(ctx, o.URI)
	if err != nil {
		out.err = err
		return out
	}
	defer rc.Close()
	cr := &countingReader{r: rc}
	out.res, out.err = configitems.Decode(cr, o.URI)
	out.bytes = cr.n
	return out
}

// configAppender stages items and commits them with the sources they came from.
type configAppender struct {
	db        *engine.DB
	w         *lake.Writer
	opts      Options
	sum       *Summary
	app       *engine.Appender
	staged    int
	completed []lake.SourceState
	norm      []byte
	probs     fileProblems
	// cutoff is the store's retention: older items are kept only as their resource's latest.
	cutoff time.Time
}

func (a *configAppender) open(ctx context.Context) error {
	app, err := a.db.NewAppender(ctx, lake.ConfigStagingTable)
	a.app = app
	return err
}

func (a *configAppender) close() {
	if a.app != nil {
		a.app.Close()
		a.app = nil
	}
}

// problem counts an error of the object at position seq and keeps it for the report.
func (a *configAppender) problem(seq int, p cloudtrail.Problem) {
	if p.Severity == cloudtrail.Warning {
		a.sum.Warnings++
	} else {
		a.sum.Errors++
	}
	a.probs.add(seq, p)
}

func (a *configAppender) add(ctx context.Context, r configResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sum, opts := a.sum, a.opts
	sum.Bytes += r.bytes
	sum.SkippedRecords += r.res.Skipped
	// A warning belongs to an item that is kept (text stored as U+FFFD); an error is an item
	// that is not.
	bad := 0
	for _, p := range r.res.Problems {
		if !p.Warning {
			bad++
		}
	}
	sum.BadRecords += bad
	sum.Records += r.res.Skipped + bad
	for _, it := range r.res.Items {
		sum.Records++
		if (!opts.From.IsZero() && it.EventTime.Before(opts.From)) || (!opts.To.IsZero() && !it.EventTime.Before(opts.To)) {
			sum.OutOfRange++
			continue
		}
		a.norm = appendConfigNorm(a.norm[:0], &it)
		vals := []driver.Value{it.EventID, it.Data.ResourceID, it.EventTime, str(it.RecipientAccountID), string(a.norm), it.EventJSON}
		if err := a.app.AppendRow(vals...); err != nil {
			return fmt.Errorf("append configuration item %s %s: %w", it.Data.ResourceID, it.Data.ConfigurationItemCaptureTime, err)
		}
		a.staged++
	}
	for _, p := range r.res.Problems {
		sev := cloudtrail.Error
		if p.Warning {
			sev = cloudtrail.Warning
		}
		a.problem(r.seq, cloudtrail.Problem{File: p.File, Record: p.Item, Line: p.Line, Severity: sev, Msg: p.Msg})
	}
	st := lake.SourceState{URI: r.obj.URI, Version: r.obj.Version(), Records: len(r.res.Items), Problems: len(r.res.Problems), At: time.Now().UTC()}
	// A failed object stays failed (read and reported again) until it changes, as in CloudTrail's
	// ingest (fileDone.count).
	switch {
	case r.err != nil:
		sum.FilesFailed++
		a.problem(r.seq, cloudtrail.Problem{File: r.obj.URI, Severity: cloudtrail.Error, Msg: r.err.Error()})
		st.Problems++
		st.Failed = r.err.Error()
	case bad > 0:
		sum.FilesFailed++
		st.Failed = fmt.Sprintf("%d bad items", bad)
	default:
		sum.FilesIngested++
	}
	a.completed = append(a.completed, st)
	if a.staged >= opts.BatchRows {
		return a.commit(ctx)
	}
	return nil
}

// commit writes the staged items and records the completed sources in one atomic commit.
func (a *configAppender) commit(ctx context.Context) error {
	if err := a.app.Close(); err != nil {
		a.app = nil
		return fmt.Errorf("append configuration items: %w", err)
	}
	a.app = nil
	var added []lake.DataFile
	if a.staged > 0 {
		var written int64
		var err error
		var old int64
		added, written, old, err = lake.WriteConfigBatch(ctx, a.db, a.w, a.cutoff)
		if err != nil {
			return err
		}
		a.sum.EventsAdded += written
		a.sum.OutsideRetention += int(old)
		a.sum.Duplicates += int64(a.staged) - written - old
	}
	if len(added) > 0 || len(a.completed) > 0 {
		if err := a.w.Commit(added, nil, a.completed); err != nil {
			return err
		}
		a.sum.FilesCommitted += len(a.completed)
	}
	a.staged = 0
	a.completed = nil
	return a.open(ctx)
}

// appendConfigNorm renders the Lake columns of an item that are not staged as typed columns, as
// one JSON object keyed by column name (lake.ConfigNormStructure).
func appendConfigNorm(b []byte, it *configitems.Item) []byte {
	w := &jw{b: b}
	w.open()
	v, c, t := configitems.EventVersion, configitems.EventCategory, configitems.EventType
	w.str("eventversion", &v)
	w.str("eventcategory", &c)
	w.str("eventtype", &t)
	w.str("awsregion", it.AwsRegion)
	d := &it.Data
	w.key("eventdata")
	w.open()
	w.str("configurationitemversion", d.ConfigurationItemVersion)
	w.str("configurationitemcapturetime", &d.ConfigurationItemCaptureTime)
	w.str("configurationitemstatus", d.ConfigurationItemStatus)
	w.str("configurationitemstateid", d.ConfigurationItemStateID)
	w.str("accountid", d.AccountID)
	w.str("resourcetype", &d.ResourceType)
	w.str("resourceid", &d.ResourceID)
	w.str("resourcename", d.ResourceName)
	w.str("arn", d.ARN)
	w.str("awsregion", d.AwsRegion)
	w.str("availabilityzone", d.AvailabilityZone)
	w.str("resourcecreationtime", d.ResourceCreationTime)
	appendKVs(w, "configuration", d.Configuration)
	appendKVs(w, "supplementaryconfiguration", d.SupplementaryConfiguration)
	w.str("relatedevents", d.RelatedEvents)
	if d.Relationships != nil {
		w.key("relationships")
		w.b = append(w.b, '[')
		for i, r := range d.Relationships {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.open()
			w.str("name", r.Name)
			w.str("resourcetype", r.ResourceType)
			w.str("resourceid", r.ResourceID)
			w.str("resourcename", r.ResourceName)
			w.close()
		}
		w.b = append(w.b, ']')
		w.first = false
	}
	appendKVs(w, "tags", d.Tags)
	w.close()
	w.first = false
	w.close()
	return w.b
}

func appendKVs(w *jw, k string, kvs []configitems.KV) {
	if kvs == nil {
		return
	}
	w.key(k)
	w.b = append(w.b, '{')
	for i, kv := range kvs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendJSONString(w.b, kv.Key)
		w.b = append(w.b, ':')
		if kv.Value == nil {
			w.b = append(w.b, "null"...)
		} else {
			w.b = appendJSONString(w.b, *kv.Value)
		}
	}
	w.b = append(w.b, '}')
	w.first = false
}
