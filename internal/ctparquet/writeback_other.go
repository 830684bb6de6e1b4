//go:build !linux

package ctparquet

import "os"

// startWriteback does nothing here: the commit's fsync writes the file.
func startWriteback(*os.File) {}
