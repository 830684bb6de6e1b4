package query_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// openSampleSession ingests the stratus samples into a fresh lake and opens a sealed session.
func openSampleSession(t *testing.T) (*query.Session, *lake.Lake, lake.Store) {
	t.Helper()
	ctx := context.Background()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("samples", lake.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")}}); err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(ctx, lk, query.Options{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, lk, st
}

// TestSandboxRefusesAttackQueries: user SQL reads the registered tables and nothing else. Every
// query here must be refused with a clear error, and none may leave a trace on disk.
func TestSandboxRefusesAttackQueries(t *testing.T) {
	s, lk, st := openSampleSession(t)
	tbl := `"aws:cloudtrail"."` + st.ID + `"`
	file := filepath.Join(lk.StoreDir(st.ID), "manifest.json")
	outside := filepath.Join(t.TempDir(), "stolen.csv")
	inside := filepath.Join(lk.Dir, "stolen.parquet")
	attacks := []string{
		`SELECT * FROM read_csv('/etc/passwd')`,
		`SELECT * FROM read_csv_auto('/etc/passwd')`,
		`SELECT * FROM read_text('/etc/passwd')`,
		`SELECT * FROM read_blob('/etc/passwd')`,
		`SELECT * FROM glob('/etc/*')`,
		`SELECT * FROM read_json('` + file + `')`,
		`SELECT * FROM read_json_auto('` + file + `')`,
		`SELECT * FROM read_parquet('` + lk.Dir + `/stores/*/data/*/*.parquet')`,
		`SELECT * FROM '/etc/passwd'`,
		`SELECT * FROM '` + file + `'`,
		`SELECT * FROM parquet_metadata('` + lk.Dir + `/x.parquet')`,
		`SELECT * FROM sniff_csv('/etc/passwd')`,
		`SELECT * FROM query('SELECT 42')`,
		`SELECT * FROM query_table('` + tbl + `')`,
		`COPY (SELECT 1) TO '` + outside + `'`,
		`COPY (SELECT 1) TO '` + inside + `' (FORMAT parquet)`,
		`COPY ` + tbl + ` TO '` + inside + `'`,
		`EXPORT DATABASE '` + filepath.Join(lk.Dir, "exported") + `'`,
		`ATTACH '` + filepath.Join(lk.Dir, "evil.duckdb") + `' AS evil`,
		`ATTACH ':memory:' AS evil`,
		`DETACH memory`,
		`INSTALL httpfs`,
		`LOAD httpfs`,
		`SET enable_external_access = true`,
		`SET allowed_directories = ['/']`,
		`RESET enable_external_access`,
		`PRAGMA enable_profiling`,
		`CALL pragma_version()`,
		`CREATE TABLE x AS SELECT 1`,
		`CREATE VIEW v AS SELECT * FROM read_csv('/etc/passwd')`,
		`CREATE MACRO m(x) AS x`,
		`CREATE OR REPLACE VIEW ` + tbl + ` AS SELECT 1 AS eventid`,
		`DROP VIEW ` + tbl,
		`INSERT INTO ` + tbl + ` (eventid) VALUES ('x')`,
		`DELETE FROM ` + tbl,
		`UPDATE ` + tbl + ` SET eventname = 'x'`,
		`ALTER VIEW ` + tbl + ` RENAME TO y`,
		`PREPARE p AS SELECT 1`,
		`EXECUTE p`,
		`SELECT 1; DROP VIEW ` + tbl,
		`SELECT 1; SELECT 2`,
		`WITH t AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM t`,
		`SELECT * FROM ` + tbl + ` WHERE eventid IN (SELECT * FROM read_text('/etc/passwd'))`,
		`SELECT (SELECT content FROM read_text('/etc/hostname'))`,
		`CHECKPOINT`,
		`VACUUM`,
		`BEGIN TRANSACTION`,
		`USE memory`,
		`SELECT * FROM duckdb_secrets()`,
		`SELECT * FROM postgres_scan('host=127.0.0.1', 'public', 't')`,
	}
	if len(attacks) < 40 {
		t.Fatalf("attack suite has %d queries, want at least 40", len(attacks))
	}
	for _, q := range attacks {
		res, err := s.Run(context.Background(), q)
		if err == nil {
			t.Errorf("attack query was not refused: %s\n(got %d rows)", q, len(res.Rows))
			continue
		}
		t.Logf("refused: %.60s → %v", q, err)
		var qe *engine.QueryError
		if !errors.As(err, &qe) || qe.Msg == "" {
			t.Errorf("attack %q: refused with %T %v, want a QueryError with a message", q, err, err)
		}
	}
	for _, p := range []string{outside, inside, filepath.Join(lk.Dir, "exported"), filepath.Join(lk.Dir, "evil.duckdb")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("attack left %s on disk", p)
		}
	}
	// The store still answers, unchanged.
	res, err := s.Run(context.Background(), `SELECT count(*) FROM `+tbl)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Rows[0][0]; got != int64(310) {
		t.Fatalf("store has %v events after the attacks, want 310", got)
	}
}

func TestSandboxAllowsOrdinaryAnalytics(t *testing.T) {
	s, _, st := openSampleSession(t)
	for _, q := range []string{
		`SELECT eventname, count(*) FROM "aws:cloudtrail"."` + st.ID + `" GROUP BY 1 ORDER BY 2 DESC`,
		`WITH x AS (SELECT eventsource FROM "aws:cloudtrail"."samples") SELECT count(DISTINCT eventsource) FROM x`,
		`SELECT i FROM range(3) t(i)`,
		`SELECT unnest(resources).arn FROM "aws:cloudtrail"."` + st.ID + `" LIMIT 5`,
	} {
		if _, err := s.Run(context.Background(), q); err != nil {
			t.Errorf("ordinary query refused: %s: %v", q, err)
		}
	}
}

func TestRunawayQueryIsCancelledAndSaysSo(t *testing.T) {
	ctx := context.Background()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(ctx, lk, query.Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Run(ctx, `SELECT count(*) FROM range(1000000000) a, range(1000000) b WHERE a.range + b.range = -1`)
	if !errors.Is(err, engine.ErrTimeout) {
		t.Fatalf("runaway query: got %v, want ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("message should say the query timed out: %v", err)
	}
}

func TestQueryOverMemoryLimitFailsWithAClearMessage(t *testing.T) {
	ctx := context.Background()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(ctx, lk, query.Options{MemoryLimit: "64MB", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Run(ctx, `SELECT length(string_agg(repeat('x', 1000), '')) FROM range(2000000)`)
	var qe *engine.QueryError
	if !errors.As(err, &qe) || !strings.Contains(qe.Msg, "out of memory") {
		t.Fatalf("query over the memory limit: got %v, want a QueryError saying it ran out of memory", err)
	}
	// The session still answers afterwards.
	if _, err := s.Run(ctx, `SELECT 1`); err != nil {
		t.Fatalf("session unusable after an out-of-memory query: %v", err)
	}
}
