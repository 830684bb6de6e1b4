package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
)

// trailRecord is one CloudTrail record of event id n at time at.
func trailRecord(n int, at time.Time) string {
	return fmt.Sprintf(`{"eventVersion":"1.08","eventTime":%q,"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","eventID":"00000000-0000-4000-8000-%012d","recipientAccountId":"111122223333","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}}`,
		at.UTC().Format(time.RFC3339), n)
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// cloudTrailStore opens a new lake with one CloudTrail store.
func cloudTrailStore(t *testing.T, name string, retentionDays int) (*lake.Lake, lake.Store) {
	t.Helper()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create(name, lake.CreateOptions{RetentionDays: retentionDays})
	if err != nil {
		t.Fatal(err)
	}
	return lk, st
}

// checkArithmetic fails unless every record the run read is counted in exactly one category.
func checkArithmetic(t *testing.T, run string, s *ingest.Summary) {
	t.Helper()
	if u := s.Unaccounted(); u != 0 {
		t.Errorf("%s: %d read, but %d added + %d duplicates + %d out of range + %d outside retention + %d filtered + %d bad + %d skipped leave %d unaccounted",
			run, s.Records, s.EventsAdded, s.Duplicates, s.OutOfRange, s.OutsideRetention, s.Filtered, s.BadRecords, s.SkippedRecords, u)
	}
	if files := s.FilesSkipped + s.FilesIngested + s.FilesFailed + s.FilesEmpty + s.FilesRefused; files != s.FilesSeen {
		t.Errorf("%s: %d files seen, but %d skipped + %d ingested + %d failed + %d empty + %d refused = %d",
			run, s.FilesSeen, s.FilesSkipped, s.FilesIngested, s.FilesFailed, s.FilesEmpty, s.FilesRefused, files)
	}
}

// TestTruncatedThenRestoredFileIsCountedOnceAndStaysFailedUntilRestored reproduces issue 14.11
// and 15.13: a truncated .json.gz fails (its good records are kept); ingesting the same unchanged
// file again fails again rather than "nothing new"; the restored file then adds the rest, and in
// every run each record read is counted once (the second and third runs read batches that hold
// nothing but duplicates, which used to go uncounted).
func TestTruncatedThenRestoredFileIsCountedOnceAndStaysFailedUntilRestored(t *testing.T) {
	ctx := context.Background()
	const n = 6000
	day := time.Now().UTC().AddDate(0, 0, -3).Truncate(24 * time.Hour)
	recs := make([]string, n)
	for i := range recs {
		recs[i] = trailRecord(i, day.Add(time.Duration(i)*time.Second))
	}
	whole := gzipped(t, `{"Records":[`+strings.Join(recs, ",")+`]}`)
	src := t.TempDir()
	path := filepath.Join(src, "111122223333_CloudTrail_us-east-1_trail.json.gz")
	if err := os.WriteFile(path, whole[:len(whole)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	lk, st := cloudTrailStore(t, "restored", 3653)
	ingestOnce := func(run string) *ingest.Summary {
		t.Helper()
		sum, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{src}, BatchRows: 500, Workers: 2})
		if err != nil {
			t.Fatalf("%s: %v", run, err)
		}
		checkArithmetic(t, run, sum)
		return sum
	}

	first := ingestOnce("truncated")
	if first.FilesFailed != 1 || !first.Partial() || first.EventsAdded == 0 || first.EventsAdded >= n {
		t.Fatalf("truncated: %d failed, %d added; want 1 failed and some but not all of %d events kept", first.FilesFailed, first.EventsAdded, n)
	}
	again := ingestOnce("truncated again")
	if again.FilesFailed != 1 || again.FilesSkipped != 0 || !again.Partial() {
		t.Fatalf("the unchanged truncated file: %d failed, %d skipped; want it failed again, not skipped", again.FilesFailed, again.FilesSkipped)
	}
	if again.EventsAdded != 0 || again.Duplicates != first.EventsAdded {
		t.Fatalf("truncated again: %d added, %d duplicates; want 0 and %d", again.EventsAdded, again.Duplicates, first.EventsAdded)
	}

	if err := os.WriteFile(path, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	restored := ingestOnce("restored")
	if restored.FilesIngested != 1 || restored.Partial() || restored.Records != n {
		t.Fatalf("restored: %d ingested, %d read, partial %v; want 1 file, %d records, no problem", restored.FilesIngested, restored.Records, restored.Partial(), n)
	}
	if restored.EventsAdded != n-first.EventsAdded || restored.Duplicates != first.EventsAdded {
		t.Fatalf("restored: %d added, %d duplicates; want %d and %d", restored.EventsAdded, restored.Duplicates, n-first.EventsAdded, first.EventsAdded)
	}
	last := ingestOnce("unchanged after restore")
	if last.FilesSkipped != 1 || last.Records != 0 {
		t.Fatalf("the restored file read whole is skipped next time: %d skipped, %d read", last.FilesSkipped, last.Records)
	}
}

// TestEveryRecordReadIsCountedOnceWhateverHappensToIt: one run with records of every fate —
// added, duplicated within the run, out of --from/--to, older than retention, left out by an
// advanced event selector, bad, not CloudTrail — and a text file, an empty file and an empty
// gzip file: each record counted once, each file once, each file said plainly what it was.
func TestEveryRecordReadIsCountedOnceWhateverHappensToIt(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	recent, old := now.AddDate(0, 0, -2), now.AddDate(0, 0, -40)
	src := t.TempDir()
	mixed := []string{
		trailRecord(1, recent), trailRecord(2, recent), trailRecord(1, recent), // one duplicate
		trailRecord(3, now), // after --to
		trailRecord(4, old), // older than retention (30 days)
		strings.Replace(trailRecord(5, recent), "DescribeInstances", "Decrypt", 1),
		`{"eventVersion":"1.08","eventTime":"not a time","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"bad"}`,
		`{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`,
	}
	writeFile(t, filepath.Join(src, "mixed.json"), []byte(`{"Records":[`+strings.Join(mixed, ",")+`]}`))
	writeFile(t, filepath.Join(src, "notes.json"), []byte("these are notes\nnot events\n"))
	writeFile(t, filepath.Join(src, "empty.json"), nil)
	writeFile(t, filepath.Join(src, "empty.json.gz"), gzipped(t, ""))

	lk, st := cloudTrailStore(t, "fates", 30)
	st.Selectors = []byte(`[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"eventName","NotEquals":["Decrypt"]}]}]`)
	sum, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{src}, To: now.AddDate(0, 0, -1)})
	if err != nil {
		t.Fatal(err)
	}
	checkArithmetic(t, "mixed", sum)
	type fates struct{ added, dups, outOfRange, retention, filtered, bad, skipped int64 }
	got := fates{sum.EventsAdded, sum.Duplicates, int64(sum.OutOfRange), int64(sum.OutsideRetention), int64(sum.Filtered), int64(sum.BadRecords), int64(sum.SkippedRecords)}
	// The text file's values are bad records too (how many is the decoder's business); it is
	// one problem.
	textBad := got.bad - 1
	if want := (fates{2, 1, 1, 1, 1, 1 + textBad, 1}); got != want || textBad < 1 {
		t.Errorf("fates %+v, want %+v with the text file's values bad", got, want)
	}
	if sum.FilesSeen != 4 || sum.FilesIngested != 0 || sum.FilesFailed != 2 || sum.FilesEmpty != 2 {
		t.Errorf("files: %d seen, %d ingested, %d failed, %d empty; want 4, 0, 2 (mixed has a bad record, notes is text), 2", sum.FilesSeen, sum.FilesIngested, sum.FilesFailed, sum.FilesEmpty)
	}
	var said []string
	for _, p := range sum.Problems {
		said = append(said, p.String())
	}
	text := strings.Join(said, "\n")
	for _, want := range []string{"notes.json: not CloudTrail JSON: record 1 (line 1): invalid JSON", "empty.json: warning: empty", "empty.json.gz: warning: empty"} {
		if !strings.Contains(text, want) {
			t.Errorf("problems do not say %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "notes.json") != 1 {
		t.Errorf("the text file is one problem, not one per line:\n%s", text)
	}
}

// TestDirectoryWithoutCloudTrailFilesIsSaid: a source holding no file that may hold events is
// a warning naming it, and nothing is counted as ingested.
func TestDirectoryWithoutCloudTrailFilesIsSaid(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "README.txt"), []byte("hello"))
	lk, st := cloudTrailStore(t, "nothing", 3653)
	sum, err := ingest.CloudTrail(context.Background(), lk, st, ingest.Options{Sources: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.FilesSeen != 0 || sum.FilesIngested != 0 || sum.Warnings != 1 || len(sum.Problems) != 1 ||
		sum.Problems[0].File != src || !strings.Contains(sum.Problems[0].Msg, "no CloudTrail files found") {
		t.Fatalf("%d seen, %d ingested, problems %v; want a warning naming %s", sum.FilesSeen, sum.FilesIngested, sum.Problems, src)
	}
}
