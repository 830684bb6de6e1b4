package alerts

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/query"
)

// TestSinceSelectsAlertsRaisedSinceWhateverTheirEvents: `alerts --since` (and the API's since)
// lists the alerts raised since then — also those of last year's events that a backfill raised
// today — and those whose events are since then; not an alert raised before of an old event,
// even when its status changed since.
func TestSinceSelectsAlertsRaisedSinceWhateverTheirEvents(t *testing.T) {
	ctx := context.Background()
	lk, st := newAlertsStore(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	old := time.Date(2019, 3, 4, 5, 6, 7, 0, time.UTC)
	local := time.FixedZone("UTC+5", 5*3600) // an alertedAt in another zone is stored in UTC
	alert := func(id string, event, alerted time.Time) Alert {
		return Alert{ID: id, Rule: "r-" + id, Title: "t", Severity: "low", Store: "trail", EventTime: event,
			EventIDs: []string{"e-" + id}, Principal: "arn:aws:iam::111122223333:user/p", Account: "111122223333",
			Region: "eu-west-1", Status: StatusOpen, AlertedAt: alerted}
	}
	as := []Alert{
		alert("backfilled", old, now.In(local)),                            // an old event, raised now
		alert("raised-before", old, now.Add(-50*time.Hour)),                // an old event, raised two days ago
		alert("recent", now.Add(-10*time.Minute), now.Add(-9*time.Minute)), // a recent event, raised since
		alert("no-alerted-at", now.Add(-5*time.Minute), time.Time{}),       // an old layout's record: by its event
		alert("zoned", old, now.Add(-2*time.Hour).In(local)),               // raised two hours ago, in UTC+5
	}
	var specs []recordSpec
	for _, a := range as {
		specs = append(specs, alertSpec(a))
	}
	if _, _, err := commitRecords(ctx, lk, st, buildRecords(specs), nil, nil); err != nil {
		t.Fatal(err)
	}
	// A status change now of the alert raised before does not make it recent.
	if _, err := SetStatus(ctx, lk, "raised-before", StatusAcknowledged, "tester", now); err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rules := func(sql string, args []any) []string {
		res, err := s.RunInternal(ctx, sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range res.Rows {
			for i, c := range res.Columns {
				if c.Name == "rule" {
					out = append(out, fmt.Sprint(r[i]))
				}
			}
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		from time.Time
		want []string
	}{
		{time.Time{}, []string{"r-backfilled", "r-no-alerted-at", "r-raised-before", "r-recent", "r-zoned"}},
		{now.Add(-time.Hour), []string{"r-backfilled", "r-no-alerted-at", "r-recent"}},
		{now.Add(-3 * time.Hour), []string{"r-backfilled", "r-no-alerted-at", "r-recent", "r-zoned"}},
		{now.Add(-72 * time.Hour), []string{"r-backfilled", "r-no-alerted-at", "r-raised-before", "r-recent", "r-zoned"}},
		{now.Add(-7 * time.Minute), []string{"r-backfilled", "r-no-alerted-at"}},
		{now.Add(time.Minute), nil},
		{old, []string{"r-backfilled", "r-no-alerted-at", "r-raised-before", "r-recent", "r-zoned"}},
	} {
		f := Filter{From: c.from}
		if got := rules(ListSQL(s, st, f)); !slices.Equal(got, c.want) {
			t.Errorf("list since %v: %v, want %v", c.from, got, c.want)
		}
		if got := rules(DetailSQL(s, st, f, 100)); !slices.Equal(got, c.want) {
			t.Errorf("detail since %v: %v, want %v", c.from, got, c.want)
		}
	}
}
