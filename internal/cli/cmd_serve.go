package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/auditlake/auditlake/internal/server"
	"github.com/auditlake/auditlake/web"
)

// newBackend opens the engine behind the HTTP API for env.DataDir. The engine package sets it
// (in its own cmd_*.go wiring) so that this file does not depend on how the engine is built;
// while it is nil, serve explains that instead of starting a server that cannot answer.
var newBackend func(ctx context.Context, env *Env) (server.Backend, io.Closer, error)

const serveUsage = `Usage: auditlake serve [--listen HOST:PORT] [--max-rows N] [--query-timeout D]

Serves the web dashboard (compliance report, instance audit trails, activity dashboards, SQL
editor) and its JSON API (docs/api.md) from the stores in --data. It listens on the loopback
address by default; the API has no authentication, so put it behind an authenticating proxy
before listening on any other address. Ctrl-C stops it after the requests in flight finish.`

const serveExamples = `  auditlake serve
  auditlake serve --listen 127.0.0.1:9090 --query-timeout 2m
  auditlake --data /srv/auditlake serve --listen 0.0.0.0:8080   # behind a proxy`

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "serve")
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on (host:port)")
	maxRows := fs.Int("max-rows", 1000, "default row limit of a query that names none")
	timeout := fs.Duration("query-timeout", 60*time.Second, "default timeout of a query that names none")
	fs.StringVar(&env.ApprovedConfig, "approved-config", "", "approved launch templates (JSON, as for report launch-compliance) used when a request names none")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("serve takes no arguments, got %q", pos[0])
	}
	if _, _, err := net.SplitHostPort(*listen); err != nil {
		return usagef("--listen %q is not host:port: %v", *listen, err)
	}
	if *maxRows < 1 {
		return usagef("--max-rows must be at least 1")
	}
	if *timeout <= 0 {
		return usagef("--query-timeout must be positive")
	}
	if newBackend == nil {
		return errors.New("serve: this build has no query engine wired to the HTTP API")
	}
	b, closer, err := newBackend(ctx, env)
	if err != nil {
		return fmt.Errorf("open data directory %q: %w", env.DataDir, err)
	}
	defer closer.Close()
	assets := web.Assets()
	if assets == nil {
		env.Log.Warn("web assets not built: the dashboard shows a notice; run make web and rebuild")
	}
	s := server.New(b, env.Log, server.Options{Assets: assets, DefaultMaxRows: *maxRows, DefaultTimeout: *timeout})
	return s.Serve(ctx, *listen)
}
