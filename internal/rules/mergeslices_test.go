package rules

import (
	"reflect"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/query"
)

// TestMergeSlicesReadsAdjacentSlicesTogether: mergeSlices leaves out the slices with nothing
// to read, reads adjacent ones together while they hold at most the limit together (a slice
// over it alone), never across a slice left out, and leaves the slices as they are when the
// counts are not known.
func TestMergeSlicesReadsAdjacentSlicesTogether(t *testing.T) {
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	sl := make([]query.TimeSlice, 8)
	for i := range sl {
		sl[i] = query.TimeSlice{From: at(i), To: at(i + 1)}
	}
	sl[0].From, sl[7].To = time.Time{}, time.Time{} // the target's open ends
	r := func(from, to int) query.TimeSlice {
		x := query.TimeSlice{From: at(from), To: at(to)}
		if from == 0 {
			x.From = time.Time{}
		}
		if to == 8 {
			x.To = time.Time{}
		}
		return x
	}
	for _, c := range []struct {
		counts []int64
		want   []query.TimeSlice
	}{
		{[]int64{1, 1, 1, 1, 1, 1, 1, 1}, []query.TimeSlice{r(0, 8)}},
		{[]int64{4, 4, 4, 4, 4, 4, 4, 4}, []query.TimeSlice{r(0, 2), r(2, 4), r(4, 6), r(6, 8)}},
		{[]int64{0, 3, 3, 3, 0, 0, 2, 0}, []query.TimeSlice{r(1, 3), r(3, 4), r(6, 7)}},
		{[]int64{1, 0, 1, 0, 1, 0, 1, 0}, []query.TimeSlice{r(0, 1), r(2, 3), r(4, 5), r(6, 7)}},
		{[]int64{2, 20, 2, 2, 2, 2, 9, 1}, []query.TimeSlice{r(0, 1), r(1, 2), r(2, 6), r(6, 7), r(7, 8)}},
		{[]int64{0, 0, 0, 0, 0, 0, 0, 0}, []query.TimeSlice{}},
		{nil, sl},
		{[]int64{1, 1}, sl},
	} {
		if got := mergeSlices(sl, c.counts, 8); !reflect.DeepEqual(got, c.want) {
			t.Errorf("counts %v: ranges %v, want %v", c.counts, got, c.want)
		}
	}
}
