package ctparquet

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// TestHoldsFindsTheKeysOfAnOpenFileExactly: RecordFile.Holds, asked about records of keys
// appended in any row group of any part (an id repeated with another account, a missing
// account, an empty one) and of keys never appended, says held for exactly those whose
// eventid and recipientaccountid (missing equal only to missing) a row of the file has, while
// the file is open; the file goes on taking parts and closes into the same bytes as one never
// asked.
func TestHoldsFindsTheKeysOfAnOpenFileExactly(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	dir := t.TempDir()
	asked, quiet := filepath.Join(dir, "asked.parquet"), filepath.Join(dir, "quiet.parquet")
	rf, err := CreateRecordFile(asked)
	if err != nil {
		t.Fatal(err)
	}
	rq, err := CreateRecordFile(quiet)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := rf.Holds(randomRecords(rng, 3)); err != nil || held[0] || held[1] || held[2] {
		t.Fatalf("an empty file holds %v (%v)", held, err)
	}
	type key struct {
		id, acct string
		has      bool
	}
	keyOf := func(r *cloudtrail.Record) key {
		if r.RecipientAccountID == nil {
			return key{id: r.EventID}
		}
		return key{r.EventID, *r.RecipientAccountID, true}
	}
	stored := map[key]bool{}
	var all []*cloudtrail.Record
	str := func(s string) *string { return &s }
	for part, n := range []int{RowGroupRows + 300, 2000, RowGroupRows + 1} {
		recs := randomRecords(rng, n)
		if part == 1 { // an id of part 0 again, with another account: a key of its own
			r := *all[5]
			r.RecipientAccountID = str("other")
			recs[0] = &r
		}
		sortByKind(recs)
		for _, f := range []*RecordFile{rf, rq} {
			if err := f.Append(recs); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range recs {
			stored[keyOf(r)] = true
		}
		all = append(all, recs...)
		// Ask about every fifth record appended so far, the same keys in other records, and
		// variations of them: another account, a missing one, an empty one, another id.
		var queries []*cloudtrail.Record
		for i := 0; i < len(all); i += 5 {
			r := all[i]
			queries = append(queries, &cloudtrail.Record{EventID: r.EventID, RecipientAccountID: r.RecipientAccountID})
			q := &cloudtrail.Record{EventID: r.EventID}
			switch i % 4 {
			case 0:
				q.RecipientAccountID = str("999999999999")
			case 1:
				if r.RecipientAccountID == nil {
					q.RecipientAccountID = str("")
				} // else: missing where the stored one is not
			case 2:
				if r.RecipientAccountID != nil {
					q.RecipientAccountID = str(*r.RecipientAccountID)
				}
				q.EventID += "x"
			case 3:
				q.RecipientAccountID = str("")
			}
			queries = append(queries, q)
		}
		held, err := rf.Holds(queries)
		if err != nil {
			t.Fatal(err)
		}
		yes := 0
		for i, q := range queries {
			if held[i] != stored[keyOf(q)] {
				t.Fatalf("part %d: %+v held %v, want %v", part, keyOf(q), held[i], stored[keyOf(q)])
			}
			if held[i] {
				yes++
			}
		}
		if yes < len(queries)/2 || yes == len(queries) {
			t.Fatalf("part %d: %d of %d held: the test asks too little", part, yes, len(queries))
		}
	}
	for _, f := range []*RecordFile{rf, rq} {
		if _, err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	a, err := os.ReadFile(asked)
	if err != nil {
		t.Fatal(err)
	}
	q, err := os.ReadFile(quiet)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(q) {
		t.Fatal("a file asked what it holds closed into other bytes than one never asked")
	}
}
