package alerts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/rules/rulestest"
)

// notified is a run's notifications as "group count" lines, sorted.
func notified(res alerts.Result) []string {
	var out []string
	for _, n := range res.Notified {
		out = append(out, fmt.Sprintf("%s %s %d", n.Rule, n.EventTime.UTC().Format(time.RFC3339Nano), n.Count))
	}
	sort.Strings(out)
	return out
}

// listing is the alerts store's listing (auditlake alerts), as text.
func listing(t *testing.T, lk *lake.Lake) []string {
	t.Helper()
	res := queryAlerts(t, lk, func(s *query.Session, st lake.Store) (string, []any) {
		return alerts.ListSQL(s, st, alerts.Filter{})
	})
	var out []string
	for _, r := range res.Rows {
		out = append(out, fmt.Sprint(r[:len(r)-1]...)) // the alert id depends on the store's id
	}
	sort.Strings(out)
	return out
}

// queryAlerts runs the query q makes over lk's alerts store, in a session of its own.
func queryAlerts(t *testing.T, lk *lake.Lake, q func(*query.Session, lake.Store) (string, []any)) *engine.Result {
	t.Helper()
	ctx := context.Background()
	st, err := alerts.Store(lk)
	if err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sql, args := q(s, st)
	res, err := s.RunInternal(ctx, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// ackOldest acknowledges the oldest alert.
func ackOldest(ctx context.Context, lk *lake.Lake) error {
	st, err := alerts.Store(lk)
	if err != nil {
		return err
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		return err
	}
	sql, args := alerts.ListSQL(s, st, alerts.Filter{})
	res, err := s.RunInternal(ctx, sql, args...)
	s.Close()
	if err != nil || len(res.Rows) == 0 {
		return fmt.Errorf("no alert to acknowledge (%v)", err)
	}
	last := res.Rows[len(res.Rows)-1]
	_, err = alerts.SetStatus(ctx, lk, fmt.Sprint(last[len(last)-1]), alerts.StatusAcknowledged, "tester", time.Now())
	return err
}

// compactAlerts merges the alerts store's files (they are replaced: a kept lookup of its
// groups must start again).
func compactAlerts(t *testing.T, lk *lake.Lake) {
	t.Helper()
	st, err := alerts.Store(lk)
	if err != nil {
		t.Fatal(err)
	}
	compactStore(t, lk, st.ID)
}

// alertFiles is store id's live files.
func alertFiles(t *testing.T, lk *lake.Lake, id string) []lake.DataFile {
	t.Helper()
	m, err := lk.ReadManifest(id)
	if err != nil {
		t.Fatal(err)
	}
	return m.Files
}

// compactStore merges store id's files (lake.Compact, forced), and returns how many it merged.
func compactStore(t *testing.T, lk *lake.Lake, id string) int {
	t.Helper()
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "256MB", TempDir: lk.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, err := lk.BeginWrite(id)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	merged, err := lake.Compact(ctx, db, w, true)
	if err != nil {
		t.Fatal(err)
	}
	return merged
}

// TestKeptEvaluationsEqualFreshOnes: a Watcher's evaluations keep one session, one commit
// engine and the alert groups the store holds between commits. Commit by commit (the stratus
// detonations, a few files each, rules grouped by principal over 7 days so that groups span
// commits), they find the same alerts and notify the same groups as Process opening everything
// afresh — also after another writer added records to the alerts store (status changes) and
// after its files were replaced (compaction) — read the alerts store only for files they did
// not write themselves, and hold no store's read lock between evaluations.
func TestKeptEvaluationsEqualFreshOnes(t *testing.T) {
	keptEqualsFresh(t, false)
}

// TestKeptEvaluationsThatMergeTheAlertsStoreEqualFreshOnes: the same, with the kept
// evaluations' commits merging each day of the alerts store past two small files
// (lake.MergeSmall; a commit an evaluation left thousands of files a day under collect): the
// same alerts and notifications, no day past three files, and the merged files neither read
// again for their groups nor reset the kept groups.
func TestKeptEvaluationsThatMergeTheAlertsStoreEqualFreshOnes(t *testing.T) {
	keptEqualsFresh(t, true)
}

func keptEqualsFresh(t *testing.T, merge bool) {
	ctx := context.Background()
	dir := filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Each file's records in two halves, committed one after the other: a group's events
	// (a principal's calls within the window) span commits.
	var files []string
	halves := t.TempDir()
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var recs []json.RawMessage // the samples are arrays of records
		if err := json.Unmarshal(data, &recs); err != nil || len(recs) < 2 {
			files = append(files, filepath.Join(dir, e.Name()))
			continue
		}
		half := len(recs) / 2
		for i, part := range [][]json.RawMessage{recs[:half], recs[half:]} {
			b, err := json.Marshal(map[string]any{"Records": part})
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(halves, fmt.Sprintf("%d-%s", i, e.Name()))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, p)
		}
	}
	keptLake, keptStore := goEvalLake(t)
	freshLake, freshStore := goEvalLake(t)
	for _, lk := range []*lake.Lake{keptLake, freshLake} {
		all, err := rules.List(lk)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range all {
			if _, err := rules.Remove(lk, r.ID); err != nil {
				t.Fatal(err)
			}
			r.Window = "7d"
			if _, err := rules.Add(ctx, lk, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := alerts.Begin(keptLake, keptStore); err != nil {
		t.Fatal(err)
	}
	if err := alerts.Begin(freshLake, freshStore); err != nil {
		t.Fatal(err)
	}
	k := &alerts.Kept{}
	defer k.Close()
	suppressed := 0
	if merge {
		alerts.SetSmallFilesPerDay(t, 2) // the fresh evaluations merge as well: equal stores
	}
	merges := 0
	for step, from := 0, 0; from < len(files); step, from = step+1, from+6 {
		chunk := files[from:min(from+6, len(files))]
		for _, lk := range []*lake.Lake{keptLake, freshLake} {
			st := keptStore
			if lk == freshLake {
				st = freshStore
			}
			if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: chunk}); err != nil {
				t.Fatal(err)
			}
			switch step {
			case 2: // another writer: a status change of the first alert
				if err := ackOldest(ctx, lk); err != nil {
					t.Fatal(err)
				}
			case 4:
				compactAlerts(t, lk)
			}
		}
		readBefore := k.GroupFilesRead()
		alertStore, err := alerts.Store(keptLake)
		if err != nil {
			t.Fatal(err)
		}
		filesBefore := alertFiles(t, keptLake, alertStore.ID)
		got, err := alerts.ProcessKept(ctx, keptLake, keptStore, k)
		if err != nil {
			t.Fatal(err)
		}
		perDay := map[string]int{}
		after := alertFiles(t, keptLake, alertStore.ID)
		for _, f := range after {
			perDay[f.Date]++
			if merge && perDay[f.Date] > 3 {
				t.Errorf("step %d: %d files on %s in the alerts store, want at most 3", step, perDay[f.Date], f.Date)
			}
		}
		for _, f := range filesBefore {
			if !slices.ContainsFunc(after, func(g lake.DataFile) bool { return g.Path == f.Path }) && step != 4 {
				merges++
			}
		}
		// The groups of the alerts it committed are known: it reads only the files others
		// wrote (step 2: a status change) or that replaced those it knew (step 4).
		switch read := k.GroupFilesRead() - readBefore; {
		case (step == 2 || step == 4) && read == 0:
			t.Errorf("step %d: the alerts store's new files were not read for their groups", step)
		case step != 2 && step != 4 && read > 0:
			t.Errorf("step %d: %d files of the alerts store read for their groups, all of them written by the evaluations", step, read)
		}
		want, err := alerts.Process(ctx, freshLake, freshStore)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rulestest.AlertKeys(got.New), rulestest.AlertKeys(want.New)) || !slices.Equal(notified(got), notified(want)) {
			t.Errorf("step %d: kept: %d alerts, notified %v; fresh: %d alerts, notified %v", step, len(got.New), notified(got), len(want.New), notified(want))
		}
		groups := map[string]bool{}
		for _, a := range got.New {
			groups[a.Group] = true
		}
		suppressed += len(groups) - len(got.Notified)
		if keptLake.ReadersActive(keptStore.ID) || keptLake.ReadersActive(alertStore.ID) {
			t.Errorf("step %d: a read lock is held between evaluations", step)
		}
	}
	if suppressed == 0 {
		t.Error("no group was found again in a later commit: the kept groups are not tested")
	}
	// What it keeps lives as long as serve or collect and reads each file about once: DuckDB's
	// file caches, which grew the process with each new file, are off.
	if on, open, err := k.FileCaches(ctx); err != nil || on || open != 2 {
		t.Errorf("kept engines: file caches on %v (%d of 2 open), %v", on, open, err)
	}
	if merge != (merges > 0) {
		t.Errorf("%d files of the alerts store merged by the evaluations (merging %v)", merges, merge)
	}
	if got, want := listing(t, keptLake), listing(t, freshLake); len(got) == 0 || !slices.Equal(got, want) {
		t.Errorf("listings differ:\nkept  %v\nfresh %v", got, want)
	}
}
