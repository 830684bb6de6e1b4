package query_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

const (
	pushFilter = "eventsource = 'ec2.amazonaws.com'"
	pushAcct   = "309303190113"
)

// restrictedSessions grants, over the stratus samples, bob some columns (useridentity among
// them) of the EC2 rows and carol every column of one account's rows plus two columns of the STS
// rows, and opens for each principal a session with the pushdown and one without (the oracle).
func restrictedSessions(t *testing.T) (admin *query.Session, table string, sessions map[string][2]*query.Session) {
	t.Helper()
	ctx := context.Background()
	admin, lk, st := openSampleSession(t)
	reg := access.Open(lk.Dir)
	check := func(g *access.Grant) error { return query.CheckGrant(ctx, lk, g) }
	for _, u := range []string{"bob", "carol"} {
		if _, err := reg.CreateUser(u, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []access.Grant{
		{Principal: "user:bob", Columns: []string{"eventtime", "eventname", "eventsource", "awsregion", "recipientaccountid", "useridentity", "readonly"}, RowFilter: pushFilter},
		{Principal: "user:carol", RowFilter: "recipientaccountid IN ('" + pushAcct + "')"},
		{Principal: "user:carol", Columns: []string{"eventname", "eventsource"}, RowFilter: "eventsource = 'sts.amazonaws.com'"},
	} {
		g.Privilege, g.Resource = access.Select, "store:"+st.ID
		if _, err := reg.AddGrant(g, check); err != nil {
			t.Fatal(err)
		}
	}
	sessions = map[string][2]*query.Session{}
	for _, u := range []string{"bob", "carol"} {
		p, err := reg.Principal("user:" + u)
		if err != nil {
			t.Fatal(err)
		}
		var pair [2]*query.Session
		for i := range pair {
			s, err := query.Open(ctx, lk, query.Options{Timeout: 20 * time.Second, Principal: p})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			pair[i] = s
		}
		query.WithoutPushdown(pair[1])
		sessions[u] = pair
	}
	return admin, `"aws:cloudtrail"."` + st.ID + `"`, sessions
}

// outcome is a query's rows (sorted, as text) or its error.
func outcome(s *query.Session, sql string) (rows []string, errText string) {
	res, err := s.Run(context.Background(), sql)
	if err != nil {
		return nil, err.Error()
	}
	_, rs := text(res)
	for _, r := range rs {
		rows = append(rows, strings.Join(r, "|"))
	}
	slices.Sort(rows)
	return rows, ""
}

// TestPushedPredicatesGiveTheSameRowsAsTheMaskedView: the conjuncts and struct fields a
// restricted session adds to its views for one query (pushdown.go) change nothing of what the
// query returns: every query here gives, as bob and as carol, exactly the rows (or the error)
// that the same principal's session without the pushdown gives — across every form that is
// pushed, forms that must not be (OR branches, IS NULL on a masked column, a constant of another
// type, a second reference to the table, a select alias named like a column), subqueries, CTEs,
// joins and unions. And no pushed query shows a value that only rows or columns the principal may
// not see hold.
func TestPushedPredicatesGiveTheSameRowsAsTheMaskedView(t *testing.T) {
	admin, T, sessions := restrictedSessions(t)
	ctx := context.Background()
	// Values only hidden rows hold (of bob's grant), and bob's hidden column values.
	var secrets []string
	seen := map[string]bool{}
	res, err := admin.Run(ctx, "SELECT DISTINCT eventname FROM "+T+" WHERE "+pushFilter+" UNION SELECT DISTINCT useridentity.arn FROM "+T+" WHERE "+pushFilter)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rows {
		seen[fmt.Sprint(r[0])] = true
	}
	res, err = admin.Run(ctx, "SELECT DISTINCT eventname FROM "+T+" WHERE NOT ("+pushFilter+") UNION SELECT DISTINCT useridentity.arn FROM "+T+" WHERE NOT ("+pushFilter+") AND useridentity.arn IS NOT NULL UNION SELECT DISTINCT sourceipaddress FROM "+T)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rows {
		if s := fmt.Sprint(r[0]); !seen[s] && len(s) > 3 {
			secrets = append(secrets, s)
		}
	}
	if len(secrets) < 10 {
		t.Fatalf("fixture: only %d hidden values", len(secrets))
	}
	hiddenName := ""
	for _, s := range secrets {
		if strings.Contains(s, "Secret") || hiddenName == "" && !strings.Contains(s, ":") && !strings.Contains(s, ".") {
			hiddenName = s
		}
	}
	res, err = admin.Run(ctx, "SELECT CAST(min(eventtime) AS VARCHAR), CAST(max(eventtime) AS VARCHAR), CAST(CAST(min(eventtime) AS DATE) AS VARCHAR) FROM "+T)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi, day := fmt.Sprint(res.Rows[0][0]), fmt.Sprint(res.Rows[0][1]), fmt.Sprint(res.Rows[0][2])

	queries := []string{
		"SELECT count(*) FROM {T} WHERE eventname = 'RunInstances'",
		"SELECT count(*) FROM {T} WHERE eventname = '" + hiddenName + "'",
		"SELECT count(*) FROM {T} WHERE eventsource = 'ssm.amazonaws.com'",
		"SELECT count(*) FROM {T} WHERE eventsource IN ('ssm.amazonaws.com', 'sts.amazonaws.com', 'ec2.amazonaws.com')",
		"SELECT count(*) FROM {T} WHERE eventsource NOT IN ('ssm.amazonaws.com')",
		"SELECT count(*) FROM {T} WHERE eventname <> 'RunInstances' AND awsregion IS NOT NULL",
		"SELECT count(*) FROM {T} WHERE awsregion IS NULL",
		"SELECT count(*) FROM {T} WHERE awsregion IS NULL AND eventname IS NOT NULL",
		"SELECT count(*) FROM {T} WHERE eventtime >= '" + lo + "' AND eventtime < TIMESTAMP '" + hi + "'",
		"SELECT count(*) FROM {T} WHERE eventtime BETWEEN '" + lo + "' AND '" + hi + "'",
		"SELECT count(*) FROM {T} WHERE eventtime > DATE '" + day + "'",
		"SELECT count(*) FROM {T} WHERE '" + lo + "' < eventtime",
		"SELECT eventname, awsregion, count(*) FROM {T} t WHERE t.eventsource = 'ec2.amazonaws.com' GROUP BY ALL",
		"SELECT eventname FROM {T} WHERE eventname = 'RunInstances' OR eventsource = 'ssm.amazonaws.com'",
		"SELECT upper(eventname) AS eventname FROM {T} WHERE eventname = 'RunInstances'",
		"SELECT upper(eventname) AS en FROM {T} WHERE en = 'RUNINSTANCES'",
		"SELECT count(*) FROM (SELECT * FROM {T} WHERE eventname LIKE 'Run%' AND awsregion = 'us-east-1') s WHERE s.eventname = 'RunInstances'",
		"WITH x AS (SELECT * FROM {T} WHERE eventsource = 'ec2.amazonaws.com') SELECT count(*), count(DISTINCT eventname) FROM x",
		"SELECT a.eventname, count(*) FROM {T} a JOIN {T} b ON a.eventname = b.eventname WHERE a.eventname = 'RunInstances' GROUP BY 1",
		"SELECT eventname FROM {T} WHERE eventname = 'RunInstances' UNION ALL SELECT eventname FROM {T} WHERE eventsource = 'sts.amazonaws.com'",
		"SELECT count(*) FROM {T} WHERE eventname IN (SELECT eventname FROM {T} WHERE eventsource = 'sts.amazonaws.com')",
		"SELECT (SELECT count(*) FROM {T} WHERE eventname = 'RunInstances')",
		"SELECT eventname, awsregion, eventname || '!' AS e, count(*) FROM {T} WHERE eventname = 'RunInstances' AND awsregion = 'us-east-1' GROUP BY ALL",
		"SELECT eventsource, recipientaccountid, count(*) FROM {T} WHERE eventsource = 'sts.amazonaws.com' GROUP BY ALL",
		"SELECT count(*) FROM {T} WHERE recipientaccountid = '" + pushAcct + "' AND eventsource = 'ec2.amazonaws.com'",
		"SELECT count(*) FROM {T} WHERE eventname = 'RunInstances' AND CAST(recipientaccountid AS integer) < 0",
		"SELECT count(*) FROM {T} WHERE eventname = 0",
		"SELECT count(*) FROM {T} WHERE eventtime = 'not a time'",
		"SELECT count(*) FROM {T} WHERE eventtime = 5",
		"SELECT count(*) FROM {T} WHERE readonly = true",
		"SELECT count(*) FROM {T} WHERE sourceipaddress = '1.2.3.4'",
		"SELECT count(*) FROM {T} WHERE eventname = 'RunInstances' AND CAST(useridentity.arn AS integer) = 0",
		"SELECT count(*) FROM {T} WHERE eventsource = 'ssm.amazonaws.com' AND CAST(eventname AS integer) = 0",
		"SELECT useridentity.arn, count(*) FROM {T} WHERE eventname = 'RunInstances' GROUP BY 1",
		"SELECT useridentity.sessioncontext.sessionissuer.arn, useridentity.type FROM {T}",
		"SELECT t.useridentity.arn FROM {T} t",
		"SELECT useridentity.sessioncontext IS NULL, useridentity.sessioncontext.sessionissuer.username FROM {T}",
		"SELECT useridentity.arn, useridentity FROM {T}",
		"SELECT useridentity.arn FROM {T} WHERE useridentity.arn = '" + secrets[len(secrets)-1] + "'",
		"SELECT count(*) FROM {T} WHERE useridentity.accountid = '" + pushAcct + "'",
		"SELECT * FROM {T} WHERE eventname = 'RunInstances' ORDER BY ALL",
		"SELECT eventtime, eventname FROM {T} WHERE awsregion = 'us-east-1' ORDER BY eventtime DESC, eventname LIMIT 5",
		"SELECT eventtime, awsregion FROM {T} ORDER BY eventtime, awsregion NULLS FIRST LIMIT 7",
		"SELECT * FROM (SELECT eventtime, awsregion FROM {T} t WHERE t.eventname <> 'RunInstances' ORDER BY t.awsregion DESC, eventtime LIMIT 9) WHERE awsregion IS NOT NULL",
		"SELECT eventtime, eventname FROM {T} WHERE eventname = 'RunInstances' AND lower(awsregion) = 'us-east-1' ORDER BY eventtime, eventname LIMIT 3",
		"SELECT count(*) FROM {T} ORDER BY 1 LIMIT 1",
		"SELECT eventname AS eventtime, eventtime AS t FROM {T} ORDER BY eventtime, t LIMIT 4",
		"SELECT DISTINCT eventname FROM {T} ORDER BY eventname LIMIT 2",
		"SELECT eventname, eventtime FROM {T} ORDER BY eventname, eventtime LIMIT 3 OFFSET 2",
	}
	for _, q := range queries {
		sql := strings.ReplaceAll(q, "{T}", T)
		for _, u := range []string{"bob", "carol"} {
			got, gotErr := outcome(sessions[u][0], sql)
			want, wantErr := outcome(sessions[u][1], sql)
			code := func(e string) string { c, _, _ := strings.Cut(e, ":"); return c }
			if !slices.Equal(got, want) || code(gotErr) != code(wantErr) {
				t.Errorf("as %s: %s\n  pushed:   %d rows %.300q, error %q\n  unpushed: %d rows %.300q, error %q", u, sql, len(got), got, gotErr, len(want), want, wantErr)
			}
			if u != "bob" {
				continue
			}
			for _, s := range secrets {
				if !strings.Contains(sql, s) && (strings.Contains(strings.Join(got, "\n"), s) || strings.Contains(gotErr, s)) {
					t.Errorf("as bob: %s shows the hidden value %q", sql, s)
				}
			}
		}
	}
	// What is pushed, and what is not.
	for _, c := range []struct {
		sql  string
		want []string
	}{
		{"SELECT count(*) FROM {T} WHERE eventname = 'RunInstances' AND eventtime >= '" + lo + "'", []string{`"eventname" = 'RunInstances'`, `"eventtime" >= CAST('` + lo + `' AS TIMESTAMP)`, `'RunInstances' AS "eventname"`}},
		{"SELECT count(*) FROM {T} t WHERE t.awsregion IN ('a', 'b') AND eventname IS NOT NULL AND awsregion IS NULL", []string{`"awsregion" IN ('a', 'b')`, `"eventname" IS NOT NULL`}},
		{"SELECT useridentity.arn FROM {T} WHERE eventtime BETWEEN DATE '" + day + "' AND '" + hi + "'", []string{`"eventtime" BETWEEN CAST(CAST('` + day + `' AS DATE) AS TIMESTAMP) AND CAST('` + hi + `' AS TIMESTAMP)`, `struct_pack("arn" := "useridentity"."arn") AS "useridentity"`}},
		{"SELECT count(*) FROM {T} WHERE eventname = 0 OR eventname = 'x'", nil},
		{"SELECT count(*) FROM {T} WHERE eventname = 0 AND eventtime = 5 AND sourceipaddress = 'x' AND lower(eventname) = 'x'", nil},
		{"SELECT useridentity, useridentity.arn FROM {T} WHERE eventname = 'x' UNION ALL SELECT useridentity, useridentity.arn FROM {T}", nil},
		{"SELECT * FROM {T} WHERE eventname = 'x'", []string{`"eventname" = 'x'`, `'x' AS "eventname"`}},
		{"SELECT eventname FROM {T} WHERE eventname = 'x' AND 'x' = eventname AND eventname = 'y'", []string{`"eventname" = 'x'`, `"eventname" = 'x'`, `"eventname" = 'y'`, `'x' AS "eventname"`}},
		{"SELECT eventtime, eventname FROM {T} WHERE awsregion = 'r' ORDER BY eventtime DESC, eventname NULLS FIRST LIMIT 100", []string{`"awsregion" = 'r'`, `'r' AS "awsregion"`, `ORDER BY "__raw_` + strings.Split(T, `"`)[3] + `"."eventtime" DESC, "__raw_` + strings.Split(T, `"`)[3] + `"."eventname" NULLS FIRST LIMIT 100`}},
		{"SELECT eventtime FROM {T} WHERE awsregion = 'r' AND lower(eventname) = 'x' ORDER BY eventtime LIMIT 1", []string{`"awsregion" = 'r'`, `'r' AS "awsregion"`}},
		{"SELECT count(*) FROM {T} ORDER BY 1 LIMIT 1", nil},
		{"SELECT eventname AS eventtime FROM {T} ORDER BY eventtime LIMIT 1", nil},
		{"SELECT max(eventtime) FROM {T} ORDER BY eventtime LIMIT 1", nil},
		{"SELECT eventtime FROM {T} ORDER BY eventtime LIMIT 1 OFFSET 1", nil},
	} {
		sql := strings.ReplaceAll(c.sql, "{T}", T)
		if got := query.Pushed(sessions["bob"][0], sql); !slices.Equal(got, c.want) {
			t.Errorf("%s\n  pushes %q\n  want   %q", sql, got, c.want)
		}
	}
	// A pushed equality gives the variant its constant only in a column no grant filter of the
	// view reads: carol's filters read eventsource and recipientaccountid.
	for _, sql := range []string{
		"SELECT eventname FROM {T} WHERE eventsource = 'sts.amazonaws.com' AND recipientaccountid = '" + pushAcct + "' AND eventname = 'x'",
	} {
		sql = strings.ReplaceAll(sql, "{T}", T)
		got := strings.Join(query.Pushed(sessions["carol"][0], sql), "\n")
		if strings.Contains(got, `AS "eventsource"`) || strings.Contains(got, `AS "recipientaccountid"`) || !strings.Contains(got, `'x' AS "eventname"`) {
			t.Errorf("as carol: %s\n  pushes %s", sql, got)
		}
	}
	// An internal query after a pushed one sees the session's own views: every column of
	// bob's, with its whole type.
	if _, err := sessions["bob"][0].Run(ctx, "SELECT useridentity.arn FROM "+T+" WHERE eventname = 'RunInstances'"); err != nil {
		t.Fatal(err)
	}
	tables, err := sessions["bob"][0].Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		for _, c := range tb.Columns {
			if c.Name == "useridentity" && !strings.Contains(c.Type, "sessioncontext") {
				t.Errorf("after a pushed query, Tables shows useridentity as %s", c.Type)
			}
		}
	}
}

// TestPushdownLeavesInternalQueriesTheWholeView: a restricted session's reports (internal SQL)
// after a user query read the views as restrict made them.
func TestPushdownLeavesInternalQueriesTheWholeView(t *testing.T) {
	_, T, sessions := restrictedSessions(t)
	ctx := context.Background()
	s := sessions["bob"][0]
	before, err := s.RunInternal(ctx, "SELECT count(*) FROM "+T)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(ctx, "SELECT count(*) FROM "+T+" WHERE eventname = 'RunInstances'"); err != nil {
		t.Fatal(err)
	}
	after, err := s.RunInternal(ctx, "SELECT count(*) FROM "+T)
	if err != nil {
		t.Fatal(err)
	}
	if before.Rows[0][0] != after.Rows[0][0] {
		t.Errorf("an internal count after a pushed query: %v, before it %v", after.Rows[0][0], before.Rows[0][0])
	}
}

// TestPushdownOverADamagedStoreFailsOnlyItsQueries: a restricted session over a store whose file
// is damaged: a query of that store that would add to its view fails with the store's damage
// (its view cannot be re-created), and the other store's queries — pushed ones included — and
// the session's listing keep working.
func TestPushdownOverADamagedStoreFailsOnlyItsQueries(t *testing.T) {
	ctx := context.Background()
	lk, good, bad := twoStores(t)
	reg := access.Open(lk.Dir)
	if _, err := reg.CreateUser("bob", false, nil); err != nil {
		t.Fatal(err)
	}
	for _, st := range []lake.Store{good, bad} {
		g := access.Grant{Privilege: access.Select, Principal: "user:bob", Resource: "store:" + st.ID, Columns: []string{"eventtime", "eventname", "eventsource"}, RowFilter: pushFilter}
		if _, err := reg.AddGrant(g, func(g *access.Grant) error { return query.CheckGrant(ctx, lk, g) }); err != nil {
			t.Fatal(err)
		}
	}
	m, err := lk.ReadManifest(bad.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lk.AbsPath(bad.ID, m.Files[0].Path), []byte("not parquet at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := reg.Principal("user:bob")
	if err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(ctx, lk, query.Options{Principal: p})
	if err != nil {
		t.Fatalf("a damaged store broke the restricted session: %v", err)
	}
	defer s.Close()
	for i := range 2 {
		_, err := s.Run(ctx, `SELECT count(*) FROM "aws:cloudtrail"."bad-one" WHERE eventname = 'RunInstances'`)
		if !errors.Is(err, lake.ErrDamaged) {
			t.Errorf("round %d: a pushed query of the damaged store: %v, want its damage", i, err)
		}
		res, err := s.Run(ctx, `SELECT count(*) FROM "aws:cloudtrail"."good-one" WHERE eventname = 'RunInstances'`)
		if err != nil || len(res.Rows) != 1 {
			t.Errorf("round %d: a pushed query of the healthy store: %v", i, err)
		}
		if _, err := s.Tables(ctx); err != nil {
			t.Errorf("round %d: listing the tables: %v", i, err)
		}
	}
}
