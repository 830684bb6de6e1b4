package query

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/auditlake/auditlake/internal/engine"
)

// A restricted view masks every column (restrict.go), so a predicate of the user's query on one
// of its columns is a predicate on a CASE expression, which the engine never pushes into the
// Parquet scan: no row-group pruning, no Bloom filter, and every granted column of every visible
// row decoded, whole structs included (a CASE over a struct hides which of its fields the query
// reads). Before a restricted session runs a query, the trusted layer reads the query's parse
// tree (the engine's own parser) and builds, for this query only, each restricted view it reads
// once with two additions on the raw columns, under the mask:
//
//   - the conjuncts of the WHERE of the SELECT that reads the view alone that have the form
//     column <op> constant, column [NOT] IN (constants), column BETWEEN constant AND constant,
//     column IS NOT NULL (IS NULL too for a column that is not masked), where the constant has
//     the column's own type (a string literal compared with a time column is cast to it, as the
//     engine does): such a comparison cannot fail and casts no column, so evaluated on a hidden
//     row it neither raises nor prints anything; each is implied by the user's predicate on the
//     masked column (which is null, so false, on a row the mask hides), so the rows the query
//     sees are the same;
//   - a struct column that the query reads only through field paths (useridentity.arn) is
//     narrowed to those fields (struct_pack of the raw fields), so the scan decodes them alone;
//   - a text column that a pushed conjunct requires to equal a constant (eventname =
//     'RunInstances'), and that no grant filter of the view reads, is that constant under the
//     mask (equalsConstant), so the scan filters the column without carrying its text up;
//   - when that SELECT is a top n of the view's rows (ORDER BY columns the view shows on every
//     row, a constant LIMIT, every conjunct of its WHERE pushed, no grouping; topN), the view
//     keeps the same n rows, ordered by the raw columns, so the engine prunes the scan by the
//     n-th value as it does for the admin (ties: any of the tied rows, as without it).
//
// The grants' filters and the masks stay as they are: what a query may see does not change, only
// how much of what it may not see the scan reads. The view with a query's additions is a view of
// its own, a variant, named by the hash of its definition (variantPrefix, in the view's schema;
// user SQL cannot name it: engine.RestrictTables does not list it), made once and kept for the
// queries that add the same (at most maxVariants per session, the least recently used dropped
// first); the query runs as written but for the restricted view's name, replaced where the parse
// tree says the query names it by the variant's, aliased to the name (or alias) the query gives
// it, so its column references and error messages read as written. The session's own views never
// change, so reports and listings (internal SQL) read them as restrict made them. A view the
// query reads more than once, or that no simple SELECT reads, or a query that names a column
// through its table's schema ("aws:cloudtrail"."x".eventname), runs on the session's own view.
//
// A session is one principal's under the grants and the store files it opened with (the server's
// pool keeps sessions by principal and grants, and closes one whose lake changed), so a variant,
// and the session's cache of its queries (prepare), never serves another principal or another
// state of the grants or the files.

// restrictedTable is a view that restrict made over a raw object.
type restrictedTable struct {
	key string // tableKey of the view
	ref string // the view, quoted
	raw string // the raw object under it, quoted
	// rawAlias names the raw rows in the view (the raw object's name, quoted), so a view's
	// ORDER BY reads the raw columns, not the masked ones of its select list.
	rawAlias string
	view     string // the session's definition, reading {raw}
	cols     map[string]viewColumn
	// filters is the text of every grant filter of the view, lower case: a struct column it
	// names is never narrowed (the filter reads it from the raw object).
	filters string
	schema  string // the view's schema, as registered
}

// viewColumn is one column of a restricted view.
type viewColumn struct {
	name  string // as the table spells it
	typ   string // the engine's type, as duckdb_columns spells it
	plain bool   // shown on every row of the view, unmasked
	// full: shown on every row of the view (plain, or masked by exactly the view's row
	// filter), so its masked value is the raw one on every row the view shows.
	full bool
}

// plan is what one query's views add: by view key, the raw predicates and the narrowed columns.
type plan map[string]*viewPlan

type viewPlan struct {
	where   []string
	replace []string
	// constants are REPLACE entries giving a text column the constant a pushed equality
	// requires of it (equalsConstant); planTree appends them to replace.
	constants []string
	// order is ORDER BY … LIMIT n on raw columns, when the SELECT that reads the view is a
	// top-n of its rows that the view can compute alone (topN).
	order string
}

