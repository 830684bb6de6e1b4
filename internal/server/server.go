// Package server is auditlake's HTTP face: a JSON API over a Backend (stores, tables, SQL
// queries, reports, activity dashboards) and the embedded single-page web dashboard.
//
// The server keeps no data of its own. Every request is answered from the Backend, so the
// engine that implements it decides what is stored and how queries are sandboxed; the server
// authenticates every request (auth.go: bearer access keys from the access registry, or a
// dashboard session cookie with CSRF protection) and hands the backend an access.Caller,
// decides limits (body size, row count, query timeout), maps errors to HTTP statuses in one
// place (writeError) and keeps internal details in the log instead of the response. Its only
// state is in memory: dashboard sessions, one-time login links and the failed-login counts.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/access"
)

// Options are the server's limits and assets. The zero value is usable: every zero field takes
// the default documented on it.
type Options struct {
	// Assets is the built web dashboard (index.html at its root). Nil serves a page saying the
	// assets were not built.
	Assets fs.FS
	// MaxBodyBytes caps a request body; larger bodies get 413. Default 1 MiB.
	MaxBodyBytes int64
	// ReadTimeout bounds the reading of a whole request, body included, so that a client
	// dribbling a body byte by byte cannot hold a connection (and its goroutine) for ever; an
	// idle keep-alive connection is closed after twice that. Default 60s (bodies are at most
	// MaxBodyBytes).
	ReadTimeout time.Duration
	// DefaultMaxRows is the row limit of a query that names none. Default 1000.
	DefaultMaxRows int
	// MaxRowsLimit is the largest row limit a caller may ask for. Default 100000.
	MaxRowsLimit int
	// DefaultTimeout is the timeout of a query that names none. Default 60s.
	DefaultTimeout time.Duration
	// MaxTimeout is the longest timeout a caller may ask for. Default 10 minutes.
	MaxTimeout time.Duration
	// ShutdownGrace is how long Serve waits for requests in flight after ctx is cancelled.
	// Default 10s.
	ShutdownGrace time.Duration
	// AllowedHosts are Host header names accepted besides the listen address (and, on a
	// loopback listener, localhost, 127.0.0.1 and [::1]); a name matches with any port or none.
	// Other Host values are answered 421 by Serve, against DNS rebinding.
	AllowedHosts []string
	// Access is the registry requests authenticate against (Bearer access keys, dashboard
	// logins). Nil refuses every authenticated path with 401.
	Access *access.Registry
	// SessionIdle ends a dashboard session unused this long. Default 1 hour.
	SessionIdle time.Duration
	// SessionLifetime ends a dashboard session this long after its login. Default 12 hours.
	SessionLifetime time.Duration
	// MaxSessions bounds the sessions held in memory; past it the oldest ends. Default 10000.
	MaxSessions int
	// MaxSessionsPerUser bounds one user's sessions; past it that user's oldest ends, so one
	// user cannot end everyone else's by logging in again and again. Default 100.
	MaxSessionsPerUser int
	// LoginFailuresPerKey and LoginFailuresPerAddress are the failed authentications (login or
	// Bearer) an access key id and a client address may have within LoginFailureWindow before
	// every attempt with it is refused (429) until the window has passed. Defaults 5, 20 and
	// 15 minutes.
	LoginFailuresPerKey, LoginFailuresPerAddress int
	LoginFailureWindow                           time.Duration
	// Failures, when set, is the failed-authentication limit this server shares with the
	// process's other doors; its limits apply and the three fields above are not used.
	Failures *FailureLimiter
	// TLS, when set (with a certificate), makes Serve speak HTTPS; the session cookie is then
	// Secure.
	TLS *tls.Config
	// InsecureHTTP allows plain HTTP on a non-loopback address, which Serve otherwise refuses:
	// access keys and session cookies would cross the network in clear.
	InsecureHTTP bool
	// AWS, when set, answers the CloudTrail Lake API (package awsapi) at POST / and the
	// PutAuditEvents calls signed with SigV4. It authenticates every request itself, so no
	// session or bearer check stands in front of it.
	AWS http.Handler
	// Sources answers GET /api/sources (collection: each source's state, each store's newest
	// event and lag); nil answers an empty document.
	Sources func(ctx context.Context) (any, error)
	// AlertTargets answers GET /api/alert-targets: the alert targets with their health, and the
	// id of the alerts store (whose readers may see them; "" before it exists).
	AlertTargets func(ctx context.Context) (targets any, alertsStoreID string, err error)
	// Metrics serves GET /metrics (Prometheus exposition); nil: not served.
	Metrics http.Handler
	// Observe, when set, is told of every request: its route pattern, status and duration.
	Observe func(pattern string, status int, elapsed time.Duration)
}

