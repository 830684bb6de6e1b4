package query_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// attackQuery is issue 14's item 1: a thousand rows of 10 MB each, 10 GB of result from a
// 60-byte query.
const attackQuery = `SELECT range, repeat(chr(120), 10000000) AS big FROM range(1000)`

func openEmptySession(t *testing.T, opts query.Options) (*query.Session, *lake.Lake) {
	t.Helper()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(context.Background(), lk, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, lk
}

// heapAllocated is the Go heap's cumulative allocation, in bytes.
func heapAllocated() uint64 {
	m := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(m)
	return m[0].Value.Uint64()
}

// peakRSS is the process's peak resident set (VmHWM), 0 where /proc does not say.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func TestResultOfHugeRowsStopsAtTheByteLimitInBoundedMemory(t *testing.T) {
	s, _ := openEmptySession(t, query.Options{Timeout: 5 * time.Minute, MaxRows: 1000})
	ctx := context.Background()
	before := heapAllocated()
	_, err := s.Run(ctx, attackQuery)
	allocated := heapAllocated() - before
	var tl *engine.ResultTooLargeError
	if !errors.As(err, &tl) {
		t.Fatalf("the 10 GB result: got %v, want a ResultTooLargeError", err)
	}
	if tl.Limit != engine.DefaultMaxResultBytes || !strings.Contains(err.Error(), "64 MiB") {
		t.Errorf("error %q names limit %d, want the default 64 MiB", err, tl.Limit)
	}
	// Without the bound Go collected the whole 10 GB; the engine's part is in peak RSS.
	if allocated > 4*engine.DefaultMaxResultBytes {
		t.Errorf("Go allocated %d MiB for a refused result, want at most %d MiB", allocated>>20, 4*engine.DefaultMaxResultBytes>>20)
	}
	if rss := peakRSS(); rss > 2<<30 {
		t.Errorf("peak RSS %d MiB, want under 2 GiB", rss>>20)
	} else {
		t.Logf("Go allocated %d MiB; process peak RSS %d MiB", allocated>>20, rss>>20)
	}
	// The session still answers.
	if _, err := s.Run(ctx, `SELECT 1`); err != nil {
		t.Fatalf("session unusable after a refused result: %v", err)
	}
}

func TestResultByteLimitIsConfigurableAndCountsNestedValues(t *testing.T) {
	ctx := context.Background()
	big := `SELECT range AS n, [repeat('x', 1000000)] AS l, {'s': repeat('y', 1000000)} AS st FROM range(3)`
	roomy, _ := openEmptySession(t, query.Options{MaxResultBytes: 8 << 20})
	if _, err := roomy.Run(ctx, big); err != nil {
		t.Fatalf("a 6 MB result under an 8 MiB limit: %v", err)
	}
	tiny, _ := openEmptySession(t, query.Options{MaxResultBytes: 1 << 20})
	_, err := tiny.Run(ctx, big)
	var tl *engine.ResultTooLargeError
	if !errors.As(err, &tl) || tl.Limit != 1<<20 || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("6 MB of nested values under a 1 MiB limit: got %v, want a ResultTooLargeError naming 1 MiB", err)
	}
	none, _ := openEmptySession(t, query.Options{MaxResultBytes: -1})
	res, err := none.Run(ctx, big)
	if err != nil || len(res.Rows) != 3 {
		t.Fatalf("no limit: got %v rows, %v", res, err)
	}
}

