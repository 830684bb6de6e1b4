package iceberg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	iceberggo "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // the table's metadata and files on S3
	"github.com/apache/iceberg-go/utils"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/objstore"
)

// Publication is a store's S3 home (auditlake eds publish): its live files are uploaded under
// To, and its Iceberg table (location and data files) lives there. Publications are kept in
// <data>/iceberg/publish.json, by store id.
type Publication struct {
	// To is the prefix, "s3://bucket/prefix/" (always ending in "/").
	To string `json:"to"`
	// EndpointURL and Region select the S3 service (EndpointURL: an S3-compatible server,
	// path-style addressing). Credentials come from the SDK's default chain.
	EndpointURL string `json:"endpoint_url,omitempty"`
	Region      string `json:"region,omitempty"`
	// PartSize is the multipart part size (objstore.DefaultPartSize when 0).
	PartSize    int64     `json:"part_size,omitempty"`
	PublishedAt time.Time `json:"published_at"`
	// LocalDays, when > 0, keeps only the files of the last LocalDays days (UTC, today
	// included) on the local disk; older days are read from S3 through the store's cache
	// (localdays.go). CacheBytes bounds that cache (lake.DefaultCacheBytes when 0).
	LocalDays  int   `json:"local_days,omitempty"`
	CacheBytes int64 `json:"cache_bytes,omitempty"`
	// TakeOver, given to Publish (eds publish --take-over), makes the prefix this lake's when
	// another lake's owner marker is there (prefixowner.go).
	TakeOver bool `json:"-"`
}

// Object is the S3 URI of the store file rel (relative to the store directory).
func (p Publication) Object(rel string) string { return p.To + rel }

// Location is the table's location: To without its final "/".
func (p Publication) Location() string { return strings.TrimSuffix(p.To, "/") }

func publishPath(dataDir string) string { return filepath.Join(dataDir, "iceberg", "publish.json") }

// Publications are the data directory's publications by store id.
func Publications(dataDir string) (map[string]Publication, error) {
	out := map[string]Publication{}
	if _, err := os.Stat(publishPath(dataDir)); errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err := atomicfile.ReadJSON(publishPath(dataDir), &out); err != nil {
		return nil, fmt.Errorf("publications: %w", err)
	}
	return out, nil
}

// LoadPublication is store id's publication; ok is false when it is not published.
func LoadPublication(dataDir, id string) (p Publication, ok bool, err error) {
	all, err := Publications(dataDir)
	if err != nil {
		return Publication{}, false, err
	}
	p, ok = all[id]
	return p, ok, nil
}

// sessions are the publications this process decided for the stores it is writing: read once
// per write session (at its first written file or commit, sessionPublication), used by every
// early upload and sync of the session, and forgotten when the session's writer closes
// (lake.Hooks.Idle) or when this process changes the publication (SavePublication,
// SaveLocalDays, Unpublish). Another process changes a store's publication only under the
// store's write lock (eds publish, eds update, eds delete), so never within a session here.
var sessions struct {
	sync.Mutex
	m   map[[2]string]decision
	gen uint64 // counts forgetPublication: a decision read before one is not kept
}

type decision struct {
	p  Publication
	ok bool
}

// sessionPublication is store id's publication as decided for this process's current write
// session of the store, read when not decided yet.
func sessionPublication(dataDir, id string) (Publication, bool, error) {
	k := [2]string{dataDir, id}
	sessions.Lock()
	d, ok := sessions.m[k]
	gen := sessions.gen
	sessions.Unlock()
	if ok {
		return d.p, d.ok, nil
	}
	p, published, err := LoadPublication(dataDir, id)
	if err != nil {
		return Publication{}, false, err
	}
	sessions.Lock()
	if sessions.m == nil {
		sessions.m = map[[2]string]decision{}
	}
	if sessions.gen == gen { // not changed by this process while it was read
		sessions.m[k] = decision{p, published}
	}
	sessions.Unlock()
	return p, published, nil
}

