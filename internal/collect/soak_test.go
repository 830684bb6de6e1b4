package collect_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/collect/collecttest"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestStressContinuousCollectionStaysBounded runs `auditlake serve` (the built binary, as a
// user runs it) collecting a trail bucket fed through a queue — five delivery files of a
// generated organization every 2 s — with every community Sigma rule and the built-ins
// enabled, a webhook target, and the store published to S3, for AUDITLAKE_SOAK_DURATION (4
// minutes; `make stress` only). What a long-running service must not do, and did:
//   - grow: the server's resident memory grew ~30 MB a minute (the watcher's DuckDB caches of
//     every new file); here it may grow 48 MB from the end of its first minute to its last;
//   - leave a file an evaluation in the alerts store (752 live files after 12 minutes): a day of
//     it keeps at most 17 live files;
//   - keep its own retired files (facts, ingest-state segments) for the keep window in every
//     manifest: at most a commit's worth are listed.
//
// And every event of the files fed is in the store, as an ingest of the same files stores
// them.
func TestStressContinuousCollectionStaysBounded(t *testing.T) {
	if os.Getenv("AUDITLAKE_STRESS") == "" {
		t.Skip("a soak of minutes: make stress (AUDITLAKE_STRESS=1)")
	}
	bin, err := filepath.Abs(filepath.Join("..", "..", "bin", "auditlake"))
	if err != nil {
		t.Fatal(err)
	}
	if b := os.Getenv("AUDITLAKE_BIN"); b != "" {
		bin = b
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the auditlake binary (make build, or AUDITLAKE_BIN): %v", err)
	}
	duration := 4 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("AUDITLAKE_SOAK_DURATION")); err == nil && d > 0 {
		duration = d
	}
	data, src := t.TempDir(), t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"--data", data}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("auditlake %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("generate", "--out", src, "--events", "300000", "--seed", "11", "--force")
	var files []string
	filepath.WalkDir(filepath.Join(src, "AWSLogs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json.gz") {
			files = append(files, p)
		}
		return nil
	})
	// In delivery order: by the time in the file name (account_CloudTrail_region_TIME_…).
	deliveredAt := func(p string) string { return strings.Split(filepath.Base(p), "_")[3] }
	sort.Slice(files, func(i, j int) bool { return deliveredAt(files[i]) < deliveredAt(files[j]) })

	s3 := collecttest.NewS3(t, "trail", "pub")
	q := collecttest.NewSQS(t, s3)
	queue := q.CreateQueue(t, "soak")
	var hooks atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hook := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hooks.Add(1) })}
	go hook.Serve(ln)
	t.Cleanup(func() { hook.Close() })

	run("eds", "create", "soak")
	exec.Command(bin, "--data", data, "rule", "add", "--sigma", filepath.Join("..", "..", "testdata", "sigma-aws-cloudtrail-rules", "rules")).Run() // refusals are listed, exit 3
	if n := strings.Count(run("rule", "list"), "\n"); n < 57 {
		t.Fatalf("%d lines of rules", n)
	}
	for _, b := range []string{"root-account-use", "cloudtrail-logging-stopped", "console-login-without-mfa"} {
		run("rule", "add", b, "--builtin", b)
	}
	run("rule", "add", "non-approved-launch", "--builtin", "launch-compliance", "--approved-config", filepath.Join(src, "approved-templates.json"))
	run("alert-target", "add", "ops", "--webhook", "http://"+ln.Addr().String()+"/", "--secret", "0123456789abcdef")
	run("eds", "publish", "soak", "--to", "s3://pub/soak/", "--endpoint-url", s3.URL, "--region", "us-east-1")
	run("source", "add", "trail", "--eds", "soak", "s3://trail/AWSLogs/", "--sqs-queue-url", queue, "--endpoint-url", s3.URL, "--region", "us-east-1", "--every", "1m")

	serve := exec.Command(bin, "--data", data, "serve", "--listen", "127.0.0.1:0")
	log, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	serve.Stdout, serve.Stderr = log, log
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			serve.Process.Kill()
			serve.Wait()
		}
	})
	rss := func() int64 {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", serve.Process.Pid))
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) > 1 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb << 10
			}
		}
		return 0
	}
	start := time.Now()
	var fed []string
	var firstMinute int64
	for time.Since(start) < duration && len(fed) < len(files) {
		var keys []string
		for _, p := range files[len(fed):min(len(fed)+5, len(files))] {
			rel, _ := filepath.Rel(src, p)
			body, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			s3.Put(t, "trail", rel, body)
			keys, fed = append(keys, rel), append(fed, p)
		}
		q.Send(t, queue, collecttest.S3Event("trail", keys...))
		time.Sleep(2 * time.Second)
		if firstMinute == 0 && time.Since(start) > time.Minute {
			firstMinute = rss()
		}
	}
	// Every file fed is committed: the queue drains.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		if v, f := q.Visible(t, queue); v+f == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the queue did not drain within 2 minutes of the last file")
		}
	}
	time.Sleep(5 * time.Second) // the last evaluation
	last := rss()
	t.Logf("%d files fed in %s; resident memory %d MB after the first minute, %d MB at the end; %d webhook calls",
		len(fed), time.Since(start).Round(time.Second), firstMinute>>20, last>>20, hooks.Load())
	if firstMinute == 0 || last-firstMinute > 48<<20 {
		t.Errorf("serve's resident memory grew from %d MB after its first minute to %d MB", firstMinute>>20, last>>20)
	}
	if hooks.Load() == 0 {
		t.Error("no webhook call")
	}
	serve.Process.Signal(os.Interrupt)
	serve.Wait()
	stopped = true

	lk, err := lake.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	stores, err := lk.Stores()
	if err != nil {
		t.Fatal(err)
	}
	var events int64
	for _, st := range stores {
		m, err := lk.ReadManifest(st.ID)
		if err != nil {
			t.Fatal(err)
		}
		perDay := map[string]int{}
		for _, f := range m.Files {
			perDay[f.Date]++
		}
		own := 0
		for _, r := range m.Retired {
			if strings.HasPrefix(r.Path, "facts/") || strings.HasPrefix(r.Path, "state/") {
				own++
			}
		}
		t.Logf("store %s: %d live files, %d retired listed (%d facts or state)", st.Name, len(m.Files), len(m.Retired), own)
		if own > 20 {
			t.Errorf("store %s lists %d retired facts files and state segments", st.Name, own)
		}
		switch st.Name {
		case "soak":
			events = m.Rows()
		case "auditlake-alerts":
			for day, n := range perDay {
				if n > 17 {
					t.Errorf("the alerts store has %d live files on %s", n, day)
				}
			}
		}
	}
	// The same files ingested at once.
	once := t.TempDir()
	if out, err := exec.Command(bin, "--data", once, "eds", "create", "once").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := exec.Command(bin, append([]string{"--data", once, "ingest", "cloudtrail", "--eds", "once"}, fed...)...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var show struct{ Events int64 }
	out, err := exec.Command(bin, "--data", once, "eds", "show", "once", "--output", "json").Output()
	if err != nil || json.Unmarshal(out, &show) != nil {
		t.Fatalf("eds show: %v\n%s", err, out)
	}
	if events != show.Events || events == 0 {
		t.Errorf("collected %d events; an ingest of the same %d files stores %d", events, len(fed), show.Events)
	}
}
