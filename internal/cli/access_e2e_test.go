package cli_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// accessLake is a data directory with the stratus-red-team samples in store "trail", the same
// in store "other" (granted to nobody), a CUR table cur.koku, and four principals:
// alice (admin), bob (role finops: five columns of the EC2 rows), carol (every column of
// account 309303190113's rows, and eventname/eventsource of every STS row), dave (no grant).
type accessLake struct {
	dir, id, other string
}

const (
	bobColumns  = "eventtime,eventname,eventsource,awsregion,recipientaccountid"
	carolAcct   = "309303190113"
	bobFilter   = "eventsource = 'ec2.amazonaws.com'"
	carolFilter = "recipientaccountid IN ('" + carolAcct + "')"
)

func newAccessLake(t *testing.T) accessLake {
	t.Helper()
	dir := t.TempDir()
	a := accessLake{dir: dir, id: createStore(t, dir, "trail"), other: createStore(t, dir, "other")}
	stratus := testdata("stratus-red-team-detonation-logs")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", stratus)
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "other", stratus)
	mustRun(t, 0, dir, "cur", "register", "cur.koku", testdata("koku-cur-test-data", "2023-06-01.csv"))
	mustRun(t, 0, dir, "user", "create", "alice", "--admin")
	for _, u := range []string{"bob", "carol", "dave"} {
		mustRun(t, 0, dir, "user", "create", u)
	}
	mustRun(t, 0, dir, "role", "create", "finops")
	mustRun(t, 0, dir, "role", "add-member", "finops", "bob")
	mustRun(t, 0, dir, "grant", "select", "--on", "store:trail", "--to", "role:finops", "--columns", bobColumns, "--row-filter", bobFilter)
	mustRun(t, 0, dir, "grant", "select", "--on", "table:cur.koku", "--to", "role:finops")
	mustRun(t, 0, dir, "grant", "select", "--on", "store:"+a.id, "--to", "user:carol", "--row-filter", carolFilter)
	mustRun(t, 0, dir, "grant", "select", "--on", "store:trail", "--to", "carol", "--columns", "eventname,eventsource", "--row-filter", "eventsource = 'sts.amazonaws.com'")
	return a
}

func (a accessLake) table() string { return `"aws:cloudtrail"."` + a.id + `"` }

// queryAs runs a query as principal (operator when "") and returns its CSV rows with the header.
func (a accessLake) queryAs(t *testing.T, principal, sql string) (rows [][]string, stderr string, code int) {
	t.Helper()
	args := []string{"query", "--format", "csv", sql}
	if principal != "" {
		args = append(args, "--as", principal)
	}
	out, errOut, code := run(t, a.dir, args...)
	if code != 0 {
		return nil, errOut, code
	}
	return parseCSV(t, out), errOut, code
}

func (a accessLake) mustQueryAs(t *testing.T, principal, sql string) [][]string {
	t.Helper()
	rows, errOut, code := a.queryAs(t, principal, sql)
	if code != 0 {
		t.Fatalf("query as %q: exit %d: %s\n%s", principal, code, errOut, sql)
	}
	return rows
}

func (a accessLake) count(t *testing.T, principal, sql string) string {
	t.Helper()
	return a.mustQueryAs(t, principal, sql)[1][0]
}

