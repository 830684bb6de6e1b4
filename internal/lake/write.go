package lake

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lifecycle"
)

// Batch is CloudTrail records ready to be written: one per dedupe key (eventid,
// recipientaccountid; the first copy kept), grouped by event date, each date's records sorted by
// sortOrder. Preparing one needs no store, so ingest prepares the next batch while the
// committer writes the last.
type Batch struct {
	dates  []string // sorted
	byDate map[string][]*cloudtrail.Record
	staged int
	// keys are each date's records' KeyHash in decoding order, gathered while NewBatch reads
	// them in that order anyway: WriteRecords adds them to the writer's key index after the
	// files are written, when the records are in sorted order and their hashes far apart in
	// memory. A date whose records dropStored thinned is in trimmed: its keys are taken from
	// the records kept.
	keys    map[string][]uint64
	trimmed map[string]bool
	// facts are each date's EC2 lifecycle facts as WriteRecords computed them for the facts
	// file (lifecycle.Of: they point into the records), nil when the writer keeps none.
	facts map[string][]lifecycle.Fact
	// spans are each date's least and greatest event time as stored (Parquet keeps
	// microseconds), found while sorting.
	spans map[string][2]time.Time
	// paths are the data files WriteRecords wrote each date's records into (File).
	paths map[string]string
}

// File returns the data file WriteRecords wrote the batch's records of date d into (relative
// to the store), "" for a date it wrote none of: a file of this batch, or a held file that
// holds records of other batches too and may still be open (Writer.HoldFiles).
func (b *Batch) File(d string) string { return b.paths[d] }

// Dates returns the batch's event dates, sorted.
func (b *Batch) Dates() []string { return b.dates }

// Facts returns the EC2 lifecycle facts of the batch's records of date d (lifecycle.Of of
// Records(d), pointing into them) as WriteRecords computed them, and whether it did (not
// before it ran, nor for a writer that keeps no facts).
func (b *Batch) Facts(d string) ([]lifecycle.Fact, bool) {
	f, ok := b.facts[d]
	return f, ok
}

// NewBatch prepares recs (which it reorders) for WriteRecords.
func NewBatch(recs []*cloudtrail.Record) *Batch {
	b := &Batch{byDate: map[string][]*cloudtrail.Record{}, staged: len(recs)}
	// Grouped by day number first: formatting each record's date cost more than the grouping.
	byDay := map[int64][]*cloudtrail.Record{}
	keys := map[int64][]uint64{}
	recs = dedupeBatch(recs)
	for _, r := range recs {
		sec := r.EventTime.Unix()
		day := sec / 86400
		if sec%86400 < 0 {
			day-- // days before 1970 round down
		}
		byDay[day] = append(byDay[day], r)
		keys[day] = append(keys[day], r.KeyHash())
	}
	b.keys = make(map[string][]uint64, len(byDay))
	for day, rs := range byDay {
		d := eventDate(rs[0])
		b.byDate[d], b.keys[d] = rs, keys[day]
	}
	b.dates = slices.Sorted(maps.Keys(b.byDate))
	b.spans = make(map[string][2]time.Time, len(b.dates))
	for _, d := range b.dates {
		lo, hi := sortRecords(b.byDate[d])
		b.spans[d] = [2]time.Time{lo, hi}
	}
	return b
}

// sortRecords sorts recs in the engine's sortOrder — event source, event name (missing ones
// last), then event time — comparing the strings of each distinct event source and name once,
// rather than at every step of the sort. It returns the least and greatest event time of recs
// as stored (UTC, microseconds), found on the way (a pass of its own over the records, far
// apart in memory, took 2 % of a 10M-event ingest).
func sortRecords(recs []*cloudtrail.Record) (least, greatest time.Time) {
	// Kinds are told apart by KindHash: a collision (about 2⁻⁶⁴ per pair of kinds) could only
	// interleave two kinds' rows, never change or lose one, and comparing each record's strings
	// to its kind's would read them all from memory again.
	ids := map[uint64]int32{}
	var first []*cloudtrail.Record // a record of each kind
	type item struct {
		kind, nsec int32
		sec        int64
		r          *cloudtrail.Record
	}
	items := make([]item, len(recs))
	for i, r := range recs {
		h := r.KindHash()
		id, ok := ids[h]
		if !ok {
			id = int32(len(first))
			ids[h] = id
			first = append(first, r)
		}
		items[i] = item{kind: id, sec: r.EventTime.Unix(), nsec: int32(r.EventTime.Nanosecond()), r: r}
	}
	if len(items) == 0 {
		return time.Time{}, time.Time{}
	}
	lo, hi := items[0], items[0]
	for _, it := range items[1:] {
		if it.sec < lo.sec || (it.sec == lo.sec && it.nsec < lo.nsec) {
			lo = it
		}
		if it.sec > hi.sec || (it.sec == hi.sec && it.nsec > hi.nsec) {
			hi = it
		}
	}
	least = time.Unix(lo.sec, int64(lo.nsec)).UTC().Truncate(time.Microsecond)
	greatest = time.Unix(hi.sec, int64(hi.nsec)).UTC().Truncate(time.Microsecond)
	order := make([]int, len(first))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := compareOptional(first[a].EventSource, first[b].EventSource); c != 0 {
			return c
		}
		return compareOptional(first[a].EventName, first[b].EventName)
	})
	rank := make([]int32, len(first))
	for i, id := range order {
		rank[id] = int32(i)
	}
	for i := range items {
		items[i].kind = rank[items[i].kind]
	}
	slices.SortFunc(items, func(a, b item) int {
		if a.kind != b.kind {
			return int(a.kind - b.kind)
		}
		if a.sec != b.sec {
			return cmp.Compare(a.sec, b.sec)
		}
		return int(a.nsec - b.nsec)
	})
	for i := range items {
		recs[i] = items[i].r
	}
	return least, greatest
}

