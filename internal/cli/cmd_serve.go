package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/awsapi"
	"github.com/auditlake/auditlake/internal/delivery"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/server"
	"github.com/auditlake/auditlake/web"
)

// serveLimits are serve's flags that bound the engine behind the API.
type serveLimits struct {
	maxResultBytes, maxTempSize  int64
	maxQueries, maxClientQueries int
}

const serveUsage = `Usage: auditlake serve [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE] [--insecure-http]
       [--login-link USER] [--allowed-host NAME]… [--max-rows N] [--query-timeout D]
       [--max-result-bytes SIZE] [--max-temp-size SIZE] [--max-queries N] [--max-client-queries N]
       [--pg-listen HOST:PORT] [--api-region REGION]

Serves the web dashboard (compliance report, instance audit trails, activity dashboards, SQL
editor) and its JSON API (docs/api.md) from the stores in --data. Every request but /healthz
authenticates with an access key (auditlake user create): the API takes Authorization: Bearer
<access key id>:<secret>, the dashboard a login page and a session cookie; failed logins are
rate limited per key id and per address (docs/security.md). --login-link USER prints a link that
logs a browser in as USER once, within 15 minutes. It listens on the loopback address by
default; on any other address it serves HTTPS (--tls-cert, --tls-key, PEM files) and refuses
plain HTTP unless --insecure-http (e.g. behind a TLS-terminating proxy). Requests whose Host header is not the listen address (or,
on loopback, localhost) nor a name given with --allowed-host are refused (421), against DNS
rebinding. A query's result is bounded in bytes (--max-result-bytes, 422 past it) and its spill
files in <data>/tmp (--max-temp-size, shared by all query sessions). At most --max-queries
requests use the engine at once, plus one interactive lane that a request holds for at most 10 s,
so short queries get through while long ones run; a client (remote address) may have at most
--max-client-queries requests running or waiting (429 past it). The same port answers the
CloudTrail Lake API for the AWS CLI and SDKs (--endpoint-url; requests signed with an auditlake
access key for the region --api-region, default us-east-1; docs/aws-api.md); StartQuery's
DeliveryS3Uri results are written to S3 with the server's credentials (--profile, --region,
--endpoint-url) and signed with the delivery key that ListPublicKeys lists. Ctrl-C stops it after the requests in flight finish. With
--pg-listen it also speaks the Postgres wire protocol (psql, Grafana, Metabase, Superset, DBeaver;
user = access key id, password = its secret, SCRAM-SHA-256; TLS required when --tls-cert/--tls-key
are given; docs/postgres.md). It also runs the sources (auditlake source list; see auditlake
help collect) unless --no-collect.`

