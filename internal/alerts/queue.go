package alerts

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/lake"
)

// The delivery queue (<data>/alerts/deliveries.json, replaced atomically under a lock like the
// other registries) holds each notification not yet delivered to each target, the
// notifications delivered lately (so that one enqueued again is not sent twice), and each
// target's health. Notifications are enqueued before their alerts are committed (Process), and
// DeliverDue sends the due ones off the commit path.
//
// At most once per notification and target after success: a delivery is removed from the
// queue, and recorded as done, in the same atomic write that follows the target's acceptance.
// The window is that write: a crash after the target accepted and before the write resends
// the notification once (its id, the alert's, lets a receiver drop it). A delivery being sent
// is leased for a few minutes so that another process delivering from the same data directory
// does not send it at the same time.
type queueFile struct {
	Pending []queued             `json:"pending"`
	Done    map[string]time.Time `json:"done"`
	Health  map[string]*Health   `json:"health"`
}

type queued struct {
	Target     string    `json:"target"`
	Alert      Alert     `json:"alert"`
	QueuedAt   time.Time `json:"queued_at"`
	NextAt     time.Time `json:"next_at"`
	Attempts   int       `json:"attempts"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
}

func (q queued) key() string { return doneKey(q.Target, q.Alert.ID) }

func doneKey(target, id string) string { return target + "\x00" + id }

// Health is a target's delivery record.
type Health struct {
	LastSuccess         *time.Time `json:"last_success"`
	LastError           string     `json:"last_error"`
	LastErrorAt         *time.Time `json:"last_error_at"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
}

// doneFor is how long a delivered notification is remembered: enqueueing it again within
// that time (a crash between Enqueue and the alerts' commit evaluates the batch again) is a
// no-op.
const doneFor = 7 * 24 * time.Hour

// leaseFor bounds one delivery attempt; a process that dies sending leaves its deliveries
// to be sent again after it.
const leaseFor = 3 * time.Minute

// recordEvery is how often a delivery pass writes the outcomes so far to the queue file.
const recordEvery = time.Second

func queuePath(lk *lake.Lake) string { return filepath.Join(lk.Dir, "alerts", "deliveries.json") }
func queueLock(lk *lake.Lake) string { return filepath.Join(lk.Dir, "alerts", "deliveries.lock") }

func updateQueue(lk *lake.Lake, fn func(*queueFile) error) error {
	return atomicfile.UpdateJSON(queuePath(lk), queueLock(lk), func(q *queueFile) error {
		if q.Done == nil {
			q.Done = map[string]time.Time{}
		}
		if q.Health == nil {
			q.Health = map[string]*Health{}
		}
		return fn(q)
	})
}

// maxQueued bounds a target's queue: a target down for a day under an alert storm drops its
// oldest notifications (named in its health) rather than grow the queue file without end.
const maxQueued = 10000

// Enqueue queues the notifications for every target registered now. One already queued or
// delivered to a target is not queued again.
func Enqueue(lk *lake.Lake, notes []Alert, now time.Time) error {
	if len(notes) == 0 {
		return nil
	}
	targets, err := Targets(lk)
	if err != nil || len(targets) == 0 {
		return err
	}
	return updateQueue(lk, func(q *queueFile) error {
		pending := map[string]bool{}
		for _, p := range q.Pending {
			pending[p.key()] = true
		}
		for _, t := range targets {
			for _, a := range notes {
				k := doneKey(t.Name, a.ID)
				if _, ok := q.Done[k]; ok || pending[k] {
					continue
				}
				pending[k] = true
				q.Pending = append(q.Pending, queued{Target: t.Name, Alert: a, QueuedAt: now, NextAt: now})
			}
			var mine []int
			for i, p := range q.Pending {
				if p.Target == t.Name {
					mine = append(mine, i)
				}
			}
			if over := len(mine) - maxQueued; over > 0 {
				h := q.Health[t.Name]
				if h == nil {
					h = &Health{}
					q.Health[t.Name] = h
				}
				at := now.UTC()
				h.LastError, h.LastErrorAt = fmt.Sprintf("queue full (%d): dropped %d oldest notifications, the first alert %s", maxQueued, over, q.Pending[mine[0]].Alert.ID), &at
				drop := map[int]bool{}
				for _, i := range mine[:over] {
					drop[i] = true
				}
				kept := q.Pending[:0]
				for i, p := range q.Pending {
					if !drop[i] {
						kept = append(kept, p)
					}
				}
				q.Pending = kept
			}
		}
		return nil
	})
}

