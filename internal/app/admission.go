package app

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/auditlake/auditlake/internal/server"
)

// admission decides which requests that need a query session may run. Long queries cannot
// starve everyone: besides the general slots there are lane slots, which a request takes only
// when every general slot is busy and which it may hold for at most laneTimeout — so a short
// query (SELECT 1, the dashboard's stores) gets through while four long ones run, and a long
// query that lands in a lane is stopped with a 503 instead of filling it. A client (the remote
// address, later the principal) may have at most perClient requests running or waiting (429
// beyond); at most maxWaiting requests wait for a slot (503 beyond).
type admission struct {
	general, lanes, perClient, maxWaiting int
	laneTimeout                           time.Duration

	mu      sync.Mutex
	running int            // requests in general slots
	inLane  int            // requests in lane slots
	waiting int            // requests waiting for a slot
	clients map[string]int // requests running or waiting, per client
	freed   chan struct{}  // closed (and replaced) whenever a slot frees
}

func newAdmission(o Options) *admission {
	return &admission{general: o.MaxQueries, lanes: o.InteractiveLanes, perClient: o.MaxClientQueries,
		maxWaiting: o.MaxWaiting, laneTimeout: o.InteractiveTimeout,
		clients: map[string]int{}, freed: make(chan struct{})}
}

// ticket is an admitted request.
type ticket struct {
	client string
	lane   bool
}

// retryAfter is what a refused request is told to wait.
const retryAfter = 2 * time.Second

// acquire admits a request of client, waiting for a slot while ctx lasts. A request that may
// not take a lane (lane false: a page of several queries, which the lane's time limit would
// cut short) waits for a general slot.
func (a *admission) acquire(ctx context.Context, client string, lane bool) (ticket, error) {
	a.mu.Lock()
	if a.perClient > 0 && a.clients[client] >= a.perClient {
		a.mu.Unlock()
		return ticket{}, &server.BusyError{Status: http.StatusTooManyRequests, RetryAfter: retryAfter,
			Msg: fmt.Sprintf("too many queries from %s at once: at most %d may run or wait per client (serve --max-client-queries); retry when one has finished", client, a.perClient)}
	}
	a.clients[client]++
	for {
		switch {
		case a.running < a.general:
			a.running++
			a.mu.Unlock()
			return ticket{client: client}, nil
		case lane && a.inLane < a.lanes:
			a.inLane++
			a.mu.Unlock()
			return ticket{client: client, lane: true}, nil
		case a.waiting >= a.maxWaiting:
			a.leave(client)
			a.mu.Unlock()
			return ticket{}, &server.BusyError{Status: http.StatusServiceUnavailable, RetryAfter: retryAfter,
				Msg: fmt.Sprintf("the server is busy: %d queries are running and %d waiting; retry later", a.running+a.inLane, a.waiting)}
		}
		a.waiting++
		freed := a.freed
		a.mu.Unlock()
		select {
		case <-freed:
			a.mu.Lock()
			a.waiting--
		case <-ctx.Done():
			a.mu.Lock()
			a.waiting--
			a.leave(client)
			a.mu.Unlock()
			return ticket{}, ctx.Err()
		}
	}
}

// release frees t's slot and wakes the waiting requests.
func (a *admission) release(t ticket) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t.lane {
		a.inLane--
	} else {
		a.running--
	}
	a.leave(t.client)
	close(a.freed)
	a.freed = make(chan struct{})
}

// leave forgets one request of client; a.mu is held.
func (a *admission) leave(client string) {
	if a.clients[client]--; a.clients[client] <= 0 {
		delete(a.clients, client)
	}
}

// pageBusy is the error of a page whose queries waited for a general slot for wait (the part of
// its time it may spend waiting) and were not admitted.
func (a *admission) pageBusy(wait time.Duration) error {
	return &server.BusyError{Status: http.StatusServiceUnavailable, RetryAfter: retryAfter,
		Msg: fmt.Sprintf("the server is busy: this page's queries waited %s for a query session and none was free; retry later", wait.Round(time.Second))}
}

// laneBusy is the error of a request stopped for holding a lane too long.
func (a *admission) laneBusy() error {
	return &server.BusyError{Status: http.StatusServiceUnavailable, RetryAfter: retryAfter,
		Msg: fmt.Sprintf("the server is busy with %d long queries; this request ran in the interactive lane, which allows %s, and was stopped; retry later or shorten it (WHERE, LIMIT)", a.general, a.laneTimeout)}
}

// Admitted is how many requests hold a query session and how many wait for one, for
// monitoring and tests.
func (b *Backend) Admitted() (running, waiting int) {
	a := b.admit
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running + a.inLane, a.waiting
}
