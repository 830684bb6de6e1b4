package iceberg

import (
	"context"
	"fmt"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/lake"
)

// Old days on S3 only (eds publish --local-days N). After each sync of a published store with
// LocalDays > 0, the files of the days before the last N (UTC, today included) leave the local
// disk when three things hold: the file is uploaded (its ledger entry: size and CRC-32C), the
// table's current snapshot names it (Follow syncs first), and the day's local work is done — for a
// CloudTrail store the file is cold (its closed day recompressed by compaction) and its EC2
// lifecycle facts are current, so compaction does not need it again. A file that is not yet
// cold stays until a compaction has made it so (the next sync after it evicts the cold file).
// The store's remote record (lake.Remote) then names the file's object, and every reader of the
// store fetches it through the store's local cache when it needs it (lake.Local). Facts files
// stay on the disk (they are not uploaded; a few KB per data file). LocalDays 0 brings every
// file back to the disk (Restore).

// clock is the time eviction reads (tests set a fixed one: which days are "the last N" must
// not change when a test runs across midnight UTC).
var clock = time.Now

// LocalCutoff is the first day (YYYY-MM-DD, UTC) kept on the local disk with localDays days,
// at now.
func LocalCutoff(now time.Time, localDays int) string {
	return now.UTC().AddDate(0, 0, -(localDays - 1)).Format(time.DateOnly)
}

// evict leaves the files of st's days before p's local days on S3 only (see above). The caller
// holds the store's write lock.
func evict(ctx context.Context, lk *lake.Lake, st lake.Store, p Publication, m *lake.Manifest) error {
	r, err := lk.ReadRemote(st.ID)
	if err != nil {
		return err
	}
	if p.LocalDays <= 0 {
		if len(r.Files) == 0 {
			return nil
		}
		return lk.Restore(ctx, st.ID)
	}
	led, err := readLedger(lk.Dir, st.ID)
	if err != nil {
		return err
	}
	cutoff := LocalCutoff(clock(), p.LocalDays)
	next := &lake.Remote{EndpointURL: p.EndpointURL, Region: p.Region, CacheBytes: p.CacheBytes, Files: map[string]lake.RemoteFile{}}
	for _, f := range m.Files {
		if f.Date >= cutoff || !f.Settled(st.Type) {
			if rf, ok := r.Files[f.Path]; ok && lk.Evicted(st.ID, r, f.Path) {
				next.Files[f.Path] = rf // already on S3 only: it stays there (Restore brings it back)
			}
			continue
		}
		e, ok := led.Files[f.Path]
		if !ok || e.Retired != nil || e.Size != f.Bytes {
			continue // not uploaded (yet): it stays
		}
		next.Files[f.Path] = lake.RemoteFile{URI: p.Object(f.Path), Size: e.Size, MD5: e.MD5, CRC32C: e.CRC32C}
	}
	if len(next.Files) == 0 && len(r.Files) == 0 {
		return nil
	}
	if _, err := lk.Evict(st.ID, next); err != nil {
		return fmt.Errorf("keep the last %d days of store %s locally: %w", p.LocalDays, st.Name, err)
	}
	return nil
}

// SaveLocalDays changes how many days of published store st stay on the local disk (0: all) and
// the size of its cache (0: lake.DefaultCacheBytes, negative: as it was), and returns the
// publication; Publish with it (or the store's next commit) evicts or restores files.
func SaveLocalDays(lk *lake.Lake, st lake.Store, localDays int, cacheBytes int64) (Publication, error) {
	if localDays < 0 {
		return Publication{}, fmt.Errorf("--local-days %d: want 0 (every day local) or more", localDays)
	}
	var p Publication
	defer forgetPublication(lk.Dir, st.ID)
	err := atomicfile.UpdateJSON(publishPath(lk.Dir), publishPath(lk.Dir)+".lock", func(all *map[string]Publication) error {
		q, ok := (*all)[st.ID]
		if !ok {
			return fmt.Errorf("store %s is not published (auditlake eds publish %s --to s3://…)", st.Name, st.Name)
		}
		q.LocalDays = localDays
		if cacheBytes >= 0 {
			q.CacheBytes = cacheBytes
		}
		(*all)[st.ID] = q
		p = q
		return nil
	})
	return p, err
}
