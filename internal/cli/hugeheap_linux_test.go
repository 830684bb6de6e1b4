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
func TestHugeHeapMarksTheHeapForHugePages(t *testing.T) {
	b := make([]byte, 16<<20)
	if err := markHuge(b); errors.Is(err, unix.EINVAL) {
		t.Skip("no transparent huge pages in this kernel")
	} else if err != nil {
		t.Fatal(err)
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	mid := ((p+hugePage-1)&^(hugePage-1) + hugePage) // inside the marked range
	flags, rss, err := vmaOf(mid)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("the heap object's mapping has VmFlags %q, want hg (MADV_HUGEPAGE)", flags)
	}
	if rss > 4<<20 {
		t.Errorf("marking touched the object: its mapping holds %d KiB", rss>>10)
	}
	runtime.KeepAlive(b)
	hugeHeap(64 << 20)
	hugeHeap(1 << 20) // too small to map: nothing done
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
