package lake

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/objstore"
)

// Files kept on S3 only (eds publish --local-days, issue 20). A published store's data files of
// old days can leave the local disk once they are uploaded: the store's remote record
// (<store>/remote.json, written by Evict under the store's write lock) names each such file's
// object, size and MD5. The manifest does not change: the file stays live, and every reader asks
// Local for its files' local paths, which are the files under the store directory when they are
// there, and otherwise copies fetched from S3 into the store's cache (<data>/cache/remote/<id>/),
// checked against the recorded size and MD5 and renamed into place whole. The cache is bounded
// (Remote.CacheBytes): the least recently used copies no reader holds are deleted to make room.
// A reader that needs more than the bound at once (one statement over more days than the cache
// holds) is not refused: the cache holds what it reads while it reads it, past its bound, and
// is trimmed back within it as soon as the reader releases its copies (trim).
// A reader holds each copy it uses with a shared flock on the copy itself until it releases it,
// and the cache deletes a copy only under an exclusive non-blocking flock, so a copy is never
// deleted under a reader, in this process or another.

// DefaultCacheBytes bounds a store's cache of fetched files when its remote record names none.
const DefaultCacheBytes = 8 << 30

// RemoteFile is the S3 object that holds a data file kept on S3 only.
type RemoteFile struct {
	URI  string `json:"uri"`
	Size int64  `json:"size"`
	MD5  string `json:"md5,omitempty"` // hex, of an upload of an earlier version
	// CRC32C is the hex CRC-32C (Castagnoli) the upload stored (objstore.Uploaded).
	CRC32C string `json:"crc32c,omitempty"`
}

// Remote is a store's remote record: where its S3 objects are and which of its files the local
// disk no longer holds.
type Remote struct {
	EndpointURL string `json:"endpoint_url,omitempty"`
	Region      string `json:"region,omitempty"`
	// CacheBytes bounds the store's cache of fetched files (DefaultCacheBytes when 0).
	CacheBytes int64 `json:"cache_bytes,omitempty"`
	// Files are the data files kept on S3 only, by path (relative to the store directory).
	Files map[string]RemoteFile `json:"files"`
}

func (l *Lake) remotePath(id string) string { return filepath.Join(l.StoreDir(id), "remote.json") }

// CacheDir is the directory of store id's fetched copies.
func (l *Lake) CacheDir(id string) string { return filepath.Join(l.Dir, "cache", "remote", id) }

// ReadRemote is store id's remote record (empty when none of its files left the disk).
func (l *Lake) ReadRemote(id string) (*Remote, error) {
	r := &Remote{}
	if err := atomicfile.ReadJSON(l.remotePath(id), r); err != nil {
		return nil, fmt.Errorf("remote record of store %s: %w", l.storeName(id), err)
	}
	if r.Files == nil {
		r.Files = map[string]RemoteFile{}
	}
	return r, nil
}

