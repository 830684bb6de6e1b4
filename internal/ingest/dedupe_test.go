package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// TestDuplicatesAreFoundAtTheEdgesOfStoredTimeRanges: ingest checks a record against the store
// only when a stored file of its date spans its eventtime. Duplicates at the first and last
// stored instant of a file (sub-microsecond digits included, which Parquet drops), in a later
// run and in the same run's later batch, are all found; new events at those instants, and after
// them, are all kept.
func TestDuplicatesAreFoundAtTheEdgesOfStoredTimeRanges(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	event := func(id, account, at string) string {
		return fmt.Sprintf(`{"eventVersion":"1.08","eventTime":%q,"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","eventID":%q,"recipientAccountId":%q}`, at, id, account)
	}
	write := func(name string, events ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(`{"Records":[`+strings.Join(events, ",")+`]}`), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := write("1.json",
		event("a", "111111111111", "2026-05-01T10:00:00.0000019Z"),
		event("b", "111111111111", "2026-05-01T12:00:00Z"),
		event("c", "111111111111", "2026-05-01T14:00:00.123456789Z"),
		event("d", "222222222222", "2026-05-02T09:00:00Z"))
	second := write("2.json",
		event("a", "111111111111", "2026-05-01T10:00:00.0000019Z"),   // first instant of day 1
		event("c", "111111111111", "2026-05-01T14:00:00.123456789Z"), // last instant of day 1
		event("c", "999999999999", "2026-05-01T14:00:00.123456789Z"), // same id, other account: new
		event("e", "111111111111", "2026-05-01T14:00:00.123456Z"),    // same stored instant: new
		event("f", "111111111111", "2026-05-01T23:00:00Z"),           // after every stored event: new
		event("d", "222222222222", "2026-05-02T09:00:00Z"))           // the only event of day 2
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("edges", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{first}})
	if err != nil || sum.EventsAdded != 4 {
		t.Fatalf("first run: %d added, %v", sum.EventsAdded, err)
	}
	sum, err = ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{second}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.EventsAdded != 3 || sum.Duplicates != 3 {
		t.Errorf("second run: %d added, %d duplicates; want 3 and 3", sum.EventsAdded, sum.Duplicates)
	}
	checkDistinctKeys(t, lk, "edges", 7)

	// The same within one run: batches of one event, the duplicates in later batches.
	st2, err := lk.Create("edges-one-run", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	sum, err = ingest.CloudTrail(ctx, lk, st2, ingest.Options{Sources: []string{first, second}, BatchRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.EventsAdded != 7 || sum.Duplicates != 3 {
		t.Errorf("one run: %d added, %d duplicates; want 7 and 3", sum.EventsAdded, sum.Duplicates)
	}
	checkDistinctKeys(t, lk, "edges-one-run", 7)
}

// checkDistinctKeys checks that store holds want events, each dedupe key once.
func checkDistinctKeys(t *testing.T, lk *lake.Lake, store string, want int64) {
	t.Helper()
	s, err := query.Open(context.Background(), lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Run(context.Background(), `SELECT count(*), count(DISTINCT (eventid, recipientaccountid)) FROM "aws:cloudtrail".`+engine.Ident(store))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows[0][0].(int64) != want || res.Rows[0][1].(int64) != want {
		t.Errorf("%s: %v events (%v distinct keys), want %d", store, res.Rows[0][0], res.Rows[0][1], want)
	}
}
