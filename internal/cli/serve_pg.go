package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/auditlake/auditlake/internal/pgwire"
	"github.com/auditlake/auditlake/internal/server"
)

// pgFlags are serve's flags of the Postgres wire protocol door (docs/postgres.md).
type pgFlags struct {
	listen, tlsCert, tlsKey string
}

// check validates the flags: a certificate needs its key, and the Postgres door listens beyond
// loopback only with TLS.
func (f pgFlags) check() error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if f.listen == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(f.listen)
	if err != nil {
		return usagef("--pg-listen %q is not host:port: %v", f.listen, err)
	}
	if ip := net.ParseIP(host); f.tlsCert == "" && (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return usagef("--pg-listen %q is not a loopback address: give --tls-cert and --tls-key so that connections are encrypted", f.listen)
	}
	return nil
}

// startPostgres listens on --pg-listen and serves the Postgres wire protocol until ctx is done;
// wait returns once every connection has ended.
func startPostgres(ctx context.Context, env *Env, b server.Backend, f pgFlags, timeout time.Duration, failures *server.FailureLimiter) (wait func(), err error) {
	var tc *tls.Config
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("load --tls-cert/--tls-key: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return nil, fmt.Errorf("--pg-listen: %w", err)
	}
	srv := pgwire.New(b, accessRegistry(env), pgwire.Options{TLS: tc, Timeout: timeout, Log: env.Log, Failures: failures})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, ln); err != nil {
			env.Log.Error("postgres wire protocol stopped", "err", err)
		}
	}()
	return func() { <-done }, nil
}
