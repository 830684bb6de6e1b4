package ctparquet

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Concatenation: a merge of Parquet files that copies their row groups as they are — pages,
// dictionaries, statistics and page index — into one file with a new footer, without decoding
// or sorting a row. It is how ingest's own compaction merges the files of a bulk load (each of
// full row groups, each sorted), at disk speed and in a few megabytes of memory; the engine's
// sorting merge stays for small files (whose tiny row groups must be cut again) and for
// 'eds compact'.

// ErrNotConcatenable means the files cannot be concatenated as they are (other schemas, row
// groups not contiguous, Bloom filters without their length, encryption); the caller merges
// them another way.
var ErrNotConcatenable = errors.New("files cannot be concatenated")

// parquetFile is a Parquet file read whole, with its footer decoded — or, opened by
// openParquetFile, only its footer read, the rest read from file as needed (size bytes).
type parquetFile struct {
	data []byte
	meta format.FileMetaData
	file *os.File
	size int64
}

// len is the file's size in bytes.
func (f *parquetFile) len() int64 {
	if f.file != nil {
		return f.size
	}
	return int64(len(f.data))
}

// openParquetFile opens the Parquet file path and decodes its footer, reading nothing else:
// Concat copies its row groups from file to file (copy_file_range on Linux), so that a merge
// of a bulk load's files (1.5 GB at 10M events) is not read into memory and written back from
// it — that took a third of the merge's CPU in copies and in zeroing the buffers. The caller
// closes f.file.
func openParquetFile(path string) (f *parquetFile, err error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			file.Close()
		}
	}()
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	n := st.Size()
	var head, tail [8]byte
	if n < 12 {
		return nil, fmt.Errorf("%s: not a Parquet file", path)
	}
	if _, err := file.ReadAt(head[:4], 0); err != nil {
		return nil, err
	}
	if _, err := file.ReadAt(tail[:], n-8); err != nil {
		return nil, err
	}
	if string(head[:4]) != "PAR1" || string(tail[4:]) != "PAR1" {
		return nil, fmt.Errorf("%s: not a Parquet file", path)
	}
	size := int64(binary.LittleEndian.Uint32(tail[:4]))
	if size > n-12 {
		return nil, fmt.Errorf("%s: footer of %d bytes in a file of %d", path, size, n)
	}
	footer := make([]byte, size)
	if _, err := file.ReadAt(footer, n-8-size); err != nil {
		return nil, err
	}
	f = &parquetFile{file: file, size: n}
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &f.meta); err != nil {
		return nil, fmt.Errorf("%s: footer: %w", path, err)
	}
	return f, nil
}

func readParquetFile(path string) (*parquetFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	n := len(data)
	if n < 12 || string(data[:4]) != "PAR1" || string(data[n-4:]) != "PAR1" {
		return nil, fmt.Errorf("%s: not a Parquet file", path)
	}
	size := int(binary.LittleEndian.Uint32(data[n-8:]))
	if size > n-12 {
		return nil, fmt.Errorf("%s: footer of %d bytes in a file of %d", path, size, n)
	}
	f := &parquetFile{data: data}
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), data[n-8-size:n-8], &f.meta); err != nil {
		return nil, fmt.Errorf("%s: footer: %w", path, err)
	}
	return f, nil
}

// span returns the byte range of row group rg's column chunks, which must be contiguous.
func (f *parquetFile) span(rg *format.RowGroup) (start, end int64, err error) {
	start, end = -1, -1
	var total int64
	for i := range rg.Columns {
		c := &rg.Columns[i]
		md := &c.MetaData
		if c.FilePath != "" || c.CryptoMetadata.Value != nil || len(c.EncryptedColumnMetadata) > 0 || (md.BloomFilterOffset != 0 && md.BloomFilterLength <= 0) {
			return 0, 0, ErrNotConcatenable
		}
		s := md.DataPageOffset
		if md.DictionaryPageOffset > 0 && md.DictionaryPageOffset < s {
			s = md.DictionaryPageOffset
		}
		if start < 0 || s < start {
			start = s
		}
		end = max(end, s+md.TotalCompressedSize)
		total += md.TotalCompressedSize
	}
	if start < 4 || end > f.len() || end-start != total {
		return 0, 0, ErrNotConcatenable
	}
	return start, end, nil
}

// createFile creates the Parquet file dst and writes its leading magic: the output of Concat
// and Recompress, which remove it again when they fail.
func createFile(dst string) (*os.File, *fileWriter, error) {
	out, err := os.Create(dst)
	if err != nil {
		return nil, nil, err
	}
	w := &fileWriter{w: out}
	w.write([]byte("PAR1"))
	return out, w, nil
}

