package pgwire_test

import (
	"context"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// arraysQuery selects lists of scalars (the engine's VARCHAR[], INTEGER[], DECIMAL(5,2)[],
// BOOLEAN[]), an empty one, a list of lists and a list of structs, from a data query and from
// the catalog.
const arraysQuery = `SELECT split('a,b c,', ',') AS l, [1, 2, NULL] AS i, ['NULL', 'x"y', 'a\b', '{}'] AS q,
	CAST(ARRAY[] AS ARRAY(VARCHAR)) AS e, [CAST(1.5 AS DECIMAL(5,2))] AS d, [true, false] AS b, [[1, 2]] AS nested, [{'k': 1}] AS st
	FROM "aws:cloudtrail"."%s" LIMIT 1`

// TestListsArePostgresArrays: a list of scalars is sent as a PostgreSQL array of their type
// (text[], int4[], numeric[], bool[]: array OIDs, PostgreSQL's array text {a,"b c",NULL}, or its
// binary layout), so psql shows it as PostgreSQL does, psycopg2 reads a Python list of the
// elements' types, and pgx scans it into Go slices in binary; a list of lists or of structs has
// no rectangular array form and stays json. current_schemas() from the catalog is a text[] too.
func TestListsArePostgresArrays(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	q := strings.Replace(arraysQuery, "%s", f.storeID, 1)

	out, err := psql(t, s.dsn(f.bob, ""), "-A", "-F", "|", "-c", q)
	if want := `{a,"b c",""}|{1,2,NULL}|{"NULL","x\"y","a\\b","{}"}|{}|{1.50}|{t,f}|[[1,2]]|[{"k":1}]`; err != nil || !strings.Contains(out, want) {
		t.Fatalf("psql: %v\n%s\nwant the row %s", err, out, want)
	}

	py := debianPython(t, "psycopg2")
	script := `
import sys, psycopg2
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
cur.execute(sys.argv[2].replace('%', '%%'))
print(repr(cur.fetchone()))
print([d.type_code for d in cur.description])
cur.execute('SELECT current_schemas(true)')
print(repr(cur.fetchone()), cur.description[0].type_code)
`
	got, err := exec.Command(py, "-c", script, s.dsn(f.bob, ""), q).CombinedOutput()
	want := `(['a', 'b c', ''], [1, 2, None], ['NULL', 'x"y', 'a\\b', '{}'], [], [Decimal('1.50')], [True, False], [[1, 2]], [{'k': 1}])
[1009, 1007, 1009, 1009, 1231, 1000, 114, 114]
(['pg_catalog', 'public'],) 1009`
	if err != nil || strings.TrimSpace(string(got)) != want {
		t.Fatalf("psycopg2: %v\n%s\nwant:\n%s", err, got, want)
	}

	c := pgxConnect(t, s.dsn(f.bob, ""))
	var (
		l, qs, e []string
		i        []*int32
		d        []float64
		b        []bool
		nested   any
		st       any
	)
	if err := c.QueryRow(context.Background(), q).Scan(&l, &i, &qs, &e, &d, &b, &nested, &st); err != nil {
		t.Fatal(err)
	}
	one, two := int32(1), int32(2)
	if !reflect.DeepEqual(l, []string{"a", "b c", ""}) || !reflect.DeepEqual(i, []*int32{&one, &two, nil}) ||
		!reflect.DeepEqual(qs, []string{"NULL", `x"y`, `a\b`, "{}"}) || len(e) != 0 || !reflect.DeepEqual(d, []float64{1.5}) ||
		!reflect.DeepEqual(b, []bool{true, false}) || !reflect.DeepEqual(nested, []any{[]any{1.0, 2.0}}) {
		t.Fatalf("pgx: %q %v %q %q %v %v %#v %#v", l, i, qs, e, d, b, nested, st)
	}
}
