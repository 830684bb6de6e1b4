package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// publishBench times ingest of src into a fresh store with the SQL catalog, without and with
// the store published to S3 (eds publish; every commit uploads its files before its snapshot),
// alternating, rounds times each. S3 is gofakes3 served on loopback by this process (issue 20:
// publishing adds ≤ 20 % to ingest wall time); the CPU it takes during each ingest is reported
// apart (the ingest's CPU is the child's). With profile set, each ingest writes its CPU profile
// there (ingest-<round>-<local|published>.pprof) and this process its own (fakes3.pprof).
func publishBench(bin, src, work, profile string, rounds int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	backend := s3mem.New()
	if err := backend.CreateBucket("bench"); err != nil {
		return err
	}
	var reqs requestCounter
	srv := &http.Server{Handler: reqs.wrap(gofakes3.New(backend).Server())}
	go srv.Serve(ln)
	defer srv.Close()
	endpoint := "http://" + ln.Addr().String()
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"} {
		os.Setenv(k, v)
	}
	if work == "" {
		if work, err = os.MkdirTemp("", "albench-publish"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	if profile != "" {
		if err := os.MkdirAll(profile, 0o755); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(profile, "fakes3.pprof"))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var local, published []measured
	var s3cpu []time.Duration
	var s3reqs []string
	for r := range rounds {
		for _, pub := range []bool{false, true} {
			data := filepath.Join(work, fmt.Sprintf("publish-%d-%v", r, pub))
			os.RemoveAll(data)
			steps := [][]string{{"eds", "create", "bench"}, {"catalog", "set", "sql"}}
			if pub {
				steps = append(steps, []string{"eds", "publish", "bench", "--to", fmt.Sprintf("s3://bench/round%d/", r), "--endpoint-url", endpoint, "--region", "us-east-1"})
			}
			for _, s := range steps {
				if _, _, err := timeCmd(bin, append([]string{"--data", data}, s...)...); err != nil {
					return err
				}
			}
			if profile != "" {
				name := map[bool]string{false: "local", true: "published"}[pub]
				os.Setenv("AUDITLAKE_CPUPROFILE", filepath.Join(profile, fmt.Sprintf("ingest-%d-%s.pprof", r, name)))
			}
			before := selfCPU()
			reqs.reset()
			m, _, err := timeCmd(bin, "--data", data, "ingest", "cloudtrail", "--eds", "bench", src)
			os.Unsetenv("AUDITLAKE_CPUPROFILE")
			if err != nil {
				return err
			}
			if pub {
				published = append(published, m)
				s3cpu = append(s3cpu, selfCPU()-before)
				s3reqs = append(s3reqs, reqs.String())
			} else {
				local = append(local, m)
			}
			os.RemoveAll(data)
		}
	}
	a, b := median(local), median(published)
	t := ratioTarget("20: ingest published to S3 / unpublished", b.wall.Seconds(), a.wall.Seconds(), "%.2f s", 1.20)
	ratio, verdict := float64(b.wall)/float64(a.wall), t.verdict
	record(t)
	fmt.Println()
	fmt.Printf("## Publishing to S3 (gofakes3 on loopback), %d alternating rounds\n\n", rounds)
	fmt.Println("| ingest cloudtrail, SQL catalog | runs (wall) | median | CPU (user+sys) of the median run | peak RSS | ratio | target |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- |")
	fmt.Printf("| not published | %s | %.2f s | %.2f s | %d MiB | | |\n", walls(local), a.wall.Seconds(), a.cpu.Seconds(), a.maxRSS/1024)
	fmt.Printf("| published (every commit uploads first) | %s | %.2f s | %.2f s | %d MiB | %.2f× | ≤ 1.20×: %s |\n", walls(published), b.wall.Seconds(), b.cpu.Seconds(), b.maxRSS/1024, ratio, verdict)
	fmt.Printf("\nCPU (user+sys) of each round's ingest, not published / published: %s; the loopback S3's own CPU during each published ingest: %s\n", roundCPUs(local, published), durations(s3cpu))
	fmt.Printf("\nRequests to the loopback S3 during each published ingest: %s\n", strings.Join(s3reqs, "; "))
	return nil
}

// selfCPU is the CPU time (user+sys) this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func roundCPUs(a, b []measured) string {
	s := ""
	for i := range a {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.2f / %.2f s", a[i].cpu.Seconds(), b[i].cpu.Seconds())
	}
	return s
}

func durations(ds []time.Duration) string {
	s := ""
	for i, d := range ds {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.2f s", d.Seconds())
	}
	return s
}

// requestCounter counts the requests an HTTP handler serves, and their body bytes, by method.
type requestCounter struct {
	mu    sync.Mutex
	n     map[string]int
	bytes map[string]int64
}

func (c *requestCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		if c.n == nil {
			c.n, c.bytes = map[string]int{}, map[string]int64{}
		}
		c.n[r.Method]++
		c.bytes[r.Method] += max(r.ContentLength, 0)
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (c *requestCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n, c.bytes = nil, nil
}

func (c *requestCounter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, m := range []string{"PUT", "POST", "GET", "HEAD", "DELETE"} {
		if c.n[m] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s (%.1f MB)", c.n[m], m, float64(c.bytes[m])/1e6))
		}
	}
	return strings.Join(parts, ", ")
}
