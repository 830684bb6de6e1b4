package pgwire

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/auditlake/auditlake/internal/dialect"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/server"
)

//go:embed catalog.sql
var catalogDDL string

// serverVersion is the PostgreSQL version the server reports: clients choose their catalog
// queries by it, and the emulated catalog has PostgreSQL 15's columns.
const (
	serverVersion    = "15.0"
	serverVersionNum = "150000"
	versionText      = "PostgreSQL 15.0 (auditlake) on x86_64-pc-linux-gnu, compiled by Go, 64-bit"
	databaseName     = "auditlake"
	ownerName        = "auditlake"
)

// Fixed OIDs of the emulated catalog; the principal's schemas and tables are numbered after them.
const (
	oidPgCatalog    = 11
	oidPublic       = 2200
	oidInfoSchema   = 13000
	oidDatabase     = 16384
	oidFirstSchema  = 16385
	oidFirstTable   = 20000
	oidPgClassClass = 1259 // pg_class's own OID: pg_description.classoid of a table's comment
)

// pgTypes are the rows of pg_type: every type a column or parameter can have here.
var pgTypes = []struct {
	oid       uint32
	name      string
	len       int16
	category  string
	format    string
	elem, arr uint32
}{
	{16, "bool", 1, "B", "boolean", 0, 1000}, {17, "bytea", -1, "U", "bytea", 0, 1001},
	{18, "char", 1, "Z", `"char"`, 0, 1002}, {19, "name", 64, "S", "name", 0, 1003},
	{20, "int8", 8, "N", "bigint", 0, 1016}, {21, "int2", 2, "N", "smallint", 0, 1005},
	{23, "int4", 4, "N", "integer", 0, 1007}, {24, "regproc", 4, "N", "regproc", 0, 1008},
	{25, "text", -1, "S", "text", 0, 1009}, {26, "oid", 4, "N", "oid", 0, 1028},
	{114, "json", -1, "U", "json", 0, 199}, {700, "float4", 4, "N", "real", 0, 1021},
	{701, "float8", 8, "N", "double precision", 0, 1022}, {705, "unknown", -2, "X", "unknown", 0, 0},
	{1043, "varchar", -1, "S", "character varying", 0, 1015}, {1082, "date", 4, "D", "date", 0, 1182},
	{1083, "time", 8, "D", "time without time zone", 0, 1183},
	{1114, "timestamp", 8, "D", "timestamp without time zone", 0, 1115},
	{1184, "timestamptz", 8, "D", "timestamp with time zone", 0, 1185},
	{1186, "interval", 16, "T", "interval", 0, 1187}, {1700, "numeric", -1, "N", "numeric", 0, 1231},
	{2205, "regclass", 4, "N", "regclass", 0, 2210}, {2206, "regtype", 4, "N", "regtype", 0, 2211},
	{2249, "record", -1, "P", "record", 0, 2287}, {2950, "uuid", 16, "U", "uuid", 0, 2951},
	{3802, "jsonb", -1, "U", "jsonb", 0, 3807},
	{1000, "_bool", -1, "A", "boolean[]", 16, 0}, {1005, "_int2", -1, "A", "smallint[]", 21, 0},
	{1007, "_int4", -1, "A", "integer[]", 23, 0}, {1009, "_text", -1, "A", "text[]", 25, 0},
	{1015, "_varchar", -1, "A", "character varying[]", 1043, 0}, {1016, "_int8", -1, "A", "bigint[]", 20, 0},
	{1028, "_oid", -1, "A", "oid[]", 26, 0}, {199, "_json", -1, "A", "json[]", 114, 0},
	{1001, "_bytea", -1, "A", "bytea[]", 17, 0}, {1021, "_float4", -1, "A", "real[]", 700, 0},
	{1022, "_float8", -1, "A", "double precision[]", 701, 0}, {1231, "_numeric", -1, "A", "numeric[]", 1700, 0},
	{1182, "_date", -1, "A", "date[]", 1082, 0}, {1183, "_time", -1, "A", "time without time zone[]", 1083, 0},
	{1115, "_timestamp", -1, "A", "timestamp without time zone[]", 1114, 0},
	{1185, "_timestamptz", -1, "A", "timestamp with time zone[]", 1184, 0},
	{1187, "_interval", -1, "A", "interval[]", 1186, 0}, {2951, "_uuid", -1, "A", "uuid[]", 2950, 0},
}

// defaultSettings are what SHOW, current_setting() and pg_settings answer (SET changes a
// connection's own copy, for SHOW; it changes nothing else).
var defaultSettings = map[string]string{
	"server_version": serverVersion, "server_version_num": serverVersionNum, "server_encoding": "UTF8",
	"client_encoding": "UTF8", "datestyle": "ISO, MDY", "timezone": "UTC", "integer_datetimes": "on",
	"standard_conforming_strings": "on", "intervalstyle": "postgres", "search_path": `"$user", public`,
	"max_identifier_length": "63", "transaction_isolation": "read committed",
	"default_transaction_isolation": "read committed", "transaction_read_only": "on",
	"default_transaction_read_only": "on", "is_superuser": "off", "lc_collate": "C", "lc_ctype": "C",
	"lc_messages": "C", "max_connections": "100", "block_size": "8192", "extra_float_digits": "1",
	"statement_timeout": "0", "application_name": "", "ssl": "off", "password_encryption": "scram-sha-256",
}