// keysOf returns the key hashes of the batch's records of date d: those NewBatch gathered, or,
// for a batch made otherwise, the records'.
func (b *Batch) keysOf(d string) []uint64 {
	if keys := b.keys[d]; len(keys) == len(b.byDate[d]) && !b.trimmed[d] {
		return keys
	}
	keys := make([]uint64, len(b.byDate[d]))
	for i, r := range b.byDate[d] {
		keys[i] = r.KeyHash()
	}
	return keys
}

// span returns the least and greatest event time (as stored) of the batch's records of date d:
// as sortRecords found them, or, when dropStored took some away, of those left.
func (b *Batch) span(d string) [2]time.Time {
	recs := b.byDate[d]
	if sp, ok := b.spans[d]; ok && !b.trimmed[d] || len(recs) == 0 {
		return sp
	}
	lo := recs[0].EventTime.UTC().Truncate(time.Microsecond)
	hi := lo
	for _, r := range recs {
		t := r.EventTime.UTC().Truncate(time.Microsecond)
		if t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	return [2]time.Time{lo, hi}
}

// Staged is how many records the batch was made of, duplicates included.
func (b *Batch) Staged() int { return b.staged }

func eventDate(r *cloudtrail.Record) string { return r.EventTime.UTC().Format(time.DateOnly) }

// WriteRecords writes the records of b that the store does not hold yet (its files of the same
// event dates are read for their keys) from Go as Parquet files under the writer's data
// directory, one per event date; it returns the new files (not yet committed) with their EC2
// lifecycle facts, and how many events they hold.
func WriteRecords(ctx context.Context, db *engine.DB, w *Writer, b *Batch) (added []DataFile, written int64, err error) {
	if err := dropStored(ctx, db, w, b); err != nil {
		if w.hold {
			w.AbortHeld()
			w.dropClosed()
		}
		return nil, 0, err
	}
	if w.hold {
		return writeHeld(w, b)
	}
	prefix := w.filePrefix()
	defer func() {
		if err != nil {
			for _, f := range added {
				os.Remove(w.lake.AbsPath(w.id, f.Path))
				if f.Facts != "" {
					os.Remove(w.lake.AbsPath(w.id, f.Facts))
				}
			}
			added = nil
		}
	}()
	// The dates' files are written at once, one per CPU: a batch of a busy trail's large
	// delivery files holds a few dates of some thousand events each, one row group each, and
	// written one after the other they were encoded on one CPU while the decoders, waiting for
	// the batch to be taken, left the other idle. The pooled row-group encoders
	// (ctparquet.WriteRecordFile) bound the memory as before.
	var dates []string
	for _, d := range b.dates {
		if len(b.byDate[d]) > 0 {
			dates = append(dates, d)
		}
	}
	files := make([]DataFile, len(dates))
	errs := make([]error, len(dates))
	facts := make([][]lifecycle.Fact, len(dates))
	onCPUs(len(dates), func(i int) {
		facts[i], errs[i] = writeDateFile(w, prefix, dates[i], b.byDate[dates[i]], b.span(dates[i]), &files[i])
	})
	if w.facts {
		b.facts = make(map[string][]lifecycle.Fact, len(dates))
		for i, d := range dates {
			b.facts[d] = facts[i]
		}
	}
	b.paths = make(map[string]string, len(dates))
	for i, f := range files {
		if f.Path != "" { // written, if only in part: removed above after an error
			added = append(added, f)
			written += f.Rows
			b.paths[dates[i]] = f.Path
		}
		if err == nil {
			err = errs[i]
		}
	}
	if err != nil {
		return added, 0, err
	}
	if w.keys == nil {
		w.keys, w.keyed = newKeyIndex(defaultKeySlots), map[string]bool{}
	}
	for _, f := range added {
		keys := b.keys[f.Date]
		if b.trimmed[f.Date] {
			keys = keys[:0]
			for _, r := range b.byDate[f.Date] {
				keys = append(keys, r.KeyHash())
			}
		}
		w.keyed[f.Path] = true
		for _, p := range w.keys.add(f.Date, f.Path, keys) {
			delete(w.keyed, p)
		}
	}
	w.mu.Lock()
	w.pending = append(w.pending, added...)
	w.mu.Unlock()
	return added, written, nil
}

// writeDateFile writes part, the batch's records of date d, as a new data file with its EC2
// lifecycle facts, describing it in f (whose Path is set once a file exists, for its removal
// after an error); it returns the facts (pointing into part's records).
func writeDateFile(w *Writer, prefix, d string, part []*cloudtrail.Record, span [2]time.Time, f *DataFile) ([]lifecycle.Fact, error) {
	rel := "data/eventdate=" + d + "/" + prefix + NewUUID() + ".parquet"
	abs := w.lake.AbsPath(w.id, rel)
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, err
	}
	size, err := ctparquet.WriteRecordFile(abs, part)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", abs, err)
	}
	*f = DataFile{Path: rel, Date: d, Rows: int64(len(part)), Bytes: size}
	w.lake.written(w.id, rel)
	f.MinTime, f.MaxTime = span[0], span[1] // as stored (sortRecords)
	if w.facts {
		// The EC2 lifecycle facts, from the records in hand (lifecycle.Of, equal to facts.sql
		// over the file just written).
		return writeFactsFromRecords(w, f, part)
	}
	return nil, nil
}

