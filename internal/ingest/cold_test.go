package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
)

// Issue 21 target 5: the files of closed days go cold at the next run after the load that
// wrote them (not during it): rewritten at ctparquet.ColdLevel without their
// eventjsonchecksum and with their eventjson cut (ctparquet.CutJSON), which the store's view
// derive and put back — and the store reads the same, every
// column of every event, as before; the open days keep their hot files; the events' ids and
// their facts are all there. Generated data, ten days.
func TestClosedDaysGoColdAndTheStoreReadsTheSame(t *testing.T) {
	ctx := context.Background()
	const events = 6000
	src := generatetest.Trail(t, events, 10, 5)
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("week", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	opts := ingest.Options{Sources: []string{filepath.Join(src, "AWSLogs")}}
	if _, err := ingest.CloudTrail(ctx, lk, st, opts); err != nil {
		t.Fatal(err)
	}
	before, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range before.Files {
		if f.Cold {
			t.Fatalf("the load made %s cold itself", f.Path)
		}
	}
	// Every column of every event, as the load left them, in a table of their own.
	s := checkEvents(t, lk, "week", int64(events))
	db, err := engine.Open(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var paths []string
	for _, f := range before.Files {
		paths = append(paths, lk.AbsPath(st.ID, f.Path))
	}
	if err := db.Exec(ctx, "CREATE TABLE hot AS SELECT * FROM "+ctparquet.DataFilesSQL(engine.ListLiteral(paths))); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// The next run (nothing new to read) makes the closed days cold.
	if _, err := ingest.CloudTrail(ctx, lk, st, opts); err != nil {
		t.Fatal(err)
	}
	after, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	var newest string
	for _, f := range after.Files {
		newest = max(newest, f.Date)
	}
	cold, open := 0, 0
	var coldBytes, hotBytes int64
	for _, f := range after.Files {
		closed := lakeClosed(f.Date, newest)
		switch {
		case f.Cold && !closed:
			t.Errorf("%s of an open day is cold", f.Path)
		case f.Cold:
			cold++
			coldBytes += f.Bytes
		case closed:
			t.Errorf("%s of a closed day is not cold", f.Path)
		default:
			open++
		}
	}
	for _, f := range before.Files {
		if lakeClosed(f.Date, newest) {
			hotBytes += f.Bytes
		}
	}
	if cold == 0 || open == 0 {
		t.Fatalf("%d cold files, %d hot ones: want both", cold, open)
	}
	if coldBytes >= hotBytes {
		t.Errorf("the closed days take %d bytes cold, %d hot", coldBytes, hotBytes)
	}
	s = checkEvents(t, lk, "week", int64(events))
	defer s.Close()
	var stored int64
	paths = paths[:0]
	for _, f := range after.Files {
		paths = append(paths, lk.AbsPath(st.ID, f.Path))
	}
	if err := db.QueryRow(ctx, "SELECT count(eventjsonchecksum) FROM read_parquet("+engine.ListLiteral(paths)+", hive_partitioning = false)").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored >= int64(events) {
		t.Errorf("all %d checksums are still stored", stored)
	}
	// The cold files' JSON is stored without the events' ids (ctparquet.CutJSON), the hot
	// files' whole.
	var cut, whole int64
	if err := db.QueryRow(ctx, "SELECT count(*) FILTER (contains(eventjson, chr(1))), count(*) FILTER (contains(eventjson, eventid)) FROM read_parquet("+
		engine.ListLiteral(paths)+", hive_partitioning = false) WHERE eventjsonchecksum IS NULL").Scan(&cut, &whole); err != nil {
		t.Fatal(err)
	}
	if cut != int64(events)-stored || whole != 0 {
		t.Errorf("of %d events without a stored checksum, %d have their id cut from their JSON, %d not", int64(events)-stored, cut, whole)
	}
	// The relation the store's view reads, against the events as loaded.
	for _, q := range []string{
		"SELECT count(*) FROM (SELECT * FROM hot EXCEPT ALL SELECT * FROM " + ctparquet.DataFilesSQL(engine.ListLiteral(paths)) + ")",
		"SELECT count(*) FROM (SELECT * FROM " + ctparquet.DataFilesSQL(engine.ListLiteral(paths)) + " EXCEPT ALL SELECT * FROM hot)",
	} {
		var n int64
		if err := db.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d events read differently after the closed days went cold (%s)", n, q)
		}
	}
	// The store's view itself, as every door reads it: the same fingerprint.
	const fp = "SELECT count(*), count(eventjsonchecksum), sum(hash(eventid, eventjsonchecksum, eventjson, eventtime, useridentity, responseelements))::VARCHAR FROM "
	var n, n2 int64
	var want string
	if err := db.QueryRow(ctx, fp+"hot").Scan(&n, &n2, &want); err != nil {
		t.Fatal(err)
	}
	res, err := s.RunInternal(ctx, fp+`"aws:cloudtrail"."week"`)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Rows[0]; got[0].(int64) != n || got[1].(int64) != n2 || got[2].(string) != want {
		t.Errorf("the store's view reads %v, the events as loaded %d, %d, %s", got, n, n2, want)
	}

	// Issue 20: a store that keeps whole JSON (a published one) whose cut cold files a crash
	// left behind (the marker written, the files not yet whole): the next compaction writes
	// them whole, so the files as they are — read by no view — hold the events as loaded.
	if err := os.WriteFile(filepath.Join(lk.StoreDir(st.ID), "whole-json"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !lk.WholeJSON(st.ID) {
		t.Fatal("the store does not keep whole JSON with its marker")
	}
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Compact(ctx, db, w, true); err != nil {
		t.Fatal(err)
	}
	w.Close()
	final, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	paths = paths[:0]
	for _, f := range final.Files {
		if f.Cold && !f.Whole {
			t.Errorf("%s is still cut", f.Path)
		}
		paths = append(paths, lk.AbsPath(st.ID, f.Path))
	}
	raw := "(SELECT * FROM read_parquet(" + engine.ListLiteral(paths) + ", hive_partitioning = false))"
	for _, q := range []string{
		"SELECT count(*) FROM (SELECT * FROM hot EXCEPT ALL SELECT * FROM " + raw + ")",
		"SELECT count(*) FROM (SELECT * FROM " + raw + " EXCEPT ALL SELECT * FROM hot)",
		"SELECT count(*) FROM " + raw + " WHERE eventjsonchecksum IS NULL OR regexp_matches(eventjson, '[\x01-\x05]')",
	} {
		var n int64
		if err := db.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d events differ in the files of the whole-JSON store (%s)", n, q)
		}
	}
}

// lakeClosed says whether date is a closed partition when newest is the newest date.
func lakeClosed(date, newest string) bool {
	t, err := time.Parse(time.DateOnly, newest)
	return err == nil && date < t.AddDate(0, 0, -lake.ClosedAfterDays).Format(time.DateOnly)
}
