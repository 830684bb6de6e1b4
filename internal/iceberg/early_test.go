package iceberg_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
)

// publishedStore is a store with generated events, published to s3 under s3://lake/trail/ with
// the SQL catalog keeping retired files an hour, and the lake's hooks attached.
func publishedStore(t *testing.T, s3 *icebergtest.S3) (*lake.Lake, lake.Store, iceberg.Publication, catalog.Catalog) {
	t.Helper()
	return publishedStoreReporting(t, s3, func(err error) { t.Error(err) })
}

// publishedStoreReporting is publishedStore with the hooks' errors given to onErr.
func publishedStoreReporting(t *testing.T, s3 *icebergtest.S3, onErr func(error)) (*lake.Lake, lake.Store, iceberg.Publication, catalog.Catalog) {
	t.Helper()
	ctx := context.Background()
	dir, lk := catalogLake(t, iceberg.Config{Type: "sql", KeepRetired: "1h"})
	st := createStore(t, lk, "trail")
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{generated(t, 2000, 2, 3)}, BatchRows: 1000, CommitEachBatch: true}); err != nil {
		t.Fatal(err)
	}
	pub := iceberg.Publication{To: "s3://lake/trail/", EndpointURL: s3.URL, Region: "us-east-1"}
	if _, err := iceberg.Publish(ctx, lk, st, pub); err != nil {
		t.Fatal(err)
	}
	closer, err := iceberg.Attach(ctx, lk, onErr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closer)
	cfg, _, _ := iceberg.LoadConfig(dir)
	props, err := cfg.OpenProperties(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := iceberg.Open(ctx, props)
	if err != nil {
		t.Fatal(err)
	}
	return lk, st, pub, cat
}

// tableIsStore checks that the table of st (auditlake.trail, published to s3://lake/trail/)
// is the store: see tableHolds.
func tableIsStore(t *testing.T, s3 *icebergtest.S3, lk *lake.Lake, st lake.Store, pub iceberg.Publication, cat catalog.Catalog) {
	t.Helper()
	tbl, err := cat.LoadTable(context.Background(), catalog.ToIdentifier("auditlake", "trail"))
	if err != nil {
		t.Fatal(err)
	}
	tableHolds(t, s3, lk, st, pub, tbl, "lake/trail/data/", "")
}

// tableHolds checks that table tbl of st, scanned by iceberg-go from S3, names exactly the
// store's live files and holds exactly its events, and that no object under prefix was stored
// twice; a failure starts with step.
func tableHolds(t *testing.T, s3 *icebergtest.S3, lk *lake.Lake, st lake.Store, pub iceberg.Publication, tbl *table.Table, prefix, step string) {
	t.Helper()
	files, err := iceberg.Files(context.Background(), tbl)
	if err != nil {
		t.Fatal(err)
	}
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(m.Files) {
		t.Fatalf("%sthe table names %d files, the store has %d", step, len(files), len(m.Files))
	}
	for _, f := range m.Files {
		if !files[pub.Object(f.Path)] {
			t.Fatalf("%sthe table does not name %s", step, pub.Object(f.Path))
		}
	}
	if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) || len(want) == 0 {
		t.Fatalf("%sthe table scanned from S3 holds %d events, the store %d", step, len(got), len(want))
	}
	for k, n := range s3.Stored(prefix) {
		if n != 1 {
			t.Fatalf("%s%s was stored %d times", step, k, n)
		}
	}
}