// sessionInfo is what the catalog says about the connection itself. A catalog is shared by the
// connections of one access key (user) with the same TLS state; pid is answered by the rewrite.
type sessionInfo struct {
	user string
	pid  uint32
	ssl  bool
}

// catalog is an in-memory engine holding only the emulated pg_catalog and information_schema
// of one principal: rows describing the tables it may read (never the tables, never their data),
// sealed like a query session. Client catalog queries run here, rewritten by rewriteCatalog.
type catalog struct {
	db    *engine.DB
	key   string     // the tables it describes, to know when to build it again
	cache string     // its key in the server's cache: user, TLS state and key
	mu    sync.Mutex // one query at a time (the engine has one connection)
	refs  int        // connections using it (under Server.catMu)
	// schemas are the data schemas of the tables it describes, and the event data stores'
	// (namesDataTable): a query naming a table in one reads the data.
	schemas map[string]bool
}

// tablesKey fingerprints a table list.
func tablesKey(tables []server.Table) string {
	var b strings.Builder
	for _, t := range tables {
		b.WriteString(t.Schema + "\x00" + t.Name + "\x00")
		for _, c := range t.Columns {
			b.WriteString(c.Name + " " + c.Type + ",")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// buildCatalog opens a catalog describing tables; names gives a description of some tables
// (an event data store's name, by schema.table).
func buildCatalog(ctx context.Context, tables []server.Table, names map[string]string, si sessionInfo) (*catalog, error) {
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "64MB"})
	if err != nil {
		return nil, err
	}
	c := &catalog{db: db, key: tablesKey(tables), schemas: map[string]bool{dialect.CloudTrailCatalog: true}}
	for _, t := range tables {
		c.schemas[t.Schema] = true
	}
	if err := c.fill(ctx, tables, names, si); err != nil {
		db.Close()
		return nil, fmt.Errorf("build the Postgres catalog: %w", err)
	}
	if err := db.Seal(ctx, nil); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

func (c *catalog) close() {
	if c != nil {
		c.db.Close()
	}
}

func (c *catalog) fill(ctx context.Context, tables []server.Table, names map[string]string, si sessionInfo) error {
	// The whole catalog is one script: a statement at a time costs the engine ~20 ms each.
	var script strings.Builder
	inserts := map[string][]string{}
	var insertOrder []string
	exec := func(q string, args ...any) error {
		if len(args) == 0 {
			script.WriteString(q + ";\n")
			return nil
		}
		parts := strings.Split(q, "?")
		if len(parts) != len(args)+1 {
			return fmt.Errorf("catalog statement with %d placeholders and %d values", len(parts)-1, len(args))
		}
		var st strings.Builder
		st.WriteString(parts[0])
		for i, a := range args {
			st.WriteString(sqlValue(a))
			st.WriteString(parts[i+1])
		}
		// INSERT … VALUES (…) statements of one table become one statement with every row.
		text := st.String()
		if i := strings.Index(text, "VALUES"); strings.HasPrefix(text, "INSERT") && i > 0 {
			prefix := text[:i+len("VALUES")]
			if _, ok := inserts[prefix]; !ok {
				insertOrder = append(insertOrder, prefix)
			}
			inserts[prefix] = append(inserts[prefix], strings.TrimSpace(text[i+len("VALUES"):]))
			return nil
		}
		script.WriteString(text + ";\n")
		return nil
	}

	// PostgreSQL divides integers as integers (current_setting('server_version_num')::int/100).
	if err := exec("SET integer_division = true"); err != nil {
		return err
	}
	if err := exec(catalogDDL); err != nil {
		return err
	}
	lit := engine.Literal
	session := []string{
		"CREATE MACRO version() AS " + lit(versionText),
		"CREATE MACRO current_database() AS " + lit(databaseName),
		// current_user and the like, written without parentheses, are these (rewriteCatalog):
		// functions, so that a column of one is named after it as in PostgreSQL (pgColumnName).
		`CREATE MACRO "current_user"() AS ` + lit(si.user),
		`CREATE MACRO "session_user"() AS ` + lit(si.user),
		`CREATE MACRO "current_role"() AS ` + lit(si.user),
		`CREATE MACRO "user"() AS ` + lit(si.user),
		`CREATE MACRO "current_catalog"() AS ` + lit(databaseName),
		"CREATE MACRO pg_postmaster_start_time() AS TIMESTAMPTZ '2000-01-01 00:00:00+00'",
		fmt.Sprintf("INSERT INTO pg_database VALUES (%d, %s, 10, 6, 'c', false, true, -1, 0, 0, 1663, 'C', 'C', NULL, NULL, NULL)", oidDatabase, lit(databaseName)),
		"INSERT INTO pg_roles VALUES (10, " + lit(si.user) + ", false, true, false, false, true, false, -1, '********', NULL, false, NULL)",
		"INSERT INTO pg_user VALUES (" + lit(si.user) + ", 10, false, false, false, false, '********', NULL, NULL)",
		"INSERT INTO pg_am VALUES (2, 'heap', 3, 't')",
		"INSERT INTO pg_tablespace VALUES (1663, 'pg_default', 10, NULL, NULL)",
		"INSERT INTO pg_collation VALUES (100, 'default', 11, 10, 'd', true, -1, NULL, NULL)",
		fmt.Sprintf("INSERT INTO pg_stat_activity VALUES (%d, %s, NULL, %s, '', NULL, now(), now(), 'active', NULL)", oidDatabase, lit(databaseName), lit(si.user)),
	}
	for _, q := range session {
		if err := exec(q); err != nil {
			return err
		}
	}
	// catcode as PostgreSQL's: U unreserved, C column name, T type or function name, R reserved.
	if err := exec(`INSERT INTO pg_get_keywords SELECT keyword_name,
		CASE keyword_category WHEN 'unreserved' THEN 'U' WHEN 'column_name' THEN 'C' WHEN 'type_function' THEN 'T' ELSE 'R' END,
		keyword_category = 'unreserved',
		CASE keyword_category WHEN 'unreserved' THEN 'unreserved' WHEN 'column_name' THEN 'unreserved (cannot be function or type name)'
			WHEN 'type_function' THEN 'reserved (can be function or type name)' ELSE 'reserved' END,
		CASE WHEN keyword_category = 'unreserved' THEN 'can be bare label' ELSE 'requires AS' END
		FROM duckdb_keywords() ORDER BY keyword_name`); err != nil {
		return err
	}
	for _, t := range pgTypes {
		if err := exec(`INSERT INTO pg_type (oid, typname, typnamespace, typowner, typlen, typbyval, typtype, typcategory,
			typispreferred, typisdefined, typdelim, typrelid, typsubscript, typelem, typarray, typinput, typoutput, typreceive,
			typsend, typalign, typstorage, typnotnull, typbasetype, typtypmod, typndims, typcollation, format_name)
			VALUES (?, ?, 11, 10, ?, ?, CASE WHEN ? = 'P' THEN 'p' ELSE 'b' END, ?, false, true, ',', 0, 0, ?, ?, ?, ?, ?, ?, 'i', 'x',
			false, 0, -1, 0, CASE WHEN ? = 'S' THEN 100 ELSE 0 END, ?)`,
			t.oid, t.name, t.len, t.len > 0 && t.len <= 8, t.category, t.category, t.elem, t.arr,
			typeFunc(t.name, t.category, "in"), typeFunc(t.name, t.category, "out"),
			typeFunc(t.name, t.category, "recv"), typeFunc(t.name, t.category, "send"), t.category, t.format); err != nil {
			return err
		}
	}
	settings := make([]string, 0, len(defaultSettings))
	for k := range defaultSettings {
		settings = append(settings, k)
	}
	sort.Strings(settings)
	// current_setting() is a CASE over the settings, not a lookup in pg_settings: clients call
	// it inside table functions (generate_series), which take no subqueries.
	var cases strings.Builder
	for _, k := range settings {
		v := defaultSettings[k]
		switch k {
		case "ssl":
			if si.ssl {
				v = "on"
			}
		}
		cases.WriteString(" WHEN " + lit(k) + " THEN " + lit(v))
		if err := exec(`INSERT INTO pg_settings (name, setting, category, short_desc, context, vartype, source, boot_val, reset_val, pending_restart)
			VALUES (?, ?, 'auditlake', '', 'user', 'string', 'default', ?, ?, false)`, k, v, v, v); err != nil {
			return err
		}
	}
	// A name that is no PostgreSQL parameter is PostgreSQL's error (42704, sendError); one that
	// is, or a custom x.y one, and is not emulated answers NULL.
	known := make([]string, 0, len(pgParameters)+len(pgPresetParameters))
	for _, m := range []map[string]bool{pgParameters, pgPresetParameters} {
		for k := range m {
			known = append(known, lit(k))
		}
	}
	sort.Strings(known)
	unknown := " ELSE CASE WHEN lower(n) IN (" + strings.Join(known, ", ") + `) OR contains(n, '.') THEN NULL ELSE error('unrecognized configuration parameter "' || n || '"') END`
	if err := exec("CREATE MACRO current_setting(n) AS CASE lower(n)" + cases.String() + unknown + " END, (n, missing_ok) AS CASE lower(n)" + cases.String() + " END"); err != nil {
		return err
	}
	// Namespaces: the built-in three, then each schema of the principal's tables.
	schemas := map[string]int64{}
	var order []string
	for _, t := range tables {
		if _, ok := schemas[t.Schema]; !ok {
			schemas[t.Schema] = int64(oidFirstSchema + len(order))
			order = append(order, t.Schema)
		}
	}
	if err := exec(fmt.Sprintf(`INSERT INTO pg_namespace VALUES (%d, 'pg_catalog', 10, NULL), (%d, 'public', 10, NULL), (%d, 'information_schema', 10, NULL)`,
		oidPgCatalog, oidPublic, oidInfoSchema)); err != nil {
		return err
	}
	for _, s := range order {
		if err := exec(`INSERT INTO pg_namespace VALUES (?, ?, 10, NULL)`, schemas[s], s); err != nil {
			return err
		}
		if err := exec(`INSERT INTO information_schema_pg.schemata VALUES (?, ?, ?, NULL, NULL, 'UTF8', NULL)`, databaseName, s, ownerName); err != nil {
			return err
		}
	}
	for _, s := range []string{"public", "information_schema", "pg_catalog"} {
		if err := exec(`INSERT INTO information_schema_pg.schemata VALUES (?, ?, ?, NULL, NULL, 'UTF8', NULL)`, databaseName, s, ownerName); err != nil {
			return err
		}
	}
	m := pgtype.NewMap()
	for i, t := range tables {
		oid := int64(oidFirstTable + i)
		if err := exec(`INSERT INTO pg_class (oid, relname, relnamespace, reltype, reloftype, relowner, relam, relfilenode,
			reltablespace, relpages, reltuples, relallvisible, reltoastrelid, relhasindex, relisshared, relpersistence, relkind,
			relnatts, relchecks, relhasrules, relhastriggers, relhassubclass, relrowsecurity, relforcerowsecurity,
			relispopulated, relreplident, relispartition, relrewrite, relfrozenxid, relminmxid, relacl, reloptions, relpartbound, relhasoids)
			VALUES (?, ?, ?, 0, 0, 10, 2, ?, 0, 0, -1, 0, 0, false, false, 'p', 'r', ?, 0, false, false, false, false, false,
			true, 'n', false, 0, 0, 0, NULL, NULL, NULL, false)`, oid, t.Name, schemas[t.Schema], oid, len(t.Columns)); err != nil {
			return err
		}
		if err := exec(`INSERT INTO information_schema_pg.tables VALUES (?, ?, ?, 'BASE TABLE', NULL, NULL, NULL, NULL, NULL, 'NO', 'NO', NULL)`,
			databaseName, t.Schema, t.Name); err != nil {
			return err
		}
		if d := names[t.Schema+"."+t.Name]; d != "" {
			if err := exec(`INSERT INTO pg_description VALUES (?, ?, 0, ?)`, oid, oidPgClassClass, d); err != nil {
				return err
			}
		}
		for j, col := range t.Columns {
			typ, mod := pgType(col.Type)
			name, _ := m.TypeForOID(typ)
			udt := "text"
			if name != nil {
				udt = name.Name
			}
			var prec, scale any
			if typ == pgtype.NumericOID && mod >= 4 {
				prec, scale = (mod-4)>>16, (mod-4)&0xffff
			}
			dataType, ndims := formatName(typ), 0
			if elementOID(typ) != 0 {
				dataType, ndims = "ARRAY", 1 // information_schema's name for every array type
			}
			if err := exec(`INSERT INTO pg_attribute (attrelid, attname, atttypid, attstattarget, attlen, attnum, attndims,
				attcacheoff, atttypmod, attbyval, attalign, attstorage, attcompression, attnotnull, atthasdef, atthasmissing,
				attidentity, attgenerated, attisdropped, attislocal, attinhcount, attcollation)
				VALUES (?, ?, ?, -1, ?, ?, ?, -1, ?, ?, 'i', 'x', '', false, false, false, '', '', false, true, 0, ?)`,
				oid, col.Name, typ, typeSize(typ), j+1, ndims, mod, typeSize(typ) > 0 && typeSize(typ) <= 8, map[bool]int{true: 100}[typ == pgtype.TextOID]); err != nil {
				return err
			}
			if err := exec(`INSERT INTO information_schema_pg.columns (table_catalog, table_schema, table_name, column_name,
				ordinal_position, is_nullable, data_type, numeric_precision, numeric_scale, udt_catalog, udt_schema, udt_name,
				dtd_identifier, is_self_referencing, is_identity, is_generated, is_updatable)
				VALUES (?, ?, ?, ?, ?, 'YES', ?, ?, ?, ?, 'pg_catalog', ?, ?, 'NO', 'NO', 'NEVER', 'NO')`,
				databaseName, t.Schema, t.Name, col.Name, j+1, dataType, prec, scale, databaseName, udt, fmt.Sprint(j+1)); err != nil {
				return err
			}
		}
	}
	for _, prefix := range insertOrder {
		script.WriteString(prefix + " " + strings.Join(inserts[prefix], ",\n") + ";\n")
	}
	return c.db.Exec(ctx, script.String())
}

// typeFunc is a type's input/output function name (pg_type.typinput…): array_in for arrays.
func typeFunc(name, category, kind string) string {
	if category == "A" {
		return "array_" + kind
	}
	return name + kind
}

// formatName is format_type()'s name of a type without modifier.
func formatName(oid uint32) string {
	for _, t := range pgTypes {
		if t.oid == oid {
			return t.format
		}
	}
	return "text"
}

// sqlValue is v as an SQL literal, for the catalog script.
func sqlValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return engine.Literal(x)
	case bool:
		if x {
			return "TRUE"
		}
		return "FALSE"
	}
	return fmt.Sprint(v)
}

