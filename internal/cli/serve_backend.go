package cli

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// auditFlushEvery is how often serve commits the audit log's buffered records.
const auditFlushEvery = time.Second

// newBackend opens the engine behind the HTTP API for env.DataDir, with its audit log: every
// query and report is recorded, and committed every auditFlushEvery and once more when the
// returned Closer is closed (after the server stopped, so the last requests are in).
func newBackend(ctx context.Context, env *Env, lim serveLimits) (*app.Backend, io.Closer, error) {
	lk, err := openLake(env)
	if err != nil {
		return nil, nil, err
	}
	b := app.New(lk, app.Options{MaxQueries: lim.maxQueries, MaxClientQueries: lim.maxClientQueries,
		Query: query.Options{MaxResultBytes: lim.maxResultBytes, MaxTempSize: lim.maxTempSize}})
	if env.ApprovedConfig != "" {
		cfg, err := compliance.LoadConfig(env.ApprovedConfig)
		if err != nil {
			return nil, nil, err
		}
		b.DefaultApprovals = cfg.Approvals
	}
	b.Audit = auditlog.Open(lk)
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		b.Audit.Run(runCtx, auditFlushEvery, func(err error) { env.Log.Error("audit log: commit", "err", err) })
	}()
	rctx, stopRetention := context.WithCancel(ctx)
	go func() { defer wg.Done(); enforceRetention(rctx, env, lk, 24*time.Hour) }()
	return b, closerFunc(func() error {
		stopRetention()
		stop()
		wg.Wait()
		return b.Close()
	}), nil
}

// closerFunc is a function as an io.Closer.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// enforceRetention purges every store at once and then every interval until ctx ends.
func enforceRetention(ctx context.Context, env *Env, lk *lake.Lake, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		stores, err := lk.Stores()
		if err != nil {
			env.Log.Error("retention: list stores", "err", err)
		}
		for _, s := range stores {
			res, err := purgeStore(ctx, lk, s)
			if err != nil {
				env.Log.Error("retention: purge", "store", s.Name, "err", err)
				continue
			}
			if res.Events > 0 {
				env.Log.Info("retention: purged", "store", s.Name, "events", res.Events, "cutoff", res.Cutoff)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
