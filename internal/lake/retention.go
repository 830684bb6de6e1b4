package lake

import (
	"context"
	"fmt"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
)

// RetentionCutoff is the oldest eventtime a store keeps at now: CloudTrail Lake measures
// retention on eventtime, in whole days.
func RetentionCutoff(s Store, now time.Time) time.Time {
	return now.UTC().Add(-time.Duration(s.RetentionDays) * 24 * time.Hour)
}

// PurgeResult says what a purge removed.
type PurgeResult struct {
	Cutoff        time.Time
	FilesDropped  int
	FilesRewitten int
	Events        int64
}

// Purge deletes the events older than the store's retention at now, in one atomic commit:
// partitions wholly older than the cutoff are dropped, and the partition that straddles it is
// rewritten without its old events. A crash leaves the store as it was before or after.
func Purge(ctx context.Context, db *engine.DB, w *Writer, s Store, now time.Time) (PurgeResult, error) {
	cutoff := RetentionCutoff(s, now)
	res := PurgeResult{Cutoff: cutoff}
	var removed []string
	var straddling []DataFile
	for _, f := range w.m.Files {
		switch {
		case f.MaxTime.Before(cutoff):
			removed = append(removed, f.Path)
			res.FilesDropped++
			res.Events += f.Rows
		case f.MinTime.Before(cutoff):
			straddling = append(straddling, f)
		}
	}
	var added []DataFile
	for _, f := range straddling {
		p := w.lake.AbsPath(w.id, f.Path)
		var keep int64
		err := db.QueryRow(ctx, `SELECT count(*) FROM read_parquet(`+engine.Literal(p)+`, hive_partitioning = false) WHERE eventtime >= ?`, cutoff).Scan(&keep)
		if err != nil {
			return res, fmt.Errorf("purge %s: %w", f.Path, err)
		}
		res.Events += f.Rows - keep
		removed = append(removed, f.Path)
		res.FilesRewitten++
		if keep == 0 {
			continue
		}
		nf, err := writeParquet(ctx, db, w, `SELECT *, `+engine.Literal(f.Date)+` AS eventdate FROM read_parquet(`+engine.Literal(p)+`, hive_partitioning = false)
			WHERE eventtime >= TIMESTAMP `+engine.Literal(cutoff.Format("2006-01-02 15:04:05.999999"))+` ORDER BY eventtime`)
		if err != nil {
			return res, fmt.Errorf("purge %s: %w", f.Path, err)
		}
		added = append(added, nf...)
	}
	if len(removed) == 0 {
		return res, nil
	}
	return res, w.Commit(added, removed, nil)
}
