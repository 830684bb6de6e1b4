package lake

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestManyCommitsKeepTheIngestStateInFewSegments: a collector's stream of small commits (one
// source each) keeps at most maxSegments segment files, the state read back is every source at
// its latest version, and the merged segments are deleted.
func TestManyCommitsKeepTheIngestStateInFewSegments(t *testing.T) {
	lk, s := newStore(t)
	const commits = 150
	for i := range commits {
		w, err := lk.BeginWrite(s.ID)
		if err != nil {
			t.Fatal(err)
		}
		src := SourceState{URI: fmt.Sprintf("s3://b/f%04d", i), Version: "v1", Records: 1, At: time.Now()}
		srcs := []SourceState{src}
		if i%10 == 9 { // a file read again at a new version: the later state must win
			srcs = append(srcs, SourceState{URI: fmt.Sprintf("s3://b/f%04d", i-5), Version: "v2", Records: 2, At: time.Now()})
		}
		if err := w.Commit(nil, nil, srcs); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	w := beginWrite(t, lk, s.ID)
	if n := len(w.Manifest().StateSegments); n > maxSegments {
		t.Fatalf("%d commits left %d state segments; at most %d", commits, n, maxSegments)
	}
	got, err := w.LoadSources()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != commits {
		t.Fatalf("state holds %d sources, want %d", len(got), commits)
	}
	for i := range commits {
		want := "v1"
		if (i+5)%10 == 9 && i+5 < commits {
			want = "v2"
		}
		if v := got[fmt.Sprintf("s3://b/f%04d", i)].Version; v != want {
			t.Fatalf("source f%04d at version %q, want %q", i, v, want)
		}
	}
	segs, _ := os.ReadDir(lk.AbsPath(s.ID, "state"))
	if len(segs) > maxSegments+1 {
		t.Fatalf("%d segment files on disk: the merged ones were not deleted", len(segs))
	}
}
