package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/objstore"
)

const edsPublishUsage = `Usage: auditlake eds publish --to s3://BUCKET/PREFIX/ [--region R] [--endpoint-url URL] [--local-days N [--cache-size SIZE]] NAME|ID

Makes S3 the home of the store's Iceberg table: uploads the store's live files under the prefix
(multipart above 64 MB, --part-size; every request with the CRC-32C of its body, which S3
checks; retried with backoff), moves the table there (its location, metadata and data file paths
s3://…) and records the publication in <data>/iceberg/publish.json. From then on every commit
(ingest batch, compaction, purge) uploads its new files before the snapshot that names them;
files no longer live are deleted from S3 when the snapshots that name them expire (catalog set
--keep-retired). Local files stay the working copy of auditlake's own queries. Interrupted, it
resumes where it stopped: run it again (or let the next commit, or auditlake catalog sync, do
it); an object already there with the file's size and CRC-32C is not uploaded again. Needs a
catalog (auditlake catalog set). S3 credentials come from the SDK's default chain (environment,
profile, instance role).

--local-days N keeps only the last N days (UTC, today included) on the local disk: the files of
older days leave it once uploaded, in the table's snapshot, and cold (compaction has recompressed
the closed day); queries, reports, compaction, purge and checks read them from S3 through a cache
in <data>/cache/remote/<id>/ (--cache-size, default 8GiB, least recently used copies deleted
first), fetching only the days a query's eventtime range needs. Run again, eds publish keeps the
local days, cache size, region and endpoint it is not given. Change or clear it (0: every day back on the disk)
with auditlake eds update NAME --local-days N.

The prefix holds an owner marker (auditlake-owner.json) naming the lake that publishes there. A
copy of a data directory (or one moved to another file system) is another lake: it is refused
where the original publishes, as are its commits' syncs, and nothing is uploaded or deleted.
Publish the copy elsewhere, or, when the other lake no longer publishes there (this directory was
moved or restored), make the prefix this lake's with --take-over.`

const edsPublishExamples = `  auditlake eds publish prod-trail --to s3://lake-bucket/auditlake/prod-trail/
  auditlake eds publish prod-trail --to s3://lake/prod-trail/ --endpoint-url http://127.0.0.1:9000 --region us-east-1
  auditlake eds publish prod-trail --to s3://lake-bucket/auditlake/prod-trail/ --local-days 30 --cache-size 20GiB`

func runEDSPublish(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "eds publish")
	to := fs.String("to", "", "the S3 prefix the store's table lives under, s3://bucket/prefix/ (required)")
	region := fs.String("region", "", "the bucket's region")
	endpoint := fs.String("endpoint-url", "", "S3-compatible endpoint (path-style), e.g. http://127.0.0.1:9000")
	partSize := fs.Int64("part-size", 0, "multipart part size in bytes (default 64 MB)")
	localDays := fs.Int("local-days", -1, "keep only the last N days on the local disk, older ones on S3 (0: every day)")
	var cacheSize byteSize
	fs.Var(&cacheSize, "cache-size", "bound of the cache of days fetched from S3 (default 8GiB)")
	takeOver := fs.Bool("take-over", false, "make the prefix this lake's when another lake's owner marker is there (that lake no longer publishes there)")
	lk, s, err := storeArg(env, fs, args, "eds publish")
	if err != nil {
		return err
	}
	if *to == "" {
		return usagef("--to s3://bucket/prefix/ is required")
	}
	if !strings.HasSuffix(*to, "/") {
		*to += "/"
	}
	p := iceberg.Publication{To: *to, Region: *region, EndpointURL: *endpoint, PartSize: *partSize, LocalDays: *localDays, CacheBytes: int64(cacheSize), TakeOver: *takeOver}
	// Run again, a store keeps the local days, the cache size, the region, the endpoint and the
	// part size it has unless they are given (--local-days alone does not reset the cache to its default
	// size, nor --cache-size alone the local days; nor does either move the store's S3 home to
	// the SDK's default endpoint and region).
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["local-days"] && *localDays < 0 { // -1 is only the default's "not given"
		return usagef("--local-days %d: want 0 (every day on the local disk) or more", *localDays)
	}
	if old, ok, err := iceberg.LoadPublication(lk.Dir, s.ID); err != nil {
		return err
	} else if ok {
		if !given["local-days"] {
			p.LocalDays = old.LocalDays
		}
		if !given["cache-size"] {
			p.CacheBytes = old.CacheBytes
		}
		if !given["region"] {
			p.Region = old.Region
		}
		if !given["endpoint-url"] {
			p.EndpointURL = old.EndpointURL
		}
		if !given["part-size"] {
			p.PartSize = old.PartSize
		}
	}
	if err := p.Validate(); err != nil {
		return usagef("%v", err)
	}
	if *partSize != 0 && (*partSize < objstore.MinPartSize || *partSize > objstore.MaxPartSize) {
		return usagef("--part-size %d: S3 parts are 5 MiB (5242880) to 5 GiB (5368709120)", *partSize)
	}
	// The cut cold files written whole while writers carry on, the store's write lock taken
	// for their commit only; then, under the lock taken for the upload, any a compaction
	// committed meanwhile.
	if err := keepWholeJSON(ctx, lk, s.ID, nil); err != nil {
		return err
	}
	w, err := lk.BeginWrite(s.ID) // the store's write lock: no commit between the upload and the snapshot
	if err != nil {
		return err
	}
	defer w.Close()
	if err := keepWholeJSON(ctx, lk, s.ID, w); err != nil {
		return err
	}
	res, err := iceberg.Publish(ctx, lk, s, p)
	forgetIcebergHooks(env.DataDir) // this process's later commits open the catalog with the S3 settings
	if errors.Is(err, iceberg.ErrNoCatalog) {
		return &NotFoundError{Msg: err.Error()}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: published to %s: %s live, %d uploaded now; table %s, snapshot %d\n",
		s.Name, p.To, plural(res.Live, "file", "files"), res.Uploaded, res.Table, res.SnapshotID)
	return nil
}

