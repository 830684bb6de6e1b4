//go:build !unix

package cli

// defaultMaxTempSize is the default of --max-temp-size where the free space is not looked up:
// 4 GiB.
func defaultMaxTempSize(dir string) int64 { return maxTempSizeCap }
