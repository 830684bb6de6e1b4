package alerts

import (
	"context"
	"testing"

	"github.com/auditlake/auditlake/internal/lake"
)

// Kept is what a Watcher keeps between its evaluations.
type Kept = kept

// ProcessKept is the Watcher's evaluation: Process with what k kept from the last one.
func ProcessKept(ctx context.Context, lk *lake.Lake, st lake.Store, k *Kept) (Result, error) {
	return process(ctx, lk, st, nil, k)
}

// Close closes what k keeps.
func (k *kept) Close() { k.close() }

// EvaluateNow runs one evaluation of w in the caller's goroutine (as its loop does after a
// commit), for a test that calls neither Notify nor Hook's AfterCommit.
func (w *Watcher) EvaluateNow(ctx context.Context) { w.run(ctx) }

// GroupFilesRead is how many files of the alerts store k's evaluations read for their groups.
func (k *kept) GroupFilesRead() int {
	if k.groups == nil {
		return 0
	}
	return k.groups.filesRead
}

// Pending is how many data files' Go verdicts w keeps for the evaluation of their commit, and
// how many files' EC2 lifecycle facts it keeps.
func (w *Watcher) Pending() (verdicts, facts int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.keep.facts != nil {
		facts = w.keep.facts.Len()
	}
	return len(w.pre), facts
}

// Sessions is how many times w's evaluations opened or refreshed a query session.
func (w *Watcher) Sessions() int { return w.keep.sessions }

// SetSmallFilesPerDay makes a day of the alerts store merge past n small files until the test
// ends.
func SetSmallFilesPerDay(t testing.TB, n int) {
	old := smallFilesPerDay
	smallFilesPerDay = n
	t.Cleanup(func() { smallFilesPerDay = old })
}

// FileCaches says, of the session and the commit engine k keeps (when open), whether either
// has DuckDB's Parquet footer cache or file content cache on, and how many of them are open.
func (k *kept) FileCaches(ctx context.Context) (on bool, open int, err error) {
	const q = "SELECT current_setting('parquet_metadata_cache') OR current_setting('enable_external_file_cache')"
	if k.s != nil {
		res, err := k.s.RunInternal(ctx, q)
		if err != nil {
			return false, 0, err
		}
		on, open = res.Rows[0][0] == true, open+1
	}
	if k.db != nil {
		var c bool
		if err := k.db.QueryRow(ctx, q).Scan(&c); err != nil {
			return false, 0, err
		}
		on, open = on || c, open+1
	}
	return on, open, nil
}
