package alerts_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/sigma"
)

// goEvalLake is a lake with the community Sigma rules and the built-ins but launch-compliance
// registered, and an empty store.
func goEvalLake(t *testing.T) (*lake.Lake, lake.Store) {
	t.Helper()
	lk, err := lake.Open(filepath.Join(t.TempDir(), "lake"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("trail", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	compiled, _, err := sigma.Load(filepath.Join("..", "..", "testdata", "sigma-aws-cloudtrail-rules", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	rs := rules.FromSigma(compiled)
	for _, b := range rules.Builtins {
		if b.Name != rules.LaunchCompliance {
			rs = append(rs, rules.Rule{ID: b.Name, Title: b.Title, Kind: rules.KindBuiltin, Builtin: b.Name, Severity: b.Severity, Enabled: true})
		}
	}
	if _, err := rules.Add(context.Background(), lk, rs...); err != nil {
		t.Fatal(err)
	}
	return lk, st
}

func alertIDs(as []alerts.Alert) []string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.Rule+" "+a.EventTime.String()+" "+strings.Join(a.EventIDs, ","))
	}
	slices.Sort(ids)
	return ids
}

// TestWatcherGoEvaluationEqualsSQL ingests the stratus-red-team detonations twice: once with a
// watcher evaluating the rules in Go on the records as they are written, once with the SQL
// evaluation of the committed files (Process): the same alerts. A rule changed between the
// records' evaluation and the commit's (here: grouped otherwise) is evaluated in SQL, never
// from a stale Go result; and a second evaluation adds nothing.
func TestWatcherGoEvaluationEqualsSQL(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")
	const changed = "cloudtrail-logging-stopped"

	sqlLake, sqlStore := goEvalLake(t)
	if err := alerts.Begin(sqlLake, sqlStore); err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(ctx, sqlLake, sqlStore, ingest.Options{Sources: []string{src}, BatchRows: 500}); err != nil {
		t.Fatal(err)
	}
	if err := setGrouping(sqlLake, changed); err != nil {
		t.Fatal(err)
	}
	want, err := alerts.Process(ctx, sqlLake, sqlStore)
	if err != nil {
		t.Fatal(err)
	}

	goLake, goStore := goEvalLake(t)
	w, err := alerts.Watch(ctx, goLake, goStore, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Written only: the commits are evaluated once, after the rule changed.
	if _, err := ingest.CloudTrail(ctx, goLake, goStore, ingest.Options{Sources: []string{src}, BatchRows: 500, Written: w.Written}); err != nil {
		t.Fatal(err)
	}
	if err := setGrouping(goLake, changed); err != nil {
		t.Fatal(err)
	}
	w.Notify()
	got, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(want.New) == 0 || got.Matched != want.Matched || !slices.Equal(alertIDs(got.New), alertIDs(want.New)) {
		t.Errorf("Go: %d alerts (%d events), SQL: %d (%d events)\n%v\n%v", len(got.New), got.Matched, len(want.New), want.Matched,
			alertIDs(got.New), alertIDs(want.New))
	}
	byEvent := 0
	for _, a := range got.New {
		if a.Rule == changed {
			byEvent++
			if len(a.EventIDs) != 1 || (a.Group != "" && a.Group != a.ID) {
				t.Errorf("%s alert %s grouped as before the change (group %s)", changed, a.ID, a.Group)
			}
		}
	}
	if byEvent == 0 {
		t.Errorf("no %s alert: the change is not tested", changed)
	}
	again, err := alerts.Process(ctx, goLake, goStore)
	if err != nil || len(again.New) > 0 {
		t.Errorf("evaluated again: %d new alerts, %v", len(again.New), err)
	}
}

// setGrouping groups rule id's alerts one per event.
func setGrouping(lk *lake.Lake, id string) error {
	r, err := rules.Get(lk, id)
	if err != nil {
		return err
	}
	if _, err := rules.Remove(lk, id); err != nil {
		return err
	}
	r.GroupBy = "event"
	_, err = rules.Add(context.Background(), lk, r)
	return err
}
