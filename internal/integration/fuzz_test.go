package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// FuzzValidate feeds arbitrary bytes through the PutAuditEvents file reader and validator: no
// input panics; every event is either accepted or refused with one of the documented error
// codes and its own id; every accepted event turns into a row whose eventID is the stable
// channel-scoped UUID and whose stored JSON parses.
func FuzzValidate(f *testing.F) {
	// Real CloudTrail records (not audit events) exercise the refusal paths with real shapes:
	// the small files only, as the engine mutates a large input slowly (the first four samples,
	// 25-94 KB, left it a few dozen runs in 5 s).
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs", "*.json"))
	added := 0
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 8<<10 && added < 4 {
			f.Add(b)
			added++
		}
	}
	if added == 0 {
		f.Fatal("no small CloudTrail sample to seed with")
	}
	good := `{"version":"1.0","userIdentity":{"type":"Employee","principalId":"alice","details":{"k":[1]}},"eventSource":"app.example.com",` +
		`"eventName":"Login","eventTime":"2026-03-01T10:00:00Z","UID":"u-1","recipientAccountId":"111122223333",` +
		`"requestParameters":{"a":[1,"x"]},"sourceIPAddress":"2001:db8::1"}`
	body, _ := json.Marshal(map[string]any{"auditEvents": []any{
		map[string]any{"id": "e1", "eventData": good, "eventDataChecksum": sum(good)},
		map[string]any{"id": "e2", "eventData": strings.Replace(good, "10:00:00Z", "10:00:00+02:00", 1)},
	}})
	f.Add(body)
	f.Add([]byte(good + "\n[" + good + "]"))
	f.Add([]byte(`{"id":"a","eventData":{"version":"1.0"}}`))
	f.Add([]byte(strings.Replace(good, `"alice"`, `"a\ud800","x":"\udc00\ud83d\ude00"`, 1)))
	codes := map[string]bool{CodeFieldNotFound: true, CodeFieldTooLong: true, CodeInvalidChecksum: true, CodeInvalidData: true, CodeInvalidRecipient: true}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, in []byte) {
		evs, _ := ReadEvents(strings.NewReader(string(in)))
		for _, ev := range evs {
			a, fail := validate(testChannel, ev)
			if (a == nil) == (fail == nil) {
				t.Fatalf("event %q: accepted %v and failed %+v: want exactly one", ev.ID, a != nil, fail)
			}
			if fail != nil {
				if !codes[fail.ErrorCode] || fail.ID != ev.ID || fail.ErrorMessage == "" {
					t.Fatalf("refusal %+v of event %q: want a documented code, the event's id and a message", fail, ev.ID)
				}
				continue
			}
			if !idRE.MatchString(ev.ID) {
				t.Fatalf("accepted an event with id %q", ev.ID)
			}
			row, err := a.row(testChannel, testChannel.ARN, ev.ID, now)
			if err != nil {
				t.Fatalf("accepted event %q cannot be stored: %v", ev.ID, err)
			}
			if row.EventID != EventID(testChannel.ARN, ev.ID) {
				t.Fatalf("row eventID %s, want %s", row.EventID, EventID(testChannel.ARN, ev.ID))
			}
			if !json.Valid([]byte(row.EventJSON)) || !json.Valid(row.Norm) {
				t.Fatalf("stored JSON of event %q does not parse:\n%s\n%s", ev.ID, row.EventJSON, row.Norm)
			}
			// What the engine's JSON functions refuse (a lone surrogate escape) or mangle.
			for _, text := range []string{row.EventJSON, string(row.Norm)} {
				if _, n := cloudtrail.ReplaceLoneSurrogates(text); n > 0 || !utf8.ValidString(text) {
					t.Fatalf("stored JSON of event %q holds a lone surrogate or invalid UTF-8:\n%s", ev.ID, text)
				}
			}
		}
	})
}
