package server

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// failureLimiter counts failed authentications per access key id and per client address in a
// sliding window: once one of them has its limit of failures within the window, every attempt
// with that key id or from that address is refused (429) until enough of them leave the window,
// even with the right secret, so a guesser learns nothing while it is blocked.
//
// Memory: entries whose failures all left the window are swept whenever a log has doubled since
// its last sweep (amortised constant time per failure), and a log never holds more than
// maxFailureEntries keys: past that, arbitrary entries are dropped. Filling it needs that many
// distinct failures within one window, and each address still gets at most its limit of guesses.
type failureLimiter struct {
	mu            sync.Mutex
	window        time.Duration
	byKey, byAddr *failureLog
	now           func() time.Time
	audit         failureAudit
}

// failureLog is the recent failures of each key (an access key id or an address).
type failureLog struct {
	limit   int
	m       map[string][]time.Time
	sweepAt int
}

const (
	minSweep          = 1024
	maxFailureEntries = 1 << 17
)

func newFailureLimiter(maxPerKey, maxPerAddr int, window time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{window: window, now: now,
		byKey:  &failureLog{limit: maxPerKey, m: map[string][]time.Time{}, sweepAt: minSweep},
		byAddr: &failureLog{limit: maxPerAddr, m: map[string][]time.Time{}, sweepAt: minSweep}}
}

// retryAfter says how long attempts with key id key (may be empty) from addr stay refused;
// zero when they are allowed.
func (l *failureLimiter) retryAfter(key, addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	wait := l.byAddr.wait(addr, now, l.window)
	if key != "" {
		wait = max(wait, l.byKey.wait(key, now, l.window))
	}
	return wait
}

// fail records a failed authentication at door with key (may be empty) from addr. A key longer
// than any access key id counts against the address alone, whichever door's check let it through
// (a login without a secret is refused before its key id is looked at): neither the limiter's
// memory nor the audit log keeps what a client made up.
func (l *failureLimiter) fail(door, key, addr string) {
	if len(key) > maxKeyIDLen {
		key = ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.byAddr.add(addr, now, l.window)
	if key != "" {
		l.byKey.add(key, now, l.window)
	}
	l.audit.note(Failure{Time: now, Door: door, KeyID: key, Addr: addr})
}

// recent drops the failures of k that left the window and returns the rest.
func (f *failureLog) recent(k string, now time.Time, window time.Duration) []time.Time {
	ts := f.m[k]
	i := 0
	for i < len(ts) && !now.Before(ts[i].Add(window)) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(f.m, k)
		return nil
	}
	f.m[k] = ts
	return ts
}

func (f *failureLog) wait(k string, now time.Time, window time.Duration) time.Duration {
	ts := f.recent(k, now, window)
	if len(ts) < f.limit {
		return 0
	}
	// Blocked until enough failures leave the window to go below the limit.
	return ts[len(ts)-f.limit].Add(window).Sub(now)
}

func (f *failureLog) add(k string, now time.Time, window time.Duration) {
	ts := append(f.recent(k, now, window), now)
	if len(ts) > f.limit {
		ts = ts[len(ts)-f.limit:] // only the newest failures decide when a block ends
	}
	f.m[k] = ts
	if len(f.m) < f.sweepAt {
		return
	}
	for k := range f.m {
		f.recent(k, now, window)
	}
	for k := range f.m {
		if len(f.m) <= maxFailureEntries {
			break
		}
		delete(f.m, k)
	}
	f.sweepAt = max(minSweep, 2*len(f.m))
}

// FailureLimiter is one failed-authentication limit that several doors of a process share (the
// JSON API and dashboard through Options.Failures, the AWS API's signatures, the Postgres
// door's SCRAM logins), so that a guesser's failures at one door count at every other: a key id
// or an address over its limit is refused at all of them.
type FailureLimiter struct{ l *failureLimiter }

