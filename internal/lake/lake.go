// Package lake is the on-disk layout of auditlake's event data stores: the catalog of stores,
// each store's manifest of live Parquet files and ingest state, and the commit protocol that
// makes every change atomic.
//
// Layout under the data directory:
//
//	catalog.json                                  the stores (id, name, type, retention, …)
//	stores/<id>/manifest.json                     live files + ingest-state segments; the commit point
//	stores/<id>/data/eventdate=YYYY-MM-DD/*.parquet   hive-partitioned Parquet (zstd)
//	stores/<id>/state/*.jsonl                     ingest state segments (sources already read)
//	stores/<id>/write.lock, read.lock             advisory locks (one writer; readers vs. cleanup)
//	stores/<id>/writers/<tag>.json                a writer that has not finished (orphans.go)
//	stores/<id>/quarantine/…                      files eds repair set aside (damaged, redundant)
//
// A commit writes new Parquet and state files under fresh names, syncs them, then replaces
// manifest.json by rename. A crash before the rename leaves unreferenced files that the next
// writer deletes (only those its writer's marker accounts for: orphans.go); a crash after it
// leaves the new state. A store whose manifest is lost or invalid is damaged (ErrDamaged): no
// writer touches it until Repair rebuilds the manifest from the files (repair.go). Readers hold read.lock (shared) while
// they use files, and retired files are deleted only when no reader holds it.
package lake

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
)

// Store types.
const (
	TypeCloudTrail = "cloudtrail"
	TypeConfig     = "config"
	TypeActivity   = "activity" // non-AWS events from integrations (channels)
)

// Retention bounds in days, as CloudTrail Lake allows them.
const (
	MinRetentionDays     = 7
	MaxRetentionDays     = 3653
	DefaultRetentionDays = 2557
)

// Store is one event data store in the catalog.
type Store struct {
	ID                    string          `json:"id"`
	Name                  string          `json:"name"`
	Type                  string          `json:"type"`
	RetentionDays         int             `json:"retention_days"`
	TerminationProtection bool            `json:"termination_protection"`
	Selectors             json.RawMessage `json:"advanced_event_selectors,omitempty"`
	CreatedAt             time.Time       `json:"created_at"`
	UpdatedAt             time.Time       `json:"updated_at"`
	// Tags are the store's tags, key → value, set through the CloudTrail Lake API (TagsList,
	// AddTags; package awsapi): kept and listed, they change nothing auditlake does.
	Tags map[string]string `json:"tags,omitempty"`
	// BillingMode is the CloudTrail Lake API's billing mode of the store (package awsapi; empty:
	// EXTENDABLE_RETENTION_PRICING): kept and shown, it bounds only the retention that API sets.
	BillingMode string `json:"billing_mode,omitempty"`
}

// ErrNotFound is returned (wrapped) when a store does not exist.
var ErrNotFound = errors.New("no such event data store")

// Lake is the data directory.
type Lake struct {
	Dir string
	// Hooks, when set, follow every commit (the Iceberg tables, package iceberg).
	Hooks *Hooks
	// reading counts, by absolute path, the local data files this process's writers read
	// (remote.go): Evict leaves them on the disk until they are done.
	readingMu sync.Mutex
	reading   map[string]int
}

