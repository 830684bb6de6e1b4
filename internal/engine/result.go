package engine

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// DefaultMaxResultBytes bounds a user query's result when Limits.MaxBytes is 0: 64 MiB.
const DefaultMaxResultBytes = 64 << 20

// Limits bound one user query.
type Limits struct {
	// MaxRows is the number of rows returned; a result with more is cut and marked Truncated.
	// 0 = no limit.
	MaxRows int
	// MaxBytes bounds the size of the result (the bytes of its values, counted as the engine
	// produces them and again as they are collected); past it the query stops with a
	// *ResultTooLargeError. 0 = DefaultMaxResultBytes; negative = no limit.
	MaxBytes int64
	// Timeout cancels the query; 0 = none.
	Timeout time.Duration
}

// ResultTooLargeError is a user query whose result is larger than its byte limit. Its message
// is meant for the user.
type ResultTooLargeError struct{ Limit int64 }

func (e *ResultTooLargeError) Error() string {
	return fmt.Sprintf("query result is larger than the result size limit of %s: select fewer or narrower columns, or fewer rows (WHERE, LIMIT)", FormatBytes(e.Limit))
}

// FormatBytes writes n bytes the way the limits are documented: "64 MiB", "1.5 GiB", "512 bytes".
func FormatBytes(n int64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	v, u := float64(n)/1024, 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	return strings.TrimSuffix(strings.TrimRight(strconv.FormatFloat(v, 'f', 1, 64), "0"), ".") + " " + units[u]
}

// resultBudget counts the bytes of one query's result. The engine side (budgetFunc, called by
// DuckDB on each result row before it is materialised) and the Go side (collect) share it.
type resultBudget struct {
	limit    int64
	used     atomic.Int64
	exceeded atomic.Bool
}

func (b *resultBudget) add(n int64) bool {
	if b.used.Add(n) > b.limit {
		b.exceeded.Store(true)
		return false
	}
	return true
}

type budgetKey struct{}

// budgetFuncName is the scalar function the result wrapper filters on. It is registered when
// the engine is sealed; a user calling it only spends their own query's budget.
const budgetFuncName = "__auditlake_result_budget"

// budgetFunc is a DuckDB scalar function (BIGINT) → BOOLEAN that adds a row's size to the
// budget of the query running it (carried in the query's context) and fails the query once
// the budget is spent. DuckDB materialises a query's whole result before the first row reaches
// Go, and the memory of that result is not bounded by memory_limit (a 3 GB result of large
// strings took 6 GB under a 1 GB limit), so the bound has to act inside the query.
type budgetFunc struct{}

func (budgetFunc) Config() duckdb.ScalarFuncConfig {
	in, _ := duckdb.NewTypeInfo(duckdb.TYPE_BIGINT)
	out, _ := duckdb.NewTypeInfo(duckdb.TYPE_BOOLEAN)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{in}, ResultTypeInfo: out, Volatile: true, SpecialNullHandling: true}
}

func (budgetFunc) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{ScalarBinder: queryContext, RowContextExecutor: func(ctx context.Context, v []driver.Value) (any, error) {
		b, _ := ctx.Value(budgetKey{}).(*resultBudget)
		if b == nil {
			return true, nil
		}
		n, _ := v[0].(int64)
		if !b.add(n) {
			return nil, errors.New("result size limit reached")
		}
		return true, nil
	}}
}

// queryContext is the result budget's ScalarBinder: it fixes the context the function's
// executions get (the query's, which carries the budget) when the query is bound, on one
// thread. Without a binder, duckdb-go (v2.10506.0) stores it in the expression's bind data at
// the first execution on each of DuckDB's threads, a write that races with the other threads
// reading it: a CI run crashed in scalarFuncContext.setCtx on a half-written context (a nil
// *valueCtx). With the context set at bind, executions only read it. A correlated subquery as
// its argument is then refused at bind (the argument cannot be copied); the wrapper passes a
// row's size. (The cold JSON function cannot take a binder: duckdb-go's binder reads constant
// arguments and has no LIST values.)
func queryContext(ctx context.Context, _ []duckdb.ScalarUDFArg) (context.Context, error) {
	if ctx == nil {
		return context.Background(), nil
	}
	return ctx, nil
}

// fixedValueBytes is what a value of a fixed-width type counts for, and the overhead counted
// for every value (Go's interface and the JSON around it).
const fixedValueBytes = 16