// currentPublication is store id's publication: the session's decision when one is running,
// else read.
func currentPublication(dataDir, id string) (Publication, bool, error) {
	sessions.Lock()
	d, ok := sessions.m[[2]string{dataDir, id}]
	sessions.Unlock()
	if ok {
		return d.p, d.ok, nil
	}
	return LoadPublication(dataDir, id)
}

// forgetPublication ends the decision about store id's publication (its write session ended,
// or this process changed it).
func forgetPublication(dataDir, id string) {
	sessions.Lock()
	delete(sessions.m, [2]string{dataDir, id})
	sessions.gen++
	sessions.Unlock()
}

// Validate says what is wrong with p.
func (p Publication) Validate() error {
	bucket, key, err := objstore.SplitS3(p.To)
	if err != nil || !strings.HasSuffix(p.To, "/") {
		return fmt.Errorf("--to %q: want s3://bucket/prefix/", p.To)
	}
	if strings.Contains(bucket, "/") || strings.Contains(key, "//") {
		return fmt.Errorf("--to %q: want s3://bucket/prefix/", p.To)
	}
	// The table names its objects by URI, which iceberg-go parses: "#" and "?" would end the
	// key there, a "%" not an escape does not parse.
	if u, err := url.Parse(p.To); err != nil || u.Fragment != "" || u.RawQuery != "" || u.ForceQuery || strings.Contains(p.To, "#") {
		return fmt.Errorf(`--to %q: an Iceberg table names its objects by URI, where "#" and "?" end the key and "%%" starts an escape: choose a prefix without them`, p.To)
	}
	return nil
}

// SavePublication records store id's publication. The tables' S3 access is the catalog's (one
// endpoint and region for all), so every publication must name the same endpoint and region,
// and no two stores may share a prefix.
func SavePublication(dataDir, id string, p Publication) error {
	if err := p.Validate(); err != nil {
		return err
	}
	defer forgetPublication(dataDir, id)
	return atomicfile.UpdateJSON(publishPath(dataDir), publishPath(dataDir)+".lock", func(all *map[string]Publication) error {
		if *all == nil {
			*all = map[string]Publication{}
		}
		for other, q := range *all {
			if other == id {
				continue
			}
			if q.EndpointURL != p.EndpointURL || q.Region != p.Region {
				return fmt.Errorf("store %s is published to endpoint %q region %q: every store's S3 home must be in the same place (the catalog has one S3 configuration)", other, q.EndpointURL, q.Region)
			}
			if strings.HasPrefix(p.To, q.To) || strings.HasPrefix(q.To, p.To) {
				return fmt.Errorf("store %s is published to %s: two stores cannot share a prefix", other, q.To)
			}
		}
		(*all)[id] = p
		return nil
	})
}

// S3Properties are the S3 properties iceberg-go's file IO takes to reach the published tables
// (empty when no store is published).
func S3Properties(dataDir string) iceberggo.Properties {
	p := iceberggo.Properties{}
	all, err := Publications(dataDir)
	if err != nil {
		return p
	}
	for _, id := range slices.Sorted(maps.Keys(all)) {
		pub := all[id]
		if pub.EndpointURL != "" {
			p["s3.endpoint"] = pub.EndpointURL
			p["s3.path-style-access"] = "true"
		}
		if pub.Region != "" {
			p["s3.region"] = pub.Region
		}
		break
	}
	return p
}

// ledger is what has been uploaded of a store: rel path → size and CRC-32C (MD5 for an upload
// of an earlier version), and when the file left the store's live files (its object is deleted a keep window later). It lives in
// <data>/iceberg/published/<store id>.json; an upload whose ledger entry was lost to a crash is
// recognized by the object's size and CRC-32C and not uploaded again.
type ledger struct {
	Files map[string]*ledgerFile `json:"files"`
	// Segments hold the retired objects past ledgerSpillAt (ledgerspill.go).
	Segments []ledgerSegment `json:"retired_segments,omitempty"`
}

