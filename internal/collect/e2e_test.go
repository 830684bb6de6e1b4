package collect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/cli"
	"github.com/auditlake/auditlake/internal/collect"
	"github.com/auditlake/auditlake/internal/collect/collecttest"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestMain lets the test binary act as the auditlake command (signals cancel its context, as
// in main), so tests can run `collect` as a real process and kill or stop it.
func TestMain(m *testing.M) {
	if os.Getenv("AUDITLAKE_TEST_CHILD") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func child(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "AUDITLAKE_TEST_CHILD=1")
	return cmd
}

// serveChild starts `auditlake serve` as a process on a free loopback port with the data
// directory dir, waits until it answers /healthz, and stops it (SIGTERM) when the test ends; out
// returns its output so far. The port is one the kernel gave a listener that is closed before serve
// listens on it: another process (CI runs the packages' tests at once) may take it meanwhile;
// serve then exits with "address already in use" and starts again on another port.
func serveChild(t *testing.T, dir string) (addr string, cmd *exec.Cmd, out func() string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close()
		cmd, out, lost := startServeChild(t, dir, addr)
		if !lost {
			return addr, cmd, out
		}
		if attempt == 3 {
			t.Fatalf("serve lost its port to another process %d times", attempt)
		}
		t.Logf("serve on %s: address already in use; again on another port", addr)
	}
}

// startServeChild is one try of serveChild on addr; lost says that the port was taken before
// serve listened.
func startServeChild(t *testing.T, dir, addr string) (cmd *exec.Cmd, out func() string, lost bool) {
	t.Helper()
	// The output goes to a file (the process writes it itself), read while it runs.
	f, err := os.CreateTemp(t.TempDir(), "serve-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out = func() string {
		b, _ := os.ReadFile(f.Name())
		return string(b)
	}
	cmd = child("--data", dir, "serve", "--listen", addr)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	})
	probe := &http.Client{Timeout: 5 * time.Second} // a listener of another process may never answer
	// The answer is serve's only once serve has said it listens on addr: the holder of a lost
	// port (another package's test server, a webhook receiver) may answer /healthz 200 too.
	listening := "msg=serving url=http://" + addr + "/\n"
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := probe.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(out(), listening) {
				return cmd, out, false
			}
		}
		select {
		case <-exited:
			if strings.Contains(out(), "address already in use") {
				return cmd, out, true
			}
			t.Fatalf("serve on %s exited before answering /healthz:\n%s", addr, out())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve on %s did not answer /healthz within a minute:\n%s", addr, out())
		}
	}
}

// TestServeChildTellsALostPortFromAFailure: when another process holds the port serveChild
// picked (a listener here, silent or answering every request 200 as serve's /healthz does),
// serve exits with "address already in use" and the try says the port was lost, so that
// serveChild starts serve again on another port.
func TestServeChildTellsALostPortFromAFailure(t *testing.T) {
	for _, answers := range []bool{false, true} {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		if answers {
			holder := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
			go holder.Serve(taken)
			defer holder.Close()
		}
		if _, out, lost := startServeChild(t, t.TempDir(), taken.Addr().String()); !lost {
			t.Fatalf("serve on a port another listener holds (%s, answering %v) was not reported lost:\n%s", taken.Addr(), answers, out())
		}
	}
}

// cliRun runs the command line in-process.
func cliRun(t *testing.T, want int, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	if code != want {
		t.Fatalf("auditlake %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out.String(), errb.String())
	}
	return out.String() + errb.String()
}

// lander puts trail files into a bucket while a test runs: one every gap, each with 4 fresh
// events, every 7th dated an hour back (a late delivery, behind the position; in yesterday's
// folder in a UTC day's first hour). It counts the events it delivered. A day back, a late
// file landed before the first poll was missed when UTC midnight passed before that poll (two
// days back then, out of the window a poll lists); collect_test covers yesterday's folder
// with its own clock.
type lander struct {
	s3       *collecttest.S3
	bucket   string
	n        atomic.Int64
	distinct atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
}

func land(s3 *collecttest.S3, bucket string, gap time.Duration) *lander {
	l := &lander{s3: s3, bucket: bucket, stop: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			select {
			case <-l.stop:
				return
			case <-time.After(gap):
			}
			l.one()
		}
	}()
	return l
}

var tb = &testing.B{} // Put only calls Fatal on a backend error, which s3mem does not return

func (l *lander) one() string {
	i := l.n.Add(1)
	at := time.Now().UTC().Add(time.Duration(i) * time.Second)
	if i%7 == 0 {
		at = at.Add(-time.Hour) // late delivery, behind the position
	}
	key := collecttest.TrailKey("", "111111111111", "us-east-1", at, fmt.Sprintf("f%05d", i))
	fresh := collecttest.TrailFile("111111111111", "us-east-1", at, fmt.Sprintf("ev%05d", i), 4)
	l.s3.Put(tb, l.bucket, key, fresh)
	l.distinct.Add(4)
	return key
}

