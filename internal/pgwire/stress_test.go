package pgwire_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/pgwire"
)

// BenchmarkSelectOne: SELECT 1 over the protocol with pgx (extended protocol, the statement cached
// after its first run), one connection; the target is ≤ 5 ms.
func BenchmarkSelectOne(b *testing.B) {
	dir := b.TempDir()
	cr, err := access.Open(dir).CreateUser("bench", true, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := startServer(b, dir, pgwire.Options{Timeout: time.Minute})
	c := pgxConnect(b, s.dsn(cr, ""))
	ctx := context.Background()
	var one int
	b.ResetTimer()
	for b.Loop() {
		if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			b.Fatal(err)
		}
	}
}

// TestStressConcurrentClients: 20 clients connect, query the store, list tables and run SELECT 1
// at once for a bounded time (2 s in make test; 60 s under make stress, AUDITLAKE_STRESS=1) with
// serve's default limits (4 query slots, 16 requests per client address): no query fails —
// a query beyond the limits waits for a slot.
func TestStressConcurrentClients(t *testing.T) {
	f := sharedLake(t)
	dur := 2 * time.Second
	if os.Getenv("AUDITLAKE_STRESS") != "" {
		dur = 60 * time.Second
	}
	s := startServerWith(t, f.dir, pgwire.Options{Timeout: time.Minute}, false)
	var queries atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	var ready sync.WaitGroup
	ready.Add(20)
	start := make(chan struct{})
	var deadline time.Time
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cr := f.admin
			if i%2 == 1 {
				cr = f.bob
			}
			c := pgxConnect(t, s.dsn(cr, ""))
			ctx := context.Background()
			ready.Done()
			<-start
			for n := 0; time.Now().Before(deadline); n++ {
				var err error
				switch n % 3 {
				case 0:
					var one int
					err = c.QueryRow(ctx, "SELECT 1").Scan(&one)
				case 1:
					var cnt int
					err = c.QueryRow(ctx, `SELECT count(*) FROM "aws:cloudtrail"."`+f.storeID+`" WHERE eventname <> $1`, strings.Repeat("x", i)).Scan(&cnt)
				case 2:
					var tables int
					err = c.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE pg_catalog.pg_table_is_visible(c.oid)`).Scan(&tables)
				}
				if err != nil {
					errs <- err
					return
				}
				queries.Add(1)
			}
		}()
	}
	ready.Wait()
	deadline = time.Now().Add(dur)
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("20 clients, %v: %d queries", dur, queries.Load())
}
