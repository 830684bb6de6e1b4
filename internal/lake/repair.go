package lake

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lifecycle"
)

// RepairResult says what Repair did.
type RepairResult struct {
	// FromManifest is true when the store's manifest was valid: its files were checked and the
	// damaged or missing ones dropped. Otherwise the manifest was rebuilt from the files on disk.
	FromManifest bool
	Files        int   // data files in the new manifest
	Rows         int64 // events in them
	// Dropped are the files left out of the new manifest and why; Quarantined are where the
	// damaged and redundant ones were moved (under quarantine/ in the store directory).
	Dropped     []FileDamage
	Quarantined []string
	// FactsComputed counts data files whose EC2 lifecycle facts were missing and computed.
	FactsComputed int
	// Segments counts the ingest-state segments kept. When events were lost with a dropped
	// file, none is kept (StateCleared): the next ingest reads every source again, and adds
	// back what is missing (the events still stored are deduplicated).
	Segments     int
	StateCleared bool
	// Unaccounted are files on disk the valid manifest does not name, left where they are.
	Unaccounted []string
	// Duplicates counts events still stored in more than one file after the redundant files
	// were set aside (partial overlaps Repair does not resolve).
	Duplicates int64
	Manifest   *Manifest
}

// Repair rebuilds a store's manifest and commits it atomically, under the store's write lock.
//
// With a valid manifest, each file it names is verified (readable Parquet footer, the store's
// schema, the row count recorded); missing and damaged files are dropped from the manifest
// (damaged ones moved to quarantine/), the rest is kept as it was.
//
// Without one (missing, not JSON, not a manifest, or older than a write recorded after it), the
// manifest is rebuilt from the Parquet files under data/: each is verified the same way and
// described again (rows, time span); its facts file is kept when readable, computed by the
// lifecycle query when not; ingest-state segments that parse are kept. A file whose events are
// all in other files of its date (a compaction's input not yet deleted, a batch committed
// twice) is redundant and set aside to quarantine/, so no event is counted twice. Files of a
// write that never committed are adopted: their events were read from the sources, and the
// next ingest of those sources finds them stored.
func (l *Lake) Repair(ctx context.Context, db *engine.DB, id string) (*RepairResult, error) {
	st, err := l.Resolve(id)
	if err != nil {
		return nil, err
	}
	dir := l.StoreDir(id)
	unlock, err := lockFile(filepath.Join(dir, "write.lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("lock store %s for writing: %w", st.Name, err)
	}
	defer unlock()
	w := &Writer{lake: l, id: id, m: &Manifest{}, facts: st.Type == TypeCloudTrail || st.Type == ""}
	defer w.Close() // the copies of files on S3 only it read (the lock is Repair's own)
	res := &RepairResult{}
	crashed, err := l.crashedWriters(id)
	if err != nil {
		return nil, err
	}
	var old *Manifest
	if b, err := os.ReadFile(l.manifestPath(id)); err == nil {
		old, _ = parseManifest(b)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read manifest of store %s: %w", st.Name, err)
	}
	if old != nil {
		for tag, mk := range crashed {
			if !mk.current(tag, old) {
				old = nil // a copy older than writes since: the files on disk say more
				break
			}
		}
	}
	v, err := newVerifier(ctx, db, st.Type)
	if err != nil {
		return nil, err
	}
	defer v.close()

	next := &Manifest{}
	if old != nil {
		res.FromManifest = true
		w.m = old
		tags := map[string]bool{}
		for tag := range crashed {
			tags[tag] = true
		}
		if err := w.sweep(old, tags); err != nil {
			return nil, err
		}
		next.Version, next.Retired, next.RetiredSegments = old.Version, old.Retired, old.RetiredSegments
		named, spilled := old.named(), l.inRetiredSegments(id, old)
		remote, err := l.ReadRemote(id)
		if err != nil {
			return nil, err
		}
		for _, f := range old.Files {
			if l.Evicted(id, remote, f.Path) { // kept on S3 only (remote.go): not missing
				next.Files = append(next.Files, f)
				continue
			}
			if p := checkParquetFile(l.AbsPath(id, f.Path), -1); p == "missing" {
				res.Dropped = append(res.Dropped, FileDamage{Path: f.Path, Problem: p})
				continue
			}
			got, problem := v.verify(ctx, l.AbsPath(id, f.Path))
			if problem != "" {
				if err := l.quarantine(id, f.Path, FileDamage{Path: f.Path, Problem: problem}, res); err != nil {
					return nil, err
				}
				continue
			}
			// What the manifest records of the file, as the file says it.
			f.Rows, f.Bytes, f.MinTime, f.MaxTime = got.Rows, got.Bytes, got.MinTime, got.MaxTime
			oldFacts := f.Facts
			if err := w.repairFacts(ctx, v, &f, res); err != nil {
				return nil, err
			}
			if oldFacts != "" && oldFacts != f.Facts {
				next.Retired = append(next.Retired, RetiredFile{Path: oldFacts, At: time.Now().UTC()})
			}
			next.Files = append(next.Files, f)
		}
		for _, s := range old.StateSegments {
			if err := checkSegment(l.AbsPath(id, s)); err != nil {
				res.Dropped = append(res.Dropped, FileDamage{Path: s, Problem: err.Error()})
				continue
			}
			next.StateSegments = append(next.StateSegments, s)
		}
		for _, rel := range l.dataFilesOnDisk(id) {
			if !named[rel] && !spilled(rel) {
				res.Unaccounted = append(res.Unaccounted, rel)
			}
		}
	} else {
		for _, mk := range crashed {
			next.Version = max(next.Version, mk.BaseVersion)
		}
		for _, rel := range l.dataFilesOnDisk(id) {
			date := partitionDate(rel)
			if _, err := time.Parse(time.DateOnly, date); err != nil || checkRel(rel, "data/", ".parquet") != nil {
				if err := l.quarantine(id, rel, FileDamage{Path: rel, Problem: "not in an eventdate=YYYY-MM-DD partition"}, res); err != nil {
					return nil, err
				}
				continue
			}
			f, problem := v.verify(ctx, l.AbsPath(id, rel))
			if problem != "" {
				if err := l.quarantine(id, rel, FileDamage{Path: rel, Problem: problem}, res); err != nil {
					return nil, err
				}
				continue
			}
			f.Path, f.Date = rel, date
			if err := w.repairFacts(ctx, v, &f, res); err != nil {
				return nil, err
			}
			next.Files = append(next.Files, f)
		}
		// The files kept on S3 only (remote.go) are the store's too: described from checked
		// copies, as the files on disk are.
		remote, err := l.ReadRemote(id)
		if err != nil {
			return nil, err
		}
		for _, rel := range slices.Sorted(maps.Keys(remote.Files)) {
			if !l.Evicted(id, remote, rel) {
				continue
			}
			paths, err := w.local(ctx, []string{rel})
			if err != nil {
				return nil, err
			}
			f, problem := v.verify(ctx, paths[0])
			if problem != "" {
				res.Dropped = append(res.Dropped, FileDamage{Path: rel, Problem: "on S3 only: " + problem})
				continue
			}
			f.Path, f.Date = rel, partitionDate(rel)
			if err := w.repairFacts(ctx, v, &f, res); err != nil {
				return nil, err
			}
			next.Files = append(next.Files, f)
		}
		if err := l.setAsideRedundant(ctx, db, id, st.Type, next, res); err != nil {
			return nil, err
		}
		// The segments of retired files (retired.go) described the lost manifest's retired
		// files, which are adopted above or set aside as redundant now: their lists go.
		os.RemoveAll(filepath.Join(dir, "retired"))
		segs, _ := filepath.Glob(filepath.Join(dir, "state", "*.jsonl"))
		sort.Strings(segs)
		for _, p := range segs {
			rel := "state/" + filepath.Base(p)
			if err := checkSegment(p); err != nil {
				if err := l.quarantine(id, rel, FileDamage{Path: rel, Problem: err.Error()}, res); err != nil {
					return nil, err
				}
				continue
			}
			next.StateSegments = append(next.StateSegments, rel)
			if n, err := strconv.ParseInt(strings.SplitN(filepath.Base(p), "-", 2)[0], 10, 64); err == nil {
				next.Version = max(next.Version, n)
			}
		}
	}
	if lostEvents(res.Dropped) {
		for _, seg := range next.StateSegments {
			next.Retired = append(next.Retired, RetiredFile{Path: seg, At: time.Now().UTC()})
		}
		next.StateSegments, res.StateCleared = nil, true
	}
	next.Version++
	next.CommittedAt = time.Now().UTC()
	sort.Slice(next.Files, func(i, j int) bool {
		if next.Files[i].Date != next.Files[j].Date {
			return next.Files[i].Date < next.Files[j].Date
		}
		return next.Files[i].Path < next.Files[j].Path
	})
	kept, err := l.ReadRemote(id)
	if err != nil {
		return nil, err
	}
	for _, f := range next.Files {
		for _, rel := range []string{f.Path, f.Facts} {
			if rel != "" && !l.Evicted(id, kept, rel) {
				if err := SyncFile(l.AbsPath(id, rel)); err != nil {
					return nil, fmt.Errorf("sync %q: %w", rel, err)
				}
			}
		}
	}
	if err := w.writeManifest(next); err != nil {
		return nil, err
	}
	// The new manifest accounts for every file of the crashed writers: their markers go.
	for tag := range crashed {
		os.Remove(filepath.Join(l.markerDir(id), tag+".json"))
	}
	removeEmptyDirs(filepath.Join(dir, "data"))
	res.Files, res.Rows, res.Segments, res.Manifest = len(next.Files), next.Rows(), len(next.StateSegments), next
	return res, nil
}

// lostEvents says whether a data file was dropped whose events are in no other file.
func lostEvents(dropped []FileDamage) bool {
	for _, d := range dropped {
		if strings.HasPrefix(d.Path, "data/") && !strings.HasPrefix(d.Problem, redundant) {
			return true
		}
	}
	return false
}

const redundant = "redundant"

// quarantine moves a damaged or redundant file of store id (and the facts file of the same
// name, if any) to quarantine/ in the store directory, out of every reader's and writer's way,
// and records it in res.
func (l *Lake) quarantine(id, rel string, why FileDamage, res *RepairResult) error {
	res.Dropped = append(res.Dropped, why)
	rels := []string{rel}
	if tail, ok := strings.CutPrefix(rel, "data/"); ok {
		rels = append(rels, fmt.Sprintf("facts/v%d/%s", lifecycle.Version, tail))
	}
	for i, r := range rels {
		src := l.AbsPath(id, r)
		if _, err := os.Stat(src); i > 0 && err != nil {
			continue
		}
		dst := l.AbsPath(id, "quarantine/"+r)
		if _, err := os.Stat(dst); err == nil {
			dst += "." + time.Now().UTC().Format("20060102T150405.000000000")
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(src, dst); err != nil {
			return fmt.Errorf("quarantine %s: %w", r, err)
		}
		if i == 0 {
			q, _ := filepath.Rel(l.StoreDir(id), dst)
			res.Quarantined = append(res.Quarantined, filepath.ToSlash(q))
		}
	}
	return nil
}

// checkSegment checks that an ingest-state segment is JSON Lines of source states.
func checkSegment(p string) error {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errors.New("missing")
		}
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var s SourceState
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil || s.URI == "" {
			return fmt.Errorf("not an ingest-state segment (%v)", err)
		}
	}
	return sc.Err()
}

