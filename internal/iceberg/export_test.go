package iceberg

import (
	"testing"
	"time"
)

// SetClock makes eviction read now as the time until the test ends.
func SetClock(t testing.TB, now time.Time) {
	old := clock
	clock = func() time.Time { return now }
	t.Cleanup(func() { clock = old })
}

// WaitEarlyUploads waits for every upload this process started ahead of a commit.
func WaitEarlyUploads() {
	early.Lock()
	var all []*earlyUpload
	for _, e := range early.m {
		all = append(all, e)
	}
	early.Unlock()
	for _, e := range all {
		<-e.done
	}
}

// ForgetEarlyUploads forgets the uploads ahead of a commit, as a process that dies does.
func ForgetEarlyUploads() {
	WaitEarlyUploads()
	early.Lock()
	early.m = nil
	early.Unlock()
}

// EarlyUploads is how many uploads ahead of a commit this process remembers.
func EarlyUploads() int {
	early.Lock()
	defer early.Unlock()
	return len(early.m)
}

// ClockAt makes the package read now as the time until restore is called.
func ClockAt(now time.Time) (restore func()) {
	old := clock
	clock = func() time.Time { return now }
	return func() { clock = old }
}

// SetSnapshotCap bounds the snapshots a table keeps to max, expired past max+slack, until the
// test ends.
func SetSnapshotCap(t testing.TB, max, slack int) {
	oldMax, oldSlack := MaxSnapshots, snapshotSlack
	MaxSnapshots, snapshotSlack = max, slack
	t.Cleanup(func() { MaxSnapshots, snapshotSlack = oldMax, oldSlack })
}

// SetLedgerSpillAt sets how many retired objects an upload ledger lists before they go to a
// segment, until the test ends.
func SetLedgerSpillAt(t testing.TB, n int) {
	old := ledgerSpillAt
	ledgerSpillAt = n
	t.Cleanup(func() { ledgerSpillAt = old })
}
