package integrity_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/integrity"
	"github.com/auditlake/auditlake/internal/integrity/digesttest"
	"github.com/auditlake/auditlake/internal/objstore"
)

// BenchmarkValidate validates 48 hourly digests, each listing all 35 Stratus Red Team sample
// files (1,680 log files, 14,880 events), from a local copy and through in-process S3.
func BenchmarkValidate(b *testing.B) {
	dir := digesttest.RepoFile(b, "testdata/stratus-red-team-detonation-logs")
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	if len(names) < 5 {
		b.Skipf("only %d sample files in testdata", len(names))
	}
	samples := digesttest.Samples(b, names...)
	var size int64
	for _, s := range samples {
		size += int64(len(s) + len(`{"Records":}`))
	}
	hours := make([][][]byte, 48)
	for i := range hours {
		hours[i] = samples
	}
	key := digesttest.NewKey(b)
	tr := digesttest.Build(b, b.TempDir(), key, hours)
	keys := keySetTB(b, key)
	for _, backend := range []string{"local", "s3"} {
		b.Run(backend, func(b *testing.B) {
			client, source := objstore.New(objstore.Options{}), tr.Source()
			if backend == "s3" {
				client = objstore.New(objstore.Options{EndpointURL: tr.Serve(b)})
				source = "s3://" + tr.Bucket + "/"
			}
			b.SetBytes(size * int64(len(hours)))
			b.ResetTimer()
			for b.Loop() {
				rep, err := integrity.Validate(context.Background(), client, source, keys, time.Time{}, time.Time{})
				if err != nil {
					b.Fatal(err)
				}
				if c := rep.Counts(); !rep.OK() || c.Logs != len(samples)*len(hours) {
					b.Fatalf("%s", c)
				}
			}
			b.ReportMetric(float64(len(samples)*len(hours))*float64(b.N)/b.Elapsed().Seconds(), "logfiles/s")
		})
	}
}
