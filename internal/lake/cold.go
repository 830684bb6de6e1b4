package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lifecycle"
)

// Closed days in cold storage (issue 21 target 5). A file of a closed date partition is
// rewritten once, page by page (ctparquet.Recompress): its pages compressed again at
// ctparquet.ColdLevel, and its eventjsonchecksum column left to be derived on read
// (ctparquet.DerivedChecksumSQL) when the engine finds it equal to the SHA-256 of eventjson
// on every row — so the column reads the same, exactly, from every file. Hot files (open
// days) keep the writer's fast level and their stored checksums.

// ColdBudget bounds the bytes one (non-forced) compaction makes cold, like ClosedMergeBudget:
// the runs after a bulk load share the work (about 3 s of one CPU each at ColdLevel); the run
// that wrote a file leaves it to them, so that a load's time stays its own.
const ColdBudget = 32 << 20

// makeCold makes the CloudTrail data files of partitions before closed that are not cold yet
// cold, within ColdBudget and but for the files this writer wrote unless force, and returns the files that replace them and the paths
// they replace.
func makeCold(ctx context.Context, db *engine.DB, w *Writer, closed string, force bool) (added []DataFile, removed []string, err error) {
	if !w.facts || closed == "" { // Config and activity stores have no checksum to derive
		return nil, nil, nil
	}
	budget := int64(ColdBudget)
	for _, f := range w.m.Files {
		if f.Cold || f.Date >= closed || (!force && w.written[f.Path]) {
			continue
		}
		if !force {
			if f.Bytes > budget {
				continue
			}
			budget -= f.Bytes
		}
		nf, err := coldFile(ctx, db, w, f)
		if err != nil {
			for _, a := range added {
				os.Remove(w.lake.AbsPath(w.id, a.Path))
				if a.Facts != "" {
					os.Remove(w.lake.AbsPath(w.id, a.Facts))
				}
			}
			return nil, nil, fmt.Errorf("cold %s: %w", f.Path, err)
		}
		added = append(added, nf)
		removed = append(removed, f.Path)
	}
	return added, removed, nil
}

// coldFile rewrites data file f as a cold file and returns its entry (facts copied).
func coldFile(ctx context.Context, db *engine.DB, w *Writer, f DataFile) (nf DataFile, err error) {
	local, err := w.local(ctx, []string{f.Path})
	if err != nil {
		return nf, err
	}
	src := local[0]
	// The checksum is left out only when every stored one is the SHA-256 of its eventjson
	// (a null one is derived already).
	var differ int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM read_parquet(`+engine.Literal(src)+`, hive_partitioning = false)
		WHERE eventjsonchecksum IS NOT NULL AND eventjsonchecksum IS DISTINCT FROM sha256(eventjson)`).Scan(&differ); err != nil {
		return nf, err
	}
	nf = f
	nf.Path = "data/eventdate=" + f.Date + "/" + w.filePrefix() + NewUUID() + ".parquet"
	nf.Cold = true
	dst := w.lake.AbsPath(w.id, nf.Path)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nf, err
	}
	rows, err := ctparquet.Recompress(dst, src, ctparquet.ColdLevel, differ == 0)
	if err != nil {
		return nf, err
	}
	defer func() {
		if err != nil {
			os.Remove(dst)
		}
	}()
	if rows != f.Rows {
		return nf, fmt.Errorf("%d rows written, the manifest says %d", rows, f.Rows)
	}
	st, err := os.Stat(dst)
	if err != nil {
		return nf, err
	}
	nf.Bytes = st.Size()
	if f.FactsVersion != lifecycle.Version { // computed by the next compaction
		nf.Facts, nf.FactsVersion = "", 0
	} else if f.Facts != "" { // the same rows: the same facts, under the new file's name
		b, err := os.ReadFile(w.lake.AbsPath(w.id, f.Facts))
		if err != nil {
			return nf, err
		}
		rel, abs, err := factsPath(w, &nf)
		if err != nil {
			return nf, err
		}
		if err := os.WriteFile(abs, b, 0o644); err != nil {
			return nf, err
		}
		nf.Facts = rel
	}
	return nf, nil
}
