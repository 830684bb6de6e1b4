package ctparquet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/auditlake/auditlake/internal/prefetch"

	"github.com/DataDog/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// This file writes CloudTrail records as Parquet data files of the store schema (ctSchema),
// column by column, without a general-purpose row or value interface: each record's fields are
// appended to typed column buffers (levels, PLAIN bytes, dictionary indexes, integers), which
// become pages as they lie. parquet-go's writer, which this replaces for data files, spent as
// much CPU moving values through its generic interface as zstd spent compressing them.
//
// What is written is what parquet-go wrote for the same schema and options — schema elements
// and column orders taken from a file parquet-go writes (ctFooterTemplate), data pages v2,
// dictionary encoding with a fallback to PLAIN, zstd, column statistics, the page index — so the
// engine reads the files with the same types, and ctwrite_test.go checks both row for row with
// two readers (DuckDB and parquet-go's). The thrift structures, level and dictionary-index
// encodings are parquet-go's.

// ctLeaf describes one leaf column of ctSchema.
type ctLeaf struct {
	path           []string
	maxRep, maxDef int
	typ            format.Type
	dict           bool // dictionary encoded (falling back to PLAIN past dictionaryMaxBytes)
	bounds         bool // min/max kept in the chunk statistics and the page index
	bloom          bool // a split-block Bloom filter written for each column chunk
}

var ctLeaves = func() []ctLeaf {
	boundless := map[string]bool{}
	for _, c := range boundlessColumns {
		boundless[c] = true
	}
	var out []ctLeaf
	for _, p := range ctSchema.Columns() {
		lc, _ := ctSchema.Lookup(p...)
		name := strings.Join(p, ".")
		l := ctLeaf{path: p, maxRep: int(lc.MaxRepetitionLevel), maxDef: int(lc.MaxDefinitionLevel),
			typ: format.Type(lc.Node.Type().Kind()), bounds: !boundless[name], bloom: BloomColumns[name]}
		switch l.typ {
		case format.ByteArray:
			l.dict = !plainColumns[name]
		case format.Int64, format.Boolean:
		default:
			panic("ctparquet: no column writer for " + name)
		}
		out = append(out, l)
	}
	return out
}()

