package ctparquet

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/format"
)

// This file defines the Parquet schema of the files ingest writes from Go (ctwrite.go writes the
// data files, factsparquet.go the facts files): derived from CloudTrailColumns, so DuckDB reads
// them with exactly the types of the files its own COPY writes (both kinds mix in one store).

// plainColumns are the string columns whose values are nearly all distinct: dictionary encoding
// would only cost time. Every other string column is dictionary encoded (falling back to plain
// when a dictionary outgrows dictionaryMaxBytes).
var plainColumns = map[string]bool{
	"eventid": true, "requestid": true, "eventjson": true, "eventjsonchecksum": true, "sharedeventid": true,
	"requestparameters.key_value.value": true, "responseelements.key_value.value": true,
	"additionaleventdata.key_value.value": true, "serviceeventdetails.key_value.value": true,
}

const dictionaryMaxBytes = 1 << 20

// boundlessColumns are the columns written without min/max bounds: no query prunes on the
// bounds of raw JSON, checksums or map values, and comparing them costs a pass over the data.
var boundlessColumns = []string{"eventjson", "eventjsonchecksum", "requestid", "sharedeventid",
	"requestparameters.key_value.value", "responseelements.key_value.value",
	"additionaleventdata.key_value.value", "serviceeventdetails.key_value.value"}

// pageBytes is the target size of a data page before compression: large pages give zstd more
// history, which the repetitive JSON of eventjson needs to compress as well as the engine does.
const pageBytes = 4 << 20

// ctSchema is the Parquet schema of a CloudTrail store's data files.
var ctSchema = func() *parquet.Schema {
	var root pqGroup
	for _, c := range CloudTrailColumns {
		root = append(root, pqField{c.Name, pqNode(c.Name, c.Type)})
	}
	return parquet.NewSchema("duckdb_schema", root)
}()

// pqNode is the optional Parquet node of DuckDB type t at column path.
func pqNode(path, t string) parquet.Node {
	t = strings.TrimSpace(t)
	switch {
	case strings.HasSuffix(t, "[]"):
		return parquet.Optional(parquet.List(pqNode(path+".list.element", t[:len(t)-2])))
	case strings.HasPrefix(t, "STRUCT("):
		var g pqGroup
		for _, f := range splitTop(strings.TrimSuffix(strings.TrimPrefix(t, "STRUCT("), ")")) {
			name, typ, _ := strings.Cut(strings.TrimSpace(f), " ")
			g = append(g, pqField{name, pqNode(path+"."+name, typ)})
		}
		return parquet.Optional(g)
	case t == "MAP(VARCHAR, VARCHAR)":
		return parquet.Optional(parquet.Map(parquet.Encoded(parquet.String(), &parquet.RLEDictionary),
			pqNode(path+".key_value.value", "VARCHAR")))
	case t == "VARCHAR":
		if plainColumns[path] {
			return parquet.Optional(parquet.String())
		}
		return parquet.Optional(parquet.Encoded(parquet.String(), &parquet.RLEDictionary))
	case t == "TIMESTAMP":
		return parquet.Optional(parquet.TimestampAdjusted(parquet.Microsecond, false))
	case t == "INTEGER":
		return parquet.Optional(parquet.Int(32))
	case t == "BOOLEAN":
		return parquet.Optional(parquet.Leaf(parquet.BooleanType))
	}
	panic("ctparquet: no Parquet type for " + t)
}

// pqGroup is a Parquet group whose fields keep their order (parquet.Group sorts them by name;
// the store's column order is the Lake schema's).
type pqGroup []pqField

type pqField struct {
	name string
	node parquet.Node
}

func (g pqGroup) ID() int                     { return 0 }
func (g pqGroup) String() string              { return fmt.Sprint([]pqField(g)) }
func (g pqGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g pqGroup) Optional() bool              { return false }
func (g pqGroup) Repeated() bool              { return false }
func (g pqGroup) Required() bool              { return true }
func (g pqGroup) Leaf() bool                  { return false }
func (g pqGroup) Encoding() encoding.Encoding { return nil }
func (g pqGroup) Compression() compress.Codec { return nil }
func (g pqGroup) GoType() reflect.Type        { return reflect.TypeOf(struct{}{}) }
func (g pqGroup) Fields() []parquet.Field {
	out := make([]parquet.Field, len(g))
	for i, f := range g {
		out[i] = namedNode{f.node, f.name}
	}
	return out
}

type namedNode struct {
	parquet.Node
	name string
}

func (n namedNode) Name() string                           { return n.name }
func (n namedNode) Value(base reflect.Value) reflect.Value { return reflect.Value{} }

// ctColumns maps a leaf column's dotted path to its index in ctSchema.
var ctColumns = func() map[string]int {
	m := map[string]int{}
	for i, p := range ctSchema.Columns() {
		m[strings.Join(p, ".")] = i
	}
	return m
}()

// zstdCodec compresses the pages parquet-go writes (facts files; data files are compressed by
// libzstd in ctwrite.go). It is klauspost's fastest zstd level with entropy coding of literals
// even where a block has no matches — which that level skips by default, and which is what
// compresses the hex of ids to half. Encoders are pooled for the life of the process.
var zstdCodec = &fastZstd{}

type fastZstd struct{ encoders sync.Pool }

func (*fastZstd) String() string                            { return "ZSTD" }
func (*fastZstd) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *fastZstd) Encode(dst, src []byte) ([]byte, error) {
	e, _ := c.encoders.Get().(*zstd.Encoder)
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithAllLitEntropyCompression(true),
			zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false))
		if err != nil {
			return nil, err
		}
	}
	defer c.encoders.Put(e)
	return e.EncodeAll(src, dst[:0]), nil
}

// Decode is never used: files are read by the engine.
func (*fastZstd) Decode(dst, src []byte) ([]byte, error) {
	return nil, errors.New("ctparquet: the Parquet writer does not decode")
}

// RowGroupRows is the row-group size of every data file.
const RowGroupRows = 8192

// RowGroupBytes bounds a row group by its records' cloudtrail.Record.MemSize as well: ordinary
// row groups (about 7 KB a record) stay far below it and end at RowGroupRows; a row group of
// huge records ends at a few of them, so that its pages and columns fit in memory.
const RowGroupBytes = 96 << 20
