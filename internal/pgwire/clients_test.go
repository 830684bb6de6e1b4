package pgwire_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditlake/auditlake/internal/pgwire"
)

var fmtSscan = fmt.Sscan

func pgxConnect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// TestPsqlListsDescribesAndQueries: psql's \dt lists the store's table, \d describes its
// columns with Postgres types, and queries run over the simple protocol (-c) and the extended one
// (\bind … \g).
func TestPsqlListsDescribesAndQueries(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	dsn := s.dsn(f.admin, "")

	out, err := psql(t, dsn, "-c", `\dt`)
	if err != nil || !strings.Contains(out, "aws:cloudtrail | "+f.storeID+" | table") || !strings.Contains(out, "aws:cloudtrail | trail") {
		t.Fatalf(`\dt: %v\n%s`, err, out)
	}
	out, err = psql(t, dsn, "-c", `\d "aws:cloudtrail"."`+f.storeID+`"`)
	for _, want := range []string{`Table "aws:cloudtrail.` + f.storeID + `"`, "eventtime", "timestamp without time zone", "useridentity", "json", "readonly", "boolean"} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf(`\d: %v, missing %q in\n%s`, err, want, out)
		}
	}
	out, err = psql(t, dsn, "-A", "-t", "-c", `SELECT count(*) FROM "aws:cloudtrail"."`+f.storeID+`"`)
	if err != nil || strings.TrimSpace(out) != fmt.Sprint(f.allEvents) {
		t.Fatalf("simple protocol count: %v %q, want %d", err, out, f.allEvents)
	}
	// Extended protocol: psql 15 (Debian 12) has no \bind; pgx's tests below (and psql 16's
	// \bind, when present) send Parse/Bind/Describe/Execute with $1 parameters.
	if v, _ := psql(t, dsn, "--version"); !strings.Contains(v, " 15.") {
		out, err = psql(t, dsn, "-A", "-t", "-c", `SELECT count(*) FROM "aws:cloudtrail"."`+f.storeID+`" WHERE eventsource = $1 \bind ec2.amazonaws.com \g`)
		if err != nil || strings.TrimSpace(out) != fmt.Sprint(f.bobEvents) {
			t.Fatalf("extended protocol count: %v %q, want %d", err, out, f.bobEvents)
		}
	}
	// The Trino dialect, as everywhere: a lambda and a Trino function (an integer array comes as
	// PostgreSQL writes one).
	out, err = psql(t, dsn, "-A", "-t", "-c", `SELECT transform(ARRAY[1, 2], x -> x * 10), date_format(TIMESTAMP '2024-05-01 10:00:00', '%Y-%m')`)
	if err != nil || strings.TrimSpace(out) != "{10,20}|2024-05" {
		t.Fatalf("Trino dialect: %v %q", err, out)
	}
	// Session statements clients send are accepted and harmless; SHOW answers.
	out, err = psql(t, dsn, "-A", "-t", "-c", "SET application_name = 'x'", "-c", "SHOW server_version", "-c", "SELECT version()", "-c", "SELECT current_setting('server_version_num'), current_schema(), current_database(), current_user")
	if err != nil || !strings.Contains(out, "15.0") || !strings.Contains(out, "PostgreSQL 15.0 (auditlake)") || !strings.Contains(out, "150000|public|auditlake|"+f.admin.AccessKeyID) {
		t.Fatalf("session statements: %v\n%s", err, out)
	}
	// Writes are refused, with the read-only SQLSTATE.
	out, err = psql(t, dsn, "-c", `DELETE FROM "aws:cloudtrail"."`+f.storeID+`"`)
	if err == nil || !strings.Contains(out, "only SELECT") {
		t.Fatalf("DELETE: %v\n%s", err, out)
	}
}