// dedupeKey is the dedupe key of a record: eventid and recipientaccountid, where a missing
// account equals only another missing one.
type dedupeKey struct {
	eventID, account string
	hasAccount       bool
}

func recordKey(eventID string, account *string) dedupeKey {
	if account == nil {
		return dedupeKey{eventID: eventID}
	}
	return dedupeKey{eventID, *account, true}
}

// dedupeBatch keeps the first record of each key, in order. Records are told apart by KeyHash:
// only records whose hash was seen before have their keys compared, and two distinct keys of one
// hash (about 2⁻⁶⁴ per pair) send the batch to the comparison of every key.
func dedupeBatch(recs []*cloudtrail.Record) []*cloudtrail.Record {
	return dedupeByHash(recs, (*cloudtrail.Record).KeyHash)
}

// dedupeByHash is dedupeBatch with the hash of a record's key given (tests give a poor one).
func dedupeByHash(recs []*cloudtrail.Record, hash func(*cloudtrail.Record) uint64) []*cloudtrail.Record {
	firstOf := make(map[uint64]int32, len(recs)) // hash → index of its first record
	var dups []int
	for i, r := range recs {
		h := hash(r)
		j, seen := firstOf[h]
		if !seen {
			firstOf[h] = int32(i)
			continue
		}
		if recordKey(r.EventID, r.RecipientAccountID) != recordKey(recs[j].EventID, recs[j].RecipientAccountID) {
			return dedupeByKey(recs)
		}
		dups = append(dups, i)
	}
	if len(dups) == 0 {
		return recs
	}
	out := recs[:0]
	for i, r := range recs {
		if len(dups) > 0 && dups[0] == i {
			dups = dups[1:]
			continue
		}
		out = append(out, r)
	}
	clear(recs[len(out):])
	return out
}

// dedupeByKey is dedupeBatch comparing the keys themselves.
func dedupeByKey(recs []*cloudtrail.Record) []*cloudtrail.Record {
	seen := make(map[dedupeKey]struct{}, len(recs))
	out := recs[:0]
	for _, r := range recs {
		k := recordKey(r.EventID, r.RecipientAccountID)
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, r)
	}
	clear(recs[len(out):])
	return out
}

