package rules

import (
	"context"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
)

// TestSliceIndexCountsTheCutsAtOrBefore: sliceIndex gives every time the number of cuts at or
// before it — at a cut, a microsecond before and after it, before the first and after the
// last — and NULL for no time, for any number of cuts.
func TestSliceIndexCountsTheCutsAtOrBefore(t *testing.T) {
	ctx := context.Background()
	db := enginetest.Open(t)
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	lit := func(t time.Time) string { return "TIMESTAMP " + engine.Literal(t.Format("2006-01-02 15:04:05.999999")) }
	for _, n := range []int{0, 1, 2, 3, 4, 7, 38} {
		var cuts []string
		var at []time.Time
		for i := range n {
			c := base.Add(time.Duration(i+1)*time.Hour + time.Duration(i)*time.Microsecond)
			cuts = append(cuts, lit(c))
			at = append(at, c)
		}
		probe := []time.Time{base, base.Add(1000 * time.Hour)}
		for _, c := range at {
			probe = append(probe, c, c.Add(-time.Microsecond), c.Add(time.Microsecond))
		}
		for _, p := range probe {
			want := 0
			for _, c := range at {
				if !p.Before(c) {
					want++
				}
			}
			var got int32
			if err := db.QueryRow(ctx, "SELECT "+sliceIndex("t", cuts)+" FROM (SELECT "+lit(p)+" AS t)").Scan(&got); err != nil {
				t.Fatalf("%d cuts, %v: %v", n, p, err)
			}
			if int(got) != want {
				t.Errorf("%d cuts, %v: slice %d, want %d", n, p, got, want)
			}
		}
		var null *int32
		if err := db.QueryRow(ctx, "SELECT "+sliceIndex("t", cuts)+" FROM (SELECT NULL::TIMESTAMP AS t)").Scan(&null); err != nil || null != nil {
			t.Errorf("%d cuts, no time: %v %v, want NULL", n, null, err)
		}
	}
}
