package server

import (
	"fmt"
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
		l.fail(fmt.Sprintf("ALAK%016d", i), fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if got := len(l.byKey.m) + len(l.byAddr.m); got != 2*n {
		t.Fatalf("within the window the limiter holds %d entries, want every failure's key and address (%d)", got, 2*n)
	}
	// The next sweep (when a log has doubled) drops every failure that left the window.
	now = now.Add(time.Minute)
	for i := range n {
		l.fail(fmt.Sprintf("ALAKNEW%013d", i), fmt.Sprintf("10.1.%d.%d", i/256, i%256))
	}
	if got := len(l.byKey.m) + len(l.byAddr.m); got > 2*n {
		t.Errorf("after the window the limiter holds %d entries, want at most the %d of the new window", got, 2*n)
	}
	for range 5 {
		l.fail("ALAKLAST", "10.9.9.9")
	}
	if wait := l.retryAfter("ALAKLAST", "10.1.1.1"); wait != time.Minute {
		t.Errorf("after 5 failures the key waits %s, want the whole window", wait)
	}
	now = now.Add(time.Minute)
	if wait := l.retryAfter("ALAKLAST", "10.9.9.9"); wait != 0 {
		t.Errorf("after the window the key still waits %s", wait)
	}
}
