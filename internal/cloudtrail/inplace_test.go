package cloudtrail_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// padded is a record of event id id whose requestParameters hold pad bytes.
func padded(id string, pad int) string {
	return `{"eventVersion":"1.08","eventTime":"2026-05-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"` + id +
		`","recipientAccountId":"111122223333","requestParameters":{"p":"` + strings.Repeat("x", pad) + `"}}`
}

// Issue 21 target 6: a busy trail's delivery file — thousands of ordinary records, 7–10 MB of
// JSON — is decoded in place while another decoder holds the large-item token. Before, an input
// of 4 MiB or more decoded in place took that token for all of its decoding, so the two
// decoding workers of an ingest decoded such files one at a time (and one waited whenever the
// other had a large record anywhere).
func TestLargeInputOfOrdinaryRecordsDoesNotWaitForALargeItem(t *testing.T) {
	// Decoder A holds the token: Reserve is called holding it, and waits here.
	holding, release := make(chan struct{}), make(chan struct{})
	aErr := make(chan error, 1)
	go func() {
		in := `{"Records":[` + padded("huge", 5<<20) + `]}`
		_, err := cloudtrail.Decode(strings.NewReader(in), "a.json", cloudtrail.DecodeOptions{MaxInMemoryBytes: -1,
			Reserve: func(int) error { close(holding); <-release; return nil }},
			func(*cloudtrail.Record) error { return nil })
		aErr <- err
	}()
	<-holding
	defer func() {
		close(release)
		if err := <-aErr; err != nil {
			t.Errorf("decoder A: %v", err)
		}
	}()

	// Decoder B: 6,000 records of 1 KB, read whole and decoded in place; reserved once.
	const n = 6000
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(padded(fmt.Sprintf("ordinary-%d", i), 1000))
	}
	b.WriteString(`]}`)
	in := b.String()
	if len(in) < 4<<20 {
		t.Fatalf("the input is %d bytes: it must be a large one", len(in))
	}
	var asked []int
	done := make(chan result, 1)
	go func() {
		var res result // not decode(t, …): on failure this ends after the test
		res.st, res.err = cloudtrail.Decode(strings.NewReader(in), "b.json", cloudtrail.DecodeOptions{MaxInMemoryBytes: 16 << 20, Reserve: func(n int) error {
			asked = append(asked, n)
			return nil
		}}, func(r *cloudtrail.Record) error {
			res.recs = append(res.recs, r)
			return nil
		})
		done <- res
	}()
	select {
	case res := <-done:
		if res.err != nil || len(res.recs) != n {
			t.Fatalf("%d records, %v; want %d", len(res.recs), res.err, n)
		}
		if len(asked) != 1 || asked[0] != len(in) {
			t.Errorf("Reserve asked %v; want once, for the %d bytes of the input", asked, len(in))
		}
	case <-time.After(time.Minute): // a deadlock guard, not a speed limit: it takes milliseconds
		t.Fatal("a large input of ordinary records waited for another decoder's large item")
	}
}

// A large record inside an input decoded in place is decoded like a streamed one (the general
// path, which holds the large-item token for it); the input is reserved once, for all of it,
// the large record included.
func TestLargeRecordInAnInputDecodedInPlace(t *testing.T) {
	in := `{"Records":[` + padded("a", 100) + "," + padded("large", 5<<20) + "," + padded("b", 100) + `]}`
	var asked []int
	inPlace := decode(t, []byte(in), cloudtrail.DecodeOptions{MaxInMemoryBytes: 16 << 20, Reserve: func(n int) error {
		asked = append(asked, n)
		return nil
	}})
	streamed := decode(t, []byte(in), cloudtrail.DecodeOptions{MaxInMemoryBytes: -1})
	if inPlace.err != nil || len(inPlace.recs) != 3 || len(asked) != 1 || asked[0] != len(in) {
		t.Fatalf("in place: %d records, %v, Reserve asked %v; want 3, no error, one ask of %d", len(inPlace.recs), inPlace.err, asked, len(in))
	}
	if !slices.EqualFunc(inPlace.recs, streamed.recs, func(a, b *cloudtrail.Record) bool {
		return a.EventID == b.EventID && a.EventJSON == b.EventJSON && a.EventJSONChecksum == b.EventJSONChecksum &&
			slices.EqualFunc(a.RequestParameters, b.RequestParameters, func(x, y cloudtrail.KV) bool {
				return x.Key == y.Key && (x.Value == nil) == (y.Value == nil) && (x.Value == nil || *x.Value == *y.Value)
			})
	}) {
		t.Error("the records decoded in place differ from the records streamed")
	}
	// A refused reservation stops the input before any record.
	res := decode(t, []byte(in), cloudtrail.DecodeOptions{MaxInMemoryBytes: 16 << 20, Reserve: func(int) error { return errors.New("no room") }})
	if res.err == nil || !strings.Contains(res.err.Error(), "no room") || len(res.recs) != 0 {
		t.Errorf("a refused Reserve gave %d records and %v; want none and its error", len(res.recs), res.err)
	}
}
