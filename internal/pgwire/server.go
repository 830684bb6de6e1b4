// Package pgwire is the Postgres wire protocol door (serve --pg-listen): psql, BI tools and
// drivers connect as to a PostgreSQL 15 database. Startup, SCRAM-SHA-256 with an access key's
// secret, TLS, the simple and extended query protocols and cancel requests are spoken with
// pgproto3 (pgx's protocol codec); user queries go to the server.Backend under the caller's
// identity (access.DoorPostgres), so grants and the audit log apply as at every other door;
// catalog queries (pg_catalog, information_schema, SHOW, version()…) are answered by an
// emulated catalog of the principal's visible tables (catalog.go).
package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/server"
)

// Options configure the server.
type Options struct {
	// TLS, when set, is required: a client must ask for TLS (sslmode=require or stronger) and a
	// plaintext startup is refused. Nil: TLS is not offered and connections are plaintext (the
	// password still never crosses the wire: SCRAM proves it).
	TLS *tls.Config
	// Timeout bounds each query (0: none).
	Timeout time.Duration
	// MaxRows bounds each query's rows (0: no bound but the backend's result size limit).
	MaxRows int
	// MaxConns bounds the open connections (default 256); past it a client is refused with
	// 53300 too_many_connections.
	MaxConns int
	// WriteTimeout bounds how long the server waits for a client to read what it sends (default
	// 2 minutes without a byte read): a client that stops reading in the middle of a result has
	// its connection closed, and the result's memory and the connection slot are given back.
	WriteTimeout time.Duration
	// MaxRetainedResults bounds the results the open portals and cursors of all connections keep
	// between messages (default 1 GiB; each connection keeps at most 256 MiB): past it a portal
	// or cursor is refused with 53000.
	MaxRetainedResults int
	Log                *slog.Logger
	// Failures limits failed logins per access key id and per client address, shared with the
	// process's other doors (nil: no limit): a key id or an address over the limit is refused
	// (FATAL 28000) before the exchange, and a failed exchange counts against both.
	Failures FailureLimit
}

// FailureLimit is a failed-authentication limit (*server.FailureLimiter is one).
type FailureLimit interface {
	RetryAfter(keyID, addr string) time.Duration
	Fail(door, keyID, addr string)
}

// Bounds on what one client can make the server hold.
const (
	maxMessageLen   = 16 << 20 // a message body (a query's text, a Bind's parameters)
	maxStatements   = 10_000   // named prepared statements of a connection
	maxPortals      = 1_000    // named portals of a connection
	defaultMaxConns = 256
	// defaultWriteTimeout is Options.WriteTimeout's default: far longer than any client that
	// reads takes to take a chunk, short enough that one that never reads lets go.
	defaultWriteTimeout = 2 * time.Minute
)

// Server accepts Postgres connections.
type Server struct {
	b     server.Backend
	reg   *access.Registry
	opts  Options
	log   *slog.Logger
	mu    sync.Mutex
	conns map[uint32]*conn // by process id, for cancel requests
	wg    sync.WaitGroup
	catMu sync.Mutex
	cats  map[string]*catalog // shared by the connections of one key, by catalog.cache

	retainedMu sync.Mutex
	retained   int // the size of the results the connections' portals keep (retained.go)
}

// New returns a server over the backend that authenticates with the registry's access keys.
func New(b server.Backend, reg *access.Registry, o Options) *Server {
	if o.MaxConns <= 0 {
		o.MaxConns = defaultMaxConns
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = defaultWriteTimeout
	}
	if o.MaxRetainedResults <= 0 {
		o.MaxRetainedResults = defaultMaxRetainedResults
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{b: b, reg: reg, opts: o, log: log, conns: map[uint32]*conn{}, cats: map[string]*catalog{}}
}

// ListenAndServe listens on addr and serves until ctx is done.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("postgres listener: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln until ctx is done, then closes every connection (their
// queries are cancelled) and returns once they have ended.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	s.log.Info("postgres wire protocol listening", "addr", ln.Addr().String(), "tls", s.opts.TLS != nil)
	var err error
	for {
		nc, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				var ne net.Error
				if errors.As(aerr, &ne) && ne.Timeout() {
					continue
				}
				err = aerr
			}
			break
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			// A fault in one connection's code (a panic: a bug) ends that connection, logged
			// with its stack, not the whole process with every door of serve, as net/http does
			// for a request. The connection's own deferred clean-up (its registration, its
			// cursors, its socket) runs before this.
			defer func() {
				if v := recover(); v != nil {
					s.log.Error("postgres connection ended by a server fault", "remote", nc.RemoteAddr().String(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				}
			}()
			s.handle(ctx, nc)
		}()
	}
	cancel()
	s.wg.Wait()
	return err
}

