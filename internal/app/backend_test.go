package app

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/server"
)

// asOperator is a request context of client with the operator as its caller, as the server's
// own internal requests carry it.
func asOperator(client string) context.Context {
	return access.WithCaller(server.WithClient(context.Background(), client), access.Caller{Principal: access.Operator(), Door: access.DoorInternal})
}

// asUser is a request context of the registered user name, as a door puts it after
// authenticating the user's key.
func asUser(t *testing.T, b *Backend, name string) context.Context {
	t.Helper()
	p, err := b.access.Principal("user:" + name)
	if err != nil {
		t.Fatal(err)
	}
	return access.WithCaller(server.WithClient(context.Background(), "192.0.2.9"), access.Caller{Principal: p, Door: access.DoorAPI, SourceIP: "192.0.2.9", UserAgent: "test"})
}

// TestRequestWithoutCallerIsRefused: the backend never assumes the operator — a context that
// no door authenticated is refused by every method with ErrUnauthorized (401), and opens no
// session.
func TestRequestWithoutCallerIsRefused(t *testing.T) {
	b := newTestBackend(t, Options{})
	ctx := server.WithClient(context.Background(), "192.0.2.1")
	_, errQ := b.Query(ctx, `SELECT 1`, 10)
	_, errS := b.Stores(ctx)
	_, errT := b.Tables(ctx)
	_, errR := b.Report(ctx, "daily-spend", server.ReportParams{})
	_, errI := b.Instance(ctx, "i-0123456789abcdef0", server.ReportParams{})
	for i, err := range []error{errQ, errS, errT, errR, errI} {
		if !errors.Is(err, server.ErrUnauthorized) {
			t.Errorf("method %d without a caller: %v, want ErrUnauthorized", i, err)
		}
	}
	if n := b.opened.Load(); n != 0 {
		t.Errorf("requests without a caller opened %d sessions", n)
	}
}

