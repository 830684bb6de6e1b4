package query

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/dialect"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
)

// rawPrefix names the unrestricted object under a restricted view. User SQL of a restricted
// session cannot name it (engine.RestrictTables allows only the views).
const rawPrefix = "__raw_"

// restrict applies the principal's grants to the registered tables, before the engine is sealed:
// a table it may not read is dropped (so it is "not found", never "forbidden"); a table it may
// read in part is renamed and replaced by a view that shows only the granted columns of the
// granted rows. Every column of that view is masked — CASE WHEN <a grant's row filter> THEN
// column END — and the view keeps only rows some filter admits: an expression of the user's
// query that the optimizer evaluates before the view's WHERE (a pushed-down filter, a cast that
// fails) sees NULL in every column of a hidden row, never its value. Several grants on one table
// combine as their union: a row is visible when any grant's filter admits it, and a column of it
// is visible when a grant that admits the row shows the column.
func (s *Session) restrict(ctx context.Context, p *access.Principal) error {
	objs, err := s.db.Query(ctx, `SELECT schema_name, table_name, 'TABLE' FROM duckdb_tables() WHERE NOT internal AND NOT temporary
		UNION ALL SELECT schema_name, view_name, 'VIEW' FROM duckdb_views() WHERE NOT internal AND NOT temporary`)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	type object struct{ schema, name, kind string }
	var list []object
	for objs.Next() {
		var o object
		if err := objs.Scan(&o.schema, &o.name, &o.kind); err != nil {
			objs.Close()
			return err
		}
		list = append(list, o)
	}
	objs.Close()
	if err := objs.Err(); err != nil {
		return err
	}
	byID := map[string]lake.Store{}
	for _, st := range s.Stores {
		byID[st.ID] = st
	}
	var visible [][2]string
	s.restricted = map[string]bool{}
	s.views = map[string]*restrictedTable{}
	s.viewAliases = map[string]string{}
	for _, o := range list {
		if o.schema == "main" || o.schema == "pg_catalog" || o.schema == "information_schema" {
			continue
		}
		resource := "table:" + o.schema + "." + o.name
		var alias string // a store's name view, which selects from its id's object
		if o.schema == Schema {
			st, ok := byID[o.name]
			if !ok {
				continue // a store's name view: it follows its id's object; nothing else is here
			}
			resource = "store:" + st.ID
			if st.Name != st.ID {
				alias = st.Name
			}
		}
		ta := p.Table(resource)
		if o.schema == Schema && byID[o.name].Name == lake.AlertsStore {
			ta = s.alertsAccess(p, ta)
		}
		if ta == nil {
			visible = append(visible, [2]string{o.schema, o.name})
			if alias != "" {
				visible = append(visible, [2]string{o.schema, alias})
			}
			continue
		}
		if st, ok := byID[o.name]; ok && o.schema == Schema && s.damaged[o.name] != nil {
			// A damaged store's views read a table that was dropped, so that no query binds;
			// its restricted view is made over the table, re-created for the time it takes.
			gone := engine.Ident(Schema) + "." + engine.Ident(damagedTable(o.name))
			if err := s.db.Exec(ctx, "CREATE TABLE "+gone+" "+storeDDL(st)); err != nil {
				return err
			}
			err := s.restrictOne(ctx, p, o.schema, o.name, o.kind, alias, resource, ta, &visible)
			if dropErr := s.dropFailing(ctx, o.name); err == nil {
				err = dropErr
			}
			if err != nil {
				return err
			}
			continue
		}
		if err := s.restrictOne(ctx, p, o.schema, o.name, o.kind, alias, resource, ta, &visible); err != nil {
			return err
		}
	}
	s.visible = map[string]bool{}
	for _, v := range visible {
		s.visible[v[0]+"\x00"+v[1]] = true
	}
	s.db.RestrictTables(visible)
	return nil
}

// alertsAccess is what p may read of the alerts store, whose grants are ta: an alert carries
// values of the events it found (the principal, account, region, event ids, summary, and all of
// them in eventjson), so an alert (and an evaluation's marker) of a store is shown only to a
// principal that reads that store whole — no column hidden, no row filter — and the status
// changes and deliveries, which name an alert's group but no value of its store, to every
// reader of the alerts store. The condition joins each grant's row filter, so that it masks
// every column as a filter does. A principal that reads everything (an unrestricted grant on
// all) reads every alert.
func (s *Session) alertsAccess(p *access.Principal, ta *access.TableAccess) *access.TableAccess {
	if p.Table("all") == nil || (ta != nil && len(ta.Rules) == 0) {
		return ta // everything, or nothing: the grant on all shows every store; no grant on alerts
	}
	var names []string
	for _, st := range s.Stores {
		if st.Name != lake.AlertsStore && p.Table("store:"+st.ID) == nil {
			names = append(names, engine.Literal(st.Name))
		}
	}
	f := "eventname IN ('AlertStatus', 'AlertDelivered')"
	if len(names) > 0 {
		f += " OR requestparameters['store'] IN (" + strings.Join(names, ", ") + ")"
	}
	if ta == nil {
		return &access.TableAccess{Rules: []access.Rule{{Filter: f}}}
	}
	out := &access.TableAccess{}
	for _, r := range ta.Rules {
		if r.Filter == "" {
			r.Filter = f
		} else {
			r.Filter = "(\n" + r.Filter + "\n) AND (" + f + ")"
		}
		out.Rules = append(out.Rules, r)
	}
	return out
}

