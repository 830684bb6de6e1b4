//go:build linux && (amd64 || arm64)

package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestHugeHeapMarksTheHeapForHugePages: markHuge leaves the whole huge pages inside a heap
// object in a mapping the kernel backs with transparent huge pages ("hg" in its VmFlags),
// without touching them (no RSS), and hugeHeap runs without harm.
//
// Whether marking touches memory is checked on a fresh anonymous mapping: a heap object may lie
// in memory the runtime reused and zeroed (touched) before markHuge saw it — after the
// package's other tests, the object's mapping held 14 MiB in a CI run.
func TestHugeHeapMarksTheHeapForHugePages(t *testing.T) {
	b := make([]byte, 16<<20)
	if err := markHuge(b); errors.Is(err, unix.EINVAL) {
		t.Skip("no transparent huge pages in this kernel")
	} else if err != nil {
		t.Fatal(err)
	}
	if flags, _, err := vmaOf(insideHuge(b)); err != nil {
		t.Fatal(err)
	} else if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("the heap object's mapping has VmFlags %q, want hg (MADV_HUGEPAGE)", flags)
	}
	runtime.KeepAlive(b)

	fresh, err := unix.Mmap(-1, 0, 16<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(fresh)
	if err := markHuge(fresh); err != nil {
		t.Fatal(err)
	}
	flags, rss, err := vmaOf(insideHuge(fresh))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("the fresh mapping has VmFlags %q after marking, want hg", flags)
	}
	if rss != 0 {
		t.Errorf("marking touched the memory: its mapping holds %d KiB", rss>>10)
	}
	hugeHeap(64 << 20)
	hugeHeap(1 << 20) // too small to map: nothing done
}

// insideHuge is an address inside the whole huge pages of b, which markHuge marks.
func insideHuge(b []byte) uintptr {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return (p+hugePage-1)&^(hugePage-1) + hugePage
}

// vmaOf returns the VmFlags and Rss of the mapping holding addr, from /proc/self/smaps.
func vmaOf(addr uintptr) (flags string, rss int64, err error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &lo, &hi); n == 2 && strings.Contains(line, " ") {
			if in {
				break
			}
			in = lo <= addr && addr < hi
			continue
		}
		if !in {
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%d", &rss)
			rss <<= 10
		}
		if v, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			return strings.TrimSpace(v), rss, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", 0, err
	}
	return "", 0, fmt.Errorf("no mapping holds %#x", addr)
}