// TestGrantMatrixEachPrincipalSeesExactlyItsGrants: for each principal and each table, the
// rows and columns a query sees are exactly what its grants allow — computed independently by
// the operator's unrestricted query of the same predicate.
func TestGrantMatrixEachPrincipalSeesExactlyItsGrants(t *testing.T) {
	a := newAccessLake(t)
	all := a.count(t, "", "SELECT count(*) FROM "+a.table())
	ec2 := a.count(t, "", "SELECT count(*) FROM "+a.table()+" WHERE "+bobFilter)
	carolRows := a.count(t, "", "SELECT count(*) FROM "+a.table()+" WHERE "+carolFilter+" OR eventsource = 'sts.amazonaws.com'")
	stsOnly := a.count(t, "", "SELECT count(*) FROM "+a.table()+" WHERE NOT ("+carolFilter+") AND eventsource = 'sts.amazonaws.com'")
	if all != "310" || ec2 == "0" || stsOnly == "0" {
		t.Fatalf("fixture: %s events, %s EC2, %s STS outside carol's account", all, ec2, stsOnly)
	}
	allCols := a.mustQueryAs(t, "", "SELECT * FROM "+a.table()+" LIMIT 1")[0]
	costRows := a.count(t, "", `SELECT count(*) FROM "cur"."koku"`)
	var bobCols []string // in the table's order
	for _, c := range allCols {
		if slices.Contains(strings.Split(bobColumns, ","), c) {
			bobCols = append(bobCols, c)
		}
	}

	cases := []struct {
		principal          string
		trail, other, cost string // counts; "" = not found
		cols               []string
	}{
		{"alice", all, all, costRows, allCols},
		{"user:alice", all, all, costRows, allCols},
		{"bob", ec2, "", costRows, bobCols},
		{"role:finops", ec2, "", costRows, bobCols},
		{"carol", carolRows, "", "", allCols},
		{"dave", "", "", "", nil},
	}
	for _, c := range cases {
		t.Run(c.principal, func(t *testing.T) {
			for _, tc := range []struct{ table, want string }{
				{a.table(), c.trail}, {`"aws:cloudtrail"."trail"`, c.trail}, {`"aws:cloudtrail"."` + a.other + `"`, c.other},
				{`"aws:cloudtrail"."other"`, c.other}, {`"cur"."koku"`, c.cost},
			} {
				rows, errOut, code := a.queryAs(t, c.principal, "SELECT count(*) FROM "+tc.table)
				switch {
				case tc.want == "" && code == 0:
					t.Errorf("%s read %s (%v), want not found", c.principal, tc.table, rows)
				case tc.want == "" && !strings.Contains(errOut, "does not exist"):
					t.Errorf("%s on %s: %s, want a not-found error", c.principal, tc.table, errOut)
				case tc.want != "" && code != 0:
					t.Errorf("%s on %s: exit %d: %s", c.principal, tc.table, code, errOut)
				case tc.want != "" && rows[1][0] != tc.want:
					t.Errorf("%s sees %s rows of %s, want %s", c.principal, rows[1][0], tc.table, tc.want)
				}
			}
			if c.cols == nil {
				return
			}
			got := a.mustQueryAs(t, c.principal, "SELECT * FROM "+a.table()+" LIMIT 1")[0]
			if !slices.Equal(got, c.cols) {
				t.Errorf("SELECT * as %s has columns %v, want %v", c.principal, got, c.cols)
			}
		})
	}
	// Carol's two grants combine: STS rows of other accounts show eventname and eventsource
	// only; her account's rows show everything.
	if got := a.count(t, "carol", "SELECT count(*) FROM "+a.table()+" WHERE awsregion IS NULL AND eventname IS NOT NULL"); got != stsOnly {
		t.Errorf("carol sees %s rows with only the STS grant's columns, want %s", got, stsOnly)
	}
	if got := a.count(t, "carol", "SELECT count(*) FROM "+a.table()+" WHERE recipientaccountid = '"+carolAcct+"' AND awsregion IS NOT NULL"); got == "0" {
		t.Errorf("carol sees no full row of her account")
	}
	// The operator's view and bob's agree row for row on what bob may see.
	want := a.mustQueryAs(t, "", "SELECT "+bobColumns+" FROM "+a.table()+" WHERE "+bobFilter+" ORDER BY ALL")
	got := a.mustQueryAs(t, "bob", "SELECT "+bobColumns+" FROM "+a.table()+" ORDER BY ALL")
	if !slices.EqualFunc(want, got, slices.Equal) {
		t.Errorf("bob's rows differ from the operator's filtered rows: %d vs %d", len(got), len(want))
	}
}

