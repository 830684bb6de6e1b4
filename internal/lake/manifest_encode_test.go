package lake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"
)

// randomManifest is a manifest with n files and about as many retired ones, drawn from r:
// optional fields set or not, paths with characters JSON escapes, slices nil or empty.
func randomManifest(r *rand.Rand, version int64, n int) *Manifest {
	m := &Manifest{Version: version, CommittedAt: time.Unix(1_700_000_000+r.Int64N(1e8), r.Int64N(1e9)).UTC()}
	odd := []string{"", "<b>&", "\"q\"", "tab\t", "é", "\u2028", "\x01"}
	for i := range n {
		f := DataFile{
			Path:    fmt.Sprintf("data/eventdate=2026-09-%02d/w-%d%s.parquet", 1+i%28, r.IntN(1e6), odd[r.IntN(len(odd))]),
			Date:    fmt.Sprintf("2026-09-%02d", 1+i%28),
			Rows:    r.Int64N(1e6),
			Bytes:   r.Int64N(1e9),
			MinTime: time.Unix(1_780_000_000+r.Int64N(1e6), r.Int64N(1e9)*int64(r.IntN(2))).UTC(),
			MaxTime: time.Unix(1_790_000_000+r.Int64N(1e6), 0).In(time.FixedZone("x", 3600*r.IntN(3))),
		}
		if r.IntN(2) == 0 {
			f.Facts, f.FactsVersion = f.Path+".facts", r.IntN(4)
		}
		f.Cold, f.Whole = r.IntN(2) == 0, r.IntN(3) == 0
		m.Files = append(m.Files, f)
		if r.IntN(2) == 0 {
			m.Retired = append(m.Retired, RetiredFile{Path: f.Path + ".old", At: m.CommittedAt})
		}
	}
	switch r.IntN(3) {
	case 0:
		m.Files = nil
	case 1:
		if len(m.Files) == 0 {
			m.Files = []DataFile{}
		}
	}
	for i := range r.IntN(3) {
		m.StateSegments = append(m.StateSegments, fmt.Sprintf("state/%08d-w%s.jsonl", i, odd[r.IntN(len(odd))]))
	}
	for i := range r.IntN(3) {
		m.RetiredSegments = append(m.RetiredSegments, RetiredSegment{Path: fmt.Sprintf("retired/%08d-w%s.jsonl", i, odd[r.IntN(len(odd))]),
			Files: r.IntN(300), Newest: time.Unix(1_700_000_000+r.Int64N(1e8), r.Int64N(1e9)).UTC()})
	}
	if r.IntN(4) > 0 {
		m.Writer = fmt.Sprintf("w%d%s", r.IntN(100), odd[r.IntN(len(odd))])
	}
	return m
}

// The manifest a commit writes reads byte for byte as json.MarshalIndent wrote it before the
// entries were cached: the same encoder over a sequence of manifests that keep most entries,
// as a bulk load's commits do.
func TestManifestEncoderWritesWhatMarshalIndentWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var e manifestEncoder
	prev := randomManifest(r, 1, 5)
	for v := int64(2); v < 300; v++ {
		m := randomManifest(r, v, r.IntN(12))
		if prev.Files != nil && r.IntN(2) == 0 { // most entries kept, one added: the cache's case
			m.Files = append(append([]DataFile{}, prev.Files...), m.Files...)
			m.Retired = append(append([]RetiredFile{}, prev.Retired...), m.Retired...)
		}
		got, err := e.encode(m)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.MarshalIndent(m, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("version %d: encoded\n%s\nMarshalIndent:\n%s", v, got, want)
		}
		if len(e.files) > len(m.Files) || len(e.retired) > len(m.Retired) {
			t.Fatalf("version %d: the cache holds %d files and %d retired for a manifest of %d and %d", v, len(e.files), len(e.retired), len(m.Files), len(m.Retired))
		}
		prev = m
	}
}

// A time MarshalIndent refuses is refused by the encoder too, and nothing is written.
func TestManifestEncoderRefusesWhatMarshalIndentRefuses(t *testing.T) {
	var e manifestEncoder
	m := &Manifest{Version: 1, Files: []DataFile{{Path: "data/x.parquet", MinTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	if _, err := json.MarshalIndent(m, "", " "); err == nil {
		t.Fatal("MarshalIndent took a year of five digits")
	}
	if b, err := e.encode(m); err == nil {
		t.Fatalf("encoded %s", b)
	}
}

// Successive commits of one writer leave manifests that read back as committed and are
// exactly what MarshalIndent makes of them: the cache carries nothing stale across commits
// that add, replace and remove files.
func TestCommitsWriteManifestsAsBefore(t *testing.T) {
	lk, s := newStore(t)
	w := beginWrite(t, lk, s.ID)
	var live []string
	for i := range 6 {
		f := writeData(t, lk, s.ID, fmt.Sprintf("data/eventdate=2026-01-01/f%d.parquet", i))
		var removed []string
		if i%3 == 2 {
			removed, live = live[:1], live[1:]
		}
		if err := w.Commit([]DataFile{f}, removed, []SourceState{{URI: fmt.Sprint("s3://b/k", i), Version: "v", Records: i, At: time.Unix(int64(i), 0).UTC()}}); err != nil {
			t.Fatal(err)
		}
		live = append(live, f.Path)
		b, err := os.ReadFile(lk.manifestPath(s.ID))
		if err != nil {
			t.Fatal(err)
		}
		m, err := lk.ReadManifest(s.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.MarshalIndent(m, "", " ")
		if !bytes.Equal(b, append(want, '\n')) {
			t.Fatalf("commit %d wrote\n%s\nwant\n%s", i, b, want)
		}
		var got []string
		for _, f := range m.Files {
			got = append(got, f.Path)
		}
		want2 := slices.Sorted(slices.Values(live)) // writeData's files are all of one date
		if fmt.Sprint(got) != fmt.Sprint(want2) {
			t.Fatalf("commit %d: live files %v, want %v", i, got, want2)
		}
	}
}
