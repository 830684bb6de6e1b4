//go:build !linux

package iceberg

import "path/filepath"

// dirPlace is the identity of directory dir: elsewhere than on Linux, its absolute path (a copy
// elsewhere is told apart; one made at the path of a removed original is not).
func dirPlace(dir string) (string, error) { return filepath.Abs(dir) }
