package cloudtrail

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/klauspost/compress/gzip"

	"github.com/auditlake/auditlake/internal/sha256x16"
	"github.com/auditlake/auditlake/internal/sha256x2"
)

// DecodeOptions bounds what Decode accepts. The zero value is usable.
type DecodeOptions struct {
	// MaxRecordBytes is the largest single record (its JSON text as delivered) that is decoded;
	// a larger one is reported as an Error and skipped without being held in memory.
	// 0 means DefaultMaxRecordBytes.
	MaxRecordBytes int
	// MaxDecompressedBytes stops decoding (with an error) after this many bytes of decompressed
	// input, a guard against gzip bombs. 0 means unlimited.
	MaxDecompressedBytes int64
	// MaxDepth is the deepest JSON nesting accepted inside one record; deeper records are
	// reported as an Error. 0 means DefaultMaxDepth.
	MaxDepth int
	// MaxProblems caps len(Stats.Problems); problems beyond it are still counted in
	// Stats.Errors and Stats.Warnings. 0 means DefaultMaxProblems, negative means no cap.
	MaxProblems int
	// MaxInMemoryBytes is the largest input read into memory whole (as delivered, then
	// decompressed), which lets its compact records be decoded in one pass and share its
	// memory; larger input is streamed, holding one record at a time. Decoding N inputs at once
	// may hold N times this much, three times over while it is read. 0 means
	// DefaultMaxInMemoryBytes, negative means always stream.
	MaxInMemoryBytes int
	// Keep, when set, is asked about every record found (counted in Stats.Records); one it
	// refuses is not passed to emit. Records decoded in place share their input's memory, so
	// a caller that keeps few of them should say so here: Decode then gives the kept records
	// memory of their own (see run). Keep is called from the goroutine that calls Decode, and
	// must not hold on to a record it refuses: its memory is used for the next one.
	Keep func(*Record) bool
	// Reserve, when set, is called before a large item (largeItemBytes of JSON or more, or an
	// input of that size decoded in place) is decoded, with its size; decoding waits for it,
	// and stops with its error. A caller that budgets the memory of the records it holds
	// waits here for room, rather than after the working memory of decoding is spent.
	// It is called from the goroutine that calls Decode.
	Reserve func(n int) error
	// Size is the input's size as stored, when known (0: unknown): input read whole is read
	// into memory of that size at once, not into a buffer grown (and copied) as it is read.
	Size int64
	// DeferChecksum leaves each record's EventJSONChecksum "" for its reader to derive (the
	// SHA-256 of EventJSON: ctparquet.DerivedChecksumSQL), saving the hash of every byte of
	// JSON at ingest (~8 % of its CPU). A record without an eventID is hashed still: its id is
	// derived from the hash, and its checksum then set.
	DeferChecksum bool
}

// Defaults for DecodeOptions.
const (
	DefaultMaxRecordBytes = 16 << 20
	DefaultMaxDepth       = 1000
	DefaultMaxProblems    = 1000
	// A trail file holds minutes of one account and region: nearly all are far smaller.
	DefaultMaxInMemoryBytes = 8 << 20
)

// maxWrapperDepth bounds how deep Decode looks into wrapper objects for a record.
const maxWrapperDepth = 3

// Severity says what happened to the record a Problem is about.
type Severity int

const (
	// Warning: the record was kept but altered (a field set to NULL, invalid UTF-8 replaced, an
	// eventID synthesised), or an object that is not a CloudTrail record was skipped.
	Warning Severity = iota + 1
	// Error: the record was dropped.
	Error
)

func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// Problem is one thing wrong with one record of one object.
type Problem struct {
	File string
	// Record is the 1-based number of the item in the object: an element of the Records (or
	// Events) array, of a bare array, or a top-level value (one JSON Lines line). Records found
	// inside one item (an array nested in a line, several records in one wrapper) share it.
	Record int
	// Line is the 1-based line of the input on which the item starts.
	Line     int
	Severity Severity
	Msg      string
}

// String renders the problem as "file: record 17 (line 3): msg"; warnings say so.
func (p Problem) String() string {
	sev := ""
	if p.Severity == Warning {
		sev = "warning: "
	}
	if p.Record == 0 {
		return fmt.Sprintf("%s: %s%s", p.File, sev, p.Msg) // about the whole object
	}
	return fmt.Sprintf("%s: record %d (line %d): %s%s", p.File, p.Record, p.Line, sev, p.Msg)
}

