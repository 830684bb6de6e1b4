package ctparquet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"slices"

	"github.com/DataDog/zstd"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Recompression: a closed day's file rewritten once for the cold storage it is from then on —
// every zstd page compressed again at a higher level (the hot files of recent days are written
// at level 1, for ingest's speed), and, with derive, the eventjsonchecksum column left out of
// the file's bytes: it is the lowercase hex SHA-256 of eventjson on every record the decoder
// writes, so a reader computes it exactly (DerivedChecksumSQL) from a column of nulls, which
// costs a few bytes per row group instead of 32 incompressible bytes per row. Pages, values,
// statistics, the page index and the Bloom filters are kept; only page bodies change.

// ColdLevel is the zstd level of a closed day's pages: on the pages of CloudTrail JSON of the
// Go writer (4 MB), level 9 takes most of what higher levels gain, at a fraction of their time.
const ColdLevel = 9

// ChecksumColumn is the column a recompressed file may leave to its readers to derive.
const ChecksumColumn = "eventjsonchecksum"

// DerivedChecksumKey is the key-value metadata a file whose eventjsonchecksum column is all
// null because it is derived carries (its value says how).
const DerivedChecksumKey = "auditlake.eventjsonchecksum"

// DerivedChecksumSQL is the engine expression that reads eventjsonchecksum the same from every
// file: the stored value where a file holds it, else (null in a cold file, "" in a hot one whose
// ingest left it to derive: cloudtrail.DecodeOptions.DeferChecksum) the lowercase hex SHA-256 of eventjson as
// it reads (ColdJSONSQL; DuckDB's sha256 hashes the string's UTF-8 bytes, as the decoder does).
var DerivedChecksumSQL = "coalesce(nullif(eventjsonchecksum, ''), sha256(" + ColdJSONSQL + "))"

// Recompress writes src again as dst with its zstd pages compressed at level (0: as they are) and, when derive
// and src is a CloudTrail data file, its eventjsonchecksum column as nulls (and the metadata
// saying so). It returns the rows written; a failed write removes dst. A file that is not a
// data file of this schema is recompressed only.
func Recompress(dst, src string, level int, derive bool) (rows int64, err error) {
	return RecompressWith(dst, src, ColdOptions{Level: level, Derive: derive})
}

// ColdOptions say how RecompressWith writes a file again.
type ColdOptions struct {
	Level  int  // zstd level of the pages (0: as they are)
	Derive bool // eventjsonchecksum as nulls (a CloudTrail data file only)
	// JSON, with Derive, gives the eventjson of each row group (rows first..first+n-1 of the
	// file) as the file is to store it (CutJSON's), which replaces the column's pages: next
	// is called once for each of its rows, in order.
	JSON func(first, n int64) (next func() (value string, null bool, err error), err error)
	// DeltaInts writes the PLAIN pages of 64-bit integer columns as DELTA_BINARY_PACKED.
	DeltaInts bool
	// Checksum, without Derive, gives the eventjsonchecksum of each row group as JSON gives
	// eventjson: with both, a file that left them to its readers (a cut cold file) is written
	// whole again (a published store's files, lake.KeepWholeJSON).
	Checksum func(first, n int64) (next func() (value string, null bool, err error), err error)
}

