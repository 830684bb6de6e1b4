package iceberg_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/objstore"
)

// generated writes CloudTrail delivery files of n generated events over days days.
func generated(t *testing.T, n, days int, seed uint64) string {
	t.Helper()
	src := generatetest.Trail(t, n, days, seed)
	return filepath.Join(src, "AWSLogs")
}

// TestPublishedTableLivesOnS3AndFollowsEveryCommit: after eds publish the table's location,
// metadata and data files are on S3 and iceberg-go's own scan, reading from S3, holds exactly the
// store's events — after the publication, an ingest, a compaction and a purge; every object is
// stored once; objects only expired snapshots named are deleted.
func TestPublishedTableLivesOnS3AndFollowsEveryCommit(t *testing.T) {
	s3 := icebergtest.NewS3(t, "lake")
	publishedFollows(t, s3, iceberg.Config{Type: "sql", KeepRetired: "1h"}, nil)
}

// publishedFollows publishes a store to s3 with the catalog c and checks after the publication,
// an ingest, a compaction, a purge, the snapshots' expiry, a repair and the store's deletion that
// the table, loaded through the catalog (opened as catalog show prints it, with the secrets) and
// scanned by iceberg-go from S3, holds exactly the store's events. each, when set, checks more
// of the catalog's own record of the table after each step.
func publishedFollows(t *testing.T, s3 *icebergtest.S3, c iceberg.Config, each func(step string, tbl *table.Table)) {
	ctx := context.Background()
	dir, lk := catalogLake(t, c)
	attach := func() {
		t.Helper()
		closer, err := iceberg.Attach(ctx, lk, func(err error) { t.Error(err) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closer)
	}
	attach()
	st := createStore(t, lk, "prod-trail")
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{generated(t, 6000, 3, 5)}, BatchRows: 1000, CommitEachBatch: true}); err != nil {
		t.Fatal(err)
	}
	pub := iceberg.Publication{To: "s3://lake/auditlake/prod-trail/", EndpointURL: s3.URL, Region: "us-east-1"}
	res, err := iceberg.Publish(ctx, lk, st, pub)
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded == 0 || res.Uploaded != res.Live {
		t.Fatalf("publish uploaded %d of %d live files", res.Uploaded, res.Live)
	}
	attach() // the hooks now open the catalog with the S3 settings

	cfg, _, err := iceberg.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if props := cfg.Properties(dir); props["s3.endpoint"] != s3.URL || props["s3.region"] != "us-east-1" {
		t.Fatalf("catalog properties lack the S3 settings: %v", props)
	}
	props, err := cfg.OpenProperties(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := iceberg.Open(ctx, props)
	if err != nil {
		t.Fatal(err)
	}
	ident := catalog.ToIdentifier("auditlake", "prod_trail")
	check := func(step string) *table.Table {
		t.Helper()
		tbl, err := cat.LoadTable(ctx, ident)
		if err != nil {
			t.Fatal(err)
		}
		if tbl.Location() != "s3://lake/auditlake/prod-trail" || !strings.HasPrefix(tbl.MetadataLocation(), "s3://lake/auditlake/prod-trail/metadata/") {
			t.Fatalf("%s: table at %s, metadata %s; want both under the S3 prefix", step, tbl.Location(), tbl.MetadataLocation())
		}
		tableHolds(t, s3, lk, st, pub, tbl, "lake/auditlake/prod-trail/data/", step+": ")
		if each != nil {
			each(step, tbl)
		}
		return tbl
	}
	published := check("publish")
	// The Parquet table with partition projection of athena ddl finds the uploaded objects.
	ddl, err := iceberg.AthenaDDL(published, st, pub.To)
	if err != nil {
		t.Fatal(err)
	}
	const tmpl = "'storage.location.template'='s3://lake/auditlake/prod-trail/data/eventdate=${day}/'"
	if !strings.Contains(ddl, tmpl) {
		t.Fatalf("athena ddl lacks %s:\n%s", tmpl, ddl)
	}
	// Athena's CREATE TABLE makes an empty table: the DDL says so, and prints the Glue
	// registration of the published table's current metadata file, as a Glue catalog writes it.
	_, reg, ok := strings.Cut(ddl, "aws glue create-table --database-name auditlake --table-input '")
	reg, _, _ = strings.Cut(reg, "'\n")
	var input struct {
		Name, TableType   string
		Parameters        map[string]string
		StorageDescriptor struct{ Location string }
	}
	if err := json.Unmarshal([]byte(reg), &input); !ok || err != nil || !strings.Contains(ddl, "NEW, EMPTY Iceberg table") {
		t.Fatalf("athena ddl has no Glue registration that parses (%v):\n%s", err, ddl)
	}
	if input.Name != "prod_trail" || input.TableType != "EXTERNAL_TABLE" || input.Parameters["table_type"] != "ICEBERG" ||
		input.Parameters["metadata_location"] != published.MetadataLocation() || input.StorageDescriptor.Location != "s3://lake/auditlake/prod-trail" {
		t.Fatalf("athena ddl registers %+v; want the current metadata %s", input, published.MetadataLocation())
	}
	for k := range s3.Stored("lake/auditlake/prod-trail/data/") {
		if !strings.HasPrefix(k, "lake/auditlake/prod-trail/data/eventdate=") {
			t.Fatalf("object %s is outside the projection's template", k)
		}
	}

	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{generated(t, 3000, 2, 6)}, BatchRows: 1000, CommitEachBatch: true}); err != nil {
		t.Fatal(err)
	}
	before := check("ingest").CurrentSnapshot().SnapshotID
	wantBefore := storeIDs(t, lk, st)

	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := lake.Compact(ctx, db, w, true)
	w.Close()
	if err != nil || merged == 0 {
		t.Fatalf("compaction merged %d files: %v; the test needs a replace", merged, err)
	}
	tbl := check("compaction")
	if got := scanIDs(t, tbl, before); !equal(got, wantBefore) {
		t.Fatalf("the snapshot before compaction reads %d events from S3, want %d", len(got), len(wantBefore))
	}

	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	var newest time.Time
	for _, f := range m.Files {
		if f.MaxTime.After(newest) {
			newest = f.MaxTime
		}
	}
	short := st
	short.RetentionDays = 1
	if w, err = lk.BeginWrite(st.ID); err != nil {
		t.Fatal(err)
	}
	pr, err := lake.Purge(ctx, db, w, short, newest.Add(12*time.Hour))
	w.Close()
	if err != nil || pr.Events == 0 {
		t.Fatalf("the purge removed %d events: %v; the test needs it to remove some", pr.Events, err)
	}
	check("purge")

	// Retired objects stay while a snapshot may name them; once the snapshots expire, they go.
	stored := s3.Stored("lake/auditlake/prod-trail/data/")
	present := func() int {
		n := 0
		for k := range stored {
			b, key, _ := strings.Cut(k, "/")
			if _, err := s3.Backend.HeadObject(b, key); err == nil {
				n++
			}
		}
		return n
	}
	if n := present(); n != len(stored) {
		t.Fatalf("%d of %d uploaded objects left S3 within the keep window", len(stored)-n, len(stored))
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := iceberg.Follow(ctx, cat, lk, st, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if m, err = lk.ReadManifest(st.ID); err != nil {
		t.Fatal(err)
	}
	if n := present(); n != len(m.Files) {
		t.Fatalf("after the snapshots expired %d objects are on S3, the store has %d live files", n, len(m.Files))
	}
	expired := check("expiry")
	// The expired snapshots' manifest lists and manifests went with them; the kept one's stay.
	fsys, err := expired.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, s := range expired.Metadata().Snapshots() {
		named[s.ManifestList] = true
		ms, err := s.Manifests(fsys)
		if err != nil {
			t.Fatalf("expiry: snapshot %d: %v", s.SnapshotID, err)
		}
		for _, mf := range ms {
			named[mf.FilePath()] = true
		}
	}
	for k := range s3.Stored("lake/auditlake/prod-trail/metadata/") {
		b, key, _ := strings.Cut(k, "/")
		if _, err := s3.Backend.HeadObject(b, key); err == nil && !strings.HasSuffix(k, ".metadata.json") && !named["s3://"+k] {
			t.Errorf("expiry: %s is left on S3, named by no kept snapshot", k)
		}
	}

	// An old metadata object nothing names (left by an older version's expiry) is swept; the
	// table reads the same.
	const orphan = "auditlake/prod-trail/metadata/snap-1-0-0bad.avro"
	if _, err := s3.Backend.PutObject("lake", orphan, nil, strings.NewReader("left over"), int64(len("left over")), nil); err != nil {
		t.Fatal(err)
	}
	if swept, err := iceberg.Sweep(ctx, cat, lk, st, time.Hour); err != nil || swept.Files != 0 {
		t.Fatalf("a sweep within the window deleted %d files (%v)", swept.Files, err)
	}
	restore := iceberg.ClockAt(time.Now().Add(2 * time.Hour))
	swept, err := iceberg.Sweep(ctx, cat, lk, st, time.Hour)
	restore()
	if err != nil || swept.Files != 1 {
		t.Fatalf("the sweep deleted %d files (%v), want the orphan alone", swept.Files, err)
	}
	if _, err := s3.Backend.HeadObject("lake", orphan); err == nil {
		t.Fatalf("%s is still on S3 after the sweep", orphan)
	}
	check("sweep")

	// Published again: nothing to upload; an object lost on S3 is uploaded again.
	if res, err = iceberg.Publish(ctx, lk, st, pub); err != nil || res.Uploaded != 0 {
		t.Fatalf("publish again uploaded %d files (%v), want none", res.Uploaded, err)
	}
	lost := m.Files[0].Path
	if _, err := s3.Backend.DeleteObject("lake", "auditlake/prod-trail/"+lost); err != nil {
		t.Fatal(err)
	}
	if res, err = iceberg.Publish(ctx, lk, st, pub); err != nil || res.Uploaded != 1 {
		t.Fatalf("publish after an object was lost uploaded %d files (%v), want it alone", res.Uploaded, err)
	}
	tbl, err = cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) {
		t.Fatalf("after the repair the table scanned from S3 holds %d events, the store %d", len(got), len(want))
	}

	// Deleting the store deletes its objects and its publication.
	if err := lk.Delete(st.ID); err != nil {
		t.Fatal(err)
	}
	if n := present(); n != 0 {
		t.Fatalf("%d objects left on S3 after the store's deletion", n)
	}
	if tbl, err = cat.LoadTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	if got := scanIDs(t, tbl, 0); len(got) != 0 {
		t.Fatalf("after the store's deletion the table scanned from S3 holds %d events", len(got))
	}
	if each != nil {
		each("deletion", tbl)
	}
	if _, ok, err := iceberg.LoadPublication(dir, st.ID); ok || err != nil {
		t.Fatalf("the deleted store is still published (%v)", err)
	}
}

