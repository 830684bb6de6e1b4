package integration

import (
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
// On malformed JSON it returns the events read so far and an error naming the value's position.
func ReadEvents(r io.Reader) ([]AuditEvent, error) {
	dec := json.NewDecoder(r)
	var out []AuditEvent
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("JSON value %d (byte %d): %w", n, dec.InputOffset(), err)
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '[' {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return out, fmt.Errorf("JSON value %d: %w", n, err)
			}
			for i, it := range items {
				evs, err := decodeValue(it)
				if err != nil {
					return out, fmt.Errorf("JSON value %d, item %d: %w", n, i, err)
				}
				out = append(out, evs...)
			}
			continue
		}
		evs, err := decodeValue(raw)
		if err != nil {
			return out, fmt.Errorf("JSON value %d: %w", n, err)
		}
		out = append(out, evs...)
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
