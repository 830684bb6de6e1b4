package icebergtest

import (
	"context"
	"testing"

	"github.com/apache/iceberg-go/table"
)

// Rows counts the rows of tbl's current snapshot by iceberg-go's own scan (an implementation
// independent of auditlake's writer), reading the columns cols (all when none).
func Rows(t testing.TB, tbl *table.Table, cols ...string) int64 {
	t.Helper()
	if tbl.CurrentSnapshot() == nil {
		return 0
	}
	var opts []table.ScanOption
	if len(cols) > 0 {
		opts = append(opts, table.WithSelectedFields(cols...))
	}
	_, recs, err := tbl.Scan(opts...).ToArrowRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		n += rec.NumRows()
		rec.Release()
	}
	return n
}
