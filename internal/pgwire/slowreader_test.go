package pgwire_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestAClientThatStopsReadingIsLetGo: a client that asks for a large result and never reads it
// filled its socket and the server's write blocked for ever, holding the result's memory and
// the connection's slot (a few such clients took every slot of the server). Past the write
// timeout without a byte read the server closes the connection: with one connection allowed, a
// new client is admitted again soon after, and a client that reads slowly but steadily gets its
// whole result.
func TestAClientThatStopsReadingIsLetGo(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{MaxConns: 1, WriteTimeout: 2 * time.Second})
	ctx := context.Background()
	const big = `SELECT repeat('x', 10000) AS x FROM range(3000)` // 30 MB: more than the sockets' buffers

	// A slow reader: its pauses are each shorter than the timeout, its whole read is longer.
	slow := pgxConnect(t, s.dsn(f.bob, ""))
	rows, err := slow.Query(ctx, big, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	// Six pauses of half a second: 3 s in all, past the timeout, each far enough below it that
	// a loaded machine's scheduling does not make it one.
	n := 0
	for rows.Next() {
		if n%500 == 0 {
			time.Sleep(500 * time.Millisecond)
		}
		n++
	}
	if rows.Err() != nil || n != 3000 {
		t.Fatalf("a slow reader: %d rows, %v", n, rows.Err())
	}
	slow.Close(ctx)

	stalled := pgxConnect(t, s.dsn(f.bob, ""))
	fe := stalled.PgConn().Frontend()
	fe.Send(&pgproto3.Query{String: big})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	// It reads nothing. The one connection slot comes back once the server lets it go.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := pgx.Connect(ctx, s.dsn(f.bob, ""))
		if err == nil {
			c.Close(ctx)
			break
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "53300" {
			t.Fatalf("connect: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection of a client that stopped reading was never closed: its slot is still taken")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCancelRequestStopsAResultBeingSent: a cancel request (psql's Ctrl-C) reached only a query
// still running in the engine; once the rows were being sent it was ignored, and a client that
// asked for a large result by mistake had to take all of it. It now stops the sending as
// PostgreSQL does: the rows sent so far, then 57014, and the connection goes on.
func TestCancelRequestStopsAResultBeingSent(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	ctx := context.Background()
	c := pgxConnect(t, s.dsn(f.bob, ""))
	pc := c.PgConn()
	fe := pc.Frontend()
	fe.Send(&pgproto3.Query{String: `SELECT repeat('x', 10000) AS x FROM range(3000)`}) // 30 MB
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, code, cancelled := 0, "", false
	for {
		m, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *pgproto3.DataRow:
			if rows++; !cancelled { // the query is done and its rows are being sent
				if err := pc.CancelRequest(ctx); err != nil {
					t.Fatal(err)
				}
				cancelled = true
			}
		case *pgproto3.ErrorResponse:
			code = m.Code
		}
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	if code != "57014" || rows >= 3000 {
		t.Fatalf("after the cancel request: %d rows sent, error %q; want fewer than 3000 and 57014", rows, code)
	}
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the connection after: %d %v", one, err)
	}
}
