package pgwire_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// rawSession is an authenticated connection the test speaks the protocol on by hand.
func rawSession(t *testing.T, dsn string) *pgconn.HijackedConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pc, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	hc, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hc.Conn.Close() })
	hc.Conn.SetDeadline(time.Now().Add(60 * time.Second))
	return hc
}

// replies reads messages until ReadyForQuery or the end of the connection, and returns the
// SQLSTATEs of the errors, whether ReadyForQuery came, and the error that ended the reading.
func replies(fe *pgproto3.Frontend) (codes []string, ready bool, err error) {
	for {
		msg, err := fe.Receive()
		if err != nil {
			return codes, false, err
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			codes = append(codes, m.Severity+" "+m.Code)
		case *pgproto3.ReadyForQuery:
			return codes, true, nil
		}
	}
}

// admitsExactly checks that the server admits n connections and refuses the next with 53300:
// no session of the hostile clients before was left holding a slot. A slot is given back when
// the server sees its client gone, so the check tries again for a while.
func admitsExactly(t *testing.T, dsn string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var open []*pgconn.PgConn
		var err error
		for len(open) <= n {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			var c *pgconn.PgConn
			c, err = pgconn.Connect(ctx, dsn)
			cancel()
			if err != nil {
				break
			}
			open = append(open, c)
		}
		for _, c := range open {
			c.Close(context.Background())
		}
		var pe *pgconn.PgError
		if len(open) == n && errors.As(err, &pe) && pe.Code == "53300" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("admitted %d connections (then %v), want exactly %d: a session leaked", len(open), err, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestHostileMessagesAreRefusedAndLeakNoSession: a startup packet past its length bound, a
// Query without its terminator, a message with a length under 4, an unknown message type, Binds
// with more parameters (or parameter formats) than the statement has and an unknown format code,
// and a client that goes away in the middle of a large result: each gets an error (FATAL 08P01
// for a malformed message, as PostgreSQL) or the connection closed, and afterwards the server
// admits exactly MaxConns connections again.
func TestHostileMessagesAreRefusedAndLeakNoSession(t *testing.T) {
	f := sharedLake(t)
	const maxConns = 3
	s := startServer(t, f.dir, pgwire.Options{MaxConns: maxConns})
	dsn := s.dsn(f.admin, "")

	// A startup packet longer than any startup may be (10,000 bytes): closed.
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	hdr := binary.BigEndian.AppendUint32(nil, 1<<20)
	hdr = binary.BigEndian.AppendUint32(hdr, 3<<16)
	nc.Write(hdr)
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Error("a 1 MiB startup packet got an answer")
	} else if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Error("a 1 MiB startup packet: the server kept the connection waiting")
	}
	nc.Close()

	// Malformed messages after login: FATAL 08P01, then the connection is closed.
	for name, msg := range map[string][]byte{
		"query without terminator": append([]byte{'Q', 0, 0, 0, 12}, "SELECT 1"...),
		"length under 4":           {'Q', 0, 0, 0, 2},
		"unknown message type":     {'z', 0, 0, 0, 4},
	} {
		hc := rawSession(t, dsn)
		if _, err := hc.Conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		codes, ready, err := replies(hc.Frontend)
		if ready || len(codes) != 1 || codes[0] != "FATAL 08P01" || err == nil {
			t.Errorf("%s: errors %v, ready %v, end %v; want one FATAL 08P01 and the connection closed", name, codes, ready, err)
		}
	}

	// Binds the statement does not fit: an error each, and the session goes on after Sync.
	hc := rawSession(t, dsn)
	fe := hc.Frontend
	for name, c := range map[string]struct {
		parse pgproto3.Parse
		bind  pgproto3.Bind
		want  string
	}{
		"more parameters than declared": {pgproto3.Parse{Query: "SELECT $1", ParameterOIDs: []uint32{25}},
			pgproto3.Bind{Parameters: [][]byte{[]byte("a"), []byte("b"), []byte("c")}}, "ERROR 08P01"},
		"more parameters than used": {pgproto3.Parse{Query: "SELECT $1"},
			pgproto3.Bind{Parameters: [][]byte{[]byte("a"), []byte("b")}}, "ERROR 08P01"},
		"more parameter formats than parameters": {pgproto3.Parse{Query: "SELECT $1"},
			pgproto3.Bind{ParameterFormatCodes: []int16{0, 0, 0}, Parameters: [][]byte{[]byte("a")}}, "ERROR 08P01"},
		"unknown format code": {pgproto3.Parse{Query: "SELECT $1"},
			pgproto3.Bind{ParameterFormatCodes: []int16{7}, Parameters: [][]byte{[]byte("a")}}, "ERROR 22023"},
		"unknown result format code": {pgproto3.Parse{Query: "SELECT 1"},
			pgproto3.Bind{ResultFormatCodes: []int16{-1}}, "ERROR 22023"},
		"binary int4 of 3 bytes": {pgproto3.Parse{Query: "SELECT $1", ParameterOIDs: []uint32{23}},
			pgproto3.Bind{ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{0, 0, 1}}}, "ERROR 22P02"},
		// PostgreSQL refuses a NUL or invalid UTF-8 in text (22021); the NUL cut the SQL short.
		"text parameter holding a NUL": {pgproto3.Parse{Query: "SELECT $1", ParameterOIDs: []uint32{25}},
			pgproto3.Bind{Parameters: [][]byte{[]byte("a\x00' OR 1=1")}}, "ERROR 22021"},
		"text parameter of invalid UTF-8": {pgproto3.Parse{Query: "SELECT $1"},
			pgproto3.Bind{Parameters: [][]byte{{'a', 0xff, 0xfe}}}, "ERROR 22021"},
	} {
		p, b := c.parse, c.bind
		fe.Send(&p)
		fe.Send(&b)
		fe.Send(&pgproto3.Execute{})
		fe.Send(&pgproto3.Sync{})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		codes, ready, err := replies(fe)
		if !ready || len(codes) != 1 || codes[0] != c.want {
			t.Errorf("%s: errors %v (ready %v, %v), want one %s", name, codes, ready, err, c.want)
		}
	}
	fe.Send(&pgproto3.Query{String: "SELECT 1"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	if codes, ready, err := replies(fe); !ready || len(codes) != 0 {
		t.Fatalf("the session after the refused Binds: %v %v", codes, err)
	}
	hc.Conn.Close()

	// A client that reads a little of a large result and goes away.
	for range 2 {
		hc := rawSession(t, dsn)
		hc.Frontend.Send(&pgproto3.Query{String: `SELECT s.*, u.i FROM "aws:cloudtrail"."` + f.storeID + `" s CROSS JOIN UNNEST(sequence(1, 50)) AS u(i)`})
		if err := hc.Frontend.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"*pgproto3.RowDescription", "*pgproto3.DataRow"} {
			if msg, err := hc.Frontend.Receive(); err != nil || fmt.Sprintf("%T", msg) != want {
				t.Fatalf("the result began with %T (%v), want %s", msg, err, want)
			}
		}
		hc.Conn.Close()
	}

	admitsExactly(t, dsn, maxConns)
}

