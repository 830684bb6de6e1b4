package lake

import (
	"path/filepath"
	"syscall"
)

// ReadersActive says whether a reader holds store id's read lock now (a Snapshot not yet
// released): while one does, the store's retired files are not deleted.
func (l *Lake) ReadersActive(id string) bool {
	unlock, err := lockFile(filepath.Join(l.StoreDir(id), "read.lock"), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		return true
	}
	unlock()
	return false
}
