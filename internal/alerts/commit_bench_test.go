package alerts

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkCommitAlerts times one evaluation's write of its alert records to the alerts store
// (buildRecords and commitRecords), shaped as at the 1M ingest bench: ~5,000 alerts an
// evaluation naming ~110,000 events, most of them in a few large groups (AssumeRole Misuse),
// the others one or a few events each. AUDITLAKE_BENCH_WHOLE=1: the records built whole, as
// before their ids were cut out of eventjson (process builds them cut).
func BenchmarkCommitAlerts(b *testing.B) {
	cut := os.Getenv("AUDITLAKE_BENCH_WHOLE") != "1"
	ctx := context.Background()
	lk, st := newAlertsStore(b)
	db, err := openCommitEngine(ctx, lk)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	ids := 0
	alertsOf := func(round int) []Alert {
		var out []Alert
		for i := range 5000 {
			n := 2
			if i%50 == 0 {
				n = 1000
			}
			a := Alert{ID: fmt.Sprintf("alert-%d-%d", round, i), Rule: fmt.Sprintf("rule-%d", i%61), Title: "A title", Severity: "medium",
				Store: "bench", EventTime: t0.Add(time.Duration(i) * time.Second), Principal: fmt.Sprintf("arn:aws:sts::123456789012:assumed-role/role-%d/session", i%300),
				Account: "123456789012", Region: "us-east-1", Summary: "AssumeRole (sts.amazonaws.com) by someone from 10.0.0.1", Status: StatusOpen,
				AlertedAt: t0, Group: fmt.Sprintf("group-%d-%d", round, i)}
			for j := range n {
				a.EventIDs = append(a.EventIDs, fmt.Sprintf("%08x-%04x-4000-8000-%012x", round, i, j))
			}
			ids += n
			out = append(out, a)
		}
		return out
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		as := alertsOf(i)
		specs := make([]recordSpec, 0, len(as))
		for _, a := range as {
			specs = append(specs, alertSpec(a))
		}
		b.StartTimer()
		if _, _, err := commitRecords(ctx, lk, st, buildRecordsCut(specs, cut), db, nil); err != nil {
			b.Fatal(err)
		}
	}
	_ = ids
}
