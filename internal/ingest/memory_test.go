package ingest_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
)

// writeHugeRecords writes a trail file {"Records":[…]} of n valid CloudTrail events, gzipped,
// whose requestParameters hold about size bytes each: one string of that length (shape
// "string"), or that many bytes of small entries, "k000000001":"v" (shape "entries": about a
// million map entries in 15 MB, the decoded form's worst case). The strings compress a
// thousand times: 66 records of 15 MB make a 1 MB file.
func writeHugeRecords(t testing.TB, path string, n, size int, shape string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	w := bufio.NewWriterSize(zw, 1<<20)
	io.WriteString(w, `{"Records":[`)
	filler := strings.Repeat("x", 1<<16)
	for i := range n {
		if i > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/big","accountId":"111122223333","userName":"big"},"eventTime":"2026-05-01T10:%02d:%02dZ","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","userAgent":"aws-cli/2","requestParameters":{"bucketName":"big-%d",`, i/60, i%60, i)
		switch shape {
		case "string":
			io.WriteString(w, `"policy":"`)
			for k := 0; k < size; k += len(filler) {
				io.WriteString(w, filler[:min(len(filler), size-k)])
			}
			w.WriteByte('"')
		case "entries":
			for k := 0; (k+1)*16 < size; k++ {
				if k > 0 {
					w.WriteByte(',')
				}
				fmt.Fprintf(w, `"k%09d":"v"`, k)
			}
		default:
			t.Fatalf("unknown shape %q", shape)
		}
		fmt.Fprintf(w, `},"responseElements":null,"requestID":"REQ%d","eventID":"00000000-0000-4000-8000-%012d","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`, i, i)
	}
	io.WriteString(w, `]}`)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// peakLiveHeap samples the Go heap's live bytes (as of each collection) until stop is called,
// which returns the largest value seen.
func peakLiveHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak uint64
	done, finished := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go func() {
		defer close(finished)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		once.Do(func() { close(done) })
		<-finished
		return peak
	}
}

// ingestHuge ingests one file of n huge records into a new store with the given budget (0: the
// default), checks that every event is stored once, and returns the peak live Go heap.
func ingestHuge(t *testing.T, n, size int, shape string, budget int64) uint64 {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "huge.json.gz")
	writeHugeRecords(t, src, n, size, shape)
	fi, _ := os.Stat(src)
	lk, err := lake.Open(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("huge", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC() // the file's writing is not the ingest's
	stop := peakLiveHeap()
	sum, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{src}, MemoryBudget: budget})
	peak := stop()
	if err != nil {
		t.Fatal(err)
	}
	if sum.EventsAdded != int64(n) || sum.Errors != 0 || sum.Warnings != 0 {
		t.Fatalf("%d events added, %d errors, %d warnings; want %d, 0, 0 (problems: %v)", sum.EventsAdded, sum.Errors, sum.Warnings, n, sum.Problems)
	}
	s := checkEvents(t, lk, "huge", int64(n))
	defer s.Close()
	res, err := s.Run(ctx, fmt.Sprintf(`SELECT count(DISTINCT eventid) FROM "aws:cloudtrail".huge WHERE length(eventjson) > %d`, size))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Rows[0][0].(int64); got != int64(n) {
		t.Fatalf("%d distinct events hold their whole JSON, want %d", got, n)
	}
	t.Logf("%d records of %d bytes (%s), %.2f MB gzip: peak live heap %d MiB", n, size, shape, float64(fi.Size())/1e6, peak>>20)
	return peak
}

// TestHugeRecordsAreIngestedInBoundedMemory: records of 15 MB (under the 16 MiB limit) — one
// huge string each, or a million small map entries each — are all stored, while the Go heap
// holds about the ingest's memory budget, not every record at once: before, a batch gathered
// all of them (20 events a batch of 20,000 could hold) and each cost up to ten times its size
// (145 MB per record in the attack of issue 14; make stress runs its inputs).
func TestHugeRecordsAreIngestedInBoundedMemory(t *testing.T) {
	const budget = 64 << 20
	// 16 records of a 15 MB string: before, the heap held all of them (259 MiB; 114 MiB for 8,
	// 1 GiB for 66); the bound is the budget's records and, besides, one record being decoded
	// and one being written with its pages (15 MB each, several copies).
	const bound = budget + 96<<20
	if peak := ingestHuge(t, 16, 15_000_000, "string", budget); peak > bound {
		t.Errorf("peak live heap %d MiB with a budget of %d MiB, want at most %d MiB", peak>>20, budget>>20, bound>>20)
	}
	// A record of a million entries costs about 200 MB to decode and write, whatever the
	// budget (its weight is more than the whole budget: it is handled alone); before, 4 of
	// them held 536 MiB.
	if peak := ingestHuge(t, 4, 15_000_000, "entries", budget); peak > 320<<20 {
		t.Errorf("peak live heap %d MiB for 4 records of a million entries, want at most 320 MiB (one at a time)", peak>>20)
	}
}

// TestStressHugeRecordsOfTheIssueInBoundedMemory ingests the inputs of issue 14 — 20, 40 and
// 66 CloudTrail records of 15 MB each, the last a 1 MB .json.gz — with the default budget:
// every event is stored, and the peak live heap stays the same whatever their number, under
// 512 MiB (docs/reliability.md "Hardening II: ingest memory" has the peak RSS of the command).
// Before, 66 records held about 1 GiB. Slow (a gigabyte of JSON to write and read): make stress.
func TestStressHugeRecordsOfTheIssueInBoundedMemory(t *testing.T) {
	if os.Getenv("AUDITLAKE_STRESS") == "" {
		t.Skip("AUDITLAKE_STRESS=1 (make stress) runs the 1 GB inputs")
	}
	for _, n := range []int{20, 40, 66} {
		if peak := ingestHuge(t, n, 15_000_000, "string", 0); peak > 512<<20 {
			t.Errorf("%d records: peak live heap %d MiB, want at most 512 MiB", n, peak>>20)
		}
	}
}