// TestRowFilteredPrincipalSeesOnlyItsRowsAndTables: bob, whose grant shows only ec2 events of one
// store, counts only those rows over every door of the protocol, and \dt lists only that store.
func TestRowFilteredPrincipalSeesOnlyItsRowsAndTables(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.bob, ""))
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM "aws:cloudtrail"."`+f.storeID+`"`).Scan(&n); err != nil || n != f.bobEvents {
		t.Fatalf("bob counts %d (%v), want %d of %d", n, err, f.bobEvents, f.allEvents)
	}
	var other int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM "aws:cloudtrail"."`+f.storeID+`" WHERE eventsource <> $1`, "ec2.amazonaws.com").Scan(&other); err != nil || other != 0 {
		t.Fatalf("bob sees %d rows outside his filter (%v)", other, err)
	}
	rows, err := c.Query(context.Background(), `SELECT table_schema, table_name FROM information_schema.tables ORDER BY 2`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var sch, name string
		rows.Scan(&sch, &name)
		tables = append(tables, sch+"."+name)
	}
	if rows.Err() != nil || strings.Contains(strings.Join(tables, ","), "auditlake-audit") || len(tables) == 0 {
		t.Fatalf("bob's information_schema.tables: %v (%v)", tables, rows.Err())
	}
	out, err := psql(t, s.dsn(f.bob, ""), "-c", `\dt`)
	if err != nil || strings.Contains(out, "auditlake-audit") || !strings.Contains(out, f.storeID) {
		t.Fatalf(`bob's \dt: %v\n%s`, err, out)
	}
	// The audit store exists but bob cannot name it: not found, as if it did not exist.
	if _, err := psql(t, s.dsn(f.bob, ""), "-c", `SELECT count(*) FROM "aws:cloudtrail"."auditlake-audit"`); err == nil {
		t.Fatal("bob read the audit store")
	}
}

// TestPsycopg2ParameterisedQueries: Python's psycopg2 (libpq) runs parameterised queries.
func TestPsycopg2ParameterisedQueries(t *testing.T) {
	f := sharedLake(t)
	py := debianPython(t, "psycopg2")
	s := startServer(t, f.dir, pgwire.Options{})
	script := `
import sys, psycopg2
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
cur.execute('SELECT count(*) FROM "aws:cloudtrail"."' + sys.argv[2] + '" WHERE eventsource = %s AND eventtime > %s', ('ec2.amazonaws.com', '2000-01-01'))
print(cur.fetchone()[0])
cur.execute('SELECT eventname, eventtime, readonly, useridentity FROM "aws:cloudtrail"."' + sys.argv[2] + '" WHERE eventname = %(name)s LIMIT 1', {'name': "it's; DROP"})
print(cur.fetchall())
cur.execute('SELECT eventtime, readonly, useridentity FROM "aws:cloudtrail"."' + sys.argv[2] + '" ORDER BY eventtime LIMIT 1')
t, ro, ident = cur.fetchone()
print(type(t).__name__, type(ro).__name__, type(ident).__name__)
conn.close()
`
	out, err := exec.Command(py, "-c", script, s.dsn(f.admin, ""), f.storeID).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || len(lines) != 3 || lines[0] != fmt.Sprint(f.bobEvents) || lines[1] != "[]" || lines[2] != "datetime bool dict" {
		t.Fatalf("psycopg2: %v\n%s", err, out)
	}
}

// TestPgxExtendedProtocolTypesAndPortals: pgx prepares (Parse/Describe), binds typed parameters
// in binary, reads binary results into Go types, and a portal is read in pages.
func TestPgxExtendedProtocolTypesAndPortals(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.admin, ""))
	ctx := context.Background()
	var (
		n       int64
		when    time.Time
		ro      bool
		ident   map[string]any
		name    string
		f64     float64
		dec     string
		missing *string
	)
	err := c.QueryRow(ctx, `SELECT count(*) OVER (), eventtime, readonly, useridentity, eventname, 1.5::DOUBLE, CAST(12.34 AS DECIMAL(10,2))::VARCHAR, CAST(NULL AS VARCHAR)
		FROM "aws:cloudtrail"."`+f.storeID+`" WHERE eventsource = $1 AND eventtime > $2 ORDER BY eventtime LIMIT $3`,
		"ec2.amazonaws.com", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 1).Scan(&n, &when, &ro, &ident, &name, &f64, &dec, &missing)
	if err != nil || n != int64(f.bobEvents) || when.Year() < 2000 || ident["type"] == nil || name == "" || f64 != 1.5 || dec != "12.34" || missing != nil {
		t.Fatalf("scan: %v n=%d when=%v ident=%v name=%q f=%v dec=%q", err, n, when, ident, name, f64, dec)
	}
	// A parameter is a value, never SQL.
	if err := c.QueryRow(ctx, `SELECT count(*) FROM "aws:cloudtrail"."`+f.storeID+`" WHERE eventname = $1`, "x' OR '1'='1").Scan(&n); err != nil || n != 0 {
		t.Fatalf("injection through a parameter: %d %v", n, err)
	}
	// Describe of a statement without running it gives the columns with Postgres types.
	sd, err := c.Prepare(ctx, "shape", `SELECT eventtime, eventname, readonly FROM "aws:cloudtrail"."`+f.storeID+`" WHERE eventname = $1`)
	if err != nil || len(sd.Fields) != 3 || sd.Fields[0].DataTypeOID != 1114 || sd.Fields[1].DataTypeOID != 25 || sd.Fields[2].DataTypeOID != 16 || len(sd.ParamOIDs) != 1 {
		t.Fatalf("prepare: %v %+v", err, sd)
	}
	// A portal read 7 rows at a time (Execute with a row limit, PortalSuspended) yields every row.
	pc := c.PgConn()
	res := pc.ExecParams(ctx, `SELECT eventid FROM "aws:cloudtrail"."`+f.storeID+`" ORDER BY eventid`, nil, nil, nil, nil).Read()
	if res.Err != nil || len(res.Rows) != f.allEvents {
		t.Fatalf("all rows: %v %d", res.Err, len(res.Rows))
	}
	// Errors carry SQLSTATEs and the connection stays usable.
	_, err = c.Exec(ctx, `SELECT nosuchcolumn FROM "aws:cloudtrail"."`+f.storeID+`"`)
	var pe *pgconn.PgError
	if err == nil || !asPgError(err, &pe) || !strings.HasPrefix(pe.Code, "42") {
		t.Fatalf("bad column: %v", err)
	}
	if err := c.QueryRow(ctx, "SELECT 41 + $1::INTEGER", 1).Scan(&n); err != nil || n != 42 {
		t.Fatalf("after an error: %d %v", n, err)
	}
}