// TestEarlyUploadOfAFileNeverCommittedIsNotInTheTableAndIsDeleted: a published store's writer
// uploads each new file as soon as it is written, before the commit that names it. When the
// process dies after that upload and before the commit, the table never names the object, the
// next writer removes the local file and the next commit's sync retires the object, which is
// deleted once the keep window has passed; the table stays equal to the store throughout.
func TestEarlyUploadOfAFileNeverCommittedIsNotInTheTableAndIsDeleted(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	lk, st, pub, cat := publishedStore(t, s3)

	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	orphan := writeBatch(t, db, w, "early", 50, time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)).Path
	iceberg.WaitEarlyUploads()
	key := "lake/trail/" + orphan
	if s3.Stored("lake/trail/data/")[key] != 1 {
		t.Fatalf("%s was not uploaded as soon as it was written", key)
	}
	// The crash: no commit names the file, and what the process knew of its upload is gone.
	w.Close()
	iceberg.ForgetEarlyUploads()
	tableIsStore(t, s3, lk, st, pub, cat)

	// The next run's commit: its writer removes the local file, its sync leaves the object out
	// of the table and retires it.
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{generated(t, 1000, 1, 4)}, BatchRows: 1000, CommitEachBatch: true}); err != nil {
		t.Fatal(err)
	}
	iceberg.WaitEarlyUploads()
	if _, err := os.Stat(lk.AbsPath(st.ID, orphan)); !os.IsNotExist(err) {
		t.Fatalf("the uncommitted file is still on the disk: %v", err)
	}
	tableIsStore(t, s3, lk, st, pub, cat)
	if _, err := s3.Backend.HeadObject("lake", "trail/"+orphan); err != nil {
		t.Fatalf("the orphan's object left S3 within the keep window: %v", err)
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := iceberg.Follow(ctx, cat, lk, st, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Backend.HeadObject("lake", "trail/"+orphan); err == nil {
		t.Fatal("the object of a file never committed is still on S3 after the keep window")
	}
	if named := ledgerNames(t, lk, st)[orphan]; named {
		t.Fatal("the upload ledger still names the file never committed")
	}
	tableIsStore(t, s3, lk, st, pub, cat)
}

// ledgerNames are the files the upload ledger of st names.
func ledgerNames(t *testing.T, lk *lake.Lake, st lake.Store) map[string]bool {
	t.Helper()
	var led struct {
		Files map[string]json.RawMessage `json:"files"`
	}
	b, err := os.ReadFile(filepath.Join(lk.Dir, "iceberg", "published", st.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &led); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for k := range led.Files {
		out[k] = true
	}
	return out
}

// TestEarlyUploadOfACommittedFileWhoseLedgerEntryWasCutOffIsNotUploadedAgain: the process dies
// after a file's early upload stored its object and its commit named it, but before the ledger
// recorded the upload (its entry still pending): the next sync recognizes the object by its size
// and MD5 and records it, uploading nothing twice, and the table equals the store.
func TestEarlyUploadOfACommittedFileWhoseLedgerEntryWasCutOffIsNotUploadedAgain(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	lk, st, pub, cat := publishedStore(t, s3)
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{generated(t, 1000, 1, 4)}, BatchRows: 1000, CommitEachBatch: true}); err != nil {
		t.Fatal(err)
	}
	// The crash left every entry as uploadEarly first writes it.
	iceberg.ForgetEarlyUploads()
	path := filepath.Join(lk.Dir, "iceberg", "published", st.ID+".json")
	cut := map[string]map[string]any{}
	for rel := range ledgerNames(t, lk, st) {
		cut[rel] = map[string]any{"pending": true}
	}
	b, _ := json.Marshal(map[string]any{"files": cut})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := iceberg.Follow(ctx, cat, lk, st, time.Hour); err != nil {
		t.Fatal(err)
	}
	tableIsStore(t, s3, lk, st, pub, cat)
	var led struct {
		Files map[string]struct {
			Size    int64  `json:"size"`
			CRC32C  string `json:"crc32c"`
			Pending bool   `json:"pending"`
		} `json:"files"`
	}
	b, _ = os.ReadFile(path)
	json.Unmarshal(b, &led)
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if e, ok := led.Files[f.Path]; !ok || e.Pending || e.Size != f.Bytes || e.CRC32C == "" {
			t.Fatalf("%s: %+v after the sync, want its object recorded", f.Path, e)
		}
	}
}

// TestCommitsDoNotWaitForTheTableAndCloseDoes: with the commands' hooks (Attach), a published
// store's commit returns while the upload of its file and its table's sync wait on S3; the
// commits made meanwhile are caught up by the follower, and Writer.Close returns only once the
// table holds exactly the store, every object stored once.
func TestCommitsDoNotWaitForTheTableAndCloseDoes(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	lk, st, pub, cat := publishedStore(t, s3)
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	release := s3.HoldWrites()
	defer release()
	for b := range 3 {
		added := []lake.DataFile{writeBatch(t, db, w, fmt.Sprintf("held-%d", b), 20, time.Date(2026, 4, 1+b, 10, 0, 0, 0, time.UTC))}
		if err := w.Commit(added, nil, nil); err != nil { // returns with S3 holding every write
			t.Fatal(err)
		}
	}
	if got := len(s3.Stored("lake/trail/data/eventdate=2026-04")); got != 0 {
		t.Fatalf("%d objects stored while S3 held every write", got)
	}
	closed := make(chan struct{})
	go func() { w.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Writer.Close returned while the table's sync waited on S3")
	case <-time.After(200 * time.Millisecond):
	}
	release()
	<-closed
	tableIsStore(t, s3, lk, st, pub, cat)
	if got := len(s3.Stored("lake/trail/data/eventdate=2026-04")); got != 3 {
		t.Fatalf("%d objects of the 3 committed files stored", got)
	}
}

