package pgwire_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestRevokeEndsOpenCursorsAndPortals: a cursor (DECLARE … WITH HOLD, then FETCH) and a portal
// read a page at a time (Execute with a row limit, as pgjdbc's fetch size does) keep the rows
// their query read. A grant revoked in between must stop them, as access is checked at each
// request: the next FETCH, and the next Execute of the suspended portal, are 42501 and the
// cursor is closed, while the connection goes on; before the revoke they read on.
func TestRevokeEndsOpenCursorsAndPortals(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	reg := access.Open(f.dir)
	erin, err := reg.CreateUser("erin-"+strings.ReplaceAll(t.Name(), "/", "-"), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	grant := func() string {
		g, err := reg.AddGrant(access.Grant{Privilege: access.Select, Principal: "user:" + erin.User, Resource: "store:" + f.storeID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return g.ID
	}
	revoke := func(id string) {
		if _, err := reg.Revoke(id, "", "", ""); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	table := `"aws:cloudtrail"."` + f.storeID + `"`
	c := pgxConnect(t, s.dsn(erin, ""))
	id := grant()
	if _, err := c.Exec(ctx, `DECLARE c CURSOR WITH HOLD FOR SELECT eventid FROM `+table); err != nil {
		t.Fatal(err)
	}
	fetch := func() error {
		rows, err := c.Query(ctx, `FETCH 2 FROM c`)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			n++
		}
		if rows.Err() == nil && n != 2 {
			t.Fatalf("FETCH 2: %d rows", n)
		}
		return rows.Err()
	}
	if err := fetch(); err != nil {
		t.Fatalf("FETCH before the revoke: %v", err)
	}
	revoke(id)
	var pe *pgconn.PgError
	if err := fetch(); !errors.As(err, &pe) || pe.Code != "42501" {
		t.Fatalf("FETCH after the revoke: %v, want 42501", err)
	}
	if err := fetch(); !errors.As(err, &pe) || pe.Code != "34000" {
		t.Fatalf("FETCH once the cursor was closed: %v, want 34000", err)
	}

	// A named portal suspended by Execute's row limit, read on after a revoke.
	id = grant()
	pc := c.PgConn()
	page := func(msgs ...pgproto3.FrontendMessage) string {
		return strings.Join(exchange(t, pc.Frontend(), msgs...), " ")
	}
	rows3 := "DataRow DataRow DataRow PortalSuspended"
	if got := page(&pgproto3.Parse{Name: "s", Query: `SELECT eventid FROM ` + table}, &pgproto3.Bind{PreparedStatement: "s", DestinationPortal: "p"},
		&pgproto3.Execute{Portal: "p", MaxRows: 3}); got != "ParseComplete BindComplete "+rows3 {
		t.Fatalf("first page: %s", got)
	}
	if got := page(&pgproto3.Execute{Portal: "p", MaxRows: 3}); got != rows3 {
		t.Fatalf("second page before the revoke: %s", got)
	}
	revoke(id)
	if got := page(&pgproto3.Execute{Portal: "p", MaxRows: 3}); got != "error 42501" {
		t.Fatalf("a page after the revoke: %s, want error 42501", got)
	}
	grant()
	var cnt int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&cnt); err != nil || cnt != f.allEvents {
		t.Fatalf("the connection after: %d %v", cnt, err)
	}
}