func tableKey(schema, name string) string {
	return strings.ToLower(schema) + "\x00" + strings.ToLower(name)
}

// definition is the view's SQL with p's additions.
func (t *restrictedTable) definition(p *viewPlan) string {
	if p == nil || (len(p.where) == 0 && len(p.replace) == 0 && p.order == "") {
		return strings.ReplaceAll(t.view, "{raw}", t.raw)
	}
	inner := "SELECT *"
	if len(p.replace) > 0 {
		inner += " REPLACE (" + strings.Join(p.replace, ", ") + ")"
	}
	inner += " FROM " + t.raw
	if len(p.where) > 0 {
		inner += " WHERE " + strings.Join(p.where, " AND ")
	}
	v := strings.ReplaceAll(t.view, "{raw}", "("+inner+") AS "+t.rawAlias)
	if p.order != "" {
		v += " " + p.order
	}
	return v
}

// variantPrefix starts the name of a restricted view's variant: the view with one query's
// additions (the top of this file).
const variantPrefix = "__pushed_"

// maxVariants bounds the variants a session keeps; maxPrepared the queries it keeps prepared.
const (
	maxVariants = 32
	maxPrepared = 256
)

// variant is a restricted view with one set of additions, made in the engine on first use.
type variant struct {
	name string // unquoted, in the view's schema
	ref  string // schema and name, quoted
	def  string // the SELECT
	view string // the restricted view's ref, for error messages
	used uint64 // the session's use count when last used (least recently used: dropped first)
}

// prepared is a user query (DuckDB SQL) the session has checked and planned.
type prepared struct {
	checked *engine.Checked
	// run is the query naming its views' variants ("": run it as written).
	run      string
	variants []*variant
}

// prepare checks sql (engine.Check) and plans it against the restricted views, or returns what
// it did for the same text before: the views the session shows never change, so neither does
// the plan of a text. The cache is emptied when it holds maxPrepared queries, and by
// ExecInternal (a report's temporary table may be named by a later query).
func (s *Session) prepare(ctx context.Context, sql string) (*prepared, error) {
	if p := s.prepared[sql]; p != nil {
		return p, nil
	}
	c, err := s.db.Check(ctx, sql)
	if err != nil {
		return nil, err
	}
	p := &prepared{checked: c}
	if len(s.views) > 0 && !s.noPushdown {
		pl, w := s.planTree(c.Tree)
		p.run, p.variants = s.substitute(sql, pl, w)
	}
	c.Tree = nil
	if s.prepared == nil || len(s.prepared) >= maxPrepared {
		s.prepared = map[string]*prepared{}
	}
	s.prepared[sql] = p
	return p, nil
}

// makeVariants makes in the engine the variants p runs on that are not there, dropping the
// least recently used ones beyond maxVariants. A variant that cannot be made (a damaged store's
// view does not bind) is an error: the query then runs on the session's own views.
func (s *Session) makeVariants(ctx context.Context, p *prepared) error {
	ctx = context.WithoutCancel(ctx)
	for _, v := range p.variants {
		s.uses++
		v.used = s.uses
		if s.made[v.name] {
			continue
		}
		if err := s.db.Exec(ctx, "CREATE VIEW "+v.ref+" AS "+v.def); err != nil {
			return fmt.Errorf("restricted view: %w", err)
		}
		if s.made == nil {
			s.made = map[string]bool{}
			s.madeRefs = map[string]*variant{}
		}
		s.made[v.name] = true
		s.madeRefs[v.name] = v
	}
	for len(s.made) > maxVariants {
		var oldest *variant
		for _, v := range s.madeRefs {
			if oldest == nil || v.used < oldest.used {
				oldest = v
			}
		}
		if err := s.db.Exec(ctx, "DROP VIEW "+oldest.ref); err != nil {
			return err
		}
		delete(s.made, oldest.name)
		delete(s.madeRefs, oldest.name)
	}
	return nil
}

// planQuery returns what each restricted view sql (DuckDB SQL) reads may add for it; nil when
// nothing, or when sql does not pass the engine's check.
func (s *Session) planQuery(ctx context.Context, sql string) plan {
	if len(s.views) == 0 {
		return nil
	}
	c, err := s.db.Check(ctx, sql)
	if err != nil {
		return nil
	}
	pl, _ := s.planTree(c.Tree)
	return pl
}