// startupTimeout bounds the time from accept to an authenticated session.
const startupTimeout = 30 * time.Second

// authFailed is the one message for every failed login: a wrong secret and an unknown,
// disabled or expired key are not told apart.
func authFailed(user string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "28P01",
		Message: fmt.Sprintf("password authentication failed for user %q", user)}
}

func fatal(code, msg string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg}
}

// handle runs one connection: startup (TLS, authentication), then the session.
func (s *Server) handle(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(startupTimeout))
	out := &writeDeadline{Conn: nc} // its idle timeout is set once the startup (under its own deadline) is done
	be := pgproto3.NewBackend(nc, out)
	be.SetMaxBodyLen(maxMessageLen)
	secure := false
	var startup *pgproto3.StartupMessage
	for startup == nil {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if s.opts.TLS == nil || secure {
				if _, err := nc.Write([]byte("N")); err != nil {
					return
				}
				continue
			}
			if _, err := nc.Write([]byte("S")); err != nil {
				return
			}
			tc := tls.Server(nc, s.opts.TLS)
			be.SetMaxBodyLen(maxMessageLen)
			if err := tc.HandshakeContext(ctx); err != nil {
				s.log.Debug("postgres TLS handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
				return
			}
			nc, secure = tc, true
			defer tc.Close()
			out = &writeDeadline{Conn: tc}
			be = pgproto3.NewBackend(tc, out)
			be.SetMaxBodyLen(maxMessageLen)
		case *pgproto3.GSSEncRequest:
			if _, err := nc.Write([]byte("N")); err != nil {
				return
			}
		case *pgproto3.CancelRequest:
			s.cancel(m)
			return
		case *pgproto3.StartupMessage:
			startup = m
		default:
			return
		}
	}
	user := startup.Parameters["user"]
	if s.opts.TLS != nil && !secure {
		be.Send(fatal("28000", "this server requires TLS: connect with sslmode=require (or verify-ca, verify-full)"))
		be.Flush()
		return
	}
	if startup.ProtocolVersion>>16 != 3 {
		be.Send(fatal("0A000", fmt.Sprintf("unsupported frontend protocol %d.%d", startup.ProtocolVersion>>16, startup.ProtocolVersion&0xffff)))
		be.Flush()
		return
	}
	host, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
	if s.opts.Failures != nil {
		if wait := s.opts.Failures.RetryAfter(user, host); wait > 0 {
			be.Send(fatal("28000", fmt.Sprintf("too many failed authentications; try again in %s", wait.Round(time.Second))))
			be.Flush()
			s.log.Warn("postgres login refused: too many failures", "remote", nc.RemoteAddr().String(), "user", user)
			return
		}
	}
	p, err := s.authenticate(be, user, host)
	if err != nil {
		s.log.Info("postgres login refused", "remote", nc.RemoteAddr().String(), "user", user, "err", err)
		return
	}
	app := startup.Parameters["application_name"]
	c := &conn{
		s: s, be: be, nc: nc, user: user, app: app, ssl: secure,
		stmts: map[string]*statement{}, portals: map[string]*portal{}, settings: map[string]string{}, tx: 'I',
	}
	ua := "postgres"
	if app != "" {
		ua = "postgres (" + app + ")"
	}
	// The backend's per-client limits count the principal's requests, as at the HTTP doors: its
	// connections from any address share them, and principals behind one address do not.
	c.ctx = access.WithCaller(server.WithClient(ctx, p.Name()), access.Caller{Principal: p, KeyID: user, Door: access.DoorPostgres, SourceIP: host, UserAgent: ua})
	if err := s.register(c); err != nil {
		be.Send(fatal("53300", err.Error()))
		be.Flush()
		return
	}
	defer s.unregister(c)
	nc.SetDeadline(time.Time{})
	out.idle = s.opts.WriteTimeout
	c.startupSettings(startup.Parameters)
	c.sendStartup(startup.Parameters)
	c.serve()
}

// writeDeadline is a connection whose writes fail once the client has read nothing for idle
// (0: no deadline of its own): each chunk of a write gets a fresh deadline, so a client that reads
// a long result slowly goes on, and one that stopped reading (its socket buffer full) has its
// write fail and the connection closed, which ends the session and frees what it held.
type writeDeadline struct {
	net.Conn
	idle time.Duration
}

// writeChunk is how much a write sends under one deadline.
const writeChunk = 64 << 10

func (w *writeDeadline) Write(p []byte) (int, error) {
	if w.idle <= 0 {
		return w.Conn.Write(p)
	}
	n := 0
	for n < len(p) {
		w.Conn.SetWriteDeadline(time.Now().Add(w.idle))
		m, err := w.Conn.Write(p[n:min(len(p), n+writeChunk)])
		n += m
		if err != nil {
			// The stream is cut inside a message: nothing more can be said on it. Closed, the
			// connection's next read fails too, and the session ends.
			w.Conn.Close()
			return n, err
		}
	}
	return n, nil
}

