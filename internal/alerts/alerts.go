// Package alerts evaluates the enabled detection rules over the events each commit adds to a
// CloudTrail store, and keeps what they find in the built-in store auditlake-alerts, at most
// once per event and rule — also across a crash and restart.
//
// How nothing is sent twice or skipped: a cursor (<data>/alerts/cursor-<store id>.json) lists
// the store's data files already evaluated. After each commit, every live file not in the
// cursor is evaluated (the new batch, and whatever a crash left unevaluated), the alerts are
// committed, and only then is the cursor advanced. An alert's id is derived from its rule and
// event (and instance), so evaluating a file again — after a crash between the alert commit
// and the cursor, or when compaction rewrote evaluated events into a new file — finds the
// alert already stored and adds nothing. The first time a store is watched its files so far
// are taken as evaluated: history is for auditlake hunt.
package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
)

// StoreName is the built-in store of alerts.
const StoreName = lake.AlertsStore

// EventSource is the eventsource of every alert record.
const EventSource = "auditlake.alerts"

// account stands for the lake in an alert's recipientAccountId (the matched event's account is
// in its requestParameters): alerts are deduplicated on their id alone.
const account = "000000000000"

// Alert is one stored alert.
type Alert struct {
	ID        string    `json:"id"`
	Rule      string    `json:"rule"`
	Title     string    `json:"title"`
	Severity  string    `json:"severity"`
	Store     string    `json:"store"`
	EventTime time.Time `json:"event_time"`
	EventIDs  []string  `json:"event_ids"`
	Principal string    `json:"principal"`
	Account   string    `json:"account"`
	Region    string    `json:"region"`
	Summary   string    `json:"summary"`
	Status    string    `json:"status"`
	AlertedAt time.Time `json:"alerted_at"`
	// Resource is what the match is about when one event matches more than once (the
	// instance of a launch-compliance match).
	Resource string `json:"resource"`
	// Group is the alert the match is counted in (grouping: one per rule, key and window);
	// Count, in a notification, the events of the group it stands for. No key is omitempty:
	// the webhook body (webhookBody) is this JSON and carries every key, empty or not.
	Group string `json:"group"`
	Count int    `json:"count"`
	// idsJSON is EventIDs' JSON array when the evaluation made it with them
	// (rules.MatchGroup.IDsJSON, EventIDs its substrings): the record copies it whole.
	idsJSON string
}

// Store returns the alerts store, creating it (termination protection on) on first use.
func Store(lk *lake.Lake) (lake.Store, error) {
	return lk.BuiltinStore(StoreName)
}

type cursor struct {
	Files []string `json:"files"`
	// Format is cursorFormat in a cursor Process or Begin wrote; 0 in one written otherwise (by
	// an older version, or by hand): then no file it does not list is known to be new, and each
	// is evaluated against the stored alerts.
	Format int `json:"format,omitempty"`
	// Inflight is the evaluation whose alerts were being committed when the cursor was last
	// written: its files count as evaluated once the alerts store holds its marker record
	// (eventName AlertsEvaluated, eventID Token, on Date), which is committed with its alerts.
	Inflight *inflight `json:"inflight,omitempty"`
}

// cursorFormat is the cursor's Format.
const cursorFormat = 2

type inflight struct {
	Token string   `json:"token"`
	Date  string   `json:"date"`
	Files []string `json:"files"`
}

func cursorPath(lk *lake.Lake, storeID string) string {
	return filepath.Join(lk.Dir, "alerts", "cursor-"+storeID+".json")
}

// Begin starts watching store st: the first time, its live files are taken as evaluated. Call
// it before the first commit of a run.
func Begin(lk *lake.Lake, st lake.Store) error {
	p := cursorPath(lk, st.ID)
	if _, err := os.Stat(p); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	m, release, err := lk.Snapshot(st.ID)
	if err != nil {
		return err
	}
	defer release()
	return saveCursor(lk, st.ID, cursor{Files: filePaths(m.Files), Format: cursorFormat})
}

func filePaths(fs []lake.DataFile) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func saveCursor(lk *lake.Lake, storeID string, c cursor) error {
	if c.Files == nil {
		c.Files = []string{}
	}
	p := cursorPath(lk, storeID)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return atomicfile.Write(p, data)
}

