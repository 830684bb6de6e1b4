package alerts

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// newAlertsStore is a new lake and its alerts store.
func newAlertsStore(tb testing.TB) (*lake.Lake, lake.Store) {
	tb.Helper()
	lk, err := lake.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	st, err := Store(lk)
	if err != nil {
		tb.Fatal(err)
	}
	return lk, st
}

// cutTestAlerts are alerts with text JSON escapes, nil, empty, one and many event ids.
func cutTestAlerts() []Alert {
	at := time.Date(2026, 3, 17, 10, 4, 5, 123456789, time.UTC)
	odd := []string{"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\x1fctl",
		"line\u2028sep", "ünïcødé 🚀", strings.Repeat("x", 300)}
	many := make([]string, 3000)
	for i := range many {
		many[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*7919)
	}
	var out []Alert
	for i, s := range odd {
		out = append(out, Alert{ID: fmt.Sprintf("id-%d", i), Rule: "rule " + s, Title: s, Severity: "high", Store: "prod",
			EventTime: at.Add(time.Duration(i) * time.Hour), EventIDs: []string{"0f0e0d0c-0000-4000-8000-00000000000" + fmt.Sprint(i), s},
			Principal: s, Account: "111122223333", Region: "eu-west-1", Summary: "summary: " + s, Status: StatusOpen, AlertedAt: at,
			Resource: s, Group: "g" + s})
	}
	return append(out,
		Alert{ID: "many", Rule: "r", EventTime: at, EventIDs: many, Status: StatusOpen, AlertedAt: at},
		Alert{ID: "one", Rule: "r", EventTime: at, EventIDs: []string{"a-single-event-id-of-36-bytes-000000"}, Status: StatusOpen, AlertedAt: at},
		Alert{ID: "short", Rule: "r", EventTime: at, EventIDs: []string{"e"}, Status: StatusOpen, AlertedAt: at},
		Alert{ID: "none", Rule: "r", EventTime: at, Status: StatusOpen, AlertedAt: at}, // nil ids: JSON null
		Alert{ID: "empty", Rule: "r", EventTime: at, EventIDs: []string{}, Status: StatusOpen, AlertedAt: at})
}

// TestCutAlertsReadWhole: alert records built with their event ids cut out of eventjson
// (buildRecordsCut) hold them once in the store's files, and read exactly as the whole
// records do — eventjson, eventjsonchecksum and requestParameters — through the store's view;
// wholeRecords makes them the whole records again; and a store that comes to keep whole JSON
// (a published one: lake.KeepWholeJSON) rewrites the files holding cut rows whole.
func TestCutAlertsReadWhole(t *testing.T) {
	ctx := context.Background()
	lk, st := newAlertsStore(t)
	as := cutTestAlerts()
	var specs []recordSpec
	for _, a := range as {
		specs = append(specs, alertSpec(a))
	}
	whole, cut := buildRecords(specs), buildRecordsCut(specs, true)
	for i, r := range cut {
		ids := whole[i].RequestParameters[2].Value
		wantCut := ids != nil && len(*ids) >= cutMinIDs
		if got := r.EventJSONChecksum == cloudtrail.JSONCut; got != wantCut {
			t.Errorf("%s: cut %v, want %v", as[i].ID, got, wantCut)
		}
		if wantCut && strings.Contains(r.EventJSON, *ids) {
			t.Errorf("%s: the ids are still in eventjson", as[i].ID)
		}
		if !wantCut {
			sameRecord(t, "uncut "+as[i].ID, r, whole[i])
		}
	}
	if _, _, err := commitRecords(ctx, lk, st, cut, nil, nil); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		s, err := query.Open(ctx, lk, query.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		res, err := s.RunInternal(ctx, "SELECT eventid, eventjson, eventjsonchecksum, requestparameters['eventIds'], requestparameters['events'] FROM "+
			s.StoreRange(st.ID, time.Time{}, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]*cloudtrail.Record{}
		for _, r := range whole {
			byID[r.EventID] = r
		}
		if len(res.Rows) != len(whole) {
			t.Fatalf("%s: %d rows, want %d", what, len(res.Rows), len(whole))
		}
		str := func(v any) string {
			if v == nil {
				return "<null>"
			}
			return fmt.Sprint(v)
		}
		for _, row := range res.Rows {
			w := byID[str(row[0])]
			if w == nil {
				t.Fatalf("%s: row %v not written", what, row[0])
			}
			wantIDs, wantEvents := "<null>", "<null>"
			if v := w.RequestParameters[2].Value; v != nil {
				wantIDs = *v
			}
			if v := w.RequestParameters[3].Value; v != nil {
				wantEvents = *v
			}
			if str(row[1]) != w.EventJSON || str(row[2]) != w.EventJSONChecksum || str(row[3]) != wantIDs || str(row[4]) != wantEvents {
				t.Errorf("%s: %s reads\n %.300q %v %.100q %v\nwant\n %.300q %v %.100q %v", what, w.EventID, str(row[1]), row[2], str(row[3]), row[4],
					w.EventJSON, w.EventJSONChecksum, wantIDs, wantEvents)
			}
		}
	}
	check("cut")
	// The records put back whole are the whole records.
	wholeRecords(cut)
	for i := range cut {
		sameRecord(t, "put back "+as[i].ID, cut[i], whole[i])
	}
	// Published: the files with cut rows are written whole, and still read the same.
	db := enginetest.Open(t)
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	n, err := lake.KeepWholeJSON(ctx, db, w)
	w.Close()
	if err != nil || n == 0 {
		t.Fatalf("KeepWholeJSON: %d files written whole, %v", n, err)
	}
	m, release, err := lk.Snapshot(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, f := range m.Files {
		var cutRows int64
		if err := db.QueryRow(ctx, "SELECT count(*) FROM read_parquet("+engine.Literal(lk.AbsPath(st.ID, f.Path))+
			") WHERE eventjsonchecksum IS NULL OR eventjsonchecksum = '' OR eventjson <> "+lake.ColdJSONSQL).Scan(&cutRows); err != nil {
			t.Fatal(err)
		}
		if cutRows > 0 {
			t.Errorf("%s: %d rows not whole after KeepWholeJSON", f.Path, cutRows)
		}
	}
	check("whole")
	// A commit into a store that keeps whole JSON writes whole records, even built cut.
	more := buildRecordsCut([]recordSpec{alertSpec(Alert{ID: "later", Rule: "r", EventTime: as[0].EventTime, EventIDs: as[len(as)-5].EventIDs,
		Status: StatusOpen, AlertedAt: as[0].AlertedAt})}, true)
	if more[0].EventJSONChecksum != cloudtrail.JSONCut {
		t.Fatal("not cut")
	}
	if _, _, err := commitRecords(ctx, lk, st, more, nil, nil); err != nil {
		t.Fatal(err)
	}
	if more[0].EventJSONChecksum == cloudtrail.JSONCut || !strings.Contains(more[0].EventJSON, as[len(as)-5].EventIDs[0]) {
		t.Error("a record committed to a store keeping whole JSON is still cut")
	}
}
