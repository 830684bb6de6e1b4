package pgwire_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestRestrictedResultsEqualTheCLIs: a principal whose grant shows some columns of some rows gets
// over psql and over psycopg2 exactly what `auditlake query --as` gives it — the same rows of the
// same columns, and the same refusal (a column it may not read, a table it may not see) — since
// every door runs the query through one restricted session path (app.Backend.Query → the
// principal's query.Session.Run: its view, the row filter, the masks, the pushdown).
func TestRestrictedResultsEqualTheCLIs(t *testing.T) {
	f := sharedLake(t)
	sameViewRuns++ // the lake is shared by the binary's tests (and -count's runs): a user of its own
	user := fmt.Sprintf("dana-sameview-%d", sameViewRuns)
	dana, err := access.Open(f.dir).CreateUser(user, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(f.dir, "grant", "select", "--on", "store:trail", "--to", "user:"+user,
		"--columns", "eventtime,eventname,eventsource,awsregion,useridentity",
		"--row-filter", "eventsource = 'ec2.amazonaws.com' AND eventname <> 'DescribeInstances'"); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, f.dir, pgwire.Options{})
	dsn := s.dsn(dana, "")
	table := `"aws:cloudtrail"."` + f.storeID + `"`
	// pgx's extended protocol (Parse, Describe, Bind with a parameter, Execute) against the CLI
	// with the value written in.
	t.Run("extended protocol with a parameter", func(t *testing.T) {
		q := "SELECT CAST(date_trunc('day', eventtime) AS varchar) AS day, useridentity.arn AS who, count(*) AS n FROM " + table +
			" WHERE eventname = %s GROUP BY 1, 2 ORDER BY 1, 2"
		cliOut, err := runCLI(f.dir, "query", "--as", user, "--format", "csv", fmt.Sprintf(q, "'RunInstances'"))
		if err != nil {
			t.Fatal(err)
		}
		want := parseCSV(t, cliOut)
		rows, err := pgxConnect(t, dsn).Query(context.Background(), fmt.Sprintf(q, "$1"), "RunInstances")
		if err != nil {
			t.Fatal(err)
		}
		got := [][]string{{"day", "who", "n"}}
		for rows.Next() {
			var day, who *string
			var n int64
			if err := rows.Scan(&day, &who, &n); err != nil {
				t.Fatal(err)
			}
			got = append(got, []string{deref(day), deref(who), fmt.Sprint(n)})
		}
		if rows.Err() != nil || len(want) < 2 || !reflect.DeepEqual(got, want) {
			t.Fatalf("pgx (%v):\n%v\nCLI --as:\n%v", rows.Err(), got, want)
		}
	})
	py := ""
	if _, err := exec.LookPath("/usr/bin/python3"); err == nil {
		if exec.Command("/usr/bin/python3", "-c", "import psycopg2").Run() == nil {
			py = "/usr/bin/python3"
		}
	}
	for _, c := range []struct {
		name, sql string
		fails     bool
	}{
		{"count", "SELECT count(*) AS n FROM " + table, false},
		{"per name and region", "SELECT eventname, awsregion, count(*) AS n FROM " + table + " GROUP BY 1, 2 ORDER BY n DESC, 1, 2", false},
		{"who ran instances, per day", "SELECT CAST(date_trunc('day', eventtime) AS varchar) AS day, useridentity.arn AS who, count(*) AS n FROM " + table +
			" WHERE eventname = 'RunInstances' GROUP BY 1, 2 ORDER BY 1, 2", false},
		{"latest events", "SELECT CAST(eventtime AS varchar) AS t, eventname, useridentity.type AS kind FROM " + table + " ORDER BY eventtime DESC, eventname LIMIT 7", false},
		{"hidden rows asked for", "SELECT count(*) AS n FROM " + table + " WHERE eventsource <> 'ec2.amazonaws.com' OR eventname = 'DescribeInstances'", false},
		// Every row it sees has this name; a row it does not see has NULL in every column.
		{"a cast that fails on a hidden row", "SELECT count(*) AS n FROM " + table + " WHERE eventname = 'RunInstances' AND CAST(eventname AS integer) = 0", true},
		// version() and current_user in a data query are refused by the dialect (the engine
		// would answer with its own): the same refusal at both doors shows the door sent the
		// query to the data engine, not to its catalog, where they answer.
		{"a data query that calls a catalog function", "SELECT count(*) AS n FROM " + table + " WHERE length(version()) > 0", true},
		{"a data query with a pg_ name", "SELECT count(*) AS n, 'pg_x' AS pg_catalogue FROM " + table, false},
		{"a data query with a session function in a subquery", "SELECT count(*) AS n FROM " + table + " WHERE eventname IN (SELECT eventname FROM " + table + " WHERE current_user IS NOT NULL)", true},
		{"a denied column", "SELECT sourceipaddress FROM " + table + " LIMIT 1", true},
		{"the raw record", "SELECT eventjson FROM " + table + " LIMIT 1", true},
		{"star expands to the granted columns", "SELECT * FROM " + table + " ORDER BY eventtime, eventname LIMIT 0", false},
		{"a table it may not see", `SELECT count(*) FROM "aws:cloudtrail"."auditlake-audit"`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cliOut, cliErr := runCLI(f.dir, "query", "--as", user, "--format", "csv", c.sql)
			psqlOut, psqlErr := psql(t, dsn, "--csv", "-c", c.sql)
			if c.fails {
				var ce *cliError
				if cliErr == nil || psqlErr == nil || !errors.As(cliErr, &ce) {
					t.Fatalf("want both to refuse: CLI %v (%q), psql %v (%q)", cliErr, cliOut, psqlErr, psqlOut)
				}
				msg := pgMessage(psqlOut)
				if msg == "" || !strings.Contains(ce.stderr, msg) {
					t.Fatalf("psql's error %q is not the CLI's:\n%s", psqlOut, ce.stderr)
				}
				return
			}
			if cliErr != nil || psqlErr != nil {
				t.Fatalf("CLI: %v\npsql: %v\n%s", cliErr, psqlErr, psqlOut)
			}
			want, got := parseCSV(t, cliOut), parseCSV(t, psqlOut)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("psql:\n%v\nCLI --as:\n%v", got, want)
			}
			if c.name != "star expands to the granted columns" && len(want) < 2 {
				t.Fatalf("no rows to compare: %v", want)
			}
			if py == "" {
				return
			}
			script := `
import sys, csv, psycopg2
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
cur.execute(sys.argv[2])
w = csv.writer(sys.stdout, lineterminator='\n')
w.writerow([d[0] for d in cur.description])
for r in cur.fetchall():
    w.writerow(['' if v is None else v for v in r])
`
			out, err := exec.Command(py, "-c", script, dsn, strings.ReplaceAll(c.sql, "%", "%%")).CombinedOutput()
			if err != nil {
				t.Fatalf("psycopg2: %v\n%s", err, out)
			}
			if got := parseCSV(t, string(out)); !reflect.DeepEqual(got, want) {
				t.Fatalf("psycopg2:\n%v\nCLI --as:\n%v", got, want)
			}
		})
	}
}

var sameViewRuns int

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// pgMessage is the message of psql's "ERROR:  …" line ("" when there is none).
func pgMessage(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(l), "ERROR:"); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

func parseCSV(t *testing.T, s string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, s)
	}
	return rows
}