// RecompressWith is Recompress with the eventjson column written again from opts.JSON.
func RecompressWith(dst, src string, opts ColdOptions) (rows int64, err error) {
	level, derive := opts.Level, opts.Derive
	f, err := readParquetFile(src)
	if err != nil {
		return 0, err
	}
	if f.meta.EncryptionAlgorithm.Value != nil {
		return 0, ErrNotConcatenable
	}
	checksumCol := -1 // the column chunk of eventjsonchecksum in every row group, when derived
	jsonCol := -1     // the column chunk of eventjson, when written again
	whole := !derive && opts.JSON != nil && opts.Checksum != nil
	if (derive || whole) && len(f.meta.RowGroups) > 0 {
		for j, c := range f.meta.RowGroups[0].Columns {
			if p := c.MetaData.PathInSchema; len(p) == 1 && p[0] == ChecksumColumn {
				checksumCol = j
			} else if len(p) == 1 && p[0] == "eventjson" && opts.JSON != nil {
				jsonCol = j
			}
		}
		if checksumCol < 0 {
			jsonCol = -1
		}
		if jsonCol >= 0 && !optionalLeaf(&f.meta, "eventjson") {
			return 0, fmt.Errorf("%s: eventjson is not an optional top-level string column", src)
		}
		if whole && (jsonCol < 0 || !optionalLeaf(&f.meta, ChecksumColumn)) {
			return 0, fmt.Errorf("%s: not a CloudTrail data file with eventjson and its checksum to write whole", src)
		}
	}
	out, w, err := createFile(dst)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(dst)
		}
	}()
	meta := f.meta
	meta.RowGroups = slices.Clone(f.meta.RowGroups)
	type index struct {
		column []byte
		offset *format.OffsetIndex
		bloom  []byte
	}
	indexes := make([][]index, len(meta.RowGroups))
	zc := zstd.NewCtx()
	var hdr bytes.Buffer
	enc := thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&hdr))
	var plain, packed, deltas []byte
	var ints []int64
	for i := range meta.RowGroups {
		rg := &meta.RowGroups[i]
		rg.Columns = slices.Clone(rg.Columns)
		rg.FileOffset = w.offset
		indexes[i] = make([]index, len(rg.Columns))
		var rgCompressed int64
		for j := range rg.Columns {
			c := &rg.Columns[j]
			md := &c.MetaData
			if c.FilePath != "" || c.CryptoMetadata.Value != nil || len(c.EncryptedColumnMetadata) > 0 {
				return 0, ErrNotConcatenable
			}
			idx := &indexes[i][j]
			if c.ColumnIndexLength > 0 {
				if idx.column, err = f.slice(c.ColumnIndexOffset, int64(c.ColumnIndexLength)); err != nil {
					return 0, err
				}
			}
			if md.BloomFilterLength > 0 {
				if idx.bloom, err = f.slice(md.BloomFilterOffset, int64(md.BloomFilterLength)); err != nil {
					return 0, err
				}
			}
			var oldOI *format.OffsetIndex
			if c.OffsetIndexLength > 0 {
				b, err := f.slice(c.OffsetIndexOffset, int64(c.OffsetIndexLength))
				if err != nil {
					return 0, err
				}
				oldOI = new(format.OffsetIndex)
				if err := thrift.Unmarshal(new(thrift.CompactProtocol), b, oldOI); err != nil {
					return 0, fmt.Errorf("%s: offset index: %w", src, err)
				}
			}
			c.ColumnIndexOffset, c.ColumnIndexLength, c.OffsetIndexOffset, c.OffsetIndexLength = 0, 0, 0, 0
			md.BloomFilterOffset, md.BloomFilterLength = 0, 0
			start := md.DataPageOffset
			if md.DictionaryPageOffset > 0 && md.DictionaryPageOffset < start {
				start = md.DictionaryPageOffset
			}
			end := start + md.TotalCompressedSize
			if start < 4 || end > int64(len(f.data)) {
				return 0, fmt.Errorf("%s: row group %d column %d: pages at %d..%d of %d bytes", src, i, j, start, end, len(f.data))
			}
			chunkStart := w.offset
			if j == checksumCol && whole {
				next, err := opts.Checksum(rows, rg.NumRows)
				if err != nil {
					return 0, err
				}
				oi, err := writeJSONChunk(w, enc, &hdr, zc, c, rg.NumRows, max(level, 1), next)
				if err != nil {
					return 0, fmt.Errorf("%s: row group %d: %s: %w", src, i, ChecksumColumn, err)
				}
				idx.offset, idx.column, idx.bloom = oi, nil, nil
				rgCompressed += w.offset - chunkStart
				continue
			}
			if j == checksumCol {
				oi, ci := writeNullChunk(w, enc, &hdr, c, rg.NumRows)
				idx.offset, idx.column, idx.bloom = oi, ci, nil
				rgCompressed += w.offset - chunkStart
				continue
			}
			if j == jsonCol {
				next, err := opts.JSON(rows, rg.NumRows)
				if err != nil {
					return 0, err
				}
				oi, err := writeJSONChunk(w, enc, &hdr, zc, c, rg.NumRows, max(level, 1), next)
				if err != nil {
					return 0, fmt.Errorf("%s: row group %d: eventjson: %w", src, i, err)
				}
				idx.offset, idx.column, idx.bloom = oi, nil, nil
				rgCompressed += w.offset - chunkStart
				continue
			}
			var locs []format.PageLocation
			hasDict := md.DictionaryPageOffset > 0
			deltaPages := int32(0)
			md.DictionaryPageOffset = 0
			md.DataPageOffset = 0
			for off, page := start, 0; off < end; page++ {
				var h format.PageHeader
				r := bytes.NewReader(f.data[off:end])
				if err := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(r)).Decode(&h); err != nil {
					return 0, fmt.Errorf("%s: row group %d column %d: page header at %d: %w", src, i, j, off, err)
				}
				hlen := int64(len(f.data[off:end]) - r.Len())
				bodyAt := off + hlen
				if h.CompressedPageSize < 0 || bodyAt+int64(h.CompressedPageSize) > end {
					return 0, fmt.Errorf("%s: row group %d column %d: page at %d runs past its chunk", src, i, j, off)
				}
				body := f.data[bodyAt : bodyAt+int64(h.CompressedPageSize)]
				off = bodyAt + int64(h.CompressedPageSize)
				// The part of the body that is compressed: all of it, but for a data page v2's
				// levels (kept uncompressed), and none of an uncompressed v2 page.
				keep := 0
				compressed := md.Codec == format.Zstd
				if h.Type == format.DataPageV2 {
					v2 := h.DataPageHeaderV2.V
					keep = int(v2.RepetitionLevelsByteLength + v2.DefinitionLevelsByteLength)
					if v2.IsCompressed.Valid && !v2.IsCompressed.V {
						compressed = false
					}
				}
				newBody := body
				if compressed && keep <= len(body) && level > 0 {
					plain, err = zstd.Decompress(plain[:cap(plain)], body[keep:])
					if err != nil {
						return 0, fmt.Errorf("%s: row group %d column %d: page at %d: %w", src, i, j, off, err)
					}
					if v2 := &h.DataPageHeaderV2.V; opts.DeltaInts && md.Type == format.Int64 && !hasDict && h.Type == format.DataPageV2 &&
						v2.Encoding == format.Plain && len(plain) == 8*int(v2.NumValues-v2.NumNulls) {
						// PLAIN 64-bit integers (timestamps, sorted within each event name) as
						// DELTA_BINARY_PACKED: a few bits a row instead of eight bytes.
						ints = ints[:0]
						for k := 0; k < len(plain); k += 8 {
							ints = append(ints, int64(binary.LittleEndian.Uint64(plain[k:])))
						}
						if deltas, err = deltaLengths.EncodeInt64(deltas[:0], ints); err != nil {
							return 0, err
						}
						plain = append(plain[:0], deltas...)
						v2.Encoding = format.DeltaBinaryPacked
						h.UncompressedPageSize = int32(keep + len(plain))
						deltaPages++
					}
					if n := zstd.CompressBound(len(plain)); cap(packed) < keep+n {
						packed = make([]byte, 0, keep+n)
					}
					packed = append(packed[:0], body[:keep]...)
					z, err := zc.CompressLevel(packed[keep:cap(packed)], plain, level)
					if err != nil {
						return 0, err
					}
					packed = packed[:keep+len(z)]
					if len(packed) < len(body) || h.Type == format.DataPageV2 && h.DataPageHeaderV2.V.Encoding == format.DeltaBinaryPacked {
						newBody = packed
					}
				}
				h.CompressedPageSize = int32(len(newBody))
				h.CRC = 0
				hdr.Reset()
				if err := enc.Encode(&h); err != nil {
					return 0, err
				}
				pageAt := w.offset
				switch h.Type {
				case format.DictionaryPage:
					md.DictionaryPageOffset = pageAt
				case format.DataPage, format.DataPageV2:
					if md.DataPageOffset == 0 {
						md.DataPageOffset = pageAt
					}
					locs = append(locs, format.PageLocation{Offset: pageAt, CompressedPageSize: int32(hdr.Len() + len(newBody))})
				}
				w.write(hdr.Bytes())
				w.write(newBody)
			}
			if w.err != nil {
				return 0, w.err
			}
			if deltaPages > 0 {
				md.Encoding = []format.Encoding{format.RLE, format.DeltaBinaryPacked}
				if k := slices.Index(md.Encoding, format.Plain); deltaPages < int32(len(locs)) && k < 0 {
					md.Encoding = append(md.Encoding, format.Plain)
				}
				md.EncodingStats = []format.PageEncodingStats{{PageType: format.DataPageV2, Encoding: format.DeltaBinaryPacked, Count: deltaPages}}
				if n := int32(len(locs)) - deltaPages; n > 0 {
					md.EncodingStats = append(md.EncodingStats, format.PageEncodingStats{PageType: format.DataPageV2, Encoding: format.Plain, Count: n})
				}
			}
			if oldOI != nil {
				if len(oldOI.PageLocations) != len(locs) {
					return 0, fmt.Errorf("%s: row group %d column %d: %d data pages, the offset index says %d", src, i, j, len(locs), len(oldOI.PageLocations))
				}
				for k := range locs {
					locs[k].FirstRowIndex = oldOI.PageLocations[k].FirstRowIndex
				}
				idx.offset = &format.OffsetIndex{PageLocations: locs, UnencodedByteArrayDataBytes: oldOI.UnencodedByteArrayDataBytes}
			}
			md.TotalCompressedSize = w.offset - chunkStart
			if c.FileOffset > 0 {
				c.FileOffset = chunkStart
			}
			rgCompressed += md.TotalCompressedSize
		}
		rg.TotalCompressedSize = rgCompressed
		rows += rg.NumRows
	}
	if whole {
		meta.KeyValueMetadata = slices.DeleteFunc(slices.Clone(meta.KeyValueMetadata), func(kv format.KeyValue) bool { return kv.Key == DerivedChecksumKey })
	} else if checksumCol >= 0 {
		meta.KeyValueMetadata = append(slices.DeleteFunc(slices.Clone(meta.KeyValueMetadata), func(kv format.KeyValue) bool { return kv.Key == DerivedChecksumKey }),
			format.KeyValue{Key: DerivedChecksumKey, Value: "null here: " + DerivedChecksumSQL})
	}
	err = writeTail(w, &meta, func(i, j int) []byte { return indexes[i][j].bloom },
		func(i, j int) ([]byte, error) { return indexes[i][j].column, nil },
		func(i, j int) *format.OffsetIndex { return indexes[i][j].offset })
	if err != nil {
		return 0, err
	}
	startWriteback(out)
	return rows, out.Close()
}