// restrictOne replaces table schema.name (an object of kind TABLE or VIEW; alias, when not "",
// is a store's name view over it) by the view of what ta allows, or drops it when ta allows
// nothing, and adds what stays visible to visible.
func (s *Session) restrictOne(ctx context.Context, p *access.Principal, schema, name, kind, alias, resource string, ta *access.TableAccess, visible *[][2]string) error {
	target := engine.Ident(schema) + "." + engine.Ident(name)
	view, cols, err := s.restrictedView(ctx, schema, name, ta)
	if err != nil {
		return fmt.Errorf("restrict %s for %s: %w", strings.TrimPrefix(resource, "table:"), p.Name(), err)
	}
	if alias != "" && view == "" {
		if err := s.db.Exec(ctx, "DROP VIEW "+engine.Ident(schema)+"."+engine.Ident(alias)); err != nil {
			return err
		}
	}
	if view == "" {
		return s.db.Exec(ctx, "DROP "+kind+" "+target)
	}
	raw := engine.Ident(schema) + "." + engine.Ident(rawPrefix+name)
	if err := s.db.Exec(ctx, "ALTER "+kind+" "+target+" RENAME TO "+engine.Ident(rawPrefix+name)); err != nil {
		return err
	}
	if err := s.db.Exec(ctx, "CREATE VIEW "+target+" AS "+strings.ReplaceAll(view, "{raw}", raw)); err != nil {
		return fmt.Errorf("restrict %s for %s: %w", strings.TrimPrefix(resource, "table:"), p.Name(), err)
	}
	rt := &restrictedTable{key: tableKey(schema, name), ref: target, raw: raw, rawAlias: engine.Ident(rawPrefix + name), view: view, cols: map[string]viewColumn{}, schema: schema}
	for _, r := range ta.Rules {
		rt.filters += strings.ToLower(r.Filter) + "\n"
	}
	for _, c := range cols {
		rt.cols[strings.ToLower(c.name)] = c
	}
	s.views[rt.key] = rt
	*visible = append(*visible, [2]string{schema, name})
	if alias != "" {
		s.viewAliases[tableKey(schema, alias)] = rt.key
		// The name's view was bound to every column of the original: bound again to the
		// restricted view, it lists (in Tables) only the columns the principal may read.
		if err := s.db.Exec(ctx, "CREATE OR REPLACE VIEW "+engine.Ident(schema)+"."+engine.Ident(alias)+" AS SELECT * FROM "+target); err != nil {
			return err
		}
		*visible = append(*visible, [2]string{schema, alias})
	}
	if schema == Schema {
		s.restricted[name] = true
	}
	return nil
}

// restrictedView returns the SELECT (reading from the placeholder {raw}) that shows what ta
// allows of table schema.name, or "" when it shows nothing, and the columns it shows.
func (s *Session) restrictedView(ctx context.Context, schema, name string, ta *access.TableAccess) (string, []viewColumn, error) {
	if len(ta.Rules) == 0 {
		return "", nil, nil
	}
	cols, types, err := s.columnTypes(ctx, schema, name)
	if err != nil {
		return "", nil, err
	}
	allRows := false
	var filters []string
	for _, r := range ta.Rules {
		if r.Filter == "" {
			allRows = true
		} else {
			filters = append(filters, "(\n"+r.Filter+"\n)")
		}
	}
	var sel []string
	var shown []viewColumn
	for i, c := range cols {
		var admit []string
		plain := false
		for _, r := range ta.Rules {
			if !shows(r, strings.ToLower(c), cols) {
				continue
			}
			if r.Filter == "" {
				plain = true
				break
			}
			admit = append(admit, "(\n"+r.Filter+"\n)")
		}
		switch {
		case plain:
			sel = append(sel, engine.Ident(c))
		case len(admit) > 0:
			sel = append(sel, "CASE WHEN "+strings.Join(admit, " OR ")+" THEN "+engine.Ident(c)+" END AS "+engine.Ident(c))
		default:
			continue
		}
		shown = append(shown, viewColumn{name: c, typ: types[i], plain: plain, full: plain || (!allRows && len(admit) == len(ta.Rules))})
	}
	if len(sel) == 0 {
		return "", nil, nil
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM {raw}"
	if !allRows {
		q += " WHERE " + strings.Join(filters, " OR ")
	}
	out, err := dialect.Rewrite(q)
	if err != nil {
		return "", nil, fmt.Errorf("row filter: %w", err)
	}
	return out, shown, nil
}

// shows says whether rule r shows column col of a table of columns cols. eventjsonchecksum is
// the SHA-256 of eventjson, the whole record: beside a hidden column it would let a reader test
// guesses of that column's value (rebuild the record's text with each, compare the hashes), so a
// rule that hides eventjson and any other column hides the checksum too.
func shows(r access.Rule, col string, cols []string) bool {
	if !r.Shows(col) {
		return false
	}
	if col != "eventjsonchecksum" || r.Shows("eventjson") {
		return true
	}
	for _, c := range cols {
		if c = strings.ToLower(c); c != "eventjson" && c != "eventjsonchecksum" && !r.Shows(c) {
			return false
		}
	}
	return true
}

// columns lists the columns of a registered table in order.
func (s *Session) columns(ctx context.Context, schema, name string) ([]string, error) {
	cols, _, err := s.columnTypes(ctx, schema, name)
	return cols, err
}

// columnTypes lists the columns of a registered table in order, and their types.
func (s *Session) columnTypes(ctx context.Context, schema, name string) (cols, types []string, err error) {
	rows, err := s.db.Query(ctx, `SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? ORDER BY column_index`, schema, name)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c, t string
		if err := rows.Scan(&c, &t); err != nil {
			return nil, nil, err
		}
		cols = append(cols, c)
		types = append(types, t)
	}
	return cols, types, rows.Err()
}

