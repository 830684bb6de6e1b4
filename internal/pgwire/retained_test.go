package pgwire_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestPreparedStatementsAndPortalsCannotHoardMemory: each message is at most 16 MiB and a
// connection has at most 10,000 prepared statements and 1,000 portals, but nothing bounded their
// product — one reader parsing statements of 15 MiB made the server keep them all (160 GB for
// 10,000), and suspended portals kept their whole results (64 GB for 1,000 of 64 MiB). Past 64
// MiB of kept text a Parse is refused with 53000, past 256 MiB of kept results an Execute;
// closing a statement or portal makes room again.
func TestPreparedStatementsAndPortalsCannotHoardMemory(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	pc := pgxConnect(t, s.dsn(f.bob, "")).PgConn()
	fe := pc.Frontend()
	big := "SELECT 1 /* " + strings.Repeat("x", 15<<20) + " */"
	exchange := func(msgs ...pgproto3.FrontendMessage) []string {
		t.Helper()
		return exchange(t, fe, msgs...)
	}
	var parses []pgproto3.FrontendMessage
	for i := range 5 {
		parses = append(parses, &pgproto3.Parse{Name: fmt.Sprintf("s%d", i), Query: big})
	}
	got := exchange(parses...)
	if want := "[ParseComplete ParseComplete ParseComplete ParseComplete error 53000]"; fmt.Sprint(got) != want {
		t.Fatalf("five Parse of 15 MiB: %v, want %s", got, want)
	}
	got = exchange(&pgproto3.Close{ObjectType: 'S', Name: "s0"}, &pgproto3.Parse{Name: "s4", Query: big})
	if want := "[CloseComplete ParseComplete]"; fmt.Sprint(got) != want {
		t.Fatalf("Close, then Parse: %v, want %s", got, want)
	}

	// Results: a portal suspended by Execute's row limit keeps its whole result; five of 60 MB
	// pass the 256 MiB bound, and fetching one to its end, then closing it, makes room.
	got = exchange(&pgproto3.Parse{Name: "rows", Query: "SELECT repeat('x', 1000000) AS x FROM range(60)"})
	if fmt.Sprint(got) != "[ParseComplete]" {
		t.Fatalf("Parse: %v", got)
	}
	var msgs []pgproto3.FrontendMessage
	for i := range 5 {
		msgs = append(msgs, &pgproto3.Bind{PreparedStatement: "rows", DestinationPortal: fmt.Sprintf("p%d", i)},
			&pgproto3.Execute{Portal: fmt.Sprintf("p%d", i), MaxRows: 1})
	}
	got = exchange(msgs...)
	want := "[" + strings.Repeat("BindComplete DataRow PortalSuspended ", 4) + "BindComplete error 53000]"
	if fmt.Sprint(got) != want {
		t.Fatalf("five suspended portals of 60 MB: %v, want %s", got, want)
	}
	got = exchange(&pgproto3.Close{ObjectType: 'P', Name: "p0"}, &pgproto3.Execute{Portal: "p4", MaxRows: 1})
	if want := "[CloseComplete DataRow PortalSuspended]"; fmt.Sprint(got) != want {
		t.Fatalf("Close of a portal, then Execute of the refused one: %v, want %s", got, want)
	}
}

// TestSessionSettingsCannotHoardMemory: SET of a custom "x.y" parameter keeps its value for SHOW,
// and nothing bounded how many a connection set: one client, even without a grant, made the
// server keep 30 values of 15 MiB (450 MB) and could go on until it ran out of memory. A
// connection's settings count with its statements and portals against the 64 MiB of kept text:
// past it SET is refused with 53000, and RESET makes room again.
func TestSessionSettingsCannotHoardMemory(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.bob, ""))
	ctx := context.Background()
	big := strings.Repeat("x", 15<<20)
	set := func(name string) error {
		_, err := c.Exec(ctx, "SET "+name+" = '"+big+"'", pgx.QueryExecModeSimpleProtocol)
		return err
	}
	for i := range 4 {
		if err := set(fmt.Sprintf("myapp.s%d", i)); err != nil {
			t.Fatalf("SET myapp.s%d of 15 MiB: %v", i, err)
		}
	}
	var pe *pgconn.PgError
	if err := set("myapp.s4"); !errors.As(err, &pe) || pe.Code != "53000" {
		t.Fatalf("a fifth SET of 15 MiB: %v, want error 53000", err)
	}
	if err := set("myapp.s0"); err != nil {
		t.Fatalf("SET of a parameter already set, with a value of the same size: %v", err)
	}
	if _, err := c.Exec(ctx, "RESET myapp.s1", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	if err := set("myapp.s4"); err != nil {
		t.Fatalf("SET after a RESET made room: %v", err)
	}
	var got string
	if err := c.QueryRow(ctx, "SHOW myapp.s4", pgx.QueryExecModeSimpleProtocol).Scan(&got); err != nil || got != big {
		t.Fatalf("SHOW myapp.s4: %d bytes, %v; want the 15 MiB value", len(got), err)
	}
	if _, err := c.Exec(ctx, "RESET ALL", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := set(fmt.Sprintf("myapp.s%d", i)); err != nil {
			t.Fatalf("SET myapp.s%d after RESET ALL: %v", i, err)
		}
	}
}

// TestKeptResultsAreBoundedAcrossConnections: each connection's portals keep at most 256 MiB of
// results, but nothing bounded their sum: 256 connections could make the server keep 64 GiB.
// Past the server's bound (small here) a connection's portal is refused with 53000 while
// another holds results; once that one closes its portal, or goes away, the room is back.
func TestKeptResultsAreBoundedAcrossConnections(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{MaxRetainedResults: 5 << 20})
	const rows = "SELECT repeat('x', 1000000) AS x FROM range(3)" // 3 MB kept by a suspended portal
	suspend := func(fe *pgproto3.Frontend, portal string) string {
		return fmt.Sprint(exchange(t, fe, &pgproto3.Parse{Query: rows}, &pgproto3.Bind{DestinationPortal: portal},
			&pgproto3.Execute{Portal: portal, MaxRows: 1}))
	}
	held := "[ParseComplete BindComplete DataRow PortalSuspended]"
	one := pgxConnect(t, s.dsn(f.bob, "")).PgConn()
	two := pgxConnect(t, s.dsn(f.bob, "")).PgConn()
	if got := suspend(one.Frontend(), "p"); got != held {
		t.Fatalf("the first connection's portal: %s", got)
	}
	if got := suspend(two.Frontend(), "p"); got != "[ParseComplete BindComplete error 53000]" {
		t.Fatalf("the second connection's portal past the server's bound: %s, want 53000", got)
	}
	if got := fmt.Sprint(exchange(t, one.Frontend(), &pgproto3.Close{ObjectType: 'P', Name: "p"})); got != "[CloseComplete]" {
		t.Fatalf("Close: %s", got)
	}
	if got := suspend(two.Frontend(), "p"); got != held {
		t.Fatalf("the second connection's portal once the first closed its own: %s", got)
	}
	three := pgxConnect(t, s.dsn(f.bob, ""))
	if got := suspend(three.PgConn().Frontend(), "p"); got != "[ParseComplete BindComplete error 53000]" {
		t.Fatalf("a third connection's portal: %s, want 53000", got)
	}
	two.Close(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for got := suspend(three.PgConn().Frontend(), "p"); got != held; got = suspend(three.PgConn().Frontend(), "p") {
		if time.Now().After(deadline) {
			t.Fatalf("the results of a connection that ended were not given back: %s", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
