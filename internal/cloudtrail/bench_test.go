package cloudtrail_test

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// BenchmarkDecode reports throughput in bytes of decompressed JSON per second.
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
			b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
