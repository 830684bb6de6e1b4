package configitems

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Problem is a configuration item (or a JSON value that should have held one) that could not be
// read. The rest of the input is still read.
type Problem struct {
	File string
	// Item is the 1-based number of the item in the object: an element of configurationItems,
	// of a bare array, or a top-level value (a notification, a rule event, one JSON Lines line).
	Item int
	// Line is the 1-based line of the input on which the item starts.
	Line int
	Msg  string
	// Warning: the item was kept, altered (invalid characters stored as U+FFFD).
	Warning bool
}

// String renders the problem as "file: item 3 (line 12): msg"; warnings say so.
func (p Problem) String() string {
	sev := ""
	if p.Warning {
		sev = "warning: "
	}
	return fmt.Sprintf("%s: item %d (line %d): %s%s", p.File, p.Item, p.Line, sev, p.Msg)
}

// Result is what Decode found in one object.
type Result struct {
	Items    []Item
	Problems []Problem
	// Skipped counts JSON values that hold no configuration item and are not errors: scheduled
	// and delivery-completed notifications, rule events without an item.
	Skipped int
	// Refs are the S3 locations ("s3://bucket/key") of oversized configuration items named by
	// OversizedConfigurationItemChangeNotification messages: the item itself is in that object.
	Refs []string
}

// maxObject bounds how much of one object is read (an oversized item is at most a few MB).
const maxObject = 1 << 30

// Decode reads every configuration item in r (gzip or plain JSON) named name in problems. It
// accepts snapshot and history files ({"fileVersion", "configSnapshotId", "configurationItems"}),
// get-resource-config-history output ({"configurationItems", "nextToken"}), change
// notifications, oversized change notifications (their item's location goes to Refs), Config
// rule invocation events (invokingEvent), EventBridge "Configuration Item Change" events, SNS
// notifications, bare items, JSON arrays of any of these and JSON Lines. A bad item is reported
// in Problems and the others are kept; the error is for input that cannot be read at all or
// whose JSON breaks off (the items before the break are kept).
func Decode(r io.Reader, name string) (Result, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return Result{}, fmt.Errorf("read config object %q: %w", name, err)
		}
		defer zr.Close()
		src = zr
	}
	buf, err := io.ReadAll(io.LimitReader(src, maxObject+1))
	d := &decoder{name: name, buf: buf}
	if err != nil {
		err = fmt.Errorf("read config object %q: %w", name, err)
	} else if len(buf) > maxObject {
		return Result{}, fmt.Errorf("read config object %q: larger than %d bytes", name, maxObject)
	}
	if derr := d.run(); derr != nil && err == nil {
		err = fmt.Errorf("read config object %q: %w", name, derr)
	}
	return d.res, err
}

type decoder struct {
	name   string
	buf    []byte
	res    Result
	n      int // items numbered so far
	cursor int // byte offset up to which lines are counted
	line   int // line at cursor (0-based)
}

// lineOf returns the 1-based line on which raw (a slice of the value's bytes, found at or after
// the cursor) starts, moving the cursor there.
func (d *decoder) lineOf(raw []byte) int {
	if len(raw) > 0 {
		if i := bytes.Index(d.buf[d.cursor:], raw); i >= 0 {
			pos := d.cursor + i
			d.line += bytes.Count(d.buf[d.cursor:pos], []byte{'\n'})
			d.cursor = pos
		}
	}
	return d.line + 1
}

