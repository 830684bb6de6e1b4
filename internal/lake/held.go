package lake

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/lifecycle"
)

// Held files (a long load's fewer, larger files). A writer that holds files (HoldFiles) keeps
// each event date's data file open across batches: WriteRecords appends a batch's records of
// the date as row groups of their own (ctparquet.RecordFile) instead of writing a file per
// batch and date. A file is closed — its footer and facts file written, and it is then
// pending like any file WriteRecords wrote — when it reaches HeldFileBytes, when a batch has
// no records of its date (the trail has moved on), when the key index forgets its keys, and
// when the caller asks (CloseHeld: before a commit). The records of a held file
// are in no file a commit may name until it is closed, so the caller commits only when no
// file is held (Held), with the sources of every batch written since the last commit. A
// record whose key hash the index has for a held file is looked for in it as it stands
// (ctparquet.RecordFile.Holds): a duplicate closed it once, and a 10M-event load's 938
// duplicates left 44 files of a few batches each for compaction to merge at its end.
//
// A 10M-event load of files of 5,000 events (one day each) wrote a file per 20,000-event
// batch — 16 per day, 527 in all — and concatenated them at its end (seconds of copying,
// gigabytes written twice); held, a day's events go into files of HeldFileBytes, which
// compaction leaves as they are.

// HeldFileBytes is the size at which a held file is closed: a merge's size (MergeBytes), so
// that compaction has nothing to do with it.
const HeldFileBytes = MergeBytes

// heldFile is a data file of one date kept open across batches.
type heldFile struct {
	rel  string
	rf   *ctparquet.RecordFile
	span [2]time.Time
	// facts are the EC2 lifecycle facts of the records appended, cloned: the records are
	// gone by the time the file closes.
	facts []lifecycle.Fact
}

// HoldFiles makes WriteRecords keep each date's file open across batches (see Held).
func (w *Writer) HoldFiles(on bool) { w.hold = on }

// Held reports whether a file holds records that no closed file has: a commit now would name
// the sources of records in no file yet.
func (w *Writer) Held() bool { return len(w.held) > 0 }

// CloseHeld closes every held file and returns the files closed since WriteRecords last
// returned, pending (the next commit's to name).
func (w *Writer) CloseHeld() ([]DataFile, error) {
	for d := range w.held {
		if err := w.closeHeld(d); err != nil {
			return nil, err
		}
	}
	out := w.closed
	w.closed = nil
	return out, nil
}

// AbortHeld removes the held files, unclosed (after a failed write or commit, or a writer
// closed with files held).
func (w *Writer) AbortHeld() {
	for d, h := range w.held {
		h.rf.Abort()
		delete(w.held, d)
	}
}

// dropClosed removes the files closed since WriteRecords last returned, and their facts, and
// takes them out of pending.
func (w *Writer) dropClosed() {
	for _, f := range w.closed {
		os.Remove(w.lake.AbsPath(w.id, f.Path))
		if f.Facts != "" {
			os.Remove(w.lake.AbsPath(w.id, f.Facts))
		}
	}
	w.mu.Lock()
	w.pending = slices.DeleteFunc(w.pending, func(p DataFile) bool {
		return slices.ContainsFunc(w.closed, func(f DataFile) bool { return f.Path == p.Path })
	})
	w.mu.Unlock()
	w.closed = nil
}

