package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/auditlake/auditlake/internal/lake"
)

// publishBench times ingest of src into a fresh store with the SQL catalog, without and with
// the store published to S3 (eds publish; every commit uploads its files before its snapshot),
// alternating, rounds times each. S3 is gofakes3 served on loopback by this process (issue 20:
// publishing adds ≤ 20 % to ingest wall time), a new one with an empty bucket for each ingest;
// the CPU and page faults it takes during each ingest are reported apart (the ingest's CPU is
// the child's). After each published ingest the table is checked whole (checkPublished). With profile set, each ingest writes its CPU profile
// there (ingest-<round>-<local|published>.pprof) and this process its own (fakes3.pprof).
func publishBench(bin, src, work, profile string, rounds int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var fake freshS3
	var reqs requestCounter
	srv := &http.Server{Handler: reqs.wrap(&fake)}
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
	if err := warmUp(bin, src, work); err != nil {
		return err
	}
	var local, published []measured
	var s3cpu []time.Duration
	var s3faults []int64
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
			// Every ingest starts from the same state as the first: a published one into a
			// new gofakes3 and an empty bucket (a real S3 keeps no earlier round's objects in
			// this machine's memory), and none with an earlier round's objects still in this
			// process's heap (the child's peak RSS counts this process's at the fork).
			if err := fake.fresh(); err != nil {
				return err
			}
			runtime.GC()
			debug.FreeOSMemory()
			if profile != "" {
				name := map[bool]string{false: "local", true: "published"}[pub]
				os.Setenv("AUDITLAKE_CPUPROFILE", filepath.Join(profile, fmt.Sprintf("ingest-%d-%s.pprof", r, name)))
			}
			before, faults := selfCPU(), selfFaults()
			reqs.reset()
			m, _, err := timeCmd(bin, "--data", data, "ingest", "cloudtrail", "--eds", "bench", src)
			os.Unsetenv("AUDITLAKE_CPUPROFILE")
			if err != nil {
				return err
			}
			if pub {
				published = append(published, m)
				s3cpu = append(s3cpu, selfCPU()-before)
				s3faults = append(s3faults, selfFaults()-faults)
				s3reqs = append(s3reqs, reqs.String())
				_, _, man, err := openStore(data, "bench")
				if err != nil {
					return err
				}
				if err := checkPublished(fake.backend, "bench", fmt.Sprintf("round%d/", r), man); err != nil {
					return fmt.Errorf("round %d: %w", r+1, err)
				}
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
	fmt.Printf("## Publishing to S3 (gofakes3 on loopback), %d alternating rounds%s\n\n", rounds, warmedUp())
	fmt.Println("| ingest cloudtrail, SQL catalog | runs (wall) | median | CPU (user+sys) of the median run | peak RSS | ratio | target |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- |")
	fmt.Printf("| not published | %s | %.2f s | %.2f s | %d MiB | | |\n", walls(local), a.wall.Seconds(), a.cpu.Seconds(), a.maxRSS/1024)
	fmt.Printf("| published (every commit uploads first) | %s | %.2f s | %.2f s | %d MiB | %.2f× | ≤ 1.20×: %s |\n", walls(published), b.wall.Seconds(), b.cpu.Seconds(), b.maxRSS/1024, ratio, verdict)
	fmt.Printf("\nCPU (user+sys) of each round's ingest, not published / published: %s; the loopback S3's own CPU during each published ingest: %s (page faults: %s)\n", roundCPUs(local, published), durations(s3cpu), counts(s3faults))
	fmt.Printf("\nRequests to the loopback S3 during each published ingest: %s\n", strings.Join(s3reqs, "; "))
	return nil
}

// freshS3 serves S3 from a gofakes3 over an in-memory backend (s3mem) with one bucket, bench,
// replaced by a new one, empty, at each fresh.
type freshS3 struct {
	h       atomic.Pointer[http.Handler]
	backend *s3mem.Backend
}

func (f *freshS3) fresh() error {
	b := s3mem.New()
	if err := b.CreateBucket("bench"); err != nil {
		return err
	}
	h := gofakes3.New(b).Server()
	f.backend = b
	f.h.Store(&h)
	return nil
}

func (f *freshS3) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*f.h.Load()).ServeHTTP(w, r) }

// checkPublished checks that the store of manifest m is published whole under prefix of bucket:
// every live file of m is an object of the file's size, and the table's newest metadata
// (metadata/NNNNN-*.metadata.json) has a current snapshot of as many data files and records as m.
func checkPublished(b *s3mem.Backend, bucket, prefix string, m *lake.Manifest) error {
	for _, f := range m.Files {
		o, err := b.HeadObject(bucket, prefix+f.Path)
		if err != nil {
			return fmt.Errorf("published file %s: %w", f.Path, err)
		}
		if o.Size != f.Bytes {
			return fmt.Errorf("published file %s: %d bytes on S3, %d in the store", f.Path, o.Size, f.Bytes)
		}
	}
	p := gofakes3.NewPrefix(&prefix, nil)
	var newest string
	page := gofakes3.ListBucketPage{}
	for {
		list, err := b.ListBucket(bucket, &p, page)
		if err != nil {
			return err
		}
		for _, c := range list.Contents {
			if rel := strings.TrimPrefix(c.Key, prefix); strings.HasPrefix(rel, "metadata/") && strings.HasSuffix(rel, ".metadata.json") && rel > newest {
				newest = rel
			}
		}
		if !list.IsTruncated {
			break
		}
		page.HasMarker, page.Marker = true, list.NextMarker
	}
	if newest == "" {
		return fmt.Errorf("no table metadata under s3://%s/%s", bucket, prefix)
	}
	o, err := b.GetObject(bucket, prefix+newest, nil)
	if err != nil {
		return err
	}
	defer o.Contents.Close()
	var md struct {
		Current   int64 `json:"current-snapshot-id"`
		Snapshots []struct {
			ID      int64             `json:"snapshot-id"`
			Summary map[string]string `json:"summary"`
		} `json:"snapshots"`
	}
	if err := json.NewDecoder(o.Contents).Decode(&md); err != nil {
		return fmt.Errorf("%s: %w", newest, err)
	}
	for _, s := range md.Snapshots {
		if s.ID != md.Current {
			continue
		}
		files, rows := s.Summary["total-data-files"], s.Summary["total-records"]
		if files != strconv.Itoa(len(m.Files)) || rows != strconv.FormatInt(m.Rows(), 10) {
			return fmt.Errorf("%s: the current snapshot has %s data files and %s records, the store %d and %d", newest, files, rows, len(m.Files), m.Rows())
		}
		return nil
	}
	return fmt.Errorf("%s: no current snapshot", newest)
}

// selfCPU is the CPU time (user+sys) this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// selfFaults is the number of page faults (minor and major) this process has taken so far.
func selfFaults() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Minflt + ru.Majflt
}

func counts(ns []int64) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, ", ")
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
