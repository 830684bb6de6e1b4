package auditlog

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/lake"
)

// The spool: how a short-lived process (a CLI command) records an action in a few
// milliseconds instead of committing it to the audit store itself (an engine, a Parquet file,
// a manifest and a digest: ~45 ms a process). Append writes the action's CloudTrail record as
// one line of <data>/auditlog/spool/spool.jsonl and fsyncs it before the action's result is
// shown; the next commit of the audit log in any process (Flush: serve's every second, a CLI
// process whose spool has grown past SpoolFoldBytes, validate-logs, a query of the audit store)
// folds every spooled record into the store in the same commit as its own entries, under the
// store's write lock, and only then removes the spool file it took.
//
// Tamper evidence: each line carries an HMAC under the master key of the record and of the
// previous line's HMAC, so a line changed, inserted or removed between two others is found when
// it is folded. Crash safety: a record's eventID is fixed when it is spooled, and a fold skips
// every record a digest already lists, so a crash between the commit and the removal of the
// spool folds nothing twice; a line a crash tore (no newline, not JSON, a wrong HMAC) is never
// dropped: it is moved verbatim to <data>/auditlog/spool/damaged-*.jsonl, which validate-logs
// reports until the operator removes it.

// SpoolFoldBytes is the spool size past which a process that appends to it folds it.
const SpoolFoldBytes = 256 << 10

const (
	spoolFile     = "spool.jsonl"
	foldingPrefix = "folding-"
	damagedPrefix = "damaged-"
)

func spoolDir(lk *lake.Lake) string { return filepath.Join(lk.Dir, "auditlog", "spool") }

// spoolLine is one line of the spool.
type spoolLine struct {
	Record json.RawMessage `json:"record"`
	Prev   string          `json:"prev"` // the previous line's MAC ("" for the first of a file)
	MAC    string          `json:"mac"`
}

func lineMAC(master []byte, prev string, rec []byte) string {
	return sign(master, append([]byte(prev+"\n"), rec...))
}

// Append records e in the lake's spool and returns once the line is on disk (fsync), with the
// spool's size after it. Concurrent appends (of several processes) are serialised by a lock.
func Append(lk *lake.Lake, e Entry) (int64, error) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	e = bounded(e)
	rec, err := json.Marshal(record(e))
	if err != nil {
		return 0, fmt.Errorf("audit spool: %w", err)
	}
	master, err := access.Open(lk.Dir).MasterKey()
	if err != nil {
		return 0, fmt.Errorf("audit spool: %w", err)
	}
	// The store exists from the first recorded action on, as when each action was committed:
	// its name is reserved, and a query of it finds it (and folds the spool first).
	if _, err := Store(lk); err != nil {
		return 0, fmt.Errorf("audit log: %w", err)
	}
	dir := spoolDir(lk)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("audit spool: %w", err)
	}
	unlock, err := atomicfile.Lock(filepath.Join(dir, "spool.lock"), syscall.LOCK_EX)
	if err != nil {
		return 0, fmt.Errorf("audit spool: %w", err)
	}
	defer unlock()
	path := filepath.Join(dir, spoolFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("audit spool: %w", err)
	}
	defer f.Close()
	prev, torn, err := lastMAC(f)
	if err != nil {
		return 0, fmt.Errorf("audit spool %s: %w", path, err)
	}
	var buf bytes.Buffer
	if torn {
		buf.WriteByte('\n') // end the torn line: it stays a line of its own, found by the fold
	}
	line, err := json.Marshal(spoolLine{Record: rec, Prev: prev, MAC: lineMAC(master, prev, rec)})
	if err != nil {
		return 0, fmt.Errorf("audit spool: %w", err)
	}
	buf.Write(line)
	buf.WriteByte('\n')
	if _, err := f.Write(buf.Bytes()); err != nil {
		return 0, fmt.Errorf("audit spool %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("audit spool %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("audit spool %s: %w", path, err)
	}
	if fi.Size() == int64(buf.Len()) { // a new file: its directory entry must last too
		if err := atomicfile.SyncDir(dir); err != nil {
			return 0, fmt.Errorf("audit spool: %w", err)
		}
	}
	return fi.Size(), nil
}

