package iceberg_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// localDaysStore is a store of generated events over the six days up to today (UTC), compacted
// with force (the closed days cold), published to a fake S3 with catalog hooks attached.
// Eviction's clock stays at noon of that today (now) for the whole test, so that a test run
// across midnight UTC sees the same last days as at its start.
type localDaysStore struct {
	lk  *lake.Lake
	st  lake.Store
	s3  *icebergtest.S3
	pub iceberg.Publication
	now time.Time
}

const localDaysObjects = "lake/auditlake/prod-trail/data/"

func newLocalDaysStore(t *testing.T) *localDaysStore {
	t.Helper()
	ctx := context.Background()
	s3 := icebergtest.NewS3(t, "lake")
	_, lk := catalogLake(t, iceberg.Config{Type: "sql", KeepRetired: "1h"})
	today := time.Now().UTC().Truncate(24 * time.Hour)
	d := &localDaysStore{lk: lk, s3: s3, now: today.Add(12 * time.Hour)}
	iceberg.SetClock(t, d.now)
	d.attach(t)
	st := createStore(t, lk, "prod-trail")
	src := generatetest.Trail(t, 6000, 6, 11, func(c *generate.Config) { c.Start = today.AddDate(0, 0, -5) })
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{filepath.Join(src, "AWSLogs")}, BatchRows: 1000, CommitEachBatch: true}); err != nil {
		t.Fatal(err)
	}
	compact(t, lk, st)
	d.st = st
	d.pub = iceberg.Publication{To: "s3://lake/auditlake/prod-trail/", EndpointURL: s3.URL, Region: "us-east-1", LocalDays: -1}
	return d
}