// repairFacts gives data file f of a CloudTrail store its EC2 lifecycle facts: the file at the
// facts path of this lifecycle version when it is readable, else computed by the lifecycle
// query (writeFacts).
func (w *Writer) repairFacts(ctx context.Context, v *verifier, f *DataFile, res *RepairResult) error {
	if !w.facts {
		f.Facts, f.FactsVersion = "", 0
		return nil
	}
	rel := fmt.Sprintf("facts/v%d/%s", lifecycle.Version, strings.TrimPrefix(f.Path, "data/"))
	if f.FactsVersion == lifecycle.Version && f.Facts == "" {
		if _, err := os.Stat(w.lake.AbsPath(w.id, rel)); errors.Is(err, fs.ErrNotExist) {
			return nil // computed, and none: the file holds no EC2 lifecycle event
		}
	}
	if _, err := os.Stat(w.lake.AbsPath(w.id, rel)); err == nil && v.readable(ctx, w.lake.AbsPath(w.id, rel)) {
		f.Facts, f.FactsVersion = rel, lifecycle.Version
		return nil
	}
	os.Remove(w.lake.AbsPath(w.id, rel))
	res.FactsComputed++
	return writeFacts(ctx, v.db, w, f)
}

// verifier checks Parquet files against a store type's schema with the engine.
type verifier struct {
	db   *engine.DB
	want []string // "name type" of each column, in order
}