// CheckSpool returns the error Append would meet opening the lake's spool, writing nothing: a
// command that shows what it reads as it reads it (a CLI hunt) checks it can record the read
// before showing any of it.
func CheckSpool(lk *lake.Lake) error {
	dir := spoolDir(lk)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("audit spool: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, spoolFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit spool: %w", err)
	}
	return f.Close()
}

// lastMAC reads the MAC of the last line of spool file f ("" when it is empty or that line is
// not a whole spool line), and whether the file ends in the middle of a line.
func lastMAC(f *os.File) (string, bool, error) {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return "", false, err
	}
	// The last line whole: read back from the end, more each time, until the newline before it
	// (a line may be longer than any one read: a long statement's record).
	var tail []byte
	for n := min(fi.Size(), 64<<10); ; n = min(fi.Size(), 4*n) {
		tail = make([]byte, n)
		if _, err := f.ReadAt(tail, fi.Size()-n); err != nil && !errors.Is(err, io.EOF) {
			return "", false, err
		}
		if tail[len(tail)-1] != '\n' {
			return "", true, nil
		}
		if i := bytes.LastIndexByte(tail[:len(tail)-1], '\n'); i >= 0 {
			tail = tail[i+1 : len(tail)-1]
			break
		}
		if n == fi.Size() {
			tail = tail[:len(tail)-1] // the file's only line
			break
		}
	}
	var l spoolLine
	if json.Unmarshal(tail, &l) != nil {
		return "", false, nil
	}
	return l.MAC, false, nil
}

// spooled is what a fold took from the spool.
type spooled struct {
	records [][]byte // the valid records not yet in the store, in order
	files   []string // the spool files taken, removed once the records are committed
	// problems name each line that was not folded (kept in a damaged-* file).
	problems []string
}