// Stats is what Decode found in one object.
type Stats struct {
	// Records is the number of records found: passed to emit, or refused by Keep.
	Records int
	// Skipped is the number of JSON objects that are not CloudTrail records (an EventBridge
	// event of another kind, a Config item, an unrecognised object); each has a Warning.
	Skipped int
	// Errors is the number of records dropped; each has an Error problem.
	Errors int
	// Warnings is the number of Warning problems.
	Warnings int
	// Problems lists the problems in input order, at most DecodeOptions.MaxProblems of them.
	Problems []Problem
	// Bytes is the number of (decompressed) input bytes read.
	Bytes int64
}

// Decode reads one object named name — gzip (detected by its magic bytes) or plain — and calls
// emit for every CloudTrail record it finds, in input order. It accepts:
//
//   - the trail delivery file {"Records":[…]}, a bare JSON array, JSON Lines (or any sequence of
//     JSON values), and a single record object;
//   - `aws cloudtrail lookup-events` output ({"Events":[{…,"CloudTrailEvent":"<record>"}]}) and
//     its events one per line;
//   - EventBridge events (the record in "detail");
//   - a wrapper object whose object field, or string field holding JSON text, is a record (for
//     example {"rule_id":…,"log":{record}}), up to three wrappers deep;
//   - arrays mixing all of these.
//
// A JSON object is a record when it has at least two of the keys eventVersion, eventTime,
// eventSource, eventName and eventID (matched case-insensitively) and is not one of the
// containers above. Such an object without a valid eventTime is an Error; any other object is
// Skipped with a Warning.
//
// Decode does not stop at a bad record: records before and after it are emitted, and the problem
// is reported in Stats. A JSON Lines line whose brackets never balance is skipped as an Error and
// decoding goes on at the next line. The error is non-nil only when the object as a whole cannot
// be read any further (a read or gzip error, input that ends inside a value, brackets that do not
// match inside a delivery file or array, the MaxDecompressedBytes limit) or emit returned an
// error; the records emitted before it are valid.
// The *Record passed to emit is newly allocated and may be retained.
func Decode(r io.Reader, name string, opts DecodeOptions, emit func(*Record) error) (Stats, error) {
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.MaxProblems == 0 {
		opts.MaxProblems = DefaultMaxProblems
	}
	if opts.MaxInMemoryBytes == 0 {
		opts.MaxInMemoryBytes = DefaultMaxInMemoryBytes
	}
	d := &decoder{name: name, opts: opts, emit: emit}
	err := d.run(r)
	if err != nil {
		err = fmt.Errorf("decode %q: %w", name, err)
	}
	return d.st, err
}

type decoder struct {
	name string
	opts DecodeOptions
	emit func(*Record) error
	sc   *scanner
	cnt  *countingReader
	st   Stats
	item int // number of the current item
	line int // line of the current item
	buf  []byte
	cbuf []byte
	key  []byte
	kv   Map // scratch for recordDecoder.mapField, reused across records
	// inPlace: the input is all in memory and valid UTF-8, so compact records are decoded where
	// they lie (see decodeInPlace).
	inPlace bool
	// resyncs counts the broken JSON Lines lines skipped so far.
	resyncs int
	// large: this decoder holds the largeItems token.
	large bool
	// reserved: the input, held whole and decoded in place, is reserved (DecodeOptions.Reserve)
	// for all of its records, large ones included.
	reserved bool
	// pending are decoded records whose checksums wait to be computed together (finish), in
	// their order; pendingMsgs and pendingSums are flushPending's, kept for the next batch.
	pending     []pendingRecord
	pendingMsgs [][]byte
	pendingSums [][32]byte
	// slab holds the blocks of the records decoded in place (blockSlab).
	slab blockSlab
}

// largeItems lets one decoder at a time in the process decode a large item (largeItemBytes or
// more of JSON). Decoding takes working memory beyond the record it makes — up to several times
// its size for a record of a million small values — and with one decoder per CPU, each holding
// such an item, that grew with the CPUs; records this large are rare, so waiting for one another
// costs nothing in practice. An input of that size decoded in place does not take it (run): a
// busy trail's delivery files of 5,000 ordinary records are 7–10 MB of JSON, not rare at all,
// and with the token one decoder at a time decoded them (issue 21); a large record in such an
// input is not decoded in place, and takes the token (decodeInPlace).
var largeItems = make(chan struct{}, 1)

const largeItemBytes = 4 << 20

