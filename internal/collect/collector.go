package collect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/objstore"
)

// Options configure a Collector.
type Options struct {
	Lake    *lake.Lake
	DataDir string
	Log     *slog.Logger
	// Now is the clock (today's and yesterday's day folders); nil is time.Now.
	Now func() time.Time
	// Workers decode files in parallel in each ingest; 0 is ingest's default (one per CPU).
	Workers int
	// DiscoverEvery is how many polls of a source pass between two searches for new
	// account/region prefixes (0: 10; the first poll always searches).
	DiscoverEvery int
	// QueueWait is the long-polling wait of an SQS receive, in seconds (0: 5).
	QueueWait int
	// Reload is how often Run rereads the registry for added, paused or removed sources (0: 2s).
	Reload time.Duration
	// Watch, when set, is called with a source's store and the options of each ingest into it
	// before the ingest, to set the detection rules' hooks (ingest.Options.AfterCommit,
	// Written, Decoded: the rules match the records as they are decoded and evaluate each
	// batch after its commit, package alerts), as `auditlake ingest` sets them. It must not
	// block.
	Watch func(store lake.Store, opts *ingest.Options)
}

// Collector runs sources. Poll and Once may be used without Run; one Collector per process.
type Collector struct {
	opts Options
	reg  *Registry

	mu      sync.Mutex
	clients map[string]*objstore.Client
	// seen holds, per source and store (seenKey), the objects committed whole into that store
	// by this process (URI → version): a poll re-lists yesterday's and today's folders and
	// must not hand them to ingest again. A source added again under its name for another
	// store starts afresh.
	seen   map[string]map[string]string
	locks  map[string]*sync.Mutex
	polls  map[string]int
	ingest sync.Mutex // one ingest at a time: the engine's memory is shared by the process
}

// New returns a collector of the sources in reg.
func New(reg *Registry, opts Options) *Collector {
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DiscoverEvery <= 0 {
		opts.DiscoverEvery = 10
	}
	if opts.QueueWait <= 0 {
		opts.QueueWait = 5
	}
	if opts.Reload <= 0 {
		opts.Reload = 2 * time.Second
	}
	return &Collector{opts: opts, reg: reg, clients: map[string]*objstore.Client{}, seen: map[string]map[string]string{},
		locks: map[string]*sync.Mutex{}, polls: map[string]int{}}
}

// client returns the S3/SQS client of a source's options (shared by sources with the same).
func (c *Collector) client(s Source) *objstore.Client {
	key := s.Profile + "\x00" + s.Region + "\x00" + s.EndpointURL
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.clients[key]
	if cl == nil {
		cl = objstore.New(objstore.Options{Profile: s.Profile, Region: s.Region, EndpointURL: s.EndpointURL})
		c.clients[key] = cl
	}
	return cl
}

// update applies fn to a source's state under the source's lock (its poll and its queue
// update it from two goroutines). A source removed meanwhile keeps no state (Registry.UpdateState).
func (c *Collector) update(src Source, fn func(*State)) error {
	c.mu.Lock()
	l := c.locks[src.Name]
	if l == nil {
		l = &sync.Mutex{}
		c.locks[src.Name] = l
	}
	c.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	return c.reg.UpdateState(src, fn)
}

// seenKey is the key of a source's seen objects: its name and its store (what was committed
// into one store says nothing about another).
func seenKey(src Source) string { return src.Name + "\x00" + src.StoreID }

func (c *Collector) isSeen(src, uri, version string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[src][uri] == version
}

