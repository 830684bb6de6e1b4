package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Issue 21's targets 5 and 6 need a second data shape beside the generator's many small
// delivery files: few large files of a few thousand events each (several MB of JSON), as a
// busy account's trail delivers them. repack makes it from a generation: the same events, in
// delivery order (the generation's files ordered by the time in their names, as ingest reads
// them), cut into files of perFile records, under the same trail key layout (each file named
// after the first file it takes records from), so that both shapes hold exactly the same
// events, and a large file covers a span of time as a busy trail's does.
func repack(src, out string, perFile int) error {
	if perFile < 1 {
		return fmt.Errorf("-repack-events %d: must be at least 1", perFile)
	}
	files, _, err := gzFiles(src)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("repack: no .json.gz files under %s", src)
	}
	slices.SortStableFunc(files, func(a, b string) int { return cmp.Compare(keyTime(a), keyTime(b)) })
	var recs []json.RawMessage
	first, n := "", 0
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		rel, err := filepath.Rel(src, first)
		if err != nil {
			return err
		}
		rel = strings.TrimSuffix(rel, ".json.gz") + fmt.Sprintf("-big%05d.json.gz", n)
		n++
		p := filepath.Join(out, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
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
		recs, first = recs[:0], ""
		return os.WriteFile(p, gz.Bytes(), 0o644)
	}
	for _, f := range files {
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
	if err := flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "repack: %d files of up to %d events in %s\n", n, perFile, out)
	return nil
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
