package lake

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestEvictLeavesFilesAWriterReadsUntilItCloses: a commit's hooks evict old files while the
// next batch of the same writer may be reading them (its dedupe reads the files of the batch's
// days): a local file the writer has read stays on the disk until the writer closes, and a
// file no reader holds leaves at once.
func TestEvictLeavesFilesAWriterReadsUntilItCloses(t *testing.T) {
	lk, s := newStore(t)
	body := []byte("PAR1 not really parquet, but with the magic at both ends PAR1")
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var added []DataFile
	for _, rel := range []string{"data/eventdate=2026-01-01/a.parquet", "data/eventdate=2026-01-02/b.parquet"} {
		if err := os.MkdirAll(filepath.Dir(lk.AbsPath(s.ID, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lk.AbsPath(s.ID, rel), body, 0o644); err != nil {
			t.Fatal(err)
		}
		added = append(added, DataFile{Path: rel, Date: partitionDate(rel), Rows: 1, Bytes: int64(len(body))})
	}
	if err := w.Commit(added, nil, nil); err != nil {
		t.Fatal(err)
	}
	read, other := added[0].Path, added[1].Path
	if _, err := w.local(context.Background(), []string{read}); err != nil {
		t.Fatal(err)
	}
	r := &Remote{Files: map[string]RemoteFile{
		read:  {URI: "s3://b/" + read, Size: int64(len(body)), MD5: "x"},
		other: {URI: "s3://b/" + other, Size: int64(len(body)), MD5: "x"},
	}}
	if n, err := lk.Evict(s.ID, r); err != nil || n != 1 {
		t.Fatalf("Evict while the writer reads one file deleted %d files (%v); want the other one", n, err)
	}
	if _, err := os.Stat(lk.AbsPath(s.ID, read)); err != nil {
		t.Fatalf("the file the writer reads left the disk: %v", err)
	}
	if _, err := os.Stat(lk.AbsPath(s.ID, other)); !os.IsNotExist(err) {
		t.Fatalf("the file no one reads stayed: %v", err)
	}
	if h := lk.CheckFiles(s.ID, w.Manifest()); h.Status != StatusOK {
		t.Fatalf("CheckFiles with a file on S3 only: %+v", h)
	}
	w.Close()
	if n, err := lk.Evict(s.ID, r); err != nil || n != 1 {
		t.Fatalf("Evict after the writer closed deleted %d files (%v); want 1", n, err)
	}
	if _, err := os.Stat(lk.AbsPath(s.ID, read)); !os.IsNotExist(err) {
		t.Fatalf("the file stayed after the writer closed: %v", err)
	}
}
