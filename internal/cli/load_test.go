package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStressServeUnderLoad is the bounded load test of issue 5.5: `auditlake serve` over a
// generated organization on loopback, 10 clients (one per request kind, so that even a short run
// has each kind) sending a mix of SQL queries, reports,
// instance trails and dashboard requests back to back for 5 s (60 s with AUDITLAKE_STRESS=1, as
// `make stress` runs it). It proves that no request fails, that the server leaks no goroutines
// and that its Go heap does not grow, and prints p50/p99 latency per endpoint as a Markdown
// table (go test -v) for BENCHMARKS.md.
func TestStressServeUnderLoad(t *testing.T) {
	duration, clients := 5*time.Second, 10
	if os.Getenv("AUDITLAKE_STRESS") == "1" {
		duration = 60 * time.Second
	}
	if d, err := time.ParseDuration(os.Getenv("AUDITLAKE_LOAD_DURATION")); err == nil && d > 0 {
		duration = d
	}
	o := newOrg(t)
	logs := &levelCounter{}
	base := serve(t, o.dir, logs)
	table := `"aws:cloudtrail"."` + o.storeID + `"`
	q := url.Values{"store": {o.storeID}, "cost": {"cur.gen"}, "approved": {strings.Join(o.approved, ",")}}.Encode()

	var rep struct {
		Rows []struct {
			ID string `json:"instance_id"`
		}
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, o.dir, "report", "launch-compliance", "--eds", "org", "--format", "json")), &rep); err != nil || len(rep.Rows) == 0 {
		t.Fatalf("launch-compliance: %v, %d rows", err, len(rep.Rows))
	}
	queries := map[string]string{
		"query: select 1 (session cost)": `SELECT 1`,
		"query: events by name":          `SELECT eventname, count(*) AS n FROM ` + table + ` GROUP BY 1 ORDER BY 2 DESC`,
		"query: launches by template": `SELECT json_extract_scalar(element_at(requestparameters, 'launchTemplate'), '$.launchTemplateId') AS lt, count(*)
FROM ` + table + ` WHERE eventname = 'RunInstances' GROUP BY 1 ORDER BY 2 DESC`,
		"query: errors by principal, last week": `SELECT useridentity.arn, errorcode, count(*) FROM ` + table + `
WHERE errorcode IS NOT NULL AND eventtime >= TIMESTAMP '2026-09-23 00:00:00' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 20`,
		"query: EC2 cost by day": `SELECT date_trunc('day', line_item_usage_start_date) AS day, round(sum(line_item_unblended_cost), 2)
FROM cur.gen WHERE line_item_product_code = 'AmazonEC2' GROUP BY 1 ORDER BY 1`,
	}
	type request struct {
		name, method, path, body string
		weight                   int
	}
	var mix []request
	for name, sql := range queries {
		b, _ := json.Marshal(map[string]any{"sql": sql, "max_rows": 500})
		mix = append(mix, request{name, "POST", "/api/query", string(b), 3})
	}
	mix = append(mix,
		request{"report: launch-compliance", "GET", "/api/reports/launch-compliance?" + q, "", 2},
		request{"report: daily-spend", "GET", "/api/reports/daily-spend?" + q, "", 2},
		request{"instance trail", "GET", "", "", 3},
		request{"dashboard: activity (9 queries)", "GET", "/api/dashboards/activity?store=" + o.storeID, "", 1},
		request{"stores", "GET", "/api/stores", "", 1},
	)
	var weighted []request
	for _, r := range mix {
		for range r.weight {
			weighted = append(weighted, r)
		}
	}

	// Past the server's 60 s query timeout, so a slow request fails with the server's own 504.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 90 * time.Second}
	send := func(r request, rng *rand.Rand) (string, time.Duration, error) {
		if r.name == "instance trail" {
			r.path = "/api/instances/" + rep.Rows[rng.IntN(len(rep.Rows))].ID + "?store=" + o.storeID + "&cost=cur.gen"
		}
		req, err := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
		if err != nil {
			return r.name, 0, err
		}
		if r.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		authorize(req)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return r.name, 0, fmt.Errorf("%s %s: %w", r.method, r.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		el := time.Since(start)
		if err != nil {
			return r.name, el, fmt.Errorf("%s %s: read body: %w", r.method, r.path, err)
		}
		if resp.StatusCode != http.StatusOK || !json.Valid(b) {
			return r.name, el, fmt.Errorf("%s %s: %d %.200s", r.method, r.path, resp.StatusCode, b)
		}
		if bytes.Contains(b, []byte(`"error":"`)) {
			return r.name, el, fmt.Errorf("%s %s: a widget failed: %.300s", r.method, r.path, b)
		}
		return r.name, el, nil
	}

	// Warm up: every request kind twice, one at a time, so caches and pools exist before the
	// baseline; the faster of the two is the kind's latency without load.
	rng := rand.New(rand.NewPCG(1, 2))
	unloaded := map[string]time.Duration{}
	for _, r := range mix {
		for range 2 {
			name, el, err := send(r, rng)
			if err != nil {
				t.Fatalf("warm-up %s: %v", name, err)
			}
			if u, ok := unloaded[name]; !ok || el < u {
				unloaded[name] = el
			}
		}
	}
	g0, h0, rss0 := settle(client)

	var (
		mu       sync.Mutex
		lat      = map[string][]time.Duration{}
		errs     []string
		nErr     atomic.Int64
		deadline = time.Now().Add(duration)
		wg       sync.WaitGroup
	)
	started := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 99))
			local := map[string][]time.Duration{}
			for i := 0; time.Now().Before(deadline); i++ {
				// Each client starts with a different kind, so a short run still has them all.
				r := mix[c%len(mix)]
				if i > 0 {
					r = weighted[rng.IntN(len(weighted))]
				}
				name, el, err := send(r, rng)
				if err != nil {
					if nErr.Add(1) <= 5 {
						mu.Lock()
						errs = append(errs, err.Error())
						mu.Unlock()
					}
					continue
				}
				local[name] = append(local[name], el)
			}
			mu.Lock()
			for k, v := range local {
				lat[k] = append(lat[k], v...)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	wall := time.Since(started)
	g1, h1, rss1 := settle(client)

	total := 0
	var all []time.Duration
	names := make([]string, 0, len(lat))
	for k, v := range lat {
		names = append(names, k)
		total += len(v)
		all = append(all, v...)
	}
	slices.Sort(names)
	var md strings.Builder
	fmt.Fprintf(&md, "\nServer under load: %d clients, %s, loopback, %d requests (%.1f/s), %d errors; Go heap %s → %s, goroutines %d → %d, RSS %s → %s\n\n",
		clients, wall.Round(time.Second), total, float64(total)/wall.Seconds(), nErr.Load(), mib(h0), mib(h1), g0, g1, mib(rss0), mib(rss1))
	fmt.Fprintf(&md, "| endpoint | alone ms | requests | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|\n")
	row := func(name string, d []time.Duration) {
		slices.Sort(d)
		alone := "—"
		if u, ok := unloaded[name]; ok {
			alone = fmt.Sprintf("%.0f", ms(u))
		}
		fmt.Fprintf(&md, "| %s | %s | %d | %.0f | %.0f | %.0f |\n", name, alone, len(d), ms(pct(d, 50)), ms(pct(d, 99)), ms(d[len(d)-1]))
	}
	for _, n := range names {
		row(n, lat[n])
	}
	if len(all) > 0 {
		row("**all**", all)
	}
	fmt.Print(md.String())
	if a := os.Getenv("ARTIFACTS"); a != "" {
		os.WriteFile(a+"/load-test.md", []byte(md.String()), 0o644)
	}

	if n := nErr.Load(); n > 0 {
		t.Errorf("%d requests failed under load; first: %s", n, strings.Join(errs, "\n"))
	}
	for _, r := range mix {
		if len(lat[r.name]) == 0 {
			t.Errorf("no %s request completed in %s", r.name, duration)
		}
	}
	// Sessions opened under load stay in the pool (at most --max-queries 4 + 1 interactive lane;
	// the warm-up, one request at a time, reuses one). Each holds database/sql's connection
	// opener and, for each DuckDB worker thread that ran the result-size function (a Go callback),
	// the M bound to that thread, which counts as a goroutine until the session closes.
	perSession := 1 + runtime.NumCPU()
	if g1 > g0+4+4*perSession {
		t.Errorf("goroutines grew from %d to %d over the run", g0, g1)
	}
	// The Go heap after a GC may wobble by a few MiB (pools, the HTTP transport); a leak of
	// per-request state over thousands of requests is far above this.
	if h1 > h0+h0/2+16<<20 {
		t.Errorf("Go heap grew from %s to %s over the run", mib(h0), mib(h1))
	}
	// DuckDB's memory is outside the Go heap; a session left open per request would add
	// megabytes each, so RSS bounds that leak (loosely: the allocator keeps freed pages).
	if rss0 > 0 && rss1 > rss0+256<<20 {
		t.Errorf("RSS grew from %s to %s over the run", mib(rss0), mib(rss1))
	}
	if l := logs.count(); l > 0 {
		t.Errorf("the server logged %d warnings or errors under load", l)
	}
}

// settle closes idle client connections, lets the server's connection goroutines end and
// collects garbage, then returns goroutines, live Go heap bytes and the process's RSS.
func settle(c *http.Client) (int, uint64, uint64) {
	c.CloseIdleConnections()
	var g int
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		if n := runtime.NumGoroutine(); n == g {
			break
		} else {
			g = n
		}
	}
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc, rss()
}

// rss is the resident set size from /proc (0 where there is none); it includes DuckDB's memory,
// which the Go heap does not.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb uint64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// levelCounter counts the server's WARN and ERROR log lines without keeping them, so a long
// run's request log does not itself grow the heap.
type levelCounter struct{ n atomic.Int64 }

func (l *levelCounter) Write(p []byte) (int, error) {
	l.n.Add(int64(bytes.Count(p, []byte("level=ERROR")) + bytes.Count(p, []byte("level=WARN"))))
	return len(p), nil
}

func (l *levelCounter) count() int64 { return l.n.Load() }
