package lake

import (
	"fmt"
	"math/rand/v2"
	"path"
	"reflect"
	"testing"
	"time"
)

// TestIsCleanIsPathClean: every path of up to 7 characters of a, ".", "/" and "\\" is clean
// for isClean exactly when path.Clean leaves it as it is.
func TestIsCleanIsPathClean(t *testing.T) {
	alphabet := []byte("a./\\")
	var walk func(prefix []byte)
	walk = func(prefix []byte) {
		rel := string(prefix)
		if got, want := isClean(rel), path.Clean(rel) == rel; got != want {
			t.Errorf("isClean(%q) = %v, path.Clean gives %q", rel, got, path.Clean(rel))
		}
		if len(prefix) == 7 {
			return
		}
		for _, c := range alphabet {
			walk(append(prefix, c))
		}
	}
	walk(nil)
}

// retiredManifest is a manifest of n retired entries (and a few live files and segments), with
// times of every precision.
func retiredManifest(rng *rand.Rand, n int) *Manifest {
	at := func() time.Time {
		t := time.Date(2026, 12, 7, rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, time.UTC)
		switch rng.IntN(4) {
		case 0:
		case 1:
			t = t.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
		default:
			t = t.Add(time.Duration(rng.IntN(1e9)))
		}
		return t
	}
	m := &Manifest{Version: int64(1 + rng.IntN(1000)), CommittedAt: at(), Writer: fmt.Sprintf("w%d", rng.IntN(100))}
	for i := range rng.IntN(4) {
		m.Files = append(m.Files, DataFile{Path: fmt.Sprintf("data/eventdate=2026-12-0%d/part-%d.parquet", 1+i, rng.Uint32()), Date: fmt.Sprintf("2026-12-0%d", 1+i), Rows: 3, Bytes: 10, MinTime: at(), MaxTime: at()})
	}
	if rng.IntN(2) == 0 {
		m.StateSegments = []string{fmt.Sprintf("state/%08d-x.jsonl", rng.IntN(100))}
	}
	kinds := []string{"data/eventdate=2026-12-01/part-%d.parquet", "facts/v1/eventdate=2026-12-01/part-%d.parquet", "state/%08d-t.jsonl"}
	for range n {
		m.Retired = append(m.Retired, RetiredFile{Path: fmt.Sprintf(kinds[rng.IntN(len(kinds))], rng.Uint32()), At: at()})
	}
	return m
}

// TestWrittenManifestsDecodeAsEncodingJSONDoes: manifests as the writer encodes them decode
// by decodeWritten (which reads their retired lists itself) to exactly what encoding/json
// decodes them to.
func TestWrittenManifestsDecodeAsEncodingJSONDoes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var e manifestEncoder
	for i := range 300 {
		m := retiredManifest(rng, rng.IntN(3)*rng.IntN(200))
		b, err := e.encode(m)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeManifest(b)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeWritten(b)
		if ok != (len(m.Retired) > 0) {
			t.Fatalf("manifest %d (%d retired): read by decodeWritten %v", i, len(m.Retired), ok)
		}
		if ok && !reflect.DeepEqual(got, want) {
			t.Fatalf("manifest %d: decodeWritten\n%+v\nencoding/json\n%+v", i, got, want)
		}
	}
	// Paths and writers with characters JSON escapes, times in other zones, nil and empty
	// lists (randomManifest): what decodeWritten reads, it reads as encoding/json does.
	read := 0
	for i := range 300 {
		b, err := e.encode(randomManifest(rng, int64(1+i), rng.IntN(8)))
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeManifest(b)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := decodeWritten(b); ok {
			read++
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("manifest %d: decodeWritten\n%+v\nencoding/json\n%+v", i, got, want)
			}
		}
	}
	if read == 0 {
		t.Fatal("decodeWritten read none of the manifests with odd characters")
	}
}

// TestCorruptedManifestsReadAsBefore: a written manifest with bytes changed, added or removed
// (a damaged file, an edit by hand) reads — value or error, word for word — as encoding/json
// and the checks read it: decodeWritten reads what it can read exactly and leaves the rest.
func TestCorruptedManifestsReadAsBefore(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var e manifestEncoder
	alphabet := []byte(" \n\t{}[]:,\"\\aZ019.-/ép")
	fast := 0
	for i := range 4000 {
		b, err := e.encode(retiredManifest(rng, 1+rng.IntN(6)))
		if err != nil {
			t.Fatal(err)
		}
		for range 1 + rng.IntN(3) {
			p := rng.IntN(len(b))
			switch c := alphabet[rng.IntN(len(alphabet))]; rng.IntN(3) {
			case 0:
				b[p] = c
			case 1:
				b = append(b[:p], append([]byte{c}, b[p:]...)...)
			default:
				b = append(b[:p], b[p+1:]...)
			}
		}
		if _, ok := decodeWritten(b); ok {
			fast++
		}
		got, gotErr := parseManifest(b)
		want, wantErr := decodeManifest(b)
		if wantErr == nil {
			want, wantErr = checkManifest(want)
		}
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: %q\nread %+v, %v\nencoding/json %+v, %v", i, b, got, gotErr, want, wantErr)
		}
	}
	if fast < 100 || fast > 3900 {
		t.Fatalf("decodeWritten read %d of 4000 damaged manifests: the test does not exercise both ways", fast)
	}
	if testing.Verbose() {
		t.Logf("decodeWritten read %d of 4000", fast)
	}
}

// BenchmarkParseManifestWithRetired reads manifests of a store that retires a file a commit,
// as written, with 1,000 to 50,000 retired entries (a day at a commit every 2 s).
func BenchmarkParseManifestWithRetired(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		var e manifestEncoder
		buf, err := e.encode(retiredManifest(rand.New(rand.NewPCG(1, 1)), n))
		if err != nil {
			b.Fatal(err)
		}
		for _, how := range []string{"written", "encoding-json"} {
			b.Run(fmt.Sprintf("%d/%s", n, how), func(b *testing.B) {
				b.SetBytes(int64(len(buf)))
				for b.Loop() {
					var err error
					if how == "written" {
						_, err = parseManifest(buf)
					} else if m, derr := decodeManifest(buf); derr != nil {
						err = derr
					} else {
						_, err = checkManifest(m)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
