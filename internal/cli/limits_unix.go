//go:build unix

package cli

import "golang.org/x/sys/unix"

// defaultMaxTempSize is the documented default of --max-temp-size: 10 % of the free space of
// dir's file system when the command starts, at most 4 GiB, so that queries spilling to
// <data>/tmp cannot fill the disk the lake commits to.
func defaultMaxTempSize(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return maxTempSizeCap
	}
	return min(int64(st.Bavail)*int64(st.Bsize)/10, maxTempSizeCap)
}