// dropStored removes from b the records the store already holds. Duplicates always share an
// eventtime, so a record needs checking against a file this writer did not write only when
// the file is of the record's date and spans its time (a trail's new events are later than
// all stored ones and need none). Against the files this writer wrote it needs checking only
// when its key hash is in the writer's key index (keyfilter.go), and then only against the
// file the index names: a bulk load's later batches fall in the time spans of its earlier
// files, and each record was checked against all of them. Only the key columns of the files
// to check are read.
func dropStored(ctx context.Context, db *engine.DB, w *Writer, b *Batch) error {
	byDate := map[string][]DataFile{}
	w.mu.Lock() // a commit of the previous batch may be running
	for _, fs := range [][]DataFile{w.m.Files, w.pending} {
		for _, f := range fs {
			if _, ok := b.byDate[f.Date]; ok {
				byDate[f.Date] = append(byDate[f.Date], f)
			}
		}
	}
	w.mu.Unlock()
	read := map[string]bool{}
	var candidates []*cloudtrail.Record
	inHeld := map[string][]*cloudtrail.Record{} // by date: records to look for in its held file
	var unkeyed []DataFile
	for _, d := range b.dates {
		files := byDate[d]
		if len(files) == 0 && w.held[d] == nil {
			continue
		}
		// The hashes the key index holds, from the batch's keys (in a slice of their own):
		// the records, far apart in memory, are read only when there is something to check.
		var hits map[uint64]bool
		if w.keys != nil {
			for _, h := range b.keysOf(d) {
				if _, ok := w.keys.lookup(d, h); ok {
					if hits == nil {
						hits = map[uint64]bool{}
					}
					hits[h] = true
				}
			}
		}
		// A record of this date may be in the file held open for it: that file is asked
		// itself (ctparquet.RecordFile.Holds), and stays open.
		h := w.held[d]
		unkeyed = unkeyed[:0]
		for _, f := range files {
			if !w.keyed[f.Path] {
				unkeyed = append(unkeyed, f)
			}
		}
		if len(hits) == 0 && len(unkeyed) == 0 {
			continue
		}
		for _, r := range b.byDate[d] {
			need := false
			var t time.Time
			spans := func(f DataFile) bool {
				if t.IsZero() {
					t = r.EventTime.UTC().Truncate(time.Microsecond) // as stored
				}
				return f.MinTime.IsZero() || (!t.Before(f.MinTime) && !t.After(f.MaxTime))
			}
			if hits[r.KeyHash()] {
				p, _ := w.keys.lookup(d, r.KeyHash())
				switch {
				case h != nil && p == h.rel:
					inHeld[d] = append(inHeld[d], r)
				case p != "" && slices.ContainsFunc(files, func(f DataFile) bool { return f.Path == p }):
					read[p], need = true, true
				default: // records of that hash in several files (or in one since merged): every one spanning it
					need = true
					for _, f := range files {
						if w.keyed[f.Path] && spans(f) {
							read[f.Path] = true
						}
					}
					if h != nil && spans(DataFile{MinTime: h.span[0], MaxTime: h.span[1]}) {
						inHeld[d] = append(inHeld[d], r)
					}
				}
			}
			for _, f := range unkeyed {
				if spans(f) {
					read[f.Path], need = true, true
				}
			}
			if need {
				candidates = append(candidates, r)
			}
		}
	}
	stored := map[dedupeKey]bool{}
	for d, recs := range inHeld {
		held, err := w.held[d].rf.Holds(recs)
		if err != nil {
			return err
		}
		for i, r := range recs {
			if held[i] {
				stored[recordKey(r.EventID, r.RecipientAccountID)] = true
			}
		}
	}
	if len(candidates) > 0 && len(read) > 0 {
		if err := storedKeys(ctx, db, w, candidates, read, stored); err != nil {
			return err
		}
	}
	if len(stored) == 0 {
		return nil
	}
	for _, d := range b.dates {
		recs := b.byDate[d]
		kept := recs[:0]
		for _, r := range recs {
			if !stored[recordKey(r.EventID, r.RecipientAccountID)] {
				kept = append(kept, r)
			}
		}
		if len(kept) < len(recs) {
			if b.trimmed == nil {
				b.trimmed = map[string]bool{}
			}
			b.trimmed[d] = true
		}
		clear(recs[len(kept):])
		b.byDate[d] = kept
	}
	return nil
}

// storedKeys adds to stored the keys of candidates that the files of read hold.
func storedKeys(ctx context.Context, db *engine.DB, w *Writer, candidates []*cloudtrail.Record, read map[string]bool, stored map[dedupeKey]bool) error {
	var existing []string
	for p := range read {
		existing = append(existing, p)
	}
	sort.Strings(existing)
	existing, err := w.local(ctx, existing)
	if err != nil {
		return err
	}
	const keys = "auditlake_batch_keys"
	if err := db.Exec(ctx, "CREATE OR REPLACE TABLE "+keys+" (eventid VARCHAR, recipientaccountid VARCHAR)"); err != nil {
		return err
	}
	defer db.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+keys)
	app, err := db.NewAppender(ctx, keys)
	if err != nil {
		return err
	}
	for _, r := range candidates {
		var account driver.Value
		if r.RecipientAccountID != nil {
			account = *r.RecipientAccountID
		}
		if err := app.AppendRow(r.EventID, account); err != nil {
			app.Close()
			return err
		}
	}
	if err := app.Close(); err != nil {
		return err
	}
	rows, err := db.Query(ctx, `SELECT b.eventid, b.recipientaccountid FROM `+keys+` AS b WHERE EXISTS (
		SELECT 1 FROM read_parquet(`+engine.ListLiteral(existing)+`, hive_partitioning = false) AS s
		WHERE s.eventid = b.eventid AND s.recipientaccountid IS NOT DISTINCT FROM b.recipientaccountid)`)
	if err != nil {
		return fmt.Errorf("deduplicate against store: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var account sql.NullString
		if err := rows.Scan(&id, &account); err != nil {
			return err
		}
		var a *string
		if account.Valid {
			a = &account.String
		}
		stored[recordKey(id, a)] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("deduplicate against store: %w", err)
	}
	return nil
}

// compareOptional orders optional strings as the engine's sortOrder does: missing ones last.
func compareOptional(a, b *string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return strings.Compare(*a, *b)
}

// bloomOptions make the engine's COPY write Parquet Bloom filters for the lookup columns
// (eventid, requestid: ctparquet.BloomColumns), as the Go writer does, so that a merged file
// keeps them. DuckDB writes a filter for every dictionary-encoded column chunk; by default it
// gives up on a dictionary past a twentieth of the row group's rows, which unique ids always
// pass. A dictionary of a whole row group is allowed, up to ctparquet's 1 MiB of dictionary
// page (8,192 ids of 36 bytes take 330 KB; eventjson's values stay PLAIN).
const bloomOptions = `DICTIONARY_SIZE_LIMIT 8193, STRING_DICTIONARY_PAGE_SIZE_LIMIT 1048576, BLOOM_FILTER_FALSE_POSITIVE_RATIO 0.02`

