package query

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/lake"
)

// Stores with days kept on S3 only (eds publish --local-days, lake/remote.go). Such a store's
// view is made over its local files (and, when it has none, one fetched copy, so the view
// binds); before each statement (Run, RunInternal, ExecInternal) the session fetches the files
// kept on S3 that the statement needs into the store's cache and installs the view over the
// local files and those copies, held until the statement's result is read (Run, RunInternal)
// or until the next statement (ExecInternal, which may make an object that reads them). What a statement needs: for a
// store its SQL names, the files whose time span meets the statement's eventtime range when
// every SELECT that reads the store reads it alone with simple eventtime bounds in its WHERE
// (eventtime <op> constant, BETWEEN): rows outside that range cannot be in its result whatever
// files the view lists; otherwise every file. The files of StoreRange and FilesRelation
// relations are fetched for the statement that follows them. A restricted session fetches per
// statement too: the copies are installed in the raw view its restricted view reads (the
// grants' row filters and masks stay on top), and the eventtime range counts only when the
// restricted view shows eventtime unmasked. A store with no local file binds its view over one
// copy, held for each statement that reads the store, not by an idle (pooled) session.

// remoteStore is a store of the session with files kept on S3 only.
type remoteStore struct {
	st    lake.Store
	local []string        // the local files' paths, the view's first files
	files []lake.DataFile // the files kept on S3 only
	// bind, for a store with no local file, is the file whose copy the view is bound over (its
	// cache path is local's one path): held for each statement that reads the store (fetched
	// again if the cache dropped it), never pinned by an idle session.
	bind      *lake.DataFile
	installed string // the view's definition now
	// target is the view fetchRemote replaces: the store's own, or in a restricted session the
	// raw view the restricted one reads (restrict.go), so that the grants' filters stay on top.
	target string
	// wholeRange: every statement that names the store reads all its files (restrictRemote).
	wholeRange bool
}

// registerRemote splits m's files of store st into local and kept on S3 only; it returns the
// paths the store's view is made over at registration.
func (s *Session) registerRemote(ctx context.Context, st lake.Store, m *lake.Manifest) ([]string, error) {
	r, err := s.lk.ReadRemote(st.ID)
	if err != nil {
		return nil, err
	}
	rs := &remoteStore{st: st}
	for _, f := range m.Files {
		if s.lk.Evicted(st.ID, r, f.Path) {
			rs.files = append(rs.files, f)
		} else {
			rs.local = append(rs.local, s.lk.AbsPath(st.ID, f.Path))
		}
	}
	if len(rs.files) == 0 {
		return rs.local, nil
	}
	if len(rs.local) == 0 {
		// One file for the view to bind, held until Open returns (s.fetched).
		rs.bind = &rs.files[len(rs.files)-1]
		paths, release, err := s.lk.LocalFiles(ctx, st.ID, []lake.DataFile{*rs.bind})
		s.fetched = append(s.fetched, release)
		if err != nil {
			return nil, err
		}
		rs.local = paths
		rs.files = rs.files[:len(rs.files)-1]
	}
	if s.remote == nil {
		s.remote = map[string]*remoteStore{}
	}
	s.remote[st.ID] = rs
	return rs.local, nil
}

// remotePaths are the paths of files of store id for a relation of the next statement: copies
// in the cache for the files kept on S3 only, which fetchRemote fetches.
func (s *Session) remotePaths(id string, files []lake.DataFile) []string {
	paths := make([]string, len(files))
	rs := s.remote[id]
	for i, f := range files {
		paths[i] = s.lk.AbsPath(id, f.Path)
		if rs != nil && slices.ContainsFunc(rs.files, func(g lake.DataFile) bool { return g.Path == f.Path }) {
			paths[i] = s.lk.CachePath(id, f.Path)
			s.pending = append(s.pending, pendingFile{id, f})
		}
	}
	return paths
}

type pendingFile struct {
	id string
	f  lake.DataFile
}

// fetchRemote fetches what statement sql needs of the stores' files kept on S3 only and installs
// their views over them (see the top of this file).
func (s *Session) fetchRemote(ctx context.Context, sql string) error {
	s.releaseFetched()
	pending := s.pending
	s.pending = nil
	if len(s.remote) == 0 {
		return nil
	}
	ranges := s.statementRanges(ctx, sql)
	need := map[string][]lake.DataFile{}
	for _, p := range pending {
		need[p.id] = append(need[p.id], p.f)
	}
	for id, rs := range s.remote {
		rg, named := ranges[id]
		if rs.wholeRange {
			rg = allTime
		}
		var files []lake.DataFile
		if named {
			for _, f := range rs.files {
				if rg.meets(f) {
					files = append(files, f)
				}
			}
		}
		paths := slices.Clone(rs.local)
		var fetched []string
		get := append(files, need[id]...)
		if rs.bind != nil && (named || len(get) > 0) {
			get = append(get, *rs.bind) // the file the view binds over, held while it runs
		}
		if len(get) > 0 {
			got, release, err := s.lk.LocalFiles(ctx, id, get)
			s.fetched = append(s.fetched, release)
			if err != nil {
				return err
			}
			fetched = got[:len(files)]
		}
		paths = append(paths, fetched...)
		want := "SELECT * FROM " + s.filesSQL(id, paths)
		if want == rs.installed {
			continue
		}
		target := rs.target
		if target == "" {
			target = StoreTable(id)
		}
		if err := s.db.Exec(context.WithoutCancel(ctx), "CREATE OR REPLACE VIEW "+target+" AS "+want); err != nil {
			return fmt.Errorf("event data store %q: %w", rs.st.Name, err)
		}
		rs.installed = want
	}
	return nil
}

