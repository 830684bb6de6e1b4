// Package query opens a read-only SQL session over the lake: every event data store appears as
// "aws:cloudtrail"."<store id>" (the name Lake query federation gives it in Athena) and as
// "aws:cloudtrail"."<store name>", the Trino/Athena dialect layer is installed, and the engine
// is sealed so that user SQL reaches the registered tables and nothing else.
package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/dialect"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
)

// Schema is the database name that holds the event data stores.
const Schema = dialect.CloudTrailCatalog

// Options bound a session.
type Options struct {
	MemoryLimit string        // default "2GB"
	Timeout     time.Duration // per query; 0 = none
	MaxRows     int           // 0 = unlimited
	// Principal, when not nil, restricts the session to what its grants allow (restrict.go);
	// nil is the operator's unrestricted view.
	Principal *access.Principal
	// MaxResultBytes bounds a query's result (engine.Limits.MaxBytes): 0 =
	// engine.DefaultMaxResultBytes (64 MiB), negative = no limit.
	MaxResultBytes int64
	// MaxTempSize caps what the session's engine may spill to the lake's temp directory
	// (engine.Options.MaxTempSize); 0 = DuckDB's default.
	MaxTempSize int64
	// ReadsOnce is for a session kept long that reads each file about once
	// (engine.Options.ReadsOnce): a watcher's.
	ReadsOnce bool
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
	// visible, in a restricted session, holds "schema\x00name" of every table it shows.
	visible map[string]bool
	// restricted holds the ids of stores a restricted session shows only in part: their facts
	// files (every launch of the store) are not read; the facts come from the restricted view.
	restricted map[string]bool
	// cloudTrail holds the ids of CloudTrail stores, whose files are read by filesSQL.
	cloudTrail map[string]bool
	// damaged are the stores the session cannot read, by id, and why (lake.ErrDamaged): each
	// is registered as a view that fails with that error, so a query fails only when it reads
	// a damaged store.
	damaged map[string]error
	// views are the restricted views of a restricted session, by tableKey; viewAliases maps
	// the key of a store's name view to its id's view (pushdown.go).
	views       map[string]*restrictedTable
	viewAliases map[string]string
	noPushdown  bool // tests: the views as restrict made them (export_test.go)
	// remote are the stores with files kept on S3 only, by id; pending the files of such stores
	// the relations made since the last statement read; fetched releases the copies the last
	// statement read (remote.go).
	remote  map[string]*remoteStore
	pending []pendingFile
	fetched []func()
	// prepared are the user queries checked and planned, by text (prepare); made and
	// madeRefs the views' variants in the engine, by name, and uses counts their uses.
	prepared map[string]*prepared
	made     map[string]bool
	madeRefs map[string]*variant
	uses     uint64
}

// Open registers every store and seals the engine. Close releases the stores' read locks.
func Open(ctx context.Context, lk *lake.Lake, opts Options) (*Session, error) {
	if opts.MemoryLimit == "" {
		opts.MemoryLimit = "2GB"
	}
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: opts.MemoryLimit, TempDir: lk.TempDir(), MaxTempSize: opts.MaxTempSize, ReadsOnce: opts.ReadsOnce})
	if err != nil {
		return nil, err
	}
	s := &Session{db: db, lk: lk, opts: opts}
	if err := s.register(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if opts.Principal != nil && !opts.Principal.Admin {
		if err := s.restrict(ctx, opts.Principal); err != nil {
			s.Close()
			return nil, err
		}
		s.restrictRemote()
	}
	if err := db.Seal(ctx, []string{lk.Dir}); err != nil {
		s.Close()
		return nil, err
	}
	s.releaseFetched() // the copies the views were bound over: each statement holds its own
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
	if err := cost.RegisterFollowed(ctx, s.db, s.lk.Dir, s.lk.CostsChanged); err != nil {
		return err
	}
	return s.registerStores(ctx)
}