// optionalLeaf says whether the schema's top-level column name is an optional leaf of bytes.
func optionalLeaf(meta *format.FileMetaData, name string) bool {
	for _, e := range meta.Schema[1:] {
		if e.Name == name {
			return (!e.NumChildren.Valid || e.NumChildren.V == 0) && e.Type.Valid && e.Type.V == format.ByteArray &&
				e.RepetitionType.Valid && e.RepetitionType.V == format.Optional
		}
	}
	return false
}

// writeJSONChunk writes column chunk c (eventjson or its checksum, an optional top-level string) of a row group
// of rows rows again from next's values, as the Go writer writes it — data pages v2 of
// DELTA_LENGTH_BYTE_ARRAY values, cut between rows at pageBytes, compressed at level — with
// no bounds (boundlessColumns), and returns its offset index.
func writeJSONChunk(w *fileWriter, enc *thrift.Encoder, hdr *bytes.Buffer, zc zstd.Ctx, c *format.ColumnChunk, rows int64, level int,
	next func() (string, bool, error)) (*format.OffsetIndex, error) {
	md := &c.MetaData
	start := w.offset
	md.Codec = format.Zstd
	md.Encoding = []format.Encoding{format.RLE, format.DeltaLengthByteArray}
	md.DictionaryPageOffset, md.IndexPageOffset = 0, 0
	md.DataPageOffset = start
	md.NumValues = rows
	md.TotalUncompressedSize = 0
	md.SizeStatistics = format.SizeStatistics{}
	oi := &format.OffsetIndex{}
	var nulls int64
	var (
		defs    []uint8
		vals    []string
		lengths []int32
		deltas  []byte
		body    []byte
		packed  []byte
		first   int64
		size    int
		pages   int32
	)
	flush := func() error {
		if len(defs) == 0 {
			return nil
		}
		levels, _ := appendLevels(nil, defs, 1)
		lengths = lengths[:0]
		for _, v := range vals {
			lengths = append(lengths, int32(len(v)))
		}
		deltas, _ = deltaLengths.EncodeInt32(deltas, lengths)
		body = append(body[:0], deltas...)
		for _, v := range vals {
			body = append(body, v...)
		}
		if n := zstd.CompressBound(len(body)); cap(packed) < len(levels)+n {
			packed = make([]byte, 0, len(levels)+n)
		}
		packed = append(packed[:0], levels...)
		z, err := zc.CompressLevel(packed[len(levels):cap(packed)], body, level)
		if err != nil {
			return err
		}
		packed = packed[:len(levels)+len(z)]
		hdr.Reset()
		if err := enc.Encode(&format.PageHeader{Type: format.DataPageV2,
			UncompressedPageSize: int32(len(levels) + len(body)), CompressedPageSize: int32(len(packed)),
			DataPageHeaderV2: thrift.New(format.DataPageHeaderV2{NumValues: int32(len(defs)), NumNulls: int32(len(defs) - len(vals)),
				NumRows: int32(len(defs)), Encoding: format.DeltaLengthByteArray, DefinitionLevelsByteLength: int32(len(levels)),
				IsCompressed: thrift.New(true)})}); err != nil {
			return err
		}
		at := w.offset
		w.write(hdr.Bytes())
		w.write(packed)
		md.TotalUncompressedSize += int64(hdr.Len() + len(levels) + len(body))
		oi.PageLocations = append(oi.PageLocations, format.PageLocation{Offset: at, CompressedPageSize: int32(w.offset - at), FirstRowIndex: first})
		first += int64(len(defs))
		defs, vals, size = defs[:0], vals[:0], 0
		pages++
		return w.err
	}
	for range rows {
		v, null, err := next()
		if err != nil {
			return nil, err
		}
		if null {
			defs = append(defs, 0)
			nulls++
		} else {
			defs = append(defs, 1)
			vals = append(vals, v)
			size += 4 + len(v)
		}
		if size >= pageBytes {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	md.EncodingStats = []format.PageEncodingStats{{PageType: format.DataPageV2, Encoding: format.DeltaLengthByteArray, Count: pages}}
	md.Statistics = format.Statistics{NullCount: nulls}
	md.TotalCompressedSize = w.offset - start
	if c.FileOffset > 0 {
		c.FileOffset = start
	}
	return oi, nil
}

// writeNullChunk writes column chunk c of a row group of rows rows as one data page v2 of nulls
// (an optional top-level column: definition levels all 0, no values) and returns its offset
// index and encoded column index.
func writeNullChunk(w *fileWriter, enc *thrift.Encoder, hdr *bytes.Buffer, c *format.ColumnChunk, rows int64) (*format.OffsetIndex, []byte) {
	md := &c.MetaData
	levels := make([]uint8, rows)
	body, _ := appendLevels(nil, levels, 1)
	hdr.Reset()
	enc.Encode(&format.PageHeader{Type: format.DataPageV2, UncompressedPageSize: int32(len(body)), CompressedPageSize: int32(len(body)),
		DataPageHeaderV2: thrift.New(format.DataPageHeaderV2{NumValues: int32(rows), NumNulls: int32(rows), NumRows: int32(rows),
			Encoding: format.Plain, DefinitionLevelsByteLength: int32(len(body)), IsCompressed: thrift.New(false)})})
	at := w.offset
	w.write(hdr.Bytes())
	w.write(body)
	size := w.offset - at
	md.Encoding = []format.Encoding{format.Plain, format.RLE}
	md.EncodingStats = []format.PageEncodingStats{{PageType: format.DataPageV2, Encoding: format.Plain, Count: 1}}
	md.NumValues = rows
	md.TotalCompressedSize, md.TotalUncompressedSize = size, size
	md.DataPageOffset, md.DictionaryPageOffset, md.IndexPageOffset = at, 0, 0
	md.Statistics = format.Statistics{NullCount: rows}
	md.SizeStatistics = format.SizeStatistics{}
	if c.FileOffset > 0 {
		c.FileOffset = at
	}
	ci, _ := thrift.Marshal(new(thrift.CompactProtocol), &format.ColumnIndex{NullPages: []bool{true}, MinValues: [][]byte{{}}, MaxValues: [][]byte{{}},
		BoundaryOrder: format.Unordered, NullCounts: []int64{rows}})
	return &format.OffsetIndex{PageLocations: []format.PageLocation{{Offset: at, CompressedPageSize: int32(size)}}}, ci
}

// ColumnBytes returns the compressed bytes of each top-level column of the Parquet file at
// path (pages and their headers), and the file's created_by.
func ColumnBytes(path string) (map[string]int64, string, error) {
	f, err := readParquetFile(path)
	if err != nil {
		return nil, "", err
	}
	out := map[string]int64{}
	for _, rg := range f.meta.RowGroups {
		for _, c := range rg.Columns {
			if len(c.MetaData.PathInSchema) > 0 {
				out[c.MetaData.PathInSchema[0]] += c.MetaData.TotalCompressedSize
			}
		}
	}
	return out, f.meta.CreatedBy, nil
}

// DataFilesSQL is the relation, for the engine, of CloudTrail data files (paths: a DuckDB list
// literal of them) with eventjson and eventjsonchecksum read the same from every file, stored
// or derived (ColdJSONSQL, DerivedChecksumSQL).
func DataFilesSQL(paths string) string {
	return "(SELECT * REPLACE (" + ColdJSONSQL + " AS eventjson, " + DerivedChecksumSQL + " AS " + ChecksumColumn + ") FROM read_parquet(" + paths + ", hive_partitioning = false))"
}