// run answers a catalog query (already bound) with at most maxRows rows.
func (c *catalog) run(ctx context.Context, sql string, si sessionInfo, lim engine.Limits) (*server.Result, error) {
	rewritten, err := rewriteCatalog(sql, si)
	var pe *pgError
	if errors.As(err, &pe) {
		return nil, err
	}
	if err != nil {
		return nil, &server.QueryError{Msg: err.Error()}
	}
	c.mu.Lock()
	res, err := c.db.UserQuery(ctx, rewritten, lim)
	c.mu.Unlock()
	if err != nil {
		if qe, ok := err.(*engine.QueryError); ok {
			return nil, &server.QueryError{Msg: qe.Msg}
		}
		return nil, err
	}
	out := &server.Result{Rows: res.Rows, Truncated: res.Truncated, Elapsed: res.Elapsed}
	for _, col := range res.Columns {
		out.Columns = append(out.Columns, server.Column{Name: pgColumnName(col.Name), Type: col.Type})
	}
	return out, nil
}

// pgColumnName is the name PostgreSQL gives a select-list item without an alias, from the one
// the engine gave it (the item's text): a function call is named after the function (count(*)
// "count", version() "version", current_user "current_user"), a cast after its operand (or the
// type, for a cast of a constant), CASE "case", another expression (a literal, an operator)
// "?column?". Clients read results by these names (a JDBC getString("version"), a Python dict
// row's ["current_database"]). A column's name or an alias is kept.
func pgColumnName(name string) string {
	toks, err := dialect.Tokens(name)
	if err != nil {
		return name
	}
	w := words(toks)
	if len(w) == 0 {
		return name
	}
	switch {
	case len(w) == 1 && (w[0].Kind == dialect.TokenString || w[0].Kind == dialect.TokenNumber || w[0].Text == "NULL"):
		return "?column?"
	case len(w) == 1 && (w[0].Text == "true" || w[0].Text == "false"):
		return "bool"
	case w[0].Text == "(" && closingParen(w, 0) == len(w)-1:
		return "?column?"
	case w[0].Kind == dialect.TokenIdent && strings.EqualFold(w[0].Text, "CASE") && strings.EqualFold(w[len(w)-1].Text, "END"):
		return "case"
	case len(w) < 3 || w[1].Text != "(" || closingParen(w, 1) != len(w)-1:
		return name
	}
	fn, ok := cursorName(w[0])
	if !ok {
		return name
	}
	switch fn {
	case "count_star":
		return "count"
	case "cast", "try_cast":
		// CAST(x AS t): x's name, or t's when x is a constant.
		depth := 0
		for i := 2; i < len(w)-1; i++ {
			switch {
			case w[i].Text == "(":
				depth++
			case w[i].Text == ")":
				depth--
			case depth == 0 && strings.EqualFold(w[i].Text, "AS") && w[i].Kind == dialect.TokenIdent:
				var operand, typ []string
				for _, t := range w[2:i] {
					operand = append(operand, t.Text)
				}
				for _, t := range w[i+1 : len(w)-1] {
					typ = append(typ, t.Text)
				}
				if n := pgColumnName(strings.Join(operand, " ")); n != "?column?" {
					return n
				}
				oid, _ := pgType(strings.Join(typ, " "))
				for _, t := range pgTypes {
					if t.oid == oid {
						return t.name
					}
				}
				return "?column?"
			}
		}
	}
	return fn
}

