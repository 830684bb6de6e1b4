package ctparquet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/bloom"
	"github.com/parquet-go/parquet-go/bloom/xxhash"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Holds reports, for each of recs, whether the rows appended so far hold a row of its dedupe
// key — the same eventid and recipientaccountid, a missing account equal only to a missing
// one — without closing the file: a long load's duplicate of a record in a file it still
// holds open (lake's held files) is checked against it as it stands. Only the row groups
// whose eventid Bloom filter may hold the record's id are read (the filters are in memory
// until Close), and of them only the two key columns, through a footer made for the row
// groups written so far; the file itself is left as it is.
func (rf *RecordFile) Holds(recs []*cloudtrail.Record) ([]bool, error) {
	held := make([]bool, len(recs))
	if len(recs) == 0 || len(rf.meta.RowGroups) == 0 {
		return held, nil
	}
	idCol, acctCol := leafIndex(&rf.meta, "eventid"), leafIndex(&rf.meta, "recipientaccountid")
	if idCol < 0 || acctCol < 0 {
		return nil, errors.New("ctparquet: a data file without eventid or recipientaccountid")
	}
	// Each row group's eventid filter, parsed once (nil: none, the group may hold any id).
	filters := make([]bloom.SplitBlockFilter, len(rf.meta.RowGroups))
	for i := range filters {
		if b := rf.blooms[i][idCol]; b != nil {
			var err error
			if filters[i], err = splitBlockFilter(b); err != nil {
				return nil, fmt.Errorf("%s: Bloom filter of eventid: %w", rf.path, err)
			}
		}
	}
	// want[i]: the records whose id row group i may hold.
	want := make(map[int][]int)
	for k, r := range recs {
		h := xxhash.Sum64([]byte(r.EventID))
		for i, f := range filters {
			if f == nil || f.Check(h) {
				want[i] = append(want[i], k)
			}
		}
	}
	if len(want) == 0 {
		return held, nil
	}
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), &rf.meta)
	if err != nil {
		return nil, err
	}
	footer = binary.LittleEndian.AppendUint32(footer, uint32(len(footer)))
	footer = append(footer, "PAR1"...)
	pr := partialFile{f: rf.f, n: rf.out.offset, tail: footer}
	pf, err := parquet.OpenFile(pr, pr.n+int64(len(footer)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("%s: read back: %w", rf.path, err)
	}
	groups := pf.RowGroups()
	for i, ks := range want {
		byID := make(map[string][]int, len(ks))
		for _, k := range ks {
			byID[recs[k].EventID] = append(byID[recs[k].EventID], k)
		}
		// The rows of the ids asked about, then their accounts: only those rows are kept.
		same := map[int64][]int{}
		ids, err := eachValue(groups[i].ColumnChunks()[idCol], func(row int64, v parquet.Value) {
			if ks, ok := byID[string(v.ByteArray())]; ok {
				same[row] = ks
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: read back eventid: %w", rf.path, err)
		}
		if len(same) == 0 {
			continue
		}
		accts, err := eachValue(groups[i].ColumnChunks()[acctCol], func(row int64, v parquet.Value) {
			for _, k := range same[row] {
				a := recs[k].RecipientAccountID
				if a == nil && v.IsNull() || a != nil && !v.IsNull() && *a == string(v.ByteArray()) {
					held[k] = true
				}
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: read back recipientaccountid: %w", rf.path, err)
		}
		if ids != accts {
			return nil, fmt.Errorf("%s: row group %d: %d eventids, %d recipientaccountids", rf.path, i, ids, accts)
		}
	}
	return held, nil
}

// leafIndex is the index of the top-level column name among meta's leaf columns (the column
// chunks of a row group), or -1.
func leafIndex(meta *format.FileMetaData, name string) int {
	if len(meta.RowGroups) == 0 {
		return -1
	}
	for j, c := range meta.RowGroups[0].Columns {
		if p := c.MetaData.PathInSchema; len(p) == 1 && p[0] == name {
			return j
		}
	}
	return -1
}

// eachValue calls fn with each value of a top-level column chunk and its row, in row order
// (the value is good only during the call), and returns how many there were.
func eachValue(cc parquet.ColumnChunk, fn func(row int64, v parquet.Value)) (int64, error) {
	pages := cc.Pages()
	defer pages.Close()
	buf := make([]parquet.Value, 1024)
	var row int64
	for {
		p, err := pages.ReadPage()
		if err == io.EOF {
			return row, nil
		}
		if err != nil {
			return row, err
		}
		r := p.Values()
		for {
			n, err := r.ReadValues(buf)
			for _, v := range buf[:n] {
				fn(row, v)
				row++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				parquet.Release(p)
				return row, err
			}
		}
		parquet.Release(p)
	}
}

// partialFile reads as the first n bytes of f followed by tail: a file being written, with a
// footer of its own.
type partialFile struct {
	f    *os.File
	n    int64
	tail []byte
}

func (p partialFile) ReadAt(b []byte, off int64) (int, error) {
	total := 0
	if off < p.n {
		k := min(int64(len(b)), p.n-off)
		m, err := p.f.ReadAt(b[:k], off)
		total += m
		if err != nil {
			return total, err
		}
		b, off = b[k:], off+k
	}
	if len(b) == 0 {
		return total, nil
	}
	if off-p.n >= int64(len(p.tail)) {
		return total, io.EOF
	}
	m := copy(b, p.tail[off-p.n:])
	total += m
	if m < len(b) {
		return total, io.EOF
	}
	return total, nil
}
