package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/server"
)

// hugeResultQuery is issue 14 item 1: 1000 rows of 10 MB, 10 GB of result from a 60-byte query.
const hugeResultQuery = `SELECT range, repeat(chr(120), 10000000) AS big FROM range(1000)`

func goHeapAllocated() uint64 {
	m := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(m)
	return m[0].Value.Uint64()
}

// vmHWM is the process's peak resident set from /proc (0 where there is none).
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

type apiErrorBody struct {
	Error struct{ Code, Message string }
}

// TestHugeResultIsRefusedThroughAPIAndCLIInBoundedMemory: the attack query through POST
// /api/query of the real `serve` (default max_rows 1000) is a 422 naming the 64 MiB limit, and
// through `query` a clear error and exit 1; the Go heap allocates a small multiple of the limit
// (it allocated the whole 10 GB before) and the process stays far from the 10 GB.
func TestHugeResultIsRefusedThroughAPIAndCLIInBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	base := serve(t, dir, io.Discard)
	before := goHeapAllocated()
	body, _ := json.Marshal(map[string]string{"sql": hugeResultQuery})
	code, b := apiCall(t, "POST", base+"/api/query", string(body))
	var e apiErrorBody
	if code != http.StatusUnprocessableEntity || json.Unmarshal(b, &e) != nil || e.Error.Code != "result_too_large" || !strings.Contains(e.Error.Message, "64 MiB") {
		t.Fatalf("attack query through the API: %d %.300s, want 422 result_too_large naming 64 MiB", code, b)
	}
	out, errOut, exit := run(t, dir, "query", hugeResultQuery)
	if exit != 1 || !strings.Contains(errOut, "64 MiB") || !strings.Contains(errOut, "--max-result-bytes") || out != "" {
		t.Fatalf("attack query through the CLI: exit %d, stdout %.100q, stderr %q; want exit 1 naming the limit and the flag", exit, out, errOut)
	}
	allocated := goHeapAllocated() - before
	if allocated > 8*64<<20 {
		t.Errorf("the two refused queries allocated %d MiB of Go heap, want at most 512 MiB", allocated>>20)
	}
	if rss := vmHWM(); rss > 3<<30 {
		t.Errorf("peak RSS %d MiB, want under 3 GiB", rss>>20)
	} else {
		t.Logf("Go heap allocated %d MiB; peak RSS of the test process %d MiB", allocated>>20, rss>>20)
	}
	// The limit is a flag of both.
	small := serve(t, dir, io.Discard, "--max-result-bytes", "1MiB")
	body, _ = json.Marshal(map[string]string{"sql": `SELECT repeat('x', 2000000) AS s`})
	if code, b := apiCall(t, "POST", small+"/api/query", string(body)); code != http.StatusUnprocessableEntity || !strings.Contains(string(b), "1 MiB") {
		t.Errorf("2 MB result under serve --max-result-bytes 1MiB: %d %.300s", code, b)
	}
	if code, b := apiCall(t, "POST", base+"/api/query", string(body)); code != http.StatusOK {
		t.Errorf("2 MB result under the default limit: %d %.300s", code, b)
	}
	if _, errOut, exit := run(t, dir, "query", "--max-result-bytes", "1MiB", `SELECT repeat('x', 2000000) AS s`); exit != 1 || !strings.Contains(errOut, "1 MiB") {
		t.Errorf("query --max-result-bytes 1MiB: exit %d, %s", exit, errOut)
	}
	if out, _, exit := run(t, dir, "query", "--max-result-bytes", "0", "--format", "csv", `SELECT repeat('x', 70000000) AS s`); exit != 0 || len(out) < 70000000 {
		t.Errorf("query --max-result-bytes 0 (no limit): exit %d, %d bytes out", exit, len(out))
	}
	if _, errOut, exit := run(t, dir, "query", "--max-result-bytes", "lots", "SELECT 1"); exit != 2 || !strings.Contains(errOut, "64MiB") {
		t.Errorf("query --max-result-bytes lots: exit %d, %s; want a usage error", exit, errOut)
	}
}

// TestHealthAndPutAuditEventsDoNotWaitForQueries: with every query slot and the whole queue
// held by long queries, the health check and PutAuditEvents answer at once, a client (an
// authenticated principal) over its limit gets 429 and another principal 503, both with
// Retry-After.
func TestHealthAndPutAuditEventsDoNotWaitForQueries(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 0, dir, "eds", "create", "app-events", "--type", "activity")
	arn := strings.TrimSpace(mustRun(t, 0, dir, "channel", "create", "my-app", "--eds", "app-events", "--account", channelAccount))
	token := strings.TrimSpace(mustRun(t, 0, dir, "token", "create", "--channel", "my-app", "--name", "e2e"))
	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := app.New(lk, app.Options{MaxQueries: 1, InteractiveTimeout: time.Hour, MaxWaiting: 1, MaxClientQueries: 3})
	t.Cleanup(func() { b.Close() }) // after the server stopped (cleanups run last first)
	base := serveInProcess(t, server.New(b, slog.New(slog.DiscardHandler), server.Options{MaxTimeout: time.Hour, Access: access.Open(dir)}))
	first, second := adminAuthorization(t, dir), readerAuthorization(t, dir, "second")

	// Three long queries from this client: the general slot, the interactive lane, the queue.
	longCtx, stopLong := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(longCtx, "POST", base+"/api/query",
				strings.NewReader(`{"sql":"SELECT count(*) FROM range(1000000000000) t WHERE t.range = -1","timeout_seconds":3000}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", first)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	defer func() { stopLong(); wg.Wait() }()
	for start := time.Now(); ; {
		if time.Since(start) > 2*time.Minute {
			running, waiting := b.Admitted()
			t.Fatalf("the three long queries were not admitted (running %d, waiting %d)", running, waiting)
		}
		if running, waiting := b.Admitted(); running == 2 && waiting == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}

	if code, body := apiCall(t, "GET", base+"/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz while queries fill the server: %d %s", code, body)
	}
	ev := auditEventData(t, "u-1", "CreateUser", "2026-03-01T10:00:00Z", channelAccount, nil)
	status, res := post(t, base+"/PutAuditEvents?channelArn="+url.QueryEscape(arn), token,
		requestBody(t, map[string]string{"id": "ev-1", "eventData": ev, "eventDataChecksum": checksum(ev)}))
	if status != http.StatusOK || len(res.Successful) != 1 {
		t.Errorf("PutAuditEvents while queries fill the server: %d %+v", status, res)
	}
	refused := func(authorization string, wantStatus int, wantCode string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/api/query", strings.NewReader(`{"sql":"SELECT 1"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", authorization)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e apiErrorBody
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantStatus || json.Unmarshal(b, &e) != nil || e.Error.Code != wantCode || resp.Header.Get("Retry-After") == "" {
			t.Errorf("SELECT 1: %d %s (Retry-After %q), want %d %s with Retry-After", resp.StatusCode, b, resp.Header.Get("Retry-After"), wantStatus, wantCode)
		}
	}
	refused(first, http.StatusTooManyRequests, "too_many_requests")
	// Another client is another principal (from the same address).
	refused(second, http.StatusServiceUnavailable, "busy")
}
