package integrity

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/auditlake/auditlake/internal/objstore"
)

// pendingMargin: a log file whose name time is this close to (or after) the end of the newest
// digest of its region may have been delivered after that digest closed; the next digest will
// list it, so it is not reported as not covered. CloudTrail delivers log files about every five
// minutes; the name carries the minute the file was written, not the delivery time.
const pendingMargin = 15 * time.Minute

// Validate checks the digests and log files under source (s3://bucket/prefix or a local
// directory) with keys, and returns a verdict for each. from and to (zero for unbounded)
// select digests by the time in their name the way the AWS CLI does (to is extended by an hour
// to catch files delivered late) and log files by the minute in their name. A non-nil error
// means the source could not be read; findings are in the Report, never in the error.
func Validate(ctx context.Context, client *objstore.Client, source string, keys KeySet, from, to time.Time) (*Report, error) {
	v := &validator{
		client: client, keys: keys, from: from, to: to,
		s3:             objstore.IsS3(source),
		loaded:         map[string]*digestResult{},
		visited:        map[string]bool{},
		logIndex:       map[string]entry{},
		digestIndex:    map[string]entry{},
		invalidListing: map[string]string{},
	}
	v.workers = runtime.GOMAXPROCS(0)
	if v.s3 {
		v.workers = 16
	}
	if err := v.list(ctx, source); err != nil {
		return nil, err
	}
	if err := v.prefetch(ctx); err != nil {
		return nil, err
	}
	if err := v.walkChains(ctx); err != nil {
		return nil, err
	}
	if err := v.checkLogs(ctx); err != nil {
		return nil, err
	}
	v.notCovered()
	v.report.finish()
	return &v.report, nil
}

type validator struct {
	client   *objstore.Client
	keys     KeySet
	from, to time.Time
	s3       bool
	workers  int

	digests  []entry          // every digest listed under the source
	logs     []entry          // every log file listed under the source
	logIndex map[string]entry // logs by lookup key (see lookupKey)
	// digestIndex holds a local copy's digests by layout key.
	digestIndex map[string]entry
	// newestDigest is the latest digest end time (from names) per scope, to tell pending logs.
	newestDigest map[string]time.Time

	mu      sync.Mutex
	loaded  map[string]*digestResult // by URI
	visited map[string]bool

	wanted []logRef // log files listed by valid digests
	// invalidListing: log URI → the invalid digest that lists it (for not-covered details).
	invalidListing map[string]string
	covered        map[string]bool
	report         Report
}

type digestResult struct {
	df  *digestFile
	err error
}

// logRef is one logFiles[] entry of a valid digest, resolved to where it should be.
type logRef struct {
	uri, hash, digest string
}

// lookupKey names an object for matching references against the listing: bucket/key in S3,
// the key from "AWSLogs/" on for a local copy (whose bucket and prefix are unknown).
func (v *validator) lookupKey(bucket, key string) string {
	if v.s3 {
		return bucket + "/" + key
	}
	return layoutOf(key)
}

