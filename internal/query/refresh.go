package query

import (
	"context"
	"errors"

	"github.com/auditlake/auditlake/internal/engine"
)

// ErrNotRefreshable is Refresh's error for a session it cannot bring up to date: open a new one.
var ErrNotRefreshable = errors.New("query: session cannot be refreshed")

// Refresh makes an open session read the lake as committed now, as a new session would: every
// store's view is made again over its current files, under a new read lock, and the locks
// taken by Open (or the last Refresh) are released. A session kept across commits (the
// alerts' Watcher evaluates each commit's batch) so pays for one engine, not one per use, and
// holds no store's read lock between uses longer than a new session would (call Refresh
// before each use, and Release after it, so that retired files can be deleted meanwhile).
// The engine's settings, the sandbox and the cost tables stay as Open made them. A session
// restricted to a principal's grants, or one with stores kept on S3 only, is not refreshed
// (ErrNotRefreshable): its views are made by restrict and fetchRemote.
func (s *Session) Refresh(ctx context.Context) error {
	if (s.opts.Principal != nil && !s.opts.Principal.Admin) || len(s.remote) > 0 {
		return ErrNotRefreshable
	}
	s.releaseFetched()
	for _, st := range s.Stores {
		if storeDDL(st) == "" {
			continue
		}
		id := engine.Ident(Schema) + "." + engine.Ident(st.ID)
		kind := "VIEW" // a store with files, or a damaged one (a view over a dropped table)
		if m := s.manifests[st.ID]; s.damaged[st.ID] == nil && m != nil && len(m.Files) == 0 {
			kind = "TABLE" // an empty store
		}
		for _, q := range []string{"DROP VIEW IF EXISTS " + engine.Ident(Schema) + "." + engine.Ident(st.Name), "DROP " + kind + " IF EXISTS " + id} {
			if err := s.db.Exec(ctx, q); err != nil {
				return errors.Join(ErrNotRefreshable, err)
			}
		}
	}
	s.Release()
	if err := s.registerStores(ctx); err != nil {
		return errors.Join(ErrNotRefreshable, err)
	}
	if len(s.remote) > 0 { // a store's files were moved to S3 meanwhile
		return ErrNotRefreshable
	}
	return nil
}

// Release releases the stores' read locks the session holds (Open's or Refresh's) until the
// next Refresh; the session must not read a store before that.
func (s *Session) Release() {
	s.releaseFetched()
	for _, r := range s.release {
		r()
	}
	s.release = nil
}
