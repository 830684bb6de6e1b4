package app

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// TestPushedQueriesServeOnlyTheirPrincipalAndCurrentGrants: one query text, whose restricted
// view a session replaces by a variant with the query's additions and whose plan it keeps
// (query.Session.prepare), run by two principals in turn through one pool, and by one principal
// across a grant change and a revoke: every run gives exactly the rows its principal's grants
// as they stand admit — never a cached variant of another principal or of the grants before.
func TestPushedQueriesServeOnlyTheirPrincipalAndCurrentGrants(t *testing.T) {
	b := newTestBackend(t, Options{})
	st := stratusTrail(t, b)
	T := query.StoreTable(st.ID)
	const sql = "SELECT eventsource, eventname, count(*) AS n FROM {T} WHERE eventname <> 'GetCallerIdentity' GROUP BY 1, 2 ORDER BY 1, 2"
	q := strings.ReplaceAll(sql, "{T}", T)
	// want is what the operator sees of the rows filter admits.
	want := func(filter string) []string {
		t.Helper()
		res, err := b.Query(asOperator("192.0.2.1"), strings.ReplaceAll(sql, "{T}", "(SELECT * FROM "+T+" WHERE "+filter+")"), 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range res.Rows {
			out = append(out, fmt.Sprint(r...))
		}
		if len(out) == 0 {
			t.Fatalf("fixture: no rows where %s", filter)
		}
		return out
	}
	got := func(user string) ([]string, error) {
		t.Helper()
		res, err := b.Query(asUser(t, b, user), q, 0)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, r := range res.Rows {
			out = append(out, fmt.Sprint(r...))
		}
		return out, nil
	}
	check := func(step, user, filter string) {
		t.Helper()
		rows, err := got(user)
		if w := want(filter); err != nil || !slices.Equal(rows, w) {
			t.Errorf("%s: as %s: %q %v, want %q", step, user, rows, err, w)
		}
	}
	createUsers(t, b, "u1", "u2")
	const ec2, sts = "eventsource = 'ec2.amazonaws.com'", "eventsource = 'sts.amazonaws.com'"
	grant(t, b, access.Grant{Privilege: access.Select, Principal: "user:u1", Resource: "store:" + st.ID, Columns: []string{"eventsource", "eventname", "awsregion"}, RowFilter: ec2})
	grant(t, b, access.Grant{Privilege: access.Select, Principal: "user:u2", Resource: "store:" + st.ID, RowFilter: sts})
	for round := range 2 {
		check(fmt.Sprint("round ", round), "u1", ec2)
		check(fmt.Sprint("round ", round), "u2", sts)
	}
	// The second run of a principal ran on its pooled session (its variant and plan kept).
	if n := b.opened.Load(); n != 3 {
		t.Errorf("%d sessions opened for two principals and the operator", n)
	}
	if _, err := b.access.Revoke("", "user:u1", "store:"+st.ID, ""); err != nil {
		t.Fatal(err)
	}
	grant(t, b, access.Grant{Privilege: access.Select, Principal: "user:u1", Resource: "store:" + st.ID, Columns: []string{"eventsource", "eventname"}, RowFilter: sts})
	check("after the grant changed", "u1", sts)
	check("after u1's grant changed", "u2", sts)
	if _, err := b.access.Revoke("", "user:u1", "store:"+st.ID, ""); err != nil {
		t.Fatal(err)
	}
	if rows, err := got("u1"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("after the revoke, u1's query: %q %v, want does not exist", rows, err)
	}
	check("after u1's revoke", "u2", sts)
}

// stratusTrail is a CloudTrail store "trail" in b's lake holding the stratus-red-team samples.
func stratusTrail(t *testing.T, b *Backend) lake.Store {
	t.Helper()
	st, err := b.lk.Create("trail", lake.CreateOptions{Type: lake.TypeCloudTrail})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(context.Background(), b.lk, st, ingest.Options{Sources: []string{filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")}}); err != nil {
		t.Fatal(err)
	}
	return st
}