// ctFooterTemplate holds the schema elements and column orders of ctSchema as parquet-go
// writes them (from an empty file written at start-up), so that these files declare exactly
// the types of the files written before.
var ctFooterTemplate = func() format.FileMetaData {
	var buf bytes.Buffer
	pw := parquet.NewWriter(&buf, ctSchema)
	if err := pw.Close(); err != nil {
		panic(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		panic(err)
	}
	return *f.Metadata()
}()

// createdBy names the writer in every data file.
const createdBy = "auditlake version 1 (build auditlake)"

// WriteRecordFile writes recs, in their order, as a new Parquet file at path, encoding its row
// groups on all CPUs, and returns the file's size. A failed write removes the file.
// A row group ends at RowGroupRows records or RowGroupBytes of them (by MemSize); a file with
// row groups cut by bytes — records far larger than CloudTrail's — is encoded one row group at
// a time, as each such row group's pages take memory of their size.
func WriteRecordFile(path string, recs []*cloudtrail.Record) (size int64, err error) {
	rf, err := CreateRecordFile(path)
	if err != nil {
		return 0, err
	}
	if err := rf.Append(recs); err != nil {
		rf.Abort()
		return 0, err
	}
	return rf.Close()
}

// RecordFile is a data file written a part at a time: each Append encodes its records (sorted
// as the file's rows are) as row groups of their own and writes them, and Close writes the
// footer. Until then the file is no Parquet file (no footer): a crash leaves a file no
// manifest names. The footer lists the row groups in the order their bytes were written: a
// reader built on parquet-mr (Spark, Hive, Iceberg's Java readers) takes a row group whose
// offset is below the end of the one listed before it for a writer's bug (PARQUET-2078) and
// guesses its place, so a footer listing the parts' row groups in any other order would have
// them read from the wrong split.
type RecordFile struct {
	f          *os.File
	path       string
	out        *fileWriter
	meta       format.FileMetaData
	colIndexes [][]*format.ColumnIndex
	offIndexes [][]format.OffsetIndex
	blooms     [][][]byte
	parts      int
}

// CreateRecordFile creates a data file at path for Append.
func CreateRecordFile(path string) (*RecordFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	rf := &RecordFile{f: f, path: path, out: &fileWriter{w: f}, meta: ctFooterTemplate}
	rf.meta.CreatedBy = createdBy
	rf.meta.KeyValueMetadata = nil
	rf.meta.RowGroups = []format.RowGroup{}
	rf.out.write([]byte("PAR1"))
	return rf, rf.out.err
}

// Size is how many bytes the file holds so far.
func (rf *RecordFile) Size() int64 { return rf.out.offset }

// Rows is how many records the file holds so far.
func (rf *RecordFile) Rows() int64 { return rf.meta.NumRows }

// Path is the file's path.
func (rf *RecordFile) Path() string { return rf.path }

// Append encodes recs, in their order, as the next row groups of the file, on all CPUs, and
// writes them; its writeback is started at once. After an error the file is only good for
// Abort.
func (rf *RecordFile) Append(recs []*cloudtrail.Record) (err error) {
	if len(recs) == 0 {
		return nil
	}
	rf.parts++
	// Row groups are encoded by one worker per CPU, taking them in order, and written in order
	// as each is done.
	groups, heavy := rowGroups(recs)
	n := len(groups) - 1
	encoders := min(runtime.GOMAXPROCS(0), n)
	if heavy {
		encoders = 1
	}
	done := make([]chan *rowGroupEncoder, n)
	for i := range done {
		done[i] = make(chan *rowGroupEncoder, 1)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	defer func() {
		next.Store(int64(n)) // the others stop at their next row group
		wg.Wait()
		for _, d := range done { // row groups encoded but not written (after an error)
			select {
			case e := <-d:
				e.release()
			default:
			}
		}
	}()
	for range encoders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				// The encoder is taken before the row group: a row group taken is always
				// encoded, so the writer below always gets the one it waits for.
				e := acquireEncoder()
				i := int(next.Add(1) - 1)
				if i >= n {
					e.release()
					return
				}
				e.encode(recs[groups[i]:groups[i+1]])
				done[i] <- e
			}
		}()
	}
	out, meta := rf.out, &rf.meta
	for i := range n {
		e := <-done[i]
		rg, ci, oi := e.place(out.offset, int16(len(meta.RowGroups)))
		out.write(e.out.Bytes())
		meta.RowGroups = append(meta.RowGroups, rg)
		meta.NumRows += rg.NumRows
		rf.colIndexes = append(rf.colIndexes, ci)
		rf.offIndexes = append(rf.offIndexes, oi)
		rf.blooms = append(rf.blooms, slices.Clone(e.blooms))
		e.release()
		if out.err != nil {
			return out.err
		}
	}
	startWriteback(rf.f)
	return nil
}

// Close writes the file's footer and closes it, returning its size. A failed close removes
// the file.
func (rf *RecordFile) Close() (size int64, err error) {
	defer func() {
		if err != nil {
			rf.Abort()
		}
	}()
	meta := &rf.meta
	err = writeTail(rf.out, meta, func(i, j int) []byte { return rf.blooms[i][j] }, func(i, j int) ([]byte, error) {
		if ci := rf.colIndexes[i][j]; ci != nil {
			return thrift.Marshal(new(thrift.CompactProtocol), ci)
		}
		return nil, nil
	}, func(i, j int) *format.OffsetIndex { return &rf.offIndexes[i][j] })
	if err != nil {
		return 0, err
	}
	startWriteback(rf.f)
	if err := rf.f.Close(); err != nil {
		rf.f = nil
		os.Remove(rf.path)
		return 0, err
	}
	rf.f = nil
	return rf.out.offset, nil
}

// Abort closes the file, if still open, and removes it.
func (rf *RecordFile) Abort() {
	if rf.f != nil {
		rf.f.Close()
		rf.f = nil
	}
	os.Remove(rf.path)
}

// rowGroups cuts recs into row groups of at most RowGroupRows records and RowGroupBytes of them
// (by MemSize; one record at least): it returns their bounds — group i is
// recs[bounds[i]:bounds[i+1]] — and whether a group was cut by bytes.
func rowGroups(recs []*cloudtrail.Record) (bounds []int, byBytes bool) {
	bounds = append(bounds, 0)
	start, size := 0, int64(0)
	for i, r := range recs {
		n := r.MemSize()
		if i > start && (i-start == RowGroupRows || size+n > RowGroupBytes) {
			byBytes = byBytes || i-start < RowGroupRows
			bounds = append(bounds, i)
			start, size = i, 0
		}
		size += n
	}
	if len(recs) > start {
		bounds = append(bounds, len(recs))
	}
	return bounds, byBytes
}

