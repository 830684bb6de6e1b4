package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
)

// Call-level errors of Put: the whole call is refused and nothing is written.
var (
	ErrNoEvents          = errors.New("auditEvents is empty")
	ErrTooManyEvents     = fmt.Errorf("more than %d audit events in one call", MaxEventsPerCall)
	ErrExternalID        = errors.New("externalId does not match the channel's")
	ErrDuplicatedEventID = errors.New("an audit event id appears twice in the call")
)

// Options tune Put and Ingest.
type Options struct {
	// Now is the ingestion time (default time.Now).
	Now func() time.Time
	// MemoryLimit is the engine's memory limit while committing (default 256MB).
	MemoryLimit string
	// Log receives compaction failures (default: discarded).
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = "256MB"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Put is one PutAuditEvents call on channel ch: it refuses the whole call when events is empty
// or has more than MaxEventsPerCall entries, when an id repeats, or when the channel requires
// an externalId that does not match; otherwise it validates every event, commits the accepted
// ones to the channel's store in one atomic commit, and returns one entry per event. Events are
// queryable when Put returns. A retried call gets the same eventIDs and adds nothing.
func Put(ctx context.Context, lk *lake.Lake, ch Channel, externalID string, events []AuditEvent, opts Options) (*Result, error) {
	switch {
	case len(events) == 0:
		return nil, ErrNoEvents
	case len(events) > MaxEventsPerCall:
		return nil, fmt.Errorf("%w: got %d", ErrTooManyEvents, len(events))
	case ch.ExternalID != "" && externalID != ch.ExternalID:
		return nil, fmt.Errorf("channel %s: %w", ch.Name, ErrExternalID)
	}
	if id := checkIDs(events); id != "" {
		return nil, fmt.Errorf("%w: %q", ErrDuplicatedEventID, id)
	}
	res, _, err := Ingest(ctx, lk, ch, events, opts)
	return res, err
}

// Ingest validates events for channel ch and commits the accepted ones to the channel's store in
// one atomic commit, without Put's per-call limits. A channel with an empty ARN stands for a
// store without a channel (auditlake ingest events --eds): eventIDs are then scoped to the store
// and any recipient account is accepted. It returns the per-event result and the number of
// events that were new to the store.
func Ingest(ctx context.Context, lk *lake.Lake, ch Channel, events []AuditEvent, opts Options) (*Result, int64, error) {
	opts = opts.withDefaults()
	store, err := lk.Resolve(ch.StoreID)
	if err != nil {
		return nil, 0, fmt.Errorf("channel %s: %w", ch.Name, err)
	}
	if store.Type != lake.TypeActivity {
		return nil, 0, fmt.Errorf("store %q is a store of type %s; audit events go into an activity store", store.Name, store.Type)
	}
	scope := ch.ARN
	if scope == "" {
		scope = "store/" + store.ID
	}
	now := opts.Now()
	// Events older than the retention would be purged at the next start (and ingest does not
	// keep them either): refused, not answered as successful.
	cutoff := lake.RetentionCutoff(store, now)
	res := &Result{Successful: []Successful{}, Failed: []Failed{}}
	var rows []lake.ActivityRow
	for _, e := range events {
		a, f := validate(ch, e)
		if f == nil && a.eventTime.Before(cutoff) {
			f = &Failed{ID: e.ID, ErrorCode: CodeInvalidData, ErrorMessage: fmt.Sprintf(
				"eventTime %s is outside the retention of store %q (%d days: events before %s are not kept)",
				a.eventTime.Format("2006-01-02T15:04:05Z"), store.Name, store.RetentionDays, cutoff.Format("2006-01-02T15:04:05Z"))}
		}
		if f != nil {
			res.Failed = append(res.Failed, *f)
			continue
		}
		row, err := a.row(ch, scope, e.ID, now)
		if err != nil {
			return nil, 0, err
		}
		rows = append(rows, row)
		res.Successful = append(res.Successful, Successful{ID: e.ID, EventID: row.EventID, Warning: a.warning})
	}
	if len(rows) == 0 {
		return res, 0, nil
	}
	written, err := commit(ctx, lk, store, rows, opts)
	if err != nil {
		return nil, 0, err
	}
	return res, written, nil
}

func commit(ctx context.Context, lk *lake.Lake, store lake.Store, rows []lake.ActivityRow, opts Options) (int64, error) {
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: opts.MemoryLimit, Threads: 1, TempDir: lk.TempDir()})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	w, err := lk.BeginWrite(store.ID)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	written, err := lake.WriteActivity(ctx, db, w, rows)
	if err != nil {
		return 0, fmt.Errorf("commit audit events to store %q: %w", store.Name, err)
	}
	// The events are committed; merging small files is housekeeping that the next call retries.
	if _, err := lake.Compact(ctx, db, w, false); err != nil {
		opts.Log.Warn("compact activity store", "store", store.Name, "err", err)
	}
	return written, nil
}
