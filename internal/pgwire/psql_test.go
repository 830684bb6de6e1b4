package pgwire_test

import (
	"fmt"
	"testing"

	"github.com/auditlake/auditlake/internal/pgwire"
)

var fmtSscan = fmt.Sscan

func TestSmoke(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	for _, args := range [][]string{
		{"-c", "SELECT 1"},
		{"-c", `\dt`},
		{"-c", `\d "aws:cloudtrail"."` + f.storeID + `"`},
		{"-c", `SELECT eventname, count(*) FROM "aws:cloudtrail"."` + f.storeID + `" GROUP BY 1 ORDER BY 2 DESC LIMIT 3`},
	} {
		out, err := psql(t, s.dsn(f.admin, ""), args...)
		t.Logf("%v: %v\n%s", args, err, out)
	}
}
