package ingest

import "sync"

// budget bounds the bytes of decoded records an ingest holds (cloudtrail.Record.MemSize): a
// decode worker takes a record's size before passing it on, and the batch holding it gives it
// back once its files are written. A worker that cannot take it first sends the records it
// holds with a request to hand the batch over early (granted while the committer is idle), then
// waits, and asks again at every wake-up. A request larger than the whole budget is granted
// when nothing else is held, so one huge record still goes through.
type budget struct {
	mu   sync.Mutex
	max  int64
	used int64
	wake chan struct{} // closed and replaced at every release
}

func newBudget(max int64) *budget {
	return &budget{max: max, wake: make(chan struct{})}
}

// tryAcquire takes n bytes if they are free; if not, it returns a channel closed at the next
// release or notify, when trying again may succeed.
func (b *budget) tryAcquire(n int64) (ok bool, wake <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n <= b.max || b.used == 0 {
		b.used += n
		return true, nil
	}
	return false, b.wake
}

// release gives back n bytes and wakes the waiters.
func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// notify wakes the waiters without giving anything back: something they wait for changed.
func (b *budget) notify() { b.release(0) }
