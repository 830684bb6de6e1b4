package iceberg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/objstore"
)

// A published store's prefix holds an owner marker, ownerObject, naming the lake that publishes
// there: a copy of a data directory (cp -r, a restored backup beside the original) holds the
// same publications, and two lakes publishing to one prefix would destroy each other's tables —
// each deletes the objects its own snapshots no longer name, and each moves the table to its own
// metadata. A lake is told from its copies by its data directory itself: the lake's id
// (<data>/iceberg/lake-id.json) is kept with the directory's identity on disk (its inode and
// birth time, or its inode alone where the file system keeps no birth time); a directory that is not
// the one the id was made in is a copy (or was moved to another file system) and takes a new id.
// Before its first upload of a session a lake checks the marker: none, it writes its own; its
// own, it publishes; another lake's, it refuses (ErrPrefixOwned) and uploads and deletes
// nothing. eds publish --take-over makes the prefix this lake's (the other one gone, or this
// directory moved).

// ownerObject is the marker's name under a publication's prefix, beside data/ and metadata/.
const ownerObject = "auditlake-owner.json"

// ErrPrefixOwned is a publication refused because another lake publishes to its prefix.
var ErrPrefixOwned = errors.New("the prefix is published by another lake")

// prefixOwner is the marker's content (and what names a lake in the error).
type prefixOwner struct {
	Lake    string    `json:"lake_id"`
	Host    string    `json:"host"`
	Dir     string    `json:"data_dir"`
	Store   string    `json:"store_id"`
	Claimed time.Time `json:"claimed_at"`
}

// lakeID is <data>/iceberg/lake-id.json.
type lakeID struct {
	ID string `json:"id"`
	// Place is the data directory's identity on disk when the id was made (dirPlace).
	Place string `json:"place"`
	// CopiedFrom is the id of the lake this directory was a copy of.
	CopiedFrom string    `json:"copied_from,omitempty"`
	Created    time.Time `json:"created"`
}

func lakeIDPath(dataDir string) string { return filepath.Join(dataDir, "iceberg", "lake-id.json") }

// thisLake is the id of the lake in dataDir, made (or made again, for a copy) when needed.
func thisLake(dataDir string) (string, error) {
	place, err := dirPlace(dataDir)
	if err != nil {
		return "", err
	}
	var cur lakeID
	if err := atomicfile.ReadJSON(lakeIDPath(dataDir), &cur); err != nil {
		return "", err
	}
	if cur.ID != "" && cur.Place == place {
		return cur.ID, nil
	}
	if err := os.MkdirAll(filepath.Dir(lakeIDPath(dataDir)), 0o755); err != nil {
		return "", err
	}
	err = atomicfile.UpdateJSON(lakeIDPath(dataDir), lakeIDPath(dataDir)+".lock", func(id *lakeID) error {
		if id.ID != "" && id.Place == place {
			return nil // made by another process meanwhile
		}
		b := make([]byte, 16)
		rand.Read(b)
		*id = lakeID{ID: hex.EncodeToString(b), Place: place, CopiedFrom: id.ID, Created: time.Now().UTC()}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("the lake's id: %w", err)
	}
	if err := atomicfile.ReadJSON(lakeIDPath(dataDir), &cur); err != nil {
		return "", err
	}
	return cur.ID, nil
}

// owned holds when this process last found a prefix its lake's (by data directory, prefix, lake
// id): a prefix is checked before its first upload or deletion, and again when that was more
// than ownerRecheck ago, so a long-running process sees another lake's --take-over.
var owned sync.Map

const ownerRecheck = time.Minute

// claimPrefix checks that p's prefix is this lake's, writing the marker when it has none (or,
// with p.TakeOver, another lake's), and refuses with ErrPrefixOwned when another lake owns it.
// st names the store (its id, and its name for the message).
func claimPrefix(ctx context.Context, dataDir string, st lake.Store, p Publication) error {
	id, err := thisLake(dataDir)
	if err != nil {
		return err
	}
	key := dataDir + "\x00" + p.To + "\x00" + id
	if at, ok := owned.Load(key); ok && !p.TakeOver && time.Since(at.(time.Time)) < ownerRecheck {
		return nil
	}
	cl := p.client()
	uri := p.Object(ownerObject)
	var have prefixOwner
	r, err := cl.Open(ctx, uri)
	switch {
	case err == nil:
		derr := json.NewDecoder(r).Decode(&have)
		r.Close()
		if derr != nil {
			return fmt.Errorf("the owner marker %s: %w", uri, derr)
		}
	case objstore.Classify(err) == objstore.FailNotFound:
	default:
		return fmt.Errorf("read the owner marker %s: %w", uri, err)
	}
	if have.Lake != "" && have.Lake != id && !p.TakeOver {
		return fmt.Errorf("%w: %s is published by lake %s (data directory %s on %s, since %s), and this data directory is lake %s — a copy of a data directory, or one moved to another file system, does not publish where the original does: publish the store to another prefix (eds publish %s --to s3://…), or, if the other lake no longer publishes there, eds publish %s --to %s --take-over",
			ErrPrefixOwned, p.To, have.Lake, have.Dir, have.Host, have.Claimed.Format(time.RFC3339), id, st.Name, st.Name, p.To)
	}
	if have.Lake != id {
		host, _ := os.Hostname()
		abs, _ := filepath.Abs(dataDir)
		b, _ := json.Marshal(prefixOwner{Lake: id, Host: host, Dir: abs, Store: st.ID, Claimed: time.Now().UTC()})
		if err := cl.Put(ctx, uri, b); err != nil {
			return fmt.Errorf("write the owner marker %s: %w", uri, err)
		}
	}
	owned.Store(key, time.Now())
	return nil
}
