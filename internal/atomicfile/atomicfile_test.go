package atomicfile_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/auditlake/auditlake/internal/atomicfile"
)

type registry struct {
	Entries []string `json:"entries"`
}

// When the test binary is started by TestConcurrentProcessesLoseNoUpdate, it is one of the
// writers: it adds its entries one update at a time and exits.
func TestMain(m *testing.M) {
	if path := os.Getenv("ATOMICFILE_TEST_WRITER"); path != "" {
		id := os.Getenv("ATOMICFILE_TEST_ID")
		n, _ := strconv.Atoi(os.Getenv("ATOMICFILE_TEST_N"))
		for i := 0; i < n; i++ {
			err := atomicfile.UpdateJSON(path, path+".lock", func(r *registry) error {
				r.Entries = append(r.Entries, fmt.Sprintf("%s-%d", id, i))
				return nil
			})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Separate processes, each adding entries by read-modify-write cycles on one file at the same
// time: every entry of every process is in the file at the end.
func TestConcurrentProcessesLoseNoUpdate(t *testing.T) {
	const procs, each = 8, 40
	path := filepath.Join(t.TempDir(), "registry.json")
	var cmds []*exec.Cmd
	for p := 0; p < procs; p++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "ATOMICFILE_TEST_WRITER="+path, "ATOMICFILE_TEST_ID=p"+strconv.Itoa(p), "ATOMICFILE_TEST_N="+strconv.Itoa(each))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	var r registry
	if err := atomicfile.ReadJSON(path, &r); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range r.Entries {
		got[e] = true
	}
	var lost []string
	for p := 0; p < procs; p++ {
		for i := 0; i < each; i++ {
			if e := fmt.Sprintf("p%d-%d", p, i); !got[e] {
				lost = append(lost, e)
			}
		}
	}
	sort.Strings(lost)
	if len(lost) > 0 || len(r.Entries) != procs*each {
		t.Errorf("%d entries, want %d; lost %d: %v", len(r.Entries), procs*each, len(lost), lost)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".registry.json.tmp-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestUpdateThatFailsLeavesTheFileAsItWas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	add := func(r *registry) error { r.Entries = append(r.Entries, "a"); return nil }
	if err := atomicfile.UpdateJSON(path, path+".lock", add); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	boom := errors.New("refused")
	err := atomicfile.UpdateJSON(path, path+".lock", func(r *registry) error { r.Entries = nil; return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the function's", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("file changed by a failed update:\n%s\nwas\n%s", after, before)
	}
}

func TestMissingFileReadsEmptyAndABrokenOneIsNamed(t *testing.T) {
	dir := t.TempDir()
	var r registry
	if err := atomicfile.ReadJSON(filepath.Join(dir, "none.json"), &r); err != nil || r.Entries != nil {
		t.Errorf("missing file: %v, %v; want no error, empty", err, r.Entries)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"entries": [`), 0o644)
	err := atomicfile.UpdateJSON(bad, bad+".lock", func(r *registry) error { return nil })
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("broken file: error %v, want one naming %s", err, bad)
	}
}

func TestNonBlockingLockFailsWhileHeld(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := atomicfile.Lock(p, syscall.LOCK_SH)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file: a second open in this process conflicts like
	// another process would.
	if u, err := atomicfile.Lock(p, syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		u()
		t.Fatal("exclusive lock taken while a shared one is held")
	}
	unlock()
	unlock() // a second call is harmless
	u, err := atomicfile.Lock(p, syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		t.Fatalf("exclusive lock after release: %v", err)
	}
	u()
}