// TargetStatus is a target and its health, as alert-target list and GET /api/alert-targets
// show them.
type TargetStatus struct {
	Name                string     `json:"name"`
	Kind                string     `json:"kind"`
	Destination         string     `json:"destination"`
	LastSuccess         *time.Time `json:"last_success"`
	LastError           string     `json:"last_error"`
	LastErrorAt         *time.Time `json:"last_error_at"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	Queued              int        `json:"queued"`
}

// Status lists every target with its health and the number of its queued deliveries.
func Status(lk *lake.Lake) ([]TargetStatus, error) {
	targets, err := Targets(lk)
	if err != nil {
		return nil, err
	}
	var q queueFile
	if err := atomicfile.ReadJSON(queuePath(lk), &q); err != nil {
		return nil, err
	}
	out := []TargetStatus{}
	for _, t := range targets {
		s := TargetStatus{Name: t.Name, Kind: t.KindOf(), Destination: t.Destination()}
		if h := q.Health[t.Name]; h != nil {
			s.LastSuccess, s.LastError, s.LastErrorAt, s.ConsecutiveFailures = h.LastSuccess, h.LastError, h.LastErrorAt, h.ConsecutiveFailures
		}
		for _, p := range q.Pending {
			if p.Target == t.Name {
				s.Queued++
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// DeliverResult is what one DeliverDue did.
type DeliverResult struct {
	Sent, Failed, GaveUp int
	// Errors are the failures, named by target; those of notifications dropped (a final
	// failure, or queued past the give-up time) match ErrDropped, the others are retried.
	Errors []error
	NextAt time.Time
}

// ErrDropped is what a delivery error of a notification that is not retried matches with
// errors.Is: the target refused it for good (HTTP 4xx, SMTP 5xx) or it was queued past the
// give-up time. Its alert stays stored.
var ErrDropped = errors.New("notification dropped")

// DeliverDue makes one attempt of every queued delivery that is due: each target's
// deliveries in the order they were queued, a target's remaining ones put off when one
// fails (a target that is down costs one attempt a pass, not one per notification). A
// failure is retried after a backoff (d.Backoff doubled per attempt, capped at d.MaxBackoff,
// with jitter); a final one (HTTP 4xx, SMTP 5xx), a delivery failing for d.GiveUpAfter, or
// one whose target was removed, is dropped and recorded in the target's health.
func DeliverDue(ctx context.Context, lk *lake.Lake, d Delivery) (DeliverResult, error) {
	var res DeliverResult
	targets, err := Targets(lk)
	if err != nil || len(targets) == 0 {
		return res, err // RemoveTarget dropped the removed targets' queues
	}
	byName := map[string]Target{}
	for _, t := range targets {
		byName[t.Name] = t
	}
	now := time.Now().UTC()
	var claimed []queued
	err = updateQueue(lk, func(q *queueFile) error {
		for k, at := range q.Done {
			if now.Sub(at) > doneFor {
				delete(q.Done, k)
			}
		}
		kept := q.Pending[:0]
		for _, p := range q.Pending {
			if _, ok := byName[p.Target]; !ok {
				continue // its target was removed
			}
			if !p.NextAt.After(now) && !p.LeaseUntil.After(now) {
				p.LeaseUntil = now.Add(leaseFor)
				claimed = append(claimed, p)
			}
			kept = append(kept, p)
		}
		q.Pending = kept
		return nil
	})
	if err != nil || len(claimed) == 0 {
		return res, err
	}
	type outcome struct {
		q       queued
		err     error
		skipped bool // its target failed earlier in this pass
	}
	backoff, maxBackoff, giveUp := orDuration(d.Backoff, 30*time.Second), orDuration(d.MaxBackoff, time.Hour), orDuration(d.GiveUpAfter, 24*time.Hour)
	// record writes outs' outcomes to the queue, and renews the lease of rest, the claimed
	// deliveries not attempted yet.
	record := func(outs []outcome, rest []queued) error {
		return updateQueue(lk, func(q *queueFile) error {
			done := time.Now().UTC()
			index := map[string]int{}
			for i, p := range q.Pending {
				index[p.key()] = i
			}
			for _, p := range rest {
				if i, ok := index[p.key()]; ok && q.Pending[i].LeaseUntil.After(done) {
					q.Pending[i].LeaseUntil = done.Add(leaseFor)
				}
			}
			drop := map[int]bool{}
			for _, o := range outs {
				i, ok := index[o.q.key()]
				if !ok {
					i = -1
				}
				h := q.Health[o.q.Target]
				if h == nil {
					h = &Health{}
					q.Health[o.q.Target] = h
				}
				if o.err == nil {
					q.Done[o.q.key()] = done
					if i >= 0 {
						drop[i] = true
					}
					h.LastSuccess, h.ConsecutiveFailures = &done, 0
					res.Sent++
					continue
				}
				_, final := o.err.(finalError)
				if !o.skipped {
					err := fmt.Errorf("alert target %s: %w", o.q.Target, o.err)
					if final || (i >= 0 && done.Sub(q.Pending[i].QueuedAt) >= giveUp) {
						err = fmt.Errorf("%w: %w", err, ErrDropped)
					}
					res.Errors = append(res.Errors, err)
					h.LastError, h.LastErrorAt = o.err.Error(), &done
					h.ConsecutiveFailures++
				}
				if i < 0 {
					continue
				}
				p := &q.Pending[i]
				p.Attempts++
				p.LastError, p.LeaseUntil = o.err.Error(), time.Time{}
				if final || done.Sub(p.QueuedAt) >= giveUp {
					h.LastError = fmt.Sprintf("gave up alert %s after %d attempts: %v", p.Alert.ID, p.Attempts, o.err)
					drop[i] = true
					res.GaveUp++
					continue
				}
				p.NextAt = done.Add(retryWait(backoff, maxBackoff, p.Attempts))
				res.Failed++
			}
			kept := q.Pending[:0]
			for i, p := range q.Pending {
				if !drop[i] {
					kept = append(kept, p)
				}
			}
			q.Pending = kept
			res.NextAt = time.Time{}
			for _, p := range q.Pending {
				if res.NextAt.IsZero() || p.NextAt.Before(res.NextAt) {
					res.NextAt = p.NextAt
				}
			}
			return nil
		})
	}
	// The outcomes are recorded as the pass goes, at least once a second: a process that dies
	// in a long pass sends again only what it sent since (the queue file is rewritten whole,
	// so not after every delivery).
	var outcomes []outcome
	recorded, lastRecord := 0, time.Now()
	down := map[string]error{}
	for n, p := range claimed {
		if e, ok := down[p.Target]; ok {
			outcomes = append(outcomes, outcome{p, e, true})
			continue
		}
		err := d.attempt(ctx, byName[p.Target], []Alert{p.Alert})
		if err != nil {
			if _, final := err.(finalError); !final {
				down[p.Target] = err
			}
		}
		outcomes = append(outcomes, outcome{q: p, err: err})
		if time.Since(lastRecord) >= recordEvery && n+1 < len(claimed) {
			if err := record(outcomes[recorded:], claimed[n+1:]); err != nil {
				return res, err
			}
			recorded, lastRecord = len(outcomes), time.Now()
		}
	}
	if err := record(outcomes[recorded:], nil); err != nil {
		return res, err
	}
	var sent []recordSpec
	for _, o := range outcomes {
		if o.err == nil {
			sent = append(sent, deliveredSpec(o.q.Target, o.q.Alert, now))
		}
	}
	if len(sent) > 0 {
		// sent-to: a record per delivery in the alerts store, after the queue says it is done
		// (a crash in between leaves it out; the delivery is not repeated for it).
		st, err := Store(lk)
		if err == nil {
			_, _, err = commitRecords(ctx, lk, st, buildRecords(sent), nil, nil)
		}
		if err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("record sent-to in %s: %w", StoreName, err))
		}
	}
	return res, nil
}

// deliveredSpec is the alerts-store record of alert a's delivery to target (eventName
// AlertDelivered, the alert's event time), which the listing folds into its sent_to.
func deliveredSpec(target string, a Alert, at time.Time) recordSpec {
	h := sha256.Sum256([]byte("delivered\x00" + target + "\x00" + a.ID))
	return recordSpec{
		identityType: "AuditlakeDetection", principalID: "auditlake", arn: "auditlake", accountID: account,
		eventTime: a.EventTime.UTC(), eventName: "AlertDelivered", region: "local", eventID: uuidOf(h[:16]),
		params: []param{strParam("group", a.ID), strParam("rule", a.Rule), strParam("target", target), strParam("deliveredAt", at.UTC().Format(time.RFC3339Nano))},
	}
}

// retryWait is the wait after the attempts-th failure: base doubled per attempt, capped, then
// between half of it and all of it at random (so that deliveries failing together do not
// retry together).
func retryWait(base, limit time.Duration, attempts int) time.Duration {
	w := base
	for i := 1; i < attempts && w < limit; i++ {
		w *= 2
	}
	w = min(w, limit)
	return w/2 + rand.N(w/2+1)
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Deliverer runs DeliverDue in the background: when kicked, and when the earliest queued
// delivery comes due.
type Deliverer struct {
	lk   *lake.Lake
	d    Delivery
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	last DeliverResult
	errs []error
	// cancel ends the attempts under way (CloseWithin).
	cancel context.CancelFunc
}

// StartDelivery starts delivering lk's queue in the background, beginning with what is due now.
func StartDelivery(ctx context.Context, lk *lake.Lake, d Delivery) *Deliverer {
	dl := &Deliverer{lk: lk, d: d, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	dl.Kick()
	ctx, dl.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go dl.loop(ctx)
	return dl
}

// Kick says deliveries were queued.
func (dl *Deliverer) Kick() {
	select {
	case dl.kick <- struct{}{}:
	default:
	}
}

func (dl *Deliverer) loop(ctx context.Context) {
	defer close(dl.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-dl.stop:
			return
		case <-dl.kick:
		case <-timer.C:
		}
		res, err := DeliverDue(ctx, dl.lk, dl.d)
		dl.mu.Lock()
		dl.last = res
		dl.errs = append(dl.errs, res.Errors...)
		if err != nil {
			dl.errs = append(dl.errs, err)
		}
		if len(dl.errs) > 100 { // a long run keeps the latest
			dl.errs = slices.Delete(dl.errs, 0, len(dl.errs)-100)
		}
		dl.mu.Unlock()
		wait := time.Minute // also picks up what another process queued
		if !res.NextAt.IsZero() {
			wait = min(wait, max(time.Until(res.NextAt), time.Second))
		}
		timer.Reset(wait)
	}
}

// Close stops the background delivery (after the attempt under way) and returns the delivery
// errors met; what failed stays queued.
func (dl *Deliverer) Close() []error {
	return dl.CloseWithin(0)
}

// CloseWithin is Close, waiting at most d for the attempts under way (d <= 0: as long as they
// take): past it they are ended (a target that accepts a connection and never answers held an
// ingest's exit for the client's timeout, twice), each recorded as failed and retried later;
// what they were sending stays queued. The pass's outcome is given a second more to be recorded
// (a lease that lapses has the delivery claimed again by the next process).
func (dl *Deliverer) CloseWithin(d time.Duration) []error {
	close(dl.stop)
	var expired <-chan time.Time // nil: never
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-dl.done:
	case <-expired:
		dl.cancel()
		select {
		case <-dl.done:
		case <-time.After(time.Second):
		}
	}
	dl.cancel()
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return slices.Clone(dl.errs)
}
