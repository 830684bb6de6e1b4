package iceberg

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/objstore"
)

// minSweepAge is the least age of a metadata file Sweep deletes, whatever the keep window: a
// file a commit in another process is writing (a manifest before its snapshot) is seconds old.
const minSweepAge = time.Hour

// Swept is what Sweep deleted from a table's metadata directory.
type Swept struct {
	Files int
	Bytes int64
}

// Sweep deletes the files of store st's table's metadata directory that nothing the table holds
// names — no snapshot (manifest lists, manifests), not the current metadata file or those its
// log keeps, no statistics file — and that are older than keep (at least minSweepAge): what
// expiry left before it deleted expired snapshots' metadata (deleteExpiredMetadata), or a crash
// between an expiry and those deletions. Only manifest lists and manifests (.avro) and metadata
// files (.metadata.json) are deleted; a table that is not the store's (owner.go) or has
// gc.enabled false is left alone, and so is one whose metadata is neither in this data
// directory nor in the store's publication on S3 (a copied data directory's catalog names the
// original's files). Call it with the store's write lock held.
func Sweep(ctx context.Context, cat catalog.Catalog, lk *lake.Lake, st lake.Store, keep time.Duration) (Swept, error) {
	var out Swept
	pub, published, err := currentPublication(lk.Dir, st.ID)
	if err != nil {
		return out, err
	}
	if published {
		ctx = pub.withS3(ctx)
		if err := claimPrefix(ctx, lk.Dir, st, pub); err != nil { // another lake's metadata
			return out, err
		}
	}
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier(Namespace, TableName(st.Name)))
	if errors.Is(err, catalog.ErrNoSuchTable) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	if owner := tbl.Properties()["auditlake.store-id"]; owner != st.ID {
		return out, nil
	}
	if v, ok := tbl.Properties()[table.GCEnabledKey]; ok && !strings.EqualFold(v, "true") {
		return out, nil
	}
	dir := strings.TrimSuffix(tbl.Location(), "/") + "/metadata/"
	var walk func(fn func(objstore.Object) error) error
	var uriOf func(objstore.Object) string
	local, isLocal := LocalPath(dir)
	switch {
	case isLocal:
		if _, err := os.Stat(local); errors.Is(err, os.ErrNotExist) {
			return out, nil
		}
		if !within(local, lk.Dir) {
			// Another data directory's table (this one a copy of it, whose catalog names the
			// original's files): its files are that directory's to delete.
			return out, nil
		}
		walk = func(fn func(objstore.Object) error) error {
			entries, err := os.ReadDir(local)
			if err != nil {
				return err
			}
			for _, e := range entries {
				info, err := e.Info()
				if err != nil || !info.Mode().IsRegular() {
					continue // gone meanwhile, or not a file
				}
				if err := fn(objstore.Object{URI: filepath.Join(local, e.Name()), Size: info.Size(), ModTime: info.ModTime()}); err != nil {
					return err
				}
			}
			return nil
		}
		// Named as the table names its metadata files: its location, as it is written, and the name.
		uriOf = func(o objstore.Object) string { return dir + url.PathEscape(filepath.Base(o.URI)) }
	case published && strings.HasPrefix(dir, pub.Location()+"/"):
		walk = func(fn func(objstore.Object) error) error { return pub.client().Walk(ctx, dir, fn) }
		uriOf = func(o objstore.Object) string { return o.URI }
	default:
		return out, nil
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return out, err
	}
	md := tbl.Metadata()
	named := map[string]bool{tbl.MetadataLocation(): true}
	for e := range md.PreviousFiles() {
		named[e.MetadataFile] = true
	}
	for sf := range md.Statistics() {
		named[sf.StatisticsPath] = true
	}
	for sf := range md.PartitionStatistics() {
		named[sf.StatisticsPath] = true
	}
	for _, s := range md.Snapshots() {
		named[s.ManifestList] = true
		if err := nameManifests(fsys, s, named); err != nil {
			return out, fmt.Errorf("iceberg table %s: %w", strings.Join(tbl.Identifier(), "."), err)
		}
	}
	cutoff := clock().Add(-max(keep, minSweepAge))
	var gone []objstore.Object
	err = walk(func(o objstore.Object) error {
		uri := uriOf(o)
		if named[uri] || !o.ModTime.Before(cutoff) || !strings.HasPrefix(uri, dir) ||
			!strings.HasSuffix(uri, ".avro") && !strings.HasSuffix(uri, ".metadata.json") {
			return nil
		}
		gone = append(gone, o)
		return nil
	})
	if err != nil {
		return out, err
	}
	var errs []error
	for _, o := range gone {
		if err := fsys.Remove(uriOf(o)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		out.Files++
		out.Bytes += o.Size
	}
	return out, errors.Join(errs...)
}

// within says whether path is inside directory dir: as written (made absolute), or else with
// their symbolic links resolved (a sync after each commit asks; the links are looked up only
// when the paths as written differ).
func within(path, dir string) bool {
	inside := func(resolve func(string) string) bool {
		rel, err := filepath.Rel(resolve(dir), resolve(path))
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	return inside(abs) || inside(func(p string) string {
		if r, err := filepath.EvalSymlinks(abs(p)); err == nil {
			return r
		}
		return abs(p)
	})
}
