package ingest

import (
	"context"
	"sync"
)

// budget bounds the bytes of decoded records an ingest holds (cloudtrail.Record.MemSize): a
// decode worker takes a record's size before passing it on, and the batch holding it gives it
// back once its files are written. A worker that cannot take it first sends the records it
// holds (asking for the batch to be handed over early), then waits. A request larger than the
// whole budget is granted when nothing else is held, so one huge record still goes through.
type budget struct {
	mu   sync.Mutex
	max  int64
	used int64
	wake chan struct{} // closed and replaced at every release
}

func newBudget(max int64) *budget {
	return &budget{max: max, wake: make(chan struct{})}
}

// tryAcquire takes n bytes if they are free.
func (b *budget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n <= b.max || b.used == 0 {
		b.used += n
		return true
	}
	return false
}

// acquire takes n bytes, waiting until they are free or ctx is done.
func (b *budget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used+n <= b.max || b.used == 0 {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release gives back n bytes.
func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}
