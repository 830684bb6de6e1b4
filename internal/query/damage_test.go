package query_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// twoStores ingests the stratus samples into stores "good-one" and "bad-one".
func twoStores(t *testing.T) (*lake.Lake, lake.Store, lake.Store) {
	t.Helper()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var st [2]lake.Store
	for i, name := range []string{"good-one", "bad-one"} {
		if st[i], err = lk.Create(name, lake.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		src := []string{filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")}
		if _, err := ingest.CloudTrail(context.Background(), lk, st[i], ingest.Options{Sources: src}); err != nil {
			t.Fatal(err)
		}
	}
	return lk, st[0], st[1]
}

// TestADamagedFileFailsOnlyQueriesOfItsStore: damage one data file of a store in each way a
// file can be damaged; the session opens, the other store answers, and a query of the damaged
// store fails naming the file and the repair.
func TestADamagedFileFailsOnlyQueriesOfItsStore(t *testing.T) {
	for name, damage := range map[string]func(p string, size int64) []byte{
		// The attack: a file truncated to garbage.
		"garbage": func(string, int64) []byte { return []byte("not parquet at all") },
		// Same size, magic bytes kept, footer garbage: only the engine finds it.
		"bad footer": func(_ string, size int64) []byte {
			b := make([]byte, size)
			copy(b, "PAR1")
			copy(b[size-4:], "PAR1")
			return b
		},
		"missing": nil,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			lk, good, bad := twoStores(t)
			m, err := lk.ReadManifest(bad.ID)
			if err != nil {
				t.Fatal(err)
			}
			f := m.Files[0]
			p := lk.AbsPath(bad.ID, f.Path)
			if damage == nil {
				os.Remove(p)
			} else {
				os.WriteFile(p, damage(p, f.Bytes), 0o644)
			}
			s, err := query.Open(ctx, lk, query.Options{})
			if err != nil {
				t.Fatalf("one damaged store broke the session: %v", err)
			}
			defer s.Close()
			res, err := s.Run(ctx, `SELECT count(*) FROM "aws:cloudtrail"."good-one"`)
			if err != nil || len(res.Rows) != 1 {
				t.Fatalf("the healthy store does not answer: %v", err)
			}
			if _, err := s.Run(ctx, `SELECT count(*) FROM "aws:cloudtrail"."`+good.ID+`"`); err != nil {
				t.Fatalf("the healthy store does not answer by id: %v", err)
			}
			for _, q := range []string{
				`SELECT count(*) FROM "aws:cloudtrail"."bad-one"`,
				`SELECT eventname FROM "aws:cloudtrail"."` + bad.ID + `" WHERE eventname = 'x'`,
				`SELECT count(*) FROM "aws:cloudtrail"."good-one" g JOIN "aws:cloudtrail"."bad-one" b USING (eventid)`,
			} {
				_, err := s.Run(ctx, q)
				if err == nil {
					t.Fatalf("%s: a query of the damaged store succeeded", q)
				}
				if !strings.Contains(err.Error(), "bad-one") || !strings.Contains(err.Error(), "eds repair bad-one") {
					t.Fatalf("%s: error does not name the store and the repair: %v", q, err)
				}
				if name != "bad footer" && !strings.Contains(err.Error(), f.Path) {
					t.Fatalf("%s: error does not name the file %s: %v", q, f.Path, err)
				}
			}
			if !errors.Is(s.Damaged(bad.ID), lake.ErrDamaged) || s.Damaged(good.ID) != nil {
				t.Fatalf("Damaged: bad %v, good %v", s.Damaged(bad.ID), s.Damaged(good.ID))
			}
			tables, err := s.Tables(ctx)
			if err != nil {
				t.Fatalf("tables: %v", err)
			}
			n := 0
			for _, tb := range tables {
				if tb.Schema == query.Schema {
					n++
					if len(tb.Columns) != len(ctparquet.CloudTrailColumns) {
						t.Errorf("%s has %d columns", tb.Name, len(tb.Columns))
					}
				}
			}
			if n != 4 { // each store by id and by name
				t.Fatalf("%d store tables listed, want 4", n)
			}
		})
	}
}

// TestALostManifestFailsOnlyQueriesOfItsStore: the attack of issue 14 item 4 on a session.
func TestALostManifestFailsOnlyQueriesOfItsStore(t *testing.T) {
	ctx := context.Background()
	lk, _, bad := twoStores(t)
	os.Remove(filepath.Join(lk.StoreDir(bad.ID), "manifest.json"))
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Run(ctx, `SELECT count(*) FROM "aws:cloudtrail"."good-one"`); err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(ctx, `SELECT count(*) FROM "aws:cloudtrail"."bad-one"`)
	if err == nil || !strings.Contains(err.Error(), "manifest.json is missing") || !strings.Contains(err.Error(), "eds repair bad-one") {
		t.Fatalf("query of a store without manifest: %v", err)
	}
}