// takeSpool takes the spool for a fold: the spool file is renamed (under the appenders' lock)
// to a folding-* file, and every folding-* file (those of a fold that crashed included) is read.
// Records a digest already lists are skipped; lines that are not valid are copied to a
// damaged-* file. A folding-* file left by an earlier fold means it crashed after taking the
// spool, perhaps after its commit and before its digest: the records of such a file are also
// looked up in the store's files (storeIDs) and skipped when there. The caller holds the audit
// store's write lock.
func takeSpool(lk *lake.Lake, storeIDs func(ids []string) (map[string]bool, error)) (*spooled, error) {
	dir := spoolDir(lk)
	out := &spooled{}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	unlock, err := atomicfile.Lock(filepath.Join(dir, "spool.lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("audit spool: %w", err)
	}
	leftover := false
	if old, _ := filepath.Glob(filepath.Join(dir, foldingPrefix+"*")); len(old) > 0 {
		leftover = true
	}
	if fi, err := os.Stat(filepath.Join(dir, spoolFile)); err == nil && fi.Size() > 0 {
		name := foldingPrefix + strconv.FormatInt(time.Now().UnixNano(), 10) + ".jsonl"
		if err := os.Rename(filepath.Join(dir, spoolFile), filepath.Join(dir, name)); err != nil {
			unlock()
			return nil, fmt.Errorf("audit spool: %w", err)
		}
	}
	unlock()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit spool: %w", err)
	}
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), foldingPrefix) {
			out.files = append(out.files, filepath.Join(dir, en.Name()))
		}
	}
	if len(out.files) == 0 {
		return out, nil
	}
	slices.Sort(out.files) // by the time they were taken
	master, err := access.Open(lk.Dir).MasterKey()
	if err != nil {
		return nil, err
	}
	ds, _, err := readDigests(lk)
	if err != nil {
		return nil, err
	}
	committed := map[string]bool{}
	for _, d := range ds {
		for _, e := range d.Events {
			committed[e.EventID] = true
		}
	}
	for _, path := range out.files {
		// The damaged lines of a spool file go to a file named after it, so a fold retried
		// after a failed commit reports them once.
		var damaged bytes.Buffer
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("audit spool: %w", err)
		}
		prev, afterBad := "", false
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 64<<10), len(b)+1)
		for n := 1; sc.Scan(); n++ {
			raw := sc.Bytes()
			if len(raw) == 0 {
				continue
			}
			bad := func(why string) {
				out.problems = append(out.problems, fmt.Sprintf("audit spool %s line %d: %s; kept in %s", filepath.Base(path), n, why, damagedPrefix+"*.jsonl"))
				d, _ := json.Marshal(map[string]any{"file": filepath.Base(path), "line": n, "problem": why, "text": string(raw)})
				damaged.Write(append(d, '\n'))
				prev, afterBad = "", true
			}
			var l spoolLine
			if err := json.Unmarshal(raw, &l); err != nil || len(l.Record) == 0 {
				bad("not a whole spool line (torn by a crash during an append, or changed)")
				continue
			}
			if !hmac.Equal([]byte(lineMAC(master, l.Prev, l.Record)), []byte(l.MAC)) {
				bad("its HMAC does not match its record (changed on disk)")
				continue
			}
			if l.Prev != prev && !(l.Prev == "" && afterBad) {
				// The record itself is authentic (its HMAC holds): it is folded, and the gap
				// before it reported.
				bad("does not chain to the line before it (a line before it was removed); the line itself was folded")
			}
			prev, afterBad = l.MAC, false
			var id struct {
				EventID string `json:"eventID"`
			}
			if err := json.Unmarshal(l.Record, &id); err != nil || id.EventID == "" {
				bad("its record has no eventID")
				continue
			}
			if committed[id.EventID] {
				continue // folded before a crash kept its spool file
			}
			committed[id.EventID] = true
			out.records = append(out.records, slices.Clone(l.Record))
		}
		if damaged.Len() > 0 {
			name := filepath.Join(dir, damagedPrefix+strings.TrimPrefix(filepath.Base(path), foldingPrefix))
			if err := atomicfile.Write(name, damaged.Bytes()); err != nil {
				return nil, fmt.Errorf("audit spool: keep damaged lines: %w", err)
			}
		}
	}
	if leftover && len(out.records) > 0 {
		ids := make([]string, len(out.records))
		for i, r := range out.records {
			var id struct {
				EventID string `json:"eventID"`
			}
			json.Unmarshal(r, &id)
			ids[i] = id.EventID
		}
		in, err := storeIDs(ids)
		if err != nil {
			return nil, fmt.Errorf("audit spool: look up the records of an interrupted fold: %w", err)
		}
		kept := out.records[:0]
		for i, r := range out.records {
			if !in[ids[i]] {
				kept = append(kept, r)
			}
		}
		out.records = kept
	}
	return out, nil
}

// done removes the spool files a committed fold took.
func (s *spooled) done() error {
	for _, f := range s.files {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("audit spool: %w", err)
		}
	}
	return nil
}

// spoolWaiting says whether the lake's spool holds anything to fold.
func spoolWaiting(lk *lake.Lake) bool {
	entries, err := os.ReadDir(spoolDir(lk))
	if err != nil {
		return false
	}
	for _, en := range entries {
		if en.Name() == spoolFile || strings.HasPrefix(en.Name(), foldingPrefix) {
			if fi, err := en.Info(); err == nil && fi.Size() > 0 {
				return true
			}
		}
	}
	return false
}

// spoolDamage lists the damaged-* files of the spool: lines no fold could take.
func spoolDamage(lk *lake.Lake) []string {
	entries, err := os.ReadDir(spoolDir(lk))
	if err != nil {
		return nil
	}
	var out []string
	for _, en := range entries {
		if !strings.HasPrefix(en.Name(), damagedPrefix) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(spoolDir(lk), en.Name()))
		if err != nil {
			out = append(out, fmt.Sprintf("audit spool %s: %v", en.Name(), err))
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var d struct {
				File    string `json:"file"`
				Line    int    `json:"line"`
				Problem string `json:"problem"`
			}
			json.Unmarshal([]byte(line), &d)
			out = append(out, fmt.Sprintf("audit spool %s line %d: %s (kept in %s)", d.File, d.Line, d.Problem, filepath.Join("auditlog", "spool", en.Name())))
		}
	}
	return out
}