// authenticate runs SCRAM-SHA-256 for user (an access key id) and returns its principal. The
// exchange runs to the end whether or not the key exists, and every failure is authFailed. An
// exchange that reached the server-first-message and gave no principal — a wrong proof, or none
// because the client hung up or sent something else — counts against the failure limit, before
// the client hears of it: so a client that reconnects at once is already refused when over the
// limit, and one that abandons exchanges is bounded as one that guesses.
func (s *Server) authenticate(be *pgproto3.Backend, user, host string) (*access.Principal, error) {
	sc := &scramServer{}
	p, fail, err := s.scram(be, user, sc)
	if p == nil && sc.serverFirst != "" && s.opts.Failures != nil {
		s.opts.Failures.Fail(access.DoorPostgres, user, host)
	}
	if fail != nil {
		be.Send(fail)
		be.Flush()
		return nil, &loginError{code: fail.Code, msg: fail.Message}
	}
	return p, err
}

// loginError is a refused login, with the SQLSTATE the client was sent.
type loginError struct{ code, msg string }

func (e *loginError) Error() string { return e.msg }

// scram runs the exchange with sc, which it gives the key's secret.
func (s *Server) scram(be *pgproto3.Backend, user string, sc *scramServer) (*access.Principal, *pgproto3.ErrorResponse, error) {
	v, p, err := s.reg.SCRAM(user) // an unknown key's: its salt, and keys no proof matches
	known := err == nil
	if err != nil && !errors.Is(err, access.ErrUnauthenticated) {
		return nil, fatal("XX000", "cannot read the access registry"), nil
	}
	be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if err := be.Flush(); err != nil {
		return nil, nil, err
	}
	if err := be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return nil, nil, err
	}
	msg, err := be.Receive()
	if err != nil {
		return nil, nil, err
	}
	init, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || init.AuthMechanism != "SCRAM-SHA-256" {
		return nil, fatal("28000", "SCRAM-SHA-256 authentication is required (the password is the access key's secret)"), nil
	}
	sc.v = v
	first, err := sc.first(string(init.Data))
	if err != nil {
		return nil, fatal("08P01", err.Error()), nil
	}
	be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(first)})
	if err := be.Flush(); err != nil {
		return nil, nil, err
	}
	if err := be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return nil, nil, err
	}
	msg, err = be.Receive()
	if err != nil {
		return nil, nil, err
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return nil, fatal("08P01", "expected a SASL response"), nil
	}
	final, err := sc.final(string(resp.Data))
	if err != nil || !known {
		return nil, authFailed(user), nil
	}
	be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte(final)})
	be.Send(&pgproto3.AuthenticationOk{})
	return p, nil, nil
}

// register gives c a process id and cancel key.
func (s *Server) register(c *conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) >= s.opts.MaxConns {
		return fmt.Errorf("sorry, too many clients already (%d connections)", s.opts.MaxConns)
	}
	for range 100 {
		var b [8]byte
		rand.Read(b[:])
		pid := binary.BigEndian.Uint32(b[:4]) & 0x7fffffff
		if pid == 0 || s.conns[pid] != nil {
			continue
		}
		c.pid, c.key = pid, b[4:]
		s.conns[pid] = c
		return nil
	}
	return errors.New("no free process id")
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	delete(s.conns, c.pid)
	s.mu.Unlock()
}

// cancel cancels the running query of the connection a cancel request names, if its key matches.
func (s *Server) cancel(m *pgproto3.CancelRequest) {
	s.mu.Lock()
	c := s.conns[m.ProcessID]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare(m.SecretKey, c.key) != 1 {
		return
	}
	c.cancelRunning()
}

// acquireCatalog returns the catalog of si's key over tables, built unless a connection of the
// same key, TLS state and tables has it already. releaseCatalog gives it back.
func (s *Server) acquireCatalog(ctx context.Context, tables []server.Table, names map[string]string, si sessionInfo) (*catalog, error) {
	key := fmt.Sprintf("%s\x00%v\x00%s", si.user, si.ssl, tablesKey(tables))
	s.catMu.Lock()
	defer s.catMu.Unlock()
	if c := s.cats[key]; c != nil {
		c.refs++
		return c, nil
	}
	c, err := buildCatalog(ctx, tables, names, si)
	if err != nil {
		return nil, err
	}
	c.cache, c.refs = key, 1
	s.cats[key] = c
	return c, nil
}

func (s *Server) releaseCatalog(c *catalog) {
	if c == nil {
		return
	}
	s.catMu.Lock()
	defer s.catMu.Unlock()
	if c.refs--; c.refs == 0 {
		delete(s.cats, c.cache)
		c.close()
	}
}
