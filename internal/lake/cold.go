package lake

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lifecycle"
)

// Closed days in cold storage (issue 21 target 5). A file of a closed date partition is
// rewritten once, page by page (ctparquet.Recompress): its pages compressed again at
// ctparquet.ColdLevel, and its eventjsonchecksum column left to be derived on read
// (ctparquet.DerivedChecksumSQL) when the engine finds it equal to the SHA-256 of eventjson
// on every row — so the column reads the same, exactly, from every file — and then its
// eventjson without the values of ctparquet.CutColumns, put back on read
// (ctparquet.ColdJSONSQL). Hot files (open days) keep the writer's fast level, their stored
// checksums and their whole JSON.

// ColdJSONSQL is the expression that reads eventjson the same from hot and cold files
// (ctparquet.ColdJSONSQL), for readers of the files other than the store views — through
// auditlake's engine only: it calls the engine's own scalar function (coldjson.FuncName).
var ColdJSONSQL = ctparquet.ColdJSONSQL

// A store whose files other engines read directly (a published store: Athena, Trino and
// Spark read its Iceberg table's files, issue 20) keeps whole eventjson and its stored
// checksums in its cold files too — they put nothing back. KeepWholeJSON turns that on (a
// marker file in the store's directory, then every cold file that is not whole written whole
// again); from then on a closed day goes cold only recompressed, and a compaction writes again
// whole any cold file left cut by a crash between the marker and the commit.
const wholeJSONFile = "whole-json"

// WholeJSON says whether store id's files keep whole eventjson and checksums (KeepWholeJSON).
func (l *Lake) WholeJSON(id string) bool {
	_, err := os.Stat(filepath.Join(l.StoreDir(id), wholeJSONFile))
	return err == nil
}

// KeepWholeJSON makes w's store keep whole eventjson and checksums in every file from now on
// (eds publish runs it before the first upload) and writes every cold file that is not known
// whole again whole, in one commit, all under w's write lock. It returns the files written
// again. WriteWholeJSON does the same holding the lock only for the commit.
func KeepWholeJSON(ctx context.Context, db *engine.DB, w *Writer) (int, error) {
	return commitWholeJSON(ctx, db, w, nil)
}

// wholeJSONTmp is the directory of a store where WriteWholeJSON writes its copies before the
// commit that names them (a rename into data/ under the write lock); wholeJSONLock serialises
// the processes that write there.
const (
	wholeJSONTmp  = "whole-json.tmp"
	wholeJSONLock = "whole-json.lock"
)

// wholeJSONWritten, when set (tests), runs after WriteWholeJSON has written its copies and
// before it takes the store's write lock.
var wholeJSONWritten func()

// WriteWholeJSON is KeepWholeJSON for store id that holds the store's write lock only for the
// commit: the marker first (from then on, compaction makes closed days cold whole), then a
// whole copy of each cut cold file written beside the store from a snapshot of it (its read
// lock held, so that no file it names is deleted meanwhile) while writers carry on; then, under
// the write lock, the copies of the files still live renamed into data/ and committed in
// place of them, with any cut cold file a writer committed meanwhile (a compaction that
// started before the marker) written whole there and then. Copies of files a writer replaced
// meanwhile are deleted. It returns the files written again.
func WriteWholeJSON(ctx context.Context, db *engine.DB, l *Lake, id string) (int, error) {
	if err := writeWholeJSONMarker(l, id); err != nil {
		return 0, err
	}
	unlock, err := lockFile(filepath.Join(l.StoreDir(id), wholeJSONLock), syscall.LOCK_EX)
	if err != nil {
		return 0, fmt.Errorf("lock store %s for whole JSON: %w", id, err)
	}
	defer unlock()
	tmp := filepath.Join(l.StoreDir(id), wholeJSONTmp)
	os.RemoveAll(tmp) // copies left by a process that stopped before its commit
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return 0, err
	}
	copies, err := writeWholeCopies(ctx, db, l, id, tmp)
	if err != nil {
		return 0, err
	}
	if wholeJSONWritten != nil {
		wholeJSONWritten()
	}
	w, err := l.BeginWrite(id)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	return commitWholeJSON(ctx, db, w, copies)
}