const repairSchemaTable = "auditlake_repair_schema"

func newVerifier(ctx context.Context, db *engine.DB, typ string) (*verifier, error) {
	ddl := ctparquet.CloudTrailDDL()
	switch typ {
	case TypeConfig:
		ddl = ConfigDDL()
	case TypeActivity:
		ddl = ActivityDDL()
	}
	if err := db.Exec(ctx, "CREATE OR REPLACE TEMP TABLE "+repairSchemaTable+" "+ddl); err != nil {
		return nil, err
	}
	v := &verifier{db: db}
	want, err := v.columns(ctx, "SELECT * FROM "+repairSchemaTable)
	v.want = want
	return v, err
}

func (v *verifier) close() {
	v.db.Exec(context.Background(), "DROP TABLE IF EXISTS "+repairSchemaTable)
}

// columns lists the internal query's columns as "name type".
func (v *verifier) columns(ctx context.Context, query string) ([]string, error) {
	cols, err := v.db.Describe(ctx, query)
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name + " " + c.Type
	}
	return out, err
}

// verify reads a data file's footer and schema and describes it (rows, time span, size); the
// problem is "" when the file is a readable Parquet file of the store's schema.
func (v *verifier) verify(ctx context.Context, abs string) (DataFile, string) {
	var f DataFile
	if p := checkParquetFile(abs, -1); p != "" {
		return f, p
	}
	src := "read_parquet(" + engine.Literal(abs) + ", hive_partitioning = false)"
	cols, err := v.columns(ctx, "SELECT * FROM "+src)
	if err != nil {
		return f, "unreadable: " + firstLine(err)
	}
	if !slices.Equal(cols, v.want) {
		return f, "not this store's schema"
	}
	var minT, maxT *time.Time
	if err := v.db.QueryRow(ctx, "SELECT count(*), min(eventtime), max(eventtime) FROM "+src).Scan(&f.Rows, &minT, &maxT); err != nil {
		return f, "unreadable: " + firstLine(err)
	}
	if f.Rows == 0 || minT == nil {
		return f, "holds no events"
	}
	f.MinTime, f.MaxTime = minT.UTC(), maxT.UTC()
	if st, err := os.Stat(abs); err == nil {
		f.Bytes = st.Size()
	}
	return f, ""
}