// TestUploadIsMultipartChecksummedAndResumable: a file above the part size goes up in parts, each
// with its CRC-32C (x-amz-checksum-crc32c, which S3 checks); the object carries the file's
// CRC-32C, which is how a resumed publication recognizes it.
func TestUploadIsMultipartChecksummedAndResumable(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	data := make([]byte, 11<<20+123)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "big.parquet")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cl := objstore.New(objstore.Options{EndpointURL: s3.URL, Region: "us-east-1"})
	up, err := cl.Upload(ctx, "s3://lake/x/big.parquet", path, 5<<20)
	if err != nil {
		t.Fatal(err)
	}
	if s3.Parts() != 3 || s3.Checked() != 3 {
		t.Fatalf("%d parts stored (%d with a CRC-32C that held), want 3 of 5 MiB, each checked", s3.Parts(), s3.Checked())
	}
	sum, found, err := cl.Sum(ctx, "s3://lake/x/big.parquet")
	if err != nil || !found || sum != up {
		t.Fatalf("the object's size and CRC-32C: %+v found %v (%v); uploaded %+v", sum, found, err, up)
	}
	want, _ := objstore.FileCRC32C(path)
	if up != want {
		t.Fatalf("upload says %+v, the file is %+v", up, want)
	}
	r, err := cl.Open(ctx, "s3://lake/x/big.parquet")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("the object's bytes differ from the file's")
	}
	if _, found, err := cl.Sum(ctx, "s3://lake/x/none"); found || err != nil {
		t.Fatalf("a missing object: found %v, %v", found, err)
	}
	// A file of one part (below and exactly at the part size) is hashed once: the CRC-32C sent
	// as its x-amz-checksum-crc32c and recorded is still the whole file's.
	for _, n := range []int{5 << 20, 5<<20 - 1, 0} {
		small := filepath.Join(t.TempDir(), "small.parquet")
		if err := os.WriteFile(small, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		uri := fmt.Sprintf("s3://lake/x/small-%d.parquet", n)
		up, err := cl.Upload(ctx, uri, small, 5<<20)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := objstore.FileCRC32C(small)
		sum, found, err := cl.Sum(ctx, uri)
		if up != want || err != nil || !found || sum != want {
			t.Fatalf("%d bytes in one part: upload says %+v, the object %+v (found %v, %v), the file is %+v", n, up, sum, found, err, want)
		}
	}
	if s3.Parts() != 3 || s3.Checked() != 6 {
		t.Fatalf("%d parts stored, want the 3 of the large file only; %d bodies checked, want 6", s3.Parts(), s3.Checked())
	}
}