// sqlKeywords are words that may follow a FROM item and are not its alias.
var sqlKeywords = map[string]bool{"WHERE": true, "ON": true, "JOIN": true, "LEFT": true, "RIGHT": true, "INNER": true,
	"FULL": true, "CROSS": true, "GROUP": true, "ORDER": true, "LIMIT": true, "UNION": true, "WITH": true,
	"HAVING": true, "OFFSET": true, "USING": true, "NATURAL": true, "EXCEPT": true, "INTERSECT": true, "WINDOW": true}

// rewriteCatalog makes a client's catalog query one the catalog engine runs: pg_catalog.x is the
// emulation's x, information_schema.x its information_schema_pg.x, OPERATOR(pg_catalog.~) is
// ~, COLLATE clauses go (the engine has one collation), "char" and name casts are text, and the
// session's user functions written without parentheses are the connection's values.
func rewriteCatalog(sql string, si sessionInfo) (string, error) {
	sql, err := aliasSetFunctions(sql)
	if err != nil {
		return "", err
	}
	if sql, err = regclassCasts(sql); err != nil {
		return "", err
	}
	toks, err := dialect.Tokens(sql)
	if err != nil {
		return "", err
	}
	next := func(i int) int { // index of the next meaningful token after i, or len(toks)
		for i++; i < len(toks) && (toks[i].Kind == dialect.TokenSpace || toks[i].Kind == dialect.TokenComment); i++ {
		}
		return i
	}
	isName := func(t dialect.Token, name string) bool {
		switch t.Kind {
		case dialect.TokenIdent:
			return strings.EqualFold(t.Text, name)
		case dialect.TokenQuoted:
			return t.Text == `"`+name+`"`
		}
		return false
	}
	var b strings.Builder
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case isName(t, "pg_catalog") && next(i) < len(toks) && toks[next(i)].Text == ".":
			i = next(i)
			continue
		case isName(t, "information_schema") && next(i) < len(toks) && toks[next(i)].Text == ".":
			b.WriteString("information_schema_pg")
			continue
		case isName(t, "OPERATOR") && t.Kind == dialect.TokenIdent && next(i) < len(toks) && toks[next(i)].Text == "(":
			j := next(i)
			var op strings.Builder
			for j = next(j); j < len(toks) && toks[j].Text != ")"; j = next(j) {
				if isName(toks[j], "pg_catalog") || toks[j].Text == "." {
					continue
				}
				op.WriteString(toks[j].Text)
			}
			b.WriteString(op.String())
			i = j
			continue
		case isName(t, "COLLATE") && t.Kind == dialect.TokenIdent:
			j := next(i)
			for j < len(toks) && (toks[j].Kind == dialect.TokenIdent || toks[j].Kind == dialect.TokenQuoted) {
				if k := next(j); k < len(toks) && toks[k].Text == "." {
					j = next(k)
					continue
				}
				break
			}
			i = j
			continue
		case t.Text == "::" && next(i) < len(toks) && (isName(toks[next(i)], "char") || isName(toks[next(i)], "name")):
			b.WriteString("::VARCHAR")
			i = next(i)
			continue
		case isName(t, "json_build_object") && next(i) < len(toks) && toks[next(i)].Text == "(":
			b.WriteString("json_object") // the same function, PostgreSQL's name
			continue
		case isName(t, "pg_get_keywords") && next(i) < len(toks) && toks[next(i)].Text == "(" && next(next(i)) < len(toks) && toks[next(next(i))].Text == ")":
			b.WriteString("pg_get_keywords") // a table here: the sandbox calls no table macro
			i = next(next(i))
			continue
		case isName(t, "pg_backend_pid") && next(i) < len(toks) && toks[next(i)].Text == "(" && next(next(i)) < len(toks) && toks[next(next(i))].Text == ")":
			b.WriteString(fmt.Sprintf("pg_backend_pid(%d)", si.pid)) // the connection's: the catalog is shared
			i = next(next(i))
			continue
		case t.Kind == dialect.TokenIdent && (next(i) >= len(toks) || toks[next(i)].Text != "("):
			switch name := strings.ToLower(t.Text); name {
			case "current_user", "session_user", "current_role", "user", "current_catalog":
				b.WriteString(`"` + name + `"()`)
				continue
			}
		}
		b.WriteString(t.Text)
	}
	if sql, err = regexOperators(b.String(), catalogRegex); err != nil {
		return "", err
	}
	if sql, err = arrayLiterals(sql); err != nil {
		return "", err
	}
	return arrayComparisons(sql)
}