// registerStores registers every store of the lake as committed now (Open, Refresh).
func (s *Session) registerStores(ctx context.Context) error {
	stores, err := s.lk.Stores()
	if err != nil {
		return err
	}
	s.Stores = stores
	s.manifests = map[string]*lake.Manifest{}
	s.cloudTrail = map[string]bool{}
	s.damaged = map[string]error{}
	for _, st := range stores {
		ddl := storeDDL(st)
		if ddl == "" {
			continue // other store types register their own schemas
		}
		id := engine.Ident(Schema) + "." + engine.Ident(st.ID)
		s.cloudTrail[st.ID] = st.Type == lake.TypeCloudTrail
		bad := s.registerStore(ctx, st, id, ddl)
		if bad != nil && !errors.Is(bad, lake.ErrDamaged) {
			bad = lake.DamagedError(fmt.Sprintf("event data store %q cannot be read: %v", st.Name, bad))
		}
		if bad != nil {
			delete(s.remote, st.ID) // its failing view is never replaced (remote.go)
			s.damaged[st.ID] = bad
			if err := s.registerFailing(ctx, st, id, ddl); err != nil {
				return err
			}
		}
		if err := s.db.Exec(ctx, "CREATE VIEW "+engine.Ident(Schema)+"."+engine.Ident(st.Name)+" AS SELECT * FROM "+id); err != nil {
			return fmt.Errorf("register store %s: %w", st.Name, err)
		}
		if bad != nil {
			if err := s.dropFailing(ctx, st.ID); err != nil {
				return fmt.Errorf("register damaged store %s: %w", st.Name, err)
			}
		}
	}
	return nil
}

// storeDDL is the column list of a store of st's type ("" for a type registered elsewhere).
func storeDDL(st lake.Store) string {
	switch st.Type {
	case lake.TypeCloudTrail:
		return ctparquet.CloudTrailDDL()
	case lake.TypeConfig:
		return lake.ConfigDDL()
	case lake.TypeActivity:
		return lake.ActivityDDL()
	}
	return ""
}

// registerStore registers store st as the table id: a view over its files, or a table of its
// schema when it has none. It returns an ErrDamaged error instead when the store cannot be read:
// its manifest is lost or invalid, a file is missing or not Parquet (lake.CheckFiles), or the
// engine cannot bind its files.
func (s *Session) registerStore(ctx context.Context, st lake.Store, id, ddl string) error {
	m, release, err := s.lk.Snapshot(st.ID)
	if errors.Is(err, lake.ErrDamaged) {
		return err
	}
	if err != nil {
		return err
	}
	s.release = append(s.release, release)
	if err := s.lk.CheckFiles(st.ID, m).Err(st.Name); err != nil {
		return err
	}
	q := "CREATE TABLE " + id + " " + ddl
	if len(m.Files) > 0 {
		paths, err := s.registerRemote(ctx, st, m)
		if err != nil {
			return err
		}
		q = "CREATE VIEW " + id + " AS SELECT * FROM " + s.filesSQL(st.ID, paths)
	}
	if err := s.db.Exec(ctx, q); err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return lake.DamagedError(fmt.Sprintf("event data store %q is damaged: its files cannot be read (%s); "+
			"set the damaged files aside and rebuild its manifest with: auditlake eds repair %s", st.Name, msg, st.Name))
	}
	s.manifests[st.ID] = m
	return nil
}

// registerFailing registers damaged store st as a view that no query can bind: a view over a
// table of the store's schema, which is then dropped. Every query that reads the store fails
// while it is planned, whatever it filters (a view that raised an error per row would be
// optimised away by a filter that no row passes), and queries of other stores never touch it.
// Run and RunInternal turn the engine's "does not exist" into the store's damage error. The
// table is dropped once the store's views are made (dropFailing).
func (s *Session) registerFailing(ctx context.Context, st lake.Store, id, ddl string) error {
	gone := engine.Ident(Schema) + "." + engine.Ident(damagedTable(st.ID))
	for _, q := range []string{"CREATE TABLE " + gone + " " + ddl, "CREATE OR REPLACE VIEW " + id + " AS SELECT * FROM " + gone} {
		if err := s.db.Exec(ctx, q); err != nil {
			return fmt.Errorf("register damaged store %s: %w", st.Name, err)
		}
	}
	return nil
}

// dropFailing drops the table under damaged store id's views.
func (s *Session) dropFailing(ctx context.Context, id string) error {
	return s.db.Exec(ctx, "DROP TABLE "+engine.Ident(Schema)+"."+engine.Ident(damagedTable(id)))
}

// damagedTable is the name of the dropped table a damaged store's view reads.
func damagedTable(id string) string { return "damaged event data store " + id }

// damageOf returns the damage error of the store a failed query tripped on, or err.
func (s *Session) damageOf(err error) error {
	for id, bad := range s.damaged {
		if strings.Contains(err.Error(), damagedTable(id)) {
			return bad
		}
	}
	return err
}

// Damaged returns why store id cannot be read in this session (lake.ErrDamaged), nil when it can.
func (s *Session) Damaged(id string) error { return s.damaged[id] }

