package lake

import (
	"bufio"
	"encoding/json"
	"os"
)

// Ingest-state segments are written one per commit that completes sources. A long-running
// collector commits every few seconds, and every ingest reads all segments (LoadSources): left
// alone, a month of 10 s polls would be 250,000 files to open per poll. So when a commit would
// leave more than maxSegments, the newest run of small segments (each under smallSegment
// bytes) is merged with the commit's sources into the one segment the commit writes, and the
// merged ones are retired (deleted once no reader holds the store). The order of segments is
// kept — a later state of a source wins — because only a run at the end is merged, into a
// segment at the end. Large segments (a bulk load's) are left alone, so a merge rewrites at most
// maxSegments small files, never the whole state.
const (
	maxSegments  = 64
	smallSegment = 4 << 20
)

// mergeSegments returns the sources of the commit, preceded by those of the newest run of small
// segments when the manifest holds too many, and the segments that run replaces.
func (w *Writer) mergeSegments(sources []SourceState) ([]SourceState, []string, error) {
	segs := w.m.StateSegments
	if len(segs) < maxSegments {
		return sources, nil, nil
	}
	first := len(segs)
	for first > 0 {
		st, err := os.Stat(w.lake.AbsPath(w.id, segs[first-1]))
		if err != nil || st.Size() >= smallSegment {
			break
		}
		first--
	}
	if len(segs)-first < 2 {
		return sources, nil, nil
	}
	var merged []SourceState
	index := map[string]int{}
	add := func(s SourceState) {
		if i, ok := index[s.URI]; ok {
			merged[i] = s
			return
		}
		index[s.URI] = len(merged)
		merged = append(merged, s)
	}
	for _, seg := range segs[first:] {
		f, err := os.Open(w.lake.AbsPath(w.id, seg))
		if err != nil {
			return nil, nil, w.stateDamaged(seg, err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for sc.Scan() {
			var s SourceState
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				f.Close()
				return nil, nil, w.stateDamaged(seg, err)
			}
			add(s)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, nil, w.stateDamaged(seg, err)
		}
	}
	for _, s := range sources {
		add(s)
	}
	return merged, segs[first:], nil
}