// grafanaQueries are the catalog queries Grafana's PostgreSQL data source sends to find the
// server version, the schemas, the tables and a table's columns: grafana/grafana
// public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts at commit
// 12f912ab8d010f4d95a4043a0efaa20fc4ca0100 (getVersion, getTimescaleDBVersion, showSchemas,
// showTables without and with a schema, getSchema with buildSchemaConstraint), with <TABLE> where
// Grafana puts the user's choice.
var grafanaQueries = []string{
	`SELECT current_setting('server_version_num')::int/100 as version`,
	`SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'`,
	`SELECT schema_name AS "name"
    FROM information_schema.schemata
    WHERE schema_name NOT IN ('information_schema',
                              'pg_catalog',
                              'pg_toast',
                              '_timescaledb_cache',
                              '_timescaledb_catalog',
                              '_timescaledb_internal',
                              '_timescaledb_config',
                              'timescaledb_information',
                              'timescaledb_experimental')
    ORDER BY schema_name`,
	`SELECT
    CASE WHEN ` + grafanaSchemaConstraint + `
      THEN quote_ident(table_name)
      ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
    END AS "table"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) NOT IN ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
    ORDER BY CASE WHEN ` + grafanaSchemaConstraint + ` THEN 0 ELSE 1 END, 1`,
	`SELECT quote_ident(table_name) AS "table"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) = '"aws:cloudtrail"'
      ORDER BY 1`,
	`SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident('"aws:cloudtrail".<TABLE>'),1) = 2
        THEN quote_ident(table_schema) = (parse_ident('"aws:cloudtrail".<TABLE>'))[1]
          AND quote_ident(table_name) = (parse_ident('"aws:cloudtrail".<TABLE>'))[2]
        ELSE quote_ident(table_name) = '"aws:cloudtrail".<TABLE>'
          AND ` + grafanaSchemaConstraint + `
      END`,
}

const grafanaSchemaConstraint = `
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )`

