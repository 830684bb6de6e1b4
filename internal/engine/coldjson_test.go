package engine_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/coldjson"
	"github.com/auditlake/auditlake/internal/engine"
)

// The engine's put-back of cold eventjson (coldjson.FuncName) returns, row for row, what
// coldjson.Append returns in Go — over several chunks of rows, with NULL ids, maps and map
// values, empty maps, marks that name nothing or a value past the row's, values holding
// marker bytes, multi-byte text, and arguments that are constants — on every connection of the
// instance, sealed or not.
func TestColdJSONFunctionEqualsAppendOnEveryRow(t *testing.T) {
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(ctx, "CREATE TABLE t (i INTEGER, cut VARCHAR, a VARCHAR, b VARCHAR, c VARCHAR, d VARCHAR, m1 VARCHAR[], m2 VARCHAR[], m3 VARCHAR[])"); err != nil {
		t.Fatal(err)
	}
	app, err := db.NewAppender(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(21, 5))
	pieces := []string{`{"eventVersion":"1.08",`, `"x":"`, "\x01", "\x02", "\x03", "\x04", "\x05!", "\x05\"", "\x05$", "\x05~", "\x05", "\x05\x05!",
		"\x05é", "\x05 ", "\x05\x01", "ünïcödé ✓ 日本語", `{"a.b":{"c":[[[{"d":"\"q'"}]]]}}`, "\t", strings.Repeat("long text ", 30)}
	vals := []string{"", "EVENT-ID-0001-aaaa", "ASIA-KEY-ID-XXXX", "v\x05!", "\x01\x02", "日本語の値", `{"nested":{"deep":[1,2,{"k":"v"}]}}`}
	str := func() any {
		if rng.IntN(8) == 0 {
			return nil
		}
		return vals[rng.IntN(len(vals))]
	}
	list := func() any {
		switch rng.IntN(6) {
		case 0:
			return nil
		case 1:
			return []any{}
		}
		l := make([]any, rng.IntN(40))
		for i := range l {
			l[i] = str()
		}
		return l
	}
	type row struct {
		cut   any
		ids   [4]any
		lists [3]any
	}
	var rows []row
	for i := range 5000 {
		var r row
		if i%97 != 0 {
			var b strings.Builder
			for range rng.IntN(30) {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
			r.cut = b.String()
		}
		for k := range r.ids {
			r.ids[k] = str()
		}
		for k := range r.lists {
			r.lists[k] = list()
		}
		rows = append(rows, r)
		if err := app.AppendRow(int32(i), r.cut, r.ids[0], r.ids[1], r.ids[2], r.ids[3], r.lists[0], r.lists[1], r.lists[2]); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	want := func(r row) (string, bool) {
		if r.cut == nil {
			return "", false
		}
		s := func(v any) string { x, _ := v.(string); return x }
		ids := []string{s(r.ids[0]), s(r.ids[1]), s(r.ids[2]), s(r.ids[3])}
		var mv []string
		for _, l := range r.lists {
			l, _ := l.([]any)
			for _, v := range l {
				mv = append(mv, s(v))
			}
		}
		return string(coldjson.Append(nil, r.cut.(string), ids, func(i int) (string, bool) {
			if i > len(mv) {
				return "", false
			}
			return mv[i-1], true
		})), true
	}
	check := func(db *engine.DB) {
		t.Helper()
		rs, err := db.Query(ctx, "SELECT i, "+coldjson.FuncName+"(cut, a, b, c, d, m1, m2, m3) FROM t ORDER BY i")
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		n := 0
		for rs.Next() {
			var i int
			var got sql.NullString
			if err := rs.Scan(&i, &got); err != nil {
				t.Fatal(err)
			}
			w, ok := want(rows[i])
			if got.Valid != ok || got.String != w {
				t.Errorf("row %d (%q): got %q (valid %v), want %q (valid %v)", i, rows[i].cut, got.String, got.Valid, w, ok)
			}
			n++
		}
		if err := rs.Err(); err != nil || n != len(rows) {
			t.Fatalf("%d rows of %d: %v", n, len(rows), err)
		}
	}
	check(db)
	other, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	check(other)
	// Constant arguments (one value for the whole chunk) and NULLs written in.
	var got sql.NullString
	if err := db.QueryRow(ctx, "SELECT "+coldjson.FuncName+"('a' || chr(1) || chr(5) || '\"' || chr(5) || '!', 'ID', NULL, NULL, NULL, ['x', 'y'], NULL, []) FROM range(3000) ORDER BY 1 LIMIT 1").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got.String != "aIDyx" {
		t.Errorf("constant arguments: %q, want %q", got.String, "aIDyx")
	}
	if err := db.QueryRow(ctx, "SELECT "+coldjson.FuncName+"(NULL, 'a', 'b', 'c', 'd', [], [], [])").Scan(&got); err != nil || got.Valid {
		t.Errorf("a NULL text: %q (valid %v), %v", got.String, got.Valid, err)
	}
}

// A reader restricted to some tables (RestrictTables) does not call the put-back, however
// written: the views call it, the reader's SQL cannot.
func TestColdJSONFunctionIsNotForARestrictedReader(t *testing.T) {
	ctx := context.Background()
	db, _, _ := sealedEngine(t, "")
	if err := db.Exec(ctx, "CREATE VIEW v AS SELECT "+coldjson.FuncName+"(chr(1), 'visible', NULL, NULL, NULL, [], [], []) AS j"); err != nil {
		t.Fatal(err)
	}
	db.RestrictTables([][2]string{{"main", "v"}, {"", "v"}})
	res, err := db.UserQuery(ctx, "SELECT j FROM v", engine.Limits{})
	if err != nil || len(res.Rows) != 1 || res.Rows[0][0] != "visible" {
		t.Fatalf("the view that calls it: %v, %v", res, err)
	}
	for _, q := range []string{
		"SELECT " + coldjson.FuncName + "(chr(1), j, NULL, NULL, NULL, [], [], []) FROM v",
		`SELECT "` + strings.ToUpper(coldjson.FuncName) + `"(j, j, j, j, j, [j], [], []) FROM v`,
		"SELECT main." + coldjson.FuncName + "(j, j, j, j, j, [], [], []) FROM v",
		"SELECT system.main." + coldjson.FuncName + "(j, j, j, j, j, [], [], []) FROM v",
		"SELECT j." + coldjson.FuncName + "(j, j, j, j, [], [], []) FROM v",
		"SELECT list_transform([1, 2], x -> " + coldjson.FuncName + "(j, j, j, j, j, [], [], [])) FROM v",
		"SELECT * FROM v WHERE " + coldjson.FuncName + "(j, j, j, j, j, [], [], []) IS NOT NULL",
	} {
		_, err := db.UserQuery(ctx, q, engine.Limits{})
		wantQueryError(t, q, err, "does not exist")
	}
}
