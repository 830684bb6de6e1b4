package iceberg

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/apache/iceberg-go/catalog"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/lake"
)

// SyncError is the last failed sync of a store's table (a catalog that refused or failed the
// commit): the store's commit stood, the table is behind until a sync succeeds. eds show prints
// it; the next successful sync (a commit's, or catalog sync) clears it.
type SyncError struct {
	Error string    `json:"error"`
	At    time.Time `json:"at"`
}

func statusPath(dataDir string) string { return filepath.Join(dataDir, "iceberg", "status.json") }

// RecordSync keeps the outcome of a sync of store id's table: err, or nil for a success.
func RecordSync(dataDir, id string, err error) error {
	if err == nil {
		// Nothing to clear when this store's last sync did not fail: a success costs a read.
		if _, failed := LastSyncError(dataDir, id); !failed {
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(statusPath(dataDir)), 0o755); err != nil {
		return err
	}
	return atomicfile.UpdateJSON(statusPath(dataDir), statusPath(dataDir)+".lock", func(m *map[string]SyncError) error {
		if *m == nil {
			*m = map[string]SyncError{}
		}
		if err == nil {
			delete(*m, id)
		} else {
			(*m)[id] = SyncError{Error: err.Error(), At: time.Now().UTC()}
		}
		return nil
	})
}

// forgetSyncs forgets the failed syncs kept under the ids gone reports (when there are any).
func forgetSyncs(dataDir string, gone func(id string) bool) error {
	var m map[string]SyncError
	if err := atomicfile.ReadJSON(statusPath(dataDir), &m); err != nil {
		return err
	}
	if !slices.ContainsFunc(slices.Collect(maps.Keys(m)), gone) {
		return nil
	}
	return atomicfile.UpdateJSON(statusPath(dataDir), statusPath(dataDir)+".lock", func(m *map[string]SyncError) error {
		maps.DeleteFunc(*m, func(id string, _ SyncError) bool { return gone(id) })
		return nil
	})
}

// LastSyncError is the last failed sync of store id's table, when the table is behind.
func LastSyncError(dataDir, id string) (SyncError, bool) {
	var m map[string]SyncError
	if err := atomicfile.ReadJSON(statusPath(dataDir), &m); err != nil {
		return SyncError{}, false
	}
	e, ok := m[id]
	return e, ok
}

// recordSyncs makes h record every sync's outcome (RecordSync).
func recordSyncs(dataDir string, h *lake.Hooks) {
	committed := h.Committed
	h.Committed = func(id string) error {
		err := committed(id)
		if rerr := RecordSync(dataDir, id, err); rerr != nil && err == nil {
			err = rerr
		}
		return err
	}
}

// SyncStore is Sync with its outcome recorded (RecordSync): what catalog sync runs.
func SyncStore(ctx context.Context, cat catalog.Catalog, lk *lake.Lake, st lake.Store) (Result, error) {
	res, err := Sync(ctx, cat, lk, st)
	if rerr := RecordSync(lk.Dir, st.ID, err); rerr != nil && err == nil {
		err = rerr
	}
	return res, err
}

// followInBackground makes h follow each commit in the background instead of in the committing
// goroutine: the store's next batch is committed while its table catches up (a published
// store's sync waits for uploads and writes the table's metadata to S3, which would otherwise
// hold up every commit of an ingest). One goroutine per store syncs at a time, so snapshots still
// come in commit order; the commits made while a sync runs are caught up by the next one, in one
// snapshot. Writer.Close waits for it (lake.Hooks.Idle), so the follow still happens under the
// store's write lock and before the command that committed returns; a crash before it leaves the
// table behind, as a crash between the two commits always could (caught up at the next commit
// or by catalog sync). A sync's error is reported unless a newer commit's sync follows it.
//
// While commits keep coming, a store's syncs start at most once per followInterval: each sync
// loads the table and writes its metadata again (both grow with its snapshots) whatever it
// adds, so the commits of an ingest are caught up a second's worth at a time, not one or two
// each. Writer.Close does not wait for the interval (Idle hurries the follower).
func followInBackground(h *lake.Hooks) {
	follow := h.Committed
	type store struct {
		running, again bool
		idle           chan struct{}
		hurry          chan struct{} // closed by Idle: no more waiting for the interval
		hurried        bool
	}
	var (
		mu     sync.Mutex
		stores = map[string]*store{}
	)
	// more reports whether a commit came during the sync that just ended; when not, the store's
	// follower ends.
	more := func(s *store) bool {
		mu.Lock()
		defer mu.Unlock()
		if s.again {
			s.again = false
			return true
		}
		s.running = false
		close(s.idle)
		return false
	}
	h.Committed = func(id string) error {
		mu.Lock()
		defer mu.Unlock()
		s := stores[id]
		if s == nil {
			s = &store{}
			stores[id] = s
		}
		if s.running {
			s.again = true
			return nil
		}
		s.running, s.idle = true, make(chan struct{})
		s.hurry, s.hurried = make(chan struct{}), false
		hurry := s.hurry
		go func() {
			for {
				start := time.Now()
				err := follow(id)
				mu.Lock()
				superseded := s.again
				mu.Unlock()
				if err != nil && !superseded && h.OnError != nil {
					h.OnError(err)
				}
				if !more(s) {
					return
				}
				if wait := followInterval - time.Since(start); wait > 0 {
					t := time.NewTimer(wait)
					select {
					case <-t.C:
					case <-hurry:
						t.Stop()
					}
				}
			}
		}()
		return nil
	}
	h.Idle = func(id string) {
		mu.Lock()
		var idle chan struct{}
		if s := stores[id]; s != nil && s.running {
			idle = s.idle
			if !s.hurried {
				s.hurried = true
				close(s.hurry)
			}
		}
		mu.Unlock()
		if idle != nil {
			<-idle
		}
	}
}

// followInterval is how often at most a store's syncs start while its commits keep coming
// (followInBackground).
const followInterval = time.Second

// costStatusID is the key status.json keeps the last failed sync of cost table name's Iceberg
// table under (store ids never hold a ":").
func costStatusID(name string) string { return "cost:" + name }

// LastCostSyncError is the last failed sync of cost table name's Iceberg table (DATABASE.TABLE),
// while it is behind the registry: cur show prints it; the next complete sync of that table (a
// command that attaches the catalog, cur register, catalog sync) clears it.
func LastCostSyncError(dataDir, name string) (SyncError, bool) {
	return LastSyncError(dataDir, costStatusID(name))
}

// RecordCostsFailed records err as the last failed sync of every registered cost table's
// Iceberg table: what a command does when it cannot open the catalog to follow the registry.
func RecordCostsFailed(dataDir string, err error) error {
	tables, err2 := cost.Tables(dataDir)
	if err2 != nil {
		return err2
	}
	var errs []error
	for _, t := range tables {
		errs = append(errs, RecordSync(dataDir, costStatusID(t.Name()), err))
	}
	return errors.Join(errs...)
}