// planTree reads the parse tree of a query and returns what each restricted view it reads may
// add for it, and the walker that read it.
func (s *Session) planTree(stmt any) (plan, *walker) {
	w := &walker{s: s, refs: map[string]int{}, names: map[string]bool{}, schemas: map[string]bool{}, whole: map[string]bool{}, paths: map[string][][]string{}, nodes: map[string]map[string]any{}}
	w.scan(stmt)
	pl := plan{}
	vp := func(key string) *viewPlan {
		if pl[key] == nil {
			pl[key] = &viewPlan{}
		}
		return pl[key]
	}
	for _, sel := range w.selects {
		t := s.views[sel.key]
		if w.refs[sel.key] != 1 {
			continue
		}
		all := true // every conjunct pushed, each on a column the view shows on every row
		for _, c := range conjuncts(sel.node["where_clause"]) {
			p, col, ok := pushable(c, sel.qualifier, t.cols)
			if ok {
				vp(sel.key).where = append(vp(sel.key).where, p)
				as := " AS " + engine.Ident(col.name)
				if v, ok := equalsConstant(c, sel.qualifier, t, col); ok && !slices.ContainsFunc(vp(sel.key).constants, func(e string) bool { return strings.HasSuffix(e, as) }) {
					vp(sel.key).constants = append(vp(sel.key).constants, v+as)
				}
			}
			all = all && ok && col.full
		}
		if order, ok := topN(sel, t); ok && all {
			vp(sel.key).order = order
		}
	}
	if !w.wholeRow {
		for key, n := range w.refs {
			t := s.views[key]
			if n != 1 {
				continue
			}
			for _, c := range slices.Sorted(maps.Keys(t.cols)) {
				col := t.cols[c]
				paths := w.paths[c]
				if w.whole[c] || len(paths) == 0 || !strings.HasPrefix(col.typ, "STRUCT(") || strings.Contains(t.filters, c) {
					continue
				}
				typ, ok := parseType(col.typ)
				if !ok {
					continue
				}
				if e, ok := narrowed(engine.Ident(col.name), typ, paths); ok {
					vp(key).replace = append(vp(key).replace, e+" AS "+engine.Ident(col.name))
				}
			}
		}
	}
	for _, p := range pl {
		p.replace = append(p.replace, p.constants...)
	}
	return pl, w
}

// equalsConstant returns the constant of conjunct c when it is column = constant on a text
// column of view t that no grant filter of t names (col, pushed): every row of the variant then
// holds that value in the column, so the variant gives the constant in its place (under the mask,
// which still reads the raw columns) and the scan reads the column only to filter it, not to
// carry its text up (issue 16's overhead: a restricted reader's filter columns were projected out
// of the scan, the admin's are not). Before the variant's WHERE removes a row, an expression of
// the query could see the constant instead of the row's value only on a row the mask shows (the
// grant's filters read the raw column), so it sees nothing the grants hide; text only, where
// equality is identity (a float's -0 = 0 is not).
func equalsConstant(c map[string]any, qualifier string, t *restrictedTable, col viewColumn) (string, bool) {
	if c["class"] != "COMPARISON" || c["type"] != "COMPARE_EQUAL" || col.typ != "VARCHAR" || strings.Contains(t.filters, strings.ToLower(col.name)) {
		return "", false
	}
	for _, pair := range [][2]any{{c["left"], c["right"]}, {c["right"], c["left"]}} {
		if got, ok := columnOf(pair[0], qualifier, t.cols); ok && got.name == col.name {
			return constant(pair[1], col.typ)
		}
	}
	return "", false
}