func (l *lander) halt() {
	close(l.stop)
	l.wg.Wait()
}

// storeRows reads the store's committed events and how many distinct event ids they hold.
func storeRows(t *testing.T, dir, store string) (rows int64, distinct int64) {
	t.Helper()
	out := cliRun(t, 0, "--data", dir, "query", "--format", "csv",
		fmt.Sprintf(`SELECT count(*), count(DISTINCT eventid) FROM "aws:cloudtrail"."%s"`, store))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	fmt.Sscanf(strings.ReplaceAll(lines[len(lines)-1], ",", " "), "%d %d", &rows, &distinct)
	return rows, distinct
}

func setupCollectDir(t *testing.T, s3 *collecttest.S3, bucket string, extra ...string) (dir, storeID string) {
	t.Helper()
	dir = t.TempDir()
	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("trail", lake.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--data", dir, "source", "add", "landing", "--eds", "trail", "--endpoint-url", s3.URL}, extra...)
	cliRun(t, 0, args...)
	return dir, st.ID
}

// TestCollectSurvivesSIGKILLAtRandomMoments kills `collect` at random moments while files keep
// landing, restarts it, and at the end checks that every event is in the store exactly once.
// `make stress` (AUDITLAKE_STRESS=1) makes 20 kills; make test 5.
func TestCollectSurvivesSIGKILLAtRandomMoments(t *testing.T) {
	kills := 5
	if os.Getenv("AUDITLAKE_STRESS") != "" {
		kills = 20
	}
	s3 := collecttest.NewS3(t, "landing")
	dir, store := setupCollectDir(t, s3, "landing", "s3://landing/AWSLogs/", "--every", "1s")
	l := land(s3, "landing", 40*time.Millisecond)
	l.one()
	rng := rand.New(rand.NewPCG(17, uint64(kills)))
	killed := 0
	for k := 0; k < kills; k++ {
		cmd := child("--data", dir, "collect")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(300+rng.IntN(2500)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err != nil {
			killed++
		}
	}
	l.halt()
	// Restart, and a second pass that must add nothing.
	for range 2 {
		if b, err := child("--data", dir, "collect", "--once").CombinedOutput(); err != nil {
			t.Fatalf("collect --once after the kills: %v\n%s", err, b)
		}
	}
	rows, distinct := storeRows(t, dir, store)
	want := l.distinct.Load()
	t.Logf("%d kills, %d files landed, %d events: store holds %d (%d distinct)", killed, l.n.Load(), want, rows, distinct)
	if rows != want || distinct != want {
		t.Fatalf("after %d SIGKILLs the store holds %d events (%d distinct), want exactly %d", killed, rows, distinct, want)
	}
	if killed < kills {
		t.Fatalf("only %d of %d collect processes were killed (the others had exited)", killed, kills)
	}
}

// TestCollectStopsOnSIGTERMAndASecondCollectorIsRefused: while one collect runs, another (and
// collect --once) is refused with the holder's pid; SIGTERM stops the first, which leaves
// nothing half committed: a restart collects every event exactly once.
func TestCollectStopsOnSIGTERMAndASecondCollectorIsRefused(t *testing.T) {
	s3 := collecttest.NewS3(t, "landing")
	dir, store := setupCollectDir(t, s3, "landing", "s3://landing/AWSLogs/", "--every", "1s")
	l := land(s3, "landing", 30*time.Millisecond)
	l.one()
	cmd := child("--data", dir, "collect")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A bound for a hung child only: on a loaded machine the child takes many seconds to start.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(dir, "sources", "collect.holder")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait() // out is written by exec's goroutine until then
			t.Fatalf("collect did not start within 2 minutes:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	msg := cliRun(t, 1, "--data", dir, "collect", "--once")
	if !strings.Contains(msg, fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Fatalf("a second collector's refusal does not name the holder pid %d:\n%s", cmd.Process.Pid, msg)
	}
	time.Sleep(1500 * time.Millisecond)
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Logf("collect exited %v after SIGTERM in %s", err, time.Since(sent).Round(time.Millisecond))
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("collect did not stop within 2 minutes of SIGTERM:\n%s", out.String())
	}
	l.halt()
	cliRun(t, 0, "--data", dir, "collect", "--once")
	rows, distinct := storeRows(t, dir, store)
	if want := l.distinct.Load(); rows != want || distinct != want {
		t.Fatalf("store holds %d events (%d distinct), want %d", rows, distinct, want)
	}
	list := cliRun(t, 0, "--data", dir, "source", "list")
	if !strings.Contains(list, "landing") || !strings.Contains(list, " ok ") {
		t.Fatalf("source list:\n%s", list)
	}
}

// TestFreshness measures how long a file that lands takes to be queryable under `collect`:
// polling every 10 s, and through SQS notifications; median and worst of 20 deliveries each
// (BENCHMARKS.md). It runs with AUDITLAKE_FIGURES=1 (about 4 minutes).
func TestFreshness(t *testing.T) {
	if os.Getenv("AUDITLAKE_FIGURES") == "" {
		t.Skip("set AUDITLAKE_FIGURES=1 to measure freshness (BENCHMARKS.md)")
	}
	modes := []string{"poll", "sqs"}
	if m := os.Getenv("AUDITLAKE_FRESHNESS"); m != "" {
		modes = strings.Split(m, ",")
	}
	for _, mode := range modes {
		s3 := collecttest.NewS3(t, "fresh"+mode)
		var q *collecttest.SQS
		var queue string
		extra := []string{"s3://fresh" + mode + "/AWSLogs/", "--every", "10s"}
		if mode == "sqs" {
			q = collecttest.NewSQS(t, s3)
			queue = q.CreateQueue(t, "fresh")
			extra = []string{"--sqs-queue-url", queue}
		}
		dir, store := setupCollectDir(t, s3, "fresh"+mode, extra...)
		l := &lander{s3: s3, bucket: "fresh" + mode}
		if q == nil {
			l.one() // the account/region prefix exists before the first poll
		}
		cmd := child("--data", dir, "collect")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lk, _ := lake.Open(dir)
		rows := func() int64 {
			m, err := lk.ReadManifest(store)
			if err != nil {
				return -1
			}
			return m.Rows()
		}
		var took []time.Duration
		for i := 0; i < 21; i++ {
			want := rows() + 4
			start := time.Now()
			key := l.one()
			if q != nil {
				q.Send(t, queue, collecttest.S3Event("fresh"+mode, key))
			}
			for rows() < want {
				if time.Since(start) > 2*time.Minute {
					t.Fatalf("%s: delivery %d not committed after 2 minutes:\n%s", mode, i, out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if i > 0 { // the first waits for the collector to start
				took = append(took, time.Since(start))
			}
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		slices.Sort(took)
		t.Logf("freshness %s: median %s, worst %s over %d deliveries", mode, took[len(took)/2].Round(10*time.Millisecond),
			took[len(took)-1].Round(10*time.Millisecond), len(took))
	}
}

// TestServeCollectsAndReportsSourcesAndMetrics: serve runs the sources (and holds the
// collection lock), answers GET /api/sources with each source's state and each store's newest
// event and lag, and GET /metrics in the Prometheus format with the per-source and per-store
// figures.
func TestServeCollectsAndReportsSourcesAndMetrics(t *testing.T) {
	s3 := collecttest.NewS3(t, "served")
	dir, _ := setupCollectDir(t, s3, "served", "s3://served/AWSLogs/", "--every", "1s")
	l := &lander{s3: s3, bucket: "served"}
	l.one()
	// Every path but /healthz authenticates: a scraper with an admin access key.
	cred, err := access.Open(dir).CreateUser("scraper", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr, cmd, out := serveChild(t, dir)
	get := func(path string) (string, int) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		req.Header.Set("Authorization", "Bearer "+cred.AccessKeyID+":"+cred.SecretAccessKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error(), 0
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp.StatusCode
	}
	var ov collect.Overview
	deadline := time.Now().Add(3 * time.Minute)
	for {
		body, code := get("/api/sources")
		if code == http.StatusOK && json.Unmarshal([]byte(body), &ov) == nil && len(ov.Sources) == 1 && ov.Sources[0].Events == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not collect the source within 3 minutes: %d %s\n%s", code, body, out())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s := ov.Sources[0]; s.Status != "ok" || s.Name != "landing" {
		t.Errorf("source in /api/sources: %+v", s)
	}
	var store *collect.StoreFreshness
	for i := range ov.Stores {
		if ov.Stores[i].Name == "trail" {
			store = &ov.Stores[i]
		}
	}
	if store == nil || store.Rows != 4 || store.NewestEvent.IsZero() {
		t.Fatalf("stores in /api/sources: %+v", ov.Stores)
	}
	metrics, code := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, metrics)
	}
	for _, want := range []string{
		`auditlake_source_events_total{source="landing",target="trail",type="cloudtrail"} 4`,
		`auditlake_source_up{source="landing",target="trail",type="cloudtrail"} 1`,
		`auditlake_store_rows{store="trail",type="cloudtrail"} 4`,
		`auditlake_source_s3_requests_total{source="landing"`,
		`auditlake_http_requests_total{route="/api/sources",status="200"}`,
		`auditlake_store_newest_event_timestamp_seconds{store="trail"`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", metrics)
	}
	msg := cliRun(t, 1, "--data", dir, "collect", "--once")
	if !strings.Contains(msg, fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Errorf("collect beside serve is not refused naming serve's pid %d:\n%s", cmd.Process.Pid, msg)
	}
}