// removeWholeJSONLeftovers deletes the copies a WriteWholeJSON that stopped before its commit
// left beside store id, when no WriteWholeJSON is running.
func removeWholeJSONLeftovers(l *Lake, id string) {
	tmp := filepath.Join(l.StoreDir(id), wholeJSONTmp)
	if _, err := os.Stat(tmp); err != nil {
		return
	}
	unlock, err := lockFile(filepath.Join(l.StoreDir(id), wholeJSONLock), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		return // one is running
	}
	defer unlock()
	os.RemoveAll(tmp)
}

// writeWholeCopies writes into tmp a whole copy of each cut cold file of store id kept on the
// local disk, and returns them by the path of the file they copy (Path: the copy's absolute
// path; Bytes: its size).
func writeWholeCopies(ctx context.Context, db *engine.DB, l *Lake, id, tmp string) (map[string]DataFile, error) {
	m, release, err := l.Snapshot(id)
	if err != nil {
		return nil, err
	}
	defer release()
	copies := map[string]DataFile{}
	facts := true
	if st, err := l.Resolve(id); err == nil {
		facts = st.Type == TypeCloudTrail || st.Type == ""
	}
	for _, f := range m.Files {
		if f.Whole || !facts {
			continue
		}
		src := l.AbsPath(id, f.Path)
		if _, err := os.Stat(src); err != nil {
			continue // kept on S3 only: written whole under the lock
		}
		if !f.Cold { // a hot file is written whole when it left checksums to derive
			if derived, err := derivedIn(ctx, db, src); err != nil || !derived {
				continue // else written whole under the lock, if need be
			}
		}
		dst := filepath.Join(tmp, NewUUID()+".parquet")
		rows, err := wholeRewrite(ctx, db, dst, src)
		if err == nil && rows != f.Rows {
			err = fmt.Errorf("%d rows written, the manifest says %d", rows, f.Rows)
		}
		var st os.FileInfo
		if err == nil {
			st, err = os.Stat(dst)
		}
		if err != nil {
			return nil, fmt.Errorf("whole JSON for %s: %w", f.Path, err)
		}
		copies[f.Path] = DataFile{Path: dst, Rows: rows, Bytes: st.Size()}
	}
	return copies, nil
}

func writeWholeJSONMarker(l *Lake, id string) error {
	if l.WholeJSON(id) {
		return nil
	}
	return WriteFileAtomic(filepath.Join(l.StoreDir(id), wholeJSONFile), []byte("cold files keep whole eventjson and eventjsonchecksum (a published store)\n"))
}

// commitWholeJSON writes the marker and commits every cut cold file of w's store written
// whole: from copies (by the path of the file they copy, written beforehand) where there is
// one, else there and then.
func commitWholeJSON(ctx context.Context, db *engine.DB, w *Writer, copies map[string]DataFile) (int, error) {
	if err := writeWholeJSONMarker(w.lake, w.id); err != nil {
		return 0, err
	}
	var added []DataFile
	var removed []string
	for _, f := range w.m.Files {
		if f.Whole || !w.facts {
			continue
		}
		var nf DataFile
		var err error
		if c, ok := copies[f.Path]; ok {
			nf, err = placeCopy(w, f, c)
		} else if f.Cold {
			nf, err = coldFile(ctx, db, w, f, true)
		} else {
			var derived bool
			if derived, err = w.derivedChecksums(ctx, db, f); !derived {
				if err != nil {
					return 0, fmt.Errorf("whole JSON for %s: %w", f.Path, err)
				}
				continue
			}
			nf, err = rewriteFile(ctx, db, w, f, true, false)
		}
		if err != nil {
			removeAdded(w, added)
			return 0, fmt.Errorf("whole JSON for %s: %w", f.Path, err)
		}
		added = append(added, nf)
		removed = append(removed, f.Path)
	}
	if len(added) == 0 {
		return 0, nil
	}
	return len(added), w.Commit(added, removed, nil)
}

