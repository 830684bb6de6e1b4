package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/server"
)

// TestAlertsRefuseAReaderAlikeWhetherOrNotAnyAlertExists: before any alert is stored (no
// alerts store yet), a reader without a grant that could read the alerts store is refused as it
// is once the store exists — an empty list would tell it that no alert was ever raised — while
// the admin and a grant on all get the empty list.
func TestAlertsRefuseAReaderAlikeWhetherOrNotAnyAlertExists(t *testing.T) {
	b := newTestBackend(t, Options{})
	createUsers(t, b, "bob", "carol")
	if _, err := b.access.CreateUser("alice", true, nil); err != nil {
		t.Fatal(err)
	}
	grant(t, b, access.Grant{Privilege: access.Select, Resource: "all", Principal: "user:carol"})
	if _, err := b.Alerts(asUser(t, b, "bob"), server.AlertFilter{Limit: 10}); !errors.Is(err, server.ErrForbidden) {
		t.Errorf("a reader with no grant, no alerts store: %v, want ErrForbidden", err)
	}
	for _, who := range []string{"alice", "carol"} {
		list, err := b.Alerts(asUser(t, b, who), server.AlertFilter{Limit: 10})
		if err != nil || list == nil || len(list) != 0 {
			t.Errorf("%s, no alerts store: %v, %v; want an empty list", who, list, err)
		}
	}
}

// TestAlertOfNamesEachEventOnce: the ids of an alert's records, folded by alerts.DetailSQL, can
// name an event more than once (launch-compliance records are one per instance, and one
// RunInstances launches several); the API's alert names each once, in their order, and keeps
// the count of matches.
func TestAlertOfNamesEachEventOnce(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 5, 0, 0, time.UTC)
	row := []any{"g1", at, "non-approved-launch", "t", "high", "trail", "arn:p", "111122223333", "eu-west-1", "i-1", "s",
		int64(3), "open", []any{"run-1", "run-1", "run-2", "run-1"}, at.Format(time.RFC3339Nano), "ops"}
	a := alertOf(row)
	if a.Count != 3 || fmt.Sprint(a.EventIDs) != "[run-1 run-2]" || a.ID != "g1" || a.SentTo != "ops" {
		t.Errorf("alert %s: count %d, ids %v, sent to %q; want g1, 3, [run-1 run-2], ops", a.ID, a.Count, a.EventIDs, a.SentTo)
	}
}

// TestRefusedHuntsAndAlertsAreAudited: a dashboard hunt refused before it runs (a store the
// caller may not read, one that does not exist, an unknown rule) and an alerts list refused for
// want of a grant on auditlake-alerts are in the audit log with the caller and the refusal, as
// a refused report or query is: a reader probing for store names or alerts left no trace.
func TestRefusedHuntsAndAlertsAreAudited(t *testing.T) {
	b := newTestBackend(t, Options{})
	b.Audit = auditlog.Open(b.lk)
	for _, name := range []string{"trail", "hidden"} {
		if _, err := b.lk.Create(name, lake.CreateOptions{Type: lake.TypeCloudTrail}); err != nil {
			t.Fatal(err)
		}
	}
	createUsers(t, b, "bob")
	grant(t, b, access.Grant{Privilege: access.Select, Resource: "store:trail", Principal: "user:bob"})
	bob := asUser(t, b, "bob")
	for _, h := range []server.HuntParams{
		{Store: "hidden", Rules: []string{"all"}},
		{Store: "no-such-store", Rules: []string{"all"}},
		{Store: "trail", Rules: []string{"no-such-rule"}},
	} {
		if _, err := b.Hunt(bob, h); !errors.Is(err, server.ErrNotFound) {
			t.Fatalf("hunt %+v: %v, want ErrNotFound", h, err)
		}
	}
	if _, err := b.Alerts(bob, server.AlertFilter{Limit: 10}); !errors.Is(err, server.ErrForbidden) {
		t.Fatalf("alerts without a grant: %v, want ErrForbidden", err)
	}
	if err := b.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := b.Query(asOperator("192.0.2.1"), `SELECT errorcode, requestparameters['queryStatement']
		FROM "aws:cloudtrail"."auditlake-audit" WHERE useridentity.principalid = 'user:bob' ORDER BY eventtime`, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Rows {
		got = append(got, fmt.Sprint(r[0])+" "+strings.ReplaceAll(fmt.Sprint(r[1]), "\n", " "))
	}
	want := []string{
		"NotFound -- POST /api/hunt: rules all over hidden",
		"NotFound -- POST /api/hunt: rules all over no-such-store",
		"NotFound -- POST /api/hunt: rules no-such-rule over trail",
		"AccessDenied -- GET /api/alerts",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("bob's audit entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestHuntRunsARuleNamedTwiceOnce: POST /api/hunt's rules naming one rule twice (by id and by
// title) ran it twice and listed each of its matches twice; they are listed once, as auditlake
// hunt lists them (rules.Select), and a list of empty ids is refused as a bad request.
func TestHuntRunsARuleNamedTwiceOnce(t *testing.T) {
	b := newTestBackend(t, Options{})
	stratusTrail(t, b)
	r := rules.Rule{ID: "logging-stopped", Title: "Logging stopped", Kind: rules.KindBuiltin, Builtin: "cloudtrail-logging-stopped", Severity: "high", Enabled: true}
	if _, err := rules.Add(context.Background(), b.lk, r); err != nil {
		t.Fatal(err)
	}
	hunt := func(refs ...string) *server.HuntResult {
		t.Helper()
		res, err := b.Hunt(asOperator("192.0.2.1"), server.HuntParams{Store: "trail", Rules: refs, MaxMatches: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	once := hunt(r.ID)
	if len(once.Matches) == 0 {
		t.Fatal("the rule matched nothing in the stratus samples")
	}
	twice := hunt(r.ID, r.Title, r.ID)
	if fmt.Sprint(twice.Rules, twice.Matches) != fmt.Sprint(once.Rules, once.Matches) {
		t.Errorf("a rule named twice: rules %v, %d matches; want %v, %d", twice.Rules, len(twice.Matches), once.Rules, len(once.Matches))
	}
	var qe *server.QueryError
	if _, err := b.Hunt(asOperator("192.0.2.1"), server.HuntParams{Store: "trail", Rules: []string{" "}}); !errors.As(err, &qe) {
		t.Errorf("rules of empty ids: %v, want a QueryError", err)
	}
}