// Facts returns a relation of the EC2 lifecycle facts (package lifecycle) of CloudTrail store
// id, and whether they are read from the facts files the lake keeps beside every data file.
// When some file has none (it was written before facts existed, and no compaction has run
// since), the relation computes the facts from the store's events, which is slower.
func (s *Session) Facts(id string) (relation string, stored bool) {
	store := engine.Ident(Schema) + "." + engine.Ident(id)
	m := s.manifests[id]
	if s.damaged[id] != nil || (m != nil && m.FilesWithoutFacts() > 0) || s.restricted[id] { // a damaged store's view fails
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

// FactsFiles is the data files of store id whose facts files Facts reads, and true; false
// when Facts computes the facts from the events instead (a damaged or restricted store, or one
// with files of no facts of this version).
func (s *Session) FactsFiles(id string) ([]lake.DataFile, bool) {
	m := s.manifests[id]
	if s.damaged[id] != nil || (m != nil && m.FilesWithoutFacts() > 0) || s.restricted[id] {
		return nil, false
	}
	if m == nil {
		return nil, true
	}
	return m.Files, true
}

// LastEventTime is the time of the newest event of store id as the session sees it (zero when
// the store is empty), from the manifest rather than a scan. Of a store the session shows only
// in part, the manifest's newest event may be a row the principal may not see: the time is then
// the newest of the rows it sees, read through its view (zero when its grants hide eventtime).
func (s *Session) LastEventTime(id string) time.Time {
	var t time.Time
	if s.restricted[id] {
		res, err := s.RunInternal(context.Background(), "SELECT max(eventtime) FROM "+StoreTable(id))
		if err == nil && len(res.Rows) == 1 {
			t, _ = res.Rows[0][0].(time.Time)
		}
		return t
	}
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
	s.releaseFetched()
	for _, r := range s.release {
		r()
	}
	s.release = nil
	return s.db.Close()
}

// Run rewrites a Trino/Athena/CloudTrail Lake query for DuckDB and runs it in the sandbox. An
// error in the query is an *engine.QueryError worded in the dialect's terms (errors.go); a
// query that reads a damaged store fails with its damage (lake.ErrDamaged).
func (s *Session) Run(ctx context.Context, sql string) (*engine.Result, error) {
	sql = strings.TrimSpace(sql)
	if sql == "" {
		return nil, &engine.QueryError{Msg: "empty query"}
	}
	rewritten, err := dialect.Rewrite(sql)
	if err != nil {
		return nil, &engine.QueryError{Msg: "SYNTAX_ERROR: " + err.Error()}
	}
	if err := s.fetchRemote(ctx, rewritten); err != nil {
		return nil, err
	}
	defer s.releaseFetched() // the result is read whole
	p, err := s.prepare(ctx, rewritten)
	var res *engine.Result
	if err == nil {
		lim := engine.Limits{MaxRows: s.opts.MaxRows, MaxBytes: s.opts.MaxResultBytes, Timeout: s.opts.Timeout}
		run := p.run
		if run != "" && s.makeVariants(ctx, p) != nil {
			run = ""
		}
		res, err = s.db.RunChecked(ctx, p.checked, run, lim)
		var qe *engine.QueryError
		if run != "" && errors.As(err, &qe) {
			// The query fails on its variants: it runs as written on the session's views,
			// whose error (or result) it gives, and does so from now on.
			p.run, p.variants = "", nil
			res, err = s.db.RunChecked(ctx, p.checked, "", lim)
		}
	}
	if err != nil && len(s.damaged) > 0 {
		if bad := s.damageOf(err); bad != err {
			return nil, bad
		}
	}
	if err != nil {
		return nil, trinoError(sql, err)
	}
	names := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		names[i] = c.Name
	}
	for i, n := range dialect.ColumnNames(names) {
		res.Columns[i].Name = n
	}
	return res, nil
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
		if s.visible != nil && !s.visible[t.Schema+"\x00"+t.Name] {
			continue
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

// filesSQL is the relation of data files paths of store id: a CloudTrail store's with
// eventjsonchecksum derived where a file does not store it (ctparquet.DataFilesSQL).
func (s *Session) filesSQL(id string, paths []string) string {
	if s.cloudTrail[id] {
		return ctparquet.DataFilesSQL(engine.ListLiteral(paths))
	}
	return "read_parquet(" + engine.ListLiteral(paths) + ", hive_partitioning = false)"
}