func (d *decoder) problem(item, line int, format string, args ...any) {
	d.res.Problems = append(d.res.Problems, Problem{File: d.name, Item: item, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) run() error {
	dec := json.NewDecoder(bytes.NewReader(d.buf))
	dec.UseNumber()
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			d.n++
			d.problem(d.n, d.lineOf(nil), "invalid JSON: %v", err)
			return fmt.Errorf("invalid JSON after item %d: %w", d.n-1, err)
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '[' {
			var elems []json.RawMessage
			if err := json.Unmarshal(raw, &elems); err != nil {
				return fmt.Errorf("invalid JSON array: %w", err)
			}
			for _, e := range elems {
				d.n++
				d.value(e, d.n, d.lineOf(e))
			}
			continue
		}
		d.n++
		d.value(raw, d.n, d.lineOf(raw))
	}
}

// value handles one JSON value that is, or wraps, configuration items.
func (d *decoder) value(raw json.RawMessage, item, line int) {
	obj, err := members(raw)
	if err != nil {
		d.problem(item, line, "not a JSON object: %v", err)
		return
	}
	f := fields(obj)
	if items, ok := f["configurationItems"]; ok {
		var elems []json.RawMessage
		if err := json.Unmarshal(items, &elems); err != nil && !isNull(items) {
			d.problem(item, line, "configurationItems is not an array: %v", err)
			return
		}
		// Elements of the container are the numbered items; the container itself is not one.
		d.n--
		for _, e := range elems {
			d.n++
			d.item(e, d.n, d.lineOf(e))
		}
		return
	}
	if ci, ok := f["configurationItem"]; ok {
		if isNull(ci) {
			d.res.Skipped++
			return
		}
		d.item(ci, item, line)
		return
	}
	if mt := str(f["messageType"]); mt == "OversizedConfigurationItemChangeNotification" {
		var s struct {
			S3DeliverySummary struct {
				S3BucketLocation *string `json:"s3BucketLocation"`
				ErrorCode        *string `json:"errorCode"`
				ErrorMessage     *string `json:"errorMessage"`
			} `json:"s3DeliverySummary"`
		}
		json.Unmarshal(raw, &s)
		loc := s.S3DeliverySummary.S3BucketLocation
		if loc == nil || *loc == "" {
			msg := "oversized change notification without s3DeliverySummary.s3BucketLocation"
			if c := s.S3DeliverySummary.ErrorCode; c != nil {
				msg += fmt.Sprintf(" (delivery error %s: %s)", *c, deref(s.S3DeliverySummary.ErrorMessage))
			}
			d.problem(item, line, "%s", msg)
			return
		}
		d.res.Refs = append(d.res.Refs, "s3://"+strings.TrimPrefix(*loc, "s3://"))
		return
	} else if mt != "" {
		// ScheduledNotification, ConfigurationSnapshotDeliveryCompleted, … hold no item.
		d.res.Skipped++
		return
	}
	if ie, ok := f["invokingEvent"]; ok {
		var s string
		if err := json.Unmarshal(ie, &s); err != nil {
			d.problem(item, line, "invokingEvent is not a JSON string: %v", err)
			return
		}
		d.value(json.RawMessage(s), item, line)
		return
	}
	if det, ok := f["detail"]; ok && strings.Contains(str(f["detail-type"]), "Configuration Item") {
		d.value(det, item, line)
		return
	}
	if msg, ok := f["Message"]; ok && str(f["Type"]) == "Notification" {
		var s string
		if err := json.Unmarshal(msg, &s); err != nil {
			d.problem(item, line, "SNS Message is not a JSON string: %v", err)
			return
		}
		d.value(json.RawMessage(s), item, line)
		return
	}
	if _, ok := f["resourceType"]; ok {
		d.item(raw, item, line)
		return
	}
	if _, ok := f["fileVersion"]; ok {
		d.res.Skipped++ // a snapshot or history file without items
		return
	}
	d.problem(item, line, "not a configuration item, a Config file or a Config notification")
}

func (d *decoder) item(raw json.RawMessage, n, line int) {
	it, replaced, err := toItem(raw)
	if err != nil {
		d.problem(n, line, "%v", err)
		return
	}
	if replaced > 0 {
		d.problem(n, line, "%d invalid characters (invalid UTF-8, lone UTF-16 surrogate escapes) stored as U+FFFD", replaced)
		d.res.Problems[len(d.res.Problems)-1].Warning = true
	}
	d.res.Items = append(d.res.Items, it)
}

// member is one member of a JSON object, in document order.
type member struct {
	Key string
	Raw json.RawMessage
}

// members splits a JSON object into its members, keeping their order.
func members(raw json.RawMessage) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if t != json.Delim('{') {
		return nil, fmt.Errorf("got %s", kind(raw))
	}
	var out []member
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{Key: k, Raw: v})
	}
	return out, nil
}

func fields(ms []member) map[string]json.RawMessage {
	f := make(map[string]json.RawMessage, len(ms))
	for _, m := range ms {
		if _, dup := f[m.Key]; !dup {
			f[m.Key] = m.Raw
		}
	}
	return f
}

func kind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// str returns a JSON string's value ("" for anything else).
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// text returns a scalar as text: a string as it is, a number or boolean as its JSON text, any
// other value as compact JSON; nil for null or absent.
func text(raw json.RawMessage) *string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return nil
	}
	if raw[0] == '"' {
		s := str(raw)
		return &s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		s := string(raw)
		return &s
	}
	s := b.String()
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// first returns the first present, non-null field among names (the current name, then aliases).
func first(f map[string]json.RawMessage, names ...string) json.RawMessage {
	for _, n := range names {
		if v, ok := f[n]; ok && !isNull(v) {
			return v
		}
	}
	return nil
}

// ParseTime reads a capture or creation time: RFC 3339 with any fraction and offset (files,
// notifications, the CLI), a space instead of the T, or epoch seconds as a number (the raw API).
func ParseTime(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return time.Time{}, errors.New("missing")
	}
	if raw[0] != '"' {
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return time.Time{}, fmt.Errorf("%s is not a time", raw)
		}
		if f > 1e11 { // milliseconds
			f /= 1000
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC(), nil
	}
	s := str(raw)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}
