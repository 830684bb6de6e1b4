package pgwire_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestRestrictedPrincipalReadsNoEngineCatalogThroughDataQueries: through the Postgres door, a
// row-filtered principal's data queries that reach DuckDB's own catalog without naming a
// catalog schema — a WITH that names a catalog view in its own definition (where the name is
// the catalog's), SHOW ALL TABLES in a subquery, pg_get_viewdef — are refused, by the simple
// and the extended protocol (a prepared statement), and show nothing of the objects under the
// principal's views (the raw table, its files, the data directory).
func TestRestrictedPrincipalReadsNoEngineCatalogThroughDataQueries(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.bob, ""))
	hidden := []string{"__raw_", "useridentity", f.dir, "read_parquet"}
	for _, sql := range []string{
		"WITH duckdb_views AS (SELECT * FROM duckdb_views) SELECT view_name, sql FROM duckdb_views",
		"SELECT view_name, sql FROM (WITH duckdb_views AS (SELECT 1) SELECT 1) x, duckdb_views",
		"WITH duckdb_columns AS (SELECT * FROM duckdb_columns) SELECT table_name, column_name FROM duckdb_columns",
		"SELECT * FROM (SHOW ALL TABLES)",
		"SELECT sql FROM duckdb_views",
	} {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
			rows, err := c.Query(context.Background(), sql, mode)
			var got []string
			if err == nil {
				for rows.Next() {
					vals, _ := rows.Values()
					for _, v := range vals {
						if s, ok := v.(string); ok {
							got = append(got, s)
						}
					}
				}
				rows.Close()
				err = rows.Err()
			}
			if err == nil {
				t.Errorf("bob ran %s (%v): %d values", sql, mode, len(got))
			}
			all := strings.Join(got, "\n")
			if err != nil {
				all += "\n" + err.Error()
			}
			for _, h := range hidden {
				if strings.Contains(all, h) && !strings.Contains(sql, h) {
					t.Errorf("bob's %s (%v) shows %q: %.300s", sql, mode, h, all)
				}
			}
		}
	}
}
