package cli_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/coldjson"
	"github.com/auditlake/auditlake/internal/engine"
)

// TestColdEventJSONReadsWholeForARestrictedReaderWhoCannotCallThePutBack: once `eds compact`
// has made the store's closed days cold — eventjson stored cut, put back by the engine's
// scalar function in the store's view — the operator reads every event's JSON as the
// uncompacted copy of the same events holds it, and a reader whose grant admits some rows (carol)
// reads those rows' JSON whole through the masked view over it. Neither she nor a reader with
// a column-filtered grant (bob) can call the put-back itself, however written, and the refusal
// shows nothing of the events.
func TestColdEventJSONReadsWholeForARestrictedReaderWhoCannotCallThePutBack(t *testing.T) {
	a := newAccessLake(t)
	mustRun(t, 0, a.dir, "eds", "compact", "trail")
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cut int64
	glob := filepath.Join(a.dir, "stores", a.id, "data", "*", "*.parquet")
	if err := db.QueryRow(ctx, "SELECT count(*) FROM read_parquet("+engine.Literal(glob)+") WHERE contains(eventjson, chr(1))").Scan(&cut); err != nil || cut == 0 {
		t.Fatalf("no row of the compacted store has its JSON cut (%d, %v)", cut, err)
	}
	other := `"aws:cloudtrail"."` + a.other + `"`
	if n := a.count(t, "", "SELECT count(*) FROM (SELECT eventid, eventjson FROM "+a.table()+" EXCEPT ALL SELECT eventid, eventjson FROM "+other+
		") UNION ALL SELECT count(*) FROM (SELECT eventid, eventjson FROM "+other+" EXCEPT ALL SELECT eventid, eventjson FROM "+a.table()+") ORDER BY 1 DESC LIMIT 1"); n != "0" {
		t.Errorf("%s events of the compacted store read otherwise than the same events uncompacted", n)
	}
	got := a.mustQueryAs(t, "carol", "SELECT eventid, eventjson, eventjsonchecksum FROM "+a.table()+" WHERE eventjson IS NOT NULL ORDER BY eventid")
	want := a.mustQueryAs(t, "", "SELECT eventid, eventjson, eventjsonchecksum FROM "+other+" WHERE "+carolFilter+" ORDER BY eventid")
	if len(want) < 2 || !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("carol reads %d rows of JSON, the operator's filter over the uncompacted copy %d, or they differ", len(got)-1, len(want)-1)
	}
	f := coldjson.FuncName
	attacks := []string{
		"SELECT " + f + "(eventjson, eventid, requestid, NULL, NULL, [], [], []) FROM " + a.table(),
		`SELECT "` + strings.ToUpper(f) + `"(eventname, eventname, NULL, NULL, NULL, [eventname], [], []) FROM ` + a.table(),
		"SELECT main." + f + "(chr(1), 'x', NULL, NULL, NULL, [], [], [])",
		"SELECT list_transform([1], x -> " + f + "(chr(5) || '!', 'a', 'b', 'c', 'd', ['secret'], [], []))",
		"SELECT eventname FROM " + a.table() + " WHERE " + f + "(eventname, eventname, eventname, eventname, eventname, [], [], []) IS NOT NULL",
	}
	for _, who := range []string{"bob", "carol"} {
		for _, sql := range attacks {
			out, errOut, code := run(t, a.dir, "query", "--format", "csv", "--as", who, sql)
			if code == 0 || !strings.Contains(errOut, "does not exist") {
				t.Errorf("%s ran %s (exit %d):\n%.400s\n%.400s", who, sql, code, out, errOut)
			}
			if strings.Contains(out+errOut, "eventVersion") {
				t.Errorf("%s: %s shows an event's JSON", who, sql)
			}
		}
	}
}