// arrayLiterals turns PostgreSQL's array text cast to an array type ('{a,"b c",NULL}'::text[])
// into the engine's list ('a', 'b c', NULL) with the same cast: the engine reads '{…}' as a struct.
func arrayLiterals(sql string) (string, error) {
	toks, err := dialect.Tokens(sql)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, t := range toks {
		if t.Kind == dialect.TokenString && strings.HasPrefix(t.Text, "'{") && strings.HasSuffix(t.Text, "}'") {
			j := skipTrivia(toks, i+1)
			k := skipTrivia(toks, j+1)
			m := skipTrivia(toks, k+1)
			if j < len(toks) && toks[j].Text == "::" && k < len(toks) && toks[k].Kind == dialect.TokenIdent && m < len(toks) && toks[m].Text == "[" {
				if list, ok := pgArray(strings.ReplaceAll(t.Text[2:len(t.Text)-2], "''", "'")); ok {
					b.WriteString(list)
					continue
				}
			}
		}
		b.WriteString(t.Text)
	}
	return b.String(), nil
}

// pgArray is the engine's list literal of the inside of a one-dimensional PostgreSQL array
// text (between the braces), its elements strings; false when it is not one.
func pgArray(s string) (string, bool) {
	elems, ok := pgArrayElements(s)
	if !ok {
		return "", false
	}
	lits := make([]string, len(elems))
	for i, e := range elems {
		lits[i] = "NULL"
		if e != nil {
			lits[i] = engine.Literal(*e)
		}
	}
	return "[" + strings.Join(lits, ", ") + "]", true
}

