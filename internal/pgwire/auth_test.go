package pgwire_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/pgwire"
	"github.com/auditlake/auditlake/internal/server"
)

func asPgError(err error, pe **pgconn.PgError) bool { return errors.As(err, pe) }

// TestLoginRefusalsLookAlike: a wrong secret, an unknown key and a disabled user's key are all
// refused with the same FATAL 28P01 message (SCRAM-SHA-256 runs to the end in every case).
func TestLoginRefusalsLookAlike(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	reg := access.Open(f.dir)
	carol, err := reg.CreateUser("carol-"+strings.ReplaceAll(t.Name(), "/", "-"), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.SetDisabled(carol.User, "", true); err != nil {
		t.Fatal(err)
	}
	cases := map[string]access.Credentials{
		"wrong secret": {AccessKeyID: f.admin.AccessKeyID, SecretAccessKey: f.admin.SecretAccessKey + "x"},
		"unknown key":  {AccessKeyID: "ALAKNOSUCHKEY0000000", SecretAccessKey: f.admin.SecretAccessKey},
		"disabled":     carol,
	}
	for name, cr := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c, err := pgx.Connect(ctx, s.dsn(cr, ""))
		cancel()
		if err == nil {
			c.Close(context.Background())
			t.Fatalf("%s: logged in", name)
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28P01" || pe.Message != `password authentication failed for user "`+cr.AccessKeyID+`"` {
			t.Fatalf("%s: %v", name, err)
		}
	}
	out, err := psql(t, s.dsn(cases["wrong secret"], ""), "-c", "SELECT 1")
	if err == nil || !strings.Contains(out, "password authentication failed") {
		t.Fatalf("psql with a wrong secret: %v\n%s", err, out)
	}
}

// TestTLSRequired: with a certificate the server requires TLS: sslmode=require connects (psql
// and pgx), sslmode=disable is refused with FATAL 28000.
func TestTLSRequired(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{TLS: selfSignedTLS(t)})
	out, err := psql(t, s.dsn(f.admin, "sslmode=require"), "-A", "-t", "-c", "SHOW ssl")
	if err != nil || strings.TrimSpace(out) != "on" {
		t.Fatalf("sslmode=require: %v %q", err, out)
	}
	c := pgxConnect(t, s.dsn(f.admin, "sslmode=require"))
	if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("pgx with sslmode=require is not on TLS: %T", c.PgConn().Conn())
	}
	var one int
	if err := c.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("pgx over TLS: %v", err)
	}
	out, err = psql(t, s.dsn(f.admin, "sslmode=disable"), "-c", "SELECT 1")
	if err == nil || !strings.Contains(out, "requires TLS") {
		t.Fatalf("sslmode=disable: %v\n%s", err, out)
	}
}

// TestCancelRequestStopsALongQuery: a CancelRequest (BackendKeyData's key) cancels the running
// query: the client gets 57014 promptly, and the connection goes on.
func TestCancelRequestStopsALongQuery(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.admin, ""))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Once the query runs (a cancel before it reaches the server would stop nothing there).
		s.running(1, 30*time.Second)
		cancel() // pgx sends a CancelRequest on its own connection when ctx ends
	}()
	start := time.Now()
	var n int64
	// The simple protocol: one run of the query on the server (the extended one runs its shape
	// for Describe first, and a cancel that lands between the two would stop nothing).
	err := c.QueryRow(ctx, "SELECT count(*) FROM range(0, 100000000000) a, range(0, 10) b WHERE a.range % 7 = b.range", pgx.QueryExecModeSimpleProtocol).Scan(&n)
	if err == nil {
		t.Fatalf("long query finished (%d) instead of being cancelled", n)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Fatalf("cancel took %v", el)
	}
	// pgx closes a connection whose query it cancelled; a new one works, and a direct cancel
	// request through pgconn reports 57014 to the query it stops.
	c2 := pgxConnect(t, s.dsn(f.admin, ""))
	if !s.running(0, 30*time.Second) {
		t.Fatal("the cancelled query still runs after 30 s")
	}
	res := make(chan error, 1)
	go func() {
		_, err := c2.Exec(context.Background(), "SELECT count(*) FROM range(0, 100000000000) a, range(0, 10) b WHERE a.range % 7 = b.range")
		res <- err
	}()
	// A cancel request that comes before the query runs cancels nothing (as in PostgreSQL): on
	// a loaded machine a fixed wait is not enough.
	if !s.running(1, 30*time.Second) {
		t.Fatal("the long query did not start within 30 s")
	}
	if err := c2.PgConn().CancelRequest(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57014" {
			t.Fatalf("cancelled query: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancel request did not stop the query")
	}
	var one int
	if err := c2.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("connection after a cancel: %v", err)
	}
}

