package cli

import (
	"context"
	"sync"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/collect"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
)

// collectAlerts evaluates the enabled detection rules over every commit a collector makes
// (collect, and serve's collection), as ingest does (watchAlerts): one alerts.Watcher per
// CloudTrail store, made before the first ingest into the store that finds a rule enabled —
// before that ingest's commits, so that only what came before is taken as evaluated the first
// time the store is watched — and kept for the process's life. Other store types are not
// evaluated: the rules are written over CloudTrail's columns (docs/detections.md).
type collectAlerts struct {
	ctx context.Context
	env *Env
	lk  *lake.Lake

	mu       sync.Mutex
	watchers map[string]*alerts.Watcher
	finish   []func()
}

func newCollectAlerts(ctx context.Context, env *Env, lk *lake.Lake) *collectAlerts {
	return &collectAlerts{ctx: ctx, env: env, lk: lk, watchers: map[string]*alerts.Watcher{}}
}

// options adds the alerts' hook to a collector's options.
func (a *collectAlerts) options(o collect.Options) collect.Options {
	o.Watch = a.watch
	return o
}

// watch is collect.Options.Watch: the store's watcher's hooks (alerts.Watcher.Hook, the same
// Go evaluation as ingest's), none when no rule is enabled (or st is not a CloudTrail store).
func (a *collectAlerts) watch(st lake.Store, o *ingest.Options) {
	if w := a.watcher(st); w != nil {
		w.Hook(o)
	}
}

func (a *collectAlerts) watcher(st lake.Store) *alerts.Watcher {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := a.watchers[st.ID]; w != nil {
		return w
	}
	w, finish := watchAlerts(a.ctx, a.env, a.lk, st)
	if w == nil {
		return nil
	}
	// Set before the first Notify, so before the watcher's first evaluation reads it.
	deliver := w.OnAlerts
	w.OnAlerts = func(new []alerts.Alert) {
		a.env.Log.Info("alerts", "store", st.Name, "new", len(new))
		if deliver != nil {
			deliver(new)
		}
	}
	a.watchers[st.ID] = w
	a.finish = append(a.finish, finish)
	return w
}

// resume evaluates, when collection starts, what an earlier process committed to the sources'
// stores and did not evaluate (it stopped or crashed between a commit and its evaluation): the
// cursor lists what was evaluated, so nothing is skipped, and alerts already stored are not
// stored or sent again.
func (a *collectAlerts) resume(reg *collect.Registry) {
	srcs, err := reg.List()
	if err != nil {
		a.env.Log.Warn("alerts: read sources", "err", err)
		return
	}
	for _, s := range srcs {
		if s.Type != collect.TypeCloudTrail || s.StoreID == "" {
			continue
		}
		st, err := a.lk.Resolve(s.StoreID)
		if err != nil {
			continue // the source reports its store's absence when it runs
		}
		if w := a.watcher(st); w != nil {
			w.Notify()
		}
	}
}

// close waits for the evaluations notified so far and prints what they found.
func (a *collectAlerts) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range a.finish {
		f()
	}
	a.finish, a.watchers = nil, map[string]*alerts.Watcher{}
}
