package query

import (
	"sort"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
)

// StoreRange returns a relation, for internal SQL, of the events of store id whose eventtime
// is in [from, to) (a zero bound is open). It prunes by partition: only the files whose time
// span (from the manifest) overlaps the range are read, so a hunt over a month of a ten-year
// store opens that month's files. A store this session cannot prune (damaged, restricted to a
// principal's view, or not registered) is read through its table with the same filter.
func (s *Session) StoreRange(id string, from, to time.Time) string {
	var conds []string
	if !from.IsZero() {
		conds = append(conds, "eventtime >= "+engine.TimestampLiteral(from))
	}
	if !to.IsZero() {
		conds = append(conds, "eventtime < "+engine.TimestampLiteral(to))
	}
	where := ""
	for i, c := range conds {
		if i == 0 {
			where = " WHERE " + c
		} else {
			where += " AND " + c
		}
	}
	m := s.manifests[id]
	if m == nil || s.damaged[id] != nil || s.restricted[id] {
		return "(SELECT * FROM " + StoreTable(id) + where + ")"
	}
	var files []lake.DataFile
	for _, f := range m.Files {
		if overlaps(f, from, to) {
			files = append(files, f)
		}
	}
	paths := s.remotePaths(id, files)
	if len(paths) == 0 { // nothing in range: the store's columns and no rows
		return "(SELECT * FROM " + StoreTable(id) + " WHERE false)"
	}
	return "(SELECT * FROM " + s.filesSQL(id, paths) + where + ")"
}

// FilesRelation returns a relation, for internal SQL, of the events in files (data files of
// store id, as a manifest lists them): a commit's batch, read alone.
func (s *Session) FilesRelation(id string, files []lake.DataFile) string {
	if len(files) == 0 {
		return "(SELECT * FROM " + StoreTable(id) + " WHERE false)"
	}
	return "(SELECT * FROM " + s.filesSQL(id, s.remotePaths(id, files)) + ")"
}

// StoreFiles is how many of store id's files StoreRange(id, from, to) reads, and how many it has;
// 0, 0 for a store the session shows only in part (its view is read, and the files' time spans
// would tell where rows it may not see are).
func (s *Session) StoreFiles(id string, from, to time.Time) (read, total int) {
	m := s.manifests[id]
	if m == nil || s.restricted[id] {
		return 0, 0
	}
	for _, f := range m.Files {
		if overlaps(f, from, to) {
			read++
		}
	}
	return read, len(m.Files)
}

// overlaps reports whether file f may hold events in [from, to).
func overlaps(f lake.DataFile, from, to time.Time) bool {
	return (from.IsZero() || !f.MaxTime.Before(from)) && (to.IsZero() || f.MinTime.Before(to))
}

// TimeSlice is a part [From, To) of a time range (zero bounds open).
type TimeSlice struct{ From, To time.Time }

// TimeSlices cuts [from, to) into consecutive time slices of about rows events each, by the time
// spans of store id's files (from the manifest): a cut is put only where no file spans it, so
// each file is read by one slice (StoreRange of a slice prunes to its files), unless files
// overlap for more than four times rows events, where it cuts anyway (an overlapping file is
// then read by both slices, each keeping its own events). The slices cover [from, to) exactly
// and in order, so whatever is read slice by slice and ordered within each slice is ordered
// overall. One slice when the store has fewer events or the session has no manifest of it.
func (s *Session) TimeSlices(id string, from, to time.Time, rows int64) []TimeSlice {
	m := s.manifests[id]
	var files []lake.DataFile
	if m != nil && rows > 0 {
		for _, f := range m.Files {
			if overlaps(f, from, to) {
				files = append(files, f)
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].MinTime.Before(files[j].MinTime) })
	out := []TimeSlice{{From: from}}
	var acc int64
	var end time.Time
	for i, f := range files {
		acc += f.Rows
		if f.MaxTime.After(end) {
			end = f.MaxTime
		}
		if i+1 == len(files) || acc < rows {
			continue
		}
		cut := files[i+1].MinTime
		last := &out[len(out)-1]
		if (!end.Before(cut) && acc < 4*rows) || !cut.After(last.From) && !last.From.IsZero() || (!to.IsZero() && !cut.Before(to)) || (!from.IsZero() && !cut.After(from)) {
			continue
		}
		last.To = cut
		out = append(out, TimeSlice{From: cut})
		acc = 0
	}
	out[len(out)-1].To = to
	return out
}