// pgArrayElements are the elements of the inside of a one-dimensional PostgreSQL array text
// (between the braces), nil for a NULL; false when it is not one (nested arrays, escapes
// outside quotes).
func pgArrayElements(s string) ([]*string, bool) {
	if strings.TrimSpace(s) == "" {
		return nil, true
	}
	var elems []*string
	for i := 0; i <= len(s); {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var e strings.Builder
		quoted := i < len(s) && s[i] == '"'
		if quoted {
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				e.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, false
			}
			i++
			for i < len(s) && s[i] == ' ' {
				i++
			}
		} else {
			for ; i < len(s) && s[i] != ','; i++ {
				if s[i] == '{' || s[i] == '}' || s[i] == '"' || s[i] == '\\' {
					return nil, false // nested arrays and escapes outside quotes: left as they are
				}
				e.WriteByte(s[i])
			}
		}
		v := e.String()
		if !quoted {
			v = strings.TrimSpace(v)
		}
		if !quoted && strings.EqualFold(v, "NULL") {
			elems = append(elems, nil)
		} else {
			elems = append(elems, &v)
		}
		if i < len(s) && s[i] != ',' {
			return nil, false
		}
		i++
	}
	return elems, true
}

// arrayComparisons turns x = ANY(array) into list_contains(array, x) and x <> ALL(array) into
// NOT list_contains(array, x): the engine answers ANY and ALL with a subquery, which it cannot
// join on in an outer join's condition (SQLAlchemy's index query has one). ANY(SELECT …) stays.
func arrayComparisons(sql string) (string, error) {
	toks, err := dialect.Tokens(sql)
	if err != nil {
		return "", err
	}
	var out []dialect.Token
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		op := t.Text
		if t.Kind != dialect.TokenOp || (op != "=" && op != "<>" && op != "!=") {
			out = append(out, t)
			continue
		}
		q := skipTrivia(toks, i+1)
		p := skipTrivia(toks, q+1)
		k := operandStart(out)
		if q >= len(toks) || p >= len(toks) || toks[p].Text != "(" || k < 0 || !operandAlone(out[:k]) || toks[q].Kind != dialect.TokenIdent ||
			!(op == "=" && strings.EqualFold(toks[q].Text, "ANY") || op != "=" && strings.EqualFold(toks[q].Text, "ALL")) {
			out = append(out, t)
			continue
		}
		end := closingParen(toks, p)
		first := skipTrivia(toks, p+1)
		if end >= len(toks) || first >= end || toks[first].Kind == dialect.TokenIdent &&
			(strings.EqualFold(toks[first].Text, "SELECT") || strings.EqualFold(toks[first].Text, "VALUES") || strings.EqualFold(toks[first].Text, "WITH")) {
			out = append(out, t)
			continue
		}
		call := "list_contains(" + strings.TrimSpace(joinTokens(toks[p+1:end])) + ", " + strings.TrimSpace(joinTokens(out[k:])) + ")"
		if op != "=" {
			call = "NOT " + call
		}
		out = append(out[:k], dialect.Token{Kind: dialect.TokenIdent, Text: "(" + call + ")"})
		i = end
	}
	return joinTokens(out), nil
}

