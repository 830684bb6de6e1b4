package cloudtrail_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// TestLibdeflateInflatesAsGo: gzip inflated by libdeflate gives what the Go path gives —
// records, counts, bytes, problems and errors — for every sample and for gzip that libdeflate
// must leave to Go: several members, a cut-off or damaged stream, bytes after the end, a
// trailer whose size lies, sizes over MaxInMemoryBytes or MaxDecompressedBytes, an empty file.
// It fails under CI if the machine has no libdeflate (then only the Go path would be tested).
func TestLibdeflateInflatesAsGo(t *testing.T) {
	if !cloudtrail.LibdeflateAvailable() {
		if os.Getenv("CI") == "true" {
			t.Fatal("libdeflate.so.0 not found: .ci/run installs Debian's libdeflate0")
		}
		t.Skip("libdeflate.so.0 not found")
	}
	defer cloudtrail.UseLibdeflate(true)
	type input struct {
		name string
		gz   []byte
		opts cloudtrail.DecodeOptions
		fast bool // libdeflate must inflate it
	}
	var ins []input
	for _, glob := range []string{"*/*.json*", "*/*/*.json*"} {
		files, _ := filepath.Glob(testdata + glob)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(p, ".gz") {
				b = gz(t, b)
			}
			ins = append(ins, input{name: p, gz: b, fast: true})
		}
	}
	if len(ins) < 20 {
		t.Fatalf("only %d samples", len(ins))
	}
	good := gz(t, []byte(`{"Records":[`+rec1+`,`+rec2+`]}`))
	cut := func(b []byte, n int) []byte { return bytes.Clone(b[:len(b)-n]) }
	flip := bytes.Clone(good)
	flip[len(flip)/2] ^= 0x55
	lie := bytes.Clone(good)
	binary.LittleEndian.PutUint32(lie[len(lie)-4:], binary.LittleEndian.Uint32(lie[len(lie)-4:])+7)
	ins = append(ins,
		input{name: "good", gz: good, fast: true},
		input{name: "empty", gz: gz(t, nil), fast: true},
		// Both the same size: the last member's size in the trailer fits the first exactly.
		input{name: "two members", gz: append(gz(t, []byte(rec1+"\n")), gz(t, []byte(rec1+"\n"))...)},
		input{name: "cut in the trailer", gz: cut(good, 3)},
		input{name: "cut in the data", gz: cut(good, len(good)/2)},
		input{name: "damaged", gz: flip},
		// Ending as the trailer does, so that its size is believable.
		input{name: "bytes after the end", gz: append(append(bytes.Clone(good), "junk"...), good[len(good)-4:]...)},
		input{name: "size in the trailer lies", gz: lie},
		input{name: "over MaxInMemoryBytes", gz: good, opts: cloudtrail.DecodeOptions{MaxInMemoryBytes: 100}},
		input{name: "over MaxDecompressedBytes", gz: good, opts: cloudtrail.DecodeOptions{MaxDecompressedBytes: 300}},
	)
	for _, in := range ins {
		before := cloudtrail.UseLibdeflate(false)
		slow := decode(t, in.gz, in.opts)
		cloudtrail.UseLibdeflate(true)
		fast := decode(t, in.gz, in.opts)
		after := cloudtrail.UseLibdeflate(true)
		if in.fast && after != before+1 {
			t.Errorf("%s: not inflated by libdeflate", in.name)
		}
		if (slow.err == nil) != (fast.err == nil) || (slow.err != nil && slow.err.Error() != fast.err.Error()) {
			t.Fatalf("%s: errors differ: Go %v, libdeflate %v", in.name, slow.err, fast.err)
		}
		sameResult(t, in.name+" (Go)", slow, in.name+" (libdeflate)", fast)
		if len(fast.recs) != len(slow.recs) || fast.st.Bytes != slow.st.Bytes {
			t.Fatalf("%s: %d records of %d bytes, Go %d of %d", in.name, len(fast.recs), fast.st.Bytes, len(slow.recs), slow.st.Bytes)
		}
	}
}
