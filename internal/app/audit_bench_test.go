package app

import (
	"context"
	"testing"

	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/lake"
)

// BenchmarkQueryAudit measures what recording a query in the audit log adds to a query through
// the backend (issue 16: at most 5 ms): the same SELECT by the same caller, unaudited and
// audited (buffered; serve's Run loop commits the records, outside the request). Compare the
// two ns/op (noisy on a shared machine: "record" is the recording alone); "flush" is the commit's cost per record when serve's loop flushes 100 at a time.
func BenchmarkQueryAudit(b *testing.B) {
	lk, err := lake.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	be := New(lk, Options{})
	b.Cleanup(func() { be.Close() })
	ctx := asOperator("192.0.2.1")
	const sql = `SELECT count(*) FROM range(1000) t WHERE t.range % 7 = 0`
	run := func(b *testing.B) {
		for b.Loop() {
			if _, err := be.Query(ctx, sql, 100); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("unaudited", func(b *testing.B) { be.Audit = nil; run(b) })
	b.Run("audited", func(b *testing.B) { be.Audit = auditlog.Open(lk); run(b) })
	b.Run("record", func(b *testing.B) { // what an audited request adds: the entry and Record
		l := auditlog.Open(lk)
		c, _ := be.caller(ctx)
		be.Audit = l
		for b.Loop() {
			be.record(c, auditlog.Entry{SQL: sql, Tables: []string{"range"}, Rows: 1}, nil)
		}
		be.Audit = nil
	})
	b.Run("flush", func(b *testing.B) {
		l := auditlog.Open(lk)
		n := 0
		for b.Loop() {
			l.Record(auditlog.Entry{Principal: "user:bench", Door: "api", Action: "StartQuery", SQL: sql, Rows: 1})
			if n++; n%100 == 0 {
				if err := l.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