// Hooks are what another representation of the stores (the Iceberg tables) needs to follow the
// manifests, which stay the truth.
type Hooks struct {
	// Committed is called after every commit of a store's manifest, under the store's write lock
	// (so calls for one store are in commit order). Its error is reported, never undoes the
	// commit: the follower catches up at its next call.
	Committed func(storeID string) error
	// Written, when set, is called as soon as a writer has written a new data file (rel, relative
	// to the store directory) whose content is final, before any commit names it — an ingest
	// batch's, a compaction's merge or concatenation, a cold rewrite: a published store uploads
	// it while the writer goes on (package iceberg). The file may still be removed uncommitted
	// (a failed batch, a crash): the follower must expect that.
	Written func(storeID, rel string)
	// Idle, when set, is called by Writer.Close before it releases the store's write lock: it
	// returns once the follower has caught up with the writer's commits (a follower that runs
	// Committed's work in the background, package iceberg, waits for it here).
	Idle func(storeID string)
	// Deleting is called before a store's files are removed by Delete.
	Deleting func(st Store) error
	// KeepRetired is how long a data file no longer live is kept (readers of an older snapshot
	// elsewhere may still read it); 0 deletes it as soon as no local reader holds it, as
	// facts files and ingest-state segments always are (namedElsewhere).
	KeepRetired time.Duration
	// OnError receives the hooks' errors.
	OnError func(error)
	// CostsChanged is called when a query session's cost cache refresh changed the registered
	// cost tables' files (package cost), so their Iceberg tables follow in the same step. Its
	// error is reported, never fails the session.
	CostsChanged func() error
}

// CostsChanged tells the hooks that the cost tables' files changed (cost.RegisterFollowed).
func (l *Lake) CostsChanged() {
	if l.Hooks == nil || l.Hooks.CostsChanged == nil {
		return
	}
	if err := l.Hooks.CostsChanged(); err != nil && l.Hooks.OnError != nil {
		l.Hooks.OnError(err)
	}
}

func (l *Lake) written(id, rel string) {
	if l.Hooks != nil && l.Hooks.Written != nil {
		l.Hooks.Written(id, rel)
	}
}

func (l *Lake) idle(id string) {
	if l.Hooks != nil && l.Hooks.Idle != nil {
		l.Hooks.Idle(id)
	}
}

func (l *Lake) committed(id string) {
	if l.Hooks == nil || l.Hooks.Committed == nil {
		return
	}
	if err := l.Hooks.Committed(id); err != nil && l.Hooks.OnError != nil {
		l.Hooks.OnError(err)
	}
}

// Open returns the lake rooted at dir, creating the directory when needed.
func Open(dir string) (*Lake, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory %q: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &Lake{Dir: abs}, nil
}

type catalogFile struct {
	Stores []Store `json:"stores"`
}

func (l *Lake) catalogPath() string { return filepath.Join(l.Dir, "catalog.json") }

// Stores lists the stores, ordered by name.
func (l *Lake) Stores() ([]Store, error) {
	c, err := l.readCatalog()
	if err != nil {
		return nil, err
	}
	sort.Slice(c.Stores, func(i, j int) bool { return c.Stores[i].Name < c.Stores[j].Name })
	return c.Stores, nil
}

func (l *Lake) readCatalog() (*catalogFile, error) {
	var c catalogFile
	if err := atomicfile.ReadJSON(l.catalogPath(), &c); err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	return &c, nil
}