// createUsers registers users with no grants.
func createUsers(t *testing.T, b *Backend, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := b.access.CreateUser(n, false, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func grant(t *testing.T, b *Backend, g access.Grant) {
	t.Helper()
	if _, err := b.access.AddGrant(g, nil); err != nil {
		t.Fatal(err)
	}
}

func tableNames(t *testing.T, b *Backend, ctx context.Context) []string {
	t.Helper()
	tables, err := b.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tb := range tables {
		out = append(out, tb.Schema+"."+tb.Name)
	}
	return out
}

// TestSessionsArePooledPerPrincipalAndFollowGrantChanges: a principal's idle session is reused
// by its next request (never another principal's, whose restricted view differs); a grant or
// a revoke takes effect at the next request; a disabled user is refused at once.
func TestSessionsArePooledPerPrincipalAndFollowGrantChanges(t *testing.T) {
	b := newTestBackend(t, Options{})
	st, err := b.lk.Create("trail", lake.CreateOptions{Type: lake.TypeCloudTrail})
	if err != nil {
		t.Fatal(err)
	}
	createUsers(t, b, "u1", "u2")
	grant(t, b, access.Grant{Privilege: access.Select, Principal: "user:u1", Resource: "store:" + st.ID})
	for range 5 {
		if _, err := b.Query(asUser(t, b, "u1"), `SELECT 1`, 10); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.opened.Load(); n != 1 {
		t.Fatalf("5 requests of u1 opened %d sessions, want 1", n)
	}
	if got := tableNames(t, b, asUser(t, b, "u2")); len(got) != 0 {
		t.Errorf("u2 (no grant) lists tables %v", got)
	}
	if n := b.opened.Load(); n != 2 {
		t.Fatalf("u2's first request opened %d sessions in all, want 2", n)
	}
	if got := tableNames(t, b, asUser(t, b, "u1")); len(got) != 2 { // the id and the name
		t.Errorf("u1 lists tables %v, want the trail's two names", got)
	}
	if n := b.opened.Load(); n != 2 {
		t.Fatalf("u1's and u2's later requests opened sessions: %d in all, want 2", n)
	}

	// A principal's context was made before the change (a door may cache it): the change holds.
	stale := asUser(t, b, "u2")
	grant(t, b, access.Grant{Privilege: access.Select, Principal: "user:u2", Resource: "store:" + st.ID})
	if got := tableNames(t, b, stale); len(got) != 2 {
		t.Errorf("after the grant u2 lists %v, want the trail", got)
	}
	if stores, err := b.Stores(stale); err != nil || len(stores) != 1 {
		t.Errorf("after the grant u2 lists stores %v (%v), want the trail", stores, err)
	}
	if _, err := b.access.Revoke("", "user:u1", "store:"+st.ID, ""); err != nil {
		t.Fatal(err)
	}
	if got := tableNames(t, b, asUser(t, b, "u1")); len(got) != 0 {
		t.Errorf("after the revoke u1 lists %v", got)
	}
	if stores, err := b.Stores(asUser(t, b, "u1")); err != nil || len(stores) != 0 {
		t.Errorf("after the revoke u1 lists stores %v (%v), want none", stores, err)
	}
	if err := b.access.SetDisabled("u2", "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Query(stale, `SELECT 1`, 10); !errors.Is(err, server.ErrUnauthorized) {
		t.Errorf("a disabled user's request: %v, want ErrUnauthorized", err)
	}
}

// TestPoolIsBoundedAndEvictsOtherPrincipalsIdleSessions: with room for two sessions, a third
// principal's request closes the longest idle session of another principal; the pool never
// holds more than two.
func TestPoolIsBoundedAndEvictsOtherPrincipalsIdleSessions(t *testing.T) {
	b := newTestBackend(t, Options{MaxQueries: 1, InteractiveLanes: 1})
	createUsers(t, b, "u1", "u2", "u3")
	for _, u := range []string{"u1", "u2", "u3", "u1", "u3"} {
		if _, err := b.Query(asUser(t, b, u), `SELECT 1`, 10); err != nil {
			t.Fatal(err)
		}
		b.pool.mu.Lock()
		open, idle := b.pool.open, len(b.pool.idle)
		b.pool.mu.Unlock()
		if open > 2 || idle != open {
			t.Fatalf("after %s's request: %d sessions open, %d idle; want at most 2, all idle", u, open, idle)
		}
	}
	// u1, u2, u3 (evicts u1), u1 (evicts u2), u3 (reused).
	if n := b.opened.Load(); n != 4 {
		t.Errorf("opened %d sessions, want 4", n)
	}
}

// TestAuditFlushRefreshesOnlyTheSessionsThatShowTheAuditStore: each commit of the audit log
// changes the audit store, so a session that shows it is stale after a flush (the admin's next
// query sees its previous one); a session that does not show it stays in use, or every flush
// would reopen every principal's session.
func TestAuditFlushRefreshesOnlyTheSessionsThatShowTheAuditStore(t *testing.T) {
	b := newTestBackend(t, Options{})
	b.Audit = auditlog.Open(b.lk)
	st, err := b.lk.Create("trail", lake.CreateOptions{Type: lake.TypeCloudTrail})
	if err != nil {
		t.Fatal(err)
	}
	createUsers(t, b, "u1")
	grant(t, b, access.Grant{Privilege: access.Select, Principal: "user:u1", Resource: "store:" + st.ID})
	admin := asOperator("192.0.2.1")
	count := func() string {
		t.Helper()
		res, err := b.Query(admin, `SELECT count(*) FROM "aws:cloudtrail"."auditlake-audit"`, 10)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res.Rows[0][0])
	}
	if err := b.Audit.Flush(context.Background()); err != nil { // nothing recorded yet
		t.Fatal(err)
	}
	if _, err := b.Query(asUser(t, b, "u1"), `SELECT 1`, 10); err != nil {
		t.Fatal(err)
	}
	if err := b.Audit.Flush(context.Background()); err != nil { // creates the audit store
		t.Fatal(err)
	}
	first := count()
	opened := b.opened.Load()
	if err := b.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if second := count(); second == first {
		t.Errorf("after a flush the admin still counts %s audit records", second)
	}
	if n := b.opened.Load(); n != opened+1 {
		t.Errorf("the admin's query after a flush opened %d sessions, want 1", n-opened)
	}
	opened = b.opened.Load()
	if _, err := b.Query(asUser(t, b, "u1"), `SELECT 1`, 10); err != nil {
		t.Fatal(err)
	}
	if n := b.opened.Load(); n != opened {
		t.Errorf("u1's session (no audit store in it) was reopened after a flush")
	}
}
