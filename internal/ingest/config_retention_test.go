package ingest_test

import (
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/configitems/configtest"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// configItem is a minimal Config item of resource id captured daysAgo days before now.
func configItem(id string, daysAgo int, now time.Time) map[string]any {
	return configtest.FileStyle(map[string]any{
		"resourceType": "AWS::AutoScaling::AutoScalingGroup", "resourceId": id, "resourceName": id,
		"accountId": "111122223333", "awsRegion": "us-east-1", "configurationItemStatus": "OK",
		"configurationItemCaptureTime": now.AddDate(0, 0, -daysAgo).Format(time.RFC3339),
		"configuration":                map[string]any{"autoScalingGroupName": id},
	})
}

// storedItems counts the stored items of each resource of the test.
func storedItems(t *testing.T, lk *lake.Lake, st lake.Store) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	for _, id := range []string{"unchanged", "changing", "recent"} {
		got[id] = count(t, lk, "SELECT count(*) FROM "+query.StoreTable(st.ID)+" WHERE eventdata.resourceid = '"+id+"'")
	}
	return got
}

func purgeConfig(t *testing.T, lk *lake.Lake, st lake.Store) lake.PurgeResult {
	t.Helper()
	ctx := context.Background()
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	db, err := engine.Open(ctx, engine.Options{TempDir: lk.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := lake.Purge(ctx, db, w, st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestConfigRetentionKeepsTheLatestItemOfEachResource reproduces issue 15.18: Config ingest did
// not apply the store's retention, and purging by capture time alone would delete the only item
// of a resource unchanged for longer than the retention — the item the Config rule evaluates.
// Ingest leaves out old items superseded by newer ones, purge deletes old items but keeps each
// resource's latest, and a second purge changes nothing.
func TestConfigRetentionKeepsTheLatestItemOfEachResource(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	items := []map[string]any{
		configItem("unchanged", 400, now), // the only item, far older than 30 days: kept
		configItem("changing", 400, now), configItem("changing", 200, now), configItem("changing", 5, now),
		configItem("recent", 10, now),
	}
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "history.json"), configtest.History(items...))

	// At ingest, into a store of 30 days.
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("config-30", lake.CreateOptions{Type: lake.TypeConfig, RetentionDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := ingest.Config(ctx, lk, st, ingest.Options{Sources: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	checkArithmetic(t, "config ingest", sum)
	if sum.EventsAdded != 3 || sum.OutsideRetention != 2 {
		t.Errorf("ingest: %d added, %d outside retention; want 3 (unchanged, changing now, recent) and 2", sum.EventsAdded, sum.OutsideRetention)
	}
	want := map[string]int64{"unchanged": 1, "changing": 1, "recent": 1}
	if got := storedItems(t, lk, st); !maps.Equal(got, want) {
		t.Errorf("after ingest the store holds %v, want %v", got, want)
	}

	// By purge, in a store that kept everything until its retention was lowered.
	st2, err := lk.Create("config-long", lake.CreateOptions{Type: lake.TypeConfig, RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := ingest.Config(ctx, lk, st2, ingest.Options{Sources: []string{src}}); err != nil || sum.EventsAdded != 5 {
		t.Fatalf("ingest into a long retention: %v, %+v", err, sum)
	}
	st2.RetentionDays = 30
	res := purgeConfig(t, lk, st2)
	if res.Events != 2 {
		t.Errorf("purge deleted %d items, want the 2 old items of 'changing'", res.Events)
	}
	if got := storedItems(t, lk, st2); !maps.Equal(got, want) {
		t.Errorf("after purge the store holds %v, want %v", got, want)
	}
	if again := purgeConfig(t, lk, st2); again.Events != 0 || again.FilesRewitten != 0 || again.FilesDropped != 0 {
		t.Errorf("a second purge changed the store: %+v", again)
	}
	// A new item of the long-unchanged resource makes the old one purgeable.
	writeFile(t, filepath.Join(src, "later.json"), configtest.History(configItem("unchanged", 1, now)))
	if _, err := ingest.Config(ctx, lk, st2, ingest.Options{Sources: []string{src}}); err != nil {
		t.Fatal(err)
	}
	if res := purgeConfig(t, lk, st2); res.Events != 1 {
		t.Errorf("after a newer item arrived, purge deleted %d items, want the old 'unchanged' one", res.Events)
	}
	if got := storedItems(t, lk, st2); !maps.Equal(got, want) {
		t.Errorf("after the second purge the store holds %v, want %v", got, want)
	}
}

// TestConfigFileWithBadItemsStaysFailedUntilItChanges: as for CloudTrail files (issue 15.13), a
// Config file with a bad item keeps its good items and is read and reported again by every
// ingest until it changes; then it is complete and skipped.
func TestConfigFileWithBadItemsStaysFailedUntilItChanges(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	src := t.TempDir()
	path := filepath.Join(src, "history.json")
	item := configItem("recent", 1, now)
	bad, err := json.Marshal(map[string]any{"fileVersion": "1.0", "configurationItems": []any{item, 42}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, bad)
	good := configtest.History(item)
	lk, st := configStore(t)
	for run := 1; run <= 2; run++ {
		sum, err := ingest.Config(ctx, lk, st, ingest.Options{Sources: []string{src}})
		if err != nil {
			t.Fatal(err)
		}
		checkArithmetic(t, "bad item", sum)
		if sum.FilesFailed != 1 || sum.FilesSkipped != 0 || !sum.Partial() || sum.BadRecords != 1 {
			t.Fatalf("run %d: %d failed, %d skipped, %d bad; want the file failed again with its bad item", run, sum.FilesFailed, sum.FilesSkipped, sum.BadRecords)
		}
	}
	writeFile(t, path, good)
	sum, err := ingest.Config(ctx, lk, st, ingest.Options{Sources: []string{src}})
	if err != nil || sum.FilesIngested != 1 || sum.Partial() || sum.Duplicates != 1 {
		t.Fatalf("the repaired file: %v %+v", err, sum)
	}
	if sum, err := ingest.Config(ctx, lk, st, ingest.Options{Sources: []string{src}}); err != nil || sum.FilesSkipped != 1 {
		t.Fatalf("the repaired file read whole is skipped next time: %v %+v", err, sum)
	}
}
