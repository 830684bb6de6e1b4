// Package query opens a read-only SQL session over the lake: every event data store appears as
// "aws:cloudtrail"."<store id>" (the name Lake query federation gives it in Athena) and as
// "aws:cloudtrail"."<store name>", the Trino/Athena dialect layer is installed, and the engine
// is sealed so that user SQL reaches the registered tables and nothing else.
package query

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/dialect"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
)

// Schema is the database name that holds the event data stores.
const Schema = "aws:cloudtrail"

// Options bound a session.
type Options struct {
	MemoryLimit string        // default "2GB"
	Timeout     time.Duration // per query; 0 = none
	MaxRows     int           // 0 = unlimited
	// MaxResultBytes bounds a query's result (engine.Limits.MaxBytes): 0 =
	// engine.DefaultMaxResultBytes (64 MiB), negative = no limit.
	MaxResultBytes int64
	// MaxTempSize caps what the session's engine may spill to the lake's temp directory
	// (engine.Options.MaxTempSize); 0 = DuckDB's default.
	MaxTempSize int64
}

// Session is a sealed engine with the lake's tables registered.
type Session struct {
	db      *engine.DB
	lk      *lake.Lake
	opts    Options
	release []func()
	Stores  []lake.Store
	// manifests are the committed states the session reads, by store id.
	manifests map[string]*lake.Manifest
}

// Open registers every store and seals the engine. Close releases the stores' read locks.
func Open(ctx context.Context, lk *lake.Lake, opts Options) (*Session, error) {
	if opts.MemoryLimit == "" {
		opts.MemoryLimit = "2GB"
	}
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: opts.MemoryLimit, TempDir: lk.TempDir(), MaxTempSize: opts.MaxTempSize})
	if err != nil {
		return nil, err
	}
	s := &Session{db: db, lk: lk, opts: opts}
	if err := s.register(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := db.Seal(ctx, []string{lk.Dir}); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Session) register(ctx context.Context) error {
	// Trino divides integers as integers; the engine already runs in UTC.
	if err := s.db.Exec(ctx, "SET integer_division = true"); err != nil {
		return err
	}
	if err := s.db.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+engine.Ident(Schema)); err != nil {
		return err
	}
	if dialect.Macros != "" {
		if err := s.db.Exec(ctx, dialect.Macros); err != nil {
			return fmt.Errorf("install dialect macros: %w", err)
		}
	}
	if err := cost.Register(ctx, s.db, s.lk.Dir); err != nil {
		return err
	}
	stores, err := s.lk.Stores()
	if err != nil {
		return err
	}
	s.Stores = stores
	s.manifests = map[string]*lake.Manifest{}
	for _, st := range stores {
		ddl := lake.CloudTrailDDL()
		switch st.Type {
		case lake.TypeCloudTrail:
		case lake.TypeConfig:
			ddl = lake.ConfigDDL()
		case lake.TypeActivity:
			ddl = lake.ActivityDDL()
		default:
			continue // other store types register their own schemas
		}
		m, release, err := s.lk.Snapshot(st.ID)
		if err != nil {
			return err
		}
		s.release = append(s.release, release)
		s.manifests[st.ID] = m
		id := engine.Ident(Schema) + "." + engine.Ident(st.ID)
		q := "CREATE TABLE " + id + " " + ddl
		if len(m.Files) > 0 {
			paths := make([]string, len(m.Files))
			for i, f := range m.Files {
				paths[i] = s.lk.AbsPath(st.ID, f.Path)
			}
			q = "CREATE VIEW " + id + " AS SELECT * FROM read_parquet(" + engine.ListLiteral(paths) + ", hive_partitioning = false)"
		}
		if err := s.db.Exec(ctx, q); err != nil {
			return fmt.Errorf("register store %s: %w", st.Name, err)
		}
		if err := s.db.Exec(ctx, "CREATE VIEW "+engine.Ident(Schema)+"."+engine.Ident(st.Name)+" AS SELECT * FROM "+id); err != nil {
			return fmt.Errorf("register store %s: %w", st.Name, err)
		}
	}
	return nil
}

// Facts returns a relation of the EC2 lifecycle facts (package lifecycle) of CloudTrail store
// id, and whether they are read from the facts files the lake keeps beside every data file.
// When some file has none (it was written before facts existed, and no compaction has run
// since), the relation computes the facts from the store's events, which is slower.
func (s *Session) Facts(id string) (relation string, stored bool) {
	store := engine.Ident(Schema) + "." + engine.Ident(id)
	m := s.manifests[id]
	if m != nil && m.FilesWithoutFacts() > 0 {
		return "(" + lifecycle.SQL(store) + ")", false
	}
	var paths []string
	if m != nil {
		for _, f := range m.Files {
			if f.Facts != "" {
				paths = append(paths, s.lk.AbsPath(id, f.Facts))
			}
		}
	}
	if len(paths) == 0 { // no files, or none with facts: the facts' columns and no rows
		return "(" + lifecycle.SQL("(SELECT * FROM "+store+" LIMIT 0)") + ")", true
	}
	return "read_parquet(" + engine.ListLiteral(paths) + ", hive_partitioning = false)", true
}

// LastEventTime is the time of the newest event of store id as the session sees it (zero when
// the store is empty), from the manifest rather than a scan.
func (s *Session) LastEventTime(id string) time.Time {
	var t time.Time
	if m := s.manifests[id]; m != nil {
		for _, f := range m.Files {
			if f.MaxTime.After(t) {
				t = f.MaxTime
			}
		}
	}
	return t
}

// Close releases the engine and the stores' read locks.
func (s *Session) Close() error {
	for _, r := range s.release {
		r()
	}
	s.release = nil
	return s.db.Close()
}

// Run rewrites a Trino/Athena/CloudTrail Lake query for DuckDB and runs it in the sandbox.
func (s *Session) Run(ctx context.Context, sql string) (*engine.Result, error) {
	sql = strings.TrimSpace(sql)
	if sql == "" {
		return nil, &engine.QueryError{Msg: "empty query"}
	}
	rewritten, err := dialect.Rewrite(sql)
	if err != nil {
		return nil, &engine.QueryError{Msg: err.Error()}
	}
	return s.db.UserQuery(ctx, rewritten, engine.Limits{MaxRows: s.opts.MaxRows, MaxBytes: s.opts.MaxResultBytes, Timeout: s.opts.Timeout})
}

// Tables lists the registered tables and their columns.
func (s *Session) Tables(ctx context.Context) ([]Table, error) {
	rows, err := s.db.Query(ctx, `SELECT schema_name, table_name, list(column_name || ' ' || data_type ORDER BY column_index)
		FROM duckdb_columns() WHERE schema_name NOT IN ('main','pg_catalog','information_schema') OR NOT internal
		GROUP BY ALL ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Table
	for rows.Next() {
		var t Table
		var cols []any
		if err := rows.Scan(&t.Schema, &t.Name, &cols); err != nil {
			return nil, err
		}
		for _, c := range cols {
			name, typ, _ := strings.Cut(fmt.Sprint(c), " ")
			t.Columns = append(t.Columns, engine.Column{Name: name, Type: typ})
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Table is one registered table.
type Table struct {
	Schema  string
	Name    string
	Columns []engine.Column
}

// SetMaxRows changes the row limit of later Run calls (0 = unlimited).
func (s *Session) SetMaxRows(n int) { s.opts.MaxRows = n }