// restrictRemote makes the stores with files kept on S3 only that the restricted session shows
// in part fetch per statement as the operator's do: fetchRemote replaces their raw views (which
// the restricted views and their variants read), and a statement's eventtime range selects
// their files only when the restricted view shows eventtime as it is stored on every row it
// shows (else a condition on it says nothing about the stored values: every file is read).
func (s *Session) restrictRemote() {
	for id, rs := range s.remote {
		rt := s.views[tableKey(Schema, id)]
		if rt == nil {
			if !s.visible[Schema+"\x00"+id] {
				delete(s.remote, id) // not shown at all: its view was dropped and stays so
			}
			continue
		}
		rs.target = rt.raw
		if c, ok := rt.cols["eventtime"]; !ok || !c.full {
			rs.wholeRange = true
		}
	}
}

// releaseFetched lets the cache delete the copies the last statement read: Run and RunInternal
// call it once their result is read whole (a pooled session then holds none while idle).
func (s *Session) releaseFetched() {
	for _, r := range s.fetched {
		r()
	}
	s.fetched = nil
}

// timeRange is a closed range of eventtime; a zero bound is open.
type timeRange struct{ from, to time.Time }

var allTime = timeRange{}

func (r timeRange) meets(f lake.DataFile) bool {
	if !r.from.IsZero() && f.MaxTime.Before(r.from) {
		return false
	}
	if !r.to.IsZero() && f.MinTime.After(r.to) {
		return false
	}
	return true
}

func (r timeRange) union(o timeRange) timeRange {
	out := r
	if r.from.IsZero() || o.from.IsZero() {
		out.from = time.Time{}
	} else if o.from.Before(r.from) {
		out.from = o.from
	}
	if r.to.IsZero() || o.to.IsZero() {
		out.to = time.Time{}
	} else if o.to.After(r.to) {
		out.to = o.to
	}
	return out
}