// TestUserDisabledOnAnOpenConnection: a principal disabled (or its key deleted) while its
// connection is open is refused at its next query as an authentication failure — SQLSTATE
// 28000 naming no reason — and the connection is closed, not answered "internal error".
func TestUserDisabledOnAnOpenConnection(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	reg := access.Open(f.dir)
	dave, err := reg.CreateUser("dave-"+strings.ReplaceAll(t.Name(), "/", "-"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := pgxConnect(t, s.dsn(dave, ""))
	q := `SELECT count(*) FROM "aws:cloudtrail"."` + f.storeID + `"`
	var n int
	if err := c.QueryRow(context.Background(), q).Scan(&n); err != nil || n != f.allEvents {
		t.Fatalf("before: %d, %v; want %d", n, err, f.allEvents)
	}
	if err := reg.SetDisabled(dave.User, "", true); err != nil {
		t.Fatal(err)
	}
	err = c.QueryRow(context.Background(), q).Scan(&n)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28000" || pe.Severity != "FATAL" || strings.Contains(strings.ToLower(pe.Message), "internal") {
		t.Fatalf("after the user was disabled: %v (%#v)", err, pe)
	}
	if err := c.Ping(context.Background()); err == nil {
		t.Fatal("the connection of a disabled user stayed open")
	}
}

// TestAbandonedSCRAMExchangesCountAsFailedLogins: the server derived the key's salted secret
// (PBKDF2, 4,096 rounds) for every client-first-message, before any proof; a client that hung
// up after the server-first-message was never counted as a failed login, so one address made
// the server run PBKDF2 as fast as it could connect (1,500 a second, a core and a half, from four
// connections), past the failure limit. An exchange abandoned after the server-first-message
// now counts as a failure of its key id and address: past the address's limit the server
// refuses (FATAL 28000) before the exchange, even a login with the right secret. (The server
// no longer runs PBKDF2 at a login at all: TestSCRAMDerivesNothingBeforeTheProof.)
func TestAbandonedSCRAMExchangesCountAsFailedLogins(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{Failures: server.NewFailureLimiter(server.Options{LoginFailuresPerAddress: 5})})
	abandon := func(user string) string {
		t.Helper()
		fe, nc := startup(t, s.addr, user)
		defer nc.Close()
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		m, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			return e.Code
		}
		fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=abandonedexchange")})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		m, err = fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%T", m)[len("*pgproto3."):]
	}
	for i := range 5 {
		if got := abandon(fmt.Sprintf("ALAKABANDONED%07d", i)); got != "AuthenticationSASLContinue" {
			t.Fatalf("abandoned exchange %d: %s, want AuthenticationSASLContinue", i+1, got)
		}
	}
	// The server counts an exchange when it sees the client gone, a moment after the client
	// hung up: the next attempts are refused once it has.
	got := ""
	for i := 0; i < 10 && got != "28000"; i++ {
		time.Sleep(200 * time.Millisecond)
		got = abandon(fmt.Sprintf("ALAKABANDONED%07d", 100+i))
	}
	if got != "28000" {
		t.Errorf("after 15 abandoned exchanges from one address: %s, want FATAL 28000 before the exchange", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if c, err := pgx.Connect(ctx, s.dsn(f.admin, "")); err == nil {
		c.Close(ctx)
		t.Error("a login with the right secret from that address was let in: the abandoned exchanges were not counted")
	}
}

// TestSCRAMDerivesNothingBeforeTheProof: the server derived the key's salted secret (PBKDF2,
// 4,096 rounds) under a new salt at every client-first-message, before the client proved
// anything: a CPU lever for any client that can connect (many addresses pass the per-address
// limit) and a cost at every login of a connection pool. The key's SCRAM verifier is now kept in
// the registry: the salt and iteration count offered for a key id are the same at every
// exchange — and as stable for a key id that does not exist, so the answer does not tell the two
// apart — and the exchange computes no PBKDF2. A key made before verifiers were kept (none in
// access.json) still logs in (its verifier derived once, at its first use).
func TestSCRAMDerivesNothingBeforeTheProof(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	serverFirst := func(user string) (salt, iterations string) {
		t.Helper()
		fe, nc := startup(t, s.addr, user)
		defer nc.Close()
		fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=clientnonce")})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := fe.Receive()
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := m.(*pgproto3.AuthenticationSASLContinue); ok {
				for _, attr := range strings.Split(string(c.Data), ",") {
					if v, ok := strings.CutPrefix(attr, "s="); ok {
						salt = v
					} else if v, ok := strings.CutPrefix(attr, "i="); ok {
						iterations = v
					}
				}
				return salt, iterations
			}
			if _, ok := m.(*pgproto3.ErrorResponse); ok {
				t.Fatalf("%s: %+v", user, m)
			}
		}
	}
	for _, user := range []string{f.admin.AccessKeyID, "ALAKNOSUCHKEY0000001"} {
		s1, i1 := serverFirst(user)
		s2, i2 := serverFirst(user)
		if s1 == "" || s1 != s2 || i1 != "4096" || i2 != i1 {
			t.Errorf("%s: salts %q, %q, iterations %s, %s; want one salt and 4096 at every exchange", user, s1, s2, i1, i2)
		}
	}
	if a, _ := serverFirst("ALAKNOSUCHKEY0000002"); a == "" || a == func() string { s, _ := serverFirst("ALAKNOSUCHKEY0000001"); return s }() {
		t.Errorf("two unknown key ids are offered one salt %q: a tell that they do not exist", a)
	}

	reg := access.Open(f.dir)
	old, err := reg.CreateUser("legacy-"+strings.ReplaceAll(t.Name(), "/", "-"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := reg.State()
	if err != nil {
		t.Fatal(err)
	}
	if _, k := keyOf(st, old.AccessKeyID); k == nil || k.SCRAM == nil || k.SCRAM.Iterations != 4096 || len(k.SCRAM.StoredKey) != 32 {
		t.Fatalf("a new key's verifier: %+v", k)
	}
	if err := reg.Update(func(st *access.State) error {
		_, k := keyOf(*st, old.AccessKeyID)
		k.SCRAM = nil // as an earlier version made it
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		var one int
		if err := pgxConnect(t, s.dsn(old, "")).QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("a key without a stored verifier: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if c, err := pgx.Connect(ctx, s.dsn(access.Credentials{AccessKeyID: old.AccessKeyID, SecretAccessKey: old.SecretAccessKey + "x"}, "")); err == nil {
		c.Close(ctx)
		t.Error("a key without a stored verifier logged in with a wrong secret")
	}
}

// startup connects to addr and queues a startup message for user (not flushed); the caller
// closes the connection.
func startup(t *testing.T, addr, user string) (*pgproto3.Frontend, net.Conn) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": user}})
	return fe, nc
}

// keyOf finds key id in st (nil when absent), a pointer into st.
func keyOf(st access.State, id string) (*access.User, *access.Key) {
	for i := range st.Users {
		for j := range st.Users[i].Keys {
			if st.Users[i].Keys[j].ID == id {
				return &st.Users[i], &st.Users[i].Keys[j]
			}
		}
	}
	return nil, nil
}