func (o Options) withDefaults() Options {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 60 * time.Second
	}
	if o.DefaultMaxRows <= 0 {
		o.DefaultMaxRows = 1000
	}
	if o.MaxRowsLimit <= 0 {
		o.MaxRowsLimit = 100000
	}
	if o.DefaultMaxRows > o.MaxRowsLimit {
		o.DefaultMaxRows = o.MaxRowsLimit
	}
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = 60 * time.Second
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = 10 * time.Minute
	}
	if o.DefaultTimeout > o.MaxTimeout {
		o.DefaultTimeout = o.MaxTimeout
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = time.Hour
	}
	if o.SessionLifetime <= 0 {
		o.SessionLifetime = 12 * time.Hour
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 10000
	}
	if o.MaxSessionsPerUser <= 0 {
		o.MaxSessionsPerUser = 100
	}
	if o.LoginFailuresPerKey <= 0 {
		o.LoginFailuresPerKey = 5
	}
	if o.LoginFailuresPerAddress <= 0 {
		o.LoginFailuresPerAddress = 20
	}
	if o.LoginFailureWindow <= 0 {
		o.LoginFailureWindow = 15 * time.Minute
	}
	return o
}

// Server is the HTTP API and dashboard. It is an http.Handler; Serve runs it on an address.
type Server struct {
	backend     Backend
	log         *slog.Logger
	opts        Options
	handler     http.Handler
	now         func() time.Time
	sessions    *tokenStore[session]
	links       *tokenStore[loginLink]
	limiter     *failureLimiter
	crossOrigin *http.CrossOriginProtection
}

// New returns a Server answering from b. log receives one line per request and the details of
// internal errors.
func New(b Backend, log *slog.Logger, opts Options) *Server {
	s := &Server{backend: b, log: log, opts: opts.withDefaults(), crossOrigin: http.NewCrossOriginProtection()}
	s.now = time.Now
	s.sessions = newTokenStore[session](s.opts.MaxSessions)
	s.sessions.owner, s.sessions.perOwner = func(e *session) string { return e.user }, s.opts.MaxSessionsPerUser
	s.links = newTokenStore[loginLink](1000)
	s.limiter = newFailureLimiter(s.opts.LoginFailuresPerKey, s.opts.LoginFailuresPerAddress, s.opts.LoginFailureWindow,
		func() time.Time { return s.now() })
	if s.opts.Failures != nil {
		s.limiter = s.opts.Failures.l
	}
	if s.opts.Access == nil {
		log.Warn("server has no access registry: every API request but /healthz is refused (401)")
	}
	auth := s.authenticated
	mux := http.NewServeMux()
	mux.Handle("/healthz", s.api(http.MethodGet, s.healthz))
	mux.Handle("/api/login", s.api(http.MethodPost, s.login))
	mux.HandleFunc("/login", s.loginPage)
	mux.Handle("/api/logout", auth(http.MethodPost, s.logout))
	mux.Handle("/api/session", auth(http.MethodGet, s.whoami))
	mux.Handle("/api/stores", auth(http.MethodGet, s.stores))
	mux.Handle("/api/tables", auth(http.MethodGet, s.tables))
	mux.Handle("/api/query", auth(http.MethodPost, s.query))
	mux.Handle("/api/reports/{name}", auth(http.MethodGet, s.report))
	mux.Handle("/api/instances/{id}", auth(http.MethodGet, s.instance))
	mux.Handle("/api/dashboards/activity", auth(http.MethodGet, s.activity))
	// The audit-event endpoints check their channel tokens themselves.
	mux.Handle("/PutAuditEvents", s.sigV4Or(s.api(http.MethodPost, s.putAuditEvents)))
	mux.Handle("/api/channels/{rest...}", s.api(http.MethodPost, s.putChannelEvents))
	mux.Handle("/api/sources", auth(http.MethodGet, s.sources))
	mux.Handle("/api/alert-targets", auth(http.MethodGet, s.alertTargets))
	mux.Handle("/api/alerts", auth(http.MethodGet, s.alerts))
	mux.Handle("/api/hunt", auth(http.MethodPost, s.hunt))
	if s.opts.Metrics != nil {
		// Store names, sizes and sources' buckets: for callers who may manage (a Prometheus
		// scrape job sends a bearer access key: authorization.credentials_file; its user needs
		// grant manage or --admin), since they name every store, the ones a reader may not see.
		mux.Handle("/metrics", auth(http.MethodGet, func(w http.ResponseWriter, r *http.Request) error {
			if !mayManage(r) {
				return errOverviewForbidden
			}
			s.opts.Metrics.ServeHTTP(w, r)
			return nil
		}))
	}
	// An unknown API path answers 404 only to an authenticated caller: no endpoint list for
	// strangers.
	mux.Handle("/api/", auth("", func(w http.ResponseWriter, r *http.Request) error {
		return &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("no API endpoint %s", r.URL.Path)}
	}))
	mux.Handle("/", s.assets())
	if s.opts.AWS != nil {
		mux.Handle("POST /{$}", s.opts.AWS)
	}
	s.handler = s.logRequests(mux)
	return s
}

