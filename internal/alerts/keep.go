package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
)

// kept is what a Watcher keeps from one evaluation to the next, so that each pays only for
// its batch: the query session (refreshed before an evaluation that needs SQL — one whose
// rules are all judged in Go opens none — its read locks released after it:
// query.Session.Refresh), the engine the alerts' commit checks them against the
// store with, and the alert groups the alerts store is known to hold (the notifications'
// lookup). Process keeps nothing: it opens what it needs, as before.
type kept struct {
	s      *query.Session
	db     *engine.DB
	groups *groupCache
	// keys index the alert records this process committed (lake.Writer.Keys): each commit's
	// dedupe takes them as its own writer's, rather than reading the store's files back.
	keys *lake.Keys
	// facts, a Watcher's, are the store's EC2 lifecycle facts (rules.Target.Facts); nil in
	// Process: launch-compliance runs the report's SQL.
	facts *rules.FactsCache
	// sessions counts the sessions opened or refreshed for an evaluation (tests).
	sessions int
}

// session returns the kept session brought up to date, or a new one.
func (k *kept) session(ctx context.Context, lk *lake.Lake) (*query.Session, error) {
	k.sessions++
	if k.s != nil {
		if err := k.s.Refresh(ctx); err == nil {
			return k.s, nil
		}
		k.s.Close()
		k.s = nil
	}
	s, err := query.Open(ctx, lk, query.Options{ReadsOnce: true}) // kept for the watcher's life
	if err != nil {
		return nil, err
	}
	k.s = s
	return s, nil
}

// commitEngine returns the kept engine of commitRecords, opening it on first use.
func (k *kept) commitEngine(ctx context.Context, lk *lake.Lake) (*engine.DB, error) {
	if k.db == nil {
		db, err := openCommitEngine(ctx, lk)
		if err != nil {
			return nil, err
		}
		k.db = db
	}
	return k.db, nil
}

// failed drops what an evaluation that failed may have left in a bad state.
func (k *kept) failed() {
	k.close()
	k.groups, k.keys = nil, nil
}

func (k *kept) close() {
	if k.s != nil {
		k.s.Close()
		k.s = nil
	}
	if k.db != nil {
		k.db.Close()
		k.db = nil
	}
}

// groupCache holds alert groups the alerts store is known to hold: every group of the files it
// has read (loaded) and of the files this Watcher committed. Valid while the store keeps every
// file it had when the cache last saw it (a file gone — compaction, retention, a purge — may
// take groups with it: the cache starts again). An evaluation reads only the files it needs
// that the cache has not read or written — in a load of new events, none: each commit's
// alerts are in the files the Watcher committed — where it read the time range again each
// time the batches' range moved on (a query per evaluation).
type groupCache struct {
	store  string          // the alerts store's id
	known  map[string]bool // group ids
	loaded map[string]bool // the store's files whose every group is in known
	files  map[string]bool // the store's files the cache has seen
	// filesRead counts the files read from the store (tests).
	filesRead int
}

// maxKnownGroups bounds the cache: past it, it starts again (and reads what it needs).
const maxKnownGroups = 1 << 20

// groupsOf is the query of the groups of the alert records of relation rel. An alert
// record's group is its sharedEventID (requestParameters.group before).
func groupsOf(rel string) string {
	return "SELECT DISTINCT sharedeventid FROM " + rel + " AS a WHERE eventsource = ? AND eventname = 'Alert' AND sharedeventid IS NOT NULL" +
		" UNION SELECT DISTINCT requestparameters['group'] FROM " + rel + " AS a WHERE eventsource = ? AND eventname = 'Alert' AND sharedeventid IS NULL AND requestparameters['group'] IS NOT NULL"
}

// load reads into c the groups of the alert records of relation rel.
func (c *groupCache) load(ctx context.Context, s *query.Session, rel string) error {
	res, err := s.RunInternal(ctx, groupsOf(rel), EventSource, EventSource)
	if err != nil {
		return err
	}
	for _, r := range res.Rows {
		c.known[fmt.Sprint(r[0])] = true
	}
	return nil
}

// knownIn returns groups the alerts store holds, among them all those of alerts with event
// times in [from, to] (a group's records are within its window, at most 7 days, of each of its
// alerts): it reads the store's files that overlap that span and that the cache has neither
// read nor committed, in the session open gives (none is opened when there are none). A
// damaged alerts store holds no group known (nil).
func (c *groupCache) knownIn(ctx context.Context, open rules.Opener, lk *lake.Lake, alertStore lake.Store, from, to time.Time) (map[string]bool, error) {
	from, to = from.Add(-7*24*time.Hour), to.Add(7*24*time.Hour+time.Microsecond)
	m, release, err := lk.Snapshot(alertStore.ID)
	if errors.Is(err, lake.ErrDamaged) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer release()
	now := map[string]bool{}
	for _, f := range m.Files {
		now[f.Path] = true
	}
	reset := c.store != alertStore.ID || len(c.known) > maxKnownGroups
	for p := range c.files {
		if !now[p] {
			reset = true
		}
	}
	if reset {
		*c = groupCache{store: alertStore.ID, known: map[string]bool{}, loaded: map[string]bool{}, filesRead: c.filesRead}
	}
	var read []lake.DataFile
	for _, f := range m.Files {
		overlaps := f.MinTime.IsZero() || f.MaxTime.IsZero() || (f.MinTime.Before(to) && !f.MaxTime.Before(from))
		if !c.loaded[f.Path] && overlaps {
			read = append(read, f)
		}
	}
	if len(read) > 0 {
		s, err := open()
		if err != nil {
			return nil, err
		}
		if s.Damaged(alertStore.ID) != nil {
			return nil, nil
		}
		if err := c.load(ctx, s, s.FilesRelation(alertStore.ID, read)); err != nil {
			return nil, err
		}
		for _, f := range read {
			c.loaded[f.Path] = true
		}
		c.filesRead += len(read)
	}
	c.files = now
	return c.known, nil
}

// committed adds the groups of alerts just committed to the store in the files of cm: those
// the records went to, and those merged from others (gone). A merged file counts as read when
// every file it replaces was (they hold the same records), else it is read when an alert's
// span overlaps it; either way the cache is not reset for the files gone.
func (c *groupCache) committed(alerts []Alert, cm committed) {
	if c.known == nil { // not read (a damaged alerts store): nothing to add to
		return
	}
	for _, a := range alerts {
		c.known[a.Group] = true
	}
	for _, f := range cm.files {
		c.files[f.Path], c.loaded[f.Path] = true, true
	}
	read := true
	for _, p := range cm.gone {
		read = read && c.loaded[p]
		delete(c.files, p)
		delete(c.loaded, p)
	}
	for _, f := range cm.merged {
		c.files[f.Path], c.loaded[f.Path] = true, read
	}
}
