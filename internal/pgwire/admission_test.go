package pgwire_test

import (
	"context"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestAdmissionIsPerPrincipal: the backend's per-client limit counts a principal's queries over
// the Postgres door, as at the HTTP doors, not its address's. With one query per client, admin's
// long query holds admin's slot: bob, connecting from the same address, is answered; admin's
// second connection waits until the long query ends.
func TestAdmissionIsPerPrincipal(t *testing.T) {
	f := sharedLake(t)
	s := startServerApp(t, f.dir, pgwire.Options{}, app.Options{MaxQueries: 4, MaxClientQueries: 1, MaxWaiting: 16}, false)
	admin := pgxConnect(t, s.dsn(f.admin, ""))
	longCtx, stopLong := context.WithCancel(context.Background())
	defer stopLong()
	long := make(chan error, 1)
	go func() {
		_, err := admin.Exec(longCtx, "SELECT count(*) FROM range(0, 100000000000) a, range(0, 10) b WHERE a.range % 7 = b.range")
		long <- err
	}()
	if !s.running(1, 30*time.Second) {
		t.Fatal("the long query was not admitted")
	}

	// bob from the same address: his own slot (keyed by address, he would wait for admin's).
	bob := pgxConnect(t, s.dsn(f.bob, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int
	if err := bob.QueryRow(ctx, `SELECT count(*) FROM "aws:cloudtrail"."`+f.storeID+`"`).Scan(&n); err != nil || n != f.bobEvents {
		t.Fatalf("bob's query while admin's long one runs: %d, %v", n, err)
	}

	// admin's second connection: the same principal, so it waits (it cannot end while the long
	// query holds admin's one slot, however slow the machine) ...
	admin2 := pgxConnect(t, s.dsn(f.admin, ""))
	second := make(chan error, 1)
	go func() {
		var one int
		second <- admin2.QueryRow(context.Background(), "SELECT 1").Scan(&one)
	}()
	select {
	case err := <-second:
		t.Fatalf("admin's second query ran beside his first (%v): the limit is not per principal", err)
	case <-time.After(500 * time.Millisecond):
	}
	// ... and runs once the long query ends.
	stopLong()
	<-long
	select {
	case err := <-second:
		if err != nil {
			t.Fatalf("admin's second query after the first ended: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("admin's second query did not run after the first ended")
	}
}