// TestGrantRefusesBadInputAndSavesNothing: an unknown principal, store, table or column, a row
// filter that does not parse, names a missing column or tries to end the predicate: a clear
// error at grant time, and the registry unchanged.
func TestGrantRefusesBadInputAndSavesNothing(t *testing.T) {
	a := newAccessLake(t)
	before, err := os.ReadFile(filepath.Join(a.dir, "access", "access.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--on", "store:trail", "--to", "user:nobody"}, `user "nobody"`},
		{[]string{"--on", "store:trail", "--to", "role:nobody"}, `role "nobody"`},
		{[]string{"--on", "store:missing", "--to", "bob"}, "missing"},
		{[]string{"--on", "table:cur.missing", "--to", "bob"}, "cur.missing"},
		{[]string{"--on", "bucket:x", "--to", "bob"}, "invalid resource"},
		{[]string{"--on", "store:trail", "--to", "bob", "--columns", "eventname,nosuchcolumn"}, `"nosuchcolumn" does not exist`},
		{[]string{"--on", "store:trail", "--to", "bob", "--row-filter", "nosuchcolumn = 1"}, "nosuchcolumn"},
		{[]string{"--on", "store:trail", "--to", "bob", "--row-filter", "eventname = "}, "row filter"},
		{[]string{"--on", "store:trail", "--to", "bob", "--row-filter", "1=1) OR (1=1"}, "row filter"},
		{[]string{"--on", "store:trail", "--to", "bob", "--row-filter", "true; SELECT 1"}, "row filter"},
		{[]string{"--on", "store:trail", "--to", "bob", "--row-filter", "true -- everything"}, "row filter"},
		{[]string{"--on", "store:trail", "--to", "bob", "--row-filter", "eventname IN (SELECT eventname FROM \"aws:cloudtrail\".\"" + a.other + "\")"}, "row filter"},
		{[]string{"--on", "all", "--to", "bob", "--columns", "eventname"}, "all takes no columns"},
		// An empty flag (an unset variable in a script) is a mistake, not "every row/column".
		{[]string{"--on", "store:trail", "--to", "bob", "--row-filter", ""}, "--row-filter is empty"},
		{[]string{"--on", "store:trail", "--to", "bob", "--row-filter", "  "}, "--row-filter is empty"},
		{[]string{"--on", "store:trail", "--to", "bob", "--columns", ""}, "--columns is empty"},
		{[]string{"--on", "store:trail", "--to", "bob", "--columns", " , "}, "--columns is empty"},
		{[]string{"--on", "store:trail", "--to", "bob", "--exclude-columns", ""}, "--exclude-columns is empty"},
	} {
		_, errOut, code := run(t, a.dir, append([]string{"grant", "select"}, c.args...)...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("grant select %s: exit %d, %q; want an error naming %q", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
	after, err := os.ReadFile(filepath.Join(a.dir, "access", "access.json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("a refused grant changed access.json")
	}
}

// TestGrantsListsAPrincipalsGrantsAndRefusesAnUnknownOne: grants --principal lists a user's own
// grants and its roles' (a role's only its own); a principal that does not exist (a misspelt
// name) is an error naming it, never an empty list that reads as "no grants".
func TestGrantsListsAPrincipalsGrantsAndRefusesAnUnknownOne(t *testing.T) {
	a := newAccessLake(t)
	for _, c := range []struct {
		principal string
		want      []string // the grants' principal and resource
	}{
		{"bob", []string{"role:finops store:" + a.id, "role:finops table:cur.koku"}},
		{"user:bob", []string{"role:finops store:" + a.id, "role:finops table:cur.koku"}},
		{"role:finops", []string{"role:finops store:" + a.id, "role:finops table:cur.koku"}},
		{"user:carol", []string{"user:carol store:" + a.id, "user:carol store:" + a.id}},
		{"dave", nil},
	} {
		var grants []struct{ Principal, Resource string }
		if err := json.Unmarshal([]byte(mustRun(t, 0, a.dir, "grants", "--principal", c.principal, "--output", "json")), &grants); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, g := range grants {
			got = append(got, g.Principal+" "+g.Resource)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("grants --principal %s = %q, want %q", c.principal, got, c.want)
		}
	}
	for _, p := range []string{"user:bbo", "bbo", "role:finpos"} {
		out, errOut, code := run(t, a.dir, "grants", "--principal", p)
		if code != 1 || !strings.Contains(errOut, "not found") || strings.Contains(out, "PRINCIPAL") {
			t.Errorf("grants --principal %s: exit %d, %q, %q; want exit 1 and not found", p, code, out, errOut)
		}
	}
}

// TestAKeyThatWouldNeverWorkIsRefused: user create and user rotate-key with an --expires in
// the past (a mistyped year) are usage errors that create and change nothing; a future one is
// kept and listed.
func TestAKeyThatWouldNeverWorkIsRefused(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 0, dir, "user", "create", "bob")
	before := mustRun(t, 0, dir, "user", "list")
	for _, args := range [][]string{
		{"user", "create", "eve", "--expires", "2020-01-01"},
		{"user", "rotate-key", "bob", "--expires", "2020-01-01T00:00:00Z"},
	} {
		if _, errOut, code := run(t, dir, args...); code != 2 || !strings.Contains(errOut, "not in the future") {
			t.Errorf("auditlake %s: exit %d, %q; want 2 and the reason", strings.Join(args, " "), code, errOut)
		}
	}
	if after := mustRun(t, 0, dir, "user", "list"); after != before {
		t.Errorf("a refused key changed the users:\n%s\nwant\n%s", after, before)
	}
	mustRun(t, 0, dir, "user", "create", "carol", "--expires", time.Now().AddDate(1, 0, 0).Format("2006-01-02"))
	if out := mustRun(t, 0, dir, "user", "list"); !strings.Contains(out, "expires") {
		t.Errorf("a future expiry is not listed:\n%s", out)
	}
}

// TestAccessAttacksByARestrictedReaderSeeOnlyGrantedData is the attack suite: a reader with a
// row- and column-filtered grant (bob) tries to see a hidden row or column in every way listed
// in docs/security.md. Each query must fail or return only what bob may see: no output or error
// may contain a value that only hidden rows or hidden columns hold.
func TestAccessAttacksByARestrictedReaderSeeOnlyGrantedData(t *testing.T) {
	a := newAccessLake(t)
	T := a.table()
	raw := `"aws:cloudtrail"."__raw_` + a.id + `"`
	ec2 := a.count(t, "", "SELECT count(*) FROM "+T+" WHERE "+bobFilter)
	// Secrets: values that occur only in rows or columns bob may not see.
	var secrets []string
	visible := map[string]bool{}
	for _, r := range a.mustQueryAs(t, "", "SELECT DISTINCT eventname FROM "+T+" WHERE "+bobFilter)[1:] {
		visible[r[0]] = true
	}
	for _, r := range a.mustQueryAs(t, "", "SELECT DISTINCT eventname FROM "+T+" WHERE NOT ("+bobFilter+")")[1:] {
		if !visible[r[0]] {
			secrets = append(secrets, r[0])
		}
	}
	for _, r := range a.mustQueryAs(t, "", "SELECT DISTINCT useridentity.arn FROM "+T+" WHERE useridentity.arn IS NOT NULL")[1:] {
		secrets = append(secrets, r[0])
	}
	secrets = append(secrets, "ssm.amazonaws.com", "secretsmanager.amazonaws.com", "bedrock.amazonaws.com", a.dir, "stores/")
	if len(secrets) < 10 {
		t.Fatalf("fixture: only %d hidden values", len(secrets))
	}
	wantCount := func(n string) func([][]string) error {
		return func(rows [][]string) error {
			if rows[1][0] != n {
				return fmt.Errorf("count %s, want %s", rows[1][0], n)
			}
			return nil
		}
	}
	attacks := []struct {
		sql   string
		check func([][]string) error // nil: any result or error, as long as nothing hidden shows
	}{
		{"SELECT * FROM " + T, nil},
		{"SELECT count(*) FROM " + T, wantCount(ec2)},
		{"SELECT count(*) FROM " + T + " WHERE eventsource <> 'ec2.amazonaws.com'", wantCount("0")},
		{"SELECT count(*) FROM " + T + " WHERE eventname IS NULL OR eventsource IS NULL", wantCount("0")},
		{"SELECT useridentity FROM " + T, nil},
		{"SELECT useridentity.arn FROM " + T, nil},
		{"SELECT eventjson FROM " + T, nil},
		{"SELECT json_extract_scalar(eventjson, '$.userIdentity.arn') FROM " + T, nil},
		{"SELECT requestparameters FROM " + T, nil},
		{"SELECT COLUMNS('.*') FROM " + T, nil},
		{"SELECT " + T + ".* FROM " + T, nil},
		{"SELECT * EXCLUDE (eventname) FROM " + T, nil},
		{"SELECT count(*) FROM " + T + " WHERE CAST(eventname AS integer) = 0", nil},
		{"SELECT count(*) FROM " + T + " WHERE eventsource <> 'ec2.amazonaws.com' AND CAST(eventname AS integer) = 0", nil},
		{"SELECT CAST(eventname AS integer) FROM " + T + " WHERE eventsource = 'ssm.amazonaws.com'", nil},
		{"SELECT CAST(useridentity.arn AS integer) FROM " + T, nil},
		{"SELECT count(*) FROM " + T + " WHERE CAST(useridentity.arn AS integer) = 0", nil},
		{"SELECT * FROM " + raw, nil},
		{"SELECT count(*) FROM (SELECT * FROM " + raw + ")", nil},
		{"SELECT (SELECT count(*) FROM " + raw + ")", nil},
		{"SELECT * FROM " + T + " UNION ALL SELECT eventtime, eventname, eventsource, awsregion, recipientaccountid FROM " + raw, nil},
		{`SELECT * FROM "aws:cloudtrail"."__RAW_` + a.id + `"`, nil},
		{`SELECT * FROM "aws:cloudtrail"."` + a.other + `"`, nil},
		{`SELECT * FROM "aws:cloudtrail"."other"`, nil},
		{`SELECT * FROM "` + a.other + `"`, nil},
		{"WITH x AS (SELECT * FROM " + T + ") SELECT count(*) FROM x", wantCount(ec2)},
		{"WITH x AS (SELECT * FROM " + raw + ") SELECT eventname FROM x", nil},
		{"SELECT count(*) FROM (SELECT * FROM " + T + ") s WHERE s.eventsource = 'ssm.amazonaws.com'", wantCount("0")},
		{"SELECT u FROM " + T + " CROSS JOIN UNNEST(ARRAY[eventname, eventsource]) AS t(u)", nil},
		{"SELECT transform(ARRAY[eventname], x -> upper(x)) FROM " + T, nil},
		{"SELECT filter(ARRAY[eventsource], x -> x <> 'ec2.amazonaws.com') FROM " + T, nil},
		{"SELECT * FROM information_schema.tables", nil},
		{"SELECT * FROM information_schema.columns", nil},
		{"SELECT * FROM information_schema.views", nil},
		{"SELECT * FROM pg_catalog.pg_class", nil},
		{"SELECT * FROM duckdb_tables()", nil},
		{"SELECT * FROM duckdb_views()", nil},
		{"SELECT * FROM duckdb_columns()", nil},
		{"SELECT * FROM read_parquet('" + a.dir + "/stores/*/*/*.parquet')", nil},
		{"SELECT * FROM '" + a.dir + "/stores/" + a.id + "/**/*.parquet'", nil},
		{"SELECT * FROM glob('" + a.dir + "/**')", nil},
		{"SELECT * FROM read_text('" + a.dir + "/access/access.json')", nil},
		{"SELECT * FROM query('SELECT * FROM " + strings.ReplaceAll(raw, "'", "''") + "')", nil},
		{"SELECT * FROM query_table('" + raw + "')", nil},
		{"SELECT count(*) FROM " + T + " WHERE eventname LIKE '%Secret%'", nil},
		{"SELECT max(eventname), min(eventname), count(DISTINCT eventsource) FROM " + T, nil},
		{"SELECT eventname FROM " + T + " ORDER BY eventname DESC LIMIT 5", nil},
		{"SELECT 1/0 FROM " + T + " WHERE eventsource = 'ssm.amazonaws.com'", nil},
		{"SELECT * FROM " + T + " t1 JOIN " + T + " t2 ON t1.eventname = t2.eventname LIMIT 3", nil},
		{`SELECT * FROM "cur"."koku" c JOIN ` + T + ` e ON true LIMIT 1`, nil},
		{"ATTACH '" + a.dir + "/x.db' AS x", nil},
		{"COPY (SELECT * FROM " + raw + ") TO '" + a.dir + "/leak.csv'", nil},
		{"PRAGMA show_tables", nil},
		{"SET lock_configuration = false", nil},
		{"EXPLAIN SELECT * FROM " + raw, nil},
		{"SELECT * FROM " + T + "; SELECT * FROM " + raw, nil},
	}
	if len(attacks) < 40 {
		t.Fatalf("only %d attacks", len(attacks))
	}
	for i, at := range attacks {
		out, errOut, code := run(t, a.dir, "query", "--format", "csv", "--as", "bob", at.sql)
		for _, s := range secrets {
			if strings.Contains(at.sql, s) {
				continue // an error may quote what the attacker wrote
			}
			if strings.Contains(out, s) || strings.Contains(errOut, s) {
				t.Errorf("attack %d shows the hidden value %q: %s\nstdout: %.300s\nstderr: %.300s", i, s, at.sql, out, errOut)
			}
		}
		for _, col := range []string{"useridentity", "eventjson", "requestparameters", "sourceipaddress"} {
			if code == 0 && strings.Contains(strings.SplitN(out, "\n", 2)[0], col) {
				t.Errorf("attack %d returns the hidden column %s: %s", i, col, at.sql)
			}
		}
		if at.check != nil {
			if code != 0 {
				t.Errorf("attack %d: exit %d: %s\n%s", i, code, errOut, at.sql)
				continue
			}
			if err := at.check(parseCSV(t, out)); err != nil {
				t.Errorf("attack %d: %v: %s", i, err, at.sql)
			}
		}
		if _, err := os.Stat(filepath.Join(a.dir, "leak.csv")); err == nil {
			t.Fatalf("attack %d wrote a file: %s", i, at.sql)
		}
	}
}

// TestAccessKeysAuthenticateAndAreNeverStored: a key's secret authenticates through the
// registry only while the user and key are enabled; access.json holds no secret.
func TestAccessKeysAuthenticateAndAreNeverStored(t *testing.T) {
	dir := t.TempDir()
	out := mustRun(t, 0, dir, "user", "create", "erin", "--output", "json")
	var c struct {
		User            string `json:"user"`
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.User != "erin" || !strings.HasPrefix(c.AccessKeyID, "ALAK") || len(c.SecretAccessKey) != 40 {
		t.Fatalf("user create --output json printed %q (%v)", out, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "access", "access.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), c.SecretAccessKey) {
		t.Fatalf("access.json holds the secret")
	}
	if fi, err := os.Stat(filepath.Join(dir, "access", "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key: %v, mode %v; want 0600", err, fi.Mode())
	}
	list := mustRun(t, 0, dir, "user", "list", "--output", "json")
	if strings.Contains(list, c.SecretAccessKey) || !strings.Contains(list, c.AccessKeyID) {
		t.Fatalf("user list shows a secret or misses the key id: %s", list)
	}
	mustRun(t, 2, dir, "user", "delete", "erin")
	mustRun(t, 0, dir, "user", "delete", "erin", "--yes")
	mustRun(t, 1, dir, "user", "disable", "erin")
}

// parseCSV reads a query's CSV output, header included.
func parseCSV(t *testing.T, out string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("query output is not CSV with a header: %v\n%s", err, out)
	}
	return recs
}

// TestEventJSONChecksumIsHiddenWithEventJSON: eventjsonchecksum is the SHA-256 of eventjson, the
// whole record. A reader denied a column (sourceipaddress) but shown eventjsonchecksum and every
// other column could test guesses of the hidden value — rebuild the record's text with each
// candidate address and compare hashes — offline, for any value of few possibilities. A grant
// that hides eventjson and another column now hides eventjsonchecksum too; one that hides
// eventjson alone (every field is in the other columns) keeps it; where several grants apply,
// the checksum shows on the rows of the grants that show eventjson.
func TestEventJSONChecksumIsHiddenWithEventJSON(t *testing.T) {
	dir := t.TempDir()
	id := createStore(t, dir, "trail")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
	T := `"aws:cloudtrail"."` + id + `"`
	for _, u := range []string{"dan", "eve", "fay"} {
		mustRun(t, 0, dir, "user", "create", u)
	}
	mustRun(t, 0, dir, "grant", "select", "--on", "store:trail", "--to", "dan", "--exclude-columns", "sourceipaddress,eventjson")
	mustRun(t, 0, dir, "grant", "select", "--on", "store:trail", "--to", "eve", "--exclude-columns", "eventjson")
	mustRun(t, 0, dir, "grant", "select", "--on", "store:trail", "--to", "fay", "--row-filter", "eventsource = 'ec2.amazonaws.com'")
	mustRun(t, 0, dir, "grant", "select", "--on", "store:trail", "--to", "fay", "--columns", "eventid,eventsource,eventjsonchecksum,useragent")
	if _, errOut, code := run(t, dir, "query", "--as", "dan", "SELECT eventjsonchecksum FROM "+T); code == 0 || !strings.Contains(errOut, "eventjsonchecksum") {
		t.Errorf("dan (sourceipaddress and eventjson hidden) reads eventjsonchecksum: exit %d %s", code, errOut)
	}
	as := func(who, sql string) []string {
		t.Helper()
		return strings.Split(strings.Split(strings.TrimSpace(mustRun(t, 0, dir, "query", "--as", who, "--format", "csv", sql)), "\n")[1], ",")
	}
	all := queryCSV(t, dir, "SELECT count(*), count(*) FILTER (WHERE eventsource = 'ec2.amazonaws.com') FROM "+T)[0]
	if got := as("eve", "SELECT count(eventjsonchecksum) FROM "+T)[0]; got != all[0] {
		t.Errorf("eve (eventjson alone hidden) sees %s checksums of %s rows", got, all[0])
	}
	if got := as("fay", "SELECT count(*), count(eventjsonchecksum) FROM "+T); got[0] != all[0] || got[1] != all[1] || all[1] == all[0] || all[1] == "0" {
		t.Errorf("fay sees %v rows and checksums; want every row (%s) and the checksums of the ec2 rows (%s) only", got, all[0], all[1])
	}
}
