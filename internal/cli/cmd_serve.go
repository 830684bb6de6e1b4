package cli

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/server"
	"github.com/auditlake/auditlake/web"
)

// serveLimits are serve's flags that bound the engine behind the API.
type serveLimits struct {
	maxResultBytes, maxTempSize  int64
	maxQueries, maxClientQueries int
}

const serveUsage = `Usage: auditlake serve [--listen HOST:PORT] [--allowed-host NAME]… [--max-rows N] [--query-timeout D]
       [--max-result-bytes SIZE] [--max-temp-size SIZE] [--max-queries N] [--max-client-queries N]

Serves the web dashboard (compliance report, instance audit trails, activity dashboards, SQL
editor) and its JSON API (docs/api.md) from the stores in --data. It listens on the loopback
address by default; the API has no authentication, so put it behind an authenticating proxy
before listening on any other address. Requests whose Host header is not the listen address (or,
on loopback, localhost) nor a name given with --allowed-host are refused (421), against DNS
rebinding. A query's result is bounded in bytes (--max-result-bytes, 422 past it) and its spill
files in <data>/tmp (--max-temp-size, shared by all query sessions). At most --max-queries
requests use the engine at once, plus one interactive lane that a request holds for at most 10 s,
so short queries get through while long ones run; a client (remote address) may have at most
--max-client-queries requests running or waiting (429 past it). Ctrl-C stops it after the
requests in flight finish. It also runs the sources (auditlake source list; see auditlake help collect)
unless --no-collect.`

const serveExamples = `  auditlake serve
  auditlake serve --listen 127.0.0.1:9090 --query-timeout 2m
  auditlake --data /srv/auditlake serve --listen 0.0.0.0:8080 --allowed-host audit.example.com   # behind a proxy`

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "serve")
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on (host:port)")
	maxRows := fs.Int("max-rows", 1000, "default row limit of a query that names none")
	timeout := fs.Duration("query-timeout", 60*time.Second, "default timeout of a query that names none")
	var allowedHosts multiFlag
	fs.Var(&allowedHosts, "allowed-host", "a Host name the server answers besides its listen address, e.g. the proxy's name (repeatable)")
	lim := serveLimits{maxResultBytes: engine.DefaultMaxResultBytes, maxTempSize: defaultMaxTempSize(env.DataDir)}
	fs.Var((*byteSize)(&lim.maxResultBytes), "max-result-bytes", "largest query result, in bytes (e.g. 64MiB); a larger one is refused (422)")
	fs.Var((*byteSize)(&lim.maxTempSize), "max-temp-size", "spill space of all queries together in <data>/tmp (default 10% of the free disk, at most 4GiB)")
	fs.IntVar(&lim.maxQueries, "max-queries", 4, "requests that may use the query engine at once (plus one interactive lane)")
	fs.IntVar(&lim.maxClientQueries, "max-client-queries", 16, "requests one client (remote address) may have running or waiting; more get 429")
	fs.StringVar(&env.ApprovedConfig, "approved-config", "", "approved launch templates (JSON, as for report launch-compliance) used when a request names none")
	noCollect := fs.Bool("no-collect", false, "do not run the sources (auditlake source list) in this process")
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
	if lim.maxResultBytes < 1 || lim.maxTempSize < 1 {
		return usagef("--max-result-bytes and --max-temp-size must be positive")
	}
	if lim.maxQueries < 1 || lim.maxClientQueries < 1 {
		return usagef("--max-queries and --max-client-queries must be at least 1")
	}
	for _, h := range allowedHosts {
		if h == "" || strings.ContainsAny(h, "/ @") {
			return usagef("--allowed-host %q is not a host name", h)
		}
	}
	b, closer, err := newBackend(ctx, env, lim)
	if err != nil {
		return fmt.Errorf("open data directory %q: %w", env.DataDir, err)
	}
	defer closer.Close()
	assets := web.Assets()
	if assets == nil {
		env.Log.Warn("web assets not built: the dashboard shows a notice; run make web and rebuild")
	}
	s := server.New(b, env.Log, withCollection(env, server.Options{Assets: assets, DefaultMaxRows: *maxRows, DefaultTimeout: *timeout, AllowedHosts: allowedHosts}))
	defer startCollection(ctx, env, *noCollect)()
	return s.Serve(ctx, *listen)
}