// statementRanges are, for each store with files on S3 only that sql names, the eventtime range
// of the rows sql can read of it (allTime when it cannot be known).
func (s *Session) statementRanges(ctx context.Context, sql string) map[string]timeRange {
	out := map[string]timeRange{}
	byName := map[string]string{}
	for id, rs := range s.remote {
		byName[strings.ToLower(id)] = id
		byName[strings.ToLower(rs.st.Name)] = id
	}
	var text string
	err := s.db.QueryRow(ctx, "SELECT CAST(json_serialize_sql(?::VARCHAR) AS VARCHAR)", sql).Scan(&text)
	var tree struct {
		Error      bool  `json:"error"`
		Statements []any `json:"statements"`
	}
	if err == nil {
		err = decodeTree(text, &tree)
	}
	if err != nil || tree.Error {
		// Not a statement the parser serializes: every store the text may name, whole.
		low := strings.ToLower(sql)
		for name, id := range byName {
			if strings.Contains(low, name) {
				out[id] = allTime
			}
		}
		return out
	}
	// Every table reference to a store, and the ones a SELECT reads alone.
	alone := map[any]bool{}
	var walk func(n any)
	walk = func(n any) {
		switch v := n.(type) {
		case []any:
			for _, c := range v {
				walk(c)
			}
		case map[string]any:
			if v["type"] == "SELECT_NODE" {
				if from, ok := v["from_table"].(map[string]any); ok && from["type"] == "BASE_TABLE" {
					name, _ := from["table_name"].(string)
					if id, ok := byName[strings.ToLower(name)]; ok {
						alone[fmt.Sprintf("%p", from)] = true
						q, _ := from["alias"].(string)
						if q == "" {
							q = name
						}
						rg := whereRange(v["where_clause"], strings.ToLower(q), func(n any) (time.Time, bool) { return s.timeValue(ctx, n) })
						if prev, seen := out[id]; seen {
							rg = prev.union(rg)
						}
						out[id] = rg
					}
				}
			}
			if v["type"] == "BASE_TABLE" && !alone[fmt.Sprintf("%p", v)] {
				name, _ := v["table_name"].(string)
				if id, ok := byName[strings.ToLower(name)]; ok {
					out[id] = allTime
				}
			}
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(tree.Statements)
	return out
}

// whereRange is the eventtime range the conjuncts of where imply (allTime when none does).
func whereRange(where any, qualifier string, timeConstant func(any) (time.Time, bool)) timeRange {
	var rg timeRange
	isTime := func(n any) bool {
		m, ok := n.(map[string]any)
		if !ok || m["class"] != "COLUMN_REF" {
			return false
		}
		ps, _ := m["column_names"].([]any)
		var parts []string
		for _, p := range ps {
			s, _ := p.(string)
			parts = append(parts, strings.ToLower(s))
		}
		return (len(parts) == 1 && parts[0] == "eventtime") || (len(parts) == 2 && parts[0] == qualifier && parts[1] == "eventtime")
	}
	lower := func(t time.Time) {
		if rg.from.IsZero() || t.After(rg.from) {
			rg.from = t
		}
	}
	upper := func(t time.Time) {
		if rg.to.IsZero() || t.Before(rg.to) {
			rg.to = t
		}
	}
	for _, c := range conjuncts(where) {
		switch c["class"] {
		case "COMPARISON":
			op, _ := c["type"].(string)
			left, right := c["left"], c["right"]
			if !isTime(left) {
				if !isTime(right) {
					continue
				}
				left, right = right, left
				if swapped, ok := swappedComparison[op]; ok {
					op = swapped
				}
			}
			t, ok := timeConstant(right)
			if !ok {
				continue
			}
			switch op {
			case "COMPARE_GREATERTHAN", "COMPARE_GREATERTHANOREQUALTO":
				lower(t)
			case "COMPARE_LESSTHAN", "COMPARE_LESSTHANOREQUALTO":
				upper(t)
			case "COMPARE_EQUAL":
				lower(t)
				upper(t)
			}
		case "BETWEEN":
			if !isTime(c["input"]) {
				continue
			}
			if t, ok := timeConstant(c["lower"]); ok {
				lower(t)
			}
			if t, ok := timeConstant(c["upper"]); ok {
				upper(t)
			}
		}
	}
	return rg
}

// timeValue is the value of constant expression n of a parse tree (constants, casts, operators
// and functions alone: '2026-12-01', TIMESTAMP '…' + INTERVAL '1' DAY) as a TIMESTAMP, computed
// by the engine, so that it is what the engine compares eventtime (a TIMESTAMP) with.
func (s *Session) timeValue(ctx context.Context, n any) (time.Time, bool) {
	if !constantExpression(n) {
		return time.Time{}, false
	}
	var tmpl string
	if err := s.db.QueryRow(ctx, "SELECT CAST(json_serialize_sql('SELECT 1') AS VARCHAR)").Scan(&tmpl); err != nil {
		return time.Time{}, false
	}
	var tree map[string]any
	if decodeTree(tmpl, &tree) != nil {
		return time.Time{}, false
	}
	stmts, _ := tree["statements"].([]any)
	if len(stmts) != 1 {
		return time.Time{}, false
	}
	node, _ := stmts[0].(map[string]any)["node"].(map[string]any)
	if node == nil {
		return time.Time{}, false
	}
	node["select_list"] = []any{n}
	b, err := json.Marshal(tree)
	if err != nil {
		return time.Time{}, false
	}
	var sql string
	if err := s.db.QueryRow(ctx, "SELECT json_deserialize_sql(CAST(? AS JSON))", string(b)).Scan(&sql); err != nil {
		return time.Time{}, false
	}
	var t *time.Time
	if err := s.db.QueryRow(ctx, "SELECT CAST(("+sql+") AS TIMESTAMP)").Scan(&t); err != nil || t == nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// decodeTree decodes a serialized parse tree keeping its numbers exact (query locations are
// 64-bit), so that it serializes back as the engine wrote it.
func decodeTree(text string, v any) error {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	return dec.Decode(v)
}

// constantExpression reports whether n is built of constants, casts, operators and functions
// alone (no column, subquery or table).
func constantExpression(n any) bool {
	switch v := n.(type) {
	case []any:
		for _, c := range v {
			if !constantExpression(c) {
				return false
			}
		}
		return true
	case map[string]any:
		if c, ok := v["class"].(string); ok {
			switch c {
			case "CONSTANT", "CAST", "FUNCTION", "OPERATOR":
			default:
				return false
			}
		}
		for k, c := range v {
			if k == "value" && v["class"] == "CONSTANT" {
				continue
			}
			if !constantExpression(c) {
				return false
			}
		}
		return true
	}
	return true
}

var swappedComparison = map[string]string{"COMPARE_LESSTHAN": "COMPARE_GREATERTHAN", "COMPARE_GREATERTHAN": "COMPARE_LESSTHAN",
	"COMPARE_LESSTHANOREQUALTO": "COMPARE_GREATERTHANOREQUALTO", "COMPARE_GREATERTHANOREQUALTO": "COMPARE_LESSTHANOREQUALTO"}
