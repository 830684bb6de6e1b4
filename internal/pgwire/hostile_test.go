package pgwire_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestHostileClientsAreRefusedAndTheServerGoesOn: garbage instead of a startup message, a
// message past the size bound, a query with an unterminated string, a Bind with the wrong number
// of parameters, a statement with too many parameters: each is refused (an error, or the
// connection closed) and the server and the connection go on where the protocol allows.
func TestHostileClientsAreRefusedAndTheServerGoesOn(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	ctx := context.Background()

	// Garbage, then an oversized startup length: the server closes the connection.
	for _, junk := range [][]byte{[]byte("GET / HTTP/1.1\r\n\r\n"), {0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0}} {
		nc, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write(junk)
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 1024)
		if _, err := nc.Read(buf); err == nil {
			for err == nil {
				_, err = nc.Read(buf)
			}
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("junk %q: the server kept the connection open", junk)
		}
		nc.Close()
	}

	c := pgxConnect(t, s.dsn(f.admin, ""))
	pc := c.PgConn()
	// An unterminated string: a syntax error, and the connection goes on.
	_, err := pc.Exec(ctx, "SELECT 'unterminated").ReadAll()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42601" {
		t.Fatalf("unterminated string: %v", err)
	}
	// A Bind with the wrong number of parameters: 08P01, skipped to Sync, then usable.
	fe := pc.Frontend()
	fe.Send(&pgproto3.Parse{Name: "two", Query: "SELECT $1, $2"})
	fe.Send(&pgproto3.Bind{PreparedStatement: "two", Parameters: [][]byte{[]byte("1")}})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			codes = append(codes, e.Code)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	if strings.Join(codes, ",") != "08P01" {
		t.Fatalf("bad Bind: errors %v, want one 08P01", codes)
	}
	// Too many parameters: 54000.
	_, err = pc.Prepare(ctx, "many", "SELECT $70000", nil)
	if !errors.As(err, &pe) || pe.Code != "54000" {
		t.Fatalf("70000 parameters: %v", err)
	}
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("connection after hostile messages: %v", err)
	}
	// A message past the size bound (16 MiB) ends that connection, not the server.
	c2 := pgxConnect(t, s.dsn(f.admin, ""))
	_, err = c2.Exec(ctx, "SELECT '"+strings.Repeat("x", 17<<20)+"'")
	if err == nil {
		t.Fatal("a 17 MiB query was accepted")
	}
	c3 := pgxConnect(t, s.dsn(f.admin, ""))
	if err := c3.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("server after an oversized message: %v", err)
	}
}

// TestConnectionsBeyondTheBoundAreRefused: past MaxConns a login is refused with 53300 and the
// connections already open go on.
func TestConnectionsBeyondTheBoundAreRefused(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{MaxConns: 2})
	a := pgxConnect(t, s.dsn(f.admin, ""))
	pgxConnect(t, s.dsn(f.admin, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := pgconn.Connect(ctx, s.dsn(f.admin, ""))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53300" {
		t.Fatalf("third connection: %v", err)
	}
	var one int
	if err := a.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}
