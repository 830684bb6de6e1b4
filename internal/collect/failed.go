package collect

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/objstore"
)

// FailedFile is an object whose read failed (cut short, not JSON, bad records, gone between its
// listing and its read): its good records were committed, the rest were not. A source reads it
// again on a backoff — at its next run, then 1, 2, 4 … 32 minutes after the last attempt —
// whether a poll still lists it or it came from a notification, until it reads whole; after
// maxAttempts failed reads of one version it gives up on that version (NextAttempt zero) and
// keeps it listed here: a changed object (another ETag) is read again at once.
type FailedFile struct {
	URI         string    `json:"uri"`
	Version     string    `json:"version"`
	Reason      string    `json:"reason"`
	Attempts    int       `json:"attempts"`
	FirstFailed time.Time `json:"first_failed"`
	LastAttempt time.Time `json:"last_attempt"`
	// NextAttempt is when it is read again; zero once given up.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

// GaveUp says whether the source stopped reading this version of the object.
func (f FailedFile) GaveUp() bool { return f.NextAttempt.IsZero() }

const (
	// maxAttempts is how many failed reads of one version of an object a source makes.
	maxAttempts = 8
	// maxFailedFiles bounds the failed files a state keeps: past it the oldest failures are
	// forgotten, each with a problem that says so.
	maxFailedFiles = 1000
)

// retryDelay is the wait after the n-th failed read before the next one.
func retryDelay(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	return time.Minute << min(n-2, 5)
}

// failedFile returns the state's entry for uri, or nil.
func (st *State) failedFile(uri string) *FailedFile {
	for i := range st.FailedFiles {
		if st.FailedFiles[i].URI == uri {
			return &st.FailedFiles[i]
		}
	}
	return nil
}

// held says whether object o is a failed one not yet due again at now: a run leaves it out.
func (st *State) held(o objstore.Object, now time.Time) bool {
	f := st.failedFile(o.URI)
	return f != nil && f.Version == o.Version() && (f.GaveUp() || now.Before(f.NextAttempt))
}

// dueFailures returns the failed objects due again at now that are not in have (the run reads
// those already), as they are now (a version changed since is read too), and the ones gone.
func (c *Collector) dueFailures(ctx context.Context, st State, cl *objstore.Client, have map[string]bool, now time.Time) ([]objstore.Object, []string, error) {
	var due []objstore.Object
	var gone []string
	for _, f := range st.FailedFiles {
		if f.GaveUp() || now.Before(f.NextAttempt) || have[f.URI] {
			continue
		}
		o, _, err := cl.Stat(ctx, f.URI)
		if err != nil {
			if objstore.Classify(err) == objstore.FailNotFound {
				gone = append(gone, f.URI)
				continue
			}
			return nil, nil, err
		}
		due = append(due, o)
	}
	return due, gone, nil
}

// failures is what one run learnt of the objects it read: the failed ones with their reason,
// the ones read whole, and the failed ones found gone.
type failures struct {
	failed map[string]string
	read   []objstore.Object
	gone   []string
}

// failuresOf are the failures of objs in an ingest's summary (its Error problems, the first of
// each file).
func failuresOf(objs []objstore.Object, sum *ingest.Summary) failures {
	f := failures{failed: map[string]string{}, read: objs}
	for _, p := range sum.Problems {
		if p.Severity == cloudtrail.Error && f.failed[p.File] == "" {
			f.failed[p.File] = p.Msg
		}
	}
	return f
}

// note records a run's failures on the state at now; problem records what it gives up or
// forgets.
func (st *State) note(fs failures, now time.Time, problem func(string)) {
	for _, o := range fs.read {
		reason, bad := fs.failed[o.URI]
		cur := st.failedFile(o.URI)
		switch {
		case !bad:
			if cur != nil {
				st.FailedFiles = slices.DeleteFunc(st.FailedFiles, func(f FailedFile) bool { return f.URI == o.URI })
			}
			continue
		case cur == nil:
			st.FailedFiles = append(st.FailedFiles, FailedFile{URI: o.URI, FirstFailed: now})
			cur = &st.FailedFiles[len(st.FailedFiles)-1]
		case cur.Version != o.Version():
			*cur = FailedFile{URI: o.URI, FirstFailed: now}
		}
		cur.Version, cur.Reason, cur.LastAttempt = o.Version(), reason, now
		cur.Attempts++
		cur.NextAttempt = time.Time{}
		if cur.Attempts < maxAttempts {
			cur.NextAttempt = now.Add(retryDelay(cur.Attempts))
		} else {
			problem(fmt.Sprintf("%s: gave up after %d failed reads (%s); it is read again when it changes", o.URI, cur.Attempts, reason))
		}
	}
	for _, uri := range fs.gone {
		st.FailedFiles = slices.DeleteFunc(st.FailedFiles, func(f FailedFile) bool { return f.URI == uri })
		problem(fmt.Sprintf("%s: failed before and is gone now: no longer read", uri))
	}
	if n := len(st.FailedFiles) - maxFailedFiles; n > 0 {
		for _, f := range st.FailedFiles[:n] {
			problem(fmt.Sprintf("%s: forgotten among more than %d failed files (%s)", f.URI, maxFailedFiles, f.Reason))
		}
		st.FailedFiles = slices.Delete(st.FailedFiles, 0, n)
	}
}