// Concat writes the row groups of srcs, files of one schema, into a new file dst, in the
// order less gives (nil: as they come), and returns the rows written. A failed write removes
// dst; ErrNotConcatenable says the files cannot be concatenated.
func Concat(dst string, srcs []string, less func(a, b *format.RowGroup) int) (rows int64, err error) {
	files := make([]*parquetFile, len(srcs))
	type piece struct {
		f  *parquetFile
		rg *format.RowGroup
	}
	var pieces []piece
	defer func() {
		for _, f := range files {
			if f != nil {
				f.file.Close()
			}
		}
	}()
	for i, p := range srcs {
		f, err := openParquetFile(p)
		if err != nil {
			return 0, err
		}
		files[i] = f
		if i > 0 && (!reflect.DeepEqual(f.meta.Schema, files[0].meta.Schema) || !reflect.DeepEqual(f.meta.ColumnOrders, files[0].meta.ColumnOrders) ||
			f.meta.EncryptionAlgorithm.Value != nil) {
			return 0, ErrNotConcatenable
		}
		for k := range f.meta.RowGroups {
			pieces = append(pieces, piece{f, &f.meta.RowGroups[k]})
		}
	}
	if less != nil {
		slices.SortStableFunc(pieces, func(a, b piece) int { return less(a.rg, b.rg) })
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
	meta := files[0].meta
	meta.RowGroups = make([]format.RowGroup, 0, len(pieces))
	meta.NumRows = 0
	type index struct {
		column []byte // the column index as it was (it holds no offsets), nil if none
		offset *format.OffsetIndex
		bloom  []byte // the Bloom filter, header and bitset, as it was (no offsets), nil if none
	}
	var indexes [][]index
	for n, p := range pieces {
		start, end, err := p.f.span(p.rg)
		if err != nil {
			return 0, err
		}
		delta := w.offset - start
		rg := *p.rg
		rg.Columns = slices.Clone(p.rg.Columns)
		rg.FileOffset, rg.Ordinal = w.offset, int16(n)
		idx := make([]index, len(rg.Columns))
		for i := range rg.Columns {
			c := &rg.Columns[i]
			md := &c.MetaData
			md.DataPageOffset += delta
			if md.DictionaryPageOffset > 0 {
				md.DictionaryPageOffset += delta
			}
			if md.IndexPageOffset > 0 {
				md.IndexPageOffset += delta
			}
			if c.FileOffset > 0 {
				c.FileOffset += delta
			}
			if c.ColumnIndexLength > 0 {
				b, err := p.f.slice(c.ColumnIndexOffset, int64(c.ColumnIndexLength))
				if err != nil {
					return 0, err
				}
				idx[i].column = b
			}
			if c.OffsetIndexLength > 0 {
				b, err := p.f.slice(c.OffsetIndexOffset, int64(c.OffsetIndexLength))
				if err != nil {
					return 0, err
				}
				oi := new(format.OffsetIndex)
				if err := thrift.Unmarshal(new(thrift.CompactProtocol), b, oi); err != nil {
					return 0, fmt.Errorf("offset index: %w", err)
				}
				for k := range oi.PageLocations {
					oi.PageLocations[k].Offset += delta
				}
				idx[i].offset = oi
			}
			if md.BloomFilterLength > 0 {
				b, err := p.f.slice(md.BloomFilterOffset, int64(md.BloomFilterLength))
				if err != nil {
					return 0, err
				}
				idx[i].bloom = b
			}
			c.ColumnIndexOffset, c.ColumnIndexLength, c.OffsetIndexOffset, c.OffsetIndexLength = 0, 0, 0, 0
			md.BloomFilterOffset, md.BloomFilterLength = 0, 0
		}
		w.copyFrom(p.f.file, start, end-start)
		meta.RowGroups = append(meta.RowGroups, rg)
		meta.NumRows += rg.NumRows
		indexes = append(indexes, idx)
	}
	err = writeTail(w, &meta, func(i, j int) []byte { return indexes[i][j].bloom },
		func(i, j int) ([]byte, error) { return indexes[i][j].column, nil },
		func(i, j int) *format.OffsetIndex { return indexes[i][j].offset })
	if err != nil {
		return 0, err
	}
	// Written back while the next group is copied: the compaction's commit fsyncs every
	// merged file, and at the end of a 10M-event load they were gigabytes left to write.
	startWriteback(out)
	return meta.NumRows, out.Close()
}

// slice returns n bytes of the file at off.
func (f *parquetFile) slice(off, n int64) ([]byte, error) {
	if off < 4 || n < 0 || off+n > f.len() {
		return nil, ErrNotConcatenable
	}
	if f.file != nil {
		b := make([]byte, n)
		if _, err := f.file.ReadAt(b, off); err != nil {
			return nil, err
		}
		return b, nil
	}
	return f.data[off : off+n], nil
}

// copyFrom writes n bytes of src from off (by copy_file_range where the system has it).
func (w *fileWriter) copyFrom(src *os.File, off, n int64) {
	if w.err != nil {
		return
	}
	if _, err := src.Seek(off, io.SeekStart); err != nil {
		w.err = err
		return
	}
	c, err := io.Copy(w.w, io.LimitReader(src, n))
	w.offset += c
	switch {
	case err != nil:
		w.err = err
	case c != n:
		w.err = fmt.Errorf("%s: %d bytes at %d: %w", src.Name(), n, off, io.ErrUnexpectedEOF)
	}
}

// ByFirstRow orders row groups of data files by the event source, name and time their
// statistics give as least.
func ByFirstRow(a, b *format.RowGroup) int {
	for _, name := range []string{"eventsource", "eventname", "eventtime"} {
		x, y := minOf(a, name), minOf(b, name)
		if name == "eventtime" && len(x) == 8 && len(y) == 8 {
			return cmp.Compare(int64(binary.LittleEndian.Uint64(x)), int64(binary.LittleEndian.Uint64(y)))
		}
		if c := bytes.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func minOf(rg *format.RowGroup, column string) []byte {
	if md := columnMeta(rg, column); md != nil {
		return md.Statistics.MinValue
	}
	return nil
}
