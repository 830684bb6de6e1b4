package lake

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
)

// TestSmallRunsAreMergedByTiers: a day fed by many small runs (collect committing every few
// seconds; each run a writer of its own that compacts after its commit) has its small files
// merged by tiers of size: every record is kept once, the day keeps a bounded number of files,
// and the bytes written in all (every file any run or merge made) stay within a few times the
// day's — merging every small file whenever there were more than CompactThreshold rewrote the
// growing merged file at every fifth run (here ~8 times the day; ~70 at a commit of 30 KB).
func TestSmallRunsAreMergedByTiers(t *testing.T) {
	ctx := context.Background()
	db := enginetest.Open(t)
	lk, s := newStore(t)
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	var written int64
	const runs, perRun = 60, 80
	for run := range runs {
		var recs []*cloudtrail.Record
		for i := range perRun {
			r := keyedRecord(fmt.Sprintf("r%d-%d", run, i), "1", run)
			pad := make([]byte, 900)
			for j := range pad {
				pad[j] = byte(rng.UintN(256))
			}
			r.EventJSON = fmt.Sprintf(`{"eventID":%q,"pad":%q}`, r.EventID, base64.StdEncoding.EncodeToString(pad))
			recs = append(recs, r)
		}
		w := beginWrite(t, lk, s.ID)
		added, _, err := WriteRecords(ctx, db, w, NewBatch(recs))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(added, nil, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := Compact(ctx, db, w, false); err != nil {
			t.Fatal(err)
		}
		m := w.Manifest()
		w.Close()
		for _, f := range m.Files {
			if !seen[f.Path] {
				seen[f.Path] = true
				written += f.Bytes
			}
		}
	}
	m, err := lk.ReadManifest(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var live, rows int64
	for _, f := range m.Files {
		live += f.Bytes
		rows += f.Rows
	}
	if rows != runs*perRun {
		t.Fatalf("%d rows in the store, want %d", rows, runs*perRun)
	}
	if len(m.Files) > 4*CompactThreshold+1 {
		t.Errorf("%d files in the day", len(m.Files))
	}
	if amp := float64(written) / float64(live); amp > 5 {
		t.Errorf("%d bytes written for a day of %d in %d files: %.1f times, want at most 5", written, live, len(m.Files), amp)
	} else {
		t.Logf("%d bytes written for a day of %d in %d files: %.1f times", written, live, len(m.Files), amp)
	}
}