// writeParquet copies the rows of query (which must have an eventdate column) into new Parquet
// files, one or more per date, and describes them.
func writeParquet(ctx context.Context, db *engine.DB, w *Writer, query string) ([]DataFile, error) {
	return writeParquetWith(ctx, db, w, query, "")
}

// writeParquetBlooms is writeParquet with the lookup columns' Bloom filters (bloomOptions);
// when their dictionaries run the engine out of memory, the files are written without them.
func writeParquetBlooms(ctx context.Context, db *engine.DB, w *Writer, query string) ([]DataFile, error) {
	added, err := writeParquetWith(ctx, db, w, query, bloomOptions)
	if engine.IsOutOfMemory(err) {
		return writeParquet(ctx, db, w, query)
	}
	return added, err
}

// writeParquetWith is writeParquet with more COPY options (opts, "" for none).
func writeParquetWith(ctx context.Context, db *engine.DB, w *Writer, query, opts string) ([]DataFile, error) {
	dataDir := w.DataDir()
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	// Each write gets its own file-name prefix, so names never collide with live files.
	prefix := w.filePrefix()
	pattern := prefix + "{uuid}"
	copySQL := `COPY (` + query + `) TO ` + engine.Literal(dataDir) + ` (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1,
		PARTITION_BY (eventdate), FILENAME_PATTERN ` + engine.Literal(pattern) + `, APPEND, ROW_GROUP_SIZE 8192`
	if opts != "" {
		copySQL += ", " + opts
	}
	copySQL += ")"
	if err := db.Exec(ctx, copySQL); err != nil {
		// Remove what the failed statement wrote, so that a retry in this run does not leave
		// files the manifest never names until the next writer's cleanup.
		partial, _ := filepath.Glob(filepath.Join(dataDir, "eventdate=*", prefix+"*"))
		for _, p := range partial {
			os.Remove(p)
		}
		return nil, fmt.Errorf("write parquet: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(dataDir, "eventdate=*", prefix+"*.parquet"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("write parquet: no files written (%v)", err)
	}
	added, err := describe(ctx, db, w, files)
	if err != nil {
		return nil, err
	}
	for _, f := range added {
		w.lake.written(w.id, f.Path) // final: a published store uploads it now (Hooks.Written)
	}
	if !w.facts {
		return added, nil
	}
	if err := writeFactsOf(ctx, db, w, added); err != nil {
		return nil, err
	}
	return added, nil
}

// writeFactsOf writes the EC2 lifecycle facts of new data files: those alone in their date
// partition (one write's usual output) from one pass over all of them, split by event date;
// any others one by one.
func writeFactsOf(ctx context.Context, db *engine.DB, w *Writer, files []DataFile) error {
	perDate := map[string]int{}
	for _, f := range files {
		perDate[f.Date]++
	}
	var alone []int
	for i := range files {
		if perDate[files[i].Date] > 1 {
			if err := writeFacts(ctx, db, w, &files[i]); err != nil {
				return err
			}
			continue
		}
		alone = append(alone, i)
	}
	if len(alone) == 0 {
		return nil
	}
	paths := make([]string, len(alone))
	for k, i := range alone {
		paths[k] = w.lake.AbsPath(w.id, files[i].Path)
	}
	const tmp = "auditlake_new_facts"
	src := "read_parquet(" + engine.ListLiteral(paths) + ", hive_partitioning = false)"
	if err := db.Exec(ctx, "CREATE OR REPLACE TEMP TABLE "+tmp+" AS "+lifecycle.SQL(src)); err != nil {
		return fmt.Errorf("compute EC2 lifecycle facts: %w", err)
	}
	defer db.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+tmp)
	for _, i := range alone {
		f := &files[i]
		rel, abs, err := factsPath(w, f)
		if err != nil {
			return err
		}
		var n int64
		err = db.QueryRow(ctx, "COPY (SELECT * FROM "+tmp+" WHERE strftime(eventtime, '%Y-%m-%d') = ?) TO "+engine.Literal(abs)+
			" (FORMAT parquet, COMPRESSION zstd)", f.Date).Scan(&n)
		if err != nil {
			os.Remove(abs)
			return fmt.Errorf("write EC2 lifecycle facts of %s: %w", f.Path, err)
		}
		if err := f.setFacts(rel, abs, n); err != nil {
			return err
		}
	}
	return nil
}

// factsPath is where the facts of data file f go, relative to the store and absolute, with its
// directory made. The version is part of the path, so recomputed facts never overwrite live ones.
func factsPath(w *Writer, f *DataFile) (rel, abs string, err error) {
	rel = fmt.Sprintf("facts/v%d/%s", lifecycle.Version, strings.TrimPrefix(f.Path, "data/"))
	abs = w.lake.AbsPath(w.id, rel)
	return rel, abs, os.MkdirAll(filepath.Dir(abs), 0o755)
}

