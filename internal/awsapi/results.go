package awsapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
)

// Queries kept on disk (QueryOptions.Dir), so that a restarted server still answers for them
// until they expire: <id>.rows.json.gz (columns and rows as text) written first, then
// <id>.meta.json (the query's description), whose presence says both are whole. Files are
// private to the server's user (results hold what the principal may read). Memory then holds
// every query's description and the most recent results; an older result is read back from its
// file when asked for.

// queryMeta is a finished query's description on disk.
type queryMeta struct {
	ID            string    `json:"id"`
	Owner         string    `json:"owner"`
	Statement     string    `json:"statement"`
	Stores        []string  `json:"stores,omitempty"`
	Created       time.Time `json:"created"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	Status        string    `json:"status"`
	Error         string    `json:"error,omitempty"`
	EventsScanned int64     `json:"events_scanned"`
	BytesScanned  int64     `json:"bytes_scanned"`
	Rows          int       `json:"rows"`
	Size          int64     `json:"size"`
	// DeliveryS3Uri and DeliveryStatus: StartQuery's DeliveryS3Uri and how its delivery went.
	DeliveryS3Uri  string `json:"delivery_s3_uri,omitempty"`
	DeliveryStatus string `json:"delivery_status,omitempty"`
}

type queryRows struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

func (m *manager) metaPath(id string) string { return filepath.Join(m.o.Dir, id+".meta.json") }
func (m *manager) rowsPath(id string) string { return filepath.Join(m.o.Dir, id+".rows.json.gz") }

// persist writes q's final state to disk (nothing when there is no Dir or q is still active).
func (m *manager) persist(q *query) error {
	if m.o.Dir == "" {
		return nil
	}
	m.mu.Lock()
	if q.active() || q.onDisk || m.byID[q.id] != q {
		m.mu.Unlock()
		return nil
	}
	meta := queryMeta{ID: q.id, Owner: q.owner, Statement: q.statement, Stores: q.stores, Created: q.created, Started: q.started,
		Finished: q.finished, Status: q.status, Error: q.errMsg, EventsScanned: q.eventsScanned, BytesScanned: q.bytesScanned,
		Rows: q.rowCount, Size: q.size, DeliveryS3Uri: q.deliveryURI, DeliveryStatus: q.deliveryStatus}
	rows := queryRows{Columns: q.columns, Rows: q.rows}
	m.mu.Unlock()
	if err := os.MkdirAll(m.o.Dir, 0o700); err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(rows); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := atomicfile.Write(m.rowsPath(q.id), buf.Bytes()); err != nil {
		return err
	}
	b, _ := json.Marshal(meta)
	if err := atomicfile.Write(m.metaPath(q.id), b); err != nil {
		os.Remove(m.rowsPath(q.id))
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byID[q.id] != q { // forgotten meanwhile
		m.removeFiles(q.id)
		return nil
	}
	q.onDisk = true
	m.onDisk += int64(buf.Len())
	q.diskSize = int64(buf.Len())
	// Over the disk bound: forget the oldest queries kept on disk (never this one).
	for i := 0; m.onDisk > m.o.MaxDiskBytes && i < len(m.order); {
		if o := m.order[i]; o == q || !o.onDisk {
			i++
			continue
		}
		m.forget(i)
	}
	return nil
}

// removeFiles deletes a query's files; m.mu is held.
func (m *manager) removeFiles(id string) {
	os.Remove(m.metaPath(id))
	os.Remove(m.rowsPath(id))
}

// loadRows reads q's result back from disk.
func (m *manager) loadRows(q *query) (queryRows, error) {
	var rows queryRows
	f, err := os.Open(m.rowsPath(q.id))
	if err != nil {
		return rows, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return rows, fmt.Errorf("read result of query %s: %w", q.id, err)
	}
	if err := json.NewDecoder(io.LimitReader(zr, 8<<30)).Decode(&rows); err != nil {
		return rows, fmt.Errorf("read result of query %s: %w", q.id, err)
	}
	return rows, nil
}

// load reads the queries kept in Dir, forgetting (and deleting) expired ones and files a crash
// left incomplete.
func (m *manager) load() error {
	if m.o.Dir == "" {
		return nil
	}
	entries, err := os.ReadDir(m.o.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	cutoff := m.now().Add(-m.o.Keep)
	metas := map[string]bool{}
	var loaded []*query
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".meta.json")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(m.o.Dir, e.Name()))
		var meta queryMeta
		if err == nil {
			err = json.Unmarshal(b, &meta)
		}
		st, serr := os.Stat(m.rowsPath(id))
		if err != nil || serr != nil || meta.ID != id || meta.Created.Before(cutoff) {
			m.removeFiles(id)
			continue
		}
		metas[id] = true
		done := make(chan struct{})
		close(done)
		loaded = append(loaded, &query{id: id, owner: meta.Owner, statement: meta.Statement, stores: meta.Stores, created: meta.Created,
			eventsScanned: meta.EventsScanned, bytesScanned: meta.BytesScanned, done: done, cancel: func() {},
			status: meta.Status, started: meta.Started, finished: meta.Finished, errMsg: meta.Error, rowCount: meta.Rows,
			size: meta.Size, onDisk: true, diskSize: st.Size(), deliveryURI: meta.DeliveryS3Uri, deliveryStatus: meta.DeliveryStatus})
		m.onDisk += st.Size()
	}
	for _, e := range entries { // results and temporary files with no description
		name := e.Name()
		if id, ok := strings.CutSuffix(name, ".rows.json.gz"); ok && !metas[id] || strings.HasPrefix(name, ".") {
			os.Remove(filepath.Join(m.o.Dir, name))
		}
	}
	sort.Slice(loaded, func(i, j int) bool { return loaded[i].created.Before(loaded[j].created) })
	for _, q := range loaded {
		m.byID[q.id] = q
	}
	m.order = append(loaded, m.order...)
	return nil
}
