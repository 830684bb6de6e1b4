package lake

import (
	"context"
	"maps"
	"slices"

	"github.com/auditlake/auditlake/internal/engine"
)

// MergeSmall merges, in every date partition holding more than threshold small files (under
// SmallFileBytes), groups of them into sorted files, as Compact does, and commits the swap. It
// is for a store that a long-running process commits to again and again, a few records at a
// time — the alerts store takes a commit an evaluation, a file a day each, so `collect` or
// `serve` left thousands of files a day, each opened by every query of the alerts — without
// Compact's work on closed days (a full merge, cold files), which a watch whose alerts span
// many days would otherwise pay at each evaluation. When w keyed every file of a group (Keys),
// the merged file is keyed in their place, so the next writer given w's keys still checks a
// new record against that file only when its key is there. It returns the files added and the
// paths removed (none when no partition passes threshold).
func MergeSmall(ctx context.Context, db *engine.DB, w *Writer, threshold int) (added []DataFile, removed []string, err error) {
	byDate := map[string][]DataFile{}
	for _, f := range w.m.Files {
		if f.Bytes < SmallFileBytes {
			byDate[f.Date] = append(byDate[f.Date], f)
		}
	}
	type merge struct {
		date  string
		from  []string
		added []DataFile
	}
	var merges []merge
	for _, date := range slices.Sorted(maps.Keys(byDate)) {
		if len(byDate[date]) <= threshold {
			continue
		}
		for _, group := range mergeGroups(byDate[date]) {
			nf, gone, err := mergeGroup(ctx, db, w, date, group)
			if err != nil {
				return nil, nil, err
			}
			merges = append(merges, merge{date, gone, nf})
			added, removed = append(added, nf...), append(removed, gone...)
		}
	}
	if len(removed) == 0 {
		return nil, nil, nil
	}
	if err := w.Commit(added, removed, nil); err != nil {
		return nil, nil, err
	}
	for _, m := range merges {
		w.rekey(m.date, m.from, m.added)
	}
	return added, removed, nil
}

// rekey makes the keys w's index holds for files from, of date, which were merged into the
// one file to, that file's — when w keyed every one of them. Otherwise to stays unkeyed, as a
// file another writer wrote (its records' times are checked against its span).
func (w *Writer) rekey(date string, from []string, to []DataFile) {
	if w.keys == nil || len(to) != 1 {
		return
	}
	for _, p := range from {
		if !w.keyed[p] {
			return
		}
	}
	if !w.keys.rename(date, from, to[0].Path) {
		return
	}
	for _, p := range from {
		delete(w.keyed, p)
	}
	w.keyed[to[0].Path] = true
}

// rename makes the keys of files from, of date, file to's; false (nothing changed) when the
// date's table does not hold them all (forgotten to make room).
func (x *keyIndex) rename(date string, from []string, to string) bool {
	d := x.dates[date]
	if d == nil {
		return false
	}
	for _, p := range from {
		if !slices.Contains(d.paths, p) {
			return false
		}
	}
	// A key whose records were in two of the files keeps multiFile: it is checked against
	// every keyed file spanning it, this one among them.
	for i, p := range x.files {
		if slices.Contains(from, p) {
			x.files[i] = to
		}
	}
	d.paths = append(slices.DeleteFunc(d.paths, func(p string) bool { return slices.Contains(from, p) }), to)
	return true
}
