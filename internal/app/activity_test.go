package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/server"
)

// TestActivityPagesUnderLoadRunWholeOrAreRefusedWhole is the stress test's flake
// (TestStressServeUnderLoad): the activity page's 9 widget queries each waited for admission
// on their own, so under load a page timed out or came back with some widgets failed ("this
// widget failed": their own admission refused). Now a page is admitted once and runs whole in
// one session: many pages at once against a backend with one general slot, one lane and a
// short queue each answer either the whole page (every widget, none failed, each restricted to
// the caller's row filter) or a clean 503 with Retry-After; no more requests hold a session than
// the admission allows; and every widget query is in the audit log.
func TestActivityPagesUnderLoadRunWholeOrAreRefusedWhole(t *testing.T) {
	b := newTestBackend(t, Options{MaxQueries: 1, InteractiveLanes: 1, MaxWaiting: 3, MaxClientQueries: -1})
	b.Audit = auditlog.Open(b.lk)
	st, err := b.lk.Create("trail", lake.CreateOptions{Type: lake.TypeCloudTrail})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(context.Background(), b.lk, st, ingest.Options{Sources: []string{filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")}}); err != nil {
		t.Fatal(err)
	}
	const filter = "eventsource = 'sts.amazonaws.com'"
	res, err := b.Query(asOperator("192.0.2.1"), "SELECT count(*) FROM "+query.StoreTable(st.ID)+" WHERE "+filter, 1)
	if err != nil {
		t.Fatal(err)
	}
	visible := res.Rows[0][0].(int64)
	user, err := b.access.CreateUser("viewer", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	grant(t, b, access.Grant{Privilege: access.Select, Principal: "user:viewer", Resource: "store:" + st.ID, RowFilter: filter})
	admin, err := b.access.CreateUser("admin", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err = b.Query(asOperator("192.0.2.1"), "SELECT count(*) FROM "+query.StoreTable(st.ID), 1)
	if err != nil {
		t.Fatal(err)
	}
	all := res.Rows[0][0].(int64)
	ts := httptest.NewServer(server.New(b, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{Access: b.access}))
	t.Cleanup(ts.Close)

	// Watch the admission: never more requests holding a session than 1 slot + 1 lane.
	stop := make(chan struct{})
	var most atomic.Int64
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if running, _ := b.Admitted(); int64(running) > most.Load() {
				most.Store(int64(running))
			}
		}
	}()

	const pages = 16 // even pages the admin's, odd ones the viewer's
	type answer struct {
		status     int
		retryAfter string
		body       []byte
	}
	answers := make([]answer, pages)
	var wg sync.WaitGroup
	for i := range pages {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", ts.URL+"/api/dashboards/activity?store="+st.ID, nil)
			who := admin
			if i%2 == 1 {
				who = user
			}
			req.Header.Set("Authorization", "Bearer "+who.AccessKeyID+":"+who.SecretAccessKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			answers[i] = answer{resp.StatusCode, resp.Header.Get("Retry-After"), body}
		})
	}
	wg.Wait()
	close(stop)
	<-watched
	if m := most.Load(); m > 2 {
		t.Errorf("%d requests held a query session at once; the admission allows 2", m)
	}

	whole, viewerWhole := 0, 0
	for i, a := range answers {
		switch a.status {
		case http.StatusOK:
			var page struct {
				Widgets []struct {
					ID    string  `json:"id"`
					Rows  [][]any `json:"rows"`
					Error string  `json:"error"`
				} `json:"widgets"`
			}
			if err := json.Unmarshal(a.body, &page); err != nil {
				t.Fatalf("page %d: %v: %.300s", i, err, a.body)
			}
			if len(page.Widgets) != 9 {
				t.Errorf("page %d has %d widgets, want 9", i, len(page.Widgets))
			}
			for _, w := range page.Widgets {
				if w.Error != "" {
					t.Errorf("page %d: widget %s failed under load (a half page): %s", i, w.ID, w.Error)
				}
			}
			if len(page.Widgets) > 0 && len(page.Widgets[0].Rows) == 1 {
				want := all
				if i%2 == 1 {
					want = visible
				}
				if n, _ := page.Widgets[0].Rows[0][0].(float64); int64(n) != want {
					t.Errorf("page %d: summary counts %v events, want the %d its caller's grants admit", i, page.Widgets[0].Rows[0][0], want)
				}
			}
			whole++
			viewerWhole += i % 2
		case http.StatusServiceUnavailable:
			if a.retryAfter == "" {
				t.Errorf("page %d refused with 503 but no Retry-After: %s", i, a.body)
			}
		default:
			t.Errorf("page %d: %d %.300s; want the whole page or 503 busy", i, a.status, a.body)
		}
	}
	if whole == 0 {
		t.Fatal("no page was answered: the test proves nothing")
	}

	// Every widget query of every page that reached them, answered or refused, is in the audit
	// log as the viewer's (a page refused already at its store listing ran none).
	if err := b.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err = b.Query(asOperator("192.0.2.1"), `SELECT count(*), count(errorcode) FROM "aws:cloudtrail"."auditlake-audit"
		WHERE eventname = 'StartQuery' AND useridentity.principalid = 'user:viewer'`, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, failed := res.Rows[0][0].(int64), res.Rows[0][1].(int64); got%9 != 0 || failed%9 != 0 || got-failed != int64(9*viewerWhole) {
		t.Errorf("audit log has %d widget queries of the viewer (%d failed), want 9 per page that reached them, %d answered", got, failed, 9*viewerWhole)
	}
}