// substitute returns sql naming, for each view pl adds to, the variant with its additions in
// place of the view, and those variants; "" and none when there is nothing to add or sql's text
// is not where the parse tree says (the query then runs on the session's own views).
func (s *Session) substitute(sql string, pl plan, w *walker) (string, []*variant) {
	if w.schemaColumns {
		return "", nil
	}
	type edit struct {
		from, to int
		text     string
	}
	var edits []edit
	var vs []*variant
	for _, key := range slices.Sorted(maps.Keys(pl)) {
		p := pl[key]
		n := w.nodes[key]
		t := s.views[key]
		if n == nil || (len(p.where) == 0 && len(p.replace) == 0 && p.order == "") {
			continue
		}
		at, ok := n["query_location"].(float64)
		if !ok || at < 0 || at != float64(int(at)) {
			continue
		}
		var parts []string
		for _, k := range []string{"catalog_name", "schema_name", "table_name"} {
			if v, _ := n[k].(string); v != "" {
				parts = append(parts, v)
			}
		}
		end, ok := nameSpan(sql, int(at), parts)
		if !ok {
			continue
		}
		alias, _ := n["alias"].(string)
		if cols, _ := n["column_name_alias"].([]any); alias == "" && len(cols) > 0 {
			continue
		}
		def := t.definition(p)
		sum := sha256.Sum256([]byte(def))
		v := &variant{name: variantPrefix + hex.EncodeToString(sum[:12]), def: def, view: t.ref}
		v.ref = engine.Ident(t.schema) + "." + engine.Ident(v.name)
		if made := s.madeRefs[v.name]; made != nil {
			v = made
		}
		text := v.ref
		if alias == "" {
			text += " AS " + engine.Ident(parts[len(parts)-1])
		}
		edits = append(edits, edit{int(at), end, text})
		vs = append(vs, v)
	}
	if len(edits) == 0 {
		return "", nil
	}
	slices.SortFunc(edits, func(a, b edit) int { return b.from - a.from })
	for i := 1; i < len(edits); i++ {
		if edits[i].to > edits[i-1].from {
			return "", nil // overlapping: not what a parse tree gives
		}
	}
	out := sql
	for _, e := range edits {
		out = out[:e.from] + e.text + out[e.to:]
	}
	return out, vs
}