// placeCopy renames c, a whole copy of data file f written beforehand (a cold file, or a hot
// one whose checksums were left to derive), into w's store under a name of w's and returns its
// entry (facts copied).
func placeCopy(w *Writer, f DataFile, c DataFile) (nf DataFile, err error) {
	nf = f
	nf.Path = "data/eventdate=" + f.Date + "/" + w.filePrefix() + NewUUID() + ".parquet"
	nf.Whole, nf.Bytes = f.Cold, c.Bytes
	dst := w.lake.AbsPath(w.id, nf.Path)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nf, err
	}
	if err := os.Rename(c.Path, dst); err != nil {
		return nf, err
	}
	if nf, err = copyFacts(w, f, nf); err != nil {
		os.Remove(dst)
	}
	return nf, err
}

func removeAdded(w *Writer, added []DataFile) {
	for _, a := range added {
		os.Remove(w.lake.AbsPath(w.id, a.Path))
		if a.Facts != "" {
			os.Remove(w.lake.AbsPath(w.id, a.Facts))
		}
	}
}

// ColdBudget bounds the bytes one (non-forced) compaction makes cold, like ClosedMergeBudget:
// the runs after a bulk load share the work (about 3 s of one CPU each: recompressing at
// ColdLevel and cutting eventjson cost about 0.2 s of CPU per MB of a hot file); the run that
// wrote a file leaves it to them, so that a load's time stays its own.
const ColdBudget = 16 << 20

// makeCold makes the CloudTrail data files of partitions before closed that are not cold yet
// cold, within ColdBudget and but for the files this writer wrote unless force, and returns the files that replace them and the paths
// they replace.
func makeCold(ctx context.Context, db *engine.DB, w *Writer, closed string, force bool) (added []DataFile, removed []string, err error) {
	if !w.facts || closed == "" { // Config and activity stores have no checksum to derive
		return nil, nil, nil
	}
	budget := int64(ColdBudget)
	whole := w.lake.WholeJSON(w.id)
	for _, f := range w.m.Files {
		if whole && !f.Cold && f.Date >= closed && !w.written[f.Path] {
			// An open day's hot file of a whole-JSON store left with checksums to derive: an
			// ingest that began before the store was published, its file not yet written
			// whole when a crash stopped the publication (commitWholeJSON). Written whole.
			derived, err := w.derivedChecksums(ctx, db, f)
			if err == nil && derived {
				var nf DataFile
				if nf, err = rewriteFile(ctx, db, w, f, true, false); err == nil {
					added, removed = append(added, nf), append(removed, f.Path)
				}
			}
			if err != nil {
				removeAdded(w, added)
				return nil, nil, fmt.Errorf("whole JSON for %s: %w", f.Path, err)
			}
			continue
		}
		// (A cold file of a whole-JSON store that is not whole was cut before a crash.)
		if f.Cold && (!whole || f.Whole) || f.Date >= closed || (!force && w.written[f.Path]) {
			continue
		}
		if !force {
			// A day larger than the whole budget goes cold alone (else it never would).
			if f.Bytes > budget && budget < ColdBudget {
				continue
			}
			budget -= min(f.Bytes, budget)
		}
		nf, err := coldFile(ctx, db, w, f, whole)
		if err != nil {
			removeAdded(w, added)
			return nil, nil, fmt.Errorf("cold %s: %w", f.Path, err)
		}
		added = append(added, nf)
		removed = append(removed, f.Path)
	}
	return added, removed, nil
}

// coldFile rewrites data file f as a cold file — whole: with whole eventjson and stored
// checksums, a cold file's put back — and returns its entry (facts copied).
func coldFile(ctx context.Context, db *engine.DB, w *Writer, f DataFile, whole bool) (nf DataFile, err error) {
	return rewriteFile(ctx, db, w, f, whole, true)
}

// derivedChecksums says whether hot data file f left any eventjsonchecksum for its readers to
// derive ("": ingest's cloudtrail.DecodeOptions.DeferChecksum; null: a cut eventjson, as the
// alerts store writes its alerts, cloudtrail.JSONCut).
func (w *Writer) derivedChecksums(ctx context.Context, db *engine.DB, f DataFile) (bool, error) {
	local, err := w.local(ctx, []string{f.Path})
	if err != nil {
		return false, err
	}
	return derivedIn(ctx, db, local[0])
}

