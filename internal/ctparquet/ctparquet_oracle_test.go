package ctparquet

import (
	"os"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// writeRecordFilePGO is the oracle of ctwrite_test.go: it writes recs as WriteRecordFile does,
// but encodes them with parquet-go's own writer, fed value by value — the writer ingest used
// before ctwrite.go. Only the walk over each record's fields (rowBuilder) is shared, gathering
// values without a dictionary; what this checks is everything after it: dictionaries, pages,
// levels, encodings, statistics, the page index and the footer. (The walk is held to the engine's own conversion of the records by
// ingest's TestParquetFromGoMatchesTheEngine.)
func writeRecordFilePGO(path string, recs []*cloudtrail.Record) (size int64, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	opts := []parquet.WriterOption{ctSchema,
		parquet.Compression(zstdCodec),
		parquet.MaxRowsPerRowGroup(RowGroupRows),
		parquet.PageBufferSize(pageBytes),
		parquet.DictionaryMaxBytes(dictionaryMaxBytes),
		parquet.DataPageStatistics(false),
	}
	for _, c := range boundlessColumns {
		opts = append(opts, parquet.SkipPageBounds(strings.Split(c, ".")...))
	}
	pw := parquet.NewWriter(f, opts...)
	// The records' fields are gathered into column buffers by the writer's own walk, but with
	// no dictionary: every string kept as it is, for parquet-go to encode.
	e := newRowGroupEncoder()
	for i := range e.cols {
		leaf := *e.cols[i].ctLeaf
		leaf.dict = false
		e.cols[i].ctLeaf = &leaf
	}
	for len(recs) > 0 {
		n := min(len(recs), RowGroupRows)
		for _, r := range recs[:n] {
			e.b.col = 0
			e.b.record(r)
		}
		rg := pw.BeginRowGroup()
		for i, w := range rg.ColumnWriters() {
			if _, err := w.WriteRowValues(e.cols[i].parquetValues(i)); err != nil {
				return 0, err
			}
		}
		if err := rg.Flush(); err != nil {
			return 0, err
		}
		if _, err := rg.Commit(); err != nil {
			return 0, err
		}
		for i := range e.cols {
			e.cols[i].reset()
		}
		recs = recs[n:]
	}
	if err := pw.Close(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// parquetValues are the column's buffered values as parquet-go values of leaf column col.
func (c *column) parquetValues(col int) []parquet.Value {
	out := make([]parquet.Value, len(c.def))
	k := 0
	for i, d := range c.def {
		rep := 0
		if c.maxRep > 0 {
			rep = int(c.rep[i])
		}
		var v parquet.Value
		if int(d) == c.maxDef {
			switch {
			case c.typ == format.Int64:
				v = parquet.Int64Value(c.ints[k])
			case c.typ == format.Boolean:
				v = parquet.BooleanValue(c.bools[k])
			default:
				v = parquet.ByteArrayValue([]byte(c.plain[k]))
			}
			k++
		}
		out[i] = v.Level(rep, int(d), col)
	}
	return out
}