// keepWholeJSON makes store id, about to be published, keep whole eventjson and its
// checksums in every file (lake.KeepWholeJSON): Athena, Trino and Spark read the files as they
// are, so a cold file cut for the local engine is written whole again before its upload —
// under w, the store's write lock, or, when w is nil, with the lock taken for the commit only
// (lake.WriteWholeJSON).
func keepWholeJSON(ctx context.Context, lk *lake.Lake, id string, w *lake.Writer) error {
	var m *lake.Manifest
	if w != nil {
		m = w.Manifest()
	} else {
		var err error
		if m, err = lk.ReadManifest(id); err != nil {
			return err
		}
	}
	if lk.WholeJSON(id) && !anyCutFile(m) {
		return nil
	}
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "1GB", TempDir: lk.TempDir()})
	if err != nil {
		return err
	}
	defer db.Close()
	if w == nil {
		_, err = lake.WriteWholeJSON(ctx, db, lk, id)
	} else {
		_, err = lake.KeepWholeJSON(ctx, db, w)
	}
	return err
}

func anyCutFile(m *lake.Manifest) bool {
	for _, f := range m.Files {
		if f.Cold && !f.Whole {
			return true
		}
	}
	return false
}

// setLocalDays is eds update --local-days: the publication's local days (and cache size,
// cacheBytes < 0: as it was) changed, then the store's S3 home brought up to it (files of
// older days evicted, or every one brought back for 0).
func setLocalDays(ctx context.Context, env *Env, lk *lake.Lake, s lake.Store, localDays int, cacheBytes int64) error {
	if localDays < 0 {
		return usagef("--local-days %d: want 0 (every day on the local disk) or more", localDays)
	}
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		return err
	}
	defer w.Close()
	p, err := iceberg.SaveLocalDays(lk, s, localDays, cacheBytes)
	if err != nil {
		return &NotFoundError{Msg: err.Error()}
	}
	if err := keepWholeJSON(ctx, lk, s.ID, w); err != nil { // a store published before whole JSON was kept
		return err
	}
	res, err := iceberg.Publish(ctx, lk, s, p)
	if errors.Is(err, iceberg.ErrNoCatalog) {
		return &NotFoundError{Msg: err.Error()}
	}
	if err != nil {
		return err
	}
	bytes, files := lk.CacheUsage(s.ID)
	r, err := lk.ReadRemote(s.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: %s on S3 only (local days %d); cache %s in %s; table %s, snapshot %d\n",
		s.Name, plural(len(r.Files), "file", "files"), localDays, humanBytes(bytes), plural(files, "file", "files"), res.Table, res.SnapshotID)
	return nil
}
