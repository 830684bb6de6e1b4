// Package collect keeps stores current from declared sources: S3 prefixes polled at an interval
// (CloudTrail and Config by their key layouts, listing only what is after the position each
// account/region prefix got to; cost reports by their manifests) and SQS queues of S3 or
// CloudTrail notifications. Every file goes through the ingest package's pipeline, the same
// atomic, deduplicating commit as `auditlake ingest`; a source's position advances only after
// the commit that holds the files it covers.
//
// Sources are declared in <data>/sources/sources.json; each source's position and status live in
// <data>/sources/state/<name>.json. Both are replaced atomically (package atomicfile).
package collect

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
)

// Source types.
const (
	TypeCloudTrail = "cloudtrail"
	TypeConfig     = "config"
	TypeCUR        = "cur"
)

// Source is one declared source.
type Source struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// StoreID and Store name the event data store (CloudTrail and Config sources); Table is
	// the cost table "DATABASE.TABLE" (cur sources).
	StoreID string `json:"store_id,omitempty"`
	Store   string `json:"store,omitempty"`
	Table   string `json:"table,omitempty"`
	// URI is the S3 prefix polled (s3://bucket/prefix/); may be empty for a queue-only source.
	URI string `json:"uri,omitempty"`
	// QueueURL is an SQS queue of S3 event or CloudTrail notifications.
	QueueURL string `json:"sqs_queue_url,omitempty"`
	// Every is the polling interval (for a queue source: of the reconciling poll).
	Every       Duration  `json:"every"`
	Profile     string    `json:"profile,omitempty"`
	Region      string    `json:"region,omitempty"`
	EndpointURL string    `json:"endpoint_url,omitempty"`
	From        time.Time `json:"from,omitzero"`
	Paused      bool      `json:"paused,omitempty"`
	Created     time.Time `json:"created"`
}

// Target is what the source feeds: the store's name or the cost table.
func (s Source) Target() string {
	if s.Type == TypeCUR {
		return s.Table
	}
	return s.Store
}

// Duration is a time.Duration written as "1m0s" in JSON.
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Registry is the sources of one data directory.
type Registry struct{ dir string }

// Open returns the registry of dataDir (nothing is created until a source is added).
func Open(dataDir string) *Registry { return &Registry{dir: filepath.Join(dataDir, "sources")} }

// Dir is <data>/sources.
func (r *Registry) Dir() string { return r.dir }

func (r *Registry) path() string { return filepath.Join(r.dir, "sources.json") }
func (r *Registry) lock() string { return filepath.Join(r.dir, "sources.lock") }
func (r *Registry) statePath(name string) string {
	return filepath.Join(r.dir, "state", name+".json")
}

type registryFile struct {
	Sources []Source `json:"sources"`
}

// ErrNotFound is returned (wrapped) for a source name the registry does not hold.
var ErrNotFound = errors.New("no such source")

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidName reports whether name may name a source (it names a state file too).
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("source name %q: use letters, digits, '.', '_' and '-' (at most 128, not starting with a symbol)", name)
	}
	return nil
}

