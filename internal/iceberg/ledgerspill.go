package iceberg

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/lake"
)

// The upload ledger's retired objects past the line: segments.
//
// An object whose file left the store waits the keep window in the ledger before it is deleted
// from S3. A store that commits every few seconds retires about one file a commit (~50,000 a day
// at a commit every 2 s, ~175 bytes each in the ledger), and the ledger is read and rewritten
// whole several times a commit (each upload ahead of the commit records itself, then the sync's
// push and collect). Past ledgerSpillAt retired entries, collect moves them into a segment
// (<data>/iceberg/published/<store id>.retired/<name>.jsonl, written and synced before the ledger
// that names it), and the ledger keeps the segment's name, its number of objects and its newest
// retirement. When that newest retirement is past the keep window, collect deletes the
// segment's objects (not one that is live or in the ledger again: a file uploaded anew), then the
// segment, then writes the ledger that forgets it. A crash before the ledger names a new segment
// leaves its entries in the ledger and an unnamed segment file, which the next collect removes;
// a crash after the objects' deletion leaves a ledger naming a segment whose objects are gone,
// which the next collect deletes again (harmlessly) and forgets.

// ledgerSpillAt is how many retired objects the ledger lists before collect moves them to a
// segment; a variable for tests.
var ledgerSpillAt = 256

// ledgerSegment names a segment of retired objects (see above).
type ledgerSegment struct {
	Name    string    `json:"name"`
	Objects int       `json:"objects"`
	Newest  time.Time `json:"newest"`
}

// retiredObject is a line of a segment: a file's object and when the file left the store.
type retiredObject struct {
	Path    string    `json:"path"`
	Retired time.Time `json:"retired"`
}

func segmentDir(dataDir, id string) string {
	return filepath.Join(dataDir, "iceberg", "published", id+".retired")
}

// spilledObjects is how many objects the ledger's segments hold.
func (l *ledger) spilledObjects() int {
	n := 0
	for _, s := range l.Segments {
		n += s.Objects
	}
	return n
}

// spill moves the ledger's retired entries into a new segment when more than ledgerSpillAt are
// listed, and says whether it did.
func (l *ledger) spill(dataDir, id string) (bool, error) {
	var rels []string
	for rel, e := range l.Files {
		if e.Retired != nil && !e.Pending {
			rels = append(rels, rel)
		}
	}
	if len(rels) <= ledgerSpillAt {
		return false, nil
	}
	slices.Sort(rels)
	seg := ledgerSegment{Name: fmt.Sprintf("%020d-%s.jsonl", time.Now().UnixNano(), lake.NewUUID()[:8]), Objects: len(rels)}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, rel := range rels {
		at := *l.Files[rel].Retired
		if err := enc.Encode(retiredObject{Path: rel, Retired: at}); err != nil {
			return false, err
		}
		if at.After(seg.Newest) {
			seg.Newest = at
		}
	}
	if err := atomicfile.Write(filepath.Join(segmentDir(dataDir, id), seg.Name), b.Bytes()); err != nil {
		return false, fmt.Errorf("upload ledger: %w", err)
	}
	for _, rel := range rels {
		delete(l.Files, rel)
	}
	l.Segments = append(l.Segments, seg)
	return true, nil
}

// readSegment reads a segment's objects; none when it is gone (deleted by a collect that crashed
// before writing the ledger that forgets it).
func readSegment(dataDir, id, name string) ([]retiredObject, error) {
	if name != filepath.Base(name) || !strings.HasSuffix(name, ".jsonl") || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("upload ledger: bad segment name %q", name)
	}
	b, err := os.ReadFile(filepath.Join(segmentDir(dataDir, id), name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []retiredObject
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var o retiredObject
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil || o.Path == "" {
			return nil, fmt.Errorf("upload ledger segment %s, line %d: not a retired object", name, line)
		}
		out = append(out, o)
	}
	return out, sc.Err()
}

// collectSegments deletes the objects of the ledger's segments whose newest retirement is keep
// ago (all when keep is 0 or all is set) — not those of files live in m or named by the ledger
// again — then the segment files; it drops them from l and says whether it dropped any. A
// segment that cannot be read, or whose objects could not all be deleted, stays.
func (l *ledger) collectSegments(ctx context.Context, dataDir, id string, p Publication, live map[string]bool, now time.Time, keep time.Duration, all bool) (bool, error) {
	var waiting []ledgerSegment
	var errs []error
	for _, s := range l.Segments {
		if !all && keep > 0 && now.Sub(s.Newest) < keep {
			waiting = append(waiting, s)
			continue
		}
		objs, err := readSegment(dataDir, id, s.Name)
		if err != nil {
			errs = append(errs, err)
			waiting = append(waiting, s)
			continue
		}
		failed := false
		for _, o := range objs {
			if _, again := l.Files[o.Path]; again || live[o.Path] {
				continue
			}
			if err := p.client().Delete(ctx, p.Object(o.Path)); err != nil {
				errs = append(errs, err)
				failed = true
				break
			}
		}
		if failed {
			waiting = append(waiting, s)
			continue
		}
		if err := os.Remove(filepath.Join(segmentDir(dataDir, id), s.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			waiting = append(waiting, s)
		}
	}
	dropped := len(waiting) != len(l.Segments)
	l.Segments = waiting
	return dropped, errors.Join(errs...)
}

// removeUnnamedSegments deletes the segment files the ledger does not name, an hour old: written
// by a collect that crashed before writing the ledger, whose entries the ledger still lists (the
// hour leaves alone one that another process's collect is about to name).
func (l *ledger) removeUnnamedSegments(dataDir, id string) {
	entries, err := os.ReadDir(segmentDir(dataDir, id))
	if err != nil {
		return
	}
	named := map[string]bool{}
	for _, s := range l.Segments {
		named[s.Name] = true
	}
	for _, e := range entries {
		if named[e.Name()] || e.IsDir() {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
			os.Remove(filepath.Join(segmentDir(dataDir, id), e.Name()))
		}
	}
}
