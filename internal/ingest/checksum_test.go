package ingest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// sourceChecksums decodes every file under dir as the decoder always did (the checksum of each
// record computed) and returns them by eventid.
func sourceChecksums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json.gz") || strings.Contains(p, "CloudTrail-Digest") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = cloudtrail.Decode(f, p, cloudtrail.DecodeOptions{}, func(r *cloudtrail.Record) error {
			if h := sha256.Sum256([]byte(r.EventJSON)); r.EventJSONChecksum != hex.EncodeToString(h[:]) {
				t.Errorf("%s: event %s: checksum %q is not the SHA-256 of its JSON", p, r.EventID, r.EventJSONChecksum)
			}
			out[r.EventID] = r.EventJSONChecksum
			return nil
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawChecksums counts the events of store id's live files as they are (no view) whose
// eventjsonchecksum is "" and those whose is the SHA-256 of their eventjson.
func rawChecksums(t *testing.T, db *engine.DB, lk *lake.Lake, id string) (empty, stored, rows int64) {
	t.Helper()
	m, err := lk.ReadManifest(id)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range m.Files {
		if f.Cold {
			t.Fatalf("%s is cold: the test reads hot files", f.Path)
		}
		paths = append(paths, lk.AbsPath(id, f.Path))
	}
	if err := db.QueryRow(context.Background(), "SELECT count(*) FILTER (eventjsonchecksum = ''), count(*) FILTER (eventjsonchecksum = sha256(eventjson)), count(*) FROM read_parquet("+
		engine.ListLiteral(paths)+", hive_partitioning = false)").Scan(&empty, &stored, &rows); err != nil {
		t.Fatal(err)
	}
	return empty, stored, rows
}

// Issue 21 target 6: ingest no longer hashes every event's JSON. A store's hot files hold
// eventjsonchecksum "" for its readers to derive, and the store reads, for every event, the
// checksum the decoder computed before (the SHA-256 of its eventjson). A published store's
// files, which other engines read as they are, keep it stored: ingested after the store was
// published, or written whole when it is published after the ingest.
func TestHotFilesLeaveTheChecksumToTheirReaders(t *testing.T) {
	ctx := context.Background()
	const events = 3000
	src := filepath.Join(generatetest.Trail(t, events, 3, 21), "AWSLogs")
	want := sourceChecksums(t, src)
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ingestInto := func(name string, published bool) lake.Store {
		st, err := lk.Create(name, lake.CreateOptions{RetentionDays: 3653})
		if err != nil {
			t.Fatal(err)
		}
		if published { // the marker eds publish writes first (lake.WriteWholeJSON)
			if err := os.WriteFile(filepath.Join(lk.StoreDir(st.ID), "whole-json"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{src}}); err != nil {
			t.Fatal(err)
		}
		return st
	}
	readChecksums := func(store string) {
		t.Helper()
		s, err := query.Open(ctx, lk, query.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		res, err := s.Run(ctx, `SELECT eventid, eventjsonchecksum FROM "aws:cloudtrail".`+engine.Ident(store))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != len(want) {
			t.Fatalf("%s: %d events, the source %d", store, len(res.Rows), len(want))
		}
		for _, r := range res.Rows {
			if id, sum := r[0].(string), r[1]; sum != want[id] {
				t.Errorf("%s: event %s reads checksum %v, the decoder computes %s", store, id, sum, want[id])
			}
		}
	}

	plain := ingestInto("plain", false)
	if empty, _, rows := rawChecksums(t, db, lk, plain.ID); rows != events || empty != events {
		t.Errorf("plain store: %d of %d events store checksum \"\", want all", empty, rows)
	}
	readChecksums("plain")

	published := ingestInto("published", true)
	if _, stored, rows := rawChecksums(t, db, lk, published.ID); rows != events || stored != events {
		t.Errorf("published store: %d of %d events store their checksum, want all", stored, rows)
	}
	readChecksums("published")

	// The plain store published now: its hot files are written whole (checksums stored) and
	// stay hot.
	if _, err := lake.WriteWholeJSON(ctx, db, lk, plain.ID); err != nil {
		t.Fatal(err)
	}
	if _, stored, rows := rawChecksums(t, db, lk, plain.ID); rows != events || stored != events {
		t.Errorf("plain store once published: %d of %d events store their checksum, want all", stored, rows)
	}
	readChecksums("plain")
}