// nameSpan returns the end of the table name written at byte offset at of sql — parts, the
// catalog, schema and table as the parse tree has them, each quoted or not, separated by dots
// (blanks around them allowed) — and false when the text there is not that name.
func nameSpan(sql string, at int, parts []string) (int, bool) {
	i := at
	for k, want := range parts {
		if k > 0 {
			for i < len(sql) && isBlank(sql[i]) {
				i++
			}
			if i >= len(sql) || sql[i] != '.' {
				return 0, false
			}
			i++
			for i < len(sql) && isBlank(sql[i]) {
				i++
			}
		}
		if i >= len(sql) {
			return 0, false
		}
		var got string
		if sql[i] == '"' {
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(sql) {
					return 0, false
				}
				if sql[j] == '"' {
					if j+1 < len(sql) && sql[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(sql[j])
				j++
			}
			got, i = b.String(), j+1
		} else {
			j := i
			for j < len(sql) && (sql[j] == '_' || sql[j] == '$' || sql[j] >= 0x80 || 'a' <= sql[j]|0x20 && sql[j]|0x20 <= 'z' || '0' <= sql[j] && sql[j] <= '9') {
				j++
			}
			got, i = sql[i:j], j
		}
		if got == "" || !strings.EqualFold(got, want) {
			return 0, false
		}
	}
	return i, true
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// walker gathers from a parse tree the references to restricted views and how columns are read.
type walker struct {
	s *Session
	// refs counts the references to each restricted view (by key), through its name or an alias.
	refs map[string]int
	// selects are the SELECTs whose FROM is one restricted view alone.
	selects []selectOf
	// names are every table name and alias of the query, lower case: a column reference that
	// starts with one is qualified.
	names map[string]bool
	// schemas are every schema and catalog a table of the query is named with, lower case.
	schemas map[string]bool
	// whole are the columns read whole (lower case); paths the field paths read of the others.
	whole map[string]bool
	paths map[string][][]string
	// wholeRow: the query reads a whole row (*, COLUMNS, a table's name as a value), or names
	// a column in a way this reader does not follow: nothing is narrowed.
	wholeRow bool
	// refsCols holds the column references, resolved once names is complete.
	colRefs [][]string
	// nodes holds the BASE_TABLE node that names each restricted view (the last one, when the
	// query names it more than once).
	nodes map[string]map[string]any
	// schemaColumns: a column is named through its table's schema or catalog.
	schemaColumns bool
}

type selectOf struct {
	key       string
	qualifier string // the alias, or the table's name, lower case
	node      map[string]any
}

func (w *walker) scan(stmt any) {
	w.walk(stmt)
	for _, parts := range w.colRefs {
		lower := make([]string, len(parts))
		for i, p := range parts {
			lower[i] = strings.ToLower(p)
		}
		switch {
		case w.schemas[lower[0]] && len(lower) > 1:
			w.wholeRow = true // schema.table.column: not followed
			w.schemaColumns = true
		case w.names[lower[0]] && len(lower) == 1:
			w.wholeRow = true
		case w.names[lower[0]] && len(lower) == 2:
			w.whole[lower[1]] = true
		case w.names[lower[0]]:
			w.wholeRow = true // schema.table.column or table.column.field: not followed
		case len(lower) == 1:
			w.whole[lower[0]] = true
		default:
			w.paths[lower[0]] = append(w.paths[lower[0]], lower[1:])
		}
	}
}

// view resolves a BASE_TABLE node to a restricted view's key ("" when it is none).
func (w *walker) view(n map[string]any) string {
	schema, _ := n["schema_name"].(string)
	name, _ := n["table_name"].(string)
	key := tableKey(schema, name)
	if t := w.s.views[key]; t != nil {
		return key
	}
	return w.s.viewAliases[key]
}

func (w *walker) walk(n any) {
	switch v := n.(type) {
	case []any:
		for _, c := range v {
			w.walk(c)
		}
	case map[string]any:
		if cm, ok := v["cte_map"].(map[string]any); ok {
			if entries, ok := cm["map"].([]any); ok {
				for _, en := range entries {
					if m, ok := en.(map[string]any); ok {
						if k, ok := m["key"].(string); ok {
							w.names[strings.ToLower(k)] = true
						}
					}
				}
			}
		}
		switch v["type"] {
		case "BASE_TABLE":
			name, _ := v["table_name"].(string)
			alias, _ := v["alias"].(string)
			w.names[strings.ToLower(name)] = true
			for _, k := range []string{"schema_name", "catalog_name"} {
				if q, _ := v[k].(string); q != "" {
					w.schemas[strings.ToLower(q)] = true
				}
			}
			w.schemas["memory"] = true
			if alias != "" {
				w.names[strings.ToLower(alias)] = true
			}
			if key := w.view(v); key != "" {
				w.refs[key]++
				w.nodes[key] = v
			}
		case "SELECT_NODE":
			if from, ok := v["from_table"].(map[string]any); ok && from["type"] == "BASE_TABLE" && from["sample"] == nil && from["at_clause"] == nil && v["sample"] == nil {
				if key := w.view(from); key != "" {
					q, _ := from["alias"].(string)
					if q == "" {
						q, _ = from["table_name"].(string)
					}
					w.selects = append(w.selects, selectOf{key: key, qualifier: strings.ToLower(q), node: v})
				}
			}
		}
		switch v["class"] {
		case "STAR":
			w.wholeRow = true
		case "COLUMN_REF":
			var parts []string
			ps, _ := v["column_names"].([]any)
			for _, p := range ps {
				s, _ := p.(string)
				parts = append(parts, s)
			}
			if len(parts) == 0 {
				w.wholeRow = true
			} else {
				w.colRefs = append(w.colRefs, parts)
			}
		}
		for _, c := range v {
			w.walk(c)
		}
	}
}

// conjuncts flattens the ANDs of a WHERE clause.
func conjuncts(n any) []map[string]any {
	m, ok := n.(map[string]any)
	if !ok {
		return nil
	}
	if m["class"] == "CONJUNCTION" && m["type"] == "CONJUNCTION_AND" {
		var out []map[string]any
		kids, _ := m["children"].([]any)
		for _, k := range kids {
			out = append(out, conjuncts(k)...)
		}
		return out
	}
	return []map[string]any{m}
}

var comparisons = map[string][2]string{ // the operator, and the operator with its sides swapped
	"COMPARE_EQUAL":                {"=", "="},
	"COMPARE_NOTEQUAL":             {"<>", "<>"},
	"COMPARE_LESSTHAN":             {"<", ">"},
	"COMPARE_GREATERTHAN":          {">", "<"},
	"COMPARE_LESSTHANOREQUALTO":    {"<=", ">="},
	"COMPARE_GREATERTHANOREQUALTO": {">=", "<="},
}

// pushable renders conjunct c as a predicate on the raw column, when it has one of the forms
// that cannot fail or cast the column (see the top of this file) on a column of cols read by the
// SELECT whose FROM is the view under qualifier.
func pushable(c map[string]any, qualifier string, cols map[string]viewColumn) (string, viewColumn, bool) {
	column := func(n any) (viewColumn, bool) { return columnOf(n, qualifier, cols) }
	switch c["class"] {
	case "COMPARISON":
		ops, ok := comparisons[fmt.Sprint(c["type"])]
		if !ok {
			return "", viewColumn{}, false
		}
		if col, ok := column(c["left"]); ok {
			if v, ok := constant(c["right"], col.typ); ok {
				return engine.Ident(col.name) + " " + ops[0] + " " + v, col, true
			}
		}
		if col, ok := column(c["right"]); ok {
			if v, ok := constant(c["left"], col.typ); ok {
				return engine.Ident(col.name) + " " + ops[1] + " " + v, col, true
			}
		}
	case "BETWEEN":
		if c["type"] != "COMPARE_BETWEEN" {
			return "", viewColumn{}, false
		}
		if col, ok := column(c["input"]); ok {
			lo, ok1 := constant(c["lower"], col.typ)
			hi, ok2 := constant(c["upper"], col.typ)
			if ok1 && ok2 {
				return engine.Ident(col.name) + " BETWEEN " + lo + " AND " + hi, col, true
			}
		}
	case "OPERATOR":
		kids, _ := c["children"].([]any)
		if len(kids) == 0 {
			return "", viewColumn{}, false
		}
		col, ok := column(kids[0])
		if !ok {
			return "", viewColumn{}, false
		}
		switch c["type"] {
		case "OPERATOR_IS_NOT_NULL":
			return engine.Ident(col.name) + " IS NOT NULL", col, len(kids) == 1
		case "OPERATOR_IS_NULL":
			// Not implied by the user's predicate on a masked column, which is null on a row
			// the mask hides: only for a column shown unmasked on every row of the view.
			return engine.Ident(col.name) + " IS NULL", col, len(kids) == 1 && col.plain
		case "COMPARE_IN", "COMPARE_NOT_IN":
			var vals []string
			for _, k := range kids[1:] {
				v, ok := constant(k, col.typ)
				if !ok {
					return "", viewColumn{}, false
				}
				vals = append(vals, v)
			}
			op := " IN ("
			if c["type"] == "COMPARE_NOT_IN" {
				op = " NOT IN ("
			}
			return engine.Ident(col.name) + op + strings.Join(vals, ", ") + ")", col, len(vals) > 0
		}
	}
	return "", viewColumn{}, false
}

// columnOf resolves n, when it is a reference to a column of cols (unqualified or qualified by
// qualifier, the name the SELECT reading the view gives it).
func columnOf(n any, qualifier string, cols map[string]viewColumn) (viewColumn, bool) {
	m, ok := n.(map[string]any)
	if !ok || m["class"] != "COLUMN_REF" {
		return viewColumn{}, false
	}
	ps, _ := m["column_names"].([]any)
	var parts []string
	for _, p := range ps {
		s, _ := p.(string)
		parts = append(parts, strings.ToLower(s))
	}
	switch {
	case len(parts) == 2 && parts[0] == qualifier:
		parts = parts[1:]
	case len(parts) != 1:
		return viewColumn{}, false
	}
	col, ok := cols[parts[0]]
	return col, ok
}

// scalarFunctions may appear in the select list of a SELECT whose top n the view computes: none
// aggregates rows.
var scalarFunctions = map[string]bool{
	"date_trunc": true, "upper": true, "lower": true, "substr": true, "substring": true, "concat": true,
	"strftime": true, "coalesce": true, "struct_extract": true, "json_extract_scalar": true,
	"json_extract_string": true, "json_extract": true, "length": true, "trim": true,
}

// topN returns ORDER BY … LIMIT n over the raw columns when SELECT sel is a top n of the view's
// rows (ORDER BY columns the view shows on every row, LIMIT a constant, no OFFSET, DISTINCT,
// grouping, aggregate or window), so the view can keep those n rows alone: the engine then
// prunes the scan by the n-th value as it does for the admin. Rows tied on the order keys may be
// any of them, as they may be without it.
func topN(sel selectOf, t *restrictedTable) (string, bool) {
	n := sel.node
	if g, _ := n["group_expressions"].([]any); len(g) > 0 || n["having"] != nil || n["qualify"] != nil || n["aggregate_handling"] != "STANDARD_HANDLING" {
		return "", false
	}
	if g, _ := n["group_sets"].([]any); len(g) > 0 {
		return "", false
	}
	mods, _ := n["modifiers"].([]any)
	if len(mods) != 2 {
		return "", false
	}
	order, _ := mods[0].(map[string]any)
	limit, _ := mods[1].(map[string]any)
	if order == nil || limit == nil || order["type"] != "ORDER_MODIFIER" || limit["type"] != "LIMIT_MODIFIER" || limit["offset"] != nil {
		return "", false
	}
	lc, _ := limit["limit"].(map[string]any)
	if lc == nil || lc["class"] != "CONSTANT" {
		return "", false
	}
	lv, _ := lc["value"].(map[string]any)
	lt, _ := lv["type"].(map[string]any)
	count, ok := lv["value"].(float64)
	if lv == nil || lt == nil || (lt["id"] != "INTEGER" && lt["id"] != "BIGINT") || !ok || count < 0 || count != float64(int64(count)) {
		return "", false
	}
	aliases := map[string]bool{}
	items, _ := n["select_list"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		if m == nil || !scalarOnly(m) {
			return "", false
		}
		if a, _ := m["alias"].(string); a != "" {
			aliases[strings.ToLower(a)] = true
		}
	}
	orders, _ := order["orders"].([]any)
	var keys []string
	for _, o := range orders {
		om, _ := o.(map[string]any)
		if om == nil {
			return "", false
		}
		e, _ := om["expression"].(map[string]any)
		col, ok := columnOf(e, sel.qualifier, t.cols)
		if !ok || !col.full || aliases[strings.ToLower(col.name)] {
			return "", false
		}
		key := t.rawAlias + "." + engine.Ident(col.name)
		switch om["type"] {
		case "ASCENDING":
			key += " ASC"
		case "DESCENDING":
			key += " DESC"
		case "ORDER_DEFAULT":
		default:
			return "", false
		}
		switch om["null_order"] {
		case "NULLS FIRST", "NULLS LAST":
			key += " " + om["null_order"].(string)
		case "ORDER_DEFAULT":
		default:
			return "", false
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return "", false
	}
	return fmt.Sprintf("ORDER BY %s LIMIT %d", strings.Join(keys, ", "), int64(count)), true
}

// scalarOnly says whether expression n computes a value of one row: column references,
// constants, casts, operators and the scalarFunctions, nothing else.
func scalarOnly(n map[string]any) bool {
	switch n["class"] {
	case "COLUMN_REF", "CONSTANT", "CAST", "OPERATOR", "COMPARISON", "CONJUNCTION", "CASE", "STAR":
	case "FUNCTION":
		name, _ := n["function_name"].(string)
		if !scalarFunctions[strings.ToLower(name)] || n["filter"] != nil || n["distinct"] != false {
			return false
		}
		if ob, _ := n["order_bys"].(map[string]any); ob != nil {
			if os, _ := ob["orders"].([]any); len(os) > 0 {
				return false
			}
		}
	default:
		return false
	}
	ok := true
	var walk func(any)
	walk = func(c any) {
		switch v := c.(type) {
		case map[string]any:
			if _, isExpr := v["class"]; isExpr {
				ok = ok && scalarOnly(v)
				return
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for k, c := range n {
		if k != "class" {
			walk(c)
		}
	}
	return ok
}

// temporal are the column types a string literal compared with them is cast to.
var temporal = map[string]bool{"TIMESTAMP": true, "DATE": true, "TIMESTAMP WITH TIME ZONE": true}

// constant renders node n as a value of column type typ, when n is a string literal, or a
// string literal cast to a time type, whose comparison with a column of type typ the engine
// makes in typ without casting the column (any other constant: false).
func constant(n any, typ string) (string, bool) {
	m, ok := n.(map[string]any)
	if !ok {
		return "", false
	}
	str := func(n any) (string, bool) {
		m, ok := n.(map[string]any)
		if !ok || m["class"] != "CONSTANT" {
			return "", false
		}
		v, ok := m["value"].(map[string]any)
		if !ok || v["is_null"] != false {
			return "", false
		}
		t, _ := v["type"].(map[string]any)
		s, isStr := v["value"].(string)
		if t == nil || t["id"] != "VARCHAR" || t["type_info"] != nil || !isStr {
			return "", false
		}
		return engine.Literal(s), true
	}
	if lit, ok := str(m); ok {
		switch {
		case typ == "VARCHAR":
			return lit, true
		case temporal[typ]:
			return "CAST(" + lit + " AS " + typ + ")", true
		}
		return "", false
	}
	if m["class"] != "CAST" || m["try_cast"] != false {
		return "", false
	}
	ct, _ := m["cast_type"].(map[string]any)
	if ct == nil || ct["type_info"] != nil {
		return "", false
	}
	to, _ := ct["id"].(string)
	lit, ok := str(m["child"])
	if !ok {
		return "", false
	}
	switch {
	case to == typ && (temporal[to] || to == "VARCHAR"):
		return "CAST(" + lit + " AS " + to + ")", true
	case to == "DATE" && (typ == "TIMESTAMP" || typ == "TIMESTAMP WITH TIME ZONE"):
		return "CAST(CAST(" + lit + " AS DATE) AS " + typ + ")", true // as the engine compares them
	}
	return "", false
}

// structType is a parsed column type: its fields when it is a STRUCT.
type structType struct {
	fields []structField
}

type structField struct {
	name string
	typ  *structType // nil: not a struct
}

// parseType parses the engine's spelling of a type (duckdb_columns' data_type) enough to know
// the fields of structs, nested ones included.
func parseType(s string) (*structType, bool) {
	t, rest, ok := parseTypeAt(s)
	return t, ok && strings.TrimSpace(rest) == ""
}

func parseTypeAt(s string) (*structType, string, bool) {
	s = strings.TrimLeft(s, " ")
	if !strings.HasPrefix(s, "STRUCT(") {
		// Any other type: skip to the end of it (its parentheses balanced) at , or ).
		depth := 0
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '(':
				depth++
			case ')':
				if depth == 0 {
					return nil, s[i:], true
				}
				depth--
			case ',':
				if depth == 0 {
					return nil, s[i:], true
				}
			case '"':
				j := strings.IndexByte(s[i+1:], '"')
				if j < 0 {
					return nil, "", false
				}
				i += j + 1
			}
		}
		return nil, "", true
	}
	s = s[len("STRUCT("):]
	t := &structType{}
	for {
		s = strings.TrimLeft(s, " ")
		var name string
		if strings.HasPrefix(s, `"`) {
			end := 1
			for end < len(s) && !(s[end] == '"' && (end+1 >= len(s) || s[end+1] != '"')) {
				if s[end] == '"' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return nil, "", false
			}
			name = strings.ReplaceAll(s[1:end], `""`, `"`)
			s = s[end+1:]
		} else {
			i := strings.IndexByte(s, ' ')
			if i <= 0 {
				return nil, "", false
			}
			name, s = s[:i], s[i:]
		}
		ft, rest, ok := parseTypeAt(s)
		if !ok {
			return nil, "", false
		}
		t.fields = append(t.fields, structField{name: name, typ: ft})
		s = strings.TrimLeft(rest, " ")
		switch {
		case strings.HasPrefix(s, ","):
			s = s[1:]
		case strings.HasPrefix(s, ")"):
			return t, s[1:], true
		default:
			return nil, "", false
		}
	}
}

// narrowed is the expression of struct expr (of type t) with only the fields paths read (each
// a path of lower-case field names below expr); false when a path names no field of t.
func narrowed(expr string, t *structType, paths [][]string) (string, bool) {
	var parts []string
	for _, f := range t.fields {
		var sub [][]string
		whole, used := false, false
		for _, p := range paths {
			if len(p) == 0 || !strings.EqualFold(p[0], f.name) {
				continue
			}
			used = true
			if len(p) == 1 {
				whole = true
			} else {
				sub = append(sub, p[1:])
			}
		}
		if !used {
			continue
		}
		fe := expr + "." + engine.Ident(f.name)
		if !whole {
			if f.typ == nil {
				return "", false // a path below a field that is no struct
			}
			e, ok := narrowed(fe, f.typ, sub)
			if !ok {
				return "", false
			}
			fe = e
		}
		parts = append(parts, engine.Ident(f.name)+" := "+fe)
	}
	for _, p := range paths { // every path names a field
		if len(p) > 0 && !slices.ContainsFunc(t.fields, func(f structField) bool { return strings.EqualFold(f.name, p[0]) }) {
			return "", false
		}
	}
	if len(parts) == 0 {
		return "", false
	}
	return "struct_pack(" + strings.Join(parts, ", ") + ")", true
}
