package engine

import (
	"context"
	"errors"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// SinkFuncName is the scalar function (VARCHAR, …) → BOOLEAN that hands its arguments' values
// to the sink of the query running it (WithSink), a chunk of rows at a time, as the engine's
// threads compute them: the values reach Go without the engine materialising them as a result
// (or joining them into one string) and without database/sql's value per row. A hunt reads
// millions of match rows this way (rules.Hunt.Stream):
// `SELECT count(__auditlake_sink(a, b, …)) FROM … WHERE …`. Its result is not a value (count
// reads only that it is not NULL); a query without a sink fails, and under RestrictTables it
// is not found.
const SinkFuncName = "__auditlake_sink"

type sinkKey struct{}

// WithSink returns ctx carrying fn as the sink of the queries run with it: fn is called with
// each chunk of SinkFuncName's arguments, cols[i][row] the i-th argument's value in the chunk's
// row, from the engine's threads, concurrently — it must be safe for that — and the values
// are valid only until it returns (fn copies what it keeps). A NULL value is handed on as "".
func WithSink(ctx context.Context, fn func(cols [][]string)) context.Context {
	return context.WithValue(ctx, sinkKey{}, fn)
}

// errNoSink is SinkFuncName called in a query without a sink: a user's query.
var errNoSink = errors.New(SinkFuncName + " is internal to auditlake")

type sinkFunc struct{}

func (sinkFunc) Config() duckdb.ScalarFuncConfig {
	in, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	out, _ := duckdb.NewTypeInfo(duckdb.TYPE_BOOLEAN)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{in}, VariadicTypeInfo: in, ResultTypeInfo: out, Volatile: true, SpecialNullHandling: true}
}

func (sinkFunc) Executor() duckdb.ScalarFuncExecutor {
	// The context is fixed when the query is bound (queryContext, as the result budget's).
	return duckdb.ScalarFuncExecutor{ScalarBinder: queryContext, ChunkContextExecutor: func(ctx context.Context, st *duckdb.ChunkIteratorState) error {
		fn, _ := ctx.Value(sinkKey{}).(func([][]string))
		if fn == nil {
			return errNoSink
		}
		in := st.GetInputChunk()
		cols := make([][]string, in.ColumnCount())
		for c := range cols {
			vec, err := in.GetVector(c)
			if err != nil {
				return err
			}
			view, err := duckdb.GetVectorView[string](vec)
			if err != nil {
				return err
			}
			vals := make([]string, view.Len())
			for i := range vals {
				if vals[i], _, err = view.GetValueBorrowed(i); err != nil {
					return err
				}
			}
			cols[c] = vals
		}
		// The result's values are left as the engine allocated them, valid: the query counts
		// them. Writing each row's would cost a call into the engine per row.
		fn(cols)
		return nil
	}}
}
