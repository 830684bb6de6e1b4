package pgwire_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestStatementsLeaveNothingBehindOnTheServer: each statement's context was made twice when the
// server has a query timeout (serve always has one), and the first, never cancelled, stayed
// registered with the server's context until the server stopped: about 150 bytes a statement,
// for every statement of every connection (a BI tool polling all day). 50,000 statements now
// leave the server's Go heap where it was.
func TestStatementsLeaveNothingBehindOnTheServer(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{Timeout: time.Minute})
	c := pgxConnect(t, s.dsn(f.bob, ""))
	batch := strings.Repeat("SHOW server_version;", 1000)
	run := func(n int) {
		t.Helper()
		for range n {
			if _, err := c.Exec(context.Background(), batch, pgx.QueryExecModeSimpleProtocol); err != nil {
				t.Fatal(err)
			}
		}
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	run(5) // warm up
	before := heap()
	run(50)
	after := heap()
	t.Logf("heap %d KB before, %d KB after", before>>10, after>>10)
	if after > before && after-before > 2<<20 {
		t.Errorf("50,000 statements left the heap %d KB larger (%d bytes a statement)", (after-before)>>10, (after-before)/50000)
	}
}
