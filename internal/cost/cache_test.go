package cost_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/engine"
)

// copyFile copies testdata file src to dst (creating its directory) and returns dst.
func copyFile(t *testing.T, src, dst string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// cacheFiles lists the cache directory's file names.
func cacheFiles(t *testing.T, dataDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(cost.CacheDir(dataDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func count(t *testing.T, dataDir, table string) int64 {
	t.Helper()
	db := session(t, dataDir)
	return queryOne(t, db, "SELECT count(*) FROM "+table)[0].(int64)
}

// A session binds a CSV cost table from the registry and reads its converted Parquet file: the
// CSV is not read, not even sniffed, when a session opens or a query reads the table. The
// proof: the CSV's bytes are replaced by garbage of the same size and modification time (so
// its version is unchanged), and a session still opens and counts the registered rows. Before
// the conversion every session sniffed the gzip CSV to bind the view, and failed on garbage.
func TestSessionOpensWithoutReadingTheCSV(t *testing.T) {
	dir := t.TempDir()
	src := copyFile(t, filepath.Join(testdata, "koku-cur-test-data/test_cur.csv.gz"), filepath.Join(t.TempDir(), "cur", "test_cur.csv.gz"))
	register(t, dir, "b.t", src)
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, bytes.Repeat([]byte{0xff}, int(st.Size())), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(src, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	db := session(t, dir)
	row := queryOne(t, db, `SELECT count(*), sum(line_item_unblended_cost) FROM b.t`)
	if row[0] != int64(19) || !near(row[1], 0.0827499841274349353) {
		t.Errorf("count, sum = %v, want the registered 19 rows and their sum", row)
	}
}

// A CSV file that changes (re-delivered with other rows) is converted again when the next
// session opens, the registry records its new version and rows, and the old converted file
// is pruned; a removed file leaves the table, and with all files gone the table is empty.
func TestChangedOrRemovedCSVFileRefreshesTheCache(t *testing.T) {
	dir := t.TempDir()
	srcDir := t.TempDir()
	a := copyFile(t, filepath.Join(testdata, "koku-cur-test-data/test_cur.csv"), filepath.Join(srcDir, "a.csv"))
	b := copyFile(t, filepath.Join(testdata, "koku-cur-test-data/2023-06-01.csv"), filepath.Join(srcDir, "b.csv"))
	body, _ := os.ReadFile(a)
	register(t, dir, "b.t", srcDir)
	tb, err := cost.Lookup(dir, "b.t")
	if err != nil {
		t.Fatal(err)
	}
	base := tb.Rows
	if got := count(t, dir, "b.t"); got != base {
		t.Fatalf("count = %d, want %d", got, base)
	}
	before := cacheFiles(t, dir)

	// a now holds its header and the first two line items only.
	lines := strings.SplitAfter(string(body), "\n")
	if err := os.WriteFile(a, []byte(strings.Join(lines[:3], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	os.Chtimes(a, future, future)
	aRows := int64(0)
	for _, f := range tb.Files {
		if f.URI == a {
			aRows = f.Rows
		}
	}
	want := base - aRows + 2
	if got := count(t, dir, "b.t"); got != want {
		t.Errorf("after a changed: count = %d, want %d", got, want)
	}
	tb2, _ := cost.Lookup(dir, "b.t")
	if tb2.Rows != want {
		t.Errorf("registry rows after a changed = %d, want %d", tb2.Rows, want)
	}
	after := cacheFiles(t, dir)
	if len(after) != len(before) || reflect.DeepEqual(after, before) {
		t.Errorf("cache before %v, after %v: want a's old converted file replaced by its new one", before, after)
	}

	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	if got := count(t, dir, "b.t"); got != 2 {
		t.Errorf("after b was removed: count = %d, want 2", got)
	}
	if n := len(cacheFiles(t, dir)); n != 1 {
		t.Errorf("cache holds %d files after b was removed, want a's only: %v", n, cacheFiles(t, dir))
	}
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	db := session(t, dir)
	row := queryOne(t, db, `SELECT count(*), count(DISTINCT typeof(line_item_unblended_cost)) FROM b.t`)
	if row[0] != int64(0) {
		t.Errorf("with every file gone: count = %v, want 0", row[0])
	}
	if n := len(cacheFiles(t, dir)); n != 0 {
		t.Errorf("cache holds %v with every file gone", cacheFiles(t, dir))
	}
}

// The converted files give exactly what reading the CSV files gives: the same columns, the same
// types and the same rows (compared as multisets both ways), for CUR 1.0 (slash and Athena
// names, gzip), CUR 2.0 (JSON maps) and FOCUS CSV.
func TestConvertedFilesEqualTheCSV(t *testing.T) {
	out, _ := generateCUR(t)
	sources := map[string]string{
		"koku":        filepath.Join(testdata, "koku-cur-test-data/test_cur.csv.gz"),
		"koku_wide":   filepath.Join(testdata, "koku-cur-test-data/2023-06-01.csv"),
		"koku_athena": filepath.Join(testdata, "koku-cur-test-data/2022-07-01-alt-columns.csv"),
		"anonymised":  filepath.Join(testdata, "focus-converters-aws-cur-sample/sample-anonymous-aws-export-dataset.csv"),
		"focus":       filepath.Join(testdata, "focus-sample-data/focus_sample.csv"),
		"generated1":  filepath.Join(out, "cur"),
		"generated2":  filepath.Join(out, "cur2"),
	}
	dir := t.TempDir()
	for name, src := range sources {
		register(t, dir, "b."+name, src)
	}
	db := session(t, dir)
	ctx := context.Background()
	for name := range sources {
		tb, err := cost.Lookup(dir, "b."+name)
		if err != nil {
			t.Fatal(err)
		}
		if len(tb.Files) == 0 || tb.Files[0].Cache == "" {
			t.Fatalf("%s: no converted files", name)
		}
		direct, err := cost.DirectViewSQL(tb)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.Describe(ctx, "SELECT * FROM b."+name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := db.Describe(ctx, direct)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: columns %v, reading the CSV gives %v", name, got, want)
		}
		var n, m int64
		q := fmt.Sprintf("SELECT (SELECT count(*) FROM (SELECT * FROM b.%s EXCEPT ALL %s)), (SELECT count(*) FROM (%s EXCEPT ALL SELECT * FROM b.%s))", name, direct, direct, name)
		if err := db.QueryRow(ctx, q).Scan(&n, &m); err != nil {
			t.Fatal(err)
		}
		if n != 0 || m != 0 {
			t.Errorf("%s: %d rows only in the converted files, %d only in the CSV", name, n, m)
		}
	}
}

// A conversion that fails after writing part of its file leaves nothing in the cache and the
// registry as it was.
func TestFailedConversionLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(testdata, "koku-cur-test-data/test_cur.csv")
	boom := errors.New("injected failure")
	var seen string
	cost.SetConvertHook(func(tmp string) error { seen = tmp; return boom })
	defer cost.SetConvertHook(nil)
	_, err := cost.RegisterSource(context.Background(), dir, cost.RegisterOptions{Name: "b.t", Source: src})
	if !errors.Is(err, boom) {
		t.Fatalf("register: %v, want the injected failure", err)
	}
	if seen == "" {
		t.Fatal("the conversion never reached its hook")
	}
	if files := cacheFiles(t, dir); len(files) != 0 {
		t.Errorf("cache holds %v after a failed conversion", files)
	}
	if tables, err := cost.Tables(dir); err != nil || len(tables) != 0 {
		t.Errorf("registry: %v, %v; want no table", tables, err)
	}
}

// A registration killed (SIGKILL) while it converts a large CSV file leaves at most a
// temporary file, never a file under a converted file's name that is not whole; the next
// registration completes and removes the leftover.
func TestRegistrationKilledWhileConvertingLeavesNoHalfFile(t *testing.T) {
	lines := strings.SplitAfter(string(must(os.ReadFile(filepath.Join(testdata, "koku-cur-test-data/test_cur.csv")))), "\n")
	var body bytes.Buffer
	body.WriteString(lines[0])
	for i := 0; i < 4000; i++ {
		for j, l := range lines[1:] {
			if l != "" {
				// Distinct line item ids, so that the rows are not one line repeated.
				body.WriteString(strings.Replace(l, ",", fmt.Sprintf("-%d-%d,", i, j), 1))
			}
		}
	}
	src := filepath.Join(t.TempDir(), "big.csv.gz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body.Bytes())
	zw.Close()
	os.WriteFile(src, gz.Bytes(), 0o644)
	dir := t.TempDir()
	killed := 0
	for run := 0; run < 3; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "COST_TEST_REGISTER_DIR="+dir, "COST_TEST_REGISTER_ID=k", "COST_TEST_REGISTER_N=1", "COST_TEST_REGISTER_SRC="+src)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if slicesHasPrefix(cacheFiles(t, dir), ".convert-") {
				break
			}
			time.Sleep(time.Millisecond)
		}
		cmd.Process.Kill()
		if cmd.Wait() != nil {
			killed++
		}
		db, err := engine.Open(context.Background(), engine.Options{MemoryLimit: "256MB", Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range cacheFiles(t, dir) {
			if strings.HasPrefix(f, ".") {
				continue
			}
			var n int64
			if err := db.QueryRow(context.Background(), "SELECT count(*) FROM read_parquet("+engine.Literal(filepath.Join(cost.CacheDir(dir), f))+")").Scan(&n); err != nil {
				t.Errorf("run %d: cached %s does not read: %v", run, f, err)
			}
		}
		db.Close()
		if tables, _ := cost.Tables(dir); len(tables) == 1 && count(t, dir, "pk.t0") != int64(4000*(len(lines)-2)) {
			t.Errorf("run %d: a registered table with the wrong count", run)
		}
	}
	if killed == 0 {
		t.Fatal("no registration was killed while converting")
	}
	register(t, dir, "pk.t0", src)
	if got := count(t, dir, "pk.t0"); got != int64(4000*(len(lines)-2)) {
		t.Errorf("count = %d, want %d", got, 4000*(len(lines)-2))
	}
	for _, f := range cacheFiles(t, dir) {
		if strings.HasPrefix(f, ".") {
			t.Errorf("leftover %s after a completed registration", f)
		}
	}
	t.Logf("%d of 3 registrations killed while converting", killed)
}

func slicesHasPrefix(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
