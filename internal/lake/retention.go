package lake

import (
	"context"
	"fmt"
	"slices"
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
//
// A Config store keeps the latest item of each resource whatever its age: a resource unchanged
// for years has only that item, and the Config rule evaluates it. Its files older than the
// cutoff that hold such an item are rewritten with those items only.
func Purge(ctx context.Context, db *engine.DB, w *Writer, s Store, now time.Time) (PurgeResult, error) {
	cutoff := RetentionCutoff(s, now)
	res := PurgeResult{Cutoff: cutoff}
	// kept is the condition on a row that stays; keepLatest adds "or the latest of its resource".
	ts := `TIMESTAMP ` + engine.Literal(cutoff.Format("2006-01-02 15:04:05.999999"))
	kept := `eventtime >= ` + ts
	keepLatest := s.Type == TypeConfig
	if keepLatest && slices.ContainsFunc(w.m.Files, func(f DataFile) bool { return f.MinTime.Before(cutoff) }) {
		live, err := w.localFiles(ctx, w.m.Files)
		if err != nil {
			return res, fmt.Errorf("purge: %w", err)
		}
		err = db.Exec(ctx, `CREATE OR REPLACE TEMP TABLE purge_latest AS SELECT eventdata.resourceid AS rid, max(eventtime) AS t
			FROM read_parquet(`+engine.ListLiteral(live)+`, hive_partitioning = false) GROUP BY 1`)
		if err != nil {
			return res, fmt.Errorf("purge: latest configuration items: %w", err)
		}
		defer db.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS purge_latest`)
		kept = `(` + kept + ` OR EXISTS (SELECT 1 FROM purge_latest AS l WHERE l.rid = eventdata.resourceid AND l.t = eventtime))`
	}
	var removed []string
	var straddling []DataFile
	for _, f := range w.m.Files {
		switch {
		case f.MaxTime.Before(cutoff) && !keepLatest:
			removed = append(removed, f.Path)
			res.FilesDropped++
			res.Events += f.Rows
		case f.MinTime.Before(cutoff):
			straddling = append(straddling, f)
		}
	}
	var added []DataFile
	for _, f := range straddling {
		local, err := w.local(ctx, []string{f.Path})
		if err != nil {
			return res, fmt.Errorf("purge %s: %w", f.Path, err)
		}
		p := local[0]
		var keep int64
		err = db.QueryRow(ctx, `SELECT count(*) FROM read_parquet(`+engine.Literal(p)+`, hive_partitioning = false) WHERE `+kept).Scan(&keep)
		if err != nil {
			return res, fmt.Errorf("purge %s: %w", f.Path, err)
		}
		if keep == f.Rows {
			continue // a Config file of latest items only: unchanged
		}
		res.Events += f.Rows - keep
		removed = append(removed, f.Path)
		if keep == 0 {
			res.FilesDropped++
			continue
		}
		res.FilesRewitten++
		nf, err := writeParquetBlooms(ctx, db, w, `SELECT *, `+engine.Literal(f.Date)+` AS eventdate FROM read_parquet(`+engine.Literal(p)+`, hive_partitioning = false)
			WHERE `+kept+` ORDER BY eventtime`)
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
