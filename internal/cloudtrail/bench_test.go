package cloudtrail_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"syscall"
	"time"

	"encoding/json"
	"fmt"
	kgzip "github.com/klauspost/compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// benchFile builds a realistic trail delivery file: the 310 real stratus records, compact, with
// fresh eventIDs, repeated to n records in one {"Records":[…]} object.
func benchFile(b *testing.B, n int) []byte {
	b.Helper()
	files, _ := filepath.Glob(testdata + "stratus-red-team-detonation-logs/*.json")
	var recs []json.RawMessage
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var rs []json.RawMessage
		if err := json.Unmarshal(data, &rs); err != nil {
			b.Fatal(err)
		}
		recs = append(recs, rs...)
	}
	var out bytes.Buffer
	out.WriteString(`{"Records":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			out.WriteByte(',')
		}
		var c bytes.Buffer
		if err := json.Compact(&c, recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		rec := bytes.Replace(c.Bytes(), []byte(`"eventID":"`), []byte(fmt.Sprintf(`"eventID":"%08d-`, i)), 1)
		out.Write(rec)
	}
	out.WriteString(`]}`)
	return out.Bytes()
}

// cpuTimer measures the process's CPU time (user+system), which on a shared machine is a steadier
// measure of cost than wall time.
type cpuTimer struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuTimer) begin() { c.start = cpuNow() }

// report adds "cpu-MB/s": bytes processed per second of CPU time.
func (c *cpuTimer) report(b *testing.B, bytesPerOp int) {
	if d := cpuNow() - c.start; d > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/d.Seconds()/1e6, "cpu-MB/s")
	}
}

// BenchmarkDecode reports throughput in bytes of decompressed JSON per second (wall and CPU).
// BenchmarkInflate measures gzip alone on the same file, the floor Decode's gzip case is
// compared with.
func BenchmarkDecode(b *testing.B) {
	plain := benchFile(b, 5000)
	zipped := gz(b, plain)
	for _, bc := range []struct {
		name string
		in   []byte
	}{{"gzip", zipped}, {"plain", plain}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			var cpu cpuTimer
			cpu.begin()
			for b.Loop() {
				n := 0
				_, err := cloudtrail.Decode(bytes.NewReader(bc.in), "bench.json.gz", cloudtrail.DecodeOptions{}, func(*cloudtrail.Record) error {
					n++
					return nil
				})
				if err != nil || n != 5000 {
					b.Fatalf("%d records, err %v", n, err)
				}
			}
			cpu.report(b, len(plain))
			b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkInflate(b *testing.B) {
	plain := benchFile(b, 5000)
	zipped := gz(b, plain)
	for _, bc := range []struct {
		name string
		open func(io.Reader) (io.Reader, error)
	}{
		{"klauspost", func(r io.Reader) (io.Reader, error) { return kgzip.NewReader(r) }},
		{"stdlib", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			var cpu cpuTimer
			cpu.begin()
			for b.Loop() {
				zr, err := bc.open(bytes.NewReader(zipped))
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, zr); err != nil || n != int64(len(plain)) {
					b.Fatalf("inflated %d bytes, err %v", n, err)
				}
			}
			cpu.report(b, len(plain))
		})
	}
}
