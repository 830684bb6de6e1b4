package compliance_test

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/query"
)

// TestStoredFactsMatchTheEvents checks the EC2 lifecycle facts the lake keeps beside each data
// file against the same facts computed from the fixture's events now: the same rows, and at
// least one launch, end and template change among them.
func TestStoredFactsMatchTheEvents(t *testing.T) {
	s := openFixture(t)
	ctx := context.Background()
	id := s.Stores[0].ID
	stored, ok := s.Facts(id)
	if !ok {
		t.Fatal("a freshly ingested store has no stored facts")
	}
	computed := "(" + lifecycle.SQL(engine.Ident(query.Schema)+"."+engine.Ident(id)) + ")"
	for _, q := range []string{
		"SELECT count(*) FROM (SELECT * FROM " + stored + " EXCEPT ALL SELECT * FROM " + computed + ")",
		"SELECT count(*) FROM (SELECT * FROM " + computed + " EXCEPT ALL SELECT * FROM " + stored + ")",
	} {
		res, err := s.RunInternal(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Rows[0][0].(int64); n != 0 {
			t.Errorf("%d fact rows differ: %s", n, q)
		}
	}
	res, err := s.RunInternal(ctx, "SELECT kind, count(*) FROM "+stored+" GROUP BY 1 ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int64{}
	for _, r := range res.Rows {
		kinds[r[0].(string)] = r[1].(int64)
	}
	if kinds["launch"] == 0 || kinds["end"] == 0 || kinds["template"] == 0 {
		t.Errorf("fact kinds = %v, want launches, ends and template changes", kinds)
	}
}

// TestReportOfAStoreWrittenBeforeFactsExisted strips the facts from a store's manifest (as a
// store written by an earlier auditlake has none): the report computes them from the events and
// gives the same rows; the next compaction writes them, and the report reads them again.
func TestReportOfAStoreWrittenBeforeFactsExisted(t *testing.T) {
	ctx := context.Background()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("prod-trail", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: fixtureSources}); err != nil && !strings.Contains(err.Error(), "error") {
		t.Fatal(err)
	}
	p := compliance.Params{Store: "prod-trail", Approved: approvals(t, "lt-0aaaaaaaaaaaaaaa1:2")}
	reportWith := func(wantStored bool) []compliance.Row {
		t.Helper()
		s, err := query.Open(ctx, lk, query.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, stored := s.Facts(st.ID); stored != wantStored {
			t.Fatalf("stored facts = %v, want %v", stored, wantStored)
		}
		r, err := compliance.LaunchCompliance(ctx, s, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Rows) == 0 {
			t.Fatal("no rows")
		}
		return r.Rows
	}
	want := reportWith(true)

	// An old manifest: no facts fields.
	stripFacts(t, lk, st.ID)
	if got := reportWith(false); !reflect.DeepEqual(got, want) {
		t.Errorf("report from events differs from report from stored facts:\n got %+v\nwant %+v", got, want)
	}

	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Compact(ctx, db, w, false); err != nil {
		t.Fatal(err)
	}
	w.Close()
	m2, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	withFacts := 0
	for _, f := range m2.Files {
		if f.FactsVersion != lifecycle.Version {
			t.Errorf("%s: facts version %d after compaction", f.Path, f.FactsVersion)
		}
		if f.Facts != "" {
			withFacts++
			if _, err := os.Stat(lk.AbsPath(st.ID, f.Facts)); err != nil {
				t.Error(err)
			}
		}
	}
	if withFacts == 0 {
		t.Error("compaction wrote no facts files")
	}
	if got := reportWith(true); !reflect.DeepEqual(got, want) {
		t.Errorf("report after compaction differs:\n got %+v\nwant %+v", got, want)
	}
}

// stripFacts removes the facts fields from store id's manifest, as a store written before
// facts existed has none.
func stripFacts(t *testing.T, lk *lake.Lake, id string) {
	t.Helper()
	path := lk.StoreDir(id) + "/manifest.json"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m lake.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for i := range m.Files {
		m.Files[i].Facts, m.Files[i].FactsVersion = "", 0
	}
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
