package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/ingest"
)

// TestANamedPipeGivenAsASourceIsRefusedNotWaitedFor names a FIFO as the source: opening it
// would wait for a writer for ever, in a system call that neither Ctrl-C nor SIGTERM ends. The
// run must fail at once, naming the path and what it is.
func TestANamedPipeGivenAsASourceIsRefusedNotWaitedFor(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "trail.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	lk, st := cloudTrailStore(t, "pipes", 3653)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{fifo}})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), fifo) || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("ingest of a FIFO: err %v; want an error naming %s as not a regular file", err, fifo)
		}
	case <-time.After(10 * time.Second):
		// Unblock the open so that the test ends.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatalf("ingest of a FIFO still waiting after 10 s")
	}
}

// TestSymlinkedFilesInASourceDirectoryAreIngested puts a trail file in a directory as a
// symbolic link (as a link farm or git-annex does): its events are ingested, as they are when
// the link itself is named, instead of being passed over without a word.
func TestSymlinkedFilesInASourceDirectoryAreIngested(t *testing.T) {
	elsewhere := filepath.Join(t.TempDir(), "real.json")
	at := time.Now().UTC().Add(-time.Hour)
	writeFile(t, elsewhere, []byte(`{"Records":[`+trailRecord(1, at)+`]}`))
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "plain.json"), []byte(`{"Records":[`+trailRecord(2, at)+`]}`))
	if err := os.Symlink(elsewhere, filepath.Join(src, "linked.json")); err != nil {
		t.Fatal(err)
	}
	// A link back to the directory itself is not followed (no loop) and a FIFO is passed over.
	if err := os.Symlink(src, filepath.Join(src, "loop")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(src, "pipe.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	lk, st := cloudTrailStore(t, "links", 3653)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	checkArithmetic(t, "links", sum)
	if sum.FilesIngested != 2 || sum.EventsAdded != 2 {
		t.Fatalf("%d files ingested, %d events added, problems %v; want 2 and 2 (the plain file and the linked one)", sum.FilesIngested, sum.EventsAdded, sum.Problems)
	}
}
