// Package atomicfile replaces small state files so that a crash leaves either the old or the
// new content, and serialises their read-modify-write cycles between processes: the registry
// files of the data directory (the lake's catalog, the cost tables, channels and tokens) are
// each rewritten by UpdateJSON under an advisory flock, so two commands changing one file at
// once cannot lose either change.
package atomicfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Write writes data to path via a synced temporary file in the same directory and a rename,
// then syncs the directory, so that path holds either the old or the new content after a crash.
func Write(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %q: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync %q: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %q: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that renames and new entries in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Lock takes an advisory flock on path, created when missing: how is syscall.LOCK_SH or
// LOCK_EX, optionally |LOCK_NB (then a held lock fails with EWOULDBLOCK instead of waiting).
// The lock is released by the returned function (which may be called more than once), or by
// the process's end.
func Lock(path string, how int) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %q: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %q: %w", path, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
		})
	}, nil
}

// ReadJSON decodes the JSON file at path into v. A missing file leaves v as it is and is not
// an error: a registry that was never written is empty.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %q: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %q: %w", path, err)
	}
	return nil
}

// UpdateJSON reads the JSON file at path, applies fn and replaces the file with the result
// (indented, with a final newline) by Write, all under an exclusive flock of lock. An error from
// fn leaves the file unchanged. Readers need no lock: they see the old or the new file whole.
func UpdateJSON[T any](path, lock string, fn func(*T) error) error {
	unlock, err := Lock(lock, syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	var v T
	if err := ReadJSON(path, &v); err != nil {
		return err
	}
	if err := fn(&v); err != nil {
		return err
	}
	b, err := json.MarshalIndent(&v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %q: %w", path, err)
	}
	if err := Write(path, append(b, '\n')); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}