// metabaseQueries are the queries Metabase's PostgreSQL driver sends when it connects and syncs:
// metabase/metabase src/metabase/driver/postgres.clj at commit
// 008fd6675457cdd62da2265628bed3b725a607ea — db-default-timezone ("show timezone;"),
// enum-types, get-tables-sql and describe-fields-sql (HoneySQL rendered as HoneySQL renders it,
// with the schema filter Metabase adds), describe-fks-sql.
var metabaseQueries = []string{
	`show timezone;`,
	`SELECT nspname, typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid IN (SELECT DISTINCT enumtypid FROM pg_enum e)`,
	`SELECT n.nspname AS schema, c.relname AS name, CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS type, d.description AS description, stat.n_live_tup AS estimated_row_count FROM pg_catalog.pg_class AS c INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid LEFT JOIN pg_catalog.pg_description AS d ON (c.oid = d.objoid) AND (d.objsubid = 0) AND (d.classoid = 'pg_class'::regclass) LEFT JOIN pg_stat_user_tables AS stat ON (n.nspname = stat.schemaname) AND (c.relname = stat.relname) WHERE (c.relnamespace = n.oid) AND (n.nspname !~ '^pg_') AND (n.nspname <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm') AND (n.nspname IN ('aws:cloudtrail')) ORDER BY type ASC, schema ASC, name ASC`,
	`SELECT "c"."column_name" AS "name", CASE WHEN "c"."udt_schema" IN ('public', 'pg_catalog') THEN FORMAT('%s', "c"."udt_name") ELSE FORMAT('"%s"."%s"', "c"."udt_schema", "c"."udt_name") END AS "database-type", "c"."ordinal_position" - 1 AS "database-position", "c"."table_schema" AS "table-schema", "c"."table_name" AS "table-name", "pk"."column_name" IS NOT NULL AS "pk?", COL_DESCRIPTION(CAST(CAST(FORMAT('%I.%I', CAST("c"."table_schema" AS TEXT), CAST("c"."table_name" AS TEXT)) AS REGCLASS) AS OID), "c"."ordinal_position") AS "field-comment", (("column_default" IS NULL) OR (LOWER("column_default") = 'null')) AND ("is_nullable" = 'NO') AND NOT ((("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO')) AS "database-required", (("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO') AS "database-is-auto-increment" FROM "information_schema"."columns" AS "c" LEFT JOIN (SELECT "tc"."table_schema", "tc"."table_name", "kc"."column_name" FROM "information_schema"."table_constraints" AS "tc" INNER JOIN "information_schema"."key_column_usage" AS "kc" ON ("tc"."constraint_name" = "kc"."constraint_name") AND ("tc"."table_schema" = "kc"."table_schema") AND ("tc"."table_name" = "kc"."table_name") WHERE "tc"."constraint_type" = 'PRIMARY KEY') AS "pk" ON ("c"."table_schema" = "pk"."table_schema") AND ("c"."table_name" = "pk"."table_name") AND ("c"."column_name" = "pk"."column_name") WHERE c.table_schema !~ '^information_schema|catalog_history|pg_' AND ("c"."table_schema" IN ('aws:cloudtrail')) AND ("c"."table_name" IN ('<TABLE>')) ORDER BY "table-schema" ASC, "table-name" ASC, "database-position" ASC`,
	`SELECT "fk_ns"."nspname" AS "fk-table-schema", "fk_table"."relname" AS "fk-table-name", "fk_column"."attname" AS "fk-column-name", "pk_ns"."nspname" AS "pk-table-schema", "pk_table"."relname" AS "pk-table-name", "pk_column"."attname" AS "pk-column-name" FROM "pg_constraint" AS "c" INNER JOIN "pg_class" AS "fk_table" ON "c"."conrelid" = "fk_table"."oid" INNER JOIN "pg_namespace" AS "fk_ns" ON "c"."connamespace" = "fk_ns"."oid" INNER JOIN "pg_attribute" AS "fk_column" ON "c"."conrelid" = "fk_column"."attrelid" INNER JOIN "pg_class" AS "pk_table" ON "c"."confrelid" = "pk_table"."oid" INNER JOIN "pg_namespace" AS "pk_ns" ON "pk_table"."relnamespace" = "pk_ns"."oid" INNER JOIN "pg_attribute" AS "pk_column" ON "c"."confrelid" = "pk_column"."attrelid" WHERE fk_ns.nspname !~ '^information_schema|catalog_history|pg_' AND ("c"."contype" = 'f'::char) AND ("fk_column"."attnum" = ANY(c.conkey)) AND ("pk_column"."attnum" = ANY(c.confkey)) ORDER BY "fk-table-schema" ASC, "fk-table-name" ASC`,
}

// pgjdbcTypeQuery is the query the PostgreSQL JDBC driver (under Metabase and DBeaver) sends to
// learn a type it does not know: pgjdbc/pgjdbc
// pgjdbc/src/main/java/org/postgresql/jdbc/TypeInfoCache.java at commit
// e1b8437848be9bdb13b63616fa9ee6788bfe3a34 (getSQLTypeQuery with the OID as parameter).
const pgjdbcTypeQuery = `SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, pg_type.oid   FROM pg_catalog.pg_type   LEFT JOIN (select ns.oid as nspoid, ns.nspname, r.r           from pg_namespace as ns           join ( select s.r, (current_schemas(false))[s.r] as nspname                    from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r          using ( nspname )        ) as sp     ON sp.nspoid = typnamespace  WHERE pg_type.oid = $1  ORDER BY sp.r, pg_type.oid DESC`

