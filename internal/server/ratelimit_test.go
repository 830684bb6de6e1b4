package server

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFailureLimiterForgetsFailuresThatLeftTheWindow: failures from ever new addresses and key
// ids (an attacker spreading its guesses) do not grow the limiter's memory past what the
// window holds, and a block ends when its failures leave the window.
func TestFailureLimiterForgetsFailuresThatLeftTheWindow(t *testing.T) {
	now := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	l := newFailureLimiter(5, 20, time.Minute, func() time.Time { return now })
	const n = 3 * minSweep
	for i := range n {
		l.fail("api", fmt.Sprintf("ALAK%016d", i), fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if got := len(l.byKey.m) + len(l.byAddr.m); got != 2*n {
		t.Fatalf("within the window the limiter holds %d entries, want every failure's key and address (%d)", got, 2*n)
	}
	// The next sweep (when a log has doubled) drops every failure that left the window.
	now = now.Add(time.Minute)
	for i := range n {
		l.fail("api", fmt.Sprintf("ALAKNEW%013d", i), fmt.Sprintf("10.1.%d.%d", i/256, i%256))
	}
	if got := len(l.byKey.m) + len(l.byAddr.m); got > 2*n {
		t.Errorf("after the window the limiter holds %d entries, want at most the %d of the new window", got, 2*n)
	}
	for range 5 {
		l.fail("api", "ALAKLAST", "10.9.9.9")
	}
	if wait := l.retryAfter("ALAKLAST", "10.1.1.1"); wait != time.Minute {
		t.Errorf("after 5 failures the key waits %s, want the whole window", wait)
	}
	now = now.Add(time.Minute)
	if wait := l.retryAfter("ALAKLAST", "10.9.9.9"); wait != 0 {
		t.Errorf("after the window the key still waits %s", wait)
	}
}

// Every failed authentication is reported for the audit log, one by one up to
// MaxReportedFailures a minute; past it (clients at many addresses), the rest of the minute is
// one summary with their count and doors, reported as the minute ends or at Close — never lost,
// never one record each.
func TestFailedAuthenticationsAreReportedOneByOneThenSummarized(t *testing.T) {
	start := time.Now().Add(time.Hour).Truncate(time.Minute) // its timer would fire in an hour: Close reports
	now := start.Add(10 * time.Second)
	f := &FailureLimiter{newFailureLimiter(5, 20, time.Minute, func() time.Time { return now })}
	var mu sync.Mutex
	var got []Failure
	f.Report(func(x Failure) { mu.Lock(); got = append(got, x); mu.Unlock() })
	f.Fail("pg", "ALAKGUESS", "10.0.0.1")
	f.Fail("aws", strings.Repeat("K", maxKeyIDLen+1), "10.0.0.2")
	if len(got) != 2 || got[0] != (Failure{Time: now, Door: "pg", KeyID: "ALAKGUESS", Addr: "10.0.0.1"}) || got[1].KeyID != "" || got[1].Door != "aws" {
		t.Fatalf("reported %+v, want each failure with its door, key id (none when too long) and address", got)
	}
	for i := range MaxReportedFailures + 10 {
		door := "api"
		if i%2 == 0 {
			door = "pg"
		}
		f.Fail(door, "", fmt.Sprintf("10.1.%d.%d", i/256, i%256))
	}
	if len(got) != MaxReportedFailures {
		t.Fatalf("reported %d failures in the minute, want %d one by one and the rest held for a summary", len(got), MaxReportedFailures)
	}
	f.Close()
	last := got[len(got)-1]
	if len(got) != MaxReportedFailures+1 || last.More != 12 || last.Door != "api,pg" || !last.Time.Equal(start.Add(time.Minute)) {
		t.Fatalf("the summary is %+v (%d reports), want 12 more at api,pg at the minute's end", last, len(got))
	}
	f.Close()
	if len(got) != MaxReportedFailures+1 {
		t.Fatalf("a second Close reported again: %d reports", len(got))
	}
	// Another minute reports one by one again; its summary comes from the timer at its end
	// (a minute already over on the real clock the timer uses: it fires at once).
	now = time.Now().Add(-time.Minute)
	for range MaxReportedFailures + 1 {
		f.Fail("web", "", "10.2.0.1")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2*MaxReportedFailures+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reports after the second minute ended, want its %d and its summary", n, MaxReportedFailures)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := got[len(got)-1]; s.More != 1 || s.Door != "web" {
		t.Fatalf("the timer's summary is %+v, want 1 more at web", s)
	}
}
