package query_test

import (
	"context"
	"testing"
	"time"
)

// TestLastEventTimeOfARestrictedStoreIsTheNewestRowThePrincipalSees: the newest event the
// reports take as the end of the data is, for a principal that sees a store in part, the newest
// of the rows it sees — not the manifest's, which may be a hidden row's time — and the files a
// store range reads are not counted for it.
func TestLastEventTimeOfARestrictedStoreIsTheNewestRowThePrincipalSees(t *testing.T) {
	admin, T, sessions := restrictedSessions(t)
	ctx := context.Background()
	id := T[len(`"aws:cloudtrail"."`) : len(T)-1]
	res, err := admin.Run(ctx, "SELECT max(eventtime), max(eventtime) FILTER (WHERE "+pushFilter+"), max(eventtime) FILTER (WHERE recipientaccountid = '"+pushAcct+"') FROM "+T)
	if err != nil {
		t.Fatal(err)
	}
	all, bobs, carols := res.Rows[0][0].(time.Time), res.Rows[0][1].(time.Time), res.Rows[0][2].(time.Time)
	if !bobs.Before(all) || !carols.Before(all) {
		t.Fatalf("fixture: the newest event (%s) is one bob (%s) or carol (%s) sees", all, bobs, carols)
	}
	if got := admin.LastEventTime(id); !got.Equal(all) {
		t.Errorf("admin: last event %s, want %s", got, all)
	}
	for u, want := range map[string]time.Time{"bob": bobs, "carol": carols} {
		s := sessions[u][0]
		if got := s.LastEventTime(id); !got.Equal(want) {
			t.Errorf("%s: last event %s, want the newest it sees, %s (the store's is %s)", u, got, want, all)
		}
		if read, total := s.StoreFiles(id, time.Time{}, time.Time{}); read != 0 || total != 0 {
			t.Errorf("%s: a range reads %d of %d files", u, read, total)
		}
	}
}