type ledgerFile struct {
	objstore.Uploaded
	// Pending is set before a new file is uploaded ahead of its commit (uploadEarly) and cleared
	// once its object is stored: an object a crash leaves behind is named here, so collect
	// deletes it when its file never became live, and push recognizes it when it did.
	Pending bool       `json:"pending,omitempty"`
	Retired *time.Time `json:"retired,omitempty"`
}

func ledgerPath(dataDir, id string) string {
	return filepath.Join(dataDir, "iceberg", "published", id+".json")
}

func readLedger(dataDir, id string) (*ledger, error) {
	l := &ledger{}
	if err := atomicfile.ReadJSON(ledgerPath(dataDir, id), l); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("upload ledger: %w", err)
	}
	if l.Files == nil {
		l.Files = map[string]*ledgerFile{}
	}
	return l, nil
}

func (l *ledger) write(dataDir, id string) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(ledgerPath(dataDir, id)), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(ledgerPath(dataDir, id), b)
}

// ledgerMu serializes this process's changes to the ledgers: the uploads ahead of a commit
// (uploadEarly) record theirs while a commit's sync records its own. Other processes do not
// change a store's ledger while this one holds the store's write lock.
var ledgerMu sync.Mutex

// updateLedger applies fn to store id's ledger and writes it when fn says it changed it.
func updateLedger(dataDir, id string, fn func(*ledger) bool) error {
	ledgerMu.Lock()
	defer ledgerMu.Unlock()
	l, err := readLedger(dataDir, id)
	if err != nil {
		return err
	}
	if !fn(l) {
		return nil
	}
	return l.write(dataDir, id)
}

var clients struct {
	sync.Mutex
	m map[[2]string]*objstore.Client
}

// client is the S3 client of p's endpoint and region, one per process.
func (p Publication) client() *objstore.Client {
	clients.Lock()
	defer clients.Unlock()
	k := [2]string{p.EndpointURL, p.Region}
	if c, ok := clients.m[k]; ok {
		return c
	}
	if clients.m == nil {
		clients.m = map[[2]string]*objstore.Client{}
	}
	c := objstore.New(objstore.Options{EndpointURL: p.EndpointURL, Region: p.Region})
	clients.m[k] = c
	return c
}

// withS3 gives ctx the AWS configuration iceberg-go's S3 file IO uses for p's tables, loaded once
// per process with one HTTP client (objstore.SharedAWSConfig): without it, every table load
// resolves the SDK's configuration and builds a transport again (a twelfth of a published
// ingest's CPU).
func (p Publication) withS3(ctx context.Context) context.Context {
	cfg, err := objstore.SharedAWSConfig(ctx, p.Region)
	if err != nil {
		return ctx // iceberg-go loads it itself, and says what is wrong
	}
	return utils.WithAwsConfig(ctx, cfg)
}

// uploadWorkers is how many files are uploaded at once (by a commit's push, and ahead of the
// commits by uploadEarly).
const uploadWorkers = 4

// early are this process's uploads of new files ahead of their commit (uploadEarly), by store
// and file, from their start until a push takes them (the commit that names the file).
var early struct {
	sync.Mutex
	m    map[earlyKey]*earlyUpload
	slot chan struct{} // uploadWorkers slots
}

type earlyKey struct{ dataDir, id, rel string }

type earlyUpload struct {
	done chan struct{} // closed when the upload is over
	sum  objstore.Uploaded
	err  error
}

