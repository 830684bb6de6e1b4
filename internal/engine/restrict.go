package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/auditlake/auditlake/internal/coldjson"
)

// RestrictTables limits the tables user SQL may name to visible (schema and name pairs, as
// registered): any other base table is "not found", as if it did not exist, so a restricted
// principal can neither read nor learn of the objects under its views (the stores' files, the
// views they restrict, the catalogs information_schema and pg_catalog). A name defined by a
// WITH clause of the query stays allowed. The restriction holds on every connection of this
// instance made after it (Conn).
func (e *DB) RestrictTables(visible [][2]string) {
	e.visible = map[string]bool{}
	for _, v := range visible {
		e.visible[tableKey(v[0], v[1])] = true
	}
}

func tableKey(schema, name string) string {
	return foldName(schema) + "\x00" + foldName(name)
}

// foldName is name as the engine compares names: case-insensitively in ASCII only. Folding
// more (strings.ToLower folds the Kelvin sign to k) would let a WITH named "ducKdb_views" — a
// name the engine does not take for duckdb_views — stand for the catalog's duckdb_views.
func foldName(name string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, name)
}

// checkTables refuses, under RestrictTables, any base table of the parse tree n that is neither
// visible nor a common table expression in scope where it is named.
func (e *DB) checkTables(n any) error {
	if e.visible == nil {
		return nil
	}
	return e.walkTables(n, nil)
}

// cteNames are the names of the common table expressions of a cte_map, one per entry in the
// order written ("" for an entry without one).
func cteNames(cm map[string]any) []string {
	entries, _ := cm["map"].([]any)
	names := make([]string, len(entries))
	for i, en := range entries {
		if m, ok := en.(map[string]any); ok {
			k, _ := m["key"].(string)
			names[i] = foldName(k)
		}
	}
	return names
}

// withNames is scope and names.
func withNames(scope map[string]bool, names ...string) map[string]bool {
	out := make(map[string]bool, len(scope)+len(names))
	for k := range scope {
		out[k] = true
	}
	for _, k := range names {
		out[k] = true
	}
	return out
}

func collectCTEs(n any, ctes map[string]bool) {
	switch v := n.(type) {
	case map[string]any:
		if cm, ok := v["cte_map"].(map[string]any); ok {
			if entries, ok := cm["map"].([]any); ok {
				for _, en := range entries {
					if m, ok := en.(map[string]any); ok {
						if k, ok := m["key"].(string); ok {
							ctes[strings.ToLower(k)] = true
						}
					}
				}
			}
		}
		for _, c := range v {
			collectCTEs(c, ctes)
		}
	case []any:
		for _, c := range v {
			collectCTEs(c, ctes)
		}
	}
}

// catalogReaders are the built-in scalar functions whose definition reads the engine's catalog
// (DuckDB macros over duckdb_views(), duckdb_constraints(), duckdb_types(),
// pragma_database_size()) or its configuration. The parse tree shows only their call, not the
// catalog function inside, so under RestrictTables they are refused by name: pg_get_viewdef
// printed the definitions of the objects under a principal's views — the raw table's columns,
// the grant's filter, the data directory and the store's file names.
var catalogReaders = map[string]bool{
	"pg_get_viewdef": true, "pg_get_constraintdef": true, "format_type": true,
	"get_block_size": true, "current_setting": true,
}

// walkTables checks the base tables of n, where ctes are the common table expressions in
// scope. A WITH's names are in scope in the body of its query and in the definitions written
// after theirs — not in their own: there, as everywhere outside that query, the engine binds
// the name to the catalog (WITH duckdb_views AS (SELECT * FROM duckdb_views) read the
// catalog's view of every view, and so did a WITH in a subquery that named, for the rest of the
// query, a catalog view), and so must this check. A recursive WITH names itself in the
// recursive part of its UNION (the right side) alone.
func (e *DB) walkTables(n any, ctes map[string]bool) error {
	switch v := n.(type) {
	case map[string]any:
		if v["class"] == "FUNCTION" {
			// The store views' put-back of cold eventjson reads only its arguments, but it is
			// the views' own, as the hunt's sink is the hunt's: a restricted reader calls neither.
			if name, _ := v["function_name"].(string); catalogReaders[strings.ToLower(name)] || strings.EqualFold(name, coldjson.FuncName) || strings.EqualFold(name, SinkFuncName) {
				return &QueryError{Msg: fmt.Sprintf("function %s() does not exist", name)}
			}
		}
		// SHOW TABLES, SHOW ALL TABLES, SHOW DATABASES read the catalog (every object, the
		// ones under the views included); DESCRIBE and SUMMARIZE of a query (the SHOW_REF's
		// query) read only what that query names, which this walk checks.
		if v["type"] == "SHOW_REF" && v["query"] == nil {
			return &QueryError{Msg: "SHOW lists the catalog, which a principal with restricted grants cannot read (auditlake eds list, auditlake cur list show what you may query)"}
		}
		if v["type"] == "BASE_TABLE" {
			schema, _ := v["schema_name"].(string)
			name, _ := v["table_name"].(string)
			if !(schema == "" && ctes[foldName(name)]) && !e.visible[tableKey(schema, name)] {
				full := name
				if schema != "" {
					full = schema + "." + name
				}
				return &QueryError{Msg: fmt.Sprintf("table %s does not exist (auditlake eds list, auditlake cur list show what you may query)", full)}
			}
		}
		body := ctes
		if cm, ok := v["cte_map"].(map[string]any); ok {
			names := cteNames(cm)
			entries, _ := cm["map"].([]any)
			for i, en := range entries {
				if err := e.walkTables(en, withNames(ctes, names[:i]...)); err != nil {
					return err
				}
			}
			body = withNames(ctes, names...)
		}
		for k, c := range v {
			scope := body
			switch {
			case k == "cte_map":
				continue
			case k == "right" && v["type"] == "RECURSIVE_CTE_NODE":
				name, _ := v["cte_name"].(string)
				scope = withNames(body, foldName(name))
			}
			if err := e.walkTables(c, scope); err != nil {
				return err
			}
		}
	case []any:
		for _, c := range v {
			if err := e.walkTables(c, ctes); err != nil {
				return err
			}
		}
	}
	return nil
}

// namedTables lists the base tables the parse tree n names, less its common table expressions.
func namedTables(n any) []string {
	ctes := map[string]bool{}
	collectCTEs(n, ctes)
	set := map[string]bool{}
	var walk func(any)
	walk = func(n any) {
		switch v := n.(type) {
		case map[string]any:
			if v["type"] == "BASE_TABLE" {
				schema, _ := v["schema_name"].(string)
				name, _ := v["table_name"].(string)
				if !(schema == "" && ctes[strings.ToLower(name)]) {
					if schema != "" {
						name = schema + "." + name
					}
					set[name] = true
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(n)
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