// TestUploadDamagedInTransitIsRefusedAndSentAgain: a body damaged on its way to S3 (a part of a
// multipart upload, then a whole small object) contradicts the CRC-32C the upload sent with
// it; S3 refuses it (BadDigest), the upload sends it again, and the object holds the file's
// bytes. An object stored by an earlier version (its size and MD5 as metadata) is still
// recognized as the file's.
func TestUploadDamagedInTransitIsRefusedAndSentAgain(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	cl := objstore.New(objstore.Options{EndpointURL: s3.URL, Region: "us-east-1"})
	data := make([]byte, 7<<20+5)
	rand.Read(data)
	for _, n := range []int{len(data), 1000} {
		path := filepath.Join(t.TempDir(), "f.parquet")
		if err := os.WriteFile(path, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		uri := fmt.Sprintf("s3://lake/damaged/%d.parquet", n)
		s3.Damage(1)
		up, err := cl.Upload(ctx, uri, path, 5<<20)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		r, err := cl.Open(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if !bytes.Equal(got, data[:n]) {
			t.Fatalf("%d bytes: the object stored a damaged body", n)
		}
		want, _ := objstore.FileCRC32C(path)
		if up != want {
			t.Fatalf("%d bytes: upload says %+v, the file is %+v", n, up, want)
		}
		// The same bytes as an earlier version recorded them: recognized by their MD5.
		old, _ := objstore.FileMD5(path)
		if like, _ := objstore.FileLike(path, old); !like.Same(old) || up.Same(old) {
			t.Fatalf("%d bytes: an upload recorded by its MD5 %+v against the file %+v (CRC-32C %+v)", n, old, like, up)
		}
	}
	if st := s3.Stored("lake/damaged/"); len(st) != 2 {
		t.Fatalf("stored %v", st)
	}
}

// TestS3OutageDelaysTheTableNotTheStore: throttled writes are retried; while S3 refuses every
// write, a published store's commits still commit (the hook reports the error) and no snapshot
// names a file that is not uploaded; once S3 is back, the next sync uploads the missing files
// once each and the table holds the store's events again.
func TestS3OutageDelaysTheTableNotTheStore(t *testing.T) {
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	cl := objstore.New(objstore.Options{EndpointURL: s3.URL, Region: "us-east-1"})
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("throttled"), 0o644)
	s3.FailWrites(3)
	if _, err := cl.Upload(ctx, "s3://lake/throttled", path, 0); err != nil {
		t.Fatalf("an upload throttled three times was not retried: %v", err)
	}

	dir, lk := catalogLake(t, iceberg.Config{Type: "sql", KeepRetired: "1h"})
	st := createStore(t, lk, "trail")
	pub := iceberg.Publication{To: "s3://lake/trail/", EndpointURL: s3.URL, Region: "us-east-1"}
	if _, err := iceberg.Publish(ctx, lk, st, pub); err != nil {
		t.Fatal(err)
	}
	var hookErrs []error
	closer, err := iceberg.Attach(ctx, lk, func(err error) { hookErrs = append(hookErrs, err) })
	if err != nil {
		t.Fatal(err)
	}
	defer closer()
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{generated(t, 2000, 2, 3)}, BatchRows: 1000, CommitEachBatch: true}); err != nil {
		t.Fatal(err)
	}
	if len(hookErrs) != 0 {
		t.Fatal(hookErrs)
	}
	cfg, _, _ := iceberg.LoadConfig(dir)
	cat, err := iceberg.Open(ctx, cfg.Properties(dir))
	if err != nil {
		t.Fatal(err)
	}
	ident := catalog.ToIdentifier("auditlake", "trail")
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	before := len(scanIDs(t, tbl, 0))

	s3.FailWrites(-1)
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{generated(t, 1000, 1, 4)}, BatchRows: 5000, CommitEachBatch: true}); err != nil {
		t.Fatalf("the store's commit failed with S3 down: %v", err)
	}
	if len(hookErrs) == 0 || !strings.Contains(errors.Join(hookErrs...).Error(), "SlowDown") {
		t.Fatalf("the hook reported %v, want S3's SlowDown", hookErrs)
	}
	if tbl, err = cat.LoadTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	if got, all := len(scanIDs(t, tbl, 0)), len(storeIDs(t, lk, st)); got != before || all <= before {
		t.Fatalf("during the outage the table holds %d events (before: %d, store: %d); want it unchanged", got, before, all)
	}

	s3.FailWrites(0)
	if _, err := iceberg.Follow(ctx, cat, lk, st, time.Hour); err != nil {
		t.Fatal(err)
	}
	if tbl, err = cat.LoadTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	if got, want := scanIDs(t, tbl, 0), storeIDs(t, lk, st); !equal(got, want) {
		t.Fatalf("after the outage the table holds %d events, the store %d", len(got), len(want))
	}
	for k, n := range s3.Stored("lake/trail/data/") {
		if n != 1 {
			t.Fatalf("%s stored %d times", k, n)
		}
	}
}

