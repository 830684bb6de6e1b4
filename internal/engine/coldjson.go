package engine

import (
	"context"
	"unsafe"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/auditlake/auditlake/internal/coldjson"
)

// coldJSONFunc is the scalar function coldjson.FuncName, registered on every instance Open
// starts (DuckDB keeps scalar functions in the instance's system catalog, so every connection
// of it, Conn's included, has it): (cut VARCHAR, four ids VARCHAR, three LIST(VARCHAR) of map
// values) → VARCHAR, the cut eventjson of a cold row put back (coldjson.Append) one chunk of
// rows at a time — one pass over each row's text, the map values read only for rows holding a
// map mark. It replaced the SQL that split the text at each mark and indexed a list of the
// row's map values built again for each piece (1.8 × the time of a query reading every cold
// row's eventjson). It reads only its arguments: a user calling it learns nothing their query
// could not already read (and under RestrictTables it is not found, as catalogReaders).
// NULL ids and maps count as empty; a NULL cut gives NULL.
type coldJSONFunc struct{}

func (coldJSONFunc) Config() duckdb.ScalarFuncConfig {
	s, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	l, _ := duckdb.NewListInfo(s)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{s, s, s, s, s, l, l, l}, ResultTypeInfo: s, SpecialNullHandling: true}
}

// coldJSONIDs is the number of id arguments after the cut text.
const coldJSONIDs = 4

func (coldJSONFunc) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{ChunkContextExecutor: func(_ context.Context, st *duckdb.ChunkIteratorState) error {
		in := st.GetInputChunk()
		out, err := duckdb.GetVectorWriter[string](st.GetResultVector())
		if err != nil {
			return err
		}
		var views [1 + coldJSONIDs]duckdb.VectorView[string]
		for c := range views {
			v, err := in.GetVector(c)
			if err != nil {
				return err
			}
			if views[c], err = duckdb.GetVectorView[string](v); err != nil {
				return err
			}
		}
		var (
			ids    = make([]string, coldJSONIDs)
			lists  [3][]any
			have   [3]bool
			row    int
			buf    []byte
			getErr error
		)
		mapValue := func(i int) (string, bool) {
			for k := range lists {
				if !have[k] {
					v, err := in.GetValue(1+coldJSONIDs+k, row)
					if err != nil {
						getErr = err
						return "", false
					}
					lists[k], _ = v.([]any) // NULL: no values
					have[k] = true
				}
				if i <= len(lists[k]) {
					s, _ := lists[k][i-1].(string) // NULL: ""
					return s, true
				}
				i -= len(lists[k])
			}
			return "", false
		}
		for row = range in.GetSize() {
			cut, ok, err := views[0].GetValueBorrowed(row)
			if err != nil {
				return err
			}
			if !ok {
				if err := out.SetNull(row); err != nil {
					return err
				}
				continue
			}
			for k := range ids {
				if ids[k], _, err = views[1+k].GetValueBorrowed(row); err != nil { // NULL: ""
					return err
				}
			}
			have = [3]bool{}
			buf = coldjson.Append(buf[:0], cut, ids, mapValue)
			if getErr != nil {
				return getErr
			}
			// DuckDB copies the value before Set returns: the buffer is reused for the next row.
			if err := out.Set(row, unsafe.String(unsafe.SliceData(buf), len(buf))); err != nil {
				return err
			}
		}
		return nil
	}}
}
