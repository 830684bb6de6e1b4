package lake

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/format"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// This file writes CloudTrail records straight to Parquet files of the store schema, from Go:
// no staging table, no JSON round trip, no engine. The Parquet schema is derived from
// CloudTrailColumns, so DuckDB reads these files with exactly the types of the files its own
// COPY writes (compaction still merges with DuckDB, and both kinds mix in one store).

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

// writerOptions are the options of every data file's writer.
var writerOptions = func() []parquet.WriterOption {
	opts := []parquet.WriterOption{
		parquet.Compression(zstdCodec),
		parquet.MaxRowsPerRowGroup(RowGroupRows),
		parquet.PageBufferSize(pageBytes),
		parquet.DictionaryMaxBytes(dictionaryMaxBytes),
		parquet.CreatedBy("auditlake", "1", "parquet-go"),
		// Statistics are kept per column chunk and in the page index, where readers prune row
		// groups and pages; the deprecated copy in every page header would compute them twice.
		parquet.DataPageStatistics(false),
	}
	for _, c := range boundlessColumns {
		opts = append(opts, parquet.SkipPageBounds(strings.Split(c, ".")...))
	}
	return opts
}()

// pageBytes is the target size of a data page before compression: large pages give zstd more
// history, which the repetitive JSON of eventjson needs to compress as well as the engine does.
const pageBytes = 1 << 20

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
	panic("lake: no Parquet type for " + t)
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

// zstdCodec compresses every page written. It is klauspost's fastest zstd level with entropy
// coding of literals even where a block has no matches — which that level skips by default, and
// which is what compresses the hex of event ids and checksums to half. Encoders are pooled for
// the life of the process (each holds large buffers).
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
	return nil, errors.New("lake: the Parquet writer does not decode")
}

// RowGroupRows is the row-group size of every data file.
const RowGroupRows = 8192

// writeRecordFile writes recs, in their order, as a new Parquet file at path, encoding its row
// groups on all CPUs, and returns the file's size. A failed write removes the file.
func writeRecordFile(path string, recs []*cloudtrail.Record) (size int64, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	pw := parquet.NewWriter(f, append([]parquet.WriterOption{ctSchema}, writerOptions...)...)
	// Row groups are encoded by one worker per CPU, taking them in order, and committed in order
	// as each is done.
	n := (len(recs) + RowGroupRows - 1) / RowGroupRows
	rgs := make([]*parquet.ConcurrentRowGroupWriter, n)
	done := make([]chan error, n)
	for i := range rgs {
		rgs[i] = pw.BeginRowGroup()
		done[i] = make(chan error, 1)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				done[i] <- encodeRowGroup(rgs[i], recs[i*RowGroupRows:min((i+1)*RowGroupRows, len(recs))])
			}
		}()
	}
	for i, rg := range rgs {
		if err := <-done[i]; err != nil {
			next.Store(int64(n)) // the others stop at their next row group
			return 0, err
		}
		if _, err := rg.Commit(); err != nil {
			next.Store(int64(n))
			return 0, err
		}
	}
	if err := pw.Close(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), f.Close()
}

// encodeRowGroup writes recs as the rows of rg.
func encodeRowGroup(rg *parquet.ConcurrentRowGroupWriter, recs []*cloudtrail.Record) error {
	// Values go straight to their column (rows are never assembled), a few hundred rows at a
	// time, so that pages can be cut between calls.
	const rowsPerCall = 512
	b := rowBuilder{cols: make([][]parquet.Value, len(ctColumns))}
	writers := rg.ColumnWriters()
	for len(recs) > 0 {
		n := min(len(recs), rowsPerCall)
		for _, r := range recs[:n] {
			b.col = 0
			b.record(r)
		}
		for i, w := range writers {
			if _, err := w.WriteRowValues(b.cols[i]); err != nil {
				return err
			}
			b.cols[i] = b.cols[i][:0]
		}
		recs = recs[n:]
	}
	return rg.Flush()
}

// bytesOf is s's bytes without a copy; Parquet values only read them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// rowBuilder appends the values of records to their columns: every leaf column of ctSchema in
// turn (col), each value with its repetition and definition levels. Every optional node adds
// one definition level, a repeated one a repetition and a definition level.
type rowBuilder struct {
	cols [][]parquet.Value
	col  int
}

