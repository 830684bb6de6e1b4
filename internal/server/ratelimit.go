package server

import (
	"sync"
	"time"
)

// failureLimiter counts failed authentications per access key id and per client address in a
// sliding window: once one of them has max failures within the window, every attempt with that
// key id or from that address is refused (429) until the oldest of them leaves the window, even
// with the right secret, so a guesser learns nothing from the answers while it is blocked.
//
// Memory is bounded by the window: entries whose failures all left it are swept once a map
// grows past sweepAt. An attacker with many addresses and many key ids fills the maps only as
// fast as it fails, and each address still gets at most maxPerAddr guesses per window.
type failureLimiter struct {
	mu                    sync.Mutex
	maxPerKey, maxPerAddr int
	window                time.Duration
	byKey, byAddr         map[string][]time.Time
	now                   func() time.Time
}

const sweepAt = 10000

func newFailureLimiter(maxPerKey, maxPerAddr int, window time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{maxPerKey: maxPerKey, maxPerAddr: maxPerAddr, window: window,
		byKey: map[string][]time.Time{}, byAddr: map[string][]time.Time{}, now: now}
}

// retryAfter says how long attempts with key id key (may be empty) from addr stay refused;
// zero when they are allowed.
func (l *failureLimiter) retryAfter(key, addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	wait := l.wait(l.byAddr, addr, l.maxPerAddr, now)
	if key != "" {
		wait = max(wait, l.wait(l.byKey, key, l.maxPerKey, now))
	}
	return wait
}

// fail records a failed authentication with key (may be empty) from addr.
func (l *failureLimiter) fail(key, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.add(l.byAddr, addr, l.maxPerAddr, now)
	if key != "" {
		l.add(l.byKey, key, l.maxPerKey, now)
	}
}

// recent drops the failures of k that left the window and returns the rest.
func (l *failureLimiter) recent(m map[string][]time.Time, k string, now time.Time) []time.Time {
	ts := m[k]
	i := 0
	for i < len(ts) && !now.Before(ts[i].Add(l.window)) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(m, k)
		return nil
	}
	m[k] = ts
	return ts
}

func (l *failureLimiter) wait(m map[string][]time.Time, k string, limit int, now time.Time) time.Duration {
	ts := l.recent(m, k, now)
	if len(ts) < limit {
		return 0
	}
	// Blocked until enough failures leave the window to go below the limit.
	return ts[len(ts)-limit].Add(l.window).Sub(now)
}

func (l *failureLimiter) add(m map[string][]time.Time, k string, limit int, now time.Time) {
	ts := append(l.recent(m, k, now), now)
	if len(ts) > limit {
		ts = ts[len(ts)-limit:] // only the newest limit failures decide when the block ends
	}
	m[k] = ts
	if len(m) > sweepAt {
		for k := range m {
			l.recent(m, k, now)
		}
	}
}
