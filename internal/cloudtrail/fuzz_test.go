package cloudtrail_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// FuzzDecode checks that no input crashes the decoder, that every record it emits satisfies the
// record invariants (checkInvariants), and that neither gzip nor decoding in place (the input
// in memory) rather than streamed changes anything about the result.
func FuzzDecode(f *testing.F) {
	for _, glob := range []string{"*/*.json*", "*/*/*.json*"} {
		files, _ := filepath.Glob(testdata + glob)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"Records":[` + rec1 + `,` + rec2 + `]}`))
	f.Add([]byte(rec1 + "\n" + rec2))
	f.Add([]byte(`{"CloudTrailEvent":"{\"eventTime\":\"2024-01-02T03:04:05Z\",\"eventName\":\"\\ud800x\"}"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		opts := cloudtrail.DecodeOptions{MaxRecordBytes: 1 << 20, MaxDepth: 64}
		plain := decode(t, in, opts)
		// Streamed and read one byte at a time: every chunk boundary everywhere.
		sameResult(t, "plain", plain, "streamed one byte at a time", streamed(in, opts))
		if len(in) > 1 && in[0] == 0x1f && in[1] == 0x8b {
			return
		}
		zipped := decode(t, gz(t, in), opts)
		sameResult(t, "plain", plain, "gzip", zipped)
		streamOpts := opts
		streamOpts.MaxInMemoryBytes = -1
		sameResult(t, "plain", plain, "gzip streamed", decode(t, gz(t, in), streamOpts))
	})
}

// streamed decodes in without holding it in memory (so never in place), reading one byte at a
// time.
func streamed(in []byte, opts cloudtrail.DecodeOptions) result {
	opts.MaxInMemoryBytes = -1
	var res result
	res.st, res.err = cloudtrail.Decode(iotest.OneByteReader(bytes.NewReader(in)), "in.json", opts, func(r *cloudtrail.Record) error {
		res.recs = append(res.recs, r)
		return nil
	})
	return res
}

func sameResult(t *testing.T, an string, a result, bn string, b result) {
	t.Helper()
	if (a.err == nil) != (b.err == nil) || a.st.Records != b.st.Records || a.st.Errors != b.st.Errors ||
		a.st.Skipped != b.st.Skipped || a.st.Warnings != b.st.Warnings || (a.err == nil && a.st.Bytes != b.st.Bytes) {
		t.Fatalf("%s: %+v %v\n%s: %+v %v", an, a.st, a.err, bn, b.st, b.err)
	}
	if !reflect.DeepEqual(a.st.Problems, b.st.Problems) {
		t.Fatalf("problems differ:\n%s: %v\n%s: %v", an, a.st.Problems, bn, b.st.Problems)
	}
	for i := range a.recs {
		if !reflect.DeepEqual(a.recs[i], b.recs[i]) {
			t.Fatalf("record %d differs between %s and %s input", i, an, bn)
		}
	}
}

// TestDecodeDoesNotDependOnReadSizes decodes every sample in place (whole, in memory) and
// streamed one byte per Read.
func TestDecodeDoesNotDependOnReadSizes(t *testing.T) {
	files, _ := filepath.Glob(testdata + "*/*.json*")
	more, _ := filepath.Glob(testdata + "*/*/*.json*")
	for _, p := range append(files, more...) {
		in, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sameResult(t, p, decode(t, in, cloudtrail.DecodeOptions{}), "streamed one byte at a time", streamed(in, cloudtrail.DecodeOptions{}))
	}
}

// TestDecodeKeepsTheRecordsBeforeAReadError: an object whose reading fails part way (a dropped
// connection) gives the records before the failure and the read error, held in memory or
// streamed, gzip or plain.
func TestDecodeKeepsTheRecordsBeforeAReadError(t *testing.T) {
	boom := errors.New("connection reset")
	var lines []string
	for i := range 200 {
		lines = append(lines, fmt.Sprintf(`{"eventTime":"2024-01-02T03:04:05Z","eventName":"E%d","eventID":"id-%d"}`, i, i))
	}
	plain := []byte(strings.Join(lines, "\n"))
	for _, tc := range []struct {
		name string
		in   []byte
	}{{"plain", plain}, {"gzip", gz(t, plain)}} {
		for _, maxInMemory := range []int{0, -1} {
			cut := io.MultiReader(bytes.NewReader(tc.in[:len(tc.in)*3/4]), iotest.ErrReader(boom))
			n := 0
			_, err := cloudtrail.Decode(cut, "cut.json", cloudtrail.DecodeOptions{MaxInMemoryBytes: maxInMemory}, func(*cloudtrail.Record) error {
				n++
				return nil
			})
			if !errors.Is(err, boom) || n == 0 || n >= len(lines) {
				t.Errorf("%s, MaxInMemoryBytes %d: %d records, err %v; want some records, then %v", tc.name, maxInMemory, n, err, boom)
			}
		}
	}
}

// TestRecordsGivenTheirOwnMemoryAreUnchanged: when Keep refuses most records, the kept ones are
// given memory of their own (decoded again from a copy of their JSON); each must equal the same
// record decoded without Keep, for every sample.
func TestRecordsGivenTheirOwnMemoryAreUnchanged(t *testing.T) {
	files, _ := filepath.Glob(testdata + "*/*.json*")
	more, _ := filepath.Glob(testdata + "*/*/*.json*")
	checked := 0
	for _, p := range append(files, more...) {
		in, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all := decode(t, in, cloudtrail.DecodeOptions{})
		n := 0
		var some []*cloudtrail.Record
		cloudtrail.Decode(bytes.NewReader(in), p, cloudtrail.DecodeOptions{Keep: func(*cloudtrail.Record) bool {
			n++
			return n%10 == 1
		}}, func(r *cloudtrail.Record) error {
			some = append(some, r)
			return nil
		})
		for i, r := range some {
			if want := all.recs[i*10]; !reflect.DeepEqual(r, want) {
				t.Fatalf("%s: kept record %d differs from the same record decoded without Keep:\n%+v\n%+v", p, i, r, want)
			}
			checked++
		}
	}
	if checked < 100 {
		t.Fatalf("only %d records checked", checked)
	}
}