// NewFailureLimiter makes a FailureLimiter with o's limits (LoginFailuresPerKey,
// LoginFailuresPerAddress, LoginFailureWindow; their defaults where zero).
func NewFailureLimiter(o Options) *FailureLimiter {
	o = o.withDefaults()
	return &FailureLimiter{newFailureLimiter(o.LoginFailuresPerKey, o.LoginFailuresPerAddress, o.LoginFailureWindow, time.Now)}
}

// RetryAfter says how long authentications with access key id keyID (may be empty) from
// address addr stay refused; zero when they are allowed.
func (f *FailureLimiter) RetryAfter(keyID, addr string) time.Duration {
	if len(keyID) > maxKeyIDLen {
		keyID = ""
	}
	return f.l.retryAfter(keyID, addr)
}

// Fail records a failed authentication at door (access.DoorAWS, …) with keyID (may be empty;
// one longer than any key id counts against the address alone) from addr.
func (f *FailureLimiter) Fail(door, keyID, addr string) {
	if len(keyID) > maxKeyIDLen {
		keyID = ""
	}
	f.l.fail(door, keyID, addr)
}

// Failure is a failed authentication, as the limiter reports it to be audited (Report).
type Failure struct {
	Time time.Time
	// Door is where it was tried (access.DoorAPI, DoorDashboard, DoorChannel, DoorAWS,
	// DoorPostgres); in a summary (More > 0), the doors of the failures it counts, joined by
	// commas.
	Door string
	// KeyID is the access key id it named: "" when it named none, or one longer than any key id.
	KeyID, Addr string
	// More, when not 0, makes this a summary: More failures of the minute that ends at Time
	// were past the minute's MaxReportedFailures and not reported one by one.
	More int
}

// MaxReportedFailures is the most failed authentications a minute that Report's function is
// given one by one; the others of the minute are counted and reported in one summary as the
// minute ends. The limits per key id and address already bound one guesser's failures; this
// bounds what clients from many addresses, unauthenticated, can add to the audit log (which
// never drops an entry): at most MaxReportedFailures+1 records a minute.
const MaxReportedFailures = 60

// Report gives fn every failed authentication at the doors sharing f (at most
// MaxReportedFailures a minute, then a summary), for the audit log. fn is called with f's lock
// held, so it must not call f; set it before the doors start.
func (f *FailureLimiter) Report(fn func(Failure)) {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	f.l.audit.report = fn
	f.l.audit.lock = &f.l.mu
}

// Close reports at once the summary of the current minute's failures not reported one by one,
// if any (the process is about to end: the summary would be lost).
func (f *FailureLimiter) Close() {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	f.l.audit.flush()
}

// failureAudit passes failed authentications to report, at most MaxReportedFailures in each
// minute; a minute's others are counted and reported in one summary by a timer at its end
// (or by flush). Guarded by the limiter's lock (lock).
type failureAudit struct {
	report func(Failure)
	lock   *sync.Mutex
	minute time.Time // the start of the minute counted
	n      int       // failures of that minute
	doors  map[string]int
	timer  *time.Timer
}

func (a *failureAudit) note(f Failure) {
	if a.report == nil {
		return
	}
	if m := f.Time.Truncate(time.Minute); !m.Equal(a.minute) {
		a.flush()
		a.minute, a.n = m, 0
	}
	a.n++
	if a.n <= MaxReportedFailures {
		a.report(f)
		return
	}
	if a.doors == nil {
		a.doors = map[string]int{}
		end := a.minute.Add(time.Minute)
		a.timer = time.AfterFunc(time.Until(end), func() {
			a.lock.Lock()
			defer a.lock.Unlock()
			if a.minute.Add(time.Minute).Equal(end) {
				a.flush()
			}
		})
	}
	a.doors[f.Door]++
}

// flush reports the summary of the minute counted, if it has one.
func (a *failureAudit) flush() {
	if a.doors == nil {
		return
	}
	a.timer.Stop()
	doors := slices.Sorted(maps.Keys(a.doors))
	more := 0
	for _, d := range doors {
		more += a.doors[d]
	}
	a.report(Failure{Time: a.minute.Add(time.Minute), Door: strings.Join(doors, ","), More: more})
	a.doors, a.timer = nil, nil
}
