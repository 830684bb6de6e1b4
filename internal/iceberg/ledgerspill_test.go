package iceberg_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
	"github.com/auditlake/auditlake/internal/lake"
)

// retiredInLedger reads st's upload ledger as written: the retired objects it lists itself, and
// those of its segments (each read from its file).
func retiredInLedger(t *testing.T, lk *lake.Lake, st lake.Store) (listed []string, segments int, spilled []string) {
	t.Helper()
	var led struct {
		Files map[string]struct {
			Retired *time.Time `json:"retired"`
		} `json:"files"`
		Segments []struct {
			Name    string `json:"name"`
			Objects int    `json:"objects"`
		} `json:"retired_segments"`
	}
	b, err := os.ReadFile(filepath.Join(lk.Dir, "iceberg", "published", st.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &led); err != nil {
		t.Fatal(err)
	}
	for rel, e := range led.Files {
		if e.Retired != nil {
			listed = append(listed, rel)
		}
	}
	for _, s := range led.Segments {
		f, err := os.Open(filepath.Join(lk.Dir, "iceberg", "published", st.ID+".retired", s.Name))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for sc := bufio.NewScanner(f); sc.Scan(); n++ {
			var o struct{ Path string }
			if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
				t.Fatal(err)
			}
			spilled = append(spilled, o.Path)
		}
		f.Close()
		if n != s.Objects {
			t.Fatalf("segment %s holds %d objects, the ledger says %d", s.Name, n, s.Objects)
		}
	}
	return listed, len(led.Segments), spilled
}

// retireFiles makes rounds compactions of small commits, each retiring the files it merges.
func retireFiles(t *testing.T, lk *lake.Lake, st lake.Store, rounds int, day time.Time) {
	t.Helper()
	for i := range rounds {
		for j := range 3 {
			commitRecords(t, lk, st, "r"+string(rune('a'+i))+string(rune('a'+j)), 10, day.Add(time.Duration(i*3+j)*time.Minute))
		}
		if compact(t, lk, st) == 0 {
			t.Fatal("the compaction merged nothing; the test needs it to")
		}
	}
}

// A published store that retires files at every commit keeps at most ledgerSpillAt retired
// objects in its upload ledger (read and rewritten several times a commit); the rest wait in
// segments. Their objects stay on S3 for the keep window — the table's older snapshots read
// them — and are deleted after it, with the segments; deleting the store deletes them too.
func TestRetiredObjectsPastTheLineWaitInLedgerSegments(t *testing.T) {
	ctx := context.Background()
	iceberg.SetLedgerSpillAt(t, 2)
	s3 := icebergtest.NewS3(t, "lake")
	lk, st, pub, cat := publishedStore(t, s3)
	day := time.Date(2026, 4, 3, 10, 0, 0, 0, time.UTC)
	retireFiles(t, lk, st, 3, day)
	if _, err := iceberg.Follow(ctx, cat, lk, st, time.Hour); err != nil {
		t.Fatal(err)
	}
	listed, segments, spilled := retiredInLedger(t, lk, st)
	if len(listed) > 2 || segments == 0 || len(listed)+len(spilled) < 6 {
		t.Fatalf("the ledger lists %d retired objects and %d segments holding %d more; want ≤ 2 listed, ≥ 6 in all", len(listed), segments, len(spilled))
	}
	for _, rel := range append(listed, spilled...) {
		if _, err := s3.Backend.HeadObject("lake", "trail/"+rel); err != nil {
			t.Fatalf("retired object %s was deleted within the keep window: %v", rel, err)
		}
	}
	tableIsStore(t, s3, lk, st, pub, cat)

	// Past the window: every retired object goes, and the segments with them.
	time.Sleep(10 * time.Millisecond)
	if _, err := iceberg.Follow(ctx, cat, lk, st, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, rel := range append(listed, spilled...) {
		if _, err := s3.Backend.HeadObject("lake", "trail/"+rel); err == nil {
			t.Fatalf("retired object %s is still on S3 after the keep window", rel)
		}
	}
	if l, n, sp := retiredInLedger(t, lk, st); len(l) != 0 || n != 0 || len(sp) != 0 {
		t.Fatalf("after the window the ledger still lists %d retired objects and %d segments (%d objects)", len(l), n, len(sp))
	}
	if left, _ := filepath.Glob(filepath.Join(lk.Dir, "iceberg", "published", st.ID+".retired", "*")); len(left) != 0 {
		t.Fatalf("segment files left: %v", left)
	}
	tableIsStore(t, s3, lk, st, pub, cat)

	// Spilled again, then the store deleted: no object of it is left on S3.
	retireFiles(t, lk, st, 3, day.Add(24*time.Hour))
	if _, err := iceberg.Follow(ctx, cat, lk, st, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, n, _ := retiredInLedger(t, lk, st); n == 0 {
		t.Fatal("no segment before the store's deletion; the test needs one")
	}
	if err := lk.Delete(st.ID); err != nil {
		t.Fatal(err)
	}
	for k := range s3.Stored("lake/trail/data/") {
		if _, err := s3.Backend.HeadObject("lake", k[len("lake/"):]); err == nil {
			t.Fatalf("object %s of the deleted store is still on S3", k)
		}
	}
	if _, err := os.Stat(filepath.Join(lk.Dir, "iceberg", "published", st.ID+".retired")); !os.IsNotExist(err) {
		t.Fatalf("the deleted store's ledger segments are left: %v", err)
	}
}