// boundedSQL wraps a checked user query so that the engine counts the bytes of each result row
// into the query's budget before the row is materialised, and stops after maxRows+1 rows (0 =
// no limit). The wrapper keeps the query's column names, types and order: columns are taken by
// position (#n) and given their names back.
func (e *DB) boundedSQL(ctx context.Context, query string, maxRows int) (string, error) {
	type col struct {
		name string
		typ  duckdb.Type
	}
	var cols []col
	err := e.conn.Raw(func(dc any) error {
		pc, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("unexpected duckdb connection type")
		}
		st, err := pc.PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		defer st.Close()
		ds, ok := st.(*duckdb.Stmt)
		if !ok {
			return errors.New("unexpected duckdb statement type")
		}
		n, err := ds.ColumnCount()
		if err != nil {
			return err
		}
		for i := range n {
			name, err := ds.ColumnName(i)
			if err != nil {
				return err
			}
			typ, err := ds.ColumnType(i)
			if err != nil {
				return err
			}
			cols = append(cols, col{name, typ})
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(cols) == 0 {
		return query, nil
	}
	var sel, size strings.Builder
	fixed := int64(0)
	for i, c := range cols {
		ref := "#" + strconv.Itoa(i+1)
		if i > 0 {
			sel.WriteString(", ")
		}
		sel.WriteString(ref + " AS " + Ident(c.name))
		fixed += fixedValueBytes
		var expr string
		switch c.typ {
		case duckdb.TYPE_VARCHAR:
			expr = "strlen(" + ref + ")"
		case duckdb.TYPE_BLOB, duckdb.TYPE_BIT:
			expr = "octet_length(" + ref + ")"
		case duckdb.TYPE_BOOLEAN, duckdb.TYPE_TINYINT, duckdb.TYPE_SMALLINT, duckdb.TYPE_INTEGER, duckdb.TYPE_BIGINT,
			duckdb.TYPE_UTINYINT, duckdb.TYPE_USMALLINT, duckdb.TYPE_UINTEGER, duckdb.TYPE_UBIGINT,
			duckdb.TYPE_FLOAT, duckdb.TYPE_DOUBLE, duckdb.TYPE_HUGEINT, duckdb.TYPE_UHUGEINT, duckdb.TYPE_DECIMAL,
			duckdb.TYPE_TIMESTAMP, duckdb.TYPE_TIMESTAMP_S, duckdb.TYPE_TIMESTAMP_MS, duckdb.TYPE_TIMESTAMP_NS,
			duckdb.TYPE_TIMESTAMP_TZ, duckdb.TYPE_DATE, duckdb.TYPE_TIME, duckdb.TYPE_TIME_TZ, duckdb.TYPE_INTERVAL,
			duckdb.TYPE_UUID, duckdb.TYPE_ENUM, duckdb.TYPE_SQLNULL:
			continue // counted in fixed
		default: // lists, structs, maps, unions, …: the size of their text
			expr = "strlen(CAST(" + ref + " AS VARCHAR))"
		}
		size.WriteString(" + coalesce(" + expr + ", 0)")
	}
	q := "SELECT " + sel.String() + " FROM (\n" + query + "\n) AS \"__auditlake_result\" WHERE " +
		Ident(budgetFuncName) + "(CAST(" + strconv.FormatInt(fixed, 10) + size.String() + " AS BIGINT))"
	if maxRows > 0 {
		q += " LIMIT " + strconv.Itoa(maxRows+1)
	}
	return q, nil
}

// valueBytes is the size collect counts for one value: its bytes and a fixed overhead.
func valueBytes(v any) int64 {
	switch x := v.(type) {
	case string:
		return int64(len(x)) + fixedValueBytes
	case []byte:
		return int64(len(x)) + fixedValueBytes
	case []any:
		n := int64(fixedValueBytes)
		for _, e := range x {
			n += valueBytes(e)
		}
		return n
	case map[string]any:
		n := int64(fixedValueBytes)
		for k, e := range x {
			n += int64(len(k)) + valueBytes(e)
		}
		return n
	case duckdb.Map:
		n := int64(fixedValueBytes)
		for k, e := range x {
			n += valueBytes(k) + valueBytes(e)
		}
		return n
	default:
		return fixedValueBytes
	}
}
