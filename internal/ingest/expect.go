package ingest

import (
	"crypto/sha256"
	hexenc "encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

// refusedError is a file refused as a whole by Options.Expect: nothing of it is ingested.
type refusedError struct{ reason string }

func (e *refusedError) Error() string { return "refused: " + e.reason }

// spoolChecked copies rc (an object's bytes as stored) into a temporary file in dir while it
// hashes them, closes rc, and returns the copy to read (removed when closed) if its SHA-256 is
// want, else a *refusedError. Decoding the copy, not the object, means the bytes ingested are
// the bytes checked.
func spoolChecked(rc io.ReadCloser, dir, uri, want string) (io.ReadCloser, error) {
	defer rc.Close()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("copy %q to check its hash: %w", uri, err)
	}
	f, err := os.CreateTemp(dir, "lake-export-*")
	if err != nil {
		return nil, fmt.Errorf("copy %q to check its hash: %w", uri, err)
	}
	os.Remove(f.Name()) // unlinked at once: the open file is all that is needed
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), rc); err != nil {
		f.Close()
		return nil, fmt.Errorf("read %q: %w", uri, err)
	}
	got := hexenc.EncodeToString(h.Sum(nil))
	if !strings.EqualFold(got, want) {
		f.Close()
		return nil, &refusedError{reason: fmt.Sprintf("SHA-256 %s differs from the sign file's %s (modified after delivery)", got, want)}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy %q to check its hash: %w", uri, err)
	}
	return f, nil
}