// publish publishes the store with localDays (and cacheBytes) under its write lock.
func (d *localDaysStore) publish(t *testing.T, localDays int, cacheBytes int64) {
	t.Helper()
	p := d.pub
	p.LocalDays, p.CacheBytes = localDays, cacheBytes
	w, err := d.lk.BeginWrite(d.st.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := iceberg.Publish(context.Background(), d.lk, d.st, p); err != nil {
		t.Fatal(err)
	}
	d.attach(t) // the hooks now open the catalog with the S3 settings
}

// attach hooks the catalog to the lake, as a command does when it opens the data directory.
func (d *localDaysStore) attach(t *testing.T) {
	t.Helper()
	closer, err := iceberg.Attach(context.Background(), d.lk, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closer)
}

// days are the store's live files by day.
func (d *localDaysStore) days(t *testing.T) map[string][]lake.DataFile {
	t.Helper()
	m, err := d.lk.ReadManifest(d.st.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]lake.DataFile{}
	for _, f := range m.Files {
		out[f.Date] = append(out[f.Date], f)
	}
	return out
}

// onDisk are the days with a data file under the store directory.
func (d *localDaysStore) onDisk(t *testing.T) []string {
	t.Helper()
	var out []string
	for day, files := range d.days(t) {
		for _, f := range files {
			if _, err := os.Stat(d.lk.AbsPath(d.st.ID, f.Path)); err == nil {
				out = append(out, day)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// run runs sql in a new session and returns its rows as text.
func (d *localDaysStore) run(t *testing.T, sql string) (string, error) {
	t.Helper()
	ctx := context.Background()
	s, err := query.Open(ctx, d.lk, query.Options{})
	if err != nil {
		return "", err
	}
	defer s.Close()
	res, err := s.Run(ctx, strings.ReplaceAll(sql, "{store}", `"aws:cloudtrail"."`+d.st.ID+`"`))
	if err != nil {
		return "", err
	}
	return fmt.Sprint(res.Rows), nil
}

// dayQuery is a query of the events of day alone.
func dayQuery(day string) string {
	return "SELECT count(*), min(eventid), max(eventid) FROM {store} WHERE eventtime >= TIMESTAMP '" + day +
		" 00:00:00' AND eventtime < TIMESTAMP '" + day + " 00:00:00' + INTERVAL '1' DAY"
}

// TestLocalDaysKeepsRecentDaysOnDiskAndQueriesTheRestFromS3: after eds publish --local-days 1
// over six days of events, the disk holds only the days that are not cold yet (today and the two
// before it, which compaction leaves open), every other day is on S3 only, and every query —
// whole store, by name, joins, one day, reports' StoreRange — returns the same rows as before;
// a one-day query of an old day fetches that day's files and no other; the checks of the store
// find nothing missing; compaction and purge still work over the evicted days.
func TestLocalDaysKeepsRecentDaysOnDiskAndQueriesTheRestFromS3(t *testing.T) {
	d := newLocalDaysStore(t)
	days := d.days(t)
	all := slices.Sorted(func(yield func(string) bool) {
		for day := range days {
			if !yield(day) {
				return
			}
		}
	})
	if len(all) < 5 {
		t.Fatalf("the generated store has days %v; the test needs at least 5", all)
	}
	cutoff := iceberg.LocalCutoff(d.now, 1)
	var settled []string // days every file of which may leave the disk
	for _, day := range all {
		ok := day < cutoff
		for _, f := range days[day] {
			ok = ok && f.Settled(d.st.Type)
		}
		if ok {
			settled = append(settled, day)
		}
	}
	if len(settled) < 2 {
		t.Fatalf("only days %v are cold before %s; the test needs two", settled, cutoff)
	}
	queries := []string{
		"SELECT count(*), count(DISTINCT eventid) FROM {store}",
		"SELECT eventid, eventname, eventtime FROM {store} ORDER BY eventid",
		`SELECT eventname, count(*) FROM "aws:cloudtrail"."prod-trail" GROUP BY 1 ORDER BY 1`,
		"SELECT count(*) FROM {store} a JOIN {store} b ON a.eventid = b.eventid WHERE a.eventtime >= TIMESTAMP '" + settled[0] + " 00:00:00'",
		"SELECT count(*) FROM (SELECT eventid FROM {store} WHERE eventtime < TIMESTAMP '" + settled[1] + " 00:00:00' UNION ALL SELECT eventid FROM {store} WHERE eventtime >= TIMESTAMP '" + all[len(all)-1] + " 00:00:00')",
	}
	for _, day := range all {
		queries = append(queries, dayQuery(day))
	}
	want := map[string]string{}
	for _, q := range queries {
		got, err := d.run(t, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		want[q] = got
	}
	rangeCount := func(s *query.Session, from, to time.Time) string {
		res, err := s.RunInternal(context.Background(), "SELECT count(*) FROM "+s.StoreRange(d.st.ID, from, to))
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res.Rows)
	}
	from, _ := time.Parse(time.DateOnly, settled[0])
	to := from.AddDate(0, 0, 1)
	s, err := query.Open(context.Background(), d.lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantRange := rangeCount(s, from, to)
	s.Close()

	d.publish(t, 1, 0)
	onDisk := d.onDisk(t)
	for _, day := range settled {
		if slices.Contains(onDisk, day) {
			t.Fatalf("day %s is cold and older than one day, but still on the disk (days on disk: %v)", day, onDisk)
		}
	}
	if len(onDisk) != len(all)-len(settled) {
		t.Fatalf("days on disk %v; want every day but the settled ones %v", onDisk, settled)
	}
	if h := d.lk.CheckFiles(d.st.ID, mustManifest(t, d.lk, d.st)); h.Status != lake.StatusOK {
		t.Fatalf("CheckFiles after eviction: %+v", h)
	}

	// A one-day query of an old day fetches that day's files, each once, and nothing else.
	// (iceberg-go reads the footers of the files it adds to the table: the GETs before count not.)
	day := settled[1]
	before := d.s3.Gets(localDaysObjects)
	got, err := d.run(t, dayQuery(day))
	if err != nil || got != want[dayQuery(day)] {
		t.Fatalf("one-day query of %s from S3: %s, %v; want %s", day, got, err, want[dayQuery(day)])
	}
	gets := since(d.s3.Gets(localDaysObjects), before)
	if len(gets) != len(days[day]) {
		t.Fatalf("the one-day query of %s fetched %v; want its %d files", day, gets, len(days[day]))
	}
	for _, f := range days[day] {
		if gets["lake/auditlake/prod-trail/"+f.Path] != 1 {
			t.Fatalf("the one-day query of %s fetched %v; want %s once", day, gets, f.Path)
		}
	}
	// The same query again reads the cache.
	if _, err := d.run(t, dayQuery(day)); err != nil {
		t.Fatal(err)
	}
	if again := since(d.s3.Gets(localDaysObjects), before); !equalCounts(again, gets) {
		t.Fatalf("the second one-day query fetched again: %v, before %v", again, gets)
	}
	// A query of the local days fetches nothing.
	if _, err := d.run(t, dayQuery(all[len(all)-1])); err != nil {
		t.Fatal(err)
	}
	if again := since(d.s3.Gets(localDaysObjects), before); !equalCounts(again, gets) {
		t.Fatalf("a query of today fetched %v, before %v", again, gets)
	}

	for _, q := range queries {
		got, err := d.run(t, q)
		if err != nil {
			t.Fatalf("after eviction, %s: %v", q, err)
		}
		if got != want[q] {
			t.Fatalf("after eviction, %s returns\n%.300s\nwant\n%.300s", q, got, want[q])
		}
	}
	s, err = query.Open(context.Background(), d.lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rangeCount(s, from, to); got != wantRange {
		t.Fatalf("StoreRange of %s after eviction counts %s, want %s", settled[0], got, wantRange)
	}
	s.Close()

	// The writers read evicted days through the cache: a forced compaction and a purge.
	compact(t, d.lk, d.st)
	if got, err := d.run(t, queries[1]); err != nil || got != want[queries[1]] {
		t.Fatalf("after compaction over evicted days: %v", err)
	}
	purgeToNewestDay(t, d.lk, d.st)
	if h := d.lk.CheckFiles(d.st.ID, mustManifest(t, d.lk, d.st)); h.Status != lake.StatusOK {
		t.Fatalf("CheckFiles after purge: %+v", h)
	}
	if r, err := d.lk.ReadRemote(d.st.ID); err != nil || len(r.Files) != 0 {
		t.Fatalf("after the purge of every old day the remote record names %v (%v)", r, err)
	}
}

// TestLocalDaysTheLastDaysFollowTheClockAcrossMidnight: which days are "the last N" is decided
// by the clock at each sync, not by the day the store was written: with --local-days 4, one
// more day leaves the disk at the first sync after midnight UTC, and the store reads the same.
func TestLocalDaysTheLastDaysFollowTheClockAcrossMidnight(t *testing.T) {
	d := newLocalDaysStore(t)
	all := slices.Sorted(maps.Keys(d.days(t)))
	const q = "SELECT eventid, eventtime FROM {store} ORDER BY eventid"
	want, err := d.run(t, q)
	if err != nil {
		t.Fatal(err)
	}
	today := d.now.Truncate(24 * time.Hour) // the newest day of the store
	for _, step := range []struct {
		now     time.Time
		evicted int // how many of the oldest days leave the disk
	}{
		{today.Add(24*time.Hour - time.Second), 2}, // cutoff today-2: today-5 and today-4 leave
		{today.Add(24 * time.Hour), 3},             // cutoff today-1: today-3 too (cold, as they are)
	} {
		iceberg.SetClock(t, step.now)
		d.publish(t, 4, 0)
		if got, want := d.onDisk(t), all[step.evicted:]; !slices.Equal(got, want) {
			t.Fatalf("at %s with --local-days 4 the days on disk are %v; want %v", step.now.Format(time.DateTime), got, want)
		}
		if got, err := d.run(t, q); err != nil || got != want {
			t.Fatalf("at %s the store reads differently (%v)", step.now.Format(time.DateTime), err)
		}
	}
}

// TestLocalDaysZeroBringsEveryDayBack: eds update --local-days 0 puts every file back on the
// local disk, checked, and the store reads the same.
func TestLocalDaysZeroBringsEveryDayBack(t *testing.T) {
	d := newLocalDaysStore(t)
	all := len(d.days(t))
	want, err := d.run(t, "SELECT eventid, eventtime FROM {store} ORDER BY eventid")
	if err != nil {
		t.Fatal(err)
	}
	d.publish(t, 1, 0)
	if len(d.onDisk(t)) == all {
		t.Fatal("nothing left the disk")
	}
	p, err := iceberg.SaveLocalDays(d.lk, d.st, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	d.publish(t, p.LocalDays, p.CacheBytes)
	if got := len(d.onDisk(t)); got != all {
		t.Fatalf("%d of %d days on the disk after --local-days 0", got, all)
	}
	d.s3.Down(true) // the disk alone answers
	defer d.s3.Down(false)
	if got, err := d.run(t, "SELECT eventid, eventtime FROM {store} ORDER BY eventid"); err != nil || got != want {
		t.Fatalf("after --local-days 0 the store reads differently (%v)", err)
	}
}

// TestLocalDaysCacheStaysWithinItsSize: with a cache of about one day's files, querying one old
// day and then another deletes the first day's copies (least recently used) and the cache stays
// within its size; both days still read right, fetched again when needed.
func TestLocalDaysCacheStaysWithinItsSize(t *testing.T) {
	d := newLocalDaysStore(t)
	days := d.days(t)
	cutoff := iceberg.LocalCutoff(d.now, 1)
	var old []string
	sizes := map[string]int64{}
	for day, files := range days {
		if day >= cutoff {
			continue
		}
		for _, f := range files {
			sizes[day] += f.Bytes
		}
		old = append(old, day)
	}
	slices.Sort(old)
	if len(old) < 2 {
		t.Fatalf("days before the cutoff %v; the test needs two", old)
	}
	want := map[string]string{}
	for _, day := range old {
		got, err := d.run(t, dayQuery(day))
		if err != nil {
			t.Fatal(err)
		}
		want[day] = got
	}
	// One of the two oldest days' copies fits, both do not (days differ in size: cold days are
	// far smaller than a hot one, so the limit is taken from the two days the test reads).
	s0, s1 := sizes[old[0]], sizes[old[1]]
	limit := max(s0, s1) + min(s0, s1)/2
	d.publish(t, 1, limit)
	before := d.s3.Gets(localDaysObjects)
	var evicted []string
	for _, day := range old {
		if !slices.Contains(d.onDisk(t), day) {
			evicted = append(evicted, day)
		}
	}
	if len(evicted) < 2 || evicted[0] != old[0] || evicted[1] != old[1] {
		t.Fatalf("evicted days %v; the test needs the two oldest, %v", evicted, old[:2])
	}
	cached := func(day string) int {
		n := 0
		for _, f := range days[day] {
			if _, err := os.Stat(d.lk.CachePath(d.st.ID, f.Path)); err == nil {
				n++
			}
		}
		return n
	}
	for round := range 2 {
		for _, day := range evicted[:2] {
			got, err := d.run(t, dayQuery(day))
			if err != nil || got != want[day] {
				t.Fatalf("round %d, day %s: %s, %v; want %s", round, day, got, err, want[day])
			}
			if cached(day) != len(days[day]) {
				t.Fatalf("day %s just read: %d of its %d files cached", day, cached(day), len(days[day]))
			}
			if size, _ := d.lk.CacheUsage(d.st.ID); size > limit {
				t.Fatalf("the cache holds %d bytes, its size is %d", size, limit)
			}
		}
		if cached(evicted[0]) != 0 {
			t.Fatalf("round %d: day %s's copies stayed in a cache too small for two days", round, evicted[0])
		}
	}
	if n := since(d.s3.Gets(localDaysObjects), before)["lake/auditlake/prod-trail/"+days[evicted[0]][0].Path]; n != 2 {
		t.Fatalf("day %s was fetched %d times; want 2 (once per round: its copy was evicted between)", evicted[0], n)
	}
}

// TestLocalDaysS3DownFailsOnlyQueriesOfEvictedDays: with S3 unreachable, a query of an evicted
// day fails with an error naming the store, the day and the object; a query of local days, and
// the store's checks, still work; nothing half-fetched is left in the cache.
func TestLocalDaysS3DownFailsOnlyQueriesOfEvictedDays(t *testing.T) {
	d := newLocalDaysStore(t)
	d.publish(t, 1, 0)
	days := d.days(t)
	onDisk := d.onDisk(t)
	var old string
	for day := range days {
		if !slices.Contains(onDisk, day) {
			old = day
		}
	}
	if old == "" {
		t.Fatal("no day left the disk")
	}
	d.s3.Down(true)
	_, err := d.run(t, dayQuery(old))
	var fe *lake.FetchError
	if !errors.As(err, &fe) {
		t.Fatalf("query of evicted day %s with S3 down: %v; want a *lake.FetchError", old, err)
	}
	for _, part := range []string{`"prod-trail"`, "day " + old, "s3://lake/auditlake/prod-trail/data/eventdate=" + old + "/"} {
		if !strings.Contains(err.Error(), part) {
			t.Fatalf("error %q does not name %s", err, part)
		}
	}
	today := onDisk[len(onDisk)-1]
	if _, err := d.run(t, dayQuery(today)); err != nil {
		t.Fatalf("a query of local day %s with S3 down: %v", today, err)
	}
	if h := d.lk.CheckFiles(d.st.ID, mustManifest(t, d.lk, d.st)); h.Status != lake.StatusOK {
		t.Fatalf("CheckFiles with S3 down: %+v", h)
	}
	if _, files := d.lk.CacheUsage(d.st.ID); files != 0 {
		t.Fatalf("%d files in the cache after failed fetches", files)
	}
	d.s3.Down(false)
	if _, err := d.run(t, dayQuery(old)); err != nil {
		t.Fatalf("S3 back: %v", err)
	}
}

// TestLocalDaysFetchKilledLeavesNoHalfFile: a process SIGKILLed while it fetches a file (the fake
// S3 stops mid-body) leaves no file at the copy's place; the next fetch clears what it left and
// places a whole, checked copy.
func TestLocalDaysFetchKilledLeavesNoHalfFile(t *testing.T) {
	if os.Getenv("LOCALDAYS_FETCH_CHILD") != "" {
		t.Skip("the child runs TestLocalDaysFetchChild")
	}
	d := newLocalDaysStore(t)
	d.publish(t, 1, 0)
	onDisk := d.onDisk(t)
	var victim lake.DataFile
	for day, files := range d.days(t) {
		if !slices.Contains(onDisk, day) {
			victim = files[0]
		}
	}
	if victim.Path == "" {
		t.Fatal("no day left the disk")
	}
	for run := range 3 {
		started, release := d.s3.Stall("lake/auditlake/prod-trail/"+victim.Path, int(victim.Bytes/2))
		cmd := exec.Command(os.Args[0], "-test.run=^TestLocalDaysFetchChild$", "-test.v")
		cmd.Env = append(os.Environ(), "LOCALDAYS_FETCH_CHILD=1", "LOCALDAYS_DIR="+d.lk.Dir, "LOCALDAYS_STORE="+d.st.ID, "LOCALDAYS_FILE="+victim.Path)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			t.Fatalf("run %d: the child never fetched: %s", run, out.String())
		}
		time.Sleep(100 * time.Millisecond) // the child writes what it got
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		release()
		if _, err := os.Stat(d.lk.CachePath(d.st.ID, victim.Path)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("run %d: after SIGKILL during the fetch the copy's place holds a file (%v)", run, err)
		}
		if size, files := d.lk.CacheUsage(d.st.ID); files != 0 {
			t.Fatalf("run %d: the cache counts %d files, %d bytes", run, files, size)
		}
	}
	paths, releaseCopy, err := d.lk.Local(context.Background(), d.st.ID, []string{victim.Path})
	defer releaseCopy()
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(paths[0]); err != nil || st.Size() != victim.Bytes {
		t.Fatalf("the fetch after the kills placed %v (%v); want %d bytes", st, err, victim.Bytes)
	}
	left, _ := os.ReadDir(filepath.Join(d.lk.CacheDir(d.st.ID), "tmp"))
	if len(left) != 0 {
		t.Fatalf("the killed fetches' temporary files stayed: %v", left)
	}
}

// TestLocalDaysFetchChild is the process TestLocalDaysFetchKilledLeavesNoHalfFile kills.
func TestLocalDaysFetchChild(t *testing.T) {
	if os.Getenv("LOCALDAYS_FETCH_CHILD") == "" {
		t.Skip("run by TestLocalDaysFetchKilledLeavesNoHalfFile")
	}
	lk, err := lake.Open(os.Getenv("LOCALDAYS_DIR"))
	if err != nil {
		t.Fatal(err)
	}
	_, release, err := lk.Local(context.Background(), os.Getenv("LOCALDAYS_STORE"), []string{os.Getenv("LOCALDAYS_FILE")})
	release()
	t.Log("fetched:", err)
}

func mustManifest(t *testing.T, lk *lake.Lake, st lake.Store) *lake.Manifest {
	t.Helper()
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// since are the counts of now beyond those of before.
func since(now, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range now {
		if n > before[k] {
			out[k] = n - before[k]
		}
	}
	return out
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestLocalDaysRestrictedPrincipalSeesTheSameRows: a principal with a column- and row-filtered
// grant reads the same rows of a store whose old days are on S3 only as before eviction.
func TestLocalDaysRestrictedPrincipalSeesTheSameRows(t *testing.T) {
	ctx := context.Background()
	d := newLocalDaysStore(t)
	bob := d.restrictedBob(t)
	asBob := func() string {
		t.Helper()
		s, err := query.Open(ctx, d.lk, query.Options{Principal: bob})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		res, err := s.Run(ctx, `SELECT * FROM "aws:cloudtrail"."prod-trail" ORDER BY eventid`)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) == 0 {
			t.Fatal("bob sees no row; the test needs some")
		}
		return fmt.Sprint(res.Columns, res.Rows)
	}
	want := asBob()
	d.publish(t, 1, 0)
	if len(d.onDisk(t)) == len(d.days(t)) {
		t.Fatal("nothing left the disk")
	}
	if got := asBob(); got != want {
		t.Fatalf("bob's rows after eviction differ:\n%.300s\nwant\n%.300s", got, want)
	}
}

// TestLocalDaysRepairKeepsTheFilesOnS3: eds repair of a store whose old days are on S3 only
// keeps them — with its manifest (not "missing") and with its manifest lost (described again
// from checked copies) — and the store reads the same rows.
func TestLocalDaysRepairKeepsTheFilesOnS3(t *testing.T) {
	ctx := context.Background()
	d := newLocalDaysStore(t)
	const all = "SELECT eventid, eventtime, eventname FROM {store} ORDER BY eventid"
	want, err := d.run(t, all)
	if err != nil {
		t.Fatal(err)
	}
	files := len(mustManifest(t, d.lk, d.st).Files)
	d.publish(t, 1, 0)
	onDisk := len(d.onDisk(t))
	if onDisk == len(d.days(t)) {
		t.Fatal("nothing left the disk")
	}
	repair := func(step string) {
		t.Helper()
		db, err := engine.Open(ctx, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		res, err := d.lk.Repair(ctx, db, d.st.ID)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		// (Without a manifest, the compaction's retired inputs still on disk are set aside as
		// redundant, as for any store; no file on S3 only may be.)
		r, err := d.lk.ReadRemote(d.st.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Dropped {
			if _, onS3 := r.Files[f.Path]; onS3 {
				t.Fatalf("%s: repair dropped %s, a file on S3 only (%s)", step, f.Path, f.Problem)
			}
		}
		if got := len(mustManifest(t, d.lk, d.st).Files); got != files {
			t.Fatalf("%s: the manifest names %d files, want %d", step, got, files)
		}
		if got := len(d.onDisk(t)); got != onDisk {
			t.Fatalf("%s: %d days on the disk, want %d (repair does not bring days back)", step, got, onDisk)
		}
		if got, err := d.run(t, all); err != nil || got != want {
			t.Fatalf("%s: the store reads differently (%v)", step, err)
		}
	}
	repair("repair with the manifest")
	if err := os.Remove(filepath.Join(d.lk.StoreDir(d.st.ID), "manifest.json")); err != nil {
		t.Fatal(err)
	}
	repair("repair of a lost manifest")
}

// evictedDays are the days before the local cutoff with no file on the disk, in order.
func (d *localDaysStore) evictedDays(t *testing.T) []string {
	t.Helper()
	cutoff := iceberg.LocalCutoff(d.now, 1)
	var out []string
	for day := range d.days(t) {
		if day < cutoff && !slices.Contains(d.onDisk(t), day) {
			out = append(out, day)
		}
	}
	slices.Sort(out)
	return out
}

// restrictedBob is a principal with a column- and row-filtered grant on the store.
func (d *localDaysStore) restrictedBob(t *testing.T) *access.Principal {
	t.Helper()
	ctx := context.Background()
	reg := access.Open(d.lk.Dir)
	if _, err := reg.CreateUser("bob", false, nil); err != nil {
		t.Fatal(err)
	}
	g := access.Grant{Privilege: access.Select, Principal: "user:bob", Resource: "store:" + d.st.ID,
		Columns: []string{"eventid", "eventtime", "eventname"}, RowFilter: "eventsource = 'ec2.amazonaws.com'"}
	if _, err := reg.AddGrant(g, func(g *access.Grant) error { return query.CheckGrant(ctx, d.lk, g) }); err != nil {
		t.Fatal(err)
	}
	bob, err := reg.Principal("user:bob")
	if err != nil {
		t.Fatal(err)
	}
	return bob
}

// TestLocalDaysRestrictedSessionFetchesPerStatement: a restricted principal's session fetches
// nothing when it opens; a one-day query of an old day fetches that day's objects and no
// other's, and every query returns what the principal saw before eviction (the grant's rows
// and columns only); a statement over every day fetches the rest. A principal who sees
// eventtime on part of the rows only reads the same rows as before eviction.
func TestLocalDaysRestrictedSessionFetchesPerStatement(t *testing.T) {
	ctx := context.Background()
	d := newLocalDaysStore(t)
	bob := d.restrictedBob(t)
	days := d.days(t)
	asBob := func(s *query.Session, sql string) string {
		t.Helper()
		res, err := s.Run(ctx, strings.ReplaceAll(sql, "{store}", `"aws:cloudtrail"."prod-trail"`))
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return fmt.Sprint(res.Columns, res.Rows)
	}
	whole := "SELECT * FROM {store} ORDER BY eventid"
	open := func() *query.Session {
		t.Helper()
		s, err := query.Open(ctx, d.lk, query.Options{Principal: bob})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	want := map[string]string{whole: asBob(s, whole)}
	for day := range days {
		want[dayQuery(day)] = asBob(s, dayQuery(day))
	}
	s.Close()
	// carol sees eventtime on the rows of one grant only (masked on the other's): a condition
	// on it says nothing about the stored times, and her queries read what they read before.
	reg := access.Open(d.lk.Dir)
	if _, err := reg.CreateUser("carol", false, nil); err != nil {
		t.Fatal(err)
	}
	for _, g := range []access.Grant{
		{Privilege: access.Select, Principal: "user:carol", Resource: "store:" + d.st.ID, Columns: []string{"eventid", "eventname"}},
		{Privilege: access.Select, Principal: "user:carol", Resource: "store:" + d.st.ID, Columns: []string{"eventid", "eventname", "eventtime"}, RowFilter: "eventsource = 'ec2.amazonaws.com'"},
	} {
		if _, err := reg.AddGrant(g, func(g *access.Grant) error { return query.CheckGrant(ctx, d.lk, g) }); err != nil {
			t.Fatal(err)
		}
	}
	carol, err := reg.Principal("user:carol")
	if err != nil {
		t.Fatal(err)
	}
	asCarol := func(sql string) string {
		t.Helper()
		s, err := query.Open(ctx, d.lk, query.Options{Principal: carol})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return asBob(s, sql)
	}
	carolQueries := []string{"SELECT count(*), count(eventtime), min(eventid), max(eventid) FROM {store}"}
	for day := range days {
		carolQueries = append(carolQueries, "SELECT count(*), min(eventid), max(eventid) FROM {store} WHERE eventtime >= TIMESTAMP '"+day+" 00:00:00' OR eventtime IS NULL")
	}
	if got := asCarol("SELECT count(*) > count(eventtime) AND count(eventtime) > 0 FROM {store}"); !strings.Contains(got, "[[true]]") {
		t.Fatalf("carol sees eventtime on every row or none (%s); the test needs it masked on some", got)
	}
	carolWant := map[string]string{}
	for _, q := range carolQueries {
		carolWant[q] = asCarol(q)
	}
	if strings.Contains(want[whole], "eventsource") || !strings.Contains(want[whole], "eventname") {
		t.Fatalf("bob's view is not restricted to his columns; the test needs it to be: %.200s", want[whole])
	}
	d.publish(t, 1, 0)
	evicted := d.evictedDays(t)
	if len(evicted) < 2 {
		t.Fatalf("evicted days %v; the test needs two", evicted)
	}
	before := d.s3.Gets(localDaysObjects)
	s = open()
	defer s.Close()
	if got := since(d.s3.Gets(localDaysObjects), before); len(got) != 0 {
		t.Fatalf("the restricted session fetched %v when it opened", got)
	}
	day := evicted[0]
	if got := asBob(s, dayQuery(day)); got != want[dayQuery(day)] {
		t.Fatalf("bob's query of day %s after eviction:\n%.300s\nwant\n%.300s", day, got, want[dayQuery(day)])
	}
	fetched := since(d.s3.Gets(localDaysObjects), before)
	for _, f := range days[day] {
		if fetched["lake/auditlake/prod-trail/"+f.Path] != 1 {
			t.Fatalf("the query of day %s did not fetch its file %s once: %v", day, f.Path, fetched)
		}
	}
	if len(fetched) != len(days[day]) {
		t.Fatalf("the query of day %s fetched %v; want only its %d files", day, fetched, len(days[day]))
	}
	if got := asBob(s, whole); got != want[whole] {
		t.Fatalf("bob's whole query after eviction:\n%.300s\nwant\n%.300s", got, want[whole])
	}
	for _, day := range evicted[1:] {
		if got := asBob(s, dayQuery(day)); got != want[dayQuery(day)] {
			t.Fatalf("bob's query of day %s after eviction:\n%.300s\nwant\n%.300s", day, got, want[dayQuery(day)])
		}
	}
	for _, q := range carolQueries {
		if got := asCarol(q); got != carolWant[q] {
			t.Fatalf("carol's %s after eviction:\n%.300s\nwant\n%.300s", q, got, carolWant[q])
		}
	}
	// The raw view is not reachable by its name, and the principal cannot widen its view.
	if _, err := s.Run(ctx, `SELECT eventsource FROM "aws:cloudtrail"."prod-trail"`); err == nil {
		t.Fatal("bob reads a column his grant does not give after a fetch")
	}
}

// TestLocalDaysStatementBeyondTheCacheSizeIsTrimmedAfter: a statement over every day with a
// cache smaller than one day's files reads every row, and once its result is read the cache is
// back within its size.
func TestLocalDaysStatementBeyondTheCacheSizeIsTrimmedAfter(t *testing.T) {
	d := newLocalDaysStore(t)
	const whole = "SELECT count(*), count(DISTINCT eventid), min(eventid), max(eventid) FROM {store}"
	want, err := d.run(t, whole)
	if err != nil {
		t.Fatal(err)
	}
	var smallest int64 = 1 << 62
	for _, files := range d.days(t) {
		for _, f := range files {
			smallest = min(smallest, f.Bytes)
		}
	}
	limit := smallest / 2 // not even one file fits
	d.publish(t, 1, limit)
	if len(d.evictedDays(t)) < 2 {
		t.Fatal("fewer than two days left the disk; the test needs two")
	}
	for round := range 2 {
		if got, err := d.run(t, whole); err != nil || got != want {
			t.Fatalf("round %d: the whole store with a cache smaller than a file: %s, %v; want %s", round, got, err, want)
		}
		if size, files := d.lk.CacheUsage(d.st.ID); size > limit {
			t.Fatalf("round %d: after the statement the cache holds %d bytes in %d files, its size is %d", round, size, files, limit)
		}
	}
}

// TestLocalDaysStoreWithNoLocalFileIsNotPinnedByAnIdleSession: a store all of whose files are
// on S3 only binds its view over one fetched copy; an open session that is not running a
// statement (a pooled one) holds no copy, so the cache may drop it, and the session's next
// statements fetch what they need again and return the same rows.
func TestLocalDaysStoreWithNoLocalFileIsNotPinnedByAnIdleSession(t *testing.T) {
	ctx := context.Background()
	d := newLocalDaysStore(t)
	const whole = "SELECT count(*), count(DISTINCT eventid), min(eventid), max(eventid) FROM {store}"
	want, err := d.run(t, whole)
	if err != nil {
		t.Fatal(err)
	}
	d.publish(t, 1, 0)
	// Every other file too on S3 only (they are uploaded: the publication's objects).
	r, err := d.lk.ReadRemote(d.st.ID)
	if err != nil {
		t.Fatal(err)
	}
	m := mustManifest(t, d.lk, d.st)
	for _, f := range m.Files {
		if _, ok := r.Files[f.Path]; ok {
			continue
		}
		b, err := os.ReadFile(d.lk.AbsPath(d.st.ID, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(b)
		r.Files[f.Path] = lake.RemoteFile{URI: d.pub.Object(f.Path), Size: int64(len(b)), MD5: hex.EncodeToString(sum[:])}
	}
	w, err := d.lk.BeginWrite(d.st.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.lk.Evict(d.st.ID, r)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.onDisk(t)) != 0 {
		t.Fatalf("days %v still on the disk; the test needs none", d.onDisk(t))
	}
	s, err := query.Open(ctx, d.lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run := func(step string) {
		t.Helper()
		res, err := s.Run(ctx, strings.ReplaceAll(whole, "{store}", `"aws:cloudtrail"."`+d.st.ID+`"`))
		if err != nil || fmt.Sprint(res.Rows) != want {
			t.Fatalf("%s: %v, %v; want %s", step, res, err, want)
		}
	}
	run("first statement")
	// Idle: no copy is held; each can be taken exclusively (what the cache's eviction does).
	held := 0
	filepath.WalkDir(d.lk.CacheDir(d.st.ID), func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			held++
		} else if err := os.Remove(p); err != nil { // the cache drops it
			t.Fatal(err)
		}
		return nil
	})
	if held != 0 {
		t.Fatalf("an idle session holds %d copies", held)
	}
	if size, _ := d.lk.CacheUsage(d.st.ID); size != 0 {
		t.Fatalf("the cache still holds %d bytes after dropping every copy", size)
	}
	run("a statement after the cache dropped every copy")
}