// Result is what one Process did.
type Result struct {
	Files    int     // data files evaluated
	Rules    int     // enabled rules run
	New      []Alert // alerts stored by this run: one per rule and group (Count its events)
	Notified []Alert // the notifications queued for the targets: one per new group
	// Alerts and Notifications count New and Notified — and are all a Watcher's Close
	// returns of them unless it keeps them (Watcher.KeepAlerts).
	Alerts, Notifications int
	NotifyErr             error // why Notified could not be queued, if so
	Matched               int   // events matched (and rule) and stored by this run
	// FromGo is the files evaluated from the Go verdicts on their records taken as they were
	// written (Watcher.Written), not read back in SQL.
	FromGo    int
	Known     int // files whose events may have been evaluated before (compaction), evaluated against the stored alerts
	Evaluated time.Duration
	// Failed is the rules that could not be evaluated over these files (the others were):
	// their failure is kept with each rule (rules.Rule.LastFailure).
	Failed rules.RuleErrors
	// done is the files this run evaluated (their Go verdicts, if any, are used up).
	done []string
}

// Process evaluates every enabled rule over the live files of store st that the cursor does
// not list, stores the alerts not stored yet, and advances the cursor.
//
// Nothing twice, nothing skipped: the files a commit adds are new events, evaluated as they
// are; the alerts found are committed in one commit with a marker record, whose token the
// cursor names (Inflight) before that commit, and the cursor lists the files after it — so a
// crash in between is resolved by looking the marker up. A file that replaces evaluated files
// (compaction, a cold rewrite: a file the cursor lists is gone, and a new one has the same
// date) may hold events already evaluated, and so may every file a cursor not written here
// (Format 0: an older version's, or one reset by hand) does not list: their matches are
// checked against the event ids the alerts store holds for the rule, and only the others are
// stored.
func Process(ctx context.Context, lk *lake.Lake, st lake.Store) (Result, error) {
	k := &kept{}
	defer k.close()
	return process(ctx, lk, st, nil, k)
}

