package ctparquet

import (
	"bytes"
	"fmt"
	"unsafe"

	"github.com/parquet-go/parquet-go/bloom"
	"github.com/parquet-go/parquet-go/bloom/xxhash"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// BloomColumns are the columns a data file carries Parquet split-block Bloom filters for, one
// per row group: the needles a query looks up by equality (WHERE eventid = '…'), whose random
// values defeat min/max statistics. The engine skips a row group whose filter does not hold
// the value. Compaction keeps them: concatenation copies them (concat.go), and the engine's
// sorting merge writes its own (lake's COPY options).
var BloomColumns = map[string]bool{"eventid": true, "requestid": true}

// bloomBitsPerValue sizes a filter: 8 bits per distinct value, rounded up to a power of two
// bytes, give about 2 % false positives for a row group of RowGroupRows distinct ids (8 KiB),
// so a lookup reads a few row groups of a thousand.
const bloomBitsPerValue = 8

// bloomFilter returns c's Bloom filter as it is written to the file: its thrift header, then
// the bitset. The values are hashed as the Parquet specification says: XXH64, seed 0, of the
// PLAIN encoding without its length (the bytes themselves).
func (c *column) bloomFilter() []byte {
	vals := c.plain
	if len(c.idx) > 0 { // dictionary encoded: each distinct value once
		vals = c.dictVals
	}
	n := bloom.BlockSize
	for n < len(vals)*bloomBitsPerValue/8 {
		n <<= 1
	}
	f := make(bloom.SplitBlockFilter, n/bloom.BlockSize)
	for _, v := range vals {
		f.Insert(xxhash.Sum64(unsafe.Slice(unsafe.StringData(v), len(v))))
	}
	h, err := thrift.Marshal(new(thrift.CompactProtocol), &format.BloomFilterHeader{
		NumBytes:    int32(n),
		Algorithm:   format.BloomFilterAlgorithm{Value: &format.SplitBlockAlgorithm{}},
		Hash:        format.BloomFilterHash{Value: &format.XxHash{}},
		Compression: format.BloomFilterCompression{Value: &format.BloomFilterUncompressed{}},
	})
	if err != nil {
		panic("ctparquet: encode a Bloom filter header: " + err.Error())
	}
	return append(h, f.Bytes()...)
}

// RowGroupsToRead lists the row groups of the Parquet file at path that a lookup of value in
// the top-level string column reads, of total: those whose Bloom filter may hold it, or that have none.
// It checks the filters as the engine's scan does (XXH64 of the bytes, split blocks), so
// benchmarks and tests can count what a query by eventid reads without instrumenting the
// engine (its parquet_bloom_probe looks at the wrong column of a nested schema).
func RowGroupsToRead(path, column, value string) (read []int, total int, err error) {
	f, err := readParquetFile(path)
	if err != nil {
		return nil, 0, err
	}
	h := xxhash.Sum64([]byte(value))
	for i := range f.meta.RowGroups {
		total++
		md := columnMeta(&f.meta.RowGroups[i], column)
		if md == nil || md.BloomFilterLength <= 0 {
			read = append(read, i)
			continue
		}
		b, err := f.slice(md.BloomFilterOffset, int64(md.BloomFilterLength))
		if err != nil {
			return nil, 0, fmt.Errorf("%s: Bloom filter of %s: %w", path, column, err)
		}
		f, err := splitBlockFilter(b)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: Bloom filter of %s: %w", path, column, err)
		}
		if f.Check(h) {
			read = append(read, i)
		}
	}
	return read, total, nil
}

func columnMeta(rg *format.RowGroup, column string) *format.ColumnMetaData {
	for i := range rg.Columns {
		if p := rg.Columns[i].MetaData.PathInSchema; len(p) == 1 && p[0] == column {
			return &rg.Columns[i].MetaData
		}
	}
	return nil
}

// splitBlockFilter is b, a Bloom filter as a data file holds it (its thrift header, then the
// split-block bitset), as a filter to check XXH64 hashes against.
func splitBlockFilter(b []byte) (bloom.SplitBlockFilter, error) {
	var hdr format.BloomFilterHeader
	if err := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(bytes.NewReader(b))).Decode(&hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if hdr.NumBytes <= 0 || int(hdr.NumBytes) > len(b) || hdr.NumBytes%bloom.BlockSize != 0 {
		return nil, fmt.Errorf("%d bytes in %d", hdr.NumBytes, len(b))
	}
	return bloom.MakeSplitBlockFilter(b[len(b)-int(hdr.NumBytes):]), nil
}