// derivedIn says whether the data file at path has an eventjsonchecksum "", or null (a row
// whose eventjson is cut: cloudtrail.JSONCut, as the alerts store writes its alerts).
func derivedIn(ctx context.Context, db *engine.DB, path string) (bool, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT count(*) FROM read_parquet(`+engine.Literal(path)+`, hive_partitioning = false)
		WHERE eventjsonchecksum = '' OR eventjsonchecksum IS NULL`).Scan(&n)
	return n > 0, err
}

// rewriteFile rewrites data file f — cold: as a cold file (else a hot one, whole, for a
// published store: its checksums stored); whole: with whole eventjson and stored checksums —
// and returns its entry (facts copied).
func rewriteFile(ctx context.Context, db *engine.DB, w *Writer, f DataFile, whole, cold bool) (nf DataFile, err error) {
	local, err := w.local(ctx, []string{f.Path})
	if err != nil {
		return nf, err
	}
	src := local[0]
	nf = f
	nf.Path = "data/eventdate=" + f.Date + "/" + w.filePrefix() + NewUUID() + ".parquet"
	nf.Cold, nf.Whole = cold, whole && cold
	dst := w.lake.AbsPath(w.id, nf.Path)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nf, err
	}
	derived := false
	if whole && !f.Cold {
		if derived, err = w.derivedChecksums(ctx, db, f); err != nil {
			return nf, err
		}
	}
	var rows int64
	switch {
	case whole && (f.Cold || derived):
		rows, err = wholeRewrite(ctx, db, dst, src)
	case whole:
		rows, err = ctparquet.RecompressWith(dst, src, ctparquet.ColdOptions{Level: ctparquet.ColdLevel, DeltaInts: true})
	default:
		rows, err = cutRewrite(ctx, db, dst, src)
	}
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
	w.lake.written(w.id, nf.Path)
	return copyFacts(w, f, nf)
}

// copyFacts gives nf, a cold copy of data file f (the same rows), f's facts under nf's name.
func copyFacts(w *Writer, f, nf DataFile) (DataFile, error) {
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

// cutRewrite writes src again as dst for cold storage: pages at ctparquet.ColdLevel and, when
// every stored checksum is the SHA-256 of its eventjson (a null or empty one is derived already),
// eventjsonchecksum derived and eventjson cut (ctparquet.CutJSON, each row's ids and map values
// read by the engine); a file with a row that cannot be cut keeps its checksums and whole JSON.
func cutRewrite(ctx context.Context, db *engine.DB, dst, src string) (int64, error) {
	var differ int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM read_parquet(`+engine.Literal(src)+`, hive_partitioning = false)
		WHERE eventjsonchecksum IS NOT NULL AND eventjsonchecksum <> '' AND eventjsonchecksum IS DISTINCT FROM sha256(eventjson)`).Scan(&differ); err != nil {
		return 0, err
	}
	if differ > 0 {
		return ctparquet.RecompressWith(dst, src, ctparquet.ColdOptions{Level: ctparquet.ColdLevel, DeltaInts: true})
	}
	cols := ", " + ctparquet.MapValuesSQL
	for _, c := range ctparquet.CutColumns {
		cols += ", " + c
	}
	var (
		rs   *sql.Rows
		row  int64
		js   sql.NullString
		maps []any
		vals = make([]sql.NullString, len(ctparquet.CutColumns))
		strs = make([]string, len(ctparquet.CutColumns))
		mstr []string
		dest = []any{&row, &js, &maps}
	)
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	defer func() {
		if rs != nil {
			rs.Close()
		}
	}()
	// Each row group's JSON as it reads (a row merged from a cold file is cut already), in
	// file order: one row group at a time, so that memory holds one row group's JSON.
	rowGroup := func(first, n int64) (func() (string, bool, error), error) {
		if rs != nil {
			if rs.Next() {
				return nil, fmt.Errorf("row %d: the engine read more rows than the row group's", row)
			}
			rs.Close()
		}
		var err error
		rs, err = db.Query(ctx, `SELECT file_row_number, `+ctparquet.ColdJSONSQL+cols+` FROM read_parquet(`+engine.Literal(src)+
			`, hive_partitioning = false, file_row_number = true) WHERE file_row_number >= ? AND file_row_number < ? ORDER BY file_row_number`, first, first+n)
		if err != nil {
			return nil, err
		}
		want := first
		return func() (string, bool, error) {
			if !rs.Next() {
				if err := rs.Err(); err != nil {
					return "", false, err
				}
				return "", false, fmt.Errorf("row %d: the engine read fewer rows than the row group's", want)
			}
			if err := rs.Scan(dest...); err != nil {
				return "", false, err
			}
			if row != want {
				return "", false, fmt.Errorf("the engine read row %d where row %d was due", row, want)
			}
			want++
			if !js.Valid {
				return "", true, nil
			}
			for i, v := range vals {
				strs[i] = v.String
			}
			mstr = mstr[:0]
			for _, v := range maps {
				s, _ := v.(string) // null: ""
				mstr = append(mstr, s)
			}
			cut, err := ctparquet.CutJSON(js.String, strs, mstr)
			return cut, false, err
		}, nil
	}
	rows, err := ctparquet.RecompressWith(dst, src, ctparquet.ColdOptions{Level: ctparquet.ColdLevel, Derive: true, JSON: rowGroup, DeltaInts: true})
	if err == nil && rs != nil && rs.Next() {
		err = fmt.Errorf("the engine read more rows than the file's %d", rows)
	}
	if errors.Is(err, ctparquet.ErrNotCut) {
		return ctparquet.RecompressWith(dst, src, ctparquet.ColdOptions{Level: ctparquet.ColdLevel, DeltaInts: true})
	}
	return rows, err
}