// TestAFailedFirstPublishLeavesTheStoreUnpublished: a first eds publish that fails before it
// uploads anything (here: a bucket that does not exist — a typo, missing credentials) leaves
// the store unpublished, so publishing it to the right prefix works and its commits do not try
// to follow the wrong one; the error says so.
func TestAFailedFirstPublishLeavesTheStoreUnpublished(t *testing.T) {
	ctx := context.Background()
	s3, dir, lk, st := unpublishedStore(t)
	wrong := iceberg.Publication{To: "s3://no-such-bucket/auditlake/prod-trail/", EndpointURL: s3.URL, Region: "us-east-1"}
	_, err := iceberg.Publish(ctx, lk, st, wrong)
	if err == nil {
		t.Fatal("publishing to a bucket that does not exist succeeded")
	}
	if !strings.Contains(err.Error(), "not published") {
		t.Fatalf("the error does not say the store stays unpublished: %v", err)
	}
	if p, ok, err := iceberg.LoadPublication(dir, st.ID); err != nil || ok {
		t.Fatalf("a failed first publish is still recorded: %+v, %v, %v", p, ok, err)
	}
	right := iceberg.Publication{To: "s3://lake/auditlake/prod-trail/", EndpointURL: s3.URL, Region: "us-east-1"}
	res, err := iceberg.Publish(ctx, lk, st, right)
	if err != nil {
		t.Fatalf("publishing to the right prefix after a failed first publish: %v", err)
	}
	if res.Uploaded == 0 || res.Uploaded != res.Live {
		t.Fatalf("publish uploaded %d of %d live files", res.Uploaded, res.Live)
	}
	if p, ok, err := iceberg.LoadPublication(dir, st.ID); err != nil || !ok || p.To != right.To {
		t.Fatalf("publication after the second publish: %+v, %v, %v", p, ok, err)
	}
}