// markSeen records the objects ingest committed whole (not the ones with an error problem).
func (c *Collector) markSeen(src string, objs []objstore.Object, sum *ingest.Summary) {
	bad := map[string]bool{}
	for _, p := range sum.Problems {
		if p.Severity == cloudtrail.Error {
			bad[p.File] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.seen[src]
	if m == nil {
		m = map[string]string{}
		c.seen[src] = m
	}
	for _, o := range objs {
		if !bad[o.URI] && sum.Errors < 100 { // past 100 problems some are not listed: read them again
			m[o.URI] = o.Version()
		}
	}
}

// forget drops the seen objects a poll no longer lists (keys before the listing window), and
// all of them past maxSeen (Config's day folders have no key order: the ingest state still
// skips what the store holds).
func (c *Collector) forget(src string, keep func(uri string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen[src]) > maxSeen {
		delete(c.seen, src)
		return
	}
	for uri := range c.seen[src] {
		if !keep(uri) {
			delete(c.seen[src], uri)
		}
	}
}

const maxSeen = 200_000

// PollError is a failed poll, with the kind of failure (objstore.Classify) when known.
type PollError struct {
	Source string
	Kind   string
	Err    error
}

func (e *PollError) Error() string {
	if e.Kind != "" {
		return fmt.Sprintf("source %s: %s: %v", e.Source, e.Kind, e.Err)
	}
	return fmt.Sprintf("source %s: %v", e.Source, e.Err)
}
func (e *PollError) Unwrap() error { return e.Err }

// outcome is what one poll or receive added.
type outcome struct {
	files, events, bytes, messages int64
	lastFile                       string
	problems                       []string
	fails                          failures // the objects read, and which failed (failed.go)
}

// Poll polls a source's S3 prefix once (its queue is Receive's) and records the outcome on
// its state: positions and counters after a success, the error otherwise.
func (c *Collector) Poll(ctx context.Context, src Source) error {
	if src.URI == "" {
		return nil
	}
	start := c.opts.Now()
	cl := c.client(src)
	req0 := cl.Requests()
	var out outcome
	var positions map[string]string
	var discovered []string
	var err error
	switch src.Type {
	case TypeCUR:
		var manifests map[string]string
		out, manifests, err = c.pollCUR(ctx, src, cl)
		if err == nil {
			err = c.update(src, func(st *State) { st.Manifests = manifests })
		}
	default:
		out, positions, discovered, err = c.pollLogs(ctx, src, cl, start)
	}
	c.mu.Lock()
	c.polls[src.Name]++
	c.mu.Unlock()
	if ctx.Err() != nil && err != nil {
		return err // shut down: neither a success nor a failure of the source
	}
	requests := cl.Requests() - req0
	uerr := c.update(src, func(st *State) {
		st.LastRun = start
		st.PollTime = time.Since(start)
		st.Requests += requests
		st.LastPolled = int(requests)
		if discovered != nil {
			st.Prefixes, st.DiscoveredAt = discovered, start
		}
		c.record(st, out, start, err)
		if err == nil {
			if st.Positions == nil {
				st.Positions = map[string]string{}
			}
			for k, v := range positions {
				st.Positions[k] = v
			}
		}
	})
	if err != nil {
		kind := objstore.Classify(err)
		c.opts.Log.Warn("source poll failed", "source", src.Name, "kind", kind, "err", err)
		return &PollError{Source: src.Name, Kind: kind, Err: err}
	}
	if out.files > 0 || len(out.problems) > 0 {
		c.opts.Log.Info("source poll", "source", src.Name, "files", out.files, "events", out.events,
			"problems", len(out.problems), "requests", requests, "took", time.Since(start).Round(time.Millisecond))
	}
	return uerr
}

// record adds an outcome to a state: counters, problems, and success or failure.
func (c *Collector) record(st *State, out outcome, start time.Time, err error) {
	st.Files += out.files
	st.Events += out.events
	st.Bytes += out.bytes
	st.Messages += out.messages
	if out.lastFile != "" {
		st.LastFile = out.lastFile
	}
	st.note(out.fails, start, func(p string) { out.problems = append(out.problems, p) })
	st.RunProblems = len(out.problems)
	for _, p := range out.problems {
		st.problem(p)
		st.Errors++
		st.LastError, st.LastErrorAt = p, start
	}
	if err != nil {
		st.Failing++
		st.Errors++
		msg := err.Error()
		if kind := objstore.Classify(err); kind != "" {
			msg = kind + ": " + msg
		}
		st.LastError, st.LastErrorAt = msg, start
		st.problem(msg)
		return
	}
	st.Failing = 0
	st.LastSuccess = c.opts.Now()
	if st.CaughtUp.Before(start) {
		st.CaughtUp = start
	}
}

// pollLogs lists what is new under a CloudTrail or Config source and ingests it. It returns
// the positions to record (only valid after the commit, which ingest has made when it returns
// nil) and, when it searched, the account/region prefixes found.
func (c *Collector) pollLogs(ctx context.Context, src Source, cl *objstore.Client, now time.Time) (outcome, map[string]string, []string, error) {
	var out outcome
	bucket, prefix, err := objstore.SplitS3(src.URI)
	if err != nil {
		return out, nil, nil, err
	}
	st, err := c.reg.ReadState(src.Name)
	if err != nil {
		return out, nil, nil, err
	}
	kind := folder(src.Type)
	leaves := st.Prefixes
	var discovered []string
	c.mu.Lock()
	n := c.polls[src.Name]
	c.mu.Unlock()
	if len(leaves) == 0 || n%c.opts.DiscoverEvery == 0 {
		found, _, err := discover(ctx, cl, bucket, prefix, kind)
		if err != nil {
			return out, nil, nil, err
		}
		if len(found) == 0 {
			found = []string{prefix} // no AWSLogs layout: the prefix is a folder of files
		}
		leaves, discovered = found, found
	}
	positions := map[string]string{}
	var objs []objstore.Object
	listedURIs := map[string]bool{} // what the listings offer: a failed object due again is read from them
	windows := map[string]string{}  // leaf → the key its listing started after
	for _, leaf := range leaves {
		var listed []objstore.Object
		if kind == "Config" && isRegionLeaf(leaf, kind) && st.Positions[leaf] != "" {
			listed, err = c.listConfigDays(ctx, cl, bucket, leaf, st.Positions[leaf], now)
			positions[leaf] = now.UTC().Format(time.DateOnly)
		} else {
			sa := startAfter(leaf, kind, st.Positions[leaf], now, src.From)
			var l objstore.Listing
			l, err = cl.List(ctx, bucket, leaf, sa, "")
			listed = l.Objects
			windows[leaf] = sa
			switch {
			case kind == "Config" && isRegionLeaf(leaf, kind):
				positions[leaf] = now.UTC().Format(time.DateOnly) // listed whole: from now on by day
			case len(listed) > 0:
				positions[leaf] = max(st.Positions[leaf], listed[len(listed)-1].Key)
			}
		}
		if err != nil {
			return out, nil, nil, err
		}
		for _, o := range listed {
			if !ingest.LooksLikeData(o.Key) || c.isSeen(seenKey(src), o.URI, o.Version()) || st.held(o, now) {
				continue
			}
			objs = append(objs, o)
			listedURIs[o.URI] = true
		}
	}
	c.forget(seenKey(src), func(uri string) bool {
		key := strings.TrimPrefix(uri, "s3://"+bucket+"/")
		for leaf, sa := range windows {
			if strings.HasPrefix(key, leaf) {
				return key > sa
			}
		}
		return true
	})
	// Failed objects due again that the listings no longer offer (past the window, or named by
	// a notification): read as they are now.
	due, gone, err := c.dueFailures(ctx, st, cl, listedURIs, now)
	if err != nil {
		return out, nil, discovered, err
	}
	objs = append(objs, due...)
	out.fails.gone = gone
	if len(objs) == 0 {
		return out, positions, discovered, nil
	}
	sum, err := c.ingestObjects(ctx, src, cl, objs)
	if err != nil {
		return out, nil, discovered, err
	}
	c.markSeen(seenKey(src), objs, sum)
	out = fromSummary(sum, objs)
	out.fails.gone = gone
	return out, positions, discovered, nil
}

// listConfigDays lists the Config day folders from the day before the one polled last to
// today (Config's unpadded year/month/day folders do not sort by date, so a position key
// cannot be used): two requests per region on a steady poll.
func (c *Collector) listConfigDays(ctx context.Context, cl *objstore.Client, bucket, leaf, pos string, now time.Time) ([]objstore.Object, error) {
	last, err := time.Parse(time.DateOnly, pos)
	if err != nil {
		last = now.AddDate(0, 0, -1)
	}
	var objs []objstore.Object
	for d := last.AddDate(0, 0, -1); !d.After(now.UTC()); d = d.AddDate(0, 0, 1) {
		l, err := cl.List(ctx, bucket, dayKey(leaf, "Config", d), "", "")
		if err != nil {
			return nil, err
		}
		objs = append(objs, l.Objects...)
	}
	return objs, nil
}

// ingestObjects ingests objects into the source's store through the ingest pipeline: the same
// atomic, deduplicating commits as `auditlake ingest`.
func (c *Collector) ingestObjects(ctx context.Context, src Source, cl *objstore.Client, objs []objstore.Object) (*ingest.Summary, error) {
	store, err := c.opts.Lake.Resolve(src.StoreID)
	if err != nil {
		return nil, fmt.Errorf("store of source %s: %w", src.Name, err)
	}
	c.ingest.Lock()
	defer c.ingest.Unlock()
	opts := ingest.Options{Objects: objs, From: src.From, Client: cl, Log: c.opts.Log, Workers: c.opts.Workers, MaxProblems: 100}
	if c.opts.Watch != nil {
		c.opts.Watch(store, &opts)
	}
	if src.Type == TypeConfig {
		return ingest.Config(ctx, c.opts.Lake, store, opts)
	}
	return ingest.CloudTrail(ctx, c.opts.Lake, store, opts)
}

// fromSummary is the outcome of an ingest of objs.
func fromSummary(sum *ingest.Summary, objs []objstore.Object) outcome {
	out := outcome{files: int64(sum.FilesIngested), events: sum.EventsAdded, bytes: sum.Bytes}
	for _, o := range objs {
		out.lastFile = max(out.lastFile, o.URI)
	}
	for _, p := range sum.Problems {
		if p.Severity == cloudtrail.Error {
			out.problems = append(out.problems, p.String())
		}
	}
	out.fails = failuresOf(objs, sum)
	return out
}

// pollCUR registers the cost table again (as `cur register` does) when the report's objects
// changed: a billing period's manifest or data files new, rewritten (ETag) or gone — a
// re-delivered month replaces the old assembly. Unchanged, a poll is one listing.
func (c *Collector) pollCUR(ctx context.Context, src Source, cl *objstore.Client) (outcome, map[string]string, error) {
	var out outcome
	bucket, prefix, err := objstore.SplitS3(src.URI)
	if err != nil {
		return out, nil, err
	}
	st, err := c.reg.ReadState(src.Name)
	if err != nil {
		return out, nil, err
	}
	l, err := cl.List(ctx, bucket, prefix, "", "")
	if err != nil {
		return out, nil, err
	}
	seen := map[string]string{}
	for _, o := range l.Objects {
		seen[o.Key] = o.Version()
		if st.Manifests[o.Key] != o.Version() {
			out.files++
			out.lastFile = max(out.lastFile, o.URI)
		}
	}
	if out.files == 0 && len(seen) == len(st.Manifests) {
		return outcome{}, st.Manifests, nil
	}
	sum, err := cost.RegisterSource(ctx, c.opts.DataDir, cost.RegisterOptions{Name: src.Table, Source: src.URI, Log: c.opts.Log,
		S3: objstore.Options{Profile: src.Profile, Region: src.Region, EndpointURL: src.EndpointURL}})
	if err != nil {
		return out, nil, err
	}
	out.events = sum.Table.Rows
	return out, seen, nil
}

// nextDelay is how long a source waits before its next poll: its interval, or after failures
// an exponential backoff (up to 10 minutes, or the interval if longer) with jitter, so that a
// throttled bucket or a source without permissions is not hammered.
func nextDelay(every time.Duration, failing int) time.Duration {
	if failing <= 0 {
		return every
	}
	d := every << min(failing, 6)
	d = min(d, max(10*time.Minute, every))
	return d/2 + rand.N(d/2+1)
}

// Once runs every source that is not paused once — a poll of its prefix, and a drain of its
// queue — and returns their statuses. The error joins the sources that failed.
func (c *Collector) Once(ctx context.Context) ([]Status, error) {
	srcs, err := c.reg.List()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, s := range srcs {
		if s.Paused {
			continue
		}
		if err := c.Poll(ctx, s); err != nil {
			errs = append(errs, err)
		}
		if s.QueueURL != "" && ctx.Err() == nil {
			for range 100 {
				n, err := c.Receive(ctx, s, 0)
				if err != nil {
					errs = append(errs, err)
				}
				if n == 0 || err != nil {
					break
				}
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	sts, err := c.reg.Statuses(c.opts.Now())
	if err != nil {
		return nil, err
	}
	return sts, errors.Join(errs...)
}

// Run runs every source that is not paused until ctx ends, picking up sources added, paused,
// resumed, changed or removed within Reload. A failing source backs off and does not stop the
// others. When ctx ends, the batch in flight is abandoned (what was committed stays; nothing is
// half committed) and Run returns once every source has stopped.
func (c *Collector) Run(ctx context.Context) error {
	type runner struct {
		src    Source
		cancel context.CancelFunc
		done   chan struct{}
	}
	running := map[string]*runner{}
	stop := func(r *runner) {
		r.cancel()
		<-r.done
	}
	defer func() {
		for _, r := range running {
			r.cancel()
		}
		for _, r := range running {
			<-r.done
		}
	}()
	tick := time.NewTicker(c.opts.Reload)
	defer tick.Stop()
	for {
		srcs, err := c.reg.List()
		if err != nil {
			c.opts.Log.Warn("read sources", "err", err)
		}
		want := map[string]Source{}
		for _, s := range srcs {
			if !s.Paused {
				want[s.Name] = s
			}
		}
		for name, r := range running {
			if s, ok := want[name]; !ok || s != r.src {
				stop(r)
				delete(running, name)
			}
		}
		for name, s := range want {
			if running[name] != nil {
				continue
			}
			rctx, cancel := context.WithCancel(ctx)
			r := &runner{src: s, cancel: cancel, done: make(chan struct{})}
			running[name] = r
			go func() {
				defer close(r.done)
				c.runSource(rctx, s)
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// runSource polls a source at its interval (with backoff after failures) and, for a queue
// source, receives its notifications continuously, until ctx ends.
func (c *Collector) runSource(ctx context.Context, src Source) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if src.QueueURL != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			failing := 0
			for ctx.Err() == nil {
				_, err := c.Receive(ctx, src, c.opts.QueueWait)
				if err == nil {
					failing = 0
					continue
				}
				failing++
				sleep(ctx, nextDelay(time.Second, failing))
			}
		}()
	}
	if src.URI == "" {
		return
	}
	every := time.Duration(src.Every)
	for ctx.Err() == nil {
		c.Poll(ctx, src)
		st, _ := c.reg.ReadState(src.Name)
		sleep(ctx, nextDelay(every, st.Failing))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Receive takes one batch of messages from a source's queue (waiting up to wait seconds for
// them), ingests the objects they name and deletes each message only after the commit that
// holds its objects. A malformed message, or one naming an object that is gone, is recorded
// with its message id on the source's status and left on the queue (its redrive policy moves
// it aside after its receive limit). It returns how many messages it received.
func (c *Collector) Receive(ctx context.Context, src Source, wait int) (int, error) {
	cl := c.client(src)
	q := cl.Queue(src.QueueURL)
	start := c.opts.Now()
	req0 := cl.Requests()
	msgs, err := q.Receive(ctx, 10, wait)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, c.finishReceive(src, start, cl.Requests()-req0, outcome{}, err)
	}
	st, err := c.reg.ReadState(src.Name)
	if err != nil {
		return len(msgs), err
	}
	var out outcome
	var objs []objstore.Object
	have := map[string]bool{}
	if src.URI == "" {
		// No poll reads this source's failed objects again: its receives do, when due.
		var gone []string
		objs, gone, err = c.dueFailures(ctx, st, cl, have, c.opts.Now())
		if err != nil {
			return len(msgs), c.finishReceive(src, start, cl.Requests()-req0, out, err)
		}
		out.fails.gone = gone
		for _, o := range objs {
			have[o.URI] = true
		}
	}
	if len(msgs) == 0 && len(objs) == 0 && len(out.fails.gone) == 0 {
		return 0, nil
	}
	var deletable []objstore.Message
	for _, m := range msgs {
		refs, perr := parseNotification(m.Body)
		if perr != nil {
			out.problems = append(out.problems, fmt.Sprintf("message %s: malformed notification: %v (left on the queue)", m.ID, perr))
			continue
		}
		ok := true
		for _, r := range refs {
			uri := "s3://" + r.Bucket + "/" + r.Key
			if !ingest.LooksLikeData(r.Key) || cloudtrail.IsDigestKey(r.Key) || have[uri] {
				continue
			}
			o, _, err := cl.Stat(ctx, uri)
			if err != nil {
				if objstore.Classify(err) == objstore.FailNotFound {
					out.problems = append(out.problems, fmt.Sprintf("message %s: %s is gone (left on the queue)", m.ID, uri))
					ok = false
					continue
				}
				return len(msgs), c.finishReceive(src, start, cl.Requests()-req0, out, err)
			}
			if c.isSeen(seenKey(src), o.URI, o.Version()) || st.held(o, start) {
				continue // read whole, or failed and read again when due (failed.go)
			}
			have[uri] = true
			objs = append(objs, o)
		}
		if ok {
			deletable = append(deletable, m)
		}
	}
	if len(objs) > 0 {
		sum, err := c.ingestObjects(ctx, src, cl, objs)
		if err != nil {
			if ctx.Err() != nil {
				return len(msgs), ctx.Err()
			}
			return len(msgs), c.finishReceive(src, start, cl.Requests()-req0, out, err)
		}
		c.markSeen(seenKey(src), objs, sum)
		got := fromSummary(sum, objs)
		got.problems = append(out.problems, got.problems...)
		got.fails.gone = out.fails.gone
		out = got
	}
	// The commit holding the messages' objects is made: only now may they go.
	for _, m := range deletable {
		if err := q.Delete(ctx, m); err != nil {
			if ctx.Err() != nil {
				return len(msgs), ctx.Err()
			}
			return len(msgs), c.finishReceive(src, start, cl.Requests()-req0, out, err)
		}
		out.messages++
	}
	return len(msgs), c.finishReceive(src, start, cl.Requests()-req0, out, nil)
}

// finishReceive records a receive's outcome on the source's state. Unlike a poll, a receive
// does not move CaughtUp (a queue says nothing about what it has not been told).
func (c *Collector) finishReceive(src Source, start time.Time, requests int64, out outcome, err error) error {
	uerr := c.update(src, func(st *State) {
		caught := st.CaughtUp
		st.LastRun = start
		st.Requests += requests
		c.record(st, out, start, err)
		if src.URI != "" {
			st.CaughtUp = caught
		}
	})
	if err != nil {
		kind := objstore.Classify(err)
		c.opts.Log.Warn("source queue failed", "source", src.Name, "kind", kind, "err", err)
		return &PollError{Source: src.Name, Kind: kind, Err: err}
	}
	if out.files > 0 || len(out.problems) > 0 {
		c.opts.Log.Info("source queue", "source", src.Name, "files", out.files, "events", out.events,
			"messages", out.messages, "problems", len(out.problems))
	}
	return uerr
}