// updateCatalog applies fn to the catalog under an exclusive lock and writes it atomically.
func (l *Lake) updateCatalog(fn func(*catalogFile) error) error {
	return atomicfile.UpdateJSON(l.catalogPath(), filepath.Join(l.Dir, "catalog.lock"), fn)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$`)

// CreateOptions are the options of a new store.
type CreateOptions struct {
	Type                  string
	RetentionDays         int
	TerminationProtection bool
	// Builtin allows the reserved names AuditStore and AlertsStore (packages auditlog and
	// alerts create them).
	Builtin bool
}

// AuditStore is the built-in store of auditlake's own audit log (package auditlog): only
// auditlake writes it, it keeps its name and termination protection, and only retention
// removes its events.
const AuditStore = "auditlake-audit"

// AlertsStore is the built-in store of the alerts detection rules raise (package alerts), under
// the same rules as AuditStore.
const AlertsStore = "auditlake-alerts"

func builtinName(name string) bool { return name == AuditStore || name == AlertsStore }

// Builtin says whether s is one of auditlake's own stores (the audit log, the alerts), which
// listings leave out unless asked (eds list --all) and reports never pick as their default store.
func (s Store) Builtin() bool { return builtinName(s.Name) }

// BuiltinStore returns the built-in store name (AuditStore or AlertsStore), creating it with
// termination protection on first use; a store another process created meanwhile is returned.
func (l *Lake) BuiltinStore(name string) (Store, error) {
	if !builtinName(name) {
		return Store{}, fmt.Errorf("%q is not a built-in store", name)
	}
	st, err := l.Resolve(name)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return st, err
	}
	st, err = l.Create(name, CreateOptions{Type: TypeCloudTrail, TerminationProtection: true, Builtin: true})
	if err != nil {
		if again, err2 := l.Resolve(name); err2 == nil {
			return again, nil
		}
	}
	return st, err
}

// ErrBuiltin is returned for a change a built-in store does not allow.
var ErrBuiltin = errors.New("the built-in stores " + AuditStore + " and " + AlertsStore + " are written only by auditlake, keep their names and termination protection, and lose events only by retention")

// ErrInvalidName is returned for a store name that breaks the naming rules; ErrNameTaken for one
// another store has, or that would give a store the Iceberg table name of another's.
var (
	ErrInvalidName = errors.New("invalid store name")
	ErrNameTaken   = errors.New("store name taken")
)

// checkName says why name cannot be a store's name, wrapping ErrInvalidName.
func checkName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use 3-128 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalidName, name)
	}
	if looksLikeUUID(name) {
		return fmt.Errorf("%w %q: a name must not look like a store id", ErrInvalidName, name)
	}
	return nil
}

// TableName is the name of store name's Iceberg table (in namespace auditlake): lower case,
// '-' and '.' made '_', as Glue and Athena want.
func TableName(name string) string {
	return strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToLower(name))
}

// nameTaken says, wrapping ErrNameTaken, whether a store other than id is named name or has a
// name giving the same Iceberg table name: the two stores would write one table.
func nameTaken(stores []Store, name, id string) error {
	for _, o := range stores {
		switch {
		case o.ID == id:
		case o.Name == name:
			return fmt.Errorf("%w: an event data store named %q already exists (id %s)", ErrNameTaken, name, o.ID)
		case TableName(o.Name) == TableName(name):
			return fmt.Errorf("%w: an event data store named %q already exists (id %s), and %q would share its Iceberg table auditlake.%s (names are made lower case, with '-' and '.' as '_'): choose another name",
				ErrNameTaken, o.Name, o.ID, name, TableName(name))
		}
	}
	return nil
}

// Create adds a store and returns it with its new UUID.
func (l *Lake) Create(name string, opts CreateOptions) (Store, error) {
	if err := checkName(name); err != nil {
		return Store{}, err
	}
	if builtinName(name) && !opts.Builtin {
		return Store{}, fmt.Errorf("invalid store name %q: %w", name, ErrBuiltin)
	}
	if opts.Type == "" {
		opts.Type = TypeCloudTrail
	}
	switch opts.Type {
	case TypeCloudTrail, TypeConfig, TypeActivity:
	default:
		return Store{}, fmt.Errorf("invalid store type %q: want cloudtrail, config or activity", opts.Type)
	}
	if opts.RetentionDays == 0 {
		opts.RetentionDays = DefaultRetentionDays
	}
	if err := ValidateRetention(opts.RetentionDays); err != nil {
		return Store{}, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	s := Store{ID: NewUUID(), Name: name, Type: opts.Type, RetentionDays: opts.RetentionDays,
		TerminationProtection: opts.TerminationProtection, CreatedAt: now, UpdatedAt: now}
	err := l.updateCatalog(func(c *catalogFile) error {
		if err := nameTaken(c.Stores, name, s.ID); err != nil {
			return err
		}
		c.Stores = append(c.Stores, s)
		return nil
	})
	if err != nil {
		return Store{}, err
	}
	if err := os.MkdirAll(l.StoreDir(s.ID), 0o755); err != nil {
		return Store{}, err
	}
	return s, nil
}

// ValidateRetention checks a retention period in days.
func ValidateRetention(days int) error {
	if days < MinRetentionDays || days > MaxRetentionDays {
		return fmt.Errorf("retention %d days is out of range: CloudTrail Lake allows %d to %d days", days, MinRetentionDays, MaxRetentionDays)
	}
	return nil
}

// Resolve finds a store by id or name.
func (l *Lake) Resolve(nameOrID string) (Store, error) {
	stores, err := l.Stores()
	if err != nil {
		return Store{}, err
	}
	for _, s := range stores {
		if s.ID == nameOrID || strings.EqualFold(s.ID, nameOrID) || s.Name == nameOrID {
			return s, nil
		}
	}
	return Store{}, fmt.Errorf("%w: %q", ErrNotFound, nameOrID)
}

// Update applies fn to a store's catalog entry.
func (l *Lake) Update(id string, fn func(*Store) error) (Store, error) {
	var out Store
	err := l.updateCatalog(func(c *catalogFile) error {
		for i := range c.Stores {
			if c.Stores[i].ID == id {
				before := c.Stores[i]
				if err := fn(&c.Stores[i]); err != nil {
					return err
				}
				if builtinName(before.Name) && (c.Stores[i].Name != before.Name || !c.Stores[i].TerminationProtection) ||
					!builtinName(before.Name) && builtinName(c.Stores[i].Name) {
					return ErrBuiltin
				}
				if name := c.Stores[i].Name; name != before.Name {
					if err := checkName(name); err != nil {
						return err
					}
					if err := nameTaken(c.Stores, name, id); err != nil {
						return err
					}
				}
				c.Stores[i].UpdatedAt = time.Now().UTC().Truncate(time.Second)
				out = c.Stores[i]
				return nil
			}
		}
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	})
	return out, err
}

// ErrProtected is returned when deleting a store with termination protection on.
var ErrProtected = errors.New("termination protection is enabled")

// Delete removes a store and its files. It refuses while termination protection is on.
func (l *Lake) Delete(id string) error {
	var removed Store
	err := l.updateCatalog(func(c *catalogFile) error {
		for i, s := range c.Stores {
			if s.ID == id {
				removed = s
				if builtinName(s.Name) {
					return fmt.Errorf("cannot delete event data store %q: %w", s.Name, ErrBuiltin)
				}
				if s.TerminationProtection {
					return fmt.Errorf("cannot delete event data store %q: %w", s.Name, ErrProtected)
				}
				c.Stores = append(c.Stores[:i], c.Stores[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	})
	if err != nil {
		return err
	}
	// Followers (the Iceberg table) forget the files before they go; a failure is reported and
	// the follower catches up later (catalog sync empties a table whose store is gone).
	if l.Hooks != nil && l.Hooks.Deleting != nil {
		if herr := l.Hooks.Deleting(removed); herr != nil && l.Hooks.OnError != nil {
			l.Hooks.OnError(herr)
		}
	}
	// The catalog no longer names the store: its files are unreachable, remove them (and the
	// copies of its files kept on S3 only, remote.go).
	os.RemoveAll(l.CacheDir(id))
	return os.RemoveAll(l.StoreDir(id))
}

// StoreDir is the directory of a store's files.
func (l *Lake) StoreDir(id string) string { return filepath.Join(l.Dir, "stores", id) }

// TempDir is the engine's spill directory.
func (l *Lake) TempDir() string { return filepath.Join(l.Dir, "tmp") }

// NewUUID returns a random version-4 UUID.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

var uuidRE = regexp.MustCompile(`^[0-9A-Za-z]{8}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{12}$`)

func looksLikeUUID(s string) bool { return uuidRE.MatchString(s) }

// WriteFileAtomic replaces path atomically (atomicfile.Write).
func WriteFileAtomic(path string, data []byte) error { return atomicfile.Write(path, data) }

// SyncDir fsyncs a directory so that renames and new entries in it are durable.
func SyncDir(dir string) error { return atomicfile.SyncDir(dir) }

// SyncFile fsyncs an existing file.
func SyncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// lockFile takes an advisory flock on path (LOCK_SH or LOCK_EX, optionally |LOCK_NB).
func lockFile(path string, how int) (func(), error) { return atomicfile.Lock(path, how) }
