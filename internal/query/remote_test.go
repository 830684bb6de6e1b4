package query

import (
	"context"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/dialect"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestStatementRangesFetchOnlyWhatTheStatementCanRead: the eventtime range a statement reads of
// a store with days on S3 only (remote.go) is the range its WHERE bounds when every SELECT
// that reads the store reads it alone; otherwise (joins, OR, no bounds, bounds on another
// column) the whole store, so a view over fewer files never changes a result.
func TestStatementRangesFetchOnlyWhatTheStatementCanRead(t *testing.T) {
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := &Session{db: db, remote: map[string]*remoteStore{"store-id": {st: lake.Store{ID: "store-id", Name: "trail"}}}}
	ts := func(v string) time.Time {
		t, err := time.Parse("2006-01-02 15:04:05", v)
		if err != nil {
			panic(err)
		}
		return t
	}
	day1, day2, day3 := ts("2026-12-01 00:00:00"), ts("2026-12-02 00:00:00"), ts("2026-12-03 00:00:00")
	const store = `"aws:cloudtrail"."store-id"`
	f := func(sql string, named bool, want timeRange) {
		t.Helper()
		rewritten, err := dialect.Rewrite(sql)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := s.statementRanges(ctx, rewritten)["store-id"]
		if ok != named || got != want {
			t.Fatalf("%s\nrange %v (named %v), want %v (named %v)", sql, got, ok, want, named)
		}
	}
	f("SELECT 1", false, allTime)
	f("SELECT count(*) FROM "+store, true, allTime)
	f("SELECT count(*) FROM "+store+" WHERE eventtime >= TIMESTAMP '2026-12-01 00:00:00' AND eventtime < TIMESTAMP '2026-12-02 00:00:00'", true, timeRange{day1, day2})
	f("SELECT count(*) FROM "+store+" WHERE eventtime >= TIMESTAMP '2026-12-01 00:00:00' AND eventtime < TIMESTAMP '2026-12-01 00:00:00' + INTERVAL '1' DAY", true, timeRange{day1, day2})
	f(`SELECT count(*) FROM "aws:cloudtrail"."trail" t WHERE TIMESTAMP '2026-12-02 00:00:00' > t.eventtime AND '2026-12-01' <= t.eventtime`, true, timeRange{day1, day2})
	f("SELECT count(*) FROM "+store+" WHERE eventtime BETWEEN TIMESTAMP '2026-12-01 00:00:00' AND TIMESTAMP '2026-12-03 00:00:00' AND eventname = 'x'", true, timeRange{day1, day3})
	f("SELECT count(*) FROM "+store+" WHERE eventtime >= TIMESTAMP '2026-12-02 00:00:00'", true, timeRange{from: day2})
	// Not bounded: an OR, another column, a join, a correlated outer column.
	f("SELECT count(*) FROM "+store+" WHERE eventtime >= TIMESTAMP '2026-12-02 00:00:00' OR eventname = 'x'", true, allTime)
	f("SELECT count(*) FROM "+store+" WHERE eventtime >= TIMESTAMP '2026-12-02 00:00:00' - (SELECT max(eventtime) - min(eventtime) FROM "+store+")", true, allTime)
	f("SELECT count(*) FROM "+store+" a JOIN "+store+" b ON a.eventid = b.eventid WHERE a.eventtime >= TIMESTAMP '2026-12-02 00:00:00'", true, allTime)
	f("SELECT count(*) FROM "+store+" WHERE other.eventtime >= TIMESTAMP '2026-12-02 00:00:00'", true, allTime)
	// Two SELECTs: the union of their ranges; a CTE over one.
	f("SELECT count(*) FROM (SELECT eventid FROM "+store+" WHERE eventtime < TIMESTAMP '2026-12-02 00:00:00' AND eventtime >= TIMESTAMP '2026-12-01 00:00:00' UNION ALL SELECT eventid FROM "+store+" WHERE eventtime >= TIMESTAMP '2026-12-02 00:00:00' AND eventtime <= TIMESTAMP '2026-12-03 00:00:00')", true, timeRange{day1, day3})
	f("WITH x AS (SELECT * FROM "+store+" WHERE eventtime >= TIMESTAMP '2026-12-02 00:00:00') SELECT count(*) FROM x", true, timeRange{from: day2})
	f("WITH x AS (SELECT * FROM "+store+" WHERE eventtime >= TIMESTAMP '2026-12-02 00:00:00') SELECT count(*) FROM x UNION ALL SELECT count(*) FROM "+store, true, allTime)
}