// uploadEarly uploads the file rel that a writer of store id has just written, when the store is
// published, while the writer goes on (lake.Hooks.Written): the commit that names it then finds
// it uploaded, or waits only for the rest of its upload, instead of uploading it between the
// store's commit and the snapshot. The ledger names the file (Pending) before the upload starts,
// so that an object a crash leaves behind for a file never committed is deleted like any retired
// file's (collect), and one whose file was committed is recognized, not uploaded again (push).
// The file's name is new (lake.NewUUID): no object can be there yet, so no HeadObject is asked.
func uploadEarly(lk *lake.Lake, id, rel string) {
	p, ok, err := sessionPublication(lk.Dir, id)
	if err != nil || !ok {
		return // not published; a failure to read it is the commit's to report
	}
	k := earlyKey{lk.Dir, id, rel}
	e := &earlyUpload{done: make(chan struct{})}
	early.Lock()
	if _, ok := early.m[k]; ok {
		early.Unlock()
		return
	}
	if early.m == nil {
		early.m = map[earlyKey]*earlyUpload{}
		early.slot = make(chan struct{}, uploadWorkers)
	}
	early.m[k] = e
	slot := early.slot
	early.Unlock()
	go func() {
		defer close(e.done)
		slot <- struct{}{}
		defer func() { <-slot }()
		if e.err = claimPrefix(p.withS3(context.Background()), lk.Dir, lake.Store{ID: id, Name: id}, p); e.err != nil {
			return // another lake's prefix: the commit's push refuses it with the store's name
		}
		e.err = updateLedger(lk.Dir, id, func(l *ledger) bool {
			if _, ok := l.Files[rel]; ok {
				return false
			}
			l.Files[rel] = &ledgerFile{Pending: true}
			return true
		})
		if e.err != nil {
			return
		}
		// The ledger records the upload when the commit that names the file takes it (push, one
		// ledger write for all of a commit's files); until then it stays pending, which is what
		// a crash, or a batch never committed, leaves to collect and push to settle.
		e.sum, e.err = p.client().Upload(context.Background(), p.Object(rel), lk.AbsPath(id, rel), p.PartSize)
	}()
}

// takeEarly is the upload ahead of its commit of store id's file rel, nil when there is none in
// this process; it is forgotten here (the file is live from now on).
func takeEarly(dataDir, id, rel string) *earlyUpload {
	early.Lock()
	defer early.Unlock()
	k := earlyKey{dataDir, id, rel}
	e := early.m[k]
	delete(early.m, k)
	return e
}

// endEarly forgets the uploads ahead of a commit of store id that no commit took by the end of
// its write session (lake.Hooks.Idle, once the follower has caught up with the session's
// commits): their files were never committed (a batch or a compaction that failed after writing
// them). Each is waited for; its object, which the ledger names, is then retired and deleted by
// collect like that of any file no longer live. A long-running process (serve, collect) kept
// them in memory for good, and collect never retired their objects.
func endEarly(dataDir, id string) {
	early.Lock()
	var ended []earlyKey
	var waits []chan struct{}
	for k, e := range early.m {
		if k.dataDir == dataDir && k.id == id {
			ended = append(ended, k)
			waits = append(waits, e.done)
		}
	}
	early.Unlock()
	for _, done := range waits {
		<-done
	}
	early.Lock()
	for _, k := range ended {
		delete(early.m, k)
	}
	early.Unlock()
}

// uploadingEarly reports whether store id's file rel was uploaded ahead of a commit that has not
// named it yet (its ledger entry is not a retired file's).
func uploadingEarly(dataDir, id, rel string) bool {
	early.Lock()
	defer early.Unlock()
	_, ok := early.m[earlyKey{dataDir, id, rel}]
	return ok
}

