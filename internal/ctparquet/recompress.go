package ctparquet

import (
	"bytes"
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
// file: the stored value where a file holds it, else the lowercase hex SHA-256 of eventjson
// (DuckDB's sha256 hashes the string's UTF-8 bytes, as the decoder does).
const DerivedChecksumSQL = "coalesce(eventjsonchecksum, sha256(eventjson))"

// Recompress writes src again as dst with its zstd pages compressed at level (0: as they are) and, when derive
// and src is a CloudTrail data file, its eventjsonchecksum column as nulls (and the metadata
// saying so). It returns the rows written; a failed write removes dst. A file that is not a
// data file of this schema is recompressed only.
func Recompress(dst, src string, level int, derive bool) (rows int64, err error) {
	f, err := readParquetFile(src)
	if err != nil {
		return 0, err
	}
	if f.meta.EncryptionAlgorithm.Value != nil {
		return 0, ErrNotConcatenable
	}
	checksumCol := -1 // the column chunk of eventjsonchecksum in every row group, when derived
	if derive && len(f.meta.RowGroups) > 0 {
		for j, c := range f.meta.RowGroups[0].Columns {
			if p := c.MetaData.PathInSchema; len(p) == 1 && p[0] == ChecksumColumn {
				checksumCol = j
			}
		}
	}
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(dst)
		}
	}()
	w := &fileWriter{w: out}
	w.write([]byte("PAR1"))
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
	var plain, packed []byte
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
			if j == checksumCol {
				oi, ci := writeNullChunk(w, enc, &hdr, c, rg.NumRows)
				idx.offset, idx.column, idx.bloom = oi, ci, nil
				rgCompressed += w.offset - chunkStart
				continue
			}
			var locs []format.PageLocation
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
					if n := zstd.CompressBound(len(plain)); cap(packed) < keep+n {
						packed = make([]byte, 0, keep+n)
					}
					packed = append(packed[:0], body[:keep]...)
					z, err := zc.CompressLevel(packed[keep:cap(packed)], plain, level)
					if err != nil {
						return 0, err
					}
					packed = packed[:keep+len(z)]
					if len(packed) < len(body) {
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
	if checksumCol >= 0 {
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
// literal of them) with eventjsonchecksum read the same from every file, stored or derived.
func DataFilesSQL(paths string) string {
	return "(SELECT * REPLACE (" + DerivedChecksumSQL + " AS " + ChecksumColumn + ") FROM read_parquet(" + paths + ", hive_partitioning = false))"
}