// wholeRewrite writes data file src (cold, or hot with checksums to derive) again as dst with
// whole eventjson and stored checksums,
// as the engine reads them (ctparquet.DataFilesSQL's), its other pages as they are: one query
// per row group puts its JSON back once, and a checksum the file does not store is the SHA-256
// of that JSON (ctparquet.DerivedChecksumSQL), computed here.
func wholeRewrite(ctx context.Context, db *engine.DB, dst, src string) (int64, error) {
	var (
		at    = int64(-1) // the first row of the row group held
		jsons []sql.NullString
		sums  []sql.NullString
	)
	load := func(first, n int64) error {
		if at == first && int64(len(jsons)) == n {
			return nil
		}
		at, jsons, sums = -1, jsons[:0], sums[:0]
		rs, err := db.Query(ctx, `SELECT file_row_number, `+ctparquet.ColdJSONSQL+`, eventjsonchecksum FROM read_parquet(`+engine.Literal(src)+
			`, hive_partitioning = false, file_row_number = true) WHERE file_row_number >= ? AND file_row_number < ? ORDER BY file_row_number`, first, first+n)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var row int64
			var js, sum sql.NullString
			if err := rs.Scan(&row, &js, &sum); err != nil {
				return err
			}
			if want := first + int64(len(jsons)); row != want {
				return fmt.Errorf("the engine read row %d where row %d was due", row, want)
			}
			jsons, sums = append(jsons, js), append(sums, sum)
		}
		if err := rs.Err(); err != nil {
			return err
		}
		if int64(len(jsons)) != n {
			return fmt.Errorf("rows %d..%d: the engine read %d rows of the row group's %d", first, first+n-1, len(jsons), n)
		}
		at = first
		return nil
	}
	column := func(value func(i int) (string, bool)) func(first, n int64) (func() (string, bool, error), error) {
		return func(first, n int64) (func() (string, bool, error), error) {
			if err := load(first, n); err != nil {
				return nil, err
			}
			i := 0
			return func() (string, bool, error) {
				if i >= len(jsons) {
					return "", false, fmt.Errorf("row %d: past the row group's %d rows", first+int64(i), len(jsons))
				}
				v, null := value(i)
				i++
				return v, null, nil
			}, nil
		}
	}
	json := column(func(i int) (string, bool) { return jsons[i].String, !jsons[i].Valid })
	checksum := column(func(i int) (string, bool) {
		if sums[i].Valid && sums[i].String != "" || !jsons[i].Valid {
			return sums[i].String, !sums[i].Valid
		}
		h := sha256.Sum256([]byte(jsons[i].String))
		return hex.EncodeToString(h[:]), false
	})
	return ctparquet.RecompressWith(dst, src, ctparquet.ColdOptions{Level: ctparquet.ColdLevel, DeltaInts: true, JSON: json, Checksum: checksum})
}
