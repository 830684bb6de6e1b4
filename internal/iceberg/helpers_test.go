package iceberg_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/iceberg-go/catalog"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
)

// catalogLake opens a lake in a new directory dir whose catalog is configured as c.
func catalogLake(t *testing.T, c iceberg.Config) (dir string, lk *lake.Lake) {
	t.Helper()
	dir = t.TempDir()
	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := iceberg.SaveConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	return dir, lk
}

// openSQL opens the lake in dir and its SQL catalog.
func openSQL(t *testing.T, dir string) (*lake.Lake, catalog.Catalog) {
	t.Helper()
	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := iceberg.Open(context.Background(), iceberg.SQLProperties(dir))
	if err != nil {
		t.Fatal(err)
	}
	return lk, cat
}

// configured opens the catalog the data directory dir is configured with, as catalog show
// prints it (with its publications' S3 settings as they stand).
func configured(t *testing.T, dir string) catalog.Catalog {
	t.Helper()
	cfg, _, err := iceberg.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := iceberg.Open(context.Background(), cfg.Properties(dir))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// countOf runs q, a query of one number, on db.
func countOf(t *testing.T, db *engine.DB, q string) (n int64) {
	t.Helper()
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// activityStore creates the activity store name in lk and writes one event into it.
func activityStore(t *testing.T, lk *lake.Lake, name string) lake.Store {
	t.Helper()
	st, err := lk.Create(name, lake.CreateOptions{Type: lake.TypeActivity, RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	write(t, lk, st, func(db *engine.DB, w *lake.Writer) error {
		_, err := lake.WriteActivity(context.Background(), db, w, []lake.ActivityRow{{EventID: "e-1",
			EventTime: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Norm: []byte(`{"eventversion":"1.0"}`), EventJSON: `{"eventVersion":"1.0"}`}})
		return err
	})
	return st
}

// createStore creates the CloudTrail store name in lk, keeping ten years of events (the
// generated ones are never outside its retention).
func createStore(t *testing.T, lk *lake.Lake, name string) lake.Store {
	t.Helper()
	st, err := lk.Create(name, lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// ingestStore creates the store name in lk and ingests generated events over days into it in
// batches of 1000 (one commit each).
func ingestStore(t *testing.T, lk *lake.Lake, name string, events, days int, seed uint64) lake.Store {
	t.Helper()
	st := createStore(t, lk, name)
	ingestMore(t, lk, st, events, days, seed)
	return st
}

// ingestMore ingests generated events over days into store st in batches of 1000.
func ingestMore(t *testing.T, lk *lake.Lake, st lake.Store, events, days int, seed uint64) {
	t.Helper()
	ctx := context.Background()
	src := generatetest.Trail(t, events, days, seed)
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{filepath.Join(src, "AWSLogs")}, BatchRows: 1000, CommitEachBatch: true}); err != nil {
		t.Fatal(err)
	}
}

// write runs fn with store st's write lock and an engine, as the commands do.
func write(t *testing.T, lk *lake.Lake, st lake.Store, fn func(db *engine.DB, w *lake.Writer) error) {
	t.Helper()
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	db, err := engine.Open(context.Background(), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := fn(db, w); err != nil {
		t.Fatal(err)
	}
}

// compact compacts store st (one commit that replaces files); merged is how many files it merged.
func compact(t *testing.T, lk *lake.Lake, st lake.Store) (merged int) {
	t.Helper()
	write(t, lk, st, func(db *engine.DB, w *lake.Writer) (err error) {
		merged, err = lake.Compact(context.Background(), db, w, true)
		return err
	})
	return merged
}

// purgeToNewestDay purges every day of store st but its newest (one commit that removes files);
// events is how many events left.
func purgeToNewestDay(t *testing.T, lk *lake.Lake, st lake.Store) (events int64) {
	t.Helper()
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	short := st
	short.RetentionDays = 1
	write(t, lk, st, func(db *engine.DB, w *lake.Writer) error {
		pr, err := lake.Purge(context.Background(), db, w, short, m.Files[len(m.Files)-1].MaxTime.Add(12*time.Hour))
		events = pr.Events
		return err
	})
	if events == 0 {
		t.Fatal("the purge removed nothing; the test needs it to")
	}
	return events
}
