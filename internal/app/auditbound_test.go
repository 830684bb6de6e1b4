package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/server"
)

// TestQueriesAreRefusedWhileTheAuditLogCannotBeWritten: when the audit store cannot be written,
// the log keeps every recorded entry up to its bound and then the backend refuses new queries
// and reports, dashboard hunts, the alerts list and the statements a door answers itself with 503 (never runs them unaudited, never drops an entry); once the store can be
// written again, the next flush commits every kept entry and queries run again.
func TestQueriesAreRefusedWhileTheAuditLogCannotBeWritten(t *testing.T) {
	b := newTestBackend(t, Options{})
	b.Audit = auditlog.Open(b.lk)
	b.Audit.MaxPending = 3
	ctx := context.Background()
	admin := asOperator("192.0.2.1")
	if _, err := b.Query(admin, "SELECT 'first'", 10); err != nil {
		t.Fatal(err)
	}
	if err := b.Audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := auditlog.Store(b.lk)
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(b.lk.StoreDir(st.ID), "manifest.json")
	good, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, []byte("{not a manifest"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := b.Query(admin, fmt.Sprintf("SELECT 'kept %d'", i), 10); err != nil {
			t.Fatalf("query %d under the bound: %v", i, err)
		}
	}
	if err := b.Audit.Flush(ctx); err == nil {
		t.Fatal("a flush into a damaged audit store succeeded")
	}
	refused := func(what string, err error) {
		t.Helper()
		var be *server.BusyError
		if !errors.As(err, &be) || be.Status != http.StatusServiceUnavailable || !strings.Contains(be.Msg, "audit log") {
			t.Errorf("%s with 3 entries uncommitted: %v, want 503 saying the audit log cannot be written", what, err)
		}
	}
	_, err = b.Query(admin, "SELECT 'refused'", 10)
	refused("a query", err)
	_, err = b.Report(admin, "daily-spend", server.ReportParams{})
	refused("a report", err)
	_, err = b.Hunt(admin, server.HuntParams{Store: "any", Rules: []string{"all"}})
	refused("a dashboard hunt", err)
	_, err = b.Alerts(admin, server.AlertFilter{Limit: 10})
	refused("the alerts list", err)
	ran := false
	err = b.Answer(admin, "SHOW server_version", func(context.Context) (int, error) { ran = true; return 1, nil })
	refused("a statement a door answers itself", err)
	if ran {
		t.Error("a statement a door answers itself ran while the audit log could not be written")
	}
	if err := os.WriteFile(manifest, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.Audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := b.Query(admin, `SELECT count(*) FILTER (WHERE eventjson LIKE '%kept %'), count(*) FILTER (WHERE eventjson LIKE '%refused%') FROM "aws:cloudtrail"."auditlake-audit"`, 10)
	if err != nil {
		t.Fatalf("a query after the audit log was written again: %v", err)
	}
	if got := fmt.Sprint(res.Rows[0]); got != "[3 0]" {
		t.Errorf("the audit store holds %s of the kept and the refused queries, want [3 0]", got)
	}
}
