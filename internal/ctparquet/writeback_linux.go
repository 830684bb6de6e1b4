package ctparquet

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing f's dirty pages to disk now, without
// waiting: the commit's fsync then finds them written, or on their way, instead of starting
// the whole file's writeback itself while the pipeline waits. Best effort.
func startWriteback(f *os.File) {
	unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
