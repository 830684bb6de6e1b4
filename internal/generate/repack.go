package generate

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Repack makes the second data shape of a generation (issue 21 targets 5 and 6): beside the
// generator's many small delivery files, few large files of a few thousand events each, as a
// busy account's trail delivers them. It writes the events of every delivery file under src, in
// delivery order (the files ordered by the time in their names, as ingest reads them), into out
// as files of perFile records, under the same trail key layout (each file named after the first
// file it takes records from), so that both shapes hold exactly the same events and a large
// file covers a span of time as a busy trail's does. It returns how many files and records it
// wrote.
func Repack(src, out string, perFile int) (files, records int, err error) {
	if perFile < 1 {
		return 0, 0, fmt.Errorf("repack %d events a file: must be at least 1", perFile)
	}
	var in []string
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json.gz") && !strings.Contains(p, "CloudTrail-Digest") {
			in = append(in, p)
		}
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	if len(in) == 0 {
		return 0, 0, fmt.Errorf("repack: no .json.gz files under %s", src)
	}
	slices.Sort(in)
	slices.SortStableFunc(in, func(a, b string) int { return cmp.Compare(keyTime(a), keyTime(b)) })
	// The files are compressed by one worker per CPU (gzip's default level is most of the
	// time: 10M events took over an hour on one CPU), each written whole under a temporary name
	// and renamed, in whatever order they finish; their names and contents do not depend on it.
	type outFile struct {
		path string
		recs []json.RawMessage
	}
	work := make(chan outFile, runtime.NumCPU())
	errs := make(chan error, runtime.NumCPU())
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var failed error
			for f := range work {
				if failed == nil {
					failed = writeRepacked(f.path, f.recs)
				}
			}
			errs <- failed
		}()
	}
	finish := func() error {
		close(work)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	var recs []json.RawMessage
	first := ""
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		rel, err := filepath.Rel(src, first)
		if err != nil {
			return err
		}
		rel = strings.TrimSuffix(rel, ".json.gz") + fmt.Sprintf("-big%05d.json.gz", files)
		files++
		records += len(recs)
		work <- outFile{filepath.Join(out, rel), recs}
		recs, first = nil, ""
		return nil
	}
	err = func() error {
		for _, f := range in {
			fh, err := os.Open(f)
			if err != nil {
				return err
			}
			zr, err := gzip.NewReader(fh)
			if err != nil {
				fh.Close()
				return fmt.Errorf("%s: %w", f, err)
			}
			var doc struct{ Records []json.RawMessage }
			err = json.NewDecoder(zr).Decode(&doc)
			fh.Close()
			if err != nil && err != io.EOF {
				return fmt.Errorf("%s: %w", f, err)
			}
			for _, r := range doc.Records {
				if first == "" {
					first = f
				}
				recs = append(recs, r)
				if len(recs) == perFile {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		return flush()
	}()
	if ferr := finish(); err == nil {
		err = ferr
	}
	return files, records, err
}

// writeRepacked writes recs as a CloudTrail log file at path (gzip, the default level).
func writeRepacked(path string, recs []json.RawMessage) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var body bytes.Buffer
	body.WriteString(`{"Records":[`)
	for i, r := range recs {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(r)
	}
	body.WriteString("]}")
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if _, err := zw.Write(body.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, gz.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// keyTime is the delivery time in a trail file's name (…_CloudTrail_us-east-1_20260901T0005Z_…),
// "" when it has none.
func keyTime(p string) string {
	for _, part := range strings.Split(filepath.Base(p), "_") {
		if len(part) == 14 && part[8] == 'T' && part[13] == 'Z' {
			return part
		}
	}
	return ""
}