// setFacts records facts file rel (abs on disk) of n rows in f; a file of no rows is removed.
func (f *DataFile) setFacts(rel, abs string, n int64) error {
	f.Facts, f.FactsVersion = rel, lifecycle.Version
	if n == 0 {
		f.Facts = ""
		return os.Remove(abs)
	}
	return nil
}

// writeFactsFromRecords writes the EC2 lifecycle facts of recs, the records of data file f, into
// a file of the same relative path under facts/, and records it in f. A file without facts
// gets none.
func writeFactsFromRecords(w *Writer, f *DataFile, recs []*cloudtrail.Record) ([]lifecycle.Fact, error) {
	facts := lifecycle.Of(recs)
	f.Facts, f.FactsVersion = "", lifecycle.Version
	if len(facts) == 0 {
		return facts, nil
	}
	rel, abs, err := factsPath(w, f)
	if err != nil {
		return nil, err
	}
	if err := ctparquet.WriteFactsFile(abs, facts); err != nil {
		return nil, fmt.Errorf("write EC2 lifecycle facts of %s: %w", f.Path, err)
	}
	f.Facts = rel
	return facts, nil
}

// writeFacts computes the EC2 lifecycle facts of data file f (package lifecycle) into a file of
// the same relative path under facts/, and records it in f. A file without facts gets none.
func writeFacts(ctx context.Context, db *engine.DB, w *Writer, f *DataFile) error {
	rel, abs, err := factsPath(w, f)
	if err != nil {
		return err
	}
	local, err := w.local(ctx, []string{f.Path})
	if err != nil {
		return err
	}
	src := "read_parquet(" + engine.Literal(local[0]) + ", hive_partitioning = false)"
	var n int64
	if err := db.QueryRow(ctx, "COPY ("+lifecycle.SQL(src)+") TO "+engine.Literal(abs)+" (FORMAT parquet, COMPRESSION zstd)").Scan(&n); err != nil {
		os.Remove(abs)
		return fmt.Errorf("write EC2 lifecycle facts of %s: %w", f.Path, err)
	}
	return f.setFacts(rel, abs, n)
}