// TestResultLimitKeepsNamesTypesOrderAndTruncation: the bound wraps the user's query; the
// result must be what the query alone gives.
func TestResultLimitKeepsNamesTypesOrderAndTruncation(t *testing.T) {
	ctx := context.Background()
	bounded, _ := openEmptySession(t, query.Options{MaxRows: 1000})
	unbounded, _ := openEmptySession(t, query.Options{MaxRows: 1000, MaxResultBytes: -1})
	queries := []string{
		`SELECT 1 AS x, 2 AS x, 'a' AS "we""ird"`,
		`SELECT range AS n FROM range(200000) ORDER BY hash(range) DESC`,
		`SELECT range % 7 AS k, count(*) AS c, list(range ORDER BY range)[1:3] AS l FROM range(1000) GROUP BY ALL ORDER BY k`,
		`SELECT {'a': 1, 'b': [1, 2]} AS s, MAP {'k': 'v'} AS m, NULL AS z, 1.5::DECIMAL(4,2) AS d, DATE '2026-01-02' AS day`,
		`WITH t AS (SELECT range FROM range(10)) SELECT * FROM t ORDER BY range DESC LIMIT 3; -- done`,
		"SELECT 42 AS answer -- a trailing comment",
		`SELECT range FROM range(5000)`,
	}
	for _, q := range queries {
		want, err := unbounded.Run(ctx, q)
		if err != nil {
			t.Fatalf("%s: without a byte limit: %v", q, err)
		}
		got, err := bounded.Run(ctx, q)
		if err != nil {
			t.Fatalf("%s: with the byte limit: %v", q, err)
		}
		if !reflect.DeepEqual(got.Columns, want.Columns) || got.Truncated != want.Truncated || len(got.Rows) != len(want.Rows) {
			t.Fatalf("%s:\n got columns %v truncated %v rows %d\nwant columns %v truncated %v rows %d", q, got.Columns, got.Truncated, len(got.Rows), want.Columns, want.Truncated, len(want.Rows))
		}
		if strings.Contains(q, "ORDER BY") && !reflect.DeepEqual(got.Rows, want.Rows) {
			t.Errorf("%s: rows differ:\n got %v\nwant %v", q, got.Rows[:min(5, len(got.Rows))], want.Rows[:min(5, len(want.Rows))])
		}
	}
	// A query with far more small rows than max_rows is cut, not refused.
	res, err := bounded.Run(ctx, `SELECT range, repeat('x', 200) AS s FROM range(50000000)`)
	if err != nil || !res.Truncated || len(res.Rows) != 1000 {
		t.Fatalf("many small rows: got %v, %v; want the first 1000, truncated", res, err)
	}
}

// dirSize is the bytes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// TestQuerySpillStopsAtItsCap: a query that has to spill more than the session's temp cap
// fails saying so, and the lake's temp directory never holds much more than the cap.
func TestQuerySpillStopsAtItsCap(t *testing.T) {
	ctx := context.Background()
	const limit = 32 << 20
	s, lk := openEmptySession(t, query.Options{MemoryLimit: "64MB", MaxTempSize: limit, Timeout: 5 * time.Minute})
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if n := dirSize(lk.TempDir()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			default:
				runtime.Gosched()
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	_, err := s.Run(ctx, spillQuery)
	close(stop)
	wg.Wait()
	var qe *engine.QueryError
	if !errors.As(err, &qe) || !strings.Contains(qe.Msg, "temporary disk space") || !strings.Contains(qe.Msg, "32 MiB") {
		t.Fatalf("a query spilling past its 32 MiB cap: got %v, want a QueryError naming the temp space cap", err)
	}
	if p := peak.Load(); p > limit+limit/2 {
		t.Errorf("temp directory reached %d MiB, cap %d MiB", p>>20, limit>>20)
	} else {
		t.Logf("temp directory peaked at %d MiB (cap %d MiB)", p>>20, limit>>20)
	}
	// The same query with room to spill runs: the cap, not the query, stopped it.
	roomy, _ := openEmptySession(t, query.Options{MemoryLimit: "64MB", MaxTempSize: 4 << 30, Timeout: 5 * time.Minute})
	if _, err := roomy.Run(ctx, spillQuery); err != nil {
		t.Fatalf("the same query with a 4 GiB temp cap: %v", err)
	}
}

// spillQuery sorts ~200 MB of rows under a 64 MB memory limit, so it has to spill.
const spillQuery = `SELECT count(*), max(s) FROM (SELECT range AS n, md5(range::VARCHAR) || repeat('z', 40) AS s FROM range(2500000) ORDER BY s) WHERE n >= 0`