// unpublishedStore is an S3 server with the bucket "lake" and a data directory with a SQL
// catalog and a store prod-trail of 500 events, not published.
func unpublishedStore(t *testing.T) (*icebergtest.S3, string, *lake.Lake, lake.Store) {
	t.Helper()
	s3 := icebergtest.NewS3(t, "lake")
	dir, lk := catalogLake(t, iceberg.Config{Type: "sql"})
	st := createStore(t, lk, "prod-trail")
	if _, err := ingest.CloudTrail(context.Background(), lk, st, ingest.Options{Sources: []string{generated(t, 500, 1, 3)}}); err != nil {
		t.Fatal(err)
	}
	return s3, dir, lk, st
}

// TestACopiedDataDirectoryDoesNotPublishWhereTheOriginalDoes: a copy of a data directory (cp -r,
// a backup restored beside the original) holds the original's publications: its commits uploaded
// to, and deleted from, the original's prefix and moved the table to its own metadata, and the
// two lakes destroyed each other's tables. The prefix's owner marker names the lake that
// publishes there; the copy, a lake of its own, is refused — eds publish and every commit's sync,
// with an error naming the other lake and the way out — and stores nothing on S3, while the
// original goes on publishing. --take-over makes the prefix the copy's.
func TestACopiedDataDirectoryDoesNotPublishWhereTheOriginalDoes(t *testing.T) {
	ctx := context.Background()
	s3, dir, lk, st := unpublishedStore(t)
	pub := iceberg.Publication{To: "s3://lake/auditlake/prod-trail/", EndpointURL: s3.URL, Region: "us-east-1"}
	if _, err := iceberg.Publish(ctx, lk, st, pub); err != nil {
		t.Fatal(err)
	}
	if n := s3.Stored("lake/auditlake/prod-trail/auditlake-owner.json")["lake/auditlake/prod-trail/auditlake-owner.json"]; n != 1 {
		t.Fatalf("the owner marker was stored %d times, want once", n)
	}
	copyDir := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(copyDir, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	copied, err := lake.Open(copyDir)
	if err != nil {
		t.Fatal(err)
	}
	before := s3.Stored("lake/")
	_, err = iceberg.Publish(ctx, copied, st, pub)
	if !errors.Is(err, iceberg.ErrPrefixOwned) || !strings.Contains(err.Error(), "--take-over") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("eds publish from the copy: %v; want ErrPrefixOwned naming the original's directory and --take-over", err)
	}
	var syncErrs []error
	closer, err := iceberg.Attach(ctx, copied, func(err error) { syncErrs = append(syncErrs, err) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(ctx, copied, st, ingest.Options{Sources: []string{generated(t, 300, 1, 4)}}); err != nil {
		t.Fatal(err)
	}
	closer()
	if len(syncErrs) == 0 || !errors.Is(syncErrs[0], iceberg.ErrPrefixOwned) {
		t.Fatalf("the copy's commit synced to the original's prefix: errors %v", syncErrs)
	}
	if after := s3.Stored("lake/"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("the copy stored objects on S3:\nbefore %v\nafter  %v", before, after)
	}

	// The original goes on: a commit is published, its table holds its events.
	closer, err = iceberg.Attach(ctx, lk, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{generated(t, 300, 1, 5)}}); err != nil {
		t.Fatal(err)
	}
	closer()
	cfg, _, err := iceberg.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	props, err := cfg.OpenProperties(dir) // with the publication's S3 settings
	if err != nil {
		t.Fatal(err)
	}
	cat, err := iceberg.Open(ctx, props)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier("auditlake", "prod_trail"))
	if err != nil {
		t.Fatal(err)
	}
	tableHolds(t, s3, lk, st, pub, tbl, "lake/auditlake/prod-trail/data/", "the original after the copy was refused: ")

	take := pub
	take.TakeOver = true
	if _, err := iceberg.Publish(ctx, copied, st, take); err != nil {
		t.Fatalf("eds publish --take-over from the copy: %v", err)
	}
}