// Leaf counts of the nested columns, from the schema.
var (
	nUserIdentity  = leavesUnder("useridentity.")
	nSessionCtx    = leavesUnder("useridentity.sessioncontext.")
	nSessionAttrs  = leavesUnder("useridentity.sessioncontext.attributes.")
	nSessionIssuer = leavesUnder("useridentity.sessioncontext.sessionissuer.")
	nWebID         = leavesUnder("useridentity.sessioncontext.webidfederationdata.")
	nOnBehalfOf    = leavesUnder("useridentity.onbehalfof.")
	nInScopeOf     = leavesUnder("useridentity.inscopeof.")
	nTLS           = leavesUnder("tlsdetails.")
)

func leavesUnder(prefix string) int {
	n := 0
	for p := range ctColumns {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

func (b *rowBuilder) put(v parquet.Value, rep, def int) {
	b.cols[b.col] = append(b.cols[b.col], v.Level(rep, def, b.col))
}

// putNull appends a null at levels rep and def; nulls are most values of many columns, so they
// are made once (nullValues) rather than each time.
func (b *rowBuilder) putNull(rep, def int) {
	b.cols[b.col] = append(b.cols[b.col], nullValues[b.col][rep][def])
}

// nullValues[col][rep][def] is the null of leaf column col at those levels.
var nullValues = func() [][2][8]parquet.Value {
	out := make([][2][8]parquet.Value, len(ctColumns))
	for col := range out {
		for rep := range 2 {
			for def := range 8 {
				out[col][rep][def] = parquet.Value{}.Level(rep, def, col)
			}
		}
	}
	return out
}()

// nulls ends n leaf columns whose nearest absent ancestor is at definition level def.
func (b *rowBuilder) nulls(n, def int) {
	for range n {
		b.putNull(0, def)
		b.col++
	}
}

// str writes an optional string leaf whose parent is defined at level def.
func (b *rowBuilder) str(def int, s *string) {
	if s == nil {
		b.putNull(0, def)
	} else {
		b.put(parquet.ByteArrayValue(bytesOf(*s)), 0, def+1)
	}
	b.col++
}

func (b *rowBuilder) text(def int, s string) {
	b.put(parquet.ByteArrayValue(bytesOf(s)), 0, def+1)
	b.col++
}

func (b *rowBuilder) boolean(def int, v *bool) {
	if v == nil {
		b.putNull(0, def)
	} else {
		b.put(parquet.BooleanValue(*v), 0, def+1)
	}
	b.col++
}

func (b *rowBuilder) timestamp(def int, t *time.Time) {
	if t == nil {
		b.putNull(0, def)
	} else {
		b.put(parquet.Int64Value(t.UnixMicro()), 0, def+1)
	}
	b.col++
}

// mapping writes an optional MAP(VARCHAR, VARCHAR) whose parent is defined at level def: its key
// column, then its value column.
func (b *rowBuilder) mapping(def int, m cloudtrail.Map) {
	switch {
	case m == nil:
		b.nulls(2, def)
		return
	case len(m) == 0:
		b.nulls(2, def+1)
		return
	}
	for i, kv := range m {
		b.put(parquet.ByteArrayValue(bytesOf(kv.Key)), min(i, 1), def+2)
	}
	b.col++
	for i, kv := range m {
		if kv.Value == nil {
			b.putNull(min(i, 1), def+2)
		} else {
			b.put(parquet.ByteArrayValue(bytesOf(*kv.Value)), min(i, 1), def+3)
		}
	}
	b.col++
}

// resources writes the top-level resources list: LIST → repeated list → optional element →
// optional fields, each field one column.
func (b *rowBuilder) resources(rs []cloudtrail.Resource) {
	switch {
	case rs == nil:
		b.nulls(4, 0)
		return
	case len(rs) == 0:
		b.nulls(4, 1)
		return
	}
	for f := range 4 {
		for i := range rs {
			var s *string
			switch f {
			case 0:
				s = rs[i].AccountID
			case 1:
				s = rs[i].Type
			case 2:
				s = rs[i].ARN
			case 3:
				s = rs[i].ARNPrefix
			}
			if s == nil {
				b.putNull(min(i, 1), 3)
			} else {
				b.put(parquet.ByteArrayValue(bytesOf(*s)), min(i, 1), 4)
			}
		}
		b.col++
	}
}

func (b *rowBuilder) userIdentity(u *cloudtrail.UserIdentity) {
	if u == nil {
		b.nulls(nUserIdentity, 0)
		return
	}
	b.str(1, u.Type)
	b.str(1, u.PrincipalID)
	b.str(1, u.ARN)
	b.str(1, u.AccountID)
	b.str(1, u.AccessKeyID)
	b.str(1, u.UserName)
	if sc := u.SessionContext; sc == nil {
		b.nulls(nSessionCtx, 1)
	} else {
		if a := sc.Attributes; a == nil {
			b.nulls(nSessionAttrs, 2)
		} else {
			b.timestamp(3, a.CreationDate)
			b.str(3, a.MFAAuthenticated)
		}
		if si := sc.SessionIssuer; si == nil {
			b.nulls(nSessionIssuer, 2)
		} else {
			b.str(3, si.Type)
			b.str(3, si.PrincipalID)
			b.str(3, si.ARN)
			b.str(3, si.AccountID)
			b.str(3, si.UserName)
		}
		if wf := sc.WebIDFederationData; wf == nil {
			b.nulls(nWebID, 2)
		} else {
			b.str(3, wf.FederatedProvider)
			b.mapping(3, wf.Attributes)
		}
		b.str(2, sc.SourceIdentity)
		b.str(2, sc.EC2RoleDelivery)
		b.str(2, sc.EC2IssuedInVPC)
	}
	b.str(1, u.InvokedBy)
	b.str(1, u.IdentityProvider)
	b.str(1, u.CredentialID)
	if o := u.OnBehalfOf; o == nil {
		b.nulls(nOnBehalfOf, 1)
	} else {
		b.str(2, o.UserID)
		b.str(2, o.IdentityStoreARN)
	}
	if s := u.InScopeOf; s == nil {
		b.nulls(nInScopeOf, 1)
	} else {
		b.str(2, s.SourceARN)
		b.str(2, s.SourceAccount)
		b.str(2, s.IssuerType)
		b.str(2, s.CredentialsIssuedTo)
	}
}

// record appends r's values, in the order of CloudTrailColumns.
func (b *rowBuilder) record(r *cloudtrail.Record) {
	b.str(0, r.EventVersion)
	b.userIdentity(r.UserIdentity)
	b.timestamp(0, &r.EventTime)
	b.str(0, r.EventSource)
	b.str(0, r.EventName)
	b.str(0, r.AWSRegion)
	b.str(0, r.SourceIPAddress)
	b.str(0, r.UserAgent)
	b.str(0, r.ErrorCode)
	b.str(0, r.ErrorMessage)
	b.mapping(0, r.RequestParameters)
	b.mapping(0, r.ResponseElements)
	b.mapping(0, r.AdditionalEventData)
	b.str(0, r.RequestID)
	b.text(0, r.EventID)
	b.boolean(0, r.ReadOnly)
	b.resources(r.Resources)
	b.str(0, r.EventType)
	b.str(0, r.APIVersion)
	b.boolean(0, r.ManagementEvent)
	b.str(0, r.RecipientAccountID)
	b.str(0, r.SharedEventID)
	b.str(0, r.Annotation)
	b.str(0, r.VPCEndpointID)
	b.str(0, r.VPCEndpointAccountID)
	b.mapping(0, r.ServiceEventDetails)
	b.mapping(0, r.Addendum)
	b.mapping(0, r.EdgeDeviceDetails)
	b.mapping(0, r.InsightDetails)
	b.str(0, r.EventCategory)
	if t := r.TLSDetails; t == nil {
		b.nulls(nTLS, 0)
	} else {
		b.str(1, t.TLSVersion)
		b.str(1, t.CipherSuite)
		b.str(1, t.ClientProvidedHostHeader)
		b.str(1, t.KeyExchange)
	}
	b.str(0, r.SessionCredentialFromConsole)
	b.text(0, r.EventJSON)
	b.text(0, r.EventJSONChecksum)
}
