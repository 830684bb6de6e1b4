package collect_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/collect"
	"github.com/auditlake/auditlake/internal/collect/collecttest"
	"github.com/auditlake/auditlake/internal/configitems/configtest"
	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/objstore"
)

// env is a data directory with a CloudTrail store, an S3 server and a collector.
type env struct {
	dir   string
	lk    *lake.Lake
	store lake.Store
	s3    *collecttest.S3
	reg   *collect.Registry
	c     *collect.Collector
	now   time.Time
}

func newEnv(t *testing.T, buckets ...string) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), s3: collecttest.NewS3(t, buckets...), now: time.Now().UTC()}
	var err error
	if e.lk, err = lake.Open(e.dir); err != nil {
		t.Fatal(err)
	}
	if e.store, err = e.lk.Create("trail", lake.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.reg = collect.Open(e.dir)
	e.c = collect.New(e.reg, collect.Options{Lake: e.lk, DataDir: e.dir, Workers: 2, Now: func() time.Time { return e.now }})
	return e
}

func (e *env) add(t *testing.T, name, uri string) collect.Source {
	t.Helper()
	s := collect.Source{Name: name, Type: collect.TypeCloudTrail, StoreID: e.store.ID, Store: e.store.Name, URI: uri,
		Every: collect.Duration(time.Minute), EndpointURL: e.s3.URL}
	if err := e.reg.Add(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) rows(t *testing.T) int64 {
	t.Helper()
	m, err := e.lk.ReadManifest(e.store.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m.Rows()
}

func (e *env) state(t *testing.T, name string) collect.State {
	t.Helper()
	st, err := e.reg.ReadState(name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// deliver puts a trail file of n events delivered at at into bucket.
func (e *env) deliver(t *testing.T, bucket, org, account, region string, at time.Time, id string, n int) string {
	t.Helper()
	key := collecttest.TrailKey(org, account, region, at, id)
	e.s3.Put(t, bucket, key, collecttest.TrailFile(account, region, at, id, n))
	return key
}

func TestPollIngestsNewFilesOnceAndAdvancesPositions(t *testing.T) {
	e := newEnv(t, "trail")
	src := e.add(t, "org", "s3://trail/AWSLogs/o-abc123/")
	accounts := []string{"111111111111", "222222222222"}
	regions := []string{"us-east-1", "eu-west-1"}
	n := 0
	for _, a := range accounts {
		for _, r := range regions {
			for d := 3; d >= 0; d-- {
				e.deliver(t, "trail", "o-abc123", a, r, e.now.AddDate(0, 0, -d).Add(-time.Hour), fmt.Sprintf("%s-%s-%d", a, r, d), 5)
				n += 5
			}
		}
	}
	// Files beside the logs that are not events: digests and Config are not read.
	e.s3.Put(t, "trail", "AWSLogs/o-abc123/111111111111/CloudTrail-Digest/us-east-1/x.json.gz", []byte("{}"))
	if err := e.c.Poll(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if got := e.rows(t); got != int64(n) {
		t.Fatalf("first poll stored %d events, want %d", got, n)
	}
	st := e.state(t, "org")
	if len(st.Prefixes) != 4 || len(st.Positions) != 4 || st.Events != int64(n) || st.Files != 16 {
		t.Fatalf("state after the first poll: prefixes %v positions %v events %d files %d", st.Prefixes, st.Positions, st.Events, st.Files)
	}
	// Nothing new: no ingest, and the lists are one per account/region prefix.
	lists := e.s3.Lists.Load()
	if err := e.c.Poll(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if got := e.s3.Lists.Load() - lists; got > 4 {
		t.Fatalf("a poll with nothing new made %d list requests for 4 account/region prefixes", got)
	}
	// A new file, a late one into yesterday's folder, and a new region.
	e.deliver(t, "trail", "o-abc123", accounts[0], regions[0], e.now, "new", 3)
	// Late: behind the prefix's position (its last file is at now-1h), in yesterday's folder
	// whatever the time of day (now-1d-20h was two days back before 20:00 UTC).
	e.deliver(t, "trail", "o-abc123", accounts[1], regions[1], e.now.AddDate(0, 0, -1).Truncate(24*time.Hour).Add(time.Hour), "late", 2)
	if err := e.c.Poll(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if got, want := e.rows(t), int64(n+5); got != want {
		t.Fatalf("after new and late files: %d events, want %d", got, want)
	}
	// A process that starts afresh (no memory of what it saw) re-lists yesterday and today and
	// adds nothing twice.
	c2 := collect.New(e.reg, collect.Options{Lake: e.lk, DataDir: e.dir, Workers: 2, Now: func() time.Time { return e.now }})
	if err := c2.Poll(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if got, want := e.rows(t), int64(n+5); got != want {
		t.Fatalf("a new collector's poll changed the store: %d events, want %d", got, want)
	}
}

// TestPollOfBucketWith100000OldObjectsListsOnlyWhatIsNew is the polling cost: with the
// position after 100,000 old objects, a poll that finds nothing new makes one list request per
// account/region prefix (the bound is two), however many objects the bucket holds.
func TestPollOfBucketWith100000OldObjectsListsOnlyWhatIsNew(t *testing.T) {
	e := newEnv(t, "big")
	src := e.add(t, "big", "s3://big/AWSLogs/")
	accounts := []string{"111111111111", "222222222222"}
	regions := []string{"us-east-1", "eu-west-1", "ap-south-1"}
	for _, a := range accounts {
		for _, r := range regions {
			e.deliver(t, "big", "", a, r, e.now.Add(-time.Hour), a+r, 1)
		}
	}
	if err := e.c.Poll(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	// 100,000 old objects (years of history), put through the backend directly.
	old := collecttest.TrailFile(accounts[0], regions[0], e.now.AddDate(-1, 0, 0), "old", 1)
	start := e.now.AddDate(-3, 0, 0)
	for i := range 100_000 {
		a, r := accounts[i%2], regions[(i/2)%3]
		at := start.Add(time.Duration(i) * 15 * time.Minute)
		e.s3.Put(t, "big", collecttest.TrailKey("", a, r, at, fmt.Sprintf("old%06d", i)), old)
	}
	prefixes := len(accounts) * len(regions)
	lists := e.s3.Lists.Load()
	began := time.Now()
	if err := e.c.Poll(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	got := e.s3.Lists.Load() - lists
	t.Logf("poll of %d prefixes over 100,000 old objects: %d list requests, %s", prefixes, got, took)
	if got > int64(2*prefixes) {
		t.Fatalf("a poll with nothing new made %d list requests; the bound is 2 × %d prefixes", got, prefixes)
	}
	if st := e.state(t, "big"); st.LastPolled > 2*prefixes || st.Failing != 0 {
		t.Fatalf("state after the poll: %d requests, failing %d", st.LastPolled, st.Failing)
	}
	if rows := e.rows(t); rows != int64(prefixes) {
		t.Fatalf("the store holds %d events, want %d (the old objects are behind the positions)", rows, prefixes)
	}
}

func TestFromBoundsTheFirstListing(t *testing.T) {
	e := newEnv(t, "trail")
	for d := 10; d >= 0; d-- {
		e.deliver(t, "trail", "", "111111111111", "us-east-1", e.now.AddDate(0, 0, -d), fmt.Sprint("d", d), 1)
	}
	s := collect.Source{Name: "recent", Type: collect.TypeCloudTrail, StoreID: e.store.ID, URI: "s3://trail/AWSLogs/",
		Every: collect.Duration(time.Minute), EndpointURL: e.s3.URL, From: e.now.AddDate(0, 0, -2).Truncate(24 * time.Hour)}
	if err := e.reg.Add(s); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Poll(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if got := e.rows(t); got != 3 {
		t.Fatalf("--from two days back stored %d events, want 3 (today, yesterday, the day before)", got)
	}
}

// TestFailuresShowOnTheSourceAndDoNotStopOthers: throttling (503 SlowDown), access denied, a
// bucket that disappears — each puts its source in the error state with the kind of failure;
// a source on a healthy bucket goes on collecting.
func TestFailuresShowOnTheSourceAndDoNotStopOthers(t *testing.T) {
	e := newEnv(t, "good", "slow", "denied", "doomed")
	for _, b := range []string{"good", "slow", "denied", "doomed"} {
		e.add(t, b, "s3://"+b+"/AWSLogs/")
		e.deliver(t, b, "", "111111111111", "us-east-1", e.now.Add(-time.Hour), b+"1", 2)
	}
	e.s3.Fail("slow", http.StatusServiceUnavailable)
	e.s3.Fail("denied", http.StatusForbidden)
	if err := e.s3.Backend.DeleteBucket("doomed"); err != nil {
		// s3mem refuses to delete a bucket with objects: empty it first.
		e.s3.Backend.DeleteObject("doomed", collecttest.TrailKey("", "111111111111", "us-east-1", e.now.Add(-time.Hour), "doomed1"))
		if err := e.s3.Backend.DeleteBucket("doomed"); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	sts, err := e.c.Once(ctx)
	if err == nil {
		t.Fatal("Once with three failing sources returned no error")
	}
	want := map[string]string{"good": "", "slow": objstore.FailThrottled, "denied": objstore.FailDenied, "doomed": objstore.FailNoBucket}
	for _, s := range sts {
		kind := want[s.Name]
		switch {
		case kind == "" && (s.Status != "ok" || s.Events != 2):
			t.Errorf("%s: status %s, %d events; want ok with 2", s.Name, s.Status, s.Events)
		case kind != "" && (s.Status != "error" || !strings.HasPrefix(s.LastError, kind+":")):
			t.Errorf("%s: status %s, last error %q; want error, %q", s.Name, s.Status, s.LastError, kind)
		}
	}
	var pe *collect.PollError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a PollError", err)
	}
	// Healed, the throttled source catches up.
	e.s3.Fail("slow", 0)
	if err := e.c.Poll(ctx, mustGet(t, e.reg, "slow")); err != nil {
		t.Fatal(err)
	}
	if st := e.state(t, "slow"); st.Failing != 0 || st.Events != 2 {
		t.Fatalf("healed source: failing %d, %d events", st.Failing, st.Events)
	}
	if got := e.rows(t); got != 4 {
		t.Fatalf("store holds %d events, want 4 (good and slow)", got)
	}
}

// addAgainFor adds src again under its name for a new store "other", polls it with c and
// returns how many events the new store holds.
func (e *env) addAgainFor(t *testing.T, c *collect.Collector, src collect.Source) int64 {
	t.Helper()
	other, err := e.lk.Create("other", lake.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src.StoreID, src.Store = other.ID, other.Name
	if err := e.reg.Add(src); err != nil {
		t.Fatal(err)
	}
	if err := c.Poll(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	m, err := e.lk.ReadManifest(other.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m.Rows()
}

// deliverDays delivers a file of 5 events for each of the last days days and today, an hour
// before each day's now, and returns how many events it delivered.
func (e *env) deliverDays(t *testing.T, days int) int {
	t.Helper()
	n := 0
	for d := days; d >= 0; d-- {
		e.deliver(t, "trail", "", "111111111111", "us-east-1", e.now.AddDate(0, 0, -d).Add(-time.Hour), fmt.Sprint("d", d), 5)
		n += 5
	}
	return n
}

// TestASourceAddedAgainForAnotherStoreCollectsEverything: a source removed and added again
// under the same name for another store (a user fixing its --eds) is collected whole into the
// new store by the same running collector. The collector remembered the files it committed
// by source name, so it skipped every file of the listing window for the new store: nothing
// reached it until the collector restarted.
func TestASourceAddedAgainForAnotherStoreCollectsEverything(t *testing.T) {
	e := newEnv(t, "trail")
	n := e.deliverDays(t, 1)
	src := e.add(t, "org", "s3://trail/AWSLogs/")
	ctx := context.Background()
	if err := e.c.Poll(ctx, src); err != nil {
		t.Fatal(err)
	}
	if got := e.rows(t); got != int64(n) {
		t.Fatalf("first store holds %d events, want %d", got, n)
	}
	if err := e.reg.Remove("org"); err != nil {
		t.Fatal(err)
	}
	if got := e.addAgainFor(t, e.c, src); got != int64(n) {
		t.Fatalf("the source added again for another store stored %d events there, want %d", got, n)
	}
}

// TestASourceRemovedDuringItsPollLeavesNoPosition: `source remove` while the source's poll is
// in flight forgets its position, as it says. The poll's end wrote the state file back after
// the removal had deleted it, so the source added again under that name started from the old
// positions, and its first poll skipped every file older than yesterday.
func TestASourceRemovedDuringItsPollLeavesNoPosition(t *testing.T) {
	e := newEnv(t, "trail")
	n := e.deliverDays(t, 3)
	src := e.add(t, "org", "s3://trail/AWSLogs/")
	removing := true
	c := collect.New(e.reg, collect.Options{Lake: e.lk, DataDir: e.dir, Workers: 2, Now: func() time.Time { return e.now },
		Watch: func(lake.Store, *ingest.Options) { // the poll has listed and is about to ingest
			if removing {
				removing = false
				if err := e.reg.Remove("org"); err != nil {
					t.Error(err)
				}
			}
		}})
	ctx := context.Background()
	if err := c.Poll(ctx, src); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.reg.Dir(), "state", "org.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the state of the source removed during its poll is still there (stat: %v): %+v", err, e.state(t, "org").Positions)
	}
	if got := e.addAgainFor(t, c, src); got != int64(n) {
		t.Fatalf("the source added again stored %d events, want %d", got, n)
	}
}

func mustGet(t *testing.T, reg *collect.Registry, name string) collect.Source {
	t.Helper()
	s, err := reg.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestObjectDeletedBetweenListingAndReadIsAProblemNotAFailure: the other files of the poll are
// committed, the gone one is named on the source's status, and the next poll tries it again.
func TestObjectDeletedBetweenListingAndReadIsAProblemNotAFailure(t *testing.T) {
	e := newEnv(t, "trail")
	src := e.add(t, "t", "s3://trail/AWSLogs/")
	e.deliver(t, "trail", "", "111111111111", "us-east-1", e.now.Add(-2*time.Hour), "kept", 3)
	gone := e.deliver(t, "trail", "", "111111111111", "us-east-1", e.now.Add(-time.Hour), "gone", 2)
	e.s3.Gone("trail", gone)
	if err := e.c.Poll(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	sts, _ := e.reg.Statuses(e.now)
	if s := sts[0]; s.Status != "problems" || !strings.Contains(s.LastError, "gone") || s.Events != 3 {
		t.Fatalf("status %q, last error %q, %d events; want problems naming the gone file, 3 events", s.Status, s.LastError, s.Events)
	}
	e.s3.Fail("trail/"+gone, 0) // it was only slow to appear: the next poll reads it
	if err := e.c.Poll(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if got := e.rows(t); got != 5 {
		t.Fatalf("store holds %d events after the object came back, want 5", got)
	}
	if st := e.state(t, "t"); st.RunProblems != 0 {
		t.Fatalf("the poll that read it still reports %d problems", st.RunProblems)
	}
}

// TestConfigSourceFollowsConfigsDayFolders: a Config source lists each region prefix whole
// once, then only yesterday's and today's unpadded day folders (two requests a region); the
// items of a history file delivered today are added, once.
func TestConfigSourceFollowsConfigsDayFolders(t *testing.T) {
	e := newEnv(t, "config")
	cfg, err := e.lk.Create("cfg", lake.CreateOptions{Type: lake.TypeConfig})
	if err != nil {
		t.Fatal(err)
	}
	items, err := configtest.Items("../..")
	if err != nil {
		t.Fatal(err)
	}
	var file []map[string]any
	for _, it := range items {
		file = append(file, configtest.FileStyle(it))
	}
	acct, region := "123456789012", "us-east-1"
	old := e.now.AddDate(0, 0, -40)
	e.s3.Put(t, "config", configtest.Key(acct, region, old.Year(), int(old.Month()), old.Day(), "ConfigSnapshot", "snap.json.gz"),
		configtest.Gzip(configtest.Snapshot(file[:4]...)))
	src := collect.Source{Name: "cfg", Type: collect.TypeConfig, StoreID: cfg.ID, URI: "s3://config/AWSLogs/",
		Every: collect.Duration(time.Minute), EndpointURL: e.s3.URL}
	if err := e.reg.Add(src); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.c.Poll(ctx, src); err != nil {
		t.Fatal(err)
	}
	m, _ := e.lk.ReadManifest(cfg.ID)
	first := m.Rows()
	if first == 0 {
		t.Fatal("the first poll stored no configuration items")
	}
	lists := e.s3.Lists.Load()
	if err := e.c.Poll(ctx, src); err != nil {
		t.Fatal(err)
	}
	if got := e.s3.Lists.Load() - lists; got != 2 {
		t.Fatalf("a steady Config poll made %d list requests for one region, want 2 (yesterday's and today's folders)", got)
	}
	now := e.now
	e.s3.Put(t, "config", configtest.Key(acct, region, now.Year(), int(now.Month()), now.Day(), "ConfigHistory", "hist.json.gz"),
		configtest.Gzip(configtest.History(file[4:]...)))
	for range 2 {
		if err := e.c.Poll(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	m, _ = e.lk.ReadManifest(cfg.ID)
	if m.Rows() <= first {
		t.Fatalf("today's history file added nothing: %d items before, %d after", first, m.Rows())
	}
	if st := e.state(t, "cfg"); st.Files != 2 || st.Failing != 0 {
		t.Fatalf("state: %d files, failing %d; want 2 files", st.Files, st.Failing)
	}
}

// TestCURSourceRegistersAgainWhenTheReportChanges: a cur source registers the cost table as
// `cur register` does; an unchanged report costs one listing; a re-delivered month (the object
// rewritten) replaces the assembly.
func TestCURSourceRegistersAgainWhenTheReportChanges(t *testing.T) {
	e := newEnv(t, "billing")
	put := func(file string) {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "koku-cur-test-data", file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(file, ".gz") {
			var zb bytes.Buffer
			zw := gzip.NewWriter(&zb)
			zw.Write(b)
			zw.Close()
			b = zb.Bytes()
		}
		e.s3.Put(t, "billing", "cur/report/20230601-20230701/report-00001.csv.gz", b)
	}
	put("test_cur.csv.gz")
	src := collect.Source{Name: "billing", Type: collect.TypeCUR, Table: "cur.live", URI: "s3://billing/cur/report/",
		Every: collect.Duration(time.Hour), EndpointURL: e.s3.URL}
	if err := e.reg.Add(src); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.c.Poll(ctx, src); err != nil {
		t.Fatal(err)
	}
	tb, err := cost.Lookup(e.dir, "cur.live")
	if err != nil || tb.Rows != 19 {
		t.Fatalf("after the first poll: %+v, %v; want 19 rows", tb.Rows, err)
	}
	requests := e.s3.Requests.Load()
	if err := e.c.Poll(ctx, src); err != nil {
		t.Fatal(err)
	}
	if got := e.s3.Requests.Load() - requests; got != 1 {
		t.Errorf("an unchanged report's poll made %d requests, want 1 listing", got)
	}
	put("2023-06-01.csv")
	if err := e.c.Poll(ctx, src); err != nil {
		t.Fatal(err)
	}
	if tb, err = cost.Lookup(e.dir, "cur.live"); err != nil || tb.Rows != 3 {
		t.Fatalf("after the month was re-delivered: %d rows, %v; want 3", tb.Rows, err)
	}
}

// TestAFailedFileIsReadAgainOnABackoffThenGivenUp: a polled source read a file that fails (not
// CloudTrail JSON) again at every poll while its day was listed — the same GET, the same error
// counted every minute for two days — and forgot it after. A failed file is now kept on the
// source's state with its reason and attempts: read again at the next run, then after 1, 2, 4 …
// 32 minutes, not in between, and given up after 8 reads of that version (a problem says so); an
// object that changed is read at once, and once read whole it leaves the list.
func TestAFailedFileIsReadAgainOnABackoffThenGivenUp(t *testing.T) {
	e := newEnv(t, "trail")
	src := e.add(t, "t", "s3://trail/AWSLogs/")
	a, r := "111111111111", "us-east-1"
	e.deliver(t, "trail", "", a, r, e.now.Add(-2*time.Hour), "good", 3)
	at := e.now.Add(-time.Hour)
	bad := collecttest.TrailKey("", a, r, at, "bad")
	e.s3.Put(t, "trail", bad, []byte("this is not a CloudTrail file"))
	poll := func() collect.State {
		t.Helper()
		if err := e.c.Poll(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		return e.state(t, "t")
	}
	failed := func(st collect.State) collect.FailedFile {
		t.Helper()
		if len(st.FailedFiles) != 1 || !strings.HasSuffix(st.FailedFiles[0].URI, bad) || st.FailedFiles[0].Reason == "" {
			t.Fatalf("failed files %+v; want %s with its reason", st.FailedFiles, bad)
		}
		return st.FailedFiles[0]
	}
	st := poll()
	if f := failed(st); f.Attempts != 1 || e.rows(t) != 3 {
		t.Fatalf("first poll: %+v, %d events", f, e.rows(t))
	}
	st = poll() // the next run reads it again: it may have been a bad moment
	if f := failed(st); f.Attempts != 2 || !f.NextAttempt.Equal(e.now.Add(time.Minute)) {
		t.Fatalf("second poll: %+v; want 2 attempts, the next a minute later", f)
	}
	errs, requests := st.Errors, st.LastPolled
	st = poll() // not due: the file is not read, no error is counted again
	if f := failed(st); f.Attempts != 2 || st.Errors != errs || st.LastPolled >= requests {
		t.Fatalf("a poll before it was due: %+v, %d errors (was %d), %d requests (was %d)", f, st.Errors, errs, st.LastPolled, requests)
	}
	if sts, _ := e.reg.Statuses(e.now); sts[0].Status != "problems" {
		t.Errorf("status %q with a failed file waiting, want problems", sts[0].Status)
	}
	for range 12 {
		e.now = e.now.Add(20 * time.Minute)
		st = poll()
	}
	if f := failed(st); f.Attempts != 8 || !f.GaveUp() || !strings.Contains(strings.Join(st.Problems, "\n"), "gave up after 8 failed reads") {
		t.Fatalf("after four hours: %+v, problems %q; want given up after 8 reads", f, st.Problems)
	}
	errs = st.Errors
	e.now = e.now.Add(time.Hour)
	if st = poll(); failed(st).Attempts != 8 || st.Errors != errs {
		t.Fatalf("a file given up was read again: %+v", st.FailedFiles)
	}
	if sts, _ := e.reg.Statuses(e.now); sts[0].Status != "ok" {
		t.Errorf("status %q once the file was given up (its problem reported), want ok", sts[0].Status)
	}
	// Delivered again, corrected: read at once, and no longer failed.
	e.s3.Put(t, "trail", bad, collecttest.TrailFile(a, r, at, "bad", 2))
	if st = poll(); len(st.FailedFiles) != 0 || e.rows(t) != 5 {
		t.Fatalf("the corrected file: failed %+v, %d events; want none, 5", st.FailedFiles, e.rows(t))
	}
	if sts, _ := e.reg.Statuses(e.now); sts[0].Status != "ok" {
		t.Errorf("status %q, want ok", sts[0].Status)
	}
}

// TestAQueueSourceReadsAFailedFileAgain: a source fed by SQS alone read a file once, when its
// notification came, and deleted the message: a file that failed (a bad moment, a copy not yet
// whole) was never read again. Its receives now read the failed files that are due: the file as
// it is now is committed.
func TestAQueueSourceReadsAFailedFileAgain(t *testing.T) {
	e := newEnv(t, "trail")
	q, url, src := e.addQueue(t, "failed")
	a, r := "111111111111", "us-east-1"
	at := e.now.Add(-time.Hour)
	key := collecttest.TrailKey("", a, r, at, "late")
	e.s3.Put(t, "trail", key, []byte(`{"Records":[{"eventVersion":"1.08","eventTime":`)) // cut short
	q.Send(t, url, collecttest.S3Event("trail", key))
	ctx := context.Background()
	if _, err := e.c.Receive(ctx, src, 0); err != nil {
		t.Fatal(err)
	}
	if st := e.state(t, "queue"); len(st.FailedFiles) != 1 || st.FailedFiles[0].Attempts != 1 || e.rows(t) != 0 {
		t.Fatalf("after the notification: failed %+v, %d events", st.FailedFiles, e.rows(t))
	}
	e.s3.Put(t, "trail", key, collecttest.TrailFile(a, r, at, "late", 4)) // whole now
	if _, err := e.c.Receive(ctx, src, 0); err != nil {
		t.Fatal(err)
	}
	if st := e.state(t, "queue"); len(st.FailedFiles) != 0 || e.rows(t) != 4 {
		t.Fatalf("the file read again: failed %+v, %d events; want none, 4", st.FailedFiles, e.rows(t))
	}
}