// aliasSetFunctions gives a set-returning function's alias a column of the same name:
// in PostgreSQL the alias names its value ("unnest(x) s … WHERE s = 1"), in the engine its row.
func aliasSetFunctions(sql string) (string, error) {
	toks, err := dialect.Tokens(sql)
	if err != nil {
		return "", err
	}
	next := func(i int) int {
		for i++; i < len(toks) && (toks[i].Kind == dialect.TokenSpace || toks[i].Kind == dialect.TokenComment); i++ {
		}
		return i
	}
	isName := func(t dialect.Token, name string) bool {
		return t.Kind == dialect.TokenIdent && strings.EqualFold(t.Text, name)
	}
	// inFrom[d]: the tokens at parenthesis depth d are in a FROM clause (a set-returning function
	// in a select list keeps its alias: there it names a column already).
	inFrom := []bool{false}
	var b strings.Builder
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t.Text {
		case "(":
			inFrom = append(inFrom, false)
		case ")":
			if len(inFrom) > 1 {
				inFrom = inFrom[:len(inFrom)-1]
			}
		}
		if t.Kind == dialect.TokenIdent {
			switch strings.ToUpper(t.Text) {
			case "FROM", "JOIN":
				inFrom[len(inFrom)-1] = true
			case "SELECT", "WHERE", "ON", "USING", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "WINDOW", "UNION", "EXCEPT", "INTERSECT":
				inFrom[len(inFrom)-1] = false
			}
		}
		switch {
		case inFrom[len(inFrom)-1] && (isName(t, "generate_series") || isName(t, "unnest") || isName(t, "string_to_array")) && next(i) < len(toks) && toks[next(i)].Text == "(":
			j := closingParen(toks, next(i))
			k := next(j)
			if k < len(toks) && isName(toks[k], "AS") {
				k = next(k)
			}
			if j < len(toks) && k < len(toks) && toks[k].Kind == dialect.TokenIdent && !sqlKeywords[strings.ToUpper(toks[k].Text)] &&
				(next(k) >= len(toks) || toks[next(k)].Text != "(") {
				var call strings.Builder
				for ; i <= j; i++ {
					call.WriteString(toks[i].Text)
				}
				if isName(t, "string_to_array") { // a scalar function in FROM: its one value as a row
					b.WriteString("(SELECT " + call.String() + " AS " + toks[k].Text + ") AS " + toks[k].Text)
				} else {
					b.WriteString(call.String() + " AS " + toks[k].Text + "(" + toks[k].Text + ")")
				}
				i = k
				continue
			}
		}
		b.WriteString(t.Text)
	}
	return b.String(), nil
}

