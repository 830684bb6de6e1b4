package cli_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// curCSV returns the real Koku CUR sample's lines (header first).
func curCSV(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(testdata("koku-cur-test-data", "test_cur.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// TestCurRegisterReadsQuotedNewlinesAndNamesTheLineOfARaggedRow: a quoted field that spans
// lines is valid CSV and registers with every row; a row with more fields than the header is
// refused with an error naming the file and its physical line.
func TestCurRegisterReadsQuotedNewlinesAndNamesTheLineOfARaggedRow(t *testing.T) {
	lines := curCSV(t)
	rows := len(lines) - 1
	src := t.TempDir()
	// Row 2 gets a description over two lines, so later rows start one physical line lower.
	quoted := append([]string(nil), lines...)
	// Keep the row's width: the quoted field replaces the second field.
	f := strings.SplitN(lines[2], ",", 3)
	quoted[2] = f[0] + `,"first line` + "\n" + `second, line",` + f[2]
	good := filepath.Join(src, "quoted.csv")
	os.WriteFile(good, []byte(strings.Join(quoted, "\n")+"\n"), 0o644)
	dir := t.TempDir()
	mustRun(t, 0, dir, "cur", "register", "cur.quoted", good)
	got := queryCSV(t, dir, `SELECT count(*), count(*) FILTER (WHERE identity_time_interval = 'first line`+"\n"+`second, line') FROM "cur"."quoted"`)
	if got[0][0] != fmt.Sprint(rows) || got[0][1] != "1" {
		t.Fatalf("quoted-newline file: %v rows/matching, want %d rows and the two-line value once", got[0], rows)
	}

	ragged := append([]string(nil), quoted...)
	ragged[5] += strings.Repeat(",extra", strings.Count(lines[0], ",")+1) // longer than the header whatever the row's width
	bad := filepath.Join(src, "ragged.csv")
	os.WriteFile(bad, []byte(strings.Join(ragged, "\n")+"\n"), 0o644)
	_, errOut, code := run(t, dir, "cur", "register", "cur.ragged", bad)
	// Data row 5 is physical line 7: the header, then row 2 spans two lines.
	if code != 1 || !strings.Contains(errOut, "ragged.csv") || !strings.Contains(errOut, "line 7") {
		t.Fatalf("ragged row: exit %d, stderr %q; want exit 1 naming ragged.csv and line 7", code, errOut)
	}
	if _, _, code := run(t, dir, "cur", "show", "cur.ragged"); code == 0 {
		t.Fatal("a refused file was registered")
	}
}

// TestCurRegisterSurvivesSIGKILL kills `cur register` at random moments while it replaces an
// earlier registration: afterwards the registry always parses, the table is either the old or
// the new registration (never a mix), queries on it succeed, and re-running the command
// completes the change.
func TestCurRegisterSurvivesSIGKILL(t *testing.T) {
	runs := 3
	if os.Getenv("AUDITLAKE_STRESS") != "" {
		runs = 30
	}
	lines := curCSV(t)
	src := t.TempDir()
	small := filepath.Join(src, "small", "cur.csv")
	big := filepath.Join(src, "big", "cur.csv.gz")
	os.MkdirAll(filepath.Dir(small), 0o755)
	os.MkdirAll(filepath.Dir(big), 0o755)
	os.WriteFile(small, []byte(strings.Join(lines[:4], "\n")+"\n"), 0o644)
	var body bytes.Buffer
	body.WriteString(lines[0] + "\n")
	for i := 0; i < 2000; i++ {
		for _, l := range lines[1:] {
			body.WriteString(l + "\n")
		}
	}
	zipped := gzipBytes(body.Bytes())
	os.WriteFile(big, zipped, 0o644)
	rng := rand.New(rand.NewPCG(11, uint64(runs)))
	killed := 0
	for run := 0; run < runs; run++ {
		dir := t.TempDir()
		mustRun(t, 0, dir, "cur", "register", "cur.t", small)
		cmd := child("--data", dir, "cur", "register", "cur.t", big)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rng.IntN(1500)) * time.Millisecond
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		if cmd.Wait() != nil {
			killed++
		}
		got := queryCSV(t, dir, `SELECT count(*) FROM "cur"."t"`)
		if n := got[0][0]; n != "3" && n != fmt.Sprint(2000*(len(lines)-1)) {
			t.Fatalf("run %d (kill after %s): cur.t has %s rows: neither the old registration (3) nor the new", run, delay, n)
		}
		mustRun(t, 0, dir, "cur", "register", "cur.t", big)
		if got := queryCSV(t, dir, `SELECT count(*) FROM "cur"."t"`); got[0][0] != fmt.Sprint(2000*(len(lines)-1)) {
			t.Fatalf("run %d: after re-running, cur.t has %s rows", run, got[0][0])
		}
	}
	t.Logf("%d runs, %d killed mid-register, registry valid and queryable after every kill", runs, killed)
}

func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}