// writeHeld writes b's records into the held files of their dates, opening those missing,
// and closes the held files of dates b has none of. It returns the files closed (pending)
// and how many records it wrote.
func writeHeld(w *Writer, b *Batch) (added []DataFile, written int64, err error) {
	defer func() {
		if err != nil { // nothing of the batch left, as WriteRecords leaves none
			w.AbortHeld()
			w.dropClosed()
		}
	}()
	if w.held == nil {
		w.held = map[string]*heldFile{}
	}
	for d := range w.held {
		if len(b.byDate[d]) == 0 {
			if err := w.closeHeld(d); err != nil {
				return nil, 0, err
			}
		}
	}
	var dates []string
	prefix := ""
	for _, d := range b.dates {
		if len(b.byDate[d]) == 0 {
			continue
		}
		dates = append(dates, d)
		if w.held[d] != nil {
			continue
		}
		if prefix == "" {
			prefix = w.filePrefix()
		}
		rel := "data/eventdate=" + d + "/" + prefix + NewUUID() + ".parquet"
		abs := w.lake.AbsPath(w.id, rel)
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return nil, 0, err
		}
		rf, err := ctparquet.CreateRecordFile(abs)
		if err != nil {
			return nil, 0, fmt.Errorf("write %s: %w", abs, err)
		}
		w.held[d] = &heldFile{rel: rel, rf: rf}
	}
	errs := make([]error, len(dates))
	facts := make([][]lifecycle.Fact, len(dates))
	onCPUs(len(dates), func(i int) {
		facts[i], errs[i] = w.held[dates[i]].append(w.facts, b.byDate[dates[i]], b.span(dates[i]))
	})
	for i, e := range errs {
		if e != nil {
			return nil, 0, fmt.Errorf("write %s: %w", w.held[dates[i]].rf.Path(), e)
		}
	}
	b.paths = make(map[string]string, len(dates))
	if w.facts {
		b.facts = make(map[string][]lifecycle.Fact, len(dates))
	}
	for i, d := range dates {
		b.paths[d] = w.held[d].rel
		if w.facts {
			b.facts[d] = facts[i]
		}
	}
	if w.keys == nil {
		w.keys, w.keyed = newKeyIndex(defaultKeySlots), map[string]bool{}
	}
	forgot := map[string]bool{}
	for _, d := range dates {
		recs := b.byDate[d]
		written += int64(len(recs))
		keys := b.keysOf(d)
		path := w.held[d].rel
		w.keyed[path] = true
		for _, p := range w.keys.add(d, path, keys) {
			delete(w.keyed, p)
			forgot[p] = true
		}
	}
	for _, d := range dates {
		// A held file whose keys the index forgot closes: its records are then checked by
		// their time span, as any unkeyed file's (the engine reads it, closed).
		if h := w.held[d]; h != nil && (forgot[h.rel] || h.rf.Size() >= HeldFileBytes) {
			if err := w.closeHeld(d); err != nil {
				return nil, 0, err
			}
		}
	}
	added, w.closed = w.closed, nil
	return added, written, nil
}

// append writes recs, sorted, of span (as stored), as the file's next row groups; with facts,
// it keeps their EC2 lifecycle facts for the file's facts file and returns them as
// lifecycle.Of gives them (pointing into recs).
func (h *heldFile) append(facts bool, recs []*cloudtrail.Record, span [2]time.Time) ([]lifecycle.Fact, error) {
	if err := h.rf.Append(recs); err != nil {
		return nil, err
	}
	if h.rf.Rows() == int64(len(recs)) {
		h.span = span
	} else {
		if span[0].Before(h.span[0]) {
			h.span[0] = span[0]
		}
		if span[1].After(h.span[1]) {
			h.span[1] = span[1]
		}
	}
	if !facts {
		return nil, nil
	}
	of := lifecycle.Of(recs)
	for _, f := range of {
		h.facts = append(h.facts, cloneFact(f))
	}
	return of, nil
}

// closeHeld closes the held file of date d: its footer, then its facts file; it is then
// pending, and in w.closed.
func (w *Writer) closeHeld(d string) error {
	h := w.held[d]
	if h == nil {
		return nil
	}
	delete(w.held, d)
	size, err := h.rf.Close()
	if err != nil {
		return fmt.Errorf("write %s: %w", h.rf.Path(), err)
	}
	f := DataFile{Path: h.rel, Date: d, Rows: h.rf.Rows(), Bytes: size, MinTime: h.span[0], MaxTime: h.span[1]}
	w.lake.written(w.id, f.Path)
	if w.facts {
		f.FactsVersion = lifecycle.Version
		if len(h.facts) > 0 {
			rel, abs, err := factsPath(w, &f)
			if err == nil {
				err = ctparquet.WriteFactsFile(abs, h.facts)
			}
			if err != nil {
				os.Remove(h.rf.Path())
				return fmt.Errorf("write EC2 lifecycle facts of %s: %w", f.Path, err)
			}
			f.Facts = rel
		}
	}
	w.closed = append(w.closed, f)
	w.mu.Lock()
	w.pending = append(w.pending, f)
	w.mu.Unlock()
	return nil
}

// cloneFact copies f's strings out of the records they point into.
func cloneFact(f lifecycle.Fact) lifecycle.Fact {
	str := func(p *string) *string {
		if p == nil {
			return nil
		}
		s := strings.Clone(*p)
		return &s
	}
	if f.Src != nil {
		v := *f.Src
		f.Src = &v
	}
	f.Kind, f.EventID = strings.Clone(f.Kind), strings.Clone(f.EventID)
	for _, p := range []**string{&f.InstanceID, &f.EventName, &f.AWSRegion, &f.AccountID, &f.PrincipalARN, &f.IssuerARN,
		&f.SourceIdentity, &f.InvokedBy, &f.UserAgent, &f.Console, &f.ClientToken, &f.LTID, &f.LTName, &f.LTVersion,
		&f.Tags, &f.Lifecycle, &f.Reason, &f.DefaultVersion} {
		*p = str(*p)
	}
	return f
}