// TestGrafanaAndMetabaseCatalogQueries: the catalog queries of Grafana's and Metabase's
// PostgreSQL connectors run, list the store's table and its columns.
func TestGrafanaAndMetabaseCatalogQueries(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.admin, ""))
	ctx := context.Background()
	run := func(origin, q string) string {
		t.Helper()
		q = strings.ReplaceAll(q, "<TABLE>", f.storeID)
		rows, err := c.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s query failed: %v\n%s", origin, err, q)
		}
		var out []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatalf("%s query: %v", origin, err)
			}
			out = append(out, strings.TrimSpace(fmt.Sprintln(vals...)))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s query failed: %v\n%s", origin, err, q)
		}
		return strings.Join(out, "\n")
	}
	got := map[int]string{}
	for i, q := range grafanaQueries {
		got[i] = run("Grafana", q)
	}
	// getSchema (got[5]) compares quote_ident(table_schema) with parse_ident's unquoted parts, so
	// against PostgreSQL too it finds no columns in a schema whose name needs quotes: it must
	// run, and Grafana's code editor is where these tables are queried (docs/postgres.md).
	if got[0] != "1500" || !strings.Contains(got[2], "aws:cloudtrail") || !strings.Contains(got[3], `"aws:cloudtrail"."`+f.storeID+`"`) ||
		!strings.Contains(got[4], `"`+f.storeID+`"`) {
		t.Fatalf("Grafana's answers: %v", got)
	}
	for i, q := range metabaseQueries {
		got[i] = run("Metabase", q)
	}
	if got[0] != "UTC" || !strings.Contains(got[2], "aws:cloudtrail "+f.storeID+" TABLE") || !strings.Contains(got[3], "eventtime timestamp") || got[4] != "" {
		t.Fatalf("Metabase's answers: %v", got)
	}
	for oid, want := range map[int]string{1009: "true b _text 1009", 2950: "false b uuid 2950"} {
		var isArray bool
		var typtype, typname string
		var typoid int64
		if err := c.QueryRow(ctx, pgjdbcTypeQuery, oid).Scan(&isArray, &typtype, &typname, &typoid); err != nil ||
			fmt.Sprint(isArray, " ", typtype, " ", typname, " ", typoid) != want {
			t.Fatalf("pgjdbc's type query for %d: %v %v %s %s %d, want %s", oid, err, isArray, typtype, typname, typoid, want)
		}
	}
}

// TestNegativeParameterAfterAMinusIsAValue: a negative number bound after a minus, with its type
// given (JDBC's setInt, psycopg 3's int, pgconn's ExecParams with the int4 and float8 oids, in
// text and in binary), stays one value: 5-$1 with -1 is 6, and the rest of the line still runs.
// Spliced as written it made "5--1", a comment to the end of the line: the query answered 5 and
// silently lost the conditions that followed on that line, a parameter turned into SQL.
func TestNegativeParameterAfterAMinusIsAValue(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.bob, ""))
	ctx := context.Background()
	sql := `SELECT CAST(5-$1 AS VARCHAR), CAST(5.5-$2 AS VARCHAR), CAST(count(*) AS VARCHAR) FROM "aws:cloudtrail"."` + f.storeID + `" WHERE 1=1-$1-1 AND eventname = 'NoSuchEvent'`
	for _, p := range []struct {
		name    string
		values  [][]byte
		formats []int16
	}{
		{"text", [][]byte{[]byte("-1"), []byte("-0.5")}, []int16{0, 0}},
		{"binary", [][]byte{{0xff, 0xff, 0xff, 0xff}, {0xbf, 0xe0, 0, 0, 0, 0, 0, 0}}, []int16{1, 1}},
	} {
		res := c.PgConn().ExecParams(ctx, sql, p.values, []uint32{23, 701}, p.formats, nil).Read()
		if res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != "6" || string(res.Rows[0][1]) != "6.0" || string(res.Rows[0][2]) != "0" {
			var row []string
			for _, r := range res.Rows {
				for _, v := range r {
					row = append(row, string(v))
				}
			}
			t.Errorf("%s: 5-$1 with -1: %v %q, want 6, 6.0 and 0 rows", p.name, res.Err, row)
		}
	}
}
