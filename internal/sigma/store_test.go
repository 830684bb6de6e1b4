package sigma_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// openStore ingests records (CloudTrail records as JSON objects) and the files under sources
// into a new store of a fresh lake, and opens a sealed query session over it.
func openStore(t testing.TB, records []map[string]any, sources ...string) (*query.Session, lake.Store) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	lk, err := lake.Open(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("events", lake.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(records) > 0 {
		data, err := json.Marshal(map[string]any{"Records": records})
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, "records.json")
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, f)
	}
	sum, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: sources})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Problems) > 0 {
		t.Fatalf("ingest problems: %v", sum.Problems)
	}
	s, err := query.Open(ctx, lk, query.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, st
}

// matching returns the sorted eventids of the store's events for which predicate holds.
func matching(t testing.TB, s *query.Session, st lake.Store, predicate string) []string {
	t.Helper()
	res, err := s.RunInternal(context.Background(), "SELECT eventid FROM "+query.StoreTable(st.ID)+" WHERE "+predicate+" ORDER BY 1")
	if err != nil {
		t.Fatalf("predicate %s: %v", predicate, err)
	}
	out := []string{}
	for _, r := range res.Rows {
		out = append(out, r[0].(string))
	}
	slices.Sort(out)
	return out
}

func write(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
