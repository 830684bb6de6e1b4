package pgwire_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// pgjdbcKeyQueries are pgjdbc's DatabaseMetaData.getPrimaryKeys and getIndexInfo for a table,
// which JDBC tools call when they open one (Metabase's sync reads primary keys through it):
// getIndexInfo as pgjdbc/pgjdbc pgjdbc/src/main/java/org/postgresql/jdbc/PgDatabaseMetaData.java
// at commit 0169c546ce4f7bb244e1563ff26550fb1543ec76 builds it for a 9.6+ server, getPrimaryKeys
// in its current form (with indnkeyatts, as Metabase's PostgreSQL sync sends it). Both expand
// pg_index.indkey with information_schema._pg_expandarray, which the catalog did not have.
var pgjdbcKeyQueries = map[string]string{
	"getPrimaryKeys": `SELECT result.TABLE_CAT, result.TABLE_SCHEM, result.TABLE_NAME, result.COLUMN_NAME, result.KEY_SEQ, result.PK_NAME FROM (SELECT current_database() AS TABLE_CAT, n.nspname AS TABLE_SCHEM, ct.relname AS TABLE_NAME, a.attname AS COLUMN_NAME, (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, ci.relname AS PK_NAME, information_schema._pg_expandarray(i.indkey) AS KEYS, a.attnum AS A_ATTNUM, i.indnkeyatts as KEY_COUNT FROM pg_catalog.pg_class ct JOIN pg_catalog.pg_attribute a ON (ct.oid = a.attrelid) JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid) JOIN pg_catalog.pg_index i ON ( a.attrelid = i.indrelid) JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid) WHERE true AND n.nspname = $1 AND ct.relname = $2 AND i.indisprimary ) result where result.A_ATTNUM = (result.KEYS).x AND result.KEY_SEQ <= KEY_COUNT ORDER BY result.table_name, result.pk_name, result.key_seq`,
	"getIndexInfo":   `SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, NOT i.indisunique AS NON_UNIQUE,   NULL AS INDEX_QUALIFIER, ci.relname AS INDEX_NAME,   CASE i.indisclustered     WHEN true THEN 1    ELSE CASE am.amname       WHEN 'hash' THEN 2      ELSE 3    END   END AS TYPE,   (i.keys).n AS ORDINAL_POSITION,   trim(both '"' from pg_catalog.pg_get_indexdef(ci.oid, (i.keys).n, false)) AS COLUMN_NAME,   CASE am.amname     WHEN 'btree' THEN CASE i.indoption[(i.keys).n - 1] & 1       WHEN 1 THEN 'D'       ELSE 'A'     END     ELSE NULL   END AS ASC_OR_DESC,   ci.reltuples AS CARDINALITY,   ci.relpages AS PAGES,   pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS FILTER_CONDITION FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN (SELECT i.indexrelid, i.indrelid, i.indoption,           i.indisunique, i.indisclustered, i.indpred,           i.indexprs,           information_schema._pg_expandarray(i.indkey) AS keys         FROM pg_catalog.pg_index i) i     ON (ct.oid = i.indrelid)   JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid)   JOIN pg_catalog.pg_am am ON (ci.relam = am.oid) WHERE true  AND n.nspname = $1 AND ct.relname = $2 ORDER BY NON_UNIQUE, TYPE, INDEX_NAME, ORDINAL_POSITION`,
}

// TestPgjdbcPrimaryKeysAndIndexInfo: pgjdbc's getPrimaryKeys and getIndexInfo answer (no keys,
// no indexes: the lake has none) instead of failing on _pg_expandarray; the function itself
// expands an array into its elements (x) and their positions (n), as PostgreSQL's does.
func TestPgjdbcPrimaryKeysAndIndexInfo(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.bob, ""))
	ctx := context.Background()
	for name, q := range pgjdbcKeyQueries {
		rows, err := c.Query(ctx, q, "aws:cloudtrail", f.storeID)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		if rows.Err() != nil || n != 0 {
			t.Errorf("%s: %d rows, %v; want none", name, n, rows.Err())
		}
	}
	rows, err := c.Query(ctx, `SELECT (information_schema._pg_expandarray(ARRAY[5, 7])).x AS x, (information_schema._pg_expandarray(ARRAY[5, 7])).n AS n`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var x, n int32
		if err := rows.Scan(&x, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%d", x, n))
	}
	if rows.Err() != nil || strings.Join(got, " ") != "5:1 7:2" {
		t.Fatalf("_pg_expandarray: %q %v", got, rows.Err())
	}
}