func (v *validator) list(ctx context.Context, source string) error {
	bucket := ""
	if v.s3 {
		b, _, err := objstore.SplitS3(source)
		if err != nil {
			return err
		}
		bucket = b
	}
	v.newestDigest = map[string]time.Time{}
	err := v.client.Walk(ctx, source, func(o objstore.Object) error {
		if e, ok := parseDigestEntry(o); ok {
			v.digests = append(v.digests, e)
			v.digestIndex[e.layout] = e
			if e.time.After(v.newestDigest[e.scope]) {
				v.newestDigest[e.scope] = e.time
			}
			return nil
		}
		if e, ok := parseLogEntry(o); ok {
			v.logs = append(v.logs, e)
			v.logIndex[v.lookupKey(bucket, o.Key)] = e
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %q: %w", source, err)
	}
	return nil
}

func (v *validator) inRange(t time.Time) bool {
	return (v.from.IsZero() || !t.Before(v.from)) && (v.to.IsZero() || !t.After(v.to.Add(time.Hour)))
}

// prefetch loads every in-range digest in parallel; the chain walk then runs from memory.
func (v *validator) prefetch(ctx context.Context) error {
	var todo []entry
	for _, e := range v.digests {
		if v.inRange(e.time) {
			todo = append(todo, e)
		}
	}
	return parallel(ctx, len(todo), v.workers, func(ctx context.Context, i int) error {
		_, err := v.digest(ctx, todo[i].obj.URI, todo[i].obj.Key)
		if err != nil && objstore.IsNotExist(err) {
			return nil // deleted since listing: the walk reports it if a successor names it
		}
		return err
	})
}

// digest returns the loaded digest at uri, fetching it once.
func (v *validator) digest(ctx context.Context, uri, key string) (*digestFile, error) {
	v.mu.Lock()
	r, ok := v.loaded[uri]
	v.mu.Unlock()
	if ok {
		return r.df, r.err
	}
	df, err := loadDigest(ctx, v.client, uri, key)
	v.mu.Lock()
	v.loaded[uri] = &digestResult{df: df, err: err}
	v.mu.Unlock()
	return df, err
}

// walkChains starts a walk at the newest not yet visited in-range digest of each chain until
// every in-range digest has been visited. A chain restarts after a starting digest, a missing
// digest or an invalid one, as the AWS CLI does.
func (v *validator) walkChains(ctx context.Context) error {
	chains := map[string][]entry{}
	var names []string
	for _, e := range v.digests {
		if !v.inRange(e.time) {
			continue
		}
		if _, ok := chains[e.chain]; !ok {
			names = append(names, e.chain)
		}
		chains[e.chain] = append(chains[e.chain], e)
	}
	sort.Strings(names)
	for _, name := range names {
		list := chains[name]
		sort.Slice(list, func(i, j int) bool { return list[i].time.Before(list[j].time) })
		for i := len(list) - 1; i >= 0; i-- {
			if v.visited[list[i].obj.URI] {
				continue
			}
			if err := v.walk(ctx, list[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// expectation is what a valid successor says about its predecessor.
type expectation struct {
	sig, hash, by string
}

func (v *validator) walk(ctx context.Context, head entry) error {
	uri, key, near := head.obj.URI, head.obj.Key, head
	var succ *expectation
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		v.visited[uri] = true
		df, err := v.digest(ctx, uri, key)
		if err != nil {
			if objstore.IsNotExist(err) && succ != nil {
				v.add(uri, KindDigest, StatusMissing, "named as previousDigestS3Object by "+succ.by+" but not found")
				return nil
			}
			return fmt.Errorf("read digest %q: %w", uri, err)
		}
		status, detail := v.check(df, succ)
		v.add(uri, KindDigest, status, detail)
		d := &df.d
		if status != StatusValid {
			for _, lf := range d.LogFiles {
				v.invalidListing[v.resolveLog(lf.S3Bucket, lf.S3Object, near)] = uri
			}
			return nil
		}
		for _, lf := range d.LogFiles {
			v.wanted = append(v.wanted, logRef{uri: v.resolveLog(lf.S3Bucket, lf.S3Object, near), hash: lf.HashValue, digest: uri})
		}
		if d.PreviousDigestS3Object == nil || d.PreviousDigestSignature == nil {
			return nil // a starting digest: older digests, if any, begin a new walk
		}
		if !v.from.IsZero() {
			if start, err := time.Parse(time.RFC3339, d.DigestStartTime); err == nil && start.Before(v.from) {
				return nil
			}
		}
		prevBucket := d.DigestS3Bucket
		if d.PreviousDigestS3Bucket != nil {
			prevBucket = *d.PreviousDigestS3Bucket
		}
		succ = &expectation{sig: *d.PreviousDigestSignature, by: uri}
		if d.PreviousDigestHashValue != nil {
			succ.hash = *d.PreviousDigestHashValue
		}
		uri, key = v.resolveDigest(prevBucket, *d.PreviousDigestS3Object, near)
		if v.visited[uri] {
			return nil
		}
		if e, ok := parseDigestEntry(objstore.Object{URI: uri, Key: key}); ok {
			near = e
		}
	}
}

// check returns the verdict for a loaded digest. succ is nil for the head of a walk.
func (v *validator) check(df *digestFile, succ *expectation) (Status, string) {
	if df.formatErr != "" {
		return StatusModified, df.formatErr
	}
	d := &df.d
	if v.s3 {
		if "s3://"+d.DigestS3Bucket+"/"+d.DigestS3Object != df.uri {
			return StatusModified, fmt.Sprintf("moved: the digest names its location as s3://%s/%s", d.DigestS3Bucket, d.DigestS3Object)
		}
	} else if layoutOf(d.DigestS3Object) != layoutOf(df.key) {
		return StatusModified, fmt.Sprintf("moved: the digest names its location as s3://%s/%s", d.DigestS3Bucket, d.DigestS3Object)
	}
	if succ != nil && succ.hash != "" && !strings.EqualFold(succ.hash, df.hash) {
		return StatusModified, fmt.Sprintf("sha-256 %s differs from previousDigestHashValue %s in %s", df.hash, succ.hash, succ.by)
	}
	sig, sigFrom := df.sig, "its metadata"
	if succ != nil && succ.sig != "" {
		sig, sigFrom = succ.sig, "previousDigestSignature in "+succ.by
	} else {
		if sig == "" {
			return StatusInvalidSignature, "no signature: " + df.sigNote
		}
		if df.sigAlg != "" && df.sigAlg != SignatureAlgorithm {
			return StatusInvalidSignature, fmt.Sprintf("unsupported signature algorithm %q", df.sigAlg)
		}
	}
	if d.DigestSignatureAlgorithm != "" && d.DigestSignatureAlgorithm != SignatureAlgorithm {
		return StatusInvalidSignature, fmt.Sprintf("unsupported digestSignatureAlgorithm %q", d.DigestSignatureAlgorithm)
	}
	key, ok := v.keys.Lookup(d.DigestPublicKeyFingerprint)
	if !ok {
		return StatusInvalidSignature, fmt.Sprintf("no public key with fingerprint %s", d.DigestPublicKeyFingerprint)
	}
	msg := StringToSign(d.DigestEndTime, d.DigestS3Bucket, d.DigestS3Object, df.hash, d.PreviousDigestSignature)
	if err := VerifySignature(key.Key, msg, sig); err != nil {
		return StatusInvalidSignature, fmt.Sprintf("signature from %s does not verify with key %s: %v", sigFrom, key.Fingerprint, err)
	}
	if succ == nil && d.PreviousDigestSignature == nil {
		return StatusValid, "starting digest"
	}
	return StatusValid, ""
}

// resolveDigest maps a digest reference to the URI and key to read it from.
func (v *validator) resolveDigest(bucket, key string, near entry) (string, string) {
	if v.s3 {
		return "s3://" + bucket + "/" + key, key
	}
	if e, ok := v.digestIndex[layoutOf(key)]; ok {
		return e.obj.URI, e.obj.Key
	}
	k := near.base + layoutOf(key)
	return filepath.FromSlash(k), k
}

// resolveLog maps a log file reference to the URI it is (or should be) at.
func (v *validator) resolveLog(bucket, key string, near entry) string {
	if e, ok := v.logIndex[v.lookupKey(bucket, key)]; ok {
		return e.obj.URI
	}
	if v.s3 {
		return "s3://" + bucket + "/" + key
	}
	return filepath.FromSlash(near.base + layoutOf(key))
}

// checkLogs hashes every log file the valid digests list, in parallel.
func (v *validator) checkLogs(ctx context.Context) error {
	v.covered = map[string]bool{}
	var refs []logRef
	for _, r := range v.wanted {
		if v.covered[r.uri] {
			continue // listed twice: the first listing decides
		}
		v.covered[r.uri] = true
		refs = append(refs, r)
	}
	out := make([]Verdict, len(refs))
	err := parallel(ctx, len(refs), v.workers, func(ctx context.Context, i int) error {
		r := refs[i]
		out[i] = Verdict{File: r.uri, Kind: KindLog}
		sum, formatErr, err := hashLog(ctx, v.client, r.uri)
		switch {
		case err != nil && objstore.IsNotExist(err):
			out[i].Status, out[i].Detail = StatusDeleted, "listed in "+r.digest+" but not found"
		case err != nil:
			return err
		case formatErr != "":
			out[i].Status, out[i].Detail = StatusModified, formatErr+" (listed in "+r.digest+")"
		case !strings.EqualFold(sum, r.hash):
			out[i].Status, out[i].Detail = StatusModified, fmt.Sprintf("sha-256 %s differs from %s in %s", sum, r.hash, r.digest)
		default:
			out[i].Status = StatusValid
		}
		return nil
	})
	if err != nil {
		return err
	}
	v.report.Verdicts = append(v.report.Verdicts, out...)
	return nil
}

// notCovered reports log files present in range that no valid digest lists, except files too
// new for the newest digest of their region to have listed (see pendingMargin).
func (v *validator) notCovered() {
	for _, e := range v.logs {
		if v.covered[e.obj.URI] {
			continue
		}
		if (!v.from.IsZero() && e.time.Before(v.from.Truncate(time.Minute))) || (!v.to.IsZero() && e.time.After(v.to)) {
			continue
		}
		if newest, ok := v.newestDigest[e.scope]; ok && !e.time.Before(newest.Add(-pendingMargin)) {
			continue
		}
		detail := "no digest lists this file"
		if d, ok := v.invalidListing[e.obj.URI]; ok {
			detail = "listed only in " + d + ", which is not valid"
		}
		v.add(e.obj.URI, KindLog, StatusNotCovered, detail)
	}
}

func (v *validator) add(file string, kind Kind, status Status, detail string) {
	v.report.Verdicts = append(v.report.Verdicts, Verdict{File: file, Kind: kind, Status: status, Detail: detail})
}

// parallel calls fn(i) for i in [0, n) on up to workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idx := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range idx {
				if ctx.Err() != nil {
					continue
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case idx <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	return context.Cause(ctx)
}
