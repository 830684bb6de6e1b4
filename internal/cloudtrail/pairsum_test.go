package cloudtrail_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// pairInput is a delivery file of n records of varied sizes (a few bytes to several blocks of
// SHA-256 apart) where record noID has no eventID (its id is derived from its own hash at once,
// between records whose checksums are computed two at a time).
func pairInput(n, noID int) []byte {
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		id := fmt.Sprintf(`"eventID":"00000000-0000-0000-0000-%012d",`, i)
		if i == noID {
			id = ""
		}
		fmt.Fprintf(&b, `{"eventVersion":"1.08",%s"eventTime":"2026-09-01T00:00:%02dZ","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","requestParameters":{"pad":"%s"}}`,
			id, i%60, strings.Repeat("x", (i*97)%700))
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// The checksums computed two records at a time are each record's own, and the records leave the
// decoder in their order: an odd count (the last one alone), a record whose id comes from its hash
// in between, records Keep refuses — whole in memory, gzip, and streamed.
func TestChecksumsComputedInPairsKeepTheRecordsAndTheirOrder(t *testing.T) {
	const n = 41
	in := pairInput(n, 17)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(in)
	zw.Close()
	for _, c := range []struct {
		name string
		in   []byte
		opts cloudtrail.DecodeOptions
	}{
		{"whole", in, cloudtrail.DecodeOptions{}},
		{"gzip", gz.Bytes(), cloudtrail.DecodeOptions{}},
		{"streamed", in, cloudtrail.DecodeOptions{MaxInMemoryBytes: -1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			refused := 0
			c.opts.Keep = func(r *cloudtrail.Record) bool {
				if len(r.EventJSONChecksum) != 64 {
					t.Errorf("Keep saw record %s without its checksum", r.EventID)
				}
				if r.EventTime.Second()%10 == 3 {
					refused++
					return false
				}
				return true
			}
			var res result
			res.st, res.err = cloudtrail.Decode(bytes.NewReader(c.in), "in.json", c.opts, func(r *cloudtrail.Record) error {
				res.recs = append(res.recs, r)
				return nil
			})
			if res.err != nil || res.st.Records != n {
				t.Fatalf("%d records decoded, %v", res.st.Records, res.err)
			}
			if refused != 4 || len(res.recs) != n-refused {
				t.Fatalf("%d records emitted, %d refused, want %d and 4", len(res.recs), refused, n-4)
			}
			prev := -1
			for _, r := range res.recs {
				sec := r.EventTime.Second()
				if sec <= prev {
					t.Fatalf("record of second %d after second %d: out of order", sec, prev)
				}
				prev = sec
				if sum := sha256.Sum256([]byte(r.EventJSON)); r.EventJSONChecksum != hex.EncodeToString(sum[:]) {
					t.Errorf("record of second %d: checksum %s is not its JSON's", sec, r.EventJSONChecksum)
				}
				if sec == 17 {
					sum := sha256.Sum256([]byte(r.EventJSON))
					if !strings.HasPrefix(hex.EncodeToString(sum[:]), strings.ReplaceAll(r.EventID, "-", "")[:8]) {
						t.Errorf("record without eventID: id %s not derived from its hash", r.EventID)
					}
				}
			}
		})
	}
}

// An emit error of a streamed input names the record it was emitting, also when that record
// waited for the next one's checksum.
func TestEmitErrorOfAPairedRecordNamesIt(t *testing.T) {
	in := pairInput(6, -1)
	stop := errors.New("stop")
	for want := range 6 {
		seen := 0
		_, err := cloudtrail.Decode(bytes.NewReader(in), "in.json", cloudtrail.DecodeOptions{MaxInMemoryBytes: -1}, func(r *cloudtrail.Record) error {
			if seen == want {
				return stop
			}
			seen++
			return nil
		})
		if !errors.Is(err, stop) || !strings.Contains(err.Error(), fmt.Sprintf("record %d ", want+1)) {
			t.Errorf("emit failing at record %d: %v", want+1, err)
		}
	}
}

// With DeferChecksum (an unpublished store) no checksum is computed, and the order is the same.
func TestDeferredChecksumsStayEmpty(t *testing.T) {
	var recs []*cloudtrail.Record
	_, err := cloudtrail.Decode(bytes.NewReader(pairInput(9, 4)), "in.json", cloudtrail.DecodeOptions{DeferChecksum: true}, func(r *cloudtrail.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil || len(recs) != 9 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	for i, r := range recs {
		if r.EventTime.Second() != i {
			t.Fatalf("record %d is the one of second %d", i, r.EventTime.Second())
		}
		if (r.EventJSONChecksum == "") != (i != 4) {
			t.Errorf("record %d: checksum %q (only the one without eventID has its own)", i, r.EventJSONChecksum)
		}
	}
}

// TestChecksumsComputedInBatchesKeepTheRecordsAndTheirOrder: 300 records, their checksums
// computed many at a time (batches of 64 with AVX-512: several full batches and a partial
// one) or in pairs, a record without eventID in the middle of a batch (hashed on its own, the
// records before it emitted first), and records Keep refuses: every record leaves the decoder
// once, in its order, with its own JSON's checksum, whole in memory and streamed.
func TestChecksumsComputedInBatchesKeepTheRecordsAndTheirOrder(t *testing.T) {
	const n, noID = 300, 150
	in := pairInput(n, noID)
	for _, sixteen := range []bool{true, false} {
		for _, opts := range []cloudtrail.DecodeOptions{{}, {MaxInMemoryBytes: -1}} {
			t.Run(fmt.Sprintf("sixteen=%v/streamed=%v", sixteen, opts.MaxInMemoryBytes < 0), func(t *testing.T) {
				defer cloudtrail.HashSixteen(cloudtrail.HashSixteen(sixteen))
				refused := 0
				opts.Keep = func(r *cloudtrail.Record) bool {
					if len(r.EventJSONChecksum) != 64 {
						t.Errorf("Keep saw record %s without its checksum", r.EventID)
					}
					if strings.HasSuffix(r.EventID, "3") {
						refused++
						return false
					}
					return true
				}
				var got []string
				st, err := cloudtrail.Decode(bytes.NewReader(in), "in.json", opts, func(r *cloudtrail.Record) error {
					if sum := sha256.Sum256([]byte(r.EventJSON)); r.EventJSONChecksum != hex.EncodeToString(sum[:]) {
						t.Errorf("record %s: checksum %s is not its JSON's", r.EventID, r.EventJSONChecksum)
					}
					got = append(got, r.EventID)
					return nil
				})
				if err != nil || st.Records != n {
					t.Fatalf("%d records decoded, %v", st.Records, err)
				}
				var want []string
				for i := range n {
					id := fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
					if i == noID {
						id = "" // derived from its hash: matched by position below
					} else if strings.HasSuffix(id, "3") {
						continue
					}
					want = append(want, id)
				}
				if len(got) != len(want) || n-refused != len(want) {
					t.Fatalf("%d records emitted, %d refused; want %d emitted", len(got), refused, len(want))
				}
				for i := range want {
					if want[i] != "" && got[i] != want[i] {
						t.Fatalf("record %d is %s, want %s: out of order", i, got[i], want[i])
					}
					if want[i] == "" && strings.HasPrefix(got[i], "00000000-0000-0000-0000-") {
						t.Fatalf("record %d is %s, want the one without eventID", i, got[i])
					}
				}
			})
		}
	}
}