// writeTail ends a Parquet file whose row groups w has written: the Bloom filters (header and
// bitset, nil for none), the column indexes (encoded, nil for none), then the offset indexes
// (nil for none), then the footer meta with their offsets set — encoded in memory (thrift
// writes field by field) and written at once.
func writeTail(w *fileWriter, meta *format.FileMetaData, bloomFilter func(rg, col int) []byte, columnIndex func(rg, col int) ([]byte, error), offsetIndex func(rg, col int) *format.OffsetIndex) error {
	var tail bytes.Buffer
	start := w.offset
	at := func() int64 { return start + int64(tail.Len()) }
	enc := thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&tail))
	for i := range meta.RowGroups {
		for j := range meta.RowGroups[i].Columns {
			md := &meta.RowGroups[i].Columns[j].MetaData
			md.BloomFilterOffset, md.BloomFilterLength = 0, 0
			if b := bloomFilter(i, j); b != nil {
				md.BloomFilterOffset, md.BloomFilterLength = at(), int32(len(b))
				tail.Write(b)
			}
		}
	}
	for i := range meta.RowGroups {
		for j := range meta.RowGroups[i].Columns {
			b, err := columnIndex(i, j)
			if err != nil {
				return err
			}
			if b != nil {
				c := &meta.RowGroups[i].Columns[j]
				c.ColumnIndexOffset, c.ColumnIndexLength = at(), int32(len(b))
				tail.Write(b)
			}
		}
	}
	for i := range meta.RowGroups {
		for j := range meta.RowGroups[i].Columns {
			if oi := offsetIndex(i, j); oi != nil {
				c := &meta.RowGroups[i].Columns[j]
				c.OffsetIndexOffset = at()
				if err := enc.Encode(oi); err != nil {
					return err
				}
				c.OffsetIndexLength = int32(at() - c.OffsetIndexOffset)
			}
		}
	}
	footerStart := at()
	if err := enc.Encode(meta); err != nil {
		return err
	}
	tail.Write(binary.LittleEndian.AppendUint32(nil, uint32(at()-footerStart)))
	tail.WriteString("PAR1")
	w.write(tail.Bytes())
	return w.err
}

// fileWriter counts the bytes written and keeps the first error.
type fileWriter struct {
	w      *os.File
	offset int64
	err    error
}

func (w *fileWriter) write(p []byte) {
	if w.err != nil {
		return
	}
	n, err := w.w.Write(p)
	w.offset += int64(n)
	w.err = err
}

// rowGroupEncoder turns records into one encoded row group: its column chunks, pages with
// their headers, in out, with offsets relative to out's start until place makes them absolute.
// Encoders are pooled: their buffers are sized by the first row groups and then reused.
type rowGroupEncoder struct {
	cols    []column
	b       rowBuilder
	out     bytes.Buffer
	rows    int
	chunks  []format.ColumnChunk
	colIdx  []*format.ColumnIndex
	offIdx  []format.OffsetIndex
	blooms  [][]byte // each column's Bloom filter, header and bitset (nil for none)
	zstd    zstd.Ctx
	zbuf    []byte // a page's values, compressed
	header  *thrift.Encoder
	scratch []byte // levels and values of the page being written
	lengths []int32
	deltas  []byte
	packed  []byte // its compressed values
}

// rowGroupEncoders holds the encoders not in use, at most maxEncoders of them: a few hundred
// megabytes of buffers are reused from one row group and file to the next instead of being
// allocated again (a sync.Pool drops them at every collection, and with the memory limit
// collections come often).
var rowGroupEncoders struct {
	sync.Mutex
	free    []*rowGroupEncoder
	made    int
	waiting chan struct{}
}

func maxEncoders() int { return runtime.GOMAXPROCS(0) + 2 }

// acquireEncoder returns a free encoder, making one if fewer than maxEncoders exist, and
// otherwise waiting for one to be released.
func acquireEncoder() *rowGroupEncoder {
	p := &rowGroupEncoders
	for {
		p.Lock()
		if n := len(p.free); n > 0 {
			e := p.free[n-1]
			p.free = p.free[:n-1]
			p.Unlock()
			return e
		}
		if p.made < maxEncoders() {
			p.made++
			p.Unlock()
			return newRowGroupEncoder()
		}
		if p.waiting == nil {
			p.waiting = make(chan struct{})
		}
		wait := p.waiting
		p.Unlock()
		<-wait
	}
}

