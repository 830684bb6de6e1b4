package pgwire_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// A panic in one connection's code (a bug: two such were found, a FETCH count that overflowed
// and a cursor over COPY) ends that connection only: before, it ended serve with every door.
// Another connection goes on, and a new one is served.
func TestAFaultInOneConnectionEndsOnlyThatConnection(t *testing.T) {
	f := sharedLake(t)
	ts := startServer(t, f.dir, pgwire.Options{})
	pgwire.SetFaultHook(func(sql string) {
		if strings.Contains(sql, "fault here") {
			panic("a bug in answering " + sql)
		}
	})
	t.Cleanup(func() { pgwire.SetFaultHook(nil) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func() *pgconn.PgConn {
		t.Helper()
		c, err := pgconn.Connect(ctx, ts.dsn(f.admin, "sslmode=disable"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	bystander, faulty := connect(), connect()
	defer bystander.Close(ctx)
	if _, err := faulty.Exec(ctx, "SELECT 'fault here'").ReadAll(); err == nil {
		t.Fatal("the statement that faulted answered")
	}
	faulty.Close(ctx)
	for _, c := range []*pgconn.PgConn{bystander, connect()} {
		res, err := c.Exec(ctx, "SELECT 41 + 1").ReadAll()
		if err != nil || len(res) != 1 || len(res[0].Rows) != 1 || string(res[0].Rows[0][0]) != "42" {
			t.Fatalf("after another connection's fault: %v %v", res, err)
		}
	}
}
