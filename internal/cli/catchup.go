package cli

import (
	"context"
	"errors"

	"github.com/auditlake/auditlake/internal/lake"
)

// catchUpTables brings every store's Iceberg table up to its store, one store at a time under its
// write lock, in the background: serve and collect run it as they start, so that a table a crash
// left behind (killed between the store's commit and the table's) catches up at the next start,
// not only at the store's next commit or with catalog sync. It returns at once; done is closed
// when it has finished (or ctx ended). A store that cannot be written now (damaged, or ctx
// ended while waiting for its lock) is skipped: its next commit catches it up.
func catchUpTables(ctx context.Context, env *Env, lk *lake.Lake) (done <-chan struct{}) {
	ch := make(chan struct{})
	if lk.Hooks == nil || lk.Hooks.Committed == nil {
		close(ch)
		return ch
	}
	go func() {
		defer close(ch)
		stores, err := lk.Stores()
		if err != nil {
			env.Log.Warn("iceberg tables not caught up at start", "err", err)
			return
		}
		for _, st := range stores {
			if ctx.Err() != nil {
				return
			}
			w, err := lk.BeginWrite(st.ID)
			if err != nil {
				if !errors.Is(err, lake.ErrDamaged) {
					env.Log.Warn("iceberg table not caught up at start", "store", st.Name, "err", err)
				}
				continue
			}
			w.Follow()
			w.Close()
		}
	}()
	return ch
}
