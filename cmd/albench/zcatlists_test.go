package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestZcatListsSplitEvenlyAndCoverEveryFile: the baseline's two zcat lists hold every file
// once, their gzip bytes differ by at most the largest file, and the baseline's command
// decompresses all of them (the bytes two zcat write are the input's whole JSON).
func TestZcatListsSplitEvenlyAndCoverEveryFile(t *testing.T) {
	src := t.TempDir()
	var want int
	var largest int64
	for i := range 41 {
		var body bytes.Buffer
		for j := range (i*37)%101 + 1 { // uneven sizes, as the few-large shape's last file is
			fmt.Fprintf(&body, `{"eventID":"%d-%d","eventName":"RunInstances"}`, i, j)
		}
		want += body.Len()
		dir := filepath.Join(src, "AWSLogs", "1", "CloudTrail", "eu-west-1", fmt.Sprintf("%02d", i%7))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.NoCompression) // sizes on disk follow the JSON's
		zw.Write(body.Bytes())
		zw.Close()
		largest = max(largest, int64(gz.Len()))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.json.gz", i)), gz.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, _, err := gzFiles(src)
	if err != nil {
		t.Fatal(err)
	}
	halves, err := balance(files)
	if err != nil {
		t.Fatal(err)
	}
	var size [2]int64
	for i, h := range halves {
		for _, p := range h {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			size[i] += st.Size()
		}
	}
	if d := size[0] - size[1]; d > largest || -d > largest {
		t.Errorf("lists of %d and %d bytes differ by more than the largest file (%d)", size[0], size[1], largest)
	}
	got := slices.Concat(halves[0], halves[1])
	slices.Sort(got)
	if !slices.Equal(got, files) {
		t.Errorf("the lists hold %d files, not each of the %d once", len(got), len(files))
	}

	lists, err := zcatLists(src, filepath.Join(t.TempDir(), "work")) // not there yet, as -zcat-ab's may be
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", zcatTwo+" | wc -c", "sh", lists[0], lists[1]).Output()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(string(out), &n)
	if n != want {
		t.Errorf("two zcat wrote %d bytes, want the input's %d", n, want)
	}
	os.Remove(files[3]) // a file gone: the baseline fails rather than time less work
	if err := exec.Command("sh", "-c", zcatTwo+" > /dev/null", "sh", lists[0], lists[1]).Run(); err == nil {
		t.Error("two zcat with a file missing from a list did not fail")
	}
}