// CheckGrant validates a select grant against the lake before it is saved: the resource exists
// (a store's name becomes its id), every column named exists in the table, and the row filter is
// one predicate over the table's columns that the engine accepts. All is refused (nothing
// saved) with a message that says what is wrong.
func CheckGrant(ctx context.Context, lk *lake.Lake, g *access.Grant) error {
	kind, ref, _ := strings.Cut(g.Resource, ":")
	var schema, name string
	switch kind {
	case "all":
		if ref != "" || len(g.Columns)+len(g.ExcludeColumns) > 0 || g.RowFilter != "" {
			return errors.New("a grant on all takes no columns or row filter: grant on store:NAME or table:DB.TABLE for those")
		}
		return nil
	case "store":
		st, err := lk.Resolve(ref)
		if err != nil {
			return fmt.Errorf("grant on %s: %w", g.Resource, err)
		}
		g.Resource = "store:" + st.ID
		schema, name = Schema, st.ID
	case "table":
		db, t, err := cost.SplitName(ref)
		if err != nil {
			return fmt.Errorf("grant on %s: %w", g.Resource, err)
		}
		if _, err := cost.Lookup(lk.Dir, ref); err != nil {
			return fmt.Errorf("grant on %s: %w", g.Resource, err)
		}
		schema, name = db, t
	default:
		return fmt.Errorf("invalid resource %q: want store:NAME|ID, table:DB.TABLE or all", g.Resource)
	}
	if err := checkFilterText(g.RowFilter); err != nil {
		return err
	}
	s, err := Open(ctx, lk, Options{MemoryLimit: "256MB"})
	if err != nil {
		return err
	}
	defer s.Close()
	cols, err := s.columns(ctx, schema, name)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, c := range cols {
		have[strings.ToLower(c)] = true
	}
	for _, c := range append(append([]string{}, g.Columns...), g.ExcludeColumns...) {
		if !have[c] {
			return fmt.Errorf("column %q does not exist in %s (its columns: %s)", c, strings.TrimPrefix(g.Resource, "table:"), strings.Join(cols, ", "))
		}
	}
	if g.RowFilter == "" {
		return nil
	}
	// The filter sees this table only: a subquery over another table would read it with the
	// reader's grants, not the grant's.
	s.db.RestrictTables([][2]string{{schema, name}})
	q := "SELECT count(*) FROM (SELECT * FROM " + engine.Ident(schema) + "." + engine.Ident(name) + " LIMIT 0) WHERE (\n" + g.RowFilter + "\n)"
	if _, err := s.Run(ctx, q); err != nil {
		return fmt.Errorf("row filter %q: %w", g.RowFilter, err)
	}
	return nil
}

// checkFilterText refuses a row filter that could end the predicate it is embedded in: a
// semicolon, a comment, or a parenthesis that closes more than it opened (outside string
// literals and quoted names).
func checkFilterText(f string) error {
	depth := 0
	for i := 0; i < len(f); i++ {
		switch c := f[i]; c {
		case '\'', '"':
			j := i + 1
			for j < len(f) && !(f[j] == c && (j+1 >= len(f) || f[j+1] != c)) {
				if f[j] == c {
					j++
				}
				j++
			}
			if j >= len(f) {
				return fmt.Errorf("row filter %q: unterminated %c", f, c)
			}
			i = j
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return fmt.Errorf("row filter %q: a ) closes more than the filter opened", f)
			}
		case ';':
			return fmt.Errorf("row filter %q: one predicate, no ;", f)
		case '-', '/':
			if i+1 < len(f) && ((c == '-' && f[i+1] == '-') || (c == '/' && f[i+1] == '*')) {
				return fmt.Errorf("row filter %q: no comments", f)
			}
		}
	}
	if depth != 0 {
		return fmt.Errorf("row filter %q: unbalanced parentheses", f)
	}
	return nil
}
