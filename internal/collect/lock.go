package collect

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
)

// Holder says which process collects a data directory's sources.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
}

// HeldError refuses a second collector: another process holds the collection lock.
type HeldError struct{ Holder Holder }

func (e *HeldError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return "the sources are collected by another process already (its pid is not recorded yet)"
	}
	return fmt.Sprintf("the sources are collected by another process already: pid %d on host %s, since %s",
		h.PID, h.Host, h.Started.Format(time.RFC3339))
}

// Lock makes this process the data directory's one collector (an flock on
// <data>/sources/collect.lock, released by the returned function or the process's end), or
// returns a *HeldError naming the process that is. One collector per data directory means one
// per store: two would both list, download and dedupe the same files.
func (r *Registry) Lock() (release func(), err error) {
	path := filepath.Join(r.dir, "collect.lock")
	unlock, err := atomicfile.Lock(path, syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		var h Holder
		_ = atomicfile.ReadJSON(r.holderPath(), &h)
		return nil, &HeldError{Holder: h}
	}
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Started: time.Now().UTC()})
	if err := atomicfile.Write(r.holderPath(), b); err != nil {
		unlock()
		return nil, err
	}
	return func() {
		os.Remove(r.holderPath())
		unlock()
	}, nil
}

func (r *Registry) holderPath() string { return filepath.Join(r.dir, "collect.holder") }