// push uploads the live files of m not yet uploaded to p: a file uploaded ahead of its commit
// (uploadEarly) is waited for, not uploaded again; an object already there with the file's size
// and CRC-32C (an upload a crash cut off before the ledger recorded it) is recorded, not uploaded
// again. It returns how many files were uploaded for it.
func push(ctx context.Context, lk *lake.Lake, st lake.Store, p Publication, m *lake.Manifest) (int, error) {
	if err := claimPrefix(ctx, lk.Dir, st, p); err != nil { // before the table or any object changes
		return 0, err
	}
	ledgerMu.Lock()
	led, err := readLedger(lk.Dir, st.ID)
	ledgerMu.Unlock()
	if err != nil {
		return 0, err
	}
	var todo []string
	for _, f := range m.Files {
		if e, ok := led.Files[f.Path]; ok && !e.Pending {
			takeEarly(lk.Dir, st.ID, f.Path) // uploaded ahead of this commit: live now
			continue
		}
		todo = append(todo, f.Path)
	}
	if len(todo) == 0 {
		return 0, nil
	}
	cl := p.client()
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		errs     []error
		uploaded int
		next     = make(chan string)
		ahead    = map[string]objstore.Uploaded{} // uploaded ahead of this commit: recorded at the end
	)
	for range min(uploadWorkers, len(todo)) {
		wg.Go(func() {
			for rel := range next {
				if e := takeEarly(lk.Dir, st.ID, rel); e != nil {
					<-e.done
					if e.err == nil {
						mu.Lock()
						uploaded++
						ahead[rel] = e.sum
						mu.Unlock()
						continue
					}
					// Failed ahead of the commit: uploaded now, as any other file.
				}
				sum, err := pushFile(ctx, cl, p, lk.AbsPath(st.ID, rel), p.Object(rel))
				if err == nil {
					err = updateLedger(lk.Dir, st.ID, func(l *ledger) bool {
						l.Files[rel] = &ledgerFile{Uploaded: sum.Uploaded}
						return true
					})
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if sum.put {
					uploaded++
				}
				mu.Unlock()
			}
		})
	}
	for _, rel := range todo {
		next <- rel
	}
	close(next)
	wg.Wait()
	if len(ahead) > 0 {
		if err := updateLedger(lk.Dir, st.ID, func(l *ledger) bool {
			for rel, sum := range ahead {
				l.Files[rel] = &ledgerFile{Uploaded: sum}
			}
			return true
		}); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return uploaded, fmt.Errorf("publish store %s to %s: %w", st.Name, p.To, errors.Join(errs...))
	}
	return uploaded, nil
}

type pushed struct {
	objstore.Uploaded
	put bool
}

func pushFile(ctx context.Context, cl *objstore.Client, p Publication, local, uri string) (pushed, error) {
	have, found, err := cl.Sum(ctx, uri)
	if err != nil {
		return pushed{}, err
	}
	if found {
		want, err := objstore.FileLike(local, have)
		if err != nil {
			return pushed{}, err
		}
		if have.Same(want) {
			return pushed{Uploaded: want}, nil
		}
	}
	up, err := cl.Upload(ctx, uri, local, p.PartSize)
	return pushed{Uploaded: up, put: true}, err
}

// collect deletes the objects of files that left the store's live files more than keep ago:
// every snapshot that named them is older than keep and expired (Expire), so no reader of the
// table can need them.
func collect(ctx context.Context, lk *lake.Lake, st lake.Store, p Publication, m *lake.Manifest, keep time.Duration) error {
	if err := claimPrefix(ctx, lk.Dir, st, p); err != nil {
		return err
	}
	ledgerMu.Lock()
	defer ledgerMu.Unlock()
	led, err := readLedger(lk.Dir, st.ID)
	if err != nil {
		return err
	}
	live := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		live[f.Path] = true
	}
	now := time.Now().UTC()
	changed := false
	var errs []error
	for _, rel := range slices.Sorted(maps.Keys(led.Files)) {
		e := led.Files[rel]
		switch {
		case live[rel]:
			if e.Retired != nil {
				e.Retired, changed = nil, true
			}
		case uploadingEarly(lk.Dir, st.ID, rel):
			// Uploaded ahead of a commit still to come: not retired.
		case e.Retired == nil:
			e.Retired, changed = &now, true
			if keep > 0 {
				break
			}
			fallthrough
		case now.Sub(*e.Retired) >= keep:
			if err := p.client().Delete(ctx, p.Object(rel)); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(led.Files, rel)
			changed = true
		}
	}
	dropped, err := led.collectSegments(ctx, lk.Dir, st.ID, p, live, now, keep, false)
	errs = append(errs, err)
	spilled, err := led.spill(lk.Dir, st.ID)
	errs = append(errs, err)
	if changed || dropped || spilled {
		errs = append(errs, led.write(lk.Dir, st.ID))
	}
	if !spilled {
		led.removeUnnamedSegments(lk.Dir, st.ID)
	}
	return errors.Join(errs...)
}

