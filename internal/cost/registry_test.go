package cost_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/auditlake/auditlake/internal/cost"
)

// When started by TestConcurrentRegistrationsAreAllKept, the test binary is one `cur register`
// process: it registers its tables one after the other and exits.
func TestMain(m *testing.M) {
	if dir := os.Getenv("COST_TEST_REGISTER_DIR"); dir != "" {
		id := os.Getenv("COST_TEST_REGISTER_ID")
		n, _ := strconv.Atoi(os.Getenv("COST_TEST_REGISTER_N"))
		for i := 0; i < n; i++ {
			_, err := cost.RegisterSource(context.Background(), dir, cost.RegisterOptions{
				Name: fmt.Sprintf("p%s.t%d", id, i), Source: os.Getenv("COST_TEST_REGISTER_SRC")})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Several processes register tables in one data directory at once (as concurrent `cur register`
// runs do): every table is in the registry at the end. Without the registry lock, a process
// that read the registry before another wrote it put back the old list.
func TestConcurrentRegistrationsAreAllKept(t *testing.T) {
	const procs, each = 6, 3
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join(testdata, "koku-cur-test-data/2023-06-01.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	for p := 0; p < procs; p++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "COST_TEST_REGISTER_DIR="+dir, "COST_TEST_REGISTER_ID="+strconv.Itoa(p),
			"COST_TEST_REGISTER_N="+strconv.Itoa(each), "COST_TEST_REGISTER_SRC="+src)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("register process: %v", err)
		}
	}
	tables, err := cost.Tables(dir)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, tb := range tables {
		have[tb.Name()] = true
	}
	var lost []string
	for p := 0; p < procs; p++ {
		for i := 0; i < each; i++ {
			if n := fmt.Sprintf("p%d.t%d", p, i); !have[n] {
				lost = append(lost, n)
			}
		}
	}
	if len(lost) > 0 || len(tables) != procs*each {
		t.Errorf("%d tables registered, want %d; lost %v", len(tables), procs*each, lost)
	}
}
