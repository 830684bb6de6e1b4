package app

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/server"
)

// longQuery runs until it is cancelled (a count over a trillion rows).
const longQuery = `SELECT count(*) FROM range(1000000000000) t WHERE t.range = -1`

func newTestBackend(t *testing.T, o Options) *Backend {
	t.Helper()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := New(lk, o)
	t.Cleanup(func() { b.Close() })
	return b
}

// startLong starts n long queries of client and returns their results' channel once all of them
// hold a slot; cancel ends them.
func startLong(t *testing.T, b *Backend, client string, n int) (<-chan error, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(asOperator(client))
	done := make(chan error, n)
	for range n {
		go func() {
			_, err := b.Query(ctx, longQuery, 10)
			done <- err
		}()
	}
	for { // until they are admitted (no time limit: the test's own timeout bounds it)
		b.admit.mu.Lock()
		held := b.admit.clients[client]
		b.admit.mu.Unlock()
		if held == n {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(func() {
		cancel()
		for range n {
			<-done
		}
	})
	return done, cancel
}

func busyStatus(err error) int {
	var be *server.BusyError
	if errors.As(err, &be) && be.RetryAfter > 0 {
		return be.Status
	}
	return 0
}

// TestFourLongQueriesDoNotStarveSelectOne is issue 14 item 8: with four long queries running,
// SELECT 1 from another client completes before any of them finishes, and a fifth query from
// the client running the four is refused at once with 429.
func TestFourLongQueriesDoNotStarveSelectOne(t *testing.T) {
	b := newTestBackend(t, Options{MaxClientQueries: 4})
	long, _ := startLong(t, b, "192.0.2.1", 4)

	ctx := asOperator("192.0.2.2")
	res, err := b.Query(ctx, `SELECT 1 AS one`, 10)
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("SELECT 1 beside four long queries: %v, %v", res, err)
	}
	select {
	case err := <-long:
		t.Fatalf("a long query ended (%v) before SELECT 1 was answered: the test proves nothing", err)
	default:
	}
	_, err = b.Query(asOperator("192.0.2.1"), `SELECT 1`, 10)
	if busyStatus(err) != http.StatusTooManyRequests {
		t.Fatalf("fifth query of the client running four: got %v, want a 429 BusyError with Retry-After", err)
	}
	// Reports and table listings take the same way in.
	if _, err := b.Tables(ctx); err != nil {
		t.Fatalf("tables beside four long queries: %v", err)
	}
}

// TestALongQueryCannotHoldTheInteractiveLane: a long query that lands in the interactive lane
// is stopped with 503 when the lane's time is up, and the lane serves the next short query.
func TestALongQueryCannotHoldTheInteractiveLane(t *testing.T) {
	b := newTestBackend(t, Options{MaxQueries: 1, InteractiveTimeout: 2 * time.Second})
	general, _ := startLong(t, b, "192.0.2.1", 1)

	_, err := b.Query(asOperator("192.0.2.2"), longQuery, 10)
	if busyStatus(err) != http.StatusServiceUnavailable {
		t.Fatalf("long query in the interactive lane: got %v, want a 503 BusyError", err)
	}
	if _, err := b.Query(asOperator("192.0.2.3"), `SELECT 1`, 10); err != nil {
		t.Fatalf("SELECT 1 after the lane was freed: %v", err)
	}
	select {
	case err := <-general:
		t.Fatalf("the query in the general slot ended (%v): only the lane has a time limit", err)
	default:
	}
}

// TestRequestsBeyondTheQueueAre503: when every slot is busy and MaxWaiting requests wait, the
// next is refused at once.
func TestRequestsBeyondTheQueueAre503(t *testing.T) {
	b := newTestBackend(t, Options{MaxQueries: 1, InteractiveTimeout: time.Hour, MaxWaiting: 1})
	startLong(t, b, "192.0.2.1", 2) // the general slot and the lane
	waiter, cancel := context.WithCancel(asOperator("192.0.2.2"))
	waited := make(chan error, 1)
	go func() {
		_, err := b.Query(waiter, `SELECT 1`, 10)
		waited <- err
	}()
	for {
		b.admit.mu.Lock()
		w := b.admit.waiting
		b.admit.mu.Unlock()
		if w == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err := b.Query(asOperator("192.0.2.3"), `SELECT 1`, 10)
	if busyStatus(err) != http.StatusServiceUnavailable {
		t.Fatalf("request beyond a full queue: got %v, want a 503 BusyError", err)
	}
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: got %v, want context.Canceled", err)
	}
}

// TestIdleSessionIsReusedNotReopened is issue 21 item 3: the pool used to select on an idle
// session and a free token at once, and Go picks at random, so about half the requests opened
// a new session. Requests one after another must all use the first session.
func TestIdleSessionIsReusedNotReopened(t *testing.T) {
	b := newTestBackend(t, Options{})
	ctx := asOperator("192.0.2.1")
	for i := range 30 {
		if _, err := b.Query(ctx, `SELECT 1`, 10); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
	}
	if n := b.opened.Load(); n != 1 {
		t.Fatalf("30 requests one after another opened %d sessions, want 1", n)
	}
}