// verify forgets the ledger entries whose object is no longer on S3 as uploaded (deleted or
// overwritten by something else), so that push uploads them again: eds publish run again
// repairs a prefix, not only a crash.
func verify(ctx context.Context, lk *lake.Lake, st lake.Store, p Publication) error {
	ledgerMu.Lock()
	defer ledgerMu.Unlock()
	led, err := readLedger(lk.Dir, st.ID)
	if err != nil {
		return err
	}
	changed := false
	for _, rel := range slices.Sorted(maps.Keys(led.Files)) {
		e := led.Files[rel]
		if e.Pending {
			continue // its file is checked by push when live, its object deleted by collect when not
		}
		have, found, err := p.client().Sum(ctx, p.Object(rel))
		if err != nil {
			return fmt.Errorf("publish store %s: %w", st.Name, err)
		}
		if !found || !have.Same(e.Uploaded) {
			delete(led.Files, rel)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return led.write(lk.Dir, st.ID)
}

// Unpublish forgets store st's publication and deletes its objects (every file the ledger names),
// as its store is being deleted: the store's events leave S3 with it. The table's metadata stays
// (its last snapshot names no file).
func Unpublish(ctx context.Context, lk *lake.Lake, st lake.Store) error {
	defer forgetPublication(lk.Dir, st.ID)
	p, ok, err := LoadPublication(lk.Dir, st.ID)
	if err != nil || !ok {
		return err
	}
	switch err := claimPrefix(p.withS3(ctx), lk.Dir, st, p); {
	case errors.Is(err, ErrPrefixOwned):
		return dropPublication(lk.Dir, st.ID) // the objects are the other lake's: none is deleted
	case err != nil:
		return err
	}
	led, err := readLedger(lk.Dir, st.ID)
	if err != nil {
		return err
	}
	for _, rel := range slices.Sorted(maps.Keys(led.Files)) {
		if err := p.client().Delete(ctx, p.Object(rel)); err != nil {
			return fmt.Errorf("unpublish store %s: %w", st.Name, err)
		}
		delete(led.Files, rel)
	}
	if _, err := led.collectSegments(ctx, lk.Dir, st.ID, p, nil, time.Now(), 0, true); err != nil {
		return fmt.Errorf("unpublish store %s: %w", st.Name, err)
	}
	if err := p.client().Delete(ctx, p.Object(ownerObject)); err != nil { // the prefix is free again
		return fmt.Errorf("unpublish store %s: %w", st.Name, err)
	}
	return dropPublication(lk.Dir, st.ID)
}

// dropPublication removes store id's upload ledger and its record among the publications.
func dropPublication(dataDir, id string) error {
	if err := os.Remove(ledgerPath(dataDir, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	os.RemoveAll(segmentDir(dataDir, id))
	return atomicfile.UpdateJSON(publishPath(dataDir), publishPath(dataDir)+".lock", func(all *map[string]Publication) error {
		delete(*all, id)
		return nil
	})
}

// PublishResult says what Publish did.
type PublishResult struct {
	Result
	Uploaded int // files uploaded by this call
	Live     int // the store's live files, all on S3 now
}

// Publish records st's publication to p and brings its S3 home up to the store: every live file
// uploaded (those already there, with their size and CRC-32C, are not uploaded again), the table
// re-pointed at p's location and synced. The caller holds the store's write lock. A crash
// anywhere in it is repaired by running it again, or by the store's next commit. It opens the
// data directory's catalog itself, with the publication's S3 settings.
func Publish(ctx context.Context, lk *lake.Lake, st lake.Store, p Publication) (PublishResult, error) {
	c, ok, err := LoadConfig(lk.Dir)
	if err != nil {
		return PublishResult{}, err
	}
	if !ok {
		return PublishResult{}, ErrNoCatalog
	}
	keep, _ := c.Keep()
	if p.PublishedAt.IsZero() {
		p.PublishedAt = time.Now().UTC()
	}
	old, had, err := LoadPublication(lk.Dir, st.ID)
	if err != nil {
		return PublishResult{}, err
	}
	if had {
		if old.To != p.To {
			return PublishResult{}, fmt.Errorf("store %s is already published to %s", st.Name, old.To)
		}
		p.PublishedAt = old.PublishedAt
		if p.LocalDays < 0 { // not given: as it was
			p.LocalDays, p.CacheBytes = old.LocalDays, old.CacheBytes
		}
	}
	p.LocalDays = max(p.LocalDays, 0)
	if err := SavePublication(lk.Dir, st.ID, p); err != nil {
		return PublishResult{}, err
	}
	res, err := publish(ctx, lk, st, p, c, keep)
	if err != nil && !had {
		err = withdrawFirst(lk.Dir, st, p, err)
	}
	return res, err
}

// withdrawFirst undoes the record of a first publication that failed (no S3 credentials, no
// such bucket, a prefix mistyped) before it uploaded anything, so the store is as it was: not
// published, free to be published elsewhere, its commits not trying to follow a home that never
// was. A publication that uploaded files stays recorded (its objects are on S3): running the same
// eds publish again resumes it; err says so.
func withdrawFirst(dataDir string, st lake.Store, p Publication, err error) error {
	led, lerr := readLedger(dataDir, st.ID)
	if lerr != nil {
		return err
	}
	if n := len(led.Files) + led.spilledObjects(); n > 0 {
		return fmt.Errorf("%w (the publication of store %s to %s is recorded with %d files uploaded: run eds publish %s --to %s again to finish it)", err, st.Name, p.To, n, st.Name, p.To)
	}
	defer forgetPublication(dataDir, st.ID)
	if dropPublication(dataDir, st.ID) != nil {
		return err
	}
	return fmt.Errorf("%w (store %s is not published: nothing was uploaded)", err, st.Name)
}

// publish is Publish once the publication is recorded.
func publish(ctx context.Context, lk *lake.Lake, st lake.Store, p Publication, c Config, keep time.Duration) (PublishResult, error) {
	props, err := c.OpenProperties(lk.Dir) // with the REST catalog's token or credential
	if err != nil {
		return PublishResult{}, err
	}
	cat, err := Open(ctx, props)
	if err != nil {
		return PublishResult{}, fmt.Errorf("open the iceberg catalog (%s): %w", c.Type, err)
	}
	if cl, ok := cat.(catalog.Closer); ok {
		defer cl.Close()
	}
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		return PublishResult{}, err
	}
	if err := verify(ctx, lk, st, p); err != nil {
		return PublishResult{}, err
	}
	n, err := push(ctx, lk, st, p, m) // refused first when another lake owns the prefix
	out := PublishResult{Uploaded: n, Live: len(m.Files)}
	if err != nil {
		return out, err
	}
	if out.Result, err = Follow(ctx, cat, lk, st, keep); err != nil {
		return out, err
	}
	return out, nil
}

// ErrNoCatalog is returned by Publish when the data directory's tables are turned off.
var ErrNoCatalog = errors.New(NoCatalog)

// NoCatalog says that the data directory's Iceberg tables are turned off, and how to turn them on.
const NoCatalog = "the Iceberg tables are turned off (auditlake catalog set none): turn them on with auditlake catalog set sql (or rest, glue)"

// Follow brings st's table up to its store (Sync, which uploads first when the store is
// published), expires its snapshots older than keep, and deletes the objects on S3 that only
// those expired snapshots named.
func Follow(ctx context.Context, cat catalog.Catalog, lk *lake.Lake, st lake.Store, keep time.Duration) (Result, error) {
	p, ok, err := currentPublication(lk.Dir, st.ID)
	if err != nil {
		return Result{}, err
	}
	if ok {
		ctx = p.withS3(ctx)
	}
	res, err := Sync(ctx, cat, lk, st)
	if err != nil {
		return res, err
	}
	if err := Expire(ctx, cat, st, keep); err != nil {
		return res, err
	}
	if !ok {
		return res, nil
	}
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		return res, err
	}
	if err := collect(ctx, lk, st, p, m, keep); err != nil {
		return res, err
	}
	return res, evict(ctx, lk, st, p, m)
}