// sigV4Or sends a request signed with SigV4 to Options.AWS and any other to next.
func (s *Server) sigV4Or(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.AWS != nil && slices.ContainsFunc(r.Header.Values("Authorization"), func(h string) bool { return strings.HasPrefix(h, "AWS4-") }) {
			s.opts.AWS.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Serve listens on listen (host:port) and serves until ctx is cancelled, then shuts down
// gracefully: it stops accepting connections and waits up to Options.ShutdownGrace for requests
// in flight. It speaks HTTPS when Options.TLS is set; plain HTTP on a non-loopback address is
// refused unless Options.InsecureHTTP.
func (s *Server) Serve(ctx context.Context, listen string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", listen, err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener is Serve on an open listener, which it closes.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	addr := ln.Addr().String()
	if !isLoopback(ln.Addr()) && s.opts.TLS == nil {
		if !s.opts.InsecureHTTP {
			ln.Close()
			return fmt.Errorf("%w: %s", ErrInsecureListen, addr)
		}
		s.log.Warn("serving plain HTTP on a non-loopback address: access keys and session cookies cross the network in clear", "addr", addr)
	}
	hs := &http.Server{
		Handler:           s.checkHost(ln.Addr(), s),
		ReadHeaderTimeout: min(10*time.Second, s.opts.ReadTimeout),
		ReadTimeout:       s.opts.ReadTimeout,
		IdleTimeout:       2 * s.opts.ReadTimeout,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		TLSConfig:         s.opts.TLS,
	}
	scheme := "http"
	if s.opts.TLS != nil {
		scheme = "https"
	}
	s.log.Info("serving", "url", scheme+"://"+addr+"/")
	errc := make(chan error, 1)
	go func() {
		if s.opts.TLS != nil {
			errc <- hs.ServeTLS(ln, "", "")
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %q: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownGrace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve on %q: %w", addr, serr)
	}
	if err != nil {
		hs.Close()
		return fmt.Errorf("shut down server on %q: %w", addr, err)
	}
	s.log.Info("server stopped", "addr", addr)
	return nil
}

// ErrInsecureListen refuses plain HTTP on a non-loopback address (Options.InsecureHTTP allows it).
var ErrInsecureListen = errors.New("refusing to serve plain HTTP on a non-loopback address: give a TLS certificate (serve --tls-cert FILE --tls-key FILE) or accept clear-text credentials with --insecure-http")

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// statusRecorder remembers the status code for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logRequests writes one structured log line per request.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if s.opts.Observe != nil {
			s.opts.Observe(r.Pattern, rec.status, time.Since(start))
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		s.log.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("elapsed", time.Since(start)),
			slog.String("remote", r.RemoteAddr),
		)
	})
}
