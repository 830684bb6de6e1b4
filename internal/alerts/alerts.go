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
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
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
	Resource string `json:"resource,omitempty"`
	// Group is the alert the match is counted in (grouping: one per rule, key and window);
	// Count, in a notification, the events of the group it stands for.
	Group string `json:"group,omitempty"`
	Count int    `json:"count,omitempty"`
}

// Store returns the alerts store, creating it (termination protection on) on first use.
func Store(lk *lake.Lake) (lake.Store, error) {
	return lk.BuiltinStore(StoreName)
}

type cursor struct {
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
	return saveCursor(lk, st.ID, m)
}

func saveCursor(lk *lake.Lake, storeID string, m *lake.Manifest) error {
	c := cursor{Files: []string{}}
	for _, f := range m.Files {
		c.Files = append(c.Files, f.Path)
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
	Files     int     // data files evaluated
	Rules     int     // enabled rules run
	New       []Alert // alerts stored by this run
	Notified  []Alert // the notifications queued for the targets: one per new group
	NotifyErr error   // why Notified could not be queued, if so
	Known     int     // alerts found already stored
	Evaluated time.Duration
}

// Process evaluates every enabled rule over the live files of store st that the cursor does
// not list, stores the alerts not stored yet, and advances the cursor. sink, when not nil,
// receives the new alerts after they are committed (delivery).
func Process(ctx context.Context, lk *lake.Lake, st lake.Store) (Result, error) {
	start := time.Now()
	var res Result
	var c cursor
	if err := atomicfile.ReadJSON(cursorPath(lk, st.ID), &c); err != nil {
		return res, err
	}
	m, release, err := lk.Snapshot(st.ID)
	if err != nil {
		return res, err
	}
	defer release()
	var pending []lake.DataFile
	for _, f := range m.Files {
		if !slices.Contains(c.Files, f.Path) {
			pending = append(pending, f)
		}
	}
	if len(pending) == 0 {
		return res, nil
	}
	all, err := rules.List(lk)
	if err != nil {
		return res, err
	}
	var enabled []rules.Rule
	byRule := map[string]rules.Rule{}
	for _, r := range all {
		if r.Enabled {
			enabled = append(enabled, r)
			byRule[r.ID] = r
		}
	}
	res.Files, res.Rules = len(pending), len(enabled)
	if len(enabled) > 0 {
		alertStore, err := Store(lk)
		if err != nil {
			return res, err
		}
		s, err := query.Open(ctx, lk, query.Options{})
		if err != nil {
			return res, err
		}
		defer s.Close()
		var found []Alert
		now := time.Now().UTC().Truncate(time.Millisecond)
		ms, err := rules.EvaluateAll(ctx, s, enabled, rules.Target{Store: st, Files: pending})
		if err != nil {
			return res, err
		}
		for _, mt := range ms {
			found = append(found, newAlert(st, mt, now))
		}
		fresh, err := notStored(ctx, s, alertStore, found)
		if err != nil {
			return res, err
		}
		res.Known = len(found) - len(fresh)
		assignGroups(st, fresh, byRule)
		notes, err := notifications(ctx, s, alertStore, fresh)
		if err != nil {
			return res, err
		}
		// Queued before the alerts are committed: a crash in between evaluates the batch
		// again, and the queue takes a notification it holds or delivered only once. A queue
		// that cannot be written (a broken file) loses the notifications, not the alerts.
		if err := Enqueue(lk, notes, now); err != nil {
			res.NotifyErr = fmt.Errorf("alerts: %d notifications not queued (the alerts are stored): %w", len(notes), err)
		}
		if err := commit(ctx, lk, alertStore, fresh); err != nil {
			return res, err
		}
		res.New, res.Notified = fresh, notes
	}
	// Only now is the batch evaluated: a crash before this line evaluates it again, and the
	// alerts it finds are then known.
	if err := saveCursor(lk, st.ID, m); err != nil {
		return res, err
	}
	res.Evaluated = time.Since(start)
	return res, nil
}

// newAlert makes the alert of match mt; its id depends only on the rule, the event and the
// instance (launch-compliance), never on when it was found.
func newAlert(st lake.Store, mt rules.Match, now time.Time) Alert {
	h := sha256.Sum256([]byte(mt.Rule + "\x00" + st.ID + "\x00" + mt.EventID + "\x00" + mt.Resource))
	id := uuidOf(h[:16])
	t := mt.EventTime
	if t.IsZero() {
		t = now
	}
	return Alert{ID: id, Rule: mt.Rule, Title: mt.Title, Severity: mt.Severity, Store: st.Name, EventTime: t.UTC(),
		EventIDs: []string{mt.EventID}, Principal: mt.Principal, Account: mt.Account, Region: mt.Region,
		Summary: mt.Summary, Status: "open", AlertedAt: now, Resource: mt.Resource}
}

// notStored returns the alerts whose id the alerts store does not hold (nor an earlier alert
// of the same list). It reads the ids of the stored alerts of the same events' time span (an
// alert's eventtime is its event's): the span's files only.
func notStored(ctx context.Context, s *query.Session, alertStore lake.Store, found []Alert) ([]Alert, error) {
	if len(found) == 0 {
		return nil, nil
	}
	from, to := span(found)
	known := map[string]bool{}
	if s.Damaged(alertStore.ID) == nil {
		res, err := s.RunInternal(ctx, "SELECT eventid FROM "+s.StoreRange(alertStore.ID, from, to.Add(time.Microsecond))+" AS a WHERE eventsource = ?", EventSource)
		if err != nil {
			return nil, err
		}
		for _, r := range res.Rows {
			known[fmt.Sprint(r[0])] = true
		}
	}
	var out []Alert
	for _, a := range found {
		if !known[a.ID] {
			known[a.ID] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// commit writes alerts to the alerts store in one atomic commit, as CloudTrail records.
func commit(ctx context.Context, lk *lake.Lake, alertStore lake.Store, alerts []Alert) error {
	var recs []map[string]any
	for _, a := range alerts {
		recs = append(recs, record(a))
	}
	return commitRecords(ctx, lk, alertStore, recs)
}

// commitRecords writes CloudTrail records to the alerts store in one atomic commit.
func commitRecords(ctx context.Context, lk *lake.Lake, alertStore lake.Store, records []map[string]any) error {
	if len(records) == 0 {
		return nil
	}
	var buf bytes.Buffer
	buf.WriteString(`{"Records":[`)
	for i, rec := range records {
		if i > 0 {
			buf.WriteByte(',')
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	buf.WriteString(`]}`)
	var recs []*cloudtrail.Record
	if _, err := cloudtrail.Decode(&buf, "alerts", cloudtrail.DecodeOptions{}, func(r *cloudtrail.Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "128MB", Threads: 1, TempDir: lk.TempDir()})
	if err != nil {
		return err
	}
	defer db.Close()
	w, err := lk.BeginWrite(alertStore.ID)
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	defer w.Close()
	files, _, err := lake.WriteRecords(ctx, db, w, lake.NewBatch(recs))
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	if err := w.Commit(files, nil, nil); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	return nil
}

// record is the CloudTrail record of an alert: eventName Alert, the rule and what it found in
// requestParameters, the principal as userIdentity.arn, the event's region.
func record(a Alert) map[string]any {
	return map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{"type": "AuditlakeDetection", "principalId": a.Principal, "arn": a.Principal, "accountId": a.Account},
		"eventTime":    a.EventTime.Format(time.RFC3339Nano),
		"eventSource":  EventSource,
		"eventName":    "Alert",
		"awsRegion":    orDefault(a.Region, "local"),
		"requestParameters": map[string]any{
			"rule": a.Rule, "title": a.Title, "severity": a.Severity, "store": a.Store, "eventIds": a.EventIDs,
			"account": a.Account, "summary": a.Summary, "status": a.Status, "alertedAt": a.AlertedAt.Format(time.RFC3339Nano),
			"group": orDefault(a.Group, a.ID), "resource": a.Resource,
		},
		"eventID":            a.ID,
		"eventType":          "AwsServiceEvent",
		"readOnly":           true,
		"managementEvent":    false,
		"recipientAccountId": account,
		"eventCategory":      "Management",
	}
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
	lk     *lake.Lake
	st     lake.Store
	kick   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	errs   []error
	result Result
	// OnAlerts, when set, receives each Process's new alerts (after they are committed).
	OnAlerts func([]Alert)
}

// Watch begins watching store st (Begin) and starts the background evaluation.
func Watch(ctx context.Context, lk *lake.Lake, st lake.Store, onAlerts func([]Alert)) (*Watcher, error) {
	if err := Begin(lk, st); err != nil {
		return nil, err
	}
	w := &Watcher{lk: lk, st: st, kick: make(chan struct{}, 1), done: make(chan struct{}), OnAlerts: onAlerts}
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

func (w *Watcher) loop(ctx context.Context) {
	defer close(w.done)
	for range w.kick {
		w.run(ctx)
	}
	w.run(ctx) // whatever the last commit added
}

func (w *Watcher) run(ctx context.Context) {
	res, err := Process(ctx, w.lk, w.st)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.errs = append(w.errs, err)
		return
	}
	w.result.Files += res.Files
	w.result.Rules = max(w.result.Rules, res.Rules)
	w.result.New = append(w.result.New, res.New...)
	w.result.Known += res.Known
	w.result.Evaluated += res.Evaluated
	w.result.Notified = append(w.result.Notified, res.Notified...)
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
	close(w.kick)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.result, errors.Join(w.errs...)
}
