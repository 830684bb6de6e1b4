package integration

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ReadEvents reads audit events from r, a stream of JSON values (one per line or pretty-printed,
// or a JSON array of them). Each value is one of:
//   - a PutAuditEvents request body {"auditEvents":[{id, eventData, eventDataChecksum}, …]}
//     (an 'aws cloudtrail-data put-audit-events --cli-input-json' file; channelArn in it is
//     ignored);
//   - one {id, eventData, eventDataChecksum} entry;
//   - a bare auditEventData object, whose id is its UID when UID is a valid id, else the first
//     32 hex digits of the SHA-256 of the object, so re-reading the file gives the same ids.
//
// A UTF-8 byte order mark at the start is skipped. A value that is not JSON, or not one of
// these, is an error naming its number and (for JSON that does not parse) its byte offset;
// reading goes on at the next line that starts a JSON object or array, so one bad line of a
// JSON Lines file (or one broken value of a pretty-printed one, whose inner lines are
// indented) does not lose the events after it.
func ReadEvents(r io.Reader) ([]AuditEvent, []error) {
	var out []AuditEvent
	var errs []error
	br := bufio.NewReader(r)
	var base int64 // offset in r of the input dec reads
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3) // a UTF-8 byte order mark, as Windows tools write
		base = 3
	}
	r = br
	dec := json.NewDecoder(r)
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			return out, errs
		} else if err != nil {
			rest := bufio.NewReader(io.MultiReader(dec.Buffered(), r))
			at := base + dec.InputOffset() + skipSpace(rest)
			errs = append(errs, fmt.Errorf("JSON value %d (byte %d): %w", n, at, err))
			skipped, more := skipToNextValue(rest)
			if !more {
				return out, errs
			}
			base = at + skipped
			dec = json.NewDecoder(rest)
			continue
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '[' {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				errs = append(errs, fmt.Errorf("JSON value %d: %w", n, err))
				continue
			}
			for i, it := range items {
				evs, err := decodeValue(it)
				if err != nil {
					errs = append(errs, fmt.Errorf("JSON value %d, item %d: %w", n, i, err))
					continue
				}
				out = append(out, evs...)
			}
			continue
		}
		evs, err := decodeValue(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("JSON value %d: %w", n, err))
			continue
		}
		out = append(out, evs...)
	}
}

// skipSpace reads the JSON white space at the start of r and returns how many bytes it was.
func skipSpace(r *bufio.Reader) int64 {
	var n int64
	for {
		b, err := r.ReadByte()
		if err != nil {
			return n
		}
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			r.UnreadByte()
			return n
		}
		n++
	}
}

// skipToNextValue reads past the rest of the current line and every following line that does
// not start with '{' or '[', and says how many bytes it read and whether input is left. It reads
// at least one byte, so a caller looping on it ends.
func skipToNextValue(r *bufio.Reader) (int64, bool) {
	var n int64
	for {
		// The rest of the line, whatever its length.
		for {
			line, err := r.ReadSlice('\n')
			n += int64(len(line))
			if err == nil {
				break
			}
			if err != bufio.ErrBufferFull {
				return n, false
			}
		}
		b, err := r.Peek(1)
		if err != nil {
			return n, false
		}
		if b[0] == '{' || b[0] == '[' {
			return n, true
		}
	}
}

func decodeValue(raw json.RawMessage) ([]AuditEvent, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil || probe == nil {
		return nil, errors.New("not a JSON object")
	}
	if body, ok := probe["auditEvents"]; ok {
		var evs []AuditEvent
		if err := json.Unmarshal(body, &evs); err != nil {
			return nil, fmt.Errorf("auditEvents: %w", err)
		}
		return evs, nil
	}
	if _, ok := probe["eventData"]; ok {
		var e AuditEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, err
		}
		return []AuditEvent{e}, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	id := stringValue(probe, "UID")
	if !idRE.MatchString(id) {
		sum := sha256.Sum256(b.Bytes())
		id = hex.EncodeToString(sum[:16])
	}
	return []AuditEvent{{ID: id, EventData: b.String()}}, nil
}