// release returns e to the free encoders, dropping its references to the records it encoded,
// and buffers grown far past what ordinary row groups need (by records of huge values or of
// very many entries): kept, every pooled encoder would hold them for the rest of the run.
func (e *rowGroupEncoder) release() {
	for i := range e.cols {
		e.cols[i].reset()
		e.cols[i].shrink()
	}
	if e.out.Cap() > keepBufferBytes {
		e.out = bytes.Buffer{}
		e.header = thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&e.out))
	}
	e.zbuf = dropLarge(e.zbuf)
	e.scratch = dropLarge(e.scratch)
	e.deltas = dropLarge(e.deltas)
	e.packed = dropLarge(e.packed)
	if cap(e.lengths) > keepBufferBytes/4 {
		e.lengths = nil
	}
	p := &rowGroupEncoders
	p.Lock()
	p.free = append(p.free, e)
	if p.waiting != nil {
		close(p.waiting)
		p.waiting = nil
	}
	p.Unlock()
}

// ReleaseEncoders drops the free row-group encoders — tens of megabytes of buffers each —
// before compaction needs the memory for something else.
func ReleaseEncoders() {
	p := &rowGroupEncoders
	p.Lock()
	defer p.Unlock()
	p.made -= len(p.free)
	clear(p.free)
	p.free = p.free[:0]
}

func newRowGroupEncoder() *rowGroupEncoder {
	e := &rowGroupEncoder{cols: make([]column, len(ctLeaves)), zstd: zstd.NewCtx()}
	for i := range e.cols {
		e.cols[i].ctLeaf = &ctLeaves[i]
		e.cols[i].reset()
	}
	e.b.cols = e.cols
	e.header = thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&e.out))
	return e
}

// encode appends recs as the rows of a new row group.
func (e *rowGroupEncoder) encode(recs []*cloudtrail.Record) {
	e.out.Reset()
	e.rows = len(recs)
	for i, r := range recs {
		// The records are in the file's order, not the heap's: the walk waits on memory more
		// than it computes. Fetch a record's parts a few records ahead — the Record, then
		// what it points to once its own lines have arrived.
		if j := i + 8; j < len(recs) {
			prefetch.Lines(unsafe.Pointer(recs[j]), recordLines)
		}
		if j := i + 4; j < len(recs) {
			prefetchParts(recs[j])
		}
		if j := i + 2; j < len(recs) {
			prefetchDeeper(recs[j])
		}
		e.b.col = 0
		e.b.record(r)
	}
	e.chunks = e.chunks[:0]
	e.colIdx = e.colIdx[:0]
	e.offIdx = e.offIdx[:0]
	e.blooms = e.blooms[:0]
	for i := range e.cols {
		chunk, ci, oi := e.cols[i].writeChunk(e)
		e.chunks = append(e.chunks, chunk)
		e.colIdx = append(e.colIdx, ci)
		e.offIdx = append(e.offIdx, oi)
		var bf []byte
		if e.cols[i].bloom {
			bf = e.cols[i].bloomFilter()
		}
		e.blooms = append(e.blooms, bf)
	}
}

// place returns the row group's metadata and page index as at file offset base.
func (e *rowGroupEncoder) place(base int64, ordinal int16) (format.RowGroup, []*format.ColumnIndex, []format.OffsetIndex) {
	rg := format.RowGroup{NumRows: int64(e.rows), FileOffset: base, Ordinal: ordinal,
		Columns: make([]format.ColumnChunk, len(e.chunks))}
	oi := make([]format.OffsetIndex, len(e.offIdx))
	for i, c := range e.chunks {
		c.MetaData.DataPageOffset += base
		if slices.Contains(c.MetaData.Encoding, format.RLEDictionary) { // a dictionary page first
			c.MetaData.DictionaryPageOffset += base
		}
		rg.Columns[i] = c
		rg.TotalByteSize += c.MetaData.TotalUncompressedSize
		rg.TotalCompressedSize += c.MetaData.TotalCompressedSize
		locs := slices.Clone(e.offIdx[i].PageLocations)
		for k := range locs {
			locs[k].Offset += base
		}
		oi[i] = format.OffsetIndex{PageLocations: locs}
	}
	return rg, slices.Clone(e.colIdx), oi
}

// column is the buffer of one leaf column for the row group being encoded: a definition level
// per value slot (and a repetition level where the column repeats), and the non-null values —
// PLAIN encoded (a 4-byte length and the bytes), dictionary indexes, integers or booleans.
type column struct {
	*ctLeaf
	def, rep []uint8
	nulls    int
	values   int // non-null values

	plain []string // values of byte arrays not dictionary encoded, PLAIN encoded as pages are cut

	// Dictionary encoding: the distinct values in order of first use, their index, and each
	// value's index. fallback is set when the dictionary outgrew dictionaryMaxBytes: the
	// values so far were moved to plain.
	dictIndex map[string]int32
	dictVals  []string
	dictBytes int
	idx       []int32
	last      string
	lastIdx   int32
	fallback  bool

	ints  []int64
	bools []bool
}