// TestPublishRefusesAPrefixAURIReadsOtherwise: the table names its objects by s3:// URIs, which
// iceberg-go parses (and Java's S3URI splits): a "#" or "?" in the prefix ends the key there
// (a fragment, a query) and a "%" that is not an escape does not parse. Such a prefix was
// recorded and its files uploaded before the table's commit failed ("invalid metadata
// location", "invalid URL escape"), and the error said to run eds publish again, which failed
// the same way for good: every later commit's sync failed too. It is refused before anything
// is recorded or uploaded, naming the character; a space, a letter outside ASCII and an
// escape ("%20") stay as they were (their tables read back).
func TestPublishRefusesAPrefixAURIReadsOtherwise(t *testing.T) {
	ctx := context.Background()
	s3, dir, lk, st := unpublishedStore(t)
	for _, bad := range []string{"audit#1", "audit?v=1", "100%", "a%zzb"} {
		p := iceberg.Publication{To: "s3://lake/" + bad + "/", EndpointURL: s3.URL, Region: "us-east-1"}
		_, err := iceberg.Publish(ctx, lk, st, p)
		if err == nil || !strings.Contains(err.Error(), p.To) {
			t.Errorf("publishing to %s: %v; want it refused, naming the prefix", p.To, err)
		}
		if _, ok, err := iceberg.LoadPublication(dir, st.ID); err != nil || ok {
			t.Fatalf("a refused prefix %s is recorded (%v)", p.To, err)
		}
		if stored := s3.Stored(""); len(stored) != 0 {
			t.Fatalf("publishing to %s uploaded %v", p.To, stored)
		}
	}
	p := iceberg.Publication{To: "s3://lake/audit lake é%20/", EndpointURL: s3.URL, Region: "us-east-1"}
	if _, err := iceberg.Publish(ctx, lk, st, p); err != nil {
		t.Fatalf("publishing to %s: %v", p.To, err)
	}
	tbl, err := configured(t, dir).LoadTable(ctx, catalog.ToIdentifier("auditlake", "prod_trail"))
	if err != nil {
		t.Fatal(err)
	}
	if got := icebergtest.Rows(t, tbl); got != 500 {
		t.Fatalf("the table published to %s holds %d rows, want 500", p.To, got)
	}
}