// process is Process, with pre the Go evaluation of the records of some of the files, by path
// (rules.GoEval, Watcher.Written): a new file with one is evaluated from it, and read in SQL
// only for what it leaves to the engine. A file whose events may have been evaluated before
// (compaction) is always evaluated in SQL against the stored alerts. k holds the session, the
// commit's engine and the known alert groups kept between evaluations (a Watcher's).
func process(ctx context.Context, lk *lake.Lake, st lake.Store, pre map[string]*rules.GoResult, k *kept) (Result, error) {
	start := time.Now()
	var res Result
	unlock, err := atomicfile.Lock(cursorPath(lk, st.ID)+".lock", syscall.LOCK_EX)
	if err != nil {
		return res, err
	}
	defer unlock()
	var c cursor
	if err := atomicfile.ReadJSON(cursorPath(lk, st.ID), &c); err != nil {
		return res, err
	}
	m, release, err := lk.Snapshot(st.ID)
	if err != nil {
		return res, err
	}
	defer release()
	evaluated := map[string]bool{}
	for _, p := range c.Files {
		evaluated[p] = true
	}
	if c.Inflight != nil {
		done, err := markerStored(ctx, lk, *c.Inflight)
		if err != nil {
			return res, err
		}
		if done {
			for _, p := range c.Inflight.Files {
				evaluated[p] = true
			}
		}
	}
	live := map[string]bool{}
	for _, f := range m.Files {
		live[f.Path] = true
	}
	replaced := map[string]bool{} // dates of evaluated files no longer live
	var gone []string             // those files
	for p := range evaluated {
		if !live[p] {
			replaced[dateOf(p)] = true
			gone = append(gone, p)
		}
	}
	var fresh, again []lake.DataFile
	for _, f := range m.Files {
		switch {
		case evaluated[f.Path]:
		case replaced[f.Date] || c.Format != cursorFormat:
			again = append(again, f)
		default:
			fresh = append(fresh, f)
		}
	}
	if len(fresh)+len(again) == 0 {
		if c.Inflight != nil {
			return res, saveCursor(lk, st.ID, cursor{Files: filePaths(m.Files), Format: cursorFormat})
		}
		return res, nil
	}
	all, err := rules.List(lk)
	if err != nil {
		return res, err
	}
	var enabled []rules.Rule
	var groupings []rules.Grouping
	byRule := map[string]rules.Rule{}
	for _, r := range all {
		if r.Enabled {
			enabled = append(enabled, r)
			byRule[r.ID] = r
			by, window, err := grouping(r)
			if err != nil {
				by, window, _ = grouping(rules.Rule{})
			}
			groupings = append(groupings, rules.Grouping{Key: by, Window: window})
		}
	}
	res.Files, res.Rules, res.Known = len(fresh)+len(again), len(enabled), len(again)
	for _, f := range slices.Concat(fresh, again) {
		res.done = append(res.done, f.Path)
	}
	if len(enabled) > 0 {
		alertStore, err := Store(lk)
		if err != nil {
			return res, err
		}
		// The session is opened (or refreshed: every store's view made again) only if some
		// SQL is needed: in a load of new events every rule is judged in Go from the verdicts
		// taken as the files were written, and none is.
		var s *query.Session
		var sessErr error
		open := func() (*query.Session, error) {
			if s == nil && sessErr == nil {
				s, sessErr = k.session(ctx, lk)
			}
			return s, sessErr
		}
		defer func() {
			if s != nil {
				s.Release() // no read lock held between evaluations
			}
		}()
		if k.groups == nil {
			k.groups = &groupCache{}
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		var found []Alert
		var inGo, inSQL []lake.DataFile
		goRes := rules.NewGoResult()
		for _, f := range fresh {
			if r := pre[f.Path]; r != nil {
				inGo = append(inGo, f)
				goRes.Merge(r)
				res.FromGo++
			} else {
				inSQL = append(inSQL, f)
			}
		}
		for _, part := range []struct {
			files []lake.DataFile
			again bool
			goRes *rules.GoResult
		}{{inGo, false, goRes}, {inSQL, false, nil}, {again, true, nil}} {
			if len(part.files) == 0 {
				continue
			}
			// launch-compliance is judged from the facts the watcher keeps, of the files of
			// this evaluation's snapshot, on every path.
			target := rules.Target{Store: st, Files: part.files, Facts: k.facts, Live: m}
			var groups [][]rules.MatchGroup
			if part.goRes != nil {
				groups, err = rules.EvaluateGroupedWith(ctx, open, enabled, groupings, target, part.goRes)
			} else {
				if _, err := open(); err != nil {
					return res, err
				}
				exclude := ""
				if part.again {
					exclude = evaluatedBefore(s, lk, st, alertStore, part.files, gone)
				}
				groups, err = rules.EvaluateGrouped(ctx, s, enabled, groupings, target, exclude)
			}
			if sessErr != nil { // not the rules': the files stay pending
				return res, sessErr
			}
			if err != nil {
				re, ok := rules.AsRuleErrors(err)
				if !ok {
					return res, err
				}
				if res.Failed == nil {
					res.Failed = rules.RuleErrors{}
				}
				maps.Copy(res.Failed, re)
			}
			for i, gs := range groups {
				for _, g := range gs {
					found = append(found, groupAlerts(st, g, groupings[i], now)...)
				}
			}
		}
		if len(res.Failed) > 0 {
			if len(res.Failed) == len(enabled) {
				// Every rule failed: the cause is the batch or the lake, not a rule. The
				// files stay pending, evaluated again by the next run.
				err := error(res.Failed)
				res.Failed = nil
				return res, err
			}
			// The other rules' alerts are stored; the failed rules' matches in these files
			// are not, and the failure is kept with each rule (rule show, rule list) with
			// the events it did not evaluate, for a hunt once the cause is gone.
			if err := rules.RecordFailures(lk, st, res.Failed, append(slices.Clone(fresh), again...), time.Now()); err != nil {
				return res, err
			}
		}
		for _, a := range found {
			res.Matched += len(a.EventIDs)
		}
		assignGroups(st, found, byRule)
		notes, err := notifications(ctx, open, lk, alertStore, found, k.groups)
		if err != nil {
			return res, err
		}
		// Queued before the alerts are committed: a crash in between evaluates the batch
		// again, and the queue takes a notification it holds or delivered only once. A queue
		// that cannot be written (a broken file) loses the notifications, not the alerts.
		if err := Enqueue(lk, notes, now); err != nil {
			res.NotifyErr = fmt.Errorf("alerts: %d notifications not queued (the alerts are stored): %w", len(notes), err)
		}
		if len(found) > 0 {
			// The marker has the time of the files' first event, so that retention takes it
			// with their alerts.
			var first time.Time
			fl := inflight{Token: lake.NewUUID()}
			for _, f := range slices.Concat(fresh, again) {
				fl.Files = append(fl.Files, f.Path)
				if first.IsZero() || (!f.MinTime.IsZero() && f.MinTime.Before(first)) {
					first = f.MinTime
				}
			}
			if first.IsZero() {
				first = now
			}
			first = first.UTC()
			fl.Date = first.Format(time.DateOnly)
			done := make([]string, 0, len(evaluated))
			for p := range evaluated {
				done = append(done, p)
			}
			slices.Sort(done)
			if err := saveCursor(lk, st.ID, cursor{Files: done, Format: c.Format, Inflight: &fl}); err != nil {
				return res, err
			}
			specs := make([]recordSpec, 0, len(found)+1)
			for _, a := range found {
				specs = append(specs, alertSpec(a))
			}
			specs = append(specs, markerSpec(st, fl, first))
			db, err := k.commitEngine(ctx, lk)
			if err != nil {
				return res, err
			}
			// The event ids are cut out of the alerts' eventjson unless the store keeps whole
			// JSON (a published store: commitRecords checks again under the write lock).
			recs := buildRecordsCut(specs, !lk.WholeJSON(alertStore.ID))
			added, keys, err := commitRecords(ctx, lk, alertStore, recs, db, k.keys)
			k.keys = keys
			if err != nil {
				return res, err
			}
			k.groups.committed(found, added)
		}
		res.New, res.Notified, res.Alerts, res.Notifications = found, notes, len(found), len(notes)
	}
	// Only now is the batch evaluated: a crash before this line evaluates it again (or finds
	// its marker stored).
	if err := saveCursor(lk, st.ID, cursor{Files: filePaths(m.Files), Format: cursorFormat}); err != nil {
		return res, err
	}
	res.Evaluated = time.Since(start)
	return res, nil
}

// dateOf is the eventdate partition of a data file's path ("data/eventdate=D/…").
func dateOf(path string) string {
	_, rest, ok := strings.Cut(path, "eventdate=")
	if !ok {
		return ""
	}
	d, _, _ := strings.Cut(rest, "/")
	return d
}

// maxIDsPerAlert bounds the event ids one alert record carries (a group with more is several
// records of the same group): 10,000 ids are ~400 KB of the record's JSON.
const maxIDsPerAlert = 10000

// groupAlerts are the alert records of group g of a rule's matches: one, or one per
// maxIDsPerAlert of its events. A record's id is derived from the rule, the store, its first
// event and the instance (launch-compliance), never from when it was found.
func groupAlerts(st lake.Store, g rules.MatchGroup, by rules.Grouping, now time.Time) []Alert {
	var out []Alert
	for from := 0; from < len(g.EventIDs); from += maxIDsPerAlert {
		ids := g.EventIDs[from:min(from+maxIDsPerAlert, len(g.EventIDs))]
		mt := g.First
		mt.EventID = ids[0]
		a := newAlert(st, mt, now)
		a.EventIDs, a.Count = ids, len(ids)
		if len(ids) == len(g.EventIDs) {
			a.idsJSON = g.IDsJSON
		}
		if by.Key == "event" {
			a.Group = a.ID
		}
		out = append(out, a)
	}
	return out
}

// newAlert makes the alert of match mt; its id depends only on the rule, the event and the
// instance (launch-compliance), never on when it was found. A match that names no event (a
// row of an aggregate SQL rule) is identified by what the row says instead — its principal,
// account, region, time and summary (every scalar column) — so that each distinct row is an
// alert of its own, and the same row evaluated again (a crash, a lost cursor) the same alert:
// before, every such row had the one id of (rule, store, "") and only the first row the rule
// ever returned was kept, the others deduplicated away as the same alert.
func newAlert(st lake.Store, mt rules.Match, now time.Time) Alert {
	key := mt.Rule + "\x00" + st.ID + "\x00" + mt.EventID + "\x00" + mt.Resource
	if mt.EventID == "" {
		key += "\x00" + mt.Principal + "\x00" + mt.Account + "\x00" + mt.Region + "\x00" + mt.EventTime.UTC().Format(time.RFC3339Nano) + "\x00" + mt.Summary
	}
	h := sha256.Sum256([]byte(key))
	id := uuidOf(h[:16])
	t := mt.EventTime
	if t.IsZero() {
		t = now
	}
	return Alert{ID: id, Rule: mt.Rule, Title: mt.Title, Severity: mt.Severity, Store: st.Name, EventTime: t.UTC(),
		EventIDs: []string{mt.EventID}, Principal: mt.Principal, Account: mt.Account, Region: mt.Region,
		Summary: mt.Summary, Status: "open", AlertedAt: now, Resource: mt.Resource}
}

// storedEvents is the SQL relation (rule, eventid) of the events the alerts store holds alerts
// of, among those of files' time span (a record's time is its group's first event's, at most
// 7 days, the longest window, before its other events).
// evaluatedBefore is the SQL relation (rule, eventid) of the events of files (which replaced
// evaluated files) not to be alerted again: those the alerts store holds alerts of
// (storedEvents), and every event of the evaluated files gone (they replaced) that is still on
// the disk, for every rule (an empty rule). The second are the events the cursor took as evaluated:
// some never had a rule run over them (the history a store held when it was first watched) or
// not the rules enabled now, and the stored alerts name none of them. "" when neither can be
// read.
func evaluatedBefore(s *query.Session, lk *lake.Lake, st, alertStore lake.Store, files []lake.DataFile, gone []string) string {
	var rels []string
	if s.Damaged(alertStore.ID) == nil {
		rels = append(rels, storedEvents(s, alertStore, files))
	}
	dates := map[string]bool{}
	for _, f := range files {
		dates[f.Date] = true
	}
	var old []lake.DataFile
	for _, p := range gone {
		if _, err := os.Stat(lk.AbsPath(st.ID, p)); err == nil && dates[dateOf(p)] {
			old = append(old, lake.DataFile{Path: p})
		}
	}
	if len(old) > 0 {
		rels = append(rels, "(SELECT '' AS rule, eventid FROM "+s.FilesRelation(st.ID, old)+")")
	}
	for i, r := range rels {
		rels[i] = "SELECT rule, eventid FROM " + r + " AS e" + strconv.Itoa(i)
	}
	if len(rels) == 0 {
		return ""
	}
	return "(" + strings.Join(rels, " UNION ALL ") + ")"
}

func storedEvents(s *query.Session, alertStore lake.Store, files []lake.DataFile) string {
	from, to := files[0].MinTime, files[0].MaxTime
	for _, f := range files {
		if f.MinTime.Before(from) {
			from = f.MinTime
		}
		if f.MaxTime.After(to) {
			to = f.MaxTime
		}
	}
	return "(SELECT requestparameters['rule'] AS rule, unnest(json_extract_string(requestparameters['eventIds'], '$[*]')) AS eventid FROM " +
		s.StoreRange(alertStore.ID, from.Add(-7*24*time.Hour), to.Add(time.Microsecond)) +
		" AS a WHERE eventsource = " + engine.Literal(EventSource) + " AND eventname = 'Alert')"
}

// markerStored says whether the alerts store holds fl's marker: its alerts were committed.
func markerStored(ctx context.Context, lk *lake.Lake, fl inflight) (bool, error) {
	st, err := lk.Resolve(StoreName)
	if errors.Is(err, lake.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	day, err := time.Parse(time.DateOnly, fl.Date)
	if err != nil {
		return false, fmt.Errorf("alerts: cursor: bad date %q", fl.Date)
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		return false, err
	}
	defer s.Close()
	if err := s.Damaged(st.ID); err != nil {
		return false, err
	}
	res, err := s.RunInternal(ctx, "SELECT count(*) FROM "+s.StoreRange(st.ID, day, day.Add(24*time.Hour))+
		" AS a WHERE eventsource = ? AND eventname = 'AlertsEvaluated' AND eventid = ?", EventSource, fl.Token)
	if err != nil {
		return false, err
	}
	n, _ := res.Rows[0][0].(int64)
	return n > 0, nil
}

// commitRecords writes records (buildRecords) to the alerts store in one atomic commit, and
// returns the files it added. db, when not nil, is the engine that checks them against the
// store's (lake.WriteRecords); nil opens one for the commit. keys, unless nil, is the index of
// the records the previous commits of this process wrote (lake.Writer.Keys): the records are
// checked against those files by it, not read back. It returns the index with this commit's
// records added (nil after an error: the next commit checks them all again).
func commitRecords(ctx context.Context, lk *lake.Lake, alertStore lake.Store, recs []*cloudtrail.Record, db *engine.DB, keys *lake.Keys) (committed, *lake.Keys, error) {
	if len(recs) == 0 {
		return committed{}, keys, nil
	}
	if db == nil {
		var err error
		if db, err = openCommitEngine(ctx, lk); err != nil {
			return committed{}, nil, err
		}
		defer db.Close()
	}
	w, err := lk.BeginWrite(alertStore.ID)
	if err != nil {
		return committed{}, nil, fmt.Errorf("alerts: %w", err)
	}
	defer w.Close()
	if lk.WholeJSON(alertStore.ID) { // decided under the write lock (lake.KeepWholeJSON)
		wholeRecords(recs)
	}
	w.UseKeys(keys)
	files, _, err := lake.WriteRecords(ctx, db, w, lake.NewBatch(recs))
	if err != nil {
		return committed{}, nil, fmt.Errorf("alerts: %w", err)
	}
	if err := w.Commit(files, nil, nil); err != nil {
		return committed{}, nil, fmt.Errorf("alerts: %w", err)
	}
	c := committed{files: files}
	// Each commit adds a file to every day it holds records of: a day past smallFilesPerDay
	// has its small files merged. A merge that fails leaves the files as they are (the
	// records are committed); the next commit tries again.
	if merged, gone, err := lake.MergeSmall(ctx, db, w, smallFilesPerDay); err == nil {
		c.merged, c.gone = merged, gone
	}
	return c, w.Keys(), nil
}

// smallFilesPerDay is how many small files a day of the alerts store keeps before they are
// merged (lake.MergeSmall): a commit an evaluation made thousands a day under collect or
// serve, all opened by each query of the alerts; a merge of 17 files of a few hundred KB is
// tens of milliseconds, every 16 evaluations that raise alerts on that day.
var smallFilesPerDay = 16

// committed is what commitRecords changed in the alerts store: the files it added for the
// records, and the files merging made (merged) in place of others (gone).
type committed struct {
	files, merged []lake.DataFile
	gone          []string
}

// openCommitEngine opens the small engine commitRecords checks records against the store with.
func openCommitEngine(ctx context.Context, lk *lake.Lake) (*engine.DB, error) {
	return engine.Open(ctx, engine.Options{MemoryLimit: "128MB", Threads: 1, TempDir: lk.TempDir(), ReadsOnce: true})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Watcher runs Process for one store in the background after commits, so that evaluation
// never holds up the next commit: Notify never blocks, and commits that come while a Process
// runs are evaluated together by the next one.
type Watcher struct {
	lk   *lake.Lake
	st   lake.Store
	kick chan struct{}
	done chan struct{}
	// closing is closed by Close: the wait between evaluations ends; a value in hurry
	// (Flush) ends the next wait, or the current one.
	closing chan struct{}
	hurry   chan struct{}
	mu      sync.Mutex
	errs    []error
	result  Result
	// OnAlerts, when set, receives each Process's new alerts (after they are committed).
	OnAlerts func([]Alert)
	// KeepAlerts makes Close return every alert and notification of the watch (Result.New,
	// Notified); without it, only their counts: the alerts are in the store, and a watcher
	// lives as long as the ingest (784k matched events at 1M, most of them one rule's) or the
	// serving process. Set it before the first Notify.
	KeepAlerts bool
	// goEval evaluates the rules enabled when the watch began on each batch's records as they
	// are written (Written); pre holds its results by data file path until evaluated — a
	// file written is committed later (ingest writes ahead of its commits), so an evaluation
	// takes only the results of the files it evaluates and leaves the others for the next.
	// preAt is when each was written: one not committed within maxPreAge (its commit failed)
	// is dropped.
	goEval *rules.GoEval
	pre    map[string]*rules.GoResult
	preAt  map[string]time.Time
	// keep is what the evaluations keep between them (keep.go), used by loop's goroutine only;
	// keep.facts are the store's EC2 lifecycle facts, those of the files written here taken
	// from their records: launch-compliance is judged from them in Go.
	keep kept
}

// Watch begins watching store st (Begin) and starts the background evaluation.
func Watch(ctx context.Context, lk *lake.Lake, st lake.Store, onAlerts func([]Alert)) (*Watcher, error) {
	if err := Begin(lk, st); err != nil {
		return nil, err
	}
	w := &Watcher{lk: lk, st: st, kick: make(chan struct{}, 1), done: make(chan struct{}), closing: make(chan struct{}), hurry: make(chan struct{}, 1), OnAlerts: onAlerts,
		pre: map[string]*rules.GoResult{}, preAt: map[string]time.Time{}}
	if all, err := rules.List(lk); err == nil {
		var enabled []rules.Rule
		var gs []rules.Grouping
		for _, r := range all {
			if r.Enabled {
				by, window, err := grouping(r)
				if err != nil {
					by, window, _ = grouping(rules.Rule{})
				}
				enabled, gs = append(enabled, r), append(gs, rules.Grouping{Key: by, Window: window})
			}
		}
		w.goEval, w.keep.facts = rules.NewGoEval(enabled, gs), rules.NewFactsCache(lk)
	}
	go w.loop(context.WithoutCancel(ctx))
	return w, nil
}

// Notify says a commit happened.
func (w *Watcher) Notify() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Flush says no commit follows for now (ingest.Options.Committed: the ingest made its last):
// the evaluation waiting for MinInterval to pass starts at once (or the next one, when none
// waits), beside what the ingest does after its commits. It never blocks.
func (w *Watcher) Flush() {
	select {
	case w.hurry <- struct{}{}:
	default:
	}
}

// MinInterval is the least time between the starts of two evaluations of a Watcher while
// commits keep coming: each evaluation has a fixed cost (a session refreshed, a commit of the alerts
// store), so a burst of commits is evaluated in a few runs rather than one per commit. An
// alert still follows its commit within MinInterval plus one evaluation.
var MinInterval = time.Second

func (w *Watcher) loop(ctx context.Context) {
	defer close(w.done)
	defer w.keep.close()
	var last time.Time
	for range w.kick {
		if wait := MinInterval - time.Since(last); wait > 0 {
			select {
			case <-time.After(wait):
			case <-w.closing:
			case <-w.hurry:
			}
		}
		last = time.Now()
		w.run(ctx)
	}
	w.run(ctx) // whatever the last commit added
}

// Written gathers the Go verdicts on the records of data files just written, not yet
// committed (recs[i] are those of files[i]; ingest.Options.Written) — those Decoded found, or
// matched now — and keeps their EC2 lifecycle facts: the evaluation after their commit takes
// its result instead of reading them back (facts, unless nil, are the files' facts as the
// writer computed them). A file written a part at a time (a held file: a call per batch that
// wrote into it, each with that batch's records) has its parts' verdicts merged
// (rules.GoResult.Merge) and their facts appended; it is committed only after its last part.
// It returns when done, before the records are given back.
func (w *Watcher) Written(files []lake.DataFile, recs [][]*cloudtrail.Record, facts [][]lifecycle.Fact) {
	if w.goEval == nil {
		return
	}
	var res map[string]*rules.GoResult
	pprof.Do(context.Background(), pprof.Labels("al", "written"), func(context.Context) { res = w.goEval.Files(files, recs, facts, runtime.NumCPU()) })
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for p, r := range res {
		w.keep.facts.Append(p, r.Facts)
		// A part merged into the file's result: no evaluation reads it before the file's
		// commit, which follows its last part.
		if have := w.pre[p]; have != nil {
			have.Merge(r)
		} else {
			w.pre[p] = r
		}
		w.preAt[p] = now
	}
}

// maxPreAge is how long a Watcher keeps the Go verdicts of a file written and not committed
// (Written): past it the file's commit is taken as failed (a file committed later is then
// evaluated in SQL, as one without verdicts).
const maxPreAge = 10 * time.Minute

// Decoded evaluates the rules in Go on a record as it is decoded (ingest.Options.Decoded, in
// the decoding workers); Written then takes the verdicts instead of matching it again.
func (w *Watcher) Decoded(r *cloudtrail.Record) {
	if w.goEval != nil {
		w.goEval.Decoded(r)
	}
}

// Hook sets the watcher's hooks on the options of an ingest into its store: the rules match
// each record as it is decoded (Decoded), their verdicts are gathered per data file as its
// batch is written (Written), and each commit is evaluated after it (Notify) — the last at
// once (Flush); the verdicts and facts of a batch whose commit fails are dropped
// (Uncommitted).
func (w *Watcher) Hook(o *ingest.Options) {
	o.AfterCommit, o.Written, o.Decoded, o.Uncommitted, o.Committed = w.Notify, w.Written, w.Decoded, w.Uncommitted, w.Flush
}

// Uncommitted forgets the Go verdicts and EC2 lifecycle facts of data files written and never
// committed (ingest.Options.Uncommitted: their batch's commit failed, or was not tried after an
// earlier one failed): a watcher living as long as `collect` or `serve` kept them for good.
func (w *Watcher) Uncommitted(files []lake.DataFile) {
	if w.goEval == nil {
		return
	}
	w.keep.facts.Drop(files)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range files {
		delete(w.pre, f.Path)
		delete(w.preAt, f.Path)
	}
}

func (w *Watcher) run(ctx context.Context) {
	w.mu.Lock()
	pre := maps.Clone(w.pre)
	w.mu.Unlock()
	var res Result
	var err error
	pprof.Do(ctx, pprof.Labels("al", "eval"), func(ctx context.Context) { res, err = process(ctx, w.lk, w.st, pre, &w.keep) })
	if err != nil {
		w.keep.failed() // the next evaluation starts afresh
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.errs = append(w.errs, err)
		return
	}
	for _, p := range res.done { // evaluated now (from pre, or in SQL: not new)
		delete(w.pre, p)
		delete(w.preAt, p)
	}
	// The others are files written and not committed yet, kept for the evaluation of their
	// commit, unless it is long overdue.
	for p, at := range w.preAt {
		if time.Since(at) > maxPreAge {
			delete(w.pre, p)
			delete(w.preAt, p)
		}
	}
	w.result.Files += res.Files
	w.result.Rules = max(w.result.Rules, res.Rules)
	w.result.Alerts += res.Alerts
	w.result.Notifications += res.Notifications
	if w.KeepAlerts {
		w.result.New = append(w.result.New, res.New...)
		w.result.Notified = append(w.result.Notified, res.Notified...)
	}
	w.result.Known += res.Known
	w.result.FromGo += res.FromGo
	w.result.Matched += res.Matched
	w.result.Evaluated += res.Evaluated
	if len(res.Failed) > 0 {
		if w.result.Failed == nil {
			w.result.Failed = rules.RuleErrors{}
		}
		maps.Copy(w.result.Failed, res.Failed)
	}
	if res.NotifyErr != nil {
		w.result.NotifyErr = errors.Join(w.result.NotifyErr, res.NotifyErr)
	}
	if len(res.New) > 0 && w.OnAlerts != nil {
		w.OnAlerts(res.New)
	}
}

// Close waits for the evaluation of every commit notified, and returns what was found and the
// errors met (an evaluation that failed is retried by the next run: its files stay pending).
func (w *Watcher) Close() (Result, error) {
	close(w.closing)
	close(w.kick)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.result, errors.Join(w.errs...)
}