// List returns the sources in name order.
func (r *Registry) List() ([]Source, error) {
	var f registryFile
	if err := atomicfile.ReadJSON(r.path(), &f); err != nil {
		return nil, err
	}
	slices.SortFunc(f.Sources, func(a, b Source) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return f.Sources, nil
}

// Get returns the source called name.
func (r *Registry) Get(name string) (Source, error) {
	srcs, err := r.List()
	if err != nil {
		return Source{}, err
	}
	for _, s := range srcs {
		if s.Name == name {
			return s, nil
		}
	}
	return Source{}, fmt.Errorf("%w %q (auditlake source list shows them)", ErrNotFound, name)
}

// Add records a new source; its name must be free.
func (r *Registry) Add(s Source) error {
	if err := ValidName(s.Name); err != nil {
		return err
	}
	return atomicfile.UpdateJSON(r.path(), r.lock(), func(f *registryFile) error {
		for _, o := range f.Sources {
			if o.Name == s.Name {
				return fmt.Errorf("source %q exists already (auditlake source remove %s first)", s.Name, s.Name)
			}
		}
		f.Sources = append(f.Sources, s)
		return nil
	})
}

// SetPaused pauses or resumes a source.
func (r *Registry) SetPaused(name string, paused bool) error {
	return atomicfile.UpdateJSON(r.path(), r.lock(), func(f *registryFile) error {
		for i := range f.Sources {
			if f.Sources[i].Name == name {
				f.Sources[i].Paused = paused
				return nil
			}
		}
		return fmt.Errorf("%w %q", ErrNotFound, name)
	})
}

// Remove forgets a source and its position (the events it collected stay in the store).
func (r *Registry) Remove(name string) error {
	err := atomicfile.UpdateJSON(r.path(), r.lock(), func(f *registryFile) error {
		n := len(f.Sources)
		f.Sources = slices.DeleteFunc(f.Sources, func(s Source) bool { return s.Name == name })
		if len(f.Sources) == n {
			return fmt.Errorf("%w %q", ErrNotFound, name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Under the state's lock: a poll in flight that saves the state afterwards finds the
	// source gone and saves nothing (UpdateState).
	unlock, err := atomicfile.Lock(r.statePath(name)+".lock", syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(r.statePath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// State is a source's position and status, written by the collector.
type State struct {
	// Positions maps each account/region prefix (for Config, its year/month/day layout's
	// prefix) to the last key committed from it: the next poll lists after it.
	Positions map[string]string `json:"positions,omitempty"`
	// Prefixes are the account/region prefixes found under the source's URI, and when.
	Prefixes     []string  `json:"prefixes,omitempty"`
	DiscoveredAt time.Time `json:"discovered_at,omitzero"`
	// Manifests maps each object of a cost report (manifests and data files) to the version
	// registered (cur sources): a change registers the table again.
	Manifests map[string]string `json:"manifests,omitempty"`

	LastRun     time.Time `json:"last_run,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	// CaughtUp is when the last successful poll started: everything in the bucket before it
	// is in the store.
	CaughtUp    time.Time `json:"caught_up,omitzero"`
	LastFile    string    `json:"last_file,omitempty"`
	Files       int64     `json:"files_added"`
	Events      int64     `json:"events_added"`
	Bytes       int64     `json:"bytes_read"`
	Errors      int64     `json:"errors"`
	Requests    int64     `json:"s3_requests"`
	Messages    int64     `json:"messages_deleted,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Failing counts the polls that failed in a row (0: the last one worked); it spaces the
	// next attempts out (backoff).
	Failing int `json:"failing,omitempty"`
	// RunProblems counts the problems of the last poll or receive (bad files, malformed
	// messages, gone objects): the source works, but not everything it was given.
	RunProblems int           `json:"run_problems,omitempty"`
	PollTime    time.Duration `json:"poll_ns,omitempty"`
	Problems    []string      `json:"problems,omitempty"` // the latest problems (bad files, messages), newest last
	LastPolled  int           `json:"last_poll_requests,omitempty"`
	// FailedFiles are the objects whose last read failed, oldest failure first: read again on
	// a backoff, given up after a few reads of one version (failed.go).
	FailedFiles []FailedFile `json:"failed_files,omitempty"`
}

// maxProblems is how many problems a state keeps.
const maxProblems = 20

func (st *State) problem(msg string) {
	st.Problems = append(st.Problems, msg)
	if n := len(st.Problems) - maxProblems; n > 0 {
		st.Problems = slices.Delete(st.Problems, 0, n)
	}
}

// ReadState returns a source's state (empty before its first run).
func (r *Registry) ReadState(name string) (State, error) {
	var st State
	err := atomicfile.ReadJSON(r.statePath(name), &st)
	return st, err
}

// errRemoved stops UpdateState from saving the state of a source that is no longer registered.
var errRemoved = errors.New("source removed")

// UpdateState applies fn to src's state and saves it, unless src was removed (or removed and
// added again: another Created or store) since the caller read it. The registry is checked
// under the state's lock, which Remove holds to delete the state: a poll that ends after a
// `source remove` does not write the forgotten position back for a source added again
// under the name.
func (r *Registry) UpdateState(src Source, fn func(*State)) error {
	err := atomicfile.UpdateJSON(r.statePath(src.Name), r.statePath(src.Name)+".lock", func(st *State) error {
		now, err := r.Get(src.Name)
		switch {
		case errors.Is(err, ErrNotFound):
			return errRemoved
		case err != nil:
			return err
		case !now.Created.Equal(src.Created) || now.StoreID != src.StoreID:
			return errRemoved
		}
		fn(st)
		return nil
	})
	if errors.Is(err, errRemoved) {
		return nil
	}
	return err
}

// Status is a source with its state, as `source list` and the API show it.
type Status struct {
	Source
	State
	// Status is "ok", "problems" (the last run found bad files or messages, or failed files
	// wait to be read again), "error" (the last run failed), "paused" or "never run".
	Status string `json:"status"`
	// Lag is how far behind the bucket the store may be: the time since the start of the last
	// successful poll (everything delivered before it is in the store).
	Lag time.Duration `json:"lag_ns"`
}

// Statuses returns every source with its state, in name order.
func (r *Registry) Statuses(now time.Time) ([]Status, error) {
	srcs, err := r.List()
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(srcs))
	for _, s := range srcs {
		st, err := r.ReadState(s.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, statusOf(s, st, now))
	}
	return out, nil
}

func statusOf(s Source, st State, now time.Time) Status {
	v := Status{Source: s, State: st}
	switch {
	case s.Paused:
		v.Status = "paused"
	case st.LastRun.IsZero():
		v.Status = "never run"
	case st.Failing > 0:
		v.Status = "error"
	case st.RunProblems > 0 || slices.ContainsFunc(st.FailedFiles, func(f FailedFile) bool { return !f.GaveUp() }):
		v.Status = "problems"
	default:
		v.Status = "ok"
	}
	if !st.CaughtUp.IsZero() {
		v.Lag = now.Sub(st.CaughtUp).Round(time.Second)
	}
	return v
}
