package cloudtrail

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>

// libdeflate's decompressor, looked up at run time (libdeflate.so.0, Debian's libdeflate0):
// the binary needs neither its headers to build nor the library to run.
typedef void *(*ld_alloc_fn)(void);
typedef int (*ld_gunzip_fn)(void *, const void *, size_t, void *, size_t, size_t *, size_t *);
static ld_alloc_fn ld_alloc_p;
static ld_gunzip_fn ld_gunzip_p;

static int ld_open(void) {
	void *h = dlopen("libdeflate.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!h) return 0;
	ld_alloc_p = (ld_alloc_fn)dlsym(h, "libdeflate_alloc_decompressor");
	ld_gunzip_p = (ld_gunzip_fn)dlsym(h, "libdeflate_gzip_decompress_ex");
	return ld_alloc_p != 0 && ld_gunzip_p != 0;
}
static void *ld_alloc(void) { return ld_alloc_p(); }
static int ld_gunzip(void *d, const void *in, size_t n, void *out, size_t avail, size_t *used, size_t *written) {
	return ld_gunzip_p(d, in, n, out, avail, used, written);
}
*/
import "C"

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Gzip held whole in memory is inflated by libdeflate when the machine has it: three times
// the speed of klauspost's flate on CloudTrail files (1,659 against 568 MB/s here), the
// largest single cost of ingest after parsing. Whatever libdeflate does not inflate cleanly —
// no library, a multi-member or damaged file, a size over a limit — is read by the Go path as
// before, which reports problems in its own words; so the results never depend on it.

var libdeflate struct {
	once     sync.Once
	ok       bool
	mu       sync.Mutex
	free     []unsafe.Pointer // decompressors not in use (C memory, kept for the process)
	disabled atomic.Bool      // tests compare with the Go path
	inflated atomic.Int64     // files inflated, for tests
}

// LibdeflateAvailable reports whether libdeflate was found.
func LibdeflateAvailable() bool {
	libdeflate.once.Do(func() { libdeflate.ok = C.ld_open() != 0 })
	return libdeflate.ok
}

// gunzipWhole inflates raw, a whole gzip file of one member, with libdeflate, when its
// inflated size (from its trailer) is at most max (and limit, when positive), into memory of
// its own. It returns nil when it did not.
func gunzipWhole(raw []byte, max int, limit int64) []byte {
	if len(raw) < 18 || libdeflate.disabled.Load() || !LibdeflateAvailable() {
		return nil
	}
	size := int(binary.LittleEndian.Uint32(raw[len(raw)-4:]))
	if size > max || (limit > 0 && int64(size) > limit) {
		return nil
	}
	out := uninitialized(size + 1) // a byte more, so that an empty file has an address too
	d := acquireDecompressor()
	if d == nil {
		return nil
	}
	var used, written C.size_t
	r := C.ld_gunzip(d, unsafe.Pointer(&raw[0]), C.size_t(len(raw)), unsafe.Pointer(&out[0]), C.size_t(size), &used, &written)
	releaseDecompressor(d)
	// One member, all of it, the size its trailer says: else the Go path reads it.
	if r != 0 || int(used) != len(raw) || int(written) != size {
		return nil
	}
	libdeflate.inflated.Add(1)
	return out[:size]
}

func acquireDecompressor() unsafe.Pointer {
	libdeflate.mu.Lock()
	defer libdeflate.mu.Unlock()
	if n := len(libdeflate.free); n > 0 {
		d := libdeflate.free[n-1]
		libdeflate.free = libdeflate.free[:n-1]
		return d
	}
	return C.ld_alloc()
}

func releaseDecompressor(d unsafe.Pointer) {
	libdeflate.mu.Lock()
	libdeflate.free = append(libdeflate.free, d)
	libdeflate.mu.Unlock()
}

// uninitialized returns n (≥ 1) bytes of new memory that the runtime does not zero first
// (strings.Builder.Grow takes its memory so), for a buffer that is written before it is read:
// zeroing an inflated file's buffer first costs a seventh of inflating it, and an ingest
// inflates gigabytes.
func uninitialized(n int) []byte {
	var b strings.Builder
	b.Grow(n)
	b.WriteByte(0)
	return unsafe.Slice(unsafe.StringData(b.String()), b.Cap())[:n:n]
}