// regclassCasts turns X::regclass (a name or an OID) into to_regclass(X), which looks the name up
// in the emulated pg_class (the engine has no regclass type to cast to).
func regclassCasts(sql string) (string, error) {
	toks, err := dialect.Tokens(sql)
	if err != nil {
		return "", err
	}
	var out []dialect.Token
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.Kind == dialect.TokenIdent && strings.EqualFold(t.Text, "regclass") {
			// CAST(x AS regclass) → to_regclass(x)
			k := len(out) - 1
			for k >= 0 && !meaningful(out[k]) {
				k--
			}
			if k >= 0 && strings.EqualFold(out[k].Text, "AS") {
				depth, p := 0, k-1
				for ; p >= 0; p-- {
					if out[p].Text == ")" {
						depth++
					} else if out[p].Text == "(" {
						if depth == 0 {
							break
						}
						depth--
					}
				}
				q := p - 1
				for q >= 0 && !meaningful(out[q]) {
					q--
				}
				if p > 0 && q >= 0 && (strings.EqualFold(out[q].Text, "CAST") || strings.EqualFold(out[q].Text, "TRY_CAST")) {
					out[q] = dialect.Token{Kind: dialect.TokenIdent, Text: "to_regclass"}
					out = out[:k]
					for len(out) > 0 && !meaningful(out[len(out)-1]) {
						out = out[:len(out)-1]
					}
					continue
				}
			}
		}
		if t.Text != "::" {
			out = append(out, t)
			continue
		}
		j := i + 1
		for j < len(toks) && !meaningful(toks[j]) {
			j++
		}
		if j+2 < len(toks) && strings.EqualFold(toks[j].Text, "pg_catalog") && toks[j+1].Text == "." {
			j += 2
		}
		if j < len(toks) && toks[j].Kind == dialect.TokenIdent && strings.EqualFold(toks[j].Text, "regproc") {
			// 'pg_catalog.array_in'::regproc is the function's name, as pg_type.typinput holds it.
			if k := operandStart(out); k >= 0 && k == len(out)-1 && out[k].Kind == dialect.TokenString {
				out[k].Text = strings.Replace(out[k].Text, "'pg_catalog.", "'", 1)
			} else {
				out = append(out, dialect.Token{Kind: dialect.TokenOp, Text: "::VARCHAR"})
			}
			i = j
			continue
		}
		if j >= len(toks) || toks[j].Kind != dialect.TokenIdent || !strings.EqualFold(toks[j].Text, "regclass") {
			out = append(out, t)
			continue
		}
		k := operandStart(out)
		if k < 0 {
			out = append(out, t)
			continue
		}
		operand := append([]dialect.Token(nil), out[k:]...)
		out = append(out[:k], dialect.Token{Kind: dialect.TokenIdent, Text: "to_regclass("})
		out = append(out, operand...)
		out = append(out, dialect.Token{Kind: dialect.TokenOp, Text: ")"})
		i = j
	}
	return joinTokens(out), nil
}

// joinTokens is the SQL text of toks.
func joinTokens(toks []dialect.Token) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(t.Text)
	}
	return b.String()
}

// operandAlone reports whether an operand that follows before stands alone (after a keyword, a
// comma, an opening parenthesis or nothing), not as the end of a longer expression (a + b = …).
func operandAlone(before []dialect.Token) bool {
	k := len(before) - 1
	for k >= 0 && !meaningful(before[k]) {
		k--
	}
	if k < 0 || before[k].Text == "(" || before[k].Text == "," {
		return true
	}
	switch strings.ToUpper(before[k].Text) {
	case "AND", "OR", "NOT", "WHERE", "ON", "WHEN", "THEN", "ELSE", "SELECT", "HAVING":
		return before[k].Kind == dialect.TokenIdent
	}
	return false
}

// closingParen is the index of the ")" that closes the "(" at toks[open] (len(toks) for none).
func closingParen(toks []dialect.Token, open int) int {
	depth := 0
	for i := open; i < len(toks); i++ {
		if toks[i].Text == "(" {
			depth++
		} else if toks[i].Text == ")" {
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return len(toks)
}

// skipTrivia is the index of the first meaningful token at or after i (len(toks) for none).
func skipTrivia(toks []dialect.Token, i int) int {
	for i < len(toks) && !meaningful(toks[i]) {
		i++
	}
	return i
}

func meaningful(t dialect.Token) bool {
	return t.Kind != dialect.TokenSpace && t.Kind != dialect.TokenComment
}

// operandStart is where the operand that ends out begins: a literal, a (qualified) name, or a
// parenthesised expression with the function name before it; -1 when there is none.
func operandStart(out []dialect.Token) int {
	k := len(out) - 1
	for k >= 0 && !meaningful(out[k]) {
		k--
	}
	if k < 0 {
		return -1
	}
	if out[k].Text == ")" {
		depth := 0
		for ; k >= 0; k-- {
			if out[k].Text == ")" {
				depth++
			} else if out[k].Text == "(" {
				if depth--; depth == 0 {
					break
				}
			}
		}
		for k > 0 && (out[k-1].Kind == dialect.TokenIdent || out[k-1].Kind == dialect.TokenQuoted || out[k-1].Text == ".") {
			k--
		}
		return k
	}
	for k > 0 && (out[k-1].Text == "." || (out[k].Text == "." && (out[k-1].Kind == dialect.TokenIdent || out[k-1].Kind == dialect.TokenQuoted))) {
		k--
	}
	return k
}