func (c *column) reset() {
	clear(c.plain) // references into records
	c.def, c.rep, c.plain, c.idx, c.ints, c.bools = c.def[:0], c.rep[:0], c.plain[:0], c.idx[:0], c.ints[:0], c.bools[:0]
	c.nulls, c.values = 0, 0
	clear(c.dictIndex)
	clear(c.dictVals) // references into records
	c.dictVals = c.dictVals[:0]
	c.dictBytes, c.last, c.lastIdx, c.fallback = 0, "", -1, false
}

// keepBufferBytes is the largest buffer a pooled encoder keeps: ordinary row groups need a few
// megabytes (pages of pageBytes).
const keepBufferBytes = 16 << 20

func dropLarge(b []byte) []byte {
	if cap(b) > keepBufferBytes {
		return nil
	}
	return b
}

// keepValues is how many values (levels, indexes, strings) a pooled column keeps room for:
// ordinary row groups of RowGroupRows rows have far fewer.
const keepValues = 1 << 20

// shrink drops the buffers of a reset column that grew past keepValues.
func (c *column) shrink() {
	if cap(c.def) > keepValues {
		c.def, c.rep = nil, nil
	}
	if cap(c.plain) > keepValues {
		c.plain = nil
	}
	if cap(c.idx) > keepValues {
		c.idx = nil
	}
	if cap(c.dictVals) > keepValues/8 {
		c.dictVals, c.dictIndex = nil, nil
	}
	if cap(c.ints) > keepValues {
		c.ints = nil
	}
	if cap(c.bools) > keepValues {
		c.bools = nil
	}
}

func (c *column) null(rep, def int) {
	c.def = append(c.def, uint8(def))
	if c.maxRep > 0 {
		c.rep = append(c.rep, uint8(rep))
	}
	c.nulls++
}

func (c *column) levels(rep, def int) {
	c.def = append(c.def, uint8(def))
	if c.maxRep > 0 {
		c.rep = append(c.rep, uint8(rep))
	}
	c.values++
}

func (c *column) str(s string, rep, def int) {
	c.levels(rep, def)
	if !c.dict || c.fallback {
		c.plain = append(c.plain, s)
		return
	}
	if c.lastIdx >= 0 && s == c.last {
		c.idx = append(c.idx, c.lastIdx)
		return
	}
	i, ok := c.lookup(s)
	if !ok {
		i = int32(len(c.dictVals))
		c.dictVals = append(c.dictVals, s)
		switch n := len(c.dictVals); {
		case n == smallDict+1:
			if c.dictIndex == nil {
				c.dictIndex = map[string]int32{}
			}
			for k, v := range c.dictVals {
				c.dictIndex[v] = int32(k)
			}
		case n > smallDict+1:
			c.dictIndex[s] = i
		}
		c.dictBytes += 4 + len(s)
		if c.dictBytes > dictionaryMaxBytes {
			c.fallBack()
			c.plain = append(c.plain, s)
			return
		}
	}
	c.last, c.lastIdx = s, i
	c.idx = append(c.idx, i)
}

// smallDict is the size up to which a dictionary is searched in order rather than hashed:
// most columns have a handful of distinct values, and comparing lengths first is cheaper than
// hashing a string.
const smallDict = 8

// lookup returns the dictionary index of s.
func (c *column) lookup(s string) (int32, bool) {
	if len(c.dictVals) <= smallDict {
		for k, v := range c.dictVals {
			if len(v) == len(s) && v == s {
				return int32(k), true
			}
		}
		return 0, false
	}
	i, ok := c.dictIndex[s]
	return i, ok
}

// fallBack moves the values so far from the dictionary to plain.
func (c *column) fallBack() {
	c.fallback = true
	for _, i := range c.idx {
		c.plain = append(c.plain, c.dictVals[i])
	}
	c.idx = c.idx[:0]
}