// takeLarge takes the largeItems token for an item of n bytes, if it is large and d does not
// hold it yet, then calls DecodeOptions.Reserve, and returns the function that gives the
// token back and Reserve's error.
func (d *decoder) takeLarge(n int) (func(), error) {
	if n < largeItemBytes || d.large {
		return func() {}, nil
	}
	largeItems <- struct{}{}
	d.large = true
	giveBack := func() {
		d.large = false
		<-largeItems
	}
	if d.opts.Reserve != nil && !d.reserved {
		if err := d.opts.Reserve(n); err != nil {
			giveBack()
			return func() {}, err
		}
	}
	return giveBack, nil
}

// handleLarge handles one captured item (handleRaw), holding the largeItems token while it is
// large.
func (d *decoder) handleLarge(raw []byte, ci capInfo) error {
	giveBack, err := d.takeLarge(len(raw))
	if err != nil {
		return d.fatal(err)
	}
	defer giveBack()
	return d.handleRaw(raw, ci)
}

// countingReader counts bytes and enforces MaxDecompressedBytes.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
}

var errTooLarge = errors.New("decompressed size limit exceeded")

func (c *countingReader) Read(p []byte) (int, error) {
	if c.limit > 0 && c.n >= c.limit {
		return 0, fmt.Errorf("%w (%d bytes)", errTooLarge, c.limit)
	}
	if c.limit > 0 && int64(len(p)) > c.limit-c.n {
		p = p[:c.limit-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (d *decoder) run(r io.Reader) error {
	// An object that fits in memory is read whole first: gzip inflates faster from memory
	// than through a buffered reader.
	var src io.Reader
	var head, inflated []byte
	if raw, complete, err := readWhole(r, d.opts.MaxInMemoryBytes, d.opts.Size); complete && err == io.EOF {
		defer releaseReadBuf(raw)
		src, head = bytes.NewReader(raw), raw
		if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
			inflated = gunzipWhole(raw, d.opts.MaxInMemoryBytes, d.opts.MaxDecompressedBytes)
		}
	} else {
		if complete { // a read error: what came before it, then the error
			r = io.MultiReader(bytes.NewReader(raw), errReader{err})
		} else if len(raw) > 0 {
			r = io.MultiReader(bytes.NewReader(raw), r)
		}
		br := bufio.NewReaderSize(r, 64<<10)
		src = br
		head, _ = br.Peek(2)
		d.opts.MaxInMemoryBytes = -1 // too large to hold, or failing: streamed
	}
	if inflated == nil && len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return fmt.Errorf("read gzip header: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	d.cnt = &countingReader{r: src, limit: d.opts.MaxDecompressedBytes}
	size := 0 // of the input held in memory
	if inflated != nil {
		// Inflated by libdeflate into memory of its own, which the records decoded in place
		// share (never written again).
		data := unsafe.String(unsafe.SliceData(inflated), len(inflated))
		size, d.cnt.n = len(data), int64(len(data))
		d.sc = newWholeScanner(data, io.EOF)
		d.inPlace = utf8.ValidString(data)
	} else if b, complete, err := readWhole(d.cnt, d.opts.MaxInMemoryBytes, 0); complete {
		data := string(b) // the records decoded in place keep this copy
		size = len(data)
		releaseReadBuf(b)
		d.sc = newWholeScanner(data, err)
		d.inPlace = utf8.ValidString(data)
	} else {
		d.sc = newScanner(d.cnt)
		if cap(b) > len(d.sc.buf) {
			d.sc.buf = b[:cap(b)]
		}
		d.sc.end = copy(d.sc.buf, b) // what was read is the start of the stream
	}
	defer func() { d.st.Bytes = d.cnt.n }()
	if !d.inPlace {
		return d.scanAll()
	}
	// Records decoded in place share the input's memory, so one record kept keeps all of it.
	// They are held until the input ends; when the kept ones are less than half of it (an
	// input of mostly other objects, or of records Keep refuses), each is given memory of its
	// own before it is emitted, so that what a caller keeps stays within twice the size of the
	// records it keeps.
	emit := d.emit
	var held []*Record
	d.emit = func(r *Record) error {
		held = append(held, r)
		return nil
	}
	if size >= largeItemBytes && d.opts.Reserve != nil {
		if err := d.opts.Reserve(size); err != nil {
			return err
		}
		d.reserved = true
	}
	err := d.scanAll()
	kept := 0
	for _, r := range held {
		kept += len(r.EventJSON)
	}
	own := 2*kept < size
	for _, r := range held {
		if own {
			r = r.withOwnMemory(d.opts.MaxDepth)
		}
		if err := emit(r); err != nil {
			return fmt.Errorf("emit: %w", err)
		}
	}
	return err
}

// scanAll is scan, then the record still waiting for its checksum emitted (finish).
func (d *decoder) scanAll() error {
	err := d.scan()
	if ferr := d.flushPending(); err == nil {
		err = ferr
	}
	return err
}

// scan reads the top-level values of the input.
func (d *decoder) scan() error {
	for {
		c, ok := d.sc.peek()
		if !ok {
			return d.sc.readErr()
		}
		var err error
		switch c {
		case '[':
			d.sc.pos++
			err = d.streamArray()
		case '{':
			// A delivery file or lookup-events output is streamed record by record; any other
			// object (a JSON Lines line, a single record) is read whole, which lets a broken
			// line be skipped.
			if d.sc.firstKeyIsNot(isContainerKey) {
				err = d.captureTopItem()
			} else {
				err = d.topObject()
			}
		case ']', '}', ',', ':':
			// Stray punctuation between top-level values (a damaged JSON Lines file): report it
			// and go on at the next line.
			d.item++
			d.line = d.sc.line
			d.problem(Error, "invalid JSON: unexpected %q", c)
			d.sc.skipLine()
		default:
			if !isScalarByte(c) && c != '"' && d.item == 0 {
				// Nothing JSON-like at the start: a binary or foreign file. One error for the
				// file, not one per line of garbage.
				return fmt.Errorf("not JSON (starts with byte 0x%02x): not a CloudTrail file", c)
			}
			if !isScalarByte(c) && c != '"' {
				d.item++
				d.line = d.sc.line
				d.problem(Error, "invalid JSON: unexpected %q", c)
				d.sc.skipLine()
				continue
			}
			err = d.captureTopItem()
		}
		if err != nil {
			return err
		}
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// fatal wraps an error that ends decoding with the position of the current item.
func (d *decoder) fatal(err error) error {
	return fmt.Errorf("record %d (line %d): %w", d.item, d.line, err)
}

// streamArray handles the elements of an array whose '[' was consumed, one item each.
func (d *decoder) streamArray() error {
	first := true
	for {
		c, ok := d.sc.peek()
		if !ok {
			return d.fatal(d.sc.eofErr())
		}
		if c == ']' {
			d.sc.pos++
			return nil
		}
		if !first {
			if c != ',' {
				return d.fatal(fmt.Errorf("%w: unexpected %q after a record", errSyntax, c))
			}
			d.sc.pos++
			if c, ok = d.sc.peek(); !ok {
				return d.fatal(d.sc.eofErr())
			}
			if c == ']' { // tolerate a trailing comma
				d.sc.pos++
				return nil
			}
		}
		first = false
		if err := d.captureItem(); err != nil {
			return err
		}
	}
}

// maxResyncs bounds how often one object may skip a broken JSON Lines line: each skip rescans
// the rest of the input, so unbounded skipping could take quadratic time.
const maxResyncs = 100

// readBufs holds read buffers for readWhole, up to pooledReadBuf bytes each.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

const pooledReadBuf = 1 << 20

// readWhole reads r to its end when it holds at most max bytes (max < 0: none at all) and
// returns them with complete true and the error that ended them (io.EOF at a clean end). When
// r holds more it returns the bytes read so far, at least max, with complete false; the rest is
// still to be read. A complete result should be given back with releaseReadBuf. size, when
// positive, is how many bytes r is expected to hold: the buffer has room for them at once.
func readWhole(r io.Reader, max int, size int64) (b []byte, complete bool, err error) {
	if max < 0 {
		return nil, false, nil
	}
	b = (*readBufs.Get().(*[]byte))[:0]
	if size >= int64(cap(b)) && size <= int64(max) {
		releaseReadBuf(b)
		b = uninitialized(int(size) + 1)[:0] // a byte more: the read that finds the end
	}
	for empty := 0; ; {
		if len(b) == cap(b) {
			if len(b) >= max {
				return b, false, nil
			}
			b = slices.Grow(b, min(cap(b), max-len(b)))
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			return b, true, err
		}
		if n > 0 {
			empty = 0
		} else if empty++; empty == 100 {
			return b, true, io.ErrNoProgress
		}
	}
}

func releaseReadBuf(b []byte) {
	if cap(b) <= pooledReadBuf {
		b = b[:0]
		readBufs.Put(&b)
	}
}

// decodeInPlace decodes the item at the scanner's position, when it is a record object, straight
// from the input: no capture, no copy, no second pass; the record's strings share the input's
// memory. It reports false, having consumed nothing, when the item must take the general path
// of captureItem: the input is not in memory or not valid UTF-8, the item is not an object, it
// is not valid JSON or longer than MaxRecordBytes (so its problem is reported as usual), it is
// largeItemBytes or longer (so it is decoded holding the largeItems token), or it
// has whitespace outside its strings (so it is compacted first; the rest of the input then
// takes the general path too, as pretty-printed input is seldom compact further on).
func (d *decoder) decodeInPlace() (bool, error) {
	if !d.inPlace {
		return false, nil
	}
	// A record of largeItemBytes or more does not fit the view: it takes the general path,
	// which decodes it holding the largeItems token.
	view := d.sc.rest(min(d.opts.MaxRecordBytes, largeItemBytes-1))
	if view == "" || view[0] != '{' {
		return false, nil
	}
	var rd recordDecoder
	rd.init(view, d.opts.MaxDepth)
	rd.slab, rd.left = &d.slab, d.sc.left()
	rd.kv = d.kv[:0]
	end, err := rd.decode()
	d.kv = rd.kv[:0]
	if rd.nt.ws {
		d.inPlace = false
	}
	if err != nil || rd.nt.ws {
		d.slab.giveBack(rd.rec)
		return false, nil
	}
	d.sc.pos += end
	rd.s = view[:end]
	_, err = d.handleObject(&rd, 0, false)
	return true, err
}

// captureTopItem reads a top-level value (a JSON Lines line or a single document) as one item.
func (d *decoder) captureTopItem() error {
	d.item++
	d.line = d.sc.line
	if ok, err := d.decodeInPlace(); ok {
		return err
	}
	raw, ci, err := d.sc.capture(d.buf[:0], d.opts.MaxRecordBytes, d.opts.MaxDepth)
	d.buf = raw
	if err != nil {
		if d.resync(raw, ci, err) {
			return nil
		}
		return d.fatal(err)
	}
	return d.handleLarge(raw, ci)
}

// resync recovers from a top-level value whose brackets never balance, as when one line of a
// JSON Lines file is cut short: when the bytes read for it span several lines, the first line is
// reported as an Error and decoding restarts at the second. raw holds every byte read since the
// value began.
func (d *decoder) resync(raw []byte, ci capInfo, err error) bool {
	if ci.oversize || d.resyncs >= maxResyncs || !errors.Is(err, errSyntax) {
		return false
	}
	if k := bytes.IndexByte(raw, '\n'); k >= 0 {
		d.sc.unread(raw[k+1:])
		d.sc.line = d.line + 1
	} else if d.sc.pos < d.sc.end || d.sc.fill() {
		d.sc.skipLine() // a bracket that does not match, on the value's first line
	} else {
		return false // the input ends inside the value: it is cut short
	}
	d.resyncs++
	d.problem(Error, "%v: the line is not complete JSON and is skipped", err)
	return true
}

// captureItem reads the next value as one item and handles it.
func (d *decoder) captureItem() error {
	d.item++
	d.line = d.sc.line
	if ok, err := d.decodeInPlace(); ok {
		return err
	}
	raw, ci, err := d.sc.capture(d.buf[:0], d.opts.MaxRecordBytes, d.opts.MaxDepth)
	d.buf = raw
	if err != nil {
		return d.fatal(err)
	}
	return d.handleLarge(raw, ci)
}

// topObject reads a top-level object. When one of its keys is Records or Events (any case) and
// holds an array, the array's elements are streamed as items and the object's other keys are
// ignored; otherwise the whole object is one item.
func (d *decoder) topObject() error {
	line := d.sc.line
	d.sc.pos++ // '{'
	tb := append(d.buf[:0], '{')
	container := false
	var ci capInfo
	fail := func(err error) error {
		d.item++
		d.line = line
		return d.fatal(err)
	}
	for n := 0; ; n++ {
		c, ok := d.sc.peek()
		if !ok {
			return fail(d.sc.eofErr())
		}
		if c == '}' && n == 0 {
			d.sc.pos++
			break
		}
		if n > 0 {
			if c == '}' {
				d.sc.pos++
				break
			}
			if c != ',' {
				return fail(fmt.Errorf("%w: unexpected %q in object", errSyntax, c))
			}
			d.sc.pos++
			if c, ok = d.sc.peek(); !ok {
				return fail(d.sc.eofErr())
			}
		}
		if c != '"' {
			return fail(fmt.Errorf("%w: unexpected %q, want an object key", errSyntax, c))
		}
		key, _, err := d.sc.capture(d.key[:0], 1<<20, 1)
		d.key = key
		if err != nil {
			return fail(err)
		}
		if c, ok = d.sc.peek(); !ok || c != ':' {
			if !ok {
				return fail(d.sc.eofErr())
			}
			return fail(fmt.Errorf("%w: unexpected %q after an object key", errSyntax, c))
		}
		d.sc.pos++
		if c, ok = d.sc.peek(); !ok {
			return fail(d.sc.eofErr())
		}
		if c == '[' && !container && isContainerKey(key) {
			d.sc.pos++
			container = true
			if err := d.streamArray(); err != nil {
				return err
			}
			continue
		}
		if n > 0 {
			tb = append(tb, ',')
		}
		tb = append(tb, key...)
		tb = append(tb, ':')
		var vi capInfo
		tb, vi, err = d.sc.capture(tb, d.opts.MaxRecordBytes-1, d.opts.MaxDepth-1)
		if err != nil {
			d.buf = tb
			return fail(err)
		}
		ci.add(vi)
	}
	tb = append(tb, '}')
	d.buf = tb
	if container {
		return nil
	}
	d.item++
	d.line = line
	return d.handleLarge(tb, ci)
}

func isContainerKey(quoted []byte) bool {
	k := quoted[1 : len(quoted)-1]
	return bytes.EqualFold(k, []byte("Records")) || bytes.EqualFold(k, []byte("Events"))
}

func (d *decoder) problem(sev Severity, format string, args ...any) {
	if sev == Error {
		d.st.Errors++
	} else {
		d.st.Warnings++
	}
	if d.opts.MaxProblems > 0 && len(d.st.Problems) >= d.opts.MaxProblems {
		return
	}
	d.st.Problems = append(d.st.Problems, Problem{
		File: d.name, Record: d.item, Line: d.line, Severity: sev, Msg: fmt.Sprintf(format, args...),
	})
}

// handleRaw handles one captured item.
func (d *decoder) handleRaw(raw []byte, ci capInfo) error {
	switch {
	case ci.oversize:
		d.problem(Error, "record is larger than %d bytes", d.opts.MaxRecordBytes)
		return nil
	case ci.tooDeep:
		d.problem(Error, "JSON nesting is deeper than %d levels", d.opts.MaxDepth)
		return nil
	}
	badUTF8 := false
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
		badUTF8 = true
	}
	cb := raw
	if ci.ws {
		var changed bool
		if cb, changed = compact(d.cbuf[:0], raw); changed {
			d.cbuf = cb[:0]
		}
	}
	s := string(cb)
	n := d.st.Records + d.st.Errors
	_, err := d.handleValue(s, 0, false)
	if badUTF8 && d.st.Records+d.st.Errors > n {
		d.problem(Warning, "invalid UTF-8 replaced with U+FFFD")
	}
	return err
}

// handleValue handles one JSON value of an item: an object (record, container or wrapper) or an
// array of such values. In quiet mode (inside a wrapper) a value that holds no record is ignored
// silently. It reports whether a record (kept or dropped) was found; the error is from emit.
func (d *decoder) handleValue(s string, depth int, quiet bool) (bool, error) {
	i := skipWS(s, 0)
	if i >= len(s) {
		if !quiet {
			d.problem(Error, "record is empty")
		}
		return false, nil
	}
	s = s[i:]
	var rd recordDecoder
	var end int
	var err error
	if s[0] == '{' {
		rd.init(s, d.opts.MaxDepth)
		rd.kv = d.kv[:0]
		end, err = rd.decode()
		d.kv = rd.kv[:0]
	} else {
		end, err = skipValue(s, 0, 0, d.opts.MaxDepth)
	}
	if err == nil {
		if j := skipWS(s, end); j < len(s) {
			err = errAt(s, j, "input after the value")
		}
	}
	if err != nil {
		if !quiet {
			d.problem(Error, "%v", err)
		}
		return false, nil
	}
	s = s[:end]
	switch {
	case s[0] == '{':
		rd.s = s
		return d.handleObject(&rd, depth, quiet)
	case s[0] == '[' && depth <= maxWrapperDepth:
		// Only a few levels: each level re-reads its elements, so deeper arrays would cost
		// time proportional to size × depth.
		found := false
		for i := skipWS(s, 1); s[i] != ']'; {
			end, _ := skipValue(s, i, 1, d.opts.MaxDepth)
			f, err := d.handleValue(s[i:end], depth+1, quiet)
			if err != nil {
				return found, err
			}
			found = found || f
			if i = skipWS(s, end); s[i] == ',' {
				i = skipWS(s, i+1)
			}
		}
		return found, nil
	}
	if !quiet {
		d.problem(Error, "record is %s, not an object", kindName(s[0]))
	}
	return false, nil
}

// handleObject classifies one decoded object and handles it.
func (d *decoder) handleObject(rd *recordDecoder, depth int, quiet bool) (bool, error) {
	info := &rd.info
	switch {
	case info.cloudTrailEvent != "":
		// lookup-events: the record is JSON text in a string field.
		return d.handleText(info.cloudTrailEvent, depth, quiet)
	case info.detailType != "" && info.detail != "":
		// EventBridge: only the detail itself can be the record.
		var inner recordDecoder
		inner.init(info.detail, d.opts.MaxDepth)
		if _, err := inner.decode(); err == nil && inner.info.sig >= 2 {
			return true, d.finish(&inner)
		}
		if !quiet {
			d.st.Skipped++
			d.problem(Warning, "EventBridge event %q is not a CloudTrail record", info.detailType)
		}
		return false, nil
	case info.records != "":
		return d.handleValue(info.records, depth+1, quiet)
	case info.sig >= 2:
		return true, d.finish(rd)
	}
	found := false
	if depth < maxWrapperDepth {
		for _, c := range info.children {
			f, err := d.handleText(c, depth, true)
			if err != nil {
				return found, err
			}
			found = found || f
		}
	}
	if !found && !quiet {
		d.st.Skipped++
		d.problem(Warning, "object is not a CloudTrail record (it has none of eventTime, eventName, eventSource)")
	}
	return found, nil
}

// handleText handles a record held as JSON text in a string value (already unescaped).
func (d *decoder) handleText(text string, depth int, quiet bool) (bool, error) {
	b, changed := compact(nil, []byte(text))
	if changed {
		text = string(b)
	}
	return d.handleValue(text, depth+1, quiet)
}

// finish turns a decoded record-like object into a Record, or drops it.
func (d *decoder) finish(rd *recordDecoder) error {
	rec := rd.rec
	info := &rd.info
	switch {
	case info.timeProblem != "":
		d.problem(Error, "%s", info.timeProblem)
		rd.slab.giveBack(rec)
		return nil
	case info.duplicate != "":
		d.problem(Error, "key %q appears twice: the record is refused (its columns and its JSON would disagree)", info.duplicate)
		rd.slab.giveBack(rec)
		return nil
	}
	if rd.nt.lone {
		// The engine's JSON functions refuse a lone surrogate escape in the whole store's
		// eventjson; the record is decoded again from its text with each one as \ufffd, so its
		// JSON, its map values and its columns all read U+FFFD.
		fixed, n := ReplaceLoneSurrogates(rd.s)
		var fx recordDecoder
		fx.init(fixed, d.opts.MaxDepth)
		if _, err := fx.decode(); err != nil { // cannot happen: the same syntax
			d.problem(Error, "after replacing lone surrogates: %v", err)
			return nil
		}
		rd.slab.giveBack(rec)
		rd, rec = &fx, fx.rec
		d.problem(Warning, "%d lone UTF-16 surrogate escape(s) (\\ud800-\\udfff without a pair) replaced with U+FFFD", n)
	}
	for _, w := range rd.warnings {
		d.problem(Warning, "%s", w)
	}
	d.st.Warnings += rd.moreWarnings
	rec.EventJSON = rd.s
	d.st.Records++
	if rec.EventID == "" {
		// Hash the string's bytes in place: converting to []byte would copy every record once more.
		sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(rd.s), len(rd.s)))
		rec.EventJSONChecksum = rd.checksumText(sum)
		rec.EventID = uuidFromHash(sum)
		d.problem(Warning, "%s: used %s, derived from the record's SHA-256", info.eventIDProblem, rec.EventID)
	} else if !d.opts.DeferChecksum {
		// Its checksum is computed with the next records' (several hashes in the time of about
		// one: flushPending), and they are emitted then, in their order.
		d.pending = append(d.pending, pendingRecord{rec: rec, sum: &rd.blk.sum, item: d.item, line: d.line})
		if len(d.pending) < pendingBatch() {
			return nil
		}
		return d.flushPending()
	}
	if err := d.flushPending(); err != nil {
		return err
	}
	return d.keepEmit(rec, d.item, d.line)
}

// pendingRecord is a decoded record waiting for its checksum (finish), to be held in sum (its
// block's); item and line say where it was.
type pendingRecord struct {
	rec        *Record
	sum        *[64]byte
	item, line int
}

// pendingBatch is how many records' checksums are computed together: with AVX-512, 64 (a
// batch of 16-lane hashing keeps its lanes busy until its last few records: 1.8 times
// sha256x2's bytes per second on ~1.5 KB records); otherwise 2 (sha256x2's pairs). A record
// waits at most that many records to be emitted.
func pendingBatch() int {
	if hashSixteen {
		return 64
	}
	return 2
}

// hashSixteen: checksums are computed 16 at a time (sha256x16); tests set it to false to
// check the pairs of a CPU without AVX-512.
var hashSixteen = sha256x16.Accelerated()

// flushPending hashes the records waiting for their checksums (finish) and emits them, in
// their order: when a batch is full, when the input ends, and before a record that needs no
// hash of its own is emitted.
func (d *decoder) flushPending() error {
	n := len(d.pending)
	if n == 0 {
		return nil
	}
	msgs := d.pendingMsgs[:0]
	for _, p := range d.pending {
		msgs = append(msgs, stringBytes(p.rec.EventJSON))
	}
	if cap(d.pendingSums) < n {
		d.pendingSums = make([][32]byte, n)
	}
	sums := d.pendingSums[:n]
	if hashSixteen {
		sha256x16.Sum(msgs, sums)
	} else {
		i := 0
		for ; i+1 < n; i += 2 {
			sums[i], sums[i+1] = sha256x2.Sum2(msgs[i], msgs[i+1])
		}
		if i < n {
			sums[i] = sha256.Sum256(msgs[i])
		}
	}
	clear(msgs) // keep no record's JSON past its batch
	d.pendingMsgs = msgs
	batch := d.pending
	d.pending = d.pending[:0]
	defer clear(batch) // nor the records
	for i, p := range batch {
		p.rec.EventJSONChecksum = checksumText(p.sum, sums[i])
	}
	for _, p := range batch {
		if err := d.keepEmit(p.rec, p.item, p.line); err != nil {
			return err
		}
	}
	return nil
}

// keepEmit emits rec, decoded as item item (at line line), unless Keep refuses it.
func (d *decoder) keepEmit(rec *Record, item, line int) error {
	rec.cacheHashes()
	if d.opts.Keep != nil && !d.opts.Keep(rec) {
		d.slab.giveBack(rec) // Keep does not keep it
		return nil
	}
	if err := d.emit(rec); err != nil {
		return fmt.Errorf("record %d (line %d): emit: %w", item, line, err)
	}
	return nil
}

// stringBytes is s's bytes, not copied (read only).
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// checksumText returns sum in lowercase hex, held in the record's block.
func (rd *recordDecoder) checksumText(sum [32]byte) string { return checksumText(&rd.blk.sum, sum) }

// checksumText returns sum in lowercase hex, held in dst (a record's block).
func checksumText(dst *[64]byte, sum [32]byte) string {
	hex.Encode(dst[:], sum[:])
	return unsafe.String(&dst[0], len(dst))
}

// withOwnMemory returns a copy of r that shares no memory with the input it was decoded from:
// its event JSON copied and decoded again (to the same fields).
func (r *Record) withOwnMemory(maxDepth int) *Record {
	var rd recordDecoder
	rd.init(strings.Clone(r.EventJSON), maxDepth)
	if _, err := rd.decode(); err != nil {
		return r // cannot happen: the same text decoded before
	}
	c := rd.rec
	// The checksum is copied too: r's text lives in r's block, which points into r's input.
	c.EventJSON, c.EventJSONChecksum = rd.s, strings.Clone(r.EventJSONChecksum)
	if c.EventID == "" { // derived from the record's hash (finish)
		c.EventID = r.EventID
	}
	c.keyHash, c.kindHash, c.memSize = r.keyHash, r.kindHash, r.memSize // same fields, same hashes and size
	return c
}

// uuidFromHash formats the first 16 bytes of a SHA-256 as an RFC 9562 version 8 UUID.
func uuidFromHash(sum [32]byte) string {
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], u[10:16])
	return string(out[:])
}