// TestThousandConnectionsOverTheLimit: 1,000 clients log in at once to a server admitting 8:
// 8 are admitted, every other one is refused with 53300 (no other error, no crash), and once they
// are gone the server admits 8 again, also while 1,000 silent connections wait in startup.
func TestThousandConnectionsOverTheLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 SCRAM logins")
	}
	f := sharedLake(t)
	const maxConns = 8
	s := startServer(t, f.dir, pgwire.Options{MaxConns: maxConns})
	dsn := s.dsn(f.admin, "")
	var (
		mu      sync.Mutex
		open    []*pgconn.PgConn
		refused int
		other   []error
		wg      sync.WaitGroup
	)
	start := make(chan struct{})
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			c, err := pgconn.Connect(ctx, dsn)
			mu.Lock()
			defer mu.Unlock()
			var pe *pgconn.PgError
			switch {
			case err == nil:
				open = append(open, c)
			case errors.As(err, &pe) && pe.Code == "53300":
				refused++
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(open) != maxConns || refused != 1000-maxConns || len(other) > 0 {
		t.Errorf("admitted %d, refused %d with 53300, other errors %d (first: %v); want %d, %d, 0",
			len(open), refused, len(other), append(other, nil)[0], maxConns, 1000-maxConns)
	}
	for _, c := range open {
		var one int
		res := c.ExecParams(context.Background(), "SELECT 1", nil, nil, nil, nil).Read()
		if res.Err != nil || len(res.Rows) != 1 {
			t.Errorf("an admitted connection: %v", res.Err)
		} else {
			one = int(res.Rows[0][0][0] - '0')
		}
		if one != 1 {
			t.Errorf("SELECT 1 answered %d", one)
		}
		c.Close(context.Background())
	}
	// 1,000 connections that never send a startup message hold no slot: a client logs in and is
	// answered while they wait (each is closed after the startup timeout).
	var silent []net.Conn
	defer func() {
		for _, nc := range silent {
			nc.Close()
		}
	}()
	for range 1000 {
		nc, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatalf("silent connection %d: %v", len(silent), err)
		}
		silent = append(silent, nc)
	}
	admitsExactly(t, dsn, maxConns)
}