func appendPlain(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func (c *column) int64(v int64, rep, def int) {
	c.levels(rep, def)
	c.ints = append(c.ints, v)
}

func (c *column) boolean(v bool, rep, def int) {
	c.levels(rep, def)
	c.bools = append(c.bools, v)
}

// pageSpan is the part of a column chunk that one data page holds.
type pageSpan struct {
	from, to       int // value slots (levels)
	vFrom, vTo     int // non-null values
	firstRow, rows int
	min, max       []byte // bounds of its values, if kept
}

// writeChunk writes the column's chunk to e.out: a dictionary page if dictionary encoded, then
// data pages — one, or for PLAIN byte arrays one per pageBytes of values, cut between rows. It
// returns the chunk's metadata (offsets relative to e.out), its column index (nil for a column
// without bounds) and its offset index.
func (c *column) writeChunk(e *rowGroupEncoder) (format.ColumnChunk, *format.ColumnIndex, format.OffsetIndex) {
	md := format.ColumnMetaData{Type: c.typ, PathInSchema: c.path, Codec: format.Zstd, NumValues: int64(len(c.def))}
	start := int64(e.out.Len())
	useDict := c.typ == format.ByteArray && c.dict && !c.fallback && len(c.dictVals) > 0
	var valueEncoding format.Encoding = format.Plain
	if useDict {
		valueEncoding = format.RLEDictionary
		md.Encoding = []format.Encoding{format.Plain, format.RLE, format.RLEDictionary}
		md.DictionaryPageOffset = start
		e.scratch = e.scratch[:0]
		for _, s := range c.dictVals {
			e.scratch = appendPlain(e.scratch, s)
		}
		e.packed = append(e.packed[:0], e.compress(e.scratch)...)
		hn := e.writePage(&format.PageHeader{Type: format.DictionaryPage,
			UncompressedPageSize: int32(len(e.scratch)), CompressedPageSize: int32(len(e.packed)),
			DictionaryPageHeader: thrift.New(format.DictionaryPageHeader{NumValues: int32(len(c.dictVals)), Encoding: format.Plain})},
			e.packed)
		md.TotalUncompressedSize += int64(hn + len(e.scratch))
		md.EncodingStats = append(md.EncodingStats, format.PageEncodingStats{PageType: format.DictionaryPage, Encoding: format.Plain, Count: 1})
	} else if c.typ == format.ByteArray {
		// Lengths apart from the bytes, as DELTA_LENGTH_BYTE_ARRAY keeps them, compress
		// better than PLAIN's length before each value (3 % of the store).
		valueEncoding = format.DeltaLengthByteArray
		md.Encoding = []format.Encoding{format.RLE, format.DeltaLengthByteArray}
	} else {
		md.Encoding = []format.Encoding{format.Plain, format.RLE}
	}
	spans := c.spans(e.rows, useDict)
	md.DataPageOffset = int64(e.out.Len())
	var oi format.OffsetIndex
	var ci *format.ColumnIndex
	if c.bounds {
		ci = &format.ColumnIndex{}
	}
	for _, p := range spans {
		pageStart := int64(e.out.Len())
		md.TotalUncompressedSize += int64(c.writeDataPage(e, &p, valueEncoding))
		oi.PageLocations = append(oi.PageLocations, format.PageLocation{Offset: pageStart,
			CompressedPageSize: int32(int64(e.out.Len()) - pageStart), FirstRowIndex: int64(p.firstRow)})
		if ci == nil {
			continue
		}
		nullPage := p.vTo == p.vFrom
		ci.NullPages = append(ci.NullPages, nullPage)
		ci.MinValues = append(ci.MinValues, p.min)
		ci.MaxValues = append(ci.MaxValues, p.max)
		ci.NullCounts = append(ci.NullCounts, int64((p.to-p.from)-(p.vTo-p.vFrom)))
		if !nullPage {
			if md.Statistics.MinValue == nil || c.less(p.min, md.Statistics.MinValue) {
				md.Statistics.MinValue = p.min
			}
			if md.Statistics.MaxValue == nil || c.less(md.Statistics.MaxValue, p.max) {
				md.Statistics.MaxValue = p.max
			}
		}
	}
	md.EncodingStats = append(md.EncodingStats, format.PageEncodingStats{PageType: format.DataPageV2, Encoding: valueEncoding, Count: int32(len(spans))})
	md.Statistics.NullCount = int64(c.nulls)
	md.TotalCompressedSize = int64(e.out.Len()) - start
	return format.ColumnChunk{MetaData: md}, ci, oi
}

// less orders two statistics values of c's type.
func (c *column) less(a, b []byte) bool {
	switch c.typ {
	case format.Int64:
		return int64(binary.LittleEndian.Uint64(a)) < int64(binary.LittleEndian.Uint64(b))
	case format.Boolean:
		return a[0] < b[0]
	}
	return bytes.Compare(a, b) < 0
}

// spans cuts the chunk into pages: PLAIN byte arrays every pageBytes of values, between rows;
// everything else (dictionary indexes, integers, booleans: a few bytes a row) in one page.
func (c *column) spans(rows int, useDict bool) []pageSpan {
	n := len(c.def)
	maxDef := uint8(c.maxDef)
	if c.typ != format.ByteArray || useDict {
		p := pageSpan{to: n, vTo: c.values, rows: rows}
		if c.bounds && c.values > 0 {
			p.min, p.max = c.bounds1()
		}
		return []pageSpan{p}
	}
	var out []pageSpan
	var p pageSpan
	row, vals, size := 0, 0, 0 // size: PLAIN bytes of the page so far
	var lo, hi string
	cut := func(i int) {
		p.to, p.vTo, p.rows = i, vals, row-p.firstRow
		if p.vTo > p.vFrom && c.bounds {
			p.min, p.max = []byte(lo), []byte(hi)
		}
		out = append(out, p)
		p = pageSpan{from: i, vFrom: vals, firstRow: row}
		size = 0
	}
	for i := range n {
		if c.maxRep == 0 || c.rep[i] == 0 {
			if size >= pageBytes && i > p.from {
				cut(i)
			}
			row++
		}
		if c.def[i] == maxDef {
			v := c.plain[vals]
			if c.bounds {
				if vals == p.vFrom || v < lo {
					lo = v
				}
				if vals == p.vFrom || v > hi {
					hi = v
				}
			}
			size += 4 + len(v)
			vals++
		}
	}
	cut(n)
	return out
}

// bounds1 is the min and max of all the column's values, PLAIN encoded as statistics are.
func (c *column) bounds1() (lo, hi []byte) {
	switch c.typ {
	case format.Int64:
		mn, mx := c.ints[0], c.ints[0]
		for _, v := range c.ints {
			mn, mx = min(mn, v), max(mx, v)
		}
		return binary.LittleEndian.AppendUint64(nil, uint64(mn)), binary.LittleEndian.AppendUint64(nil, uint64(mx))
	case format.Boolean:
		mn, mx := true, false
		for _, v := range c.bools {
			mn, mx = mn && v, mx || v
		}
		return []byte{b2u(mn)}, []byte{b2u(mx)}
	}
	// Dictionary encoded: the bounds of the distinct values.
	mn, mx := c.dictVals[0], c.dictVals[0]
	for _, s := range c.dictVals {
		mn, mx = min(mn, s), max(mx, s)
	}
	return []byte(mn), []byte(mx)
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// writeDataPage writes the data page v2 of span p: repetition and definition levels (RLE,
// uncompressed, as v2 keeps them), then the values, compressed.
func (c *column) writeDataPage(e *rowGroupEncoder, p *pageSpan, enc format.Encoding) (uncompressed int) {
	buf := e.scratch[:0]
	var repLen, defLen int
	if c.maxRep > 0 {
		buf, _ = appendLevels(buf, c.rep[p.from:p.to], c.maxRep)
		repLen = len(buf)
	}
	buf, _ = appendLevels(buf, c.def[p.from:p.to], c.maxDef)
	defLen = len(buf) - repLen
	levels := len(buf)
	switch {
	case enc == format.RLEDictionary:
		buf, _ = appendDictIndexes(buf, c.idx[p.vFrom:p.vTo])
	case c.typ == format.ByteArray:
		vals := c.plain[p.vFrom:p.vTo]
		e.lengths = e.lengths[:0]
		for _, v := range vals {
			e.lengths = append(e.lengths, int32(len(v)))
		}
		e.deltas, _ = deltaLengths.EncodeInt32(e.deltas, e.lengths) // overwrites its first argument
		buf = append(buf, e.deltas...)
		for i, v := range vals {
			if j := i + 3; j < len(vals) { // the values lie in their records' JSON, all over the heap
				prefetch.Lines(unsafe.Pointer(unsafe.StringData(vals[j])), min(len(vals[j])/64+1, 32))
			}
			buf = append(buf, v...)
		}
	case c.typ == format.Int64:
		for _, v := range c.ints[p.vFrom:p.vTo] {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
		}
	case c.typ == format.Boolean:
		var acc byte
		for i, v := range c.bools[p.vFrom:p.vTo] {
			acc |= b2u(v) << (i % 8)
			if i%8 == 7 {
				buf = append(buf, acc)
				acc = 0
			}
		}
		if (p.vTo-p.vFrom)%8 != 0 {
			buf = append(buf, acc)
		}
	}
	e.scratch = buf
	e.packed = append(e.packed[:0], buf[:levels]...)
	e.packed = append(e.packed, e.compress(buf[levels:])...)
	hn := e.writePage(&format.PageHeader{Type: format.DataPageV2,
		UncompressedPageSize: int32(len(buf)), CompressedPageSize: int32(len(e.packed)),
		DataPageHeaderV2: thrift.New(format.DataPageHeaderV2{
			NumValues: int32(p.to - p.from), NumNulls: int32((p.to - p.from) - (p.vTo - p.vFrom)), NumRows: int32(p.rows),
			Encoding: enc, DefinitionLevelsByteLength: int32(defLen), RepetitionLevelsByteLength: int32(repLen),
			IsCompressed: thrift.New(true)})},
		e.packed)
	return hn + len(buf)
}

// compress is src compressed by zstd at level 1 — libzstd's fastest level that compresses the
// JSON of eventjson as well as klauspost's fastest (the zstd of the engine and of parquet-go), at
// 1.7 times its speed (1,043 against 625 MB/s on 1 MB pages of CloudTrail JSON).
func (e *rowGroupEncoder) compress(src []byte) []byte {
	if n := zstd.CompressBound(len(src)); cap(e.zbuf) < n {
		e.zbuf = make([]byte, n)
	}
	out, err := e.zstd.CompressLevel(e.zbuf[:cap(e.zbuf)], src, 1)
	if err != nil {
		panic(fmt.Sprintf("ctparquet: zstd: %v", err)) // only for a buffer under CompressBound
	}
	return out
}

// writePage appends a page header and its body to e.out.
// It returns the header's size, which the chunk's sizes include.
func (e *rowGroupEncoder) writePage(h *format.PageHeader, body []byte) int {
	n := e.out.Len()
	if err := e.header.Encode(h); err != nil {
		panic(fmt.Sprintf("ctparquet: encoding a page header: %v", err)) // a bytes.Buffer does not fail
	}
	n = e.out.Len() - n
	e.out.Write(body)
	return n
}

var levelEncoders [8]rle.Encoding

func init() {
	for i := range levelEncoders {
		levelEncoders[i].BitWidth = bits.Len(uint(i))
	}
}

// appendLevels appends levels of at most max in the RLE/bit-packed hybrid, without a length.
func appendLevels(dst []byte, levels []uint8, max int) ([]byte, error) {
	out, err := levelEncoders[max].EncodeLevels(dst[len(dst):], levels)
	return append(dst, out...), err
}

var dictEncoding rle.DictionaryEncoding

var deltaLengths delta.BinaryPackedEncoding

// appendDictIndexes appends dictionary indexes as RLE_DICTIONARY data: a bit width, then the
// hybrid encoding.
func appendDictIndexes(dst []byte, idx []int32) ([]byte, error) {
	out, err := dictEncoding.EncodeInt32(dst[len(dst):], idx)
	return append(dst, out...), err
}

// recordLines is how many cache lines a cloudtrail.Record spans.
var recordLines = int((unsafe.Sizeof(cloudtrail.Record{}) + 63) / 64)

// prefetchParts prefetches what a Record points to that the walk reads: its string slots (the
// decoder allocates them together, event version first), its user identity, its maps' entries,
// resources and TLS details, and its JSON text (where its strings lie).
func prefetchParts(r *cloudtrail.Record) {
	prefetch.Lines(unsafe.Pointer(r.EventVersion), 8)
	if u := r.UserIdentity; u != nil {
		prefetch.Lines(unsafe.Pointer(u), 3)
	}
	for _, m := range []cloudtrail.Map{r.RequestParameters, r.ResponseElements, r.AdditionalEventData} {
		if len(m) > 0 {
			prefetch.Lines(unsafe.Pointer(&m[0]), min(len(m)*int(unsafe.Sizeof(m[0]))/64+1, 8))
		}
	}
	if len(r.Resources) > 0 {
		prefetch.Lines(unsafe.Pointer(&r.Resources[0]), 2)
	}
	prefetch.Lines(unsafe.Pointer(r.TLSDetails), 1)
	prefetch.Lines(unsafe.Pointer(unsafe.StringData(r.EventJSON)), min(len(r.EventJSON)/64+1, 32))
}

// prefetchDeeper prefetches a Record's session context and its parts (the user identity, which
// points to them, was prefetched two records earlier).
func prefetchDeeper(r *cloudtrail.Record) {
	u := r.UserIdentity
	if u == nil || u.SessionContext == nil {
		return
	}
	sc := u.SessionContext
	prefetch.Lines(unsafe.Pointer(sc), 1)
	prefetch.Lines(unsafe.Pointer(sc.Attributes), 1)
	prefetch.Lines(unsafe.Pointer(sc.SessionIssuer), 2)
	prefetch.Lines(unsafe.Pointer(sc.WebIDFederationData), 1)
}