// describe reads row counts and time bounds of new files.
func describe(ctx context.Context, db *engine.DB, w *Writer, files []string) ([]DataFile, error) {
	rows, err := db.Query(ctx, `SELECT filename, count(*), min(eventtime), max(eventtime)
		FROM read_parquet(`+engine.ListLiteral(files)+`, filename = true, hive_partitioning = false) GROUP BY filename`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	root := w.lake.StoreDir(w.id)
	var out []DataFile
	for rows.Next() {
		var f DataFile
		var name string
		if err := rows.Scan(&name, &f.Rows, &f.MinTime, &f.MaxTime); err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(root, name)
		if err != nil {
			return nil, err
		}
		f.Path = filepath.ToSlash(rel)
		f.Date = partitionDate(f.Path)
		st, err := os.Stat(name)
		if err != nil {
			return nil, err
		}
		f.Bytes = st.Size()
		f.MinTime, f.MaxTime = f.MinTime.UTC(), f.MaxTime.UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}

// mergeGroups splits a partition's files, in path order, into groups of at most MergeBytes;
// groups of one file are dropped (nothing to merge).
func mergeGroups(files []DataFile) [][]DataFile {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	var groups [][]DataFile
	var cur []DataFile
	var size int64
	for _, f := range files {
		if len(cur) > 0 && size+f.Bytes > MergeBytes {
			groups = append(groups, cur)
			cur, size = nil, 0
		}
		cur = append(cur, f)
		size += f.Bytes
	}
	groups = append(groups, cur)
	var out [][]DataFile
	for _, g := range groups {
		if len(g) > 1 {
			out = append(out, g)
		}
	}
	return out
}

func partitionDate(rel string) string {
	for _, part := range strings.Split(rel, "/") {
		if d, ok := strings.CutPrefix(part, "eventdate="); ok {
			return d
		}
	}
	return ""
}

// Compaction policy. A date partition's small files (under SmallFileBytes) are merged when there
// are more than CompactThreshold of them, in groups of at most MergeBytes (compressed), each
// group into one file sorted by event source, name and time. Groups bound the memory a merge
// needs whatever the partition's size; files that are merges already are rarely small, so write
// amplification stays logarithmic under a stream of small ingests.
const (
	CompactThreshold = 4
	SmallFileBytes   = 16 << 20
	MergeBytes       = 32 << 20
)

// tierBase and tierRatio size the tiers of tiered: files under 4 × tierBase are tier 0,
// then each tier holds files tierRatio times the size of the one before (256 KB–1 MB, 1–4 MB,
// 4–16 MB).
const (
	tierBase  = 64 << 10
	tierRatio = 4
)

// tiered picks, of the small files of an open partition that runs before this one wrote, those
// to merge: every file of the tiers up to the first tier holding more than CompactThreshold
// files (none when no tier does). Merging them all whenever there were more than
// CompactThreshold rewrote the partition's merged file again and again while it grew: a day
// collected a commit every few seconds, tens of KB each, was written ~70 times over (36 times
// at 60 KB a commit, 8.6 at 300 KB; every rewrite also a retired file kept for the keep window
// and, when published, an upload), where by tiers each byte is rewritten about once a tier,
// 4–5 times (a simulation of the two policies; TestSmallRunsAreMergedByTiers). An open
// partition then keeps up to CompactThreshold files a tier (~20), where it kept 4; it is
// merged whole when it closes.
func tiered(files []DataFile) []DataFile {
	tiers := make([]int, len(files))
	count := map[int]int{}
	for i, f := range files {
		for b := f.Bytes / (tierBase * tierRatio); b > 0; b /= tierRatio {
			tiers[i]++
		}
		count[tiers[i]]++
	}
	for k := 0; k <= slices.Max(tiers); k++ {
		if count[k] > CompactThreshold {
			var out []DataFile
			for i, f := range files {
				if tiers[i] <= k {
					out = append(out, f)
				}
			}
			return out
		}
	}
	return nil
}

// writtenAll says whether w wrote every one of files (a load in one run, laid out as it
// should be: merged all together, as before tiers).
func writtenAll(w *Writer, files []DataFile) bool {
	for _, f := range files {
		if !w.written[f.Path] {
			return false
		}
	}
	return true
}

// mergeGroup merges group, files of one date partition, into one sorted file and returns it and
// the paths it replaces. When the engine runs out of memory (a sort of a group's rows needs
// several times its compressed size), each half of the group is merged instead; a group too
// small to halve is left as it is. So a merge fits whatever memory the engine was given.
func mergeGroup(ctx context.Context, db *engine.DB, w *Writer, date string, group []DataFile) (added []DataFile, removed []string, err error) {
	paths, err := w.localFiles(ctx, group)
	if err != nil {
		return nil, nil, err
	}
	order := sortOrder
	if !w.facts {
		order = "eventtime" // Config and activity stores have no eventsource/eventname columns
	}
	query := `SELECT *, ` + engine.Literal(date) + ` AS eventdate FROM read_parquet(` +
		engine.ListLiteral(paths) + `, hive_partitioning = false) ORDER BY ` + order
	write := writeParquetBlooms
	if len(group) >= 4 {
		// Halved first on running out of memory, before the Bloom filters' dictionaries are
		// given up (by writeParquetBlooms, for a group too small to halve).
		write = func(ctx context.Context, db *engine.DB, w *Writer, q string) ([]DataFile, error) {
			return writeParquetWith(ctx, db, w, q, bloomOptions)
		}
	}
	added, err = write(ctx, db, w, query)
	switch {
	case err == nil:
		for _, f := range group {
			removed = append(removed, f.Path)
		}
		return added, removed, nil
	case !engine.IsOutOfMemory(err):
		return nil, nil, err
	case len(group) < 4:
		return nil, nil, nil
	}
	half := len(group) / 2
	a1, r1, err := mergeGroup(ctx, db, w, date, group[:half])
	if err != nil {
		return nil, nil, err
	}
	a2, r2, err := mergeGroup(ctx, db, w, date, group[half:])
	if err != nil {
		return nil, nil, err
	}
	return append(a1, a2...), append(r1, r2...), nil
}

// sortOrder clusters rows so that Parquet row-group statistics let a filter on event source or
// name — the first filter of almost every CloudTrail query — skip most of a file.
const sortOrder = "eventsource, eventname, eventtime"

// ClosedAfterDays is how many days behind a store's newest event date a date partition is
// closed: a trail has delivered its events (CloudTrail delivers within minutes, late files
// within hours), so compaction merges such a partition fully, as a one-shot load would have
// written it, rather than leaving it at up to CompactThreshold small files.
const ClosedAfterDays = 2

// ClosedThreshold is how many small files a closed partition (or any, with force) keeps before
// they are merged: a closed day is one file, as a one-shot load leaves it (within
// ClosedMergeBudget per call).
const ClosedThreshold = 1

// ClosedMergeBudget bounds the bytes one (non-forced) compaction rewrites only because
// partitions closed, so that the first small ingest after a bulk load does not rewrite the whole
// store: the rest is merged by the runs that follow.
const ClosedMergeBudget = 64 << 20

// closedBefore returns the first date partition that is still open: the newest date among
// files, less ClosedAfterDays ("" when there are no files).
func closedBefore(files []DataFile) string {
	newest := ""
	for _, f := range files {
		if f.Date > newest {
			newest = f.Date
		}
	}
	t, err := time.Parse("2006-01-02", newest)
	if err != nil {
		return ""
	}
	return t.AddDate(0, 0, -ClosedAfterDays).Format("2006-01-02")
}

// Compact merges, in every date partition with more than CompactThreshold small files (in a
// closed partition, or with force: more than one file under MergeBytes), groups of those files
// into sorted files — by concatenating their row groups when they are a bulk load's (bulk;
// never with force, which always sorts), else by the engine — and commits the swap atomically.
func Compact(ctx context.Context, db *engine.DB, w *Writer, force bool) (merged int, err error) {
	// What the writing before it left in the heap is garbage when compaction starts: the
	// pooled encoders and the Go heap are handed back before the first merge, so the engine's
	// memory and the heap never add up — and not at all when there is nothing to merge.
	freeMemory := sync.OnceFunc(func() {
		ctparquet.ReleaseEncoders()
		debug.FreeOSMemory()
	})
	// A closed partition is merged fully unless this writer wrote all of it (one run's files
	// of a day are laid out as a one-shot load's are; fragmentation comes from many runs).
	closed := closedBefore(w.m.Files)
	full := map[string]bool{}
	for _, f := range w.m.Files {
		if force || (f.Date < closed && !w.written[f.Path]) {
			full[f.Date] = true
		}
	}
	byDate := map[string][]DataFile{}
	for _, f := range w.m.Files {
		if f.Bytes < SmallFileBytes || (full[f.Date] && f.Bytes < MergeBytes) {
			byDate[f.Date] = append(byDate[f.Date], f)
		}
	}
	var added []DataFile
	var removed []string
	dates := make([]string, 0, len(byDate))
	for d := range byDate {
		dates = append(dates, d)
	}
	sort.Strings(dates)
	budget := int64(ClosedMergeBudget)
	type task struct {
		date  string
		group []DataFile
	}
	var tasks []task
	for _, date := range dates {
		files := byDate[date]
		limit := CompactThreshold
		if full[date] {
			limit = ClosedThreshold
		}
		if len(files) <= limit {
			continue
		}
		if !force && !full[date] && !writtenAll(w, files) {
			// Files of earlier runs (collect, a cron of small ingests): by tiers, not all.
			if files = tiered(files); len(files) < 2 {
				continue
			}
		}
		if !force && len(files) <= CompactThreshold {
			// Merged only because the partition is closed: within this call's budget.
			var size int64
			for _, f := range files {
				size += f.Bytes
			}
			if size > budget {
				continue
			}
			budget -= size
		}
		for _, group := range mergeGroups(files) {
			tasks = append(tasks, task{date, group})
		}
	}
	if len(tasks) > 0 {
		freeMemory()
	}
	// A bulk load's groups are concatenated first, on every CPU at once (a 10M-event load
	// leaves ~500 small files, and their copies took one CPU for seconds at the end of the
	// run while the other sat idle); the rest, and any group that cannot be concatenated,
	// is merged by the engine after them. The new files are committed in the groups' order.
	concats := make([]*concat, len(tasks))
	defer func() {
		if err != nil { // concatenated, not committed
			for _, c := range concats {
				if c != nil && c.err == nil {
					os.Remove(c.abs)
				}
			}
		}
	}()
	for i, t := range tasks {
		if !force && bulk(t.group) {
			if concats[i], err = prepareConcat(ctx, w, t.date, t.group); err != nil {
				return 0, fmt.Errorf("compact %s: %w", t.date, err)
			}
		}
	}
	runConcats(concats)
	for i, t := range tasks {
		nf, gone, err := []DataFile(nil), []string(nil), ctparquet.ErrNotConcatenable
		if c := concats[i]; c != nil {
			nf, gone, err = c.finish(ctx, db, w)
			concats[i] = nil // committed below, or removed by finish
		}
		if errors.Is(err, ctparquet.ErrNotConcatenable) {
			nf, gone, err = mergeGroup(ctx, db, w, t.date, t.group)
		}
		if err != nil {
			return 0, fmt.Errorf("compact %s: %w", t.date, err)
		}
		added = append(added, nf...)
		removed = append(removed, gone...)
		merged += len(gone)
	}
	// Files written before their facts existed (or under an older definition) get them now.
	gone := map[string]bool{}
	for _, r := range removed {
		gone[r] = true
	}
	// One file at a time: a pass over a whole old store would hold all its EC2 events at once.
	reindexed := 0
	for _, f := range w.m.Files {
		if !w.facts || gone[f.Path] || f.FactsVersion == lifecycle.Version {
			continue
		}
		freeMemory()
		if err := writeFacts(ctx, db, w, &f); err != nil {
			return 0, err
		}
		added = append(added, f)
		reindexed++
	}
	if merged > 0 || reindexed > 0 {
		if err := w.Commit(added, removed, nil); err != nil {
			return 0, err
		}
	}
	// Then the files of closed days, merged ones included, go cold (cold.go).
	freeMemory()
	cold, warm, err := makeCold(ctx, db, w, closedBefore(w.m.Files), force)
	if err != nil {
		return merged, fmt.Errorf("compact: %w", err)
	}
	if len(cold) > 0 {
		return merged, w.Commit(cold, warm, nil)
	}
	return merged, nil
}

// Records returns the batch's records of date d (after WriteRecords: those its file of that
// date holds).
func (b *Batch) Records(d string) []*cloudtrail.Record { return b.byDate[d] }
