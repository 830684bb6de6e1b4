package iceberg

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// dirPlace is the identity of directory dir on disk: its inode with its birth time (statx), which
// a copy cannot have and a reboot, a remount or a rename within the file system keep; where the
// file system keeps no birth time, its inode alone. Not its device: a network file system (NFS,
// EFS) is given another device number at each mount, and its lake would take a new id, and be
// refused its own prefix, after every reboot.
func dirPlace(dir string) (string, error) {
	var sx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_INO|unix.STATX_BTIME, &sx); err == nil && sx.Mask&unix.STATX_BTIME != 0 {
		return fmt.Sprintf("ino %d born %d.%09d", sx.Ino, sx.Btime.Sec, sx.Btime.Nsec), nil
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return "", fmt.Errorf("data directory %q: %w", dir, err)
	}
	return fmt.Sprintf("ino %d", st.Ino), nil
}