// Evict records r as store id's remote record and deletes the local copies of its files (every
// one must be a live file, already stored on S3 as r says), when no reader holds the store; the
// caller holds the store's write lock. Entries of files no longer live are dropped. It returns
// how many local files it deleted; files readers keep it from deleting now are deleted by a
// later call (readers use the local file while it is there).
func (l *Lake) Evict(id string, r *Remote) (int, error) {
	m, err := l.ReadManifest(id)
	if err != nil {
		return 0, err
	}
	live := map[string]bool{}
	for _, f := range m.Files {
		live[f.Path] = true
	}
	for rel := range r.Files {
		if !live[rel] {
			delete(r.Files, rel)
		}
	}
	if len(r.Files) == 0 {
		if err := os.Remove(l.remotePath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		return 0, nil
	}
	b, err := json.Marshal(r)
	if err == nil {
		err = atomicfile.Write(l.remotePath(id), b)
	}
	if err != nil {
		return 0, fmt.Errorf("record the files of store %s kept on S3: %w", l.storeName(id), err)
	}
	var local []string
	for rel := range r.Files {
		if _, err := os.Stat(l.AbsPath(id, rel)); err == nil {
			local = append(local, rel)
		}
	}
	if len(local) == 0 {
		return 0, nil
	}
	unlock, err := lockFile(filepath.Join(l.StoreDir(id), "read.lock"), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		return 0, nil // readers are active; a later call deletes them
	}
	defer unlock()
	n := 0
	for _, rel := range local {
		if l.beingRead(l.AbsPath(id, rel)) {
			continue // a writer of this process reads it (a batch beside this commit)
		}
		if err := os.Remove(l.AbsPath(id, rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, err
		}
		n++
	}
	return n, nil
}

// Evicted reports whether data file rel of store id is kept on S3 only (recorded in r, and not
// on the local disk).
func (l *Lake) Evicted(id string, r *Remote, rel string) bool {
	if r == nil {
		return false
	}
	if _, ok := r.Files[rel]; !ok {
		return false
	}
	_, err := os.Stat(l.AbsPath(id, rel))
	return errors.Is(err, fs.ErrNotExist)
}

// CachePath is where store id's cache holds its copy of file rel.
func (l *Lake) CachePath(id, rel string) string {
	return filepath.Join(l.CacheDir(id), filepath.FromSlash(rel))
}

// FetchError says that a file kept on S3 only could not be fetched.
type FetchError struct {
	Store, Day, Object string
	Err                error
}

func (e *FetchError) Error() string {
	return fmt.Sprintf("event data store %q, day %s: fetch %s from S3 (the day is kept on S3 only, eds publish --local-days): %v", e.Store, e.Day, e.Object, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// Local returns the local paths of store id's data files rels (in order): the file under the
// store directory, or for a file kept on S3 only its copy in the store's cache, fetched when the
// cache does not hold it. Every copy is held until release is called (release must be called,
// also after an error). A file neither on disk nor kept on S3 keeps its path under the store
// directory, for the reader to find it missing.
func (l *Lake) Local(ctx context.Context, id string, rels []string) (paths []string, release func(), err error) {
	paths = make([]string, len(rels))
	var need []int
	r, err := l.ReadRemote(id)
	if err != nil {
		return nil, func() {}, err
	}
	for i, rel := range rels {
		paths[i] = l.AbsPath(id, rel)
		if l.Evicted(id, r, rel) {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return paths, func() {}, nil
	}
	c := l.cache(id, r)
	var held []*os.File
	release = func() {
		for _, f := range held {
			f.Close() // drops its shared flock
		}
		held = nil
		c.trim()
	}
	var missing []int
	for _, i := range need {
		f, ok := c.hold(rels[i], r.Files[rels[i]].Size)
		if ok {
			held = append(held, f)
			paths[i] = c.path(rels[i])
			continue
		}
		missing = append(missing, i)
	}
	if len(missing) == 0 {
		return paths, release, nil
	}
	get := make([]string, len(missing))
	for k, i := range missing {
		get[k] = rels[i]
	}
	files, err := c.fetch(ctx, get)
	held = append(held, files...)
	if err != nil {
		return nil, release, err
	}
	for _, i := range missing {
		paths[i] = c.path(rels[i])
	}
	return paths, release, nil
}

// LocalFiles is Local for data files.
func (l *Lake) LocalFiles(ctx context.Context, id string, files []DataFile) (paths []string, release func(), err error) {
	rels := make([]string, len(files))
	for i, f := range files {
		rels[i] = f.Path
	}
	return l.Local(ctx, id, rels)
}

// storeCache is one store's cache of fetched copies.
type storeCache struct {
	l   *Lake
	id  string
	r   *Remote
	dir string
	max int64
}

func (l *Lake) cache(id string, r *Remote) *storeCache {
	max := r.CacheBytes
	if max <= 0 {
		max = DefaultCacheBytes
	}
	return &storeCache{l: l, id: id, r: r, dir: l.CacheDir(id), max: max}
}

func (c *storeCache) path(rel string) string { return c.l.CachePath(c.id, rel) }

// hold opens the cached copy of rel and takes a shared flock on it; ok is false when the cache
// has no whole copy (none, or one a concurrent eviction unlinked).
func (c *storeCache) hold(rel string, size int64) (*os.File, bool) {
	p := c.path(rel)
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		return nil, false
	}
	// Still the file at p (an eviction may have unlinked it before the lock), and whole.
	fst, err1 := f.Stat()
	pst, err2 := os.Stat(p)
	if err1 != nil || err2 != nil || !os.SameFile(fst, pst) || fst.Size() != size {
		f.Close()
		return nil, false
	}
	now := time.Now()
	os.Chtimes(p, now, now) // the LRU order
	return f, true
}

// fetchWorkers is how many files one fetch downloads at once.
const fetchWorkers = 4

var s3Clients struct {
	sync.Mutex
	m map[[2]string]*objstore.Client
}

func remoteClient(endpoint, region string) *objstore.Client {
	s3Clients.Lock()
	defer s3Clients.Unlock()
	k := [2]string{endpoint, region}
	if c, ok := s3Clients.m[k]; ok {
		return c
	}
	if s3Clients.m == nil {
		s3Clients.m = map[[2]string]*objstore.Client{}
	}
	c := objstore.New(objstore.Options{EndpointURL: endpoint, Region: region})
	s3Clients.m[k] = c
	return c
}

// fetch downloads rels into the cache (under the cache's fetch lock, so two processes never
// download one file twice) and returns them held.
func (c *storeCache) fetch(ctx context.Context, rels []string) (held []*os.File, err error) {
	unlock, err := lockFile(filepath.Join(c.dir, "fetch.lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlock()
	tmp := filepath.Join(c.dir, "tmp")
	os.RemoveAll(tmp) // what a fetch cut short left (under the lock: no fetch is writing there)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	var want []string
	for _, rel := range rels {
		if f, ok := c.hold(rel, c.r.Files[rel].Size); ok { // another process fetched it meanwhile
			held = append(held, f)
			continue
		}
		want = append(want, rel)
	}
	var need int64
	for _, rel := range want {
		need += c.r.Files[rel].Size
	}
	c.makeRoom(need)
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
		next = make(chan string)
	)
	for range min(fetchWorkers, len(want)) {
		wg.Go(func() {
			for rel := range next {
				f, err := c.download(ctx, tmp, rel)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					held = append(held, f)
				}
				mu.Unlock()
			}
		})
	}
	for _, rel := range want {
		next <- rel
	}
	close(next)
	wg.Wait()
	return held, errors.Join(errs...)
}

// download fetches rel's object into a temporary file, checks its size and MD5 against the
// record, and renames it into place; the copy is returned held.
func (c *storeCache) download(ctx context.Context, tmp, rel string) (held *os.File, err error) {
	obj := c.r.Files[rel]
	fail := func(err error) error {
		return &FetchError{Store: c.l.storeName(c.id), Day: partitionDate(rel), Object: obj.URI, Err: err}
	}
	body, err := remoteClient(c.r.EndpointURL, c.r.Region).Open(ctx, obj.URI)
	if err != nil {
		return nil, fail(err)
	}
	defer body.Close()
	f, err := os.CreateTemp(tmp, "fetch-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var h hash.Hash = objstore.NewCRC32C()
	kind, want := "CRC-32C", obj.CRC32C
	if want == "" {
		h, kind, want = md5.New(), "MD5", obj.MD5
	}
	n, err := io.Copy(io.MultiWriter(f, h), body)
	if err != nil {
		return nil, fail(err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != obj.Size || !strings.EqualFold(sum, want) {
		return nil, fail(fmt.Errorf("got %d bytes with %s %s, the upload stored %d bytes with %s %s", n, kind, sum, obj.Size, kind, want))
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	dst := c.path(rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		return nil, err
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return nil, err
	}
	atomicfile.SyncDir(filepath.Dir(dst))
	return f, nil
}

// makeRoom deletes the least recently used copies no reader holds until need more bytes fit
// under the cache's bound (or no copy can go). The caller holds the fetch lock.
func (c *storeCache) makeRoom(need int64) {
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var all []entry
	var total int64
	filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		all = append(all, entry{p, info.Size(), info.ModTime()})
		total += info.Size()
		return nil
	})
	if total+need <= c.max {
		return
	}
	slices.SortFunc(all, func(a, b entry) int { return a.used.Compare(b.used) })
	for _, e := range all {
		if total+need <= c.max {
			return
		}
		f, err := os.Open(e.path)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			if os.Remove(e.path) == nil {
				total -= e.size
			}
		}
		f.Close()
	}
}

// trim brings the cache back within its bound once readers released their copies: a reader
// that needed more than the bound at once (one statement over more days than the cache holds)
// made it grow past it while it read them (makeRoom deletes only what no reader holds). It
// does nothing while a fetch runs (that fetch makes room itself).
func (c *storeCache) trim() {
	if bytes, _ := c.l.CacheUsage(c.id); bytes <= c.max {
		return
	}
	unlock, err := lockFile(filepath.Join(c.dir, "fetch.lock"), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		return
	}
	defer unlock()
	c.makeRoom(0)
}

// CacheUsage is the size and number of store id's fetched copies.
func (l *Lake) CacheUsage(id string) (bytes int64, files int) {
	filepath.WalkDir(l.CacheDir(id), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			if info, err := d.Info(); err == nil {
				bytes += info.Size()
				files++
			}
		}
		return nil
	})
	return bytes, files
}

// local is Local for the writer: the copies it fetches are held until Close, and so are the
// local files it reads (Evict, run by a commit's hooks while the next batch may be reading
// them, leaves them on the disk).
func (w *Writer) local(ctx context.Context, rels []string) ([]string, error) {
	paths, release, err := w.lake.Local(ctx, w.id, rels)
	w.fetched = append(w.fetched, release)
	if err != nil {
		return paths, err
	}
	var held []string
	for _, p := range paths {
		if strings.HasPrefix(p, w.lake.StoreDir(w.id)+string(filepath.Separator)) {
			held = append(held, p)
		}
	}
	w.lake.readingMu.Lock()
	if w.lake.reading == nil {
		w.lake.reading = map[string]int{}
	}
	for _, p := range held {
		w.lake.reading[p]++
	}
	w.lake.readingMu.Unlock()
	w.fetched = append(w.fetched, func() {
		w.lake.readingMu.Lock()
		for _, p := range held {
			if w.lake.reading[p]--; w.lake.reading[p] <= 0 {
				delete(w.lake.reading, p)
			}
		}
		w.lake.readingMu.Unlock()
	})
	return paths, nil
}

// beingRead reports whether a writer of this process holds the local file at path (local).
func (l *Lake) beingRead(path string) bool {
	l.readingMu.Lock()
	defer l.readingMu.Unlock()
	return l.reading[path] > 0
}

// localFiles is local for data files.
func (w *Writer) localFiles(ctx context.Context, files []DataFile) ([]string, error) {
	rels := make([]string, len(files))
	for i, f := range files {
		rels[i] = f.Path
	}
	return w.local(ctx, rels)
}

// Settled reports whether the local work on data file f of a store of type storeType is done,
// so that it may leave the disk: a CloudTrail file is cold (its closed day recompressed,
// cold.go) with current EC2 lifecycle facts; a file of another type is always settled.
func (f DataFile) Settled(storeType string) bool {
	if storeType != TypeCloudTrail && storeType != "" {
		return true
	}
	return f.Cold && f.FactsVersion == lifecycle.Version
}

// Restore brings every file of store id kept on S3 only back to the local disk (a copy fetched
// and checked as for a read, then copied under the store directory and renamed into place) and
// removes the store's remote record. The caller holds the store's write lock.
func (l *Lake) Restore(ctx context.Context, id string) error {
	r, err := l.ReadRemote(id)
	if err != nil {
		return err
	}
	var rels []string
	for rel := range r.Files {
		if l.Evicted(id, r, rel) {
			rels = append(rels, rel)
		}
	}
	slices.Sort(rels)
	paths, release, err := l.Local(ctx, id, rels)
	defer release()
	if err != nil {
		return err
	}
	for i, rel := range rels {
		if err := copyInto(paths[i], l.AbsPath(id, rel)); err != nil {
			return fmt.Errorf("bring %s of store %s back to the disk: %w", rel, l.storeName(id), err)
		}
	}
	if err := os.Remove(l.remotePath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// copyInto copies file src to dst whole: a temporary file beside dst, synced, renamed.
func copyInto(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.CreateTemp(filepath.Dir(dst), ".restore-*")
	if err != nil {
		return err
	}
	defer func() {
		out.Close()
		if err != nil {
			os.Remove(out.Name())
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := os.Rename(out.Name(), dst); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(dst))
}