// readable says whether abs is a Parquet file the engine reads to the end.
func (v *verifier) readable(ctx context.Context, abs string) bool {
	if checkParquetFile(abs, -1) != "" {
		return false
	}
	var n int64
	return v.db.QueryRow(ctx, "SELECT count(*) FROM read_parquet("+engine.Literal(abs)+", hive_partitioning = false)").Scan(&n) == nil
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// storeKey is the dedupe key of a store type's events, as column expressions.
func storeKey(typ string) []string {
	switch typ {
	case TypeConfig:
		return []string{"eventdata.resourceid", "eventtime"}
	case TypeActivity:
		return []string{"eventid"}
	}
	return []string{"eventid", "recipientaccountid"}
}

// setAsideRedundant quarantines, date by date, the files of m whose every event is in another
// kept file of the date (smallest first, so of two equal files one stays), and counts the
// events still stored twice.
func (l *Lake) setAsideRedundant(ctx context.Context, db *engine.DB, id, typ string, m *Manifest, res *RepairResult) error {
	key := storeKey(typ)
	var on []string
	for _, k := range key {
		on = append(on, "b."+k+" IS NOT DISTINCT FROM a."+k)
	}
	// A file on S3 only (remote.go) is read from its copy and is never the one set aside: it
	// was live when it left the disk.
	remote, err := l.ReadRemote(id)
	if err != nil {
		return err
	}
	rels := make([]string, len(m.Files))
	for i, f := range m.Files {
		rels[i] = f.Path
	}
	paths, release, err := l.Local(ctx, id, rels)
	defer release()
	if err != nil {
		return err
	}
	local := map[string]string{}
	for i, rel := range rels {
		local[rel] = paths[i]
	}
	byDate := map[string][]DataFile{}
	for _, f := range m.Files {
		byDate[f.Date] = append(byDate[f.Date], f)
	}
	gone := map[string]bool{}
	for _, files := range byDate {
		if len(files) < 2 {
			continue
		}
		dups, err := duplicates(ctx, db, local, files, key)
		if err != nil {
			return err
		}
		if dups == 0 {
			continue
		}
		sort.Slice(files, func(i, j int) bool { return files[i].Rows < files[j].Rows })
		kept := slices.Clone(files)
		for _, f := range files {
			if l.Evicted(id, remote, f.Path) {
				continue
			}
			var others []string
			for _, o := range kept {
				if o.Path != f.Path {
					others = append(others, local[o.Path])
				}
			}
			if len(others) == 0 {
				break
			}
			var missing int64
			err := db.QueryRow(ctx, "SELECT count(*) FROM read_parquet("+engine.Literal(l.AbsPath(id, f.Path))+", hive_partitioning = false) AS a "+
				"WHERE NOT EXISTS (SELECT 1 FROM read_parquet("+engine.ListLiteral(others)+", hive_partitioning = false) AS b WHERE "+
				strings.Join(on, " AND ")+")").Scan(&missing)
			if err != nil {
				return fmt.Errorf("compare %s with its partition: %w", f.Path, err)
			}
			if missing > 0 {
				continue
			}
			kept = slices.DeleteFunc(kept, func(o DataFile) bool { return o.Path == f.Path })
			gone[f.Path] = true
			if err := l.quarantine(id, f.Path, FileDamage{Path: f.Path, Problem: redundant + ": every event is in another file of its date"}, res); err != nil {
				return err
			}
		}
		if len(kept) > 1 {
			n, err := duplicates(ctx, db, local, kept, key)
			if err != nil {
				return err
			}
			res.Duplicates += n
		}
	}
	m.Files = slices.DeleteFunc(m.Files, func(f DataFile) bool { return gone[f.Path] })
	return nil
}

// duplicates counts the events of files stored in more than one of them (local: their local
// paths, by path).
func duplicates(ctx context.Context, db *engine.DB, local map[string]string, files []DataFile, key []string) (int64, error) {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = local[f.Path]
	}
	var n int64
	err := db.QueryRow(ctx, "SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) AS c FROM read_parquet("+engine.ListLiteral(paths)+
		", hive_partitioning = false) GROUP BY "+strings.Join(key, ", ")+" HAVING count(*) > 1)").Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count duplicate events: %w", err)
	}
	return n, nil
}