const serveExamples = `  auditlake serve
  auditlake serve --listen 127.0.0.1:9090 --query-timeout 2m --login-link alice
  auditlake serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --allowed-host audit.example.com
  auditlake serve --pg-listen 127.0.0.1:5432     # psql "host=127.0.0.1 user=ALAK... dbname=auditlake"
  auditlake --data /srv/auditlake serve --listen 0.0.0.0:8080 --insecure-http --allowed-host audit.example.com   # behind a TLS proxy
  aws cloudtrail list-event-data-stores --endpoint-url http://127.0.0.1:8080 --region us-east-1   # with an access key`

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
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key); Postgres clients must use TLS too")
	tlsKey := fs.String("tls-key", "", "the private key of --tls-cert (PEM)")
	insecureHTTP := fs.Bool("insecure-http", false, "allow plain HTTP on a non-loopback address (access keys and cookies cross the network in clear)")
	loginLink := fs.String("login-link", "", "print a one-time login link (15 minutes) for this user")
	var pg pgFlags
	fs.StringVar(&pg.listen, "pg-listen", "", "also serve the Postgres wire protocol on this address (host:port) for psql and BI tools (docs/postgres.md)")
	apiRegion := fs.String("api-region", awsapi.DefaultRegion, "the region CloudTrail Lake API requests must be signed for (aws --region), named in its ARNs")
	deliveryS3 := addS3Flags(fs) // where StartQuery's DeliveryS3Uri results are written
	fs.StringVar(&env.ApprovedConfig, "approved-config", "", "approved launch templates (JSON, as for report launch-compliance) used when a request names none")
	noCollect := fs.Bool("no-collect", false, "do not run the sources (auditlake source list) in this process")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("serve takes no arguments, got %q", pos[0])
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return usagef("--listen %q is not host:port: %v", *listen, err)
	}
	tlsConfig, err := serveTLS(*tlsCert, *tlsKey)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) && tlsConfig == nil && !*insecureHTTP {
		return usagef("--listen %q is not a loopback address: plain HTTP there sends access keys and session cookies in clear; give --tls-cert FILE --tls-key FILE, or --insecure-http behind a TLS-terminating proxy", *listen)
	}
	if *apiRegion == "" || strings.ContainsAny(*apiRegion, "/ :") {
		return usagef("--api-region %q is not a region name", *apiRegion)
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
	pg.tlsCert, pg.tlsKey = *tlsCert, *tlsKey
	if err := pg.check(); err != nil {
		return err
	}
	b, closer, err := newBackend(ctx, env, lim)
	if err != nil {
		return fmt.Errorf("open data directory %q: %w", env.DataDir, err)
	}
	defer closer.Close()
	// One failed-authentication limit for every door: a guesser's failures at one count at all.
	failures := server.NewFailureLimiter(server.Options{})
	failures.Report(auditFailure(b.Audit))
	defer failures.Close() // before the backend's closer commits the audit log's last entries
	if pg.listen != "" {
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		wait, err := startPostgres(ctx, env, b, pg, *timeout, failures)
		if err != nil {
			return err
		}
		// Stop the door before waiting for it: serve may return before ctx ends (the HTTP
		// port taken, a bad login link), and the door ends only when its context does.
		defer func() { stop(); wait() }()
	}
	assets := web.Assets()
	if assets == nil {
		env.Log.Warn("web assets not built: the dashboard shows a notice; run make web and rebuild")
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	// The tables' catch-up runs beside serving; serve returns only once it has stopped (it
	// writes under stores/ while it runs).
	catchUpCtx, stopCatchUp := context.WithCancel(ctx)
	caughtUp := catchUpTables(catchUpCtx, env, lk)
	defer func() { stopCatchUp(); <-caughtUp }()
	// The CloudTrail Lake API (docs/aws-api.md) on the same port, authenticated by SigV4.
	deliveries, err := deliveryOptions(env, deliveryS3)
	if err != nil {
		return err
	}
	aws := awsapi.New(awsapi.Options{Backend: b, Lake: lk, Keys: access.Open(env.DataDir), Log: env.Log, Audit: b.Audit, Region: *apiRegion,
		Queries: awsapi.QueryOptions{MaxRunning: lim.maxQueries, Dir: filepath.Join(lk.Dir, "awsapi", "queries")}, Delivery: deliveries,
		Failures: failures})
	defer aws.Close()
	s := server.New(b, env.Log, withCollection(env, server.Options{Assets: assets, DefaultMaxRows: *maxRows, DefaultTimeout: *timeout, AllowedHosts: allowedHosts,
		Access: accessRegistry(env), TLS: tlsConfig, InsecureHTTP: *insecureHTTP, AWS: aws, Failures: failures}))
	defer startCollection(ctx, env, *noCollect)()
	var link string
	if *loginLink != "" {
		if link, err = s.LoginLink(strings.TrimPrefix(*loginLink, "user:")); err != nil {
			return err
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", *listen, err)
	}
	if link != "" {
		scheme, addr := "http", ln.Addr().(*net.TCPAddr)
		if tlsConfig != nil {
			scheme = "https"
		}
		at := ln.Addr().String()
		if addr.IP.IsUnspecified() {
			at = net.JoinHostPort("127.0.0.1", fmt.Sprint(addr.Port))
		}
		fmt.Fprintf(env.Stdout, "open %s://%s%s to log in as %s (the link works once, within %s)\n", scheme, at, link, *loginLink, server.LoginLinkTTL)
	}
	return s.ServeListener(ctx, ln)
}

// serveTLS loads --tls-cert and --tls-key; nil when neither is given.
func serveTLS(cert, key string) (*tls.Config, error) {
	if cert == "" && key == "" {
		return nil, nil
	}
	if cert == "" || key == "" {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %q and key %q: %w", cert, key, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// deliveryOptions are the CloudTrail Lake API's deliveries (StartQuery's DeliveryS3Uri,
// ListPublicKeys): the data directory's delivery key, created on first use, and S3 access with
// serve's --profile, --region and --endpoint-url.
func deliveryOptions(env *Env, s3 s3Flags) (awsapi.DeliveryOptions, error) {
	signer, err := delivery.LoadOrCreateKey(env.DataDir)
	if err != nil {
		return awsapi.DeliveryOptions{}, err
	}
	st, err := os.Stat(delivery.KeyPath(env.DataDir))
	if err != nil {
		return awsapi.DeliveryOptions{}, fmt.Errorf("delivery key: %w", err)
	}
	return awsapi.DeliveryOptions{Signer: signer, KeyCreated: st.ModTime().UTC(), Client: s3.client()}, nil
}
