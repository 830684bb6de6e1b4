package awsapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/awsapi"
	"github.com/auditlake/auditlake/internal/server"
)

// faultyBackend panics in Query for a statement holding "fault here" (a bug in the engine's
// path), and answers every other one as its backend does.
type faultyBackend struct{ server.Backend }

func (b faultyBackend) Query(ctx context.Context, sql string, maxRows int) (*server.Result, error) {
	if strings.Contains(sql, "fault here") {
		panic("a bug in running " + sql)
	}
	return b.Backend.Query(ctx, sql, maxRows)
}

// A panic while a StartQuery runs (in the door's own goroutine, which net/http does not guard)
// fails that query: before, it ended serve with every door. The next query runs.
func TestAFaultInAQueryFailsOnlyThatQuery(t *testing.T) {
	ls := startLakeServer(t, 5, awsapiDefaults, func(_ *lakeServer, o *awsapi.Options) { o.Backend = faultyBackend{o.Backend} })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status := func(stmt string) map[string]any {
		t.Helper()
		out, code, err := ls.call(ctx, ls.admin, "StartQuery", map[string]string{"QueryStatement": stmt})
		if err != nil || code != "" {
			t.Fatalf("StartQuery %q: %v %s %v", stmt, out, code, err)
		}
		for {
			d, code, err := ls.call(ctx, ls.admin, "DescribeQuery", map[string]string{"QueryId": out["QueryId"].(string)})
			if err != nil || code != "" {
				t.Fatalf("DescribeQuery: %v %s %v", d, code, err)
			}
			if s := d["QueryStatus"]; s != "QUEUED" && s != "RUNNING" {
				return d
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if d := status("SELECT 'fault here' FROM " + ls.store.ID); d["QueryStatus"] != "FAILED" || !strings.Contains(d["ErrorMessage"].(string), "fault of the server") {
		t.Errorf("the query that faulted: %v", d)
	}
	if d := status("SELECT count(*) FROM " + ls.store.ID); d["QueryStatus"] != "FINISHED" {
		t.Errorf("the next query: %v", d)
	}
}