// writeBatch writes n events of day through w (one file, not committed) and returns its path.
func writeBatch(t *testing.T, db *engine.DB, w *lake.Writer, tag string, n int, day time.Time) lake.DataFile {
	t.Helper()
	var recs []*cloudtrail.Record
	for i := range n {
		src, name, acct := "ec2.amazonaws.com", "RunInstances", "123456789012"
		id := fmt.Sprintf("%s-%03d", tag, i)
		recs = append(recs, &cloudtrail.Record{EventID: id, RecipientAccountID: &acct, EventSource: &src, EventName: &name,
			EventTime: day.Add(time.Duration(i) * time.Second), EventJSON: fmt.Sprintf(`{"eventID":%q}`, id)})
	}
	added, _, err := lake.WriteRecords(context.Background(), db, w, lake.NewBatch(recs))
	if err != nil || len(added) != 1 {
		t.Fatalf("wrote %d files (%v), want 1", len(added), err)
	}
	return added[0]
}

// TestPublicationIsDecidedOncePerWriteSession: a writer's session reads the store's publication
// once (it read publish.json for every file it wrote, published or not): made unreadable in the
// middle of a session, the session's later files are still uploaded ahead of their commit and
// its syncs still follow. A publication written between two sessions, as eds publish in another
// process writes it under the store's write lock, is what the next session uses.
func TestPublicationIsDecidedOncePerWriteSession(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	lk, st, pub, cat := publishedStore(t, s3)
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	path := filepath.Join(lk.Dir, "iceberg", "publish.json")
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	first := writeBatch(t, db, w, "first", 20, time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC))
	iceberg.WaitEarlyUploads()
	if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := writeBatch(t, db, w, "second", 20, time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC))
	iceberg.WaitEarlyUploads()
	for _, f := range []lake.DataFile{first, second} {
		if s3.Stored("lake/trail/" + f.Path)["lake/trail/"+f.Path] != 1 {
			t.Fatalf("%s was not uploaded ahead of its commit", f.Path)
		}
	}
	if err := w.Commit([]lake.DataFile{first, second}, nil, nil); err != nil {
		t.Fatal(err)
	}
	w.Close() // the follower's sync used the session's publication (an error fails the test)
	if err := os.WriteFile(path, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	tableIsStore(t, s3, lk, st, pub, cat)

	// Another store, not published: its session uploads nothing. Published between two
	// sessions (publish.json written as another process's eds publish writes it), the next
	// session uploads its file ahead of the commit.
	other, err := lk.Create("other", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	w, err = lk.BeginWrite(other.ID)
	if err != nil {
		t.Fatal(err)
	}
	f := writeBatch(t, db, w, "unpublished", 10, time.Date(2026, 4, 3, 10, 0, 0, 0, time.UTC))
	iceberg.WaitEarlyUploads()
	if err := w.Commit([]lake.DataFile{f}, nil, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if n := len(s3.Stored("lake/other/")); n != 0 {
		t.Fatalf("%d objects of an unpublished store uploaded", n)
	}
	var all map[string]iceberg.Publication
	if err := json.Unmarshal(saved, &all); err != nil {
		t.Fatal(err)
	}
	all[other.ID] = iceberg.Publication{To: "s3://lake/other/", EndpointURL: s3.URL, Region: "us-east-1", PublishedAt: time.Now().UTC()}
	b, _ := json.Marshal(all)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err = lk.BeginWrite(other.ID)
	if err != nil {
		t.Fatal(err)
	}
	f = writeBatch(t, db, w, "published", 10, time.Date(2026, 4, 4, 10, 0, 0, 0, time.UTC))
	iceberg.WaitEarlyUploads()
	if s3.Stored("lake/other/" + f.Path)["lake/other/"+f.Path] != 1 {
		t.Fatalf("%s of the store published since the last session was not uploaded ahead of its commit", f.Path)
	}
	if err := w.Commit([]lake.DataFile{f}, nil, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	m, err := lk.ReadManifest(other.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if s3.Stored("lake/other/" + f.Path)["lake/other/"+f.Path] != 1 {
			t.Fatalf("%s of the published store is not on S3 once", f.Path)
		}
	}
}

// TestEarlyUploadsOfAFailedBatchEndWithTheSession: a batch written and never committed (it
// failed) in a process that goes on (serve, collect): its upload ahead of the commit is
// forgotten when the writer closes (it stayed in memory for good, and its object, held as
// "uploading ahead of a commit", was never retired), and the object is deleted once the keep
// window has passed; the table never names it.
func TestEarlyUploadsOfAFailedBatchEndWithTheSession(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	lk, st, pub, cat := publishedStore(t, s3)
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	failed := writeBatch(t, db, w, "failed", 20, time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC))
	iceberg.WaitEarlyUploads()
	if s3.Stored("lake/trail/" + failed.Path)["lake/trail/"+failed.Path] != 1 {
		t.Fatalf("%s was not uploaded ahead of its commit", failed.Path)
	}
	w.Close() // the batch failed: no commit names its file
	if n := iceberg.EarlyUploads(); n != 0 {
		t.Fatalf("%d uploads ahead of a commit still remembered after the writer closed", n)
	}
	tableIsStore(t, s3, lk, st, pub, cat)

	// The process goes on: the next commit's sync retires the object, the one after the keep
	// window deletes it.
	commitRecords(t, lk, st, "next", 20, time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC))
	tableIsStore(t, s3, lk, st, pub, cat)
	if !ledgerNames(t, lk, st)[failed.Path] {
		t.Fatal("the object of the failed batch's file left the ledger within the keep window")
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := iceberg.Follow(ctx, cat, lk, st, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Backend.HeadObject("lake", "trail/"+failed.Path); err == nil {
		t.Fatal("the object of the failed batch's file is still on S3 after the keep window")
	}
	if ledgerNames(t, lk, st)[failed.Path] {
		t.Fatal("the upload ledger still names the failed batch's file")
	}
	tableIsStore(t, s3, lk, st, pub, cat)
}

// TestCompactionAndColdOutputsAreUploadedAheadOfTheirCommit: the files a compaction writes
// (merged days, closed days rewritten cold) are uploaded as soon as they are written, like an
// ingest batch's, not by the sync after the commit: with the table not following at all, every
// live file is on S3 once the compaction returns; the sync that follows then uploads nothing
// again and the table equals the store.
func TestCompactionAndColdOutputsAreUploadedAheadOfTheirCommit(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	lk, st, pub, cat := publishedStore(t, s3)
	ingestMore(t, lk, st, 3000, 6, 11)
	tableIsStore(t, s3, lk, st, pub, cat)
	follow := lk.Hooks.Committed
	lk.Hooks.Committed = nil // no sync: only the uploads ahead of the commits
	before, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if merged := compact(t, lk, st); merged == 0 {
		t.Fatal("the compaction merged nothing; the test needs it to")
	}
	lk.Hooks.Committed = follow
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]bool{}
	for _, f := range before.Files {
		old[f.Path] = true
	}
	cold, written := 0, 0
	for _, f := range m.Files {
		if old[f.Path] {
			continue
		}
		written++
		if f.Cold {
			cold++
		}
		if s3.Stored("lake/trail/" + f.Path)["lake/trail/"+f.Path] != 1 {
			t.Fatalf("%s (cold %v), written by the compaction, is not on S3 before any sync", f.Path, f.Cold)
		}
	}
	if written == 0 || cold == 0 {
		t.Fatalf("the compaction wrote %d live files, %d cold; the test needs both", written, cold)
	}
	if _, err := iceberg.Follow(ctx, cat, lk, st, time.Hour); err != nil {
		t.Fatal(err)
	}
	tableIsStore(t, s3, lk, st, pub, cat)
}

// TestCompactionWhoseUploadsFailLeavesTheTableOnFilesThatAreThere: S3 refuses every write
// while a compaction writes its files (their uploads ahead of the commit fail, and so do the
// sync's): the store's commits stand, the hooks report the error, and the table's snapshot still
// names only objects that are on S3; once S3 is back the next sync uploads the files, once each,
// and the table equals the store.
func TestCompactionWhoseUploadsFailLeavesTheTableOnFilesThatAreThere(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	var mu sync.Mutex
	var hookErrs []error
	lk, st, pub, cat := publishedStoreReporting(t, s3, func(err error) {
		mu.Lock()
		hookErrs = append(hookErrs, err)
		mu.Unlock()
	})
	ingestMore(t, lk, st, 3000, 6, 12)
	tableIsStore(t, s3, lk, st, pub, cat)
	s3.FailWrites(-1)
	if merged := compact(t, lk, st); merged == 0 {
		t.Fatal("the compaction merged nothing; the test needs it to")
	}
	mu.Lock()
	reported := errors.Join(hookErrs...)
	mu.Unlock()
	if reported == nil || !strings.Contains(reported.Error(), "SlowDown") {
		t.Fatalf("the hooks reported %v, want S3's SlowDown", reported)
	}
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "trail"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := iceberg.Files(ctx, tbl)
	if err != nil {
		t.Fatal(err)
	}
	for uri := range files {
		key := strings.TrimPrefix(uri, "s3://lake/")
		if _, err := s3.Backend.HeadObject("lake", key); err != nil {
			t.Fatalf("the table names %s, not on S3: %v", uri, err)
		}
	}
	s3.FailWrites(0)
	if _, err := iceberg.Follow(ctx, cat, lk, st, time.Hour); err != nil {
		t.Fatal(err)
	}
	tableIsStore(t, s3, lk, st, pub, cat)
}
