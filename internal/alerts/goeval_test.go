package alerts_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/rules/rulestest"
)

// goEvalLake is a lake with the community Sigma rules and the built-ins but launch-compliance
// registered, and an empty store.
func goEvalLake(t *testing.T) (*lake.Lake, lake.Store) {
	t.Helper()
	lk, st := rulestest.EmptyLake(t)
	rulestest.AddEveryGoRule(t, lk)
	return lk, st
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

	want := sqlAlerts(t, src, 500, func(lk *lake.Lake) error { return setGrouping(lk, changed) })

	goLake, goStore := goEvalLake(t)
	w := keptWatch(t, ctx, goLake, goStore)
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
	if len(want.New) == 0 || got.Matched != want.Matched || !slices.Equal(rulestest.AlertKeys(got.New), rulestest.AlertKeys(want.New)) {
		t.Errorf("Go: %d alerts (%d events), SQL: %d (%d events)\n%v\n%v", len(got.New), got.Matched, len(want.New), want.Matched,
			rulestest.AlertKeys(got.New), rulestest.AlertKeys(want.New))
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

// sqlAlerts ingests src in batches of batchRows into a goEvalLake, then (after change, when
// set) evaluates its commits in SQL (Process): the reference the Go evaluation must equal.
func sqlAlerts(t *testing.T, src string, batchRows int, change func(*lake.Lake) error) alerts.Result {
	t.Helper()
	ctx := context.Background()
	lk, st := goEvalLake(t)
	if err := alerts.Begin(lk, st); err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: []string{src}, BatchRows: batchRows}); err != nil {
		t.Fatal(err)
	}
	if change != nil {
		if err := change(lk); err != nil {
			t.Fatal(err)
		}
	}
	want, err := alerts.Process(ctx, lk, st)
	if err != nil {
		t.Fatal(err)
	}
	return want
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

// TestWatcherMatchesEachRecordOnceAsDecoded ingests the detonations in many small batches with
// the watcher's hooks (Hook: the rules match each record in the decoding workers, Written
// gathers the verdicts per data file, a file held across batches a part at a time): every
// record written was matched as it was decoded, exactly once, and reached Written exactly
// once, and the alerts are the SQL evaluation's. A batch whose matching were skipped, or done
// twice, or a held file's part lost or counted twice, fails here.
func TestWatcherMatchesEachRecordOnceAsDecoded(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")

	want := sqlAlerts(t, src, 40, nil)

	goLake, goStore := goEvalLake(t)
	w := keptWatch(t, ctx, goLake, goStore)
	var mu sync.Mutex
	decoded, written := map[*cloudtrail.Record]int{}, map[*cloudtrail.Record]int{}
	batches := 0
	parts := map[string]int{} // batches that wrote into each file
	opts := ingest.Options{Sources: []string{src}, BatchRows: 40}
	w.Hook(&opts)
	decode, write := opts.Decoded, opts.Written
	opts.Decoded = func(r *cloudtrail.Record) {
		decode(r)
		mu.Lock()
		decoded[r]++
		mu.Unlock()
	}
	opts.Written = func(files []lake.DataFile, recs [][]*cloudtrail.Record, facts [][]lifecycle.Fact) {
		mu.Lock()
		batches++
		// The writer's facts of each file are given, as lifecycle.Of computes them.
		if facts == nil {
			t.Error("Written without the files' EC2 lifecycle facts")
		} else {
			for i := range files {
				if !reflect.DeepEqual(facts[i], lifecycle.Of(recs[i])) {
					t.Errorf("%s: Written's facts %d are not lifecycle.Of's %d", files[i].Path, len(facts[i]), len(lifecycle.Of(recs[i])))
				}
			}
		}
		for i, rs := range recs {
			parts[files[i].Path]++
			for _, r := range rs {
				written[r]++
				if r.Detected == 0 {
					t.Errorf("event %s written without its verdicts", r.EventID)
				}
			}
		}
		mu.Unlock()
		write(files, recs, facts)
	}
	sum, err := ingest.CloudTrail(ctx, goLake, goStore, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if batches < 3 || int64(len(written)) != sum.EventsAdded {
		t.Fatalf("%d batches, %d records written, %d events added: the test needs several batches", batches, len(written), sum.EventsAdded)
	}
	// Files held open across batches (lake.Writer.HoldFiles) come a batch's part at a time.
	held := 0
	for _, n := range parts {
		if n > 1 {
			held++
		}
	}
	if held == 0 {
		t.Fatalf("no file took records of two batches (%d files): held files are not tested", len(parts))
	}
	for r, n := range written {
		if n != 1 || decoded[r] != 1 {
			t.Errorf("event %s: matched %d times as decoded, written %d times", r.EventID, decoded[r], n)
		}
	}
	if len(want.New) == 0 || got.Matched != want.Matched || !slices.Equal(rulestest.AlertKeys(got.New), rulestest.AlertKeys(want.New)) {
		t.Errorf("Go: %d alerts (%d events), SQL: %d (%d events)\n%v\n%v", len(got.New), got.Matched, len(want.New), want.Matched,
			rulestest.AlertKeys(got.New), rulestest.AlertKeys(want.New))
	}
}

// TestWatcherJudgesLaunchesInGoAsTheReport: launch-compliance evaluated by a watcher (its
// verdict from the store's EC2 lifecycle facts in Go: those of the files it saw written, read
// once for the others) raises the alerts the SQL evaluation raises — on the real launches of
// the samples and the derived ones (template names, versions, fleets, Auto Scaling), and on a
// generated trail with its approved templates, ingested in many batches.
func TestWatcherJudgesLaunchesInGoAsTheReport(t *testing.T) {
	ctx := context.Background()
	td := func(p ...string) string { return filepath.Join(append([]string{"..", "..", "testdata"}, p...)...) }
	gen := generatetest.Trail(t, 3000, 12, 5)
	genApproved, err := compliance.LoadConfig(filepath.Join(gen, "approved-templates.json"))
	if err != nil {
		t.Fatal(err)
	}
	samplesApproved := &compliance.Config{Approvals: compliance.Approvals{Templates: []compliance.ApprovedTemplate{{ID: "lt-0aaaaaaaaaaaaaaa1", Versions: []string{"2"}}}}}
	for _, c := range []struct {
		name     string
		sources  []string
		approved *compliance.Config
	}{
		{"samples", []string{td("plaso-cloudtrail-lookupevents"), td("panther-analysis-cloudtrail-tests", "panther_cloudtrail_rule_tests.jsonl"),
			td("compliance-derived"), td("compliance-derived-autoscaling")}, samplesApproved},
		{"generated", []string{gen}, genApproved},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := func(goEval bool) alerts.Result {
				lk, st := rulestest.EmptyLake(t)
				b, _ := rules.BuiltinNamed(rules.LaunchCompliance)
				r := rules.Rule{ID: "non-approved-launch", Title: b.Title, Kind: rules.KindBuiltin, Builtin: rules.LaunchCompliance,
					Severity: b.Severity, Enabled: true, Approved: c.approved}
				if _, err := rules.Add(ctx, lk, r); err != nil {
					t.Fatal(err)
				}
				opts := ingest.Options{Sources: c.sources, BatchRows: 250}
				var w *alerts.Watcher
				var err error
				if goEval {
					w = keptWatch(t, ctx, lk, st)
					w.Hook(&opts)
				} else if err := alerts.Begin(lk, st); err != nil {
					t.Fatal(err)
				}
				// Some panther records are malformed on purpose: the good ones are kept.
				if sum, err := ingest.CloudTrail(ctx, lk, st, opts); sum == nil || sum.EventsAdded == 0 {
					t.Fatalf("ingest: %v", err)
				}
				if !goEval {
					res, err := alerts.Process(ctx, lk, st)
					if err != nil {
						t.Fatal(err)
					}
					return res
				}
				res, err := w.Close()
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			want, got := run(false), run(true)
			text := func(as []alerts.Alert) []string {
				var out []string
				for _, a := range as {
					out = append(out, strings.Join([]string{a.EventTime.String(), strings.Join(a.EventIDs, ","), a.Resource, a.Principal, a.Account, a.Region, a.Summary}, " | "))
				}
				slices.Sort(out)
				return out
			}
			if len(want.New) < 2 || !slices.Equal(text(got.New), text(want.New)) {
				t.Errorf("Go: %d alerts, SQL: %d\n%s\n--\n%s", len(got.New), len(want.New), strings.Join(text(got.New), "\n"), strings.Join(text(want.New), "\n"))
			}
		})
	}
}

// TestWatcherKeepsVerdictsOfFilesNotCommittedYet: ingest writes a batch's files (Written) before
// it commits them, and an evaluation may run in between (after the previous commit). That
// evaluation must leave the Go verdicts of the files it does not see yet for the evaluation of
// their commit: every file is evaluated from its verdicts, none read back in SQL, and the
// alerts are the SQL evaluation's.
func TestWatcherKeepsVerdictsOfFilesNotCommittedYet(t *testing.T) {
	ctx := context.Background()
	want, goLake, goStore, w, opts := hookedWatch(t, 60)
	opts.AfterCommit = nil // evaluated here, between each batch's write and its commit
	write := opts.Written
	batches := 0
	opts.Written = func(files []lake.DataFile, recs [][]*cloudtrail.Record, facts [][]lifecycle.Fact) {
		write(files, recs, facts)
		batches++
		w.EvaluateNow(ctx) // the commits so far; not this batch, written and not committed
	}
	if _, err := ingest.CloudTrail(ctx, goLake, goStore, opts); err != nil {
		t.Fatal(err)
	}
	got, err := w.Close() // the last batch
	if err != nil {
		t.Fatal(err)
	}
	if batches < 3 {
		t.Fatalf("%d batches: the test needs several", batches)
	}
	if got.Files == 0 || got.FromGo != got.Files {
		t.Errorf("%d of %d files evaluated from their Go verdicts; the others were read back in SQL", got.FromGo, got.Files)
	}
	if len(want.New) == 0 || got.Matched != want.Matched || !slices.Equal(rulestest.AlertKeys(got.New), rulestest.AlertKeys(want.New)) {
		t.Errorf("Go: %d alerts (%d events), SQL: %d (%d events)\n%v\n%v", len(got.New), got.Matched, len(want.New), want.Matched,
			rulestest.AlertKeys(got.New), rulestest.AlertKeys(want.New))
	}
}

// TestWatcherKeepsCountsNotAlerts: a watcher that does not keep its alerts (the CLI's: it lives
// as long as an ingest of millions of matches, or the serving process) returns their counts
// only — the same as the alerts a keeping one returns — and the alerts store holds them all.
func TestWatcherKeepsCountsNotAlerts(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")
	watch := func(keep bool) (alerts.Result, *lake.Lake) {
		lk, st := goEvalLake(t)
		w, err := alerts.Watch(ctx, lk, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.KeepAlerts = keep
		opts := ingest.Options{Sources: []string{src}, BatchRows: 100}
		w.Hook(&opts)
		if _, err := ingest.CloudTrail(ctx, lk, st, opts); err != nil {
			t.Fatal(err)
		}
		res, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		return res, lk
	}
	kept, _ := watch(true)
	counted, lk := watch(false)
	if kept.Alerts == 0 || kept.Alerts != len(kept.New) || kept.Notifications != len(kept.Notified) {
		t.Fatalf("kept: %d alerts counted, %d returned; %d notifications counted, %d returned", kept.Alerts, len(kept.New), kept.Notifications, len(kept.Notified))
	}
	if counted.New != nil || counted.Notified != nil || counted.Alerts != kept.Alerts || counted.Notifications != kept.Notifications || counted.Matched != kept.Matched {
		t.Errorf("not kept: %d alerts returned, %d counted, %d notifications returned, %d counted, %d events; kept: %d alerts, %d notifications, %d events",
			len(counted.New), counted.Alerts, len(counted.Notified), counted.Notifications, counted.Matched, kept.Alerts, kept.Notifications, kept.Matched)
	}
	if n := storedAlertRecords(t, lk); n != int64(counted.Alerts) {
		t.Errorf("the alerts store holds %d alert records, the watcher counted %d", n, counted.Alerts)
	}
}

// storedAlertRecords is the number of alert records (one per rule, group and evaluation) lk's
// alerts store holds.
func storedAlertRecords(t *testing.T, lk *lake.Lake) int64 {
	t.Helper()
	res := queryAlerts(t, lk, func(s *query.Session, st lake.Store) (string, []any) {
		return "SELECT count(*) FROM " + s.StoreRange(st.ID, time.Time{}, time.Time{}) + " AS a WHERE eventsource = ? AND eventname = 'Alert'", []any{alerts.EventSource}
	})
	n, _ := res.Rows[0][0].(int64)
	return n
}

// TestWatcherForgetsTheFilesOfAFailedCommit: the Go verdicts and lifecycle facts of a batch
// whose commit fails (one of its data files vanished between the write and the commit) leave
// the watcher when the ingest gives them up — a watcher of `collect` or `serve` lives for months
// and kept them all (only a 10-minute age dropped the verdicts, never the facts). With files
// held across batches (a commit every few batches) and with each batch committed on its own.
func TestWatcherForgetsTheFilesOfAFailedCommit(t *testing.T) {
	ctx := context.Background()
	gen := generatetest.Trail(t, 3000, 12, 5)
	for _, each := range []bool{false, true} {
		t.Run(map[bool]string{false: "held", true: "each batch"}[each], func(t *testing.T) {
			lk, st := goEvalLake(t)
			w, err := alerts.Watch(ctx, lk, st, nil)
			if err != nil {
				t.Fatal(err)
			}
			opts := ingest.Options{Sources: []string{gen}, BatchRows: 20, Workers: 1, CommitEachBatch: each}
			w.Hook(&opts)
			// A file of the tenth batch is removed once a commit was made (at most 8 batches
			// are held uncommitted): a later commit fails.
			committed := watchCommits(&opts)
			write, batches, lost := opts.Written, 0, 0
			opts.Written = func(files []lake.DataFile, recs [][]*cloudtrail.Record, facts [][]lifecycle.Fact) {
				write(files, recs, facts)
				if batches++; batches == 10 {
					committed.wait(t)
					if err := os.Remove(lk.AbsPath(st.ID, files[0].Path)); err != nil {
						t.Fatal(err)
					}
				}
			}
			give := opts.Uncommitted
			opts.Uncommitted = func(files []lake.DataFile) {
				if lost += len(files); give != nil {
					give(files)
				}
			}
			if _, err := ingest.CloudTrail(ctx, lk, st, opts); err == nil {
				t.Fatal("the ingest did not fail")
			}
			if _, err := w.Close(); err != nil {
				t.Fatal(err)
			}
			live := liveFactsFiles(t, lk, st)
			if lost == 0 || len(live) == 0 {
				t.Fatalf("%d files committed, %d given up: the test proves little", len(live), lost)
			}
			if verdicts, facts := w.Pending(); verdicts != 0 || facts > len(live) {
				t.Errorf("the watcher keeps the verdicts of %d files and the facts of %d; %d files are live, %d were given up",
					verdicts, facts, len(live), lost)
			}
		})
	}
}

// commitWatch counts an ingest's commits (watchCommits).
type commitWatch struct {
	n    atomic.Int32
	once sync.Once
	one  chan struct{}
}

// watchCommits counts the commits of an ingest with opts (its AfterCommit wrapped).
func watchCommits(opts *ingest.Options) *commitWatch {
	c := &commitWatch{one: make(chan struct{})}
	after := opts.AfterCommit
	opts.AfterCommit = func() {
		c.n.Add(1)
		c.once.Do(func() { close(c.one) })
		if after != nil {
			after()
		}
	}
	return c
}

// wait waits for the first commit (from Written: the writer goes on while batches handed over
// are committed), failing the test after a minute.
func (c *commitWatch) wait(t *testing.T) {
	select {
	case <-c.one:
	case <-time.After(time.Minute):
		t.Fatal("no commit within a minute of ten batches written")
	}
}

// liveFactsFiles is the data files of st as a query session sees them.
func liveFactsFiles(t *testing.T, lk *lake.Lake, st lake.Store) []string {
	t.Helper()
	s, err := query.Open(context.Background(), lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	live, ok := s.FactsFiles(st.ID)
	if !ok {
		t.Fatal("the store's facts files are not readable")
	}
	out := make([]string, 0, len(live))
	for _, f := range live {
		out = append(out, f.Path)
	}
	return out
}

// TestWatcherForgetsTheVerdictsOfAnAbortedHeldFile: a write that fails while a day's file is
// held open across batches (here a later day's directory cannot be made) removes the held file
// unfinished; the ingest gives every file it gave the watcher and did not commit to
// Uncommitted — the held file, whose parts came in several batches, among them — and the
// watcher keeps no verdict of them. What was committed before is evaluated once, as the SQL
// evaluates it, and nothing is given up twice or both committed and given up.
func TestWatcherForgetsTheVerdictsOfAnAbortedHeldFile(t *testing.T) {
	ctx := context.Background()
	gen := generatetest.Trail(t, 3000, 12, 5)
	lk, st := goEvalLake(t)
	w := keptWatch(t, ctx, lk, st)
	opts := ingest.Options{Sources: []string{gen}, BatchRows: 20, Workers: 1}
	w.Hook(&opts)
	var mu sync.Mutex
	parts := map[string]int{} // batches that wrote into each file
	uncommitted := map[string]bool{}
	committed := watchCommits(&opts)
	write := opts.Written
	blocked, batches := false, 0
	opts.Written = func(files []lake.DataFile, recs [][]*cloudtrail.Record, facts [][]lifecycle.Fact) {
		write(files, recs, facts)
		mu.Lock()
		defer mu.Unlock()
		last := ""
		for _, f := range files {
			parts[f.Path]++
			last = max(last, f.Date)
		}
		// From the tenth batch, once a commit was made (at most 8 batches are held
		// uncommitted) and a file has taken two batches: every later day's partition
		// directory is a file, so the next batch with a new day fails to write.
		if batches++; blocked || batches < 10 || !slices.ContainsFunc(files, func(f lake.DataFile) bool { return parts[f.Path] > 1 }) {
			return
		}
		committed.wait(t)
		blocked = true
		day, err := time.Parse(time.DateOnly, last)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 30; i++ {
			p := lk.AbsPath(st.ID, "data/eventdate="+day.AddDate(0, 0, i).Format(time.DateOnly))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	give := opts.Uncommitted
	opts.Uncommitted = func(files []lake.DataFile) {
		mu.Lock()
		for _, f := range files {
			if uncommitted[f.Path] {
				t.Errorf("%s given to Uncommitted twice", f.Path)
			}
			uncommitted[f.Path] = true
		}
		mu.Unlock()
		give(files)
	}
	if _, err := ingest.CloudTrail(ctx, lk, st, opts); err == nil {
		t.Fatal("the ingest did not fail")
	}
	got, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	live := liveFactsFiles(t, lk, st)
	heldAborted := 0
	for p := range parts {
		if slices.Contains(live, p) == uncommitted[p] {
			t.Errorf("%s: committed %v, given to Uncommitted %v", p, slices.Contains(live, p), uncommitted[p])
		}
		if uncommitted[p] && parts[p] > 1 {
			if _, err := os.Stat(lk.AbsPath(st.ID, p)); errors.Is(err, os.ErrNotExist) {
				heldAborted++
			}
		}
	}
	if !blocked || len(live) == 0 || heldAborted == 0 {
		t.Fatalf("blocked %v, %d files committed, %d held files of several batches aborted: the test proves little", blocked, len(live), heldAborted)
	}
	if verdicts, facts := w.Pending(); verdicts != 0 || facts > len(live) {
		t.Errorf("the watcher keeps the verdicts of %d files and the facts of %d; %d files are live", verdicts, facts, len(live))
	}
	// The committed files' alerts are those of the SQL evaluation of the same files.
	again, err := alerts.Process(ctx, lk, st)
	if err != nil || again.Files != 0 {
		t.Errorf("evaluated again: %d files, %v", again.Files, err)
	}
	if got.Files != len(live) || got.FromGo != got.Files {
		t.Errorf("%d files evaluated, %d from Go, %d live", got.Files, got.FromGo, len(live))
	}
}

// TestWatcherOpensNoSessionWhenEveryRuleIsJudgedInGo: in a load of new events every rule —
// the community Sigma rules, the built-ins, launch-compliance from the facts the watcher keeps
// — is judged in Go from the verdicts taken as the files were written, and the alert groups
// are known from the alerts store's files the watcher committed: no evaluation opens or
// refreshes a query session (each re-registered every store's view: ~1 s of CPU over a 1M
// ingest). The alerts are the SQL evaluation's, and notifications are sent once per group.
func TestWatcherOpensNoSessionWhenEveryRuleIsJudgedInGo(t *testing.T) {
	ctx := context.Background()
	gen := generatetest.Trail(t, 3000, 12, 5)
	approved, err := compliance.LoadConfig(filepath.Join(gen, "approved-templates.json"))
	if err != nil {
		t.Fatal(err)
	}
	setup := func(lk *lake.Lake) {
		rulestest.AddEveryGoRule(t, lk)
		b, _ := rules.BuiltinNamed(rules.LaunchCompliance)
		if _, err := rules.Add(ctx, lk, rules.Rule{ID: "non-approved-launch", Title: b.Title, Kind: rules.KindBuiltin,
			Builtin: rules.LaunchCompliance, Severity: b.Severity, Enabled: true, Approved: approved}); err != nil {
			t.Fatal(err)
		}
	}
	// The reference: the batches evaluated in SQL, one Process per commit.
	sqlLake, sqlStore := rulestest.EmptyLake(t)
	setup(sqlLake)
	if err := alerts.Begin(sqlLake, sqlStore); err != nil {
		t.Fatal(err)
	}
	var want alerts.Result
	sqlOpts := ingest.Options{Sources: []string{gen}, BatchRows: 400}
	sqlOpts.AfterCommit = func() {
		res, err := alerts.Process(ctx, sqlLake, sqlStore)
		if err != nil {
			t.Error(err)
		}
		want.New, want.Notified = append(want.New, res.New...), append(want.Notified, res.Notified...)
		want.Matched += res.Matched
	}
	if _, err := ingest.CloudTrail(ctx, sqlLake, sqlStore, sqlOpts); err != nil {
		t.Fatal(err)
	}

	lk, st := rulestest.EmptyLake(t)
	setup(lk)
	w := keptWatch(t, ctx, lk, st)
	// Small batches: the days' files held across them (lake.Writer.HoldFiles), several commits.
	opts := ingest.Options{Sources: []string{gen}, BatchRows: 10}
	w.Hook(&opts)
	commits := 0
	opts.AfterCommit = func() { commits++; w.EvaluateNow(ctx) } // each commit evaluated on its own
	if _, err := ingest.CloudTrail(ctx, lk, st, opts); err != nil {
		t.Fatal(err)
	}
	got, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if commits < 3 || got.FromGo != got.Files {
		t.Fatalf("%d commits, %d of %d files from their Go verdicts: the test needs several commits evaluated in Go", commits, got.FromGo, got.Files)
	}
	launches := 0
	for _, a := range got.New {
		if a.Rule == "non-approved-launch" {
			launches++
		}
	}
	if launches == 0 || len(got.Notified) == 0 {
		t.Fatalf("%d non-approved launches, %d notifications: the test proves little", launches, len(got.Notified))
	}
	if n := w.Sessions(); n != 0 {
		t.Errorf("%d query sessions opened or refreshed; every rule was judged in Go", n)
	}
	// The ingest's batches differ from run to run (a group's events may be split over more
	// commits, each its own record; a group's id depends on the store's): what must agree is
	// each rule's events, and each rule's groups notified.
	matches := func(as []alerts.Alert) []string {
		var out []string
		for _, a := range as {
			for _, id := range a.EventIDs {
				out = append(out, a.Rule+" "+a.Principal+" "+a.Resource+" "+id)
			}
		}
		slices.Sort(out)
		return out
	}
	groups := func(as []alerts.Alert) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Rule+" "+a.Principal+" "+a.Resource)
		}
		slices.Sort(out)
		return out
	}
	if a, b := matches(got.New), matches(want.New); got.Matched != want.Matched || !slices.Equal(a, b) {
		t.Errorf("Go: %d alerts (%d events), SQL: %d (%d events)\n%v\n%v", len(got.New), got.Matched, len(want.New), want.Matched, a[:min(3, len(a))], b[:min(3, len(b))])
	}
	if a, b := groups(got.Notified), groups(want.Notified); !slices.Equal(a, b) {
		t.Errorf("notifications: Go %d, SQL %d", len(a), len(b))
	}
}

// TestWatcherJudgesLaunchesOfRewrittenFilesFromFacts: files a compaction rewrote after some of
// their events were evaluated are evaluated in SQL against the stored alerts; launch-compliance
// there is judged from the watcher's kept facts (the rewritten files' read from their facts
// files) instead of the report's SQL. The launches alerted are those of Process (the report's
// SQL throughout), each instance once.
func TestWatcherJudgesLaunchesOfRewrittenFilesFromFacts(t *testing.T) {
	ctx := context.Background()
	gen := generatetest.Trail(t, 3000, 12, 5)
	approved, err := compliance.LoadConfig(filepath.Join(gen, "approved-templates.json"))
	if err != nil {
		t.Fatal(err)
	}
	// run ingests gen in batches, evaluating the first two commits only, then compacts the
	// store (its files merged: evaluated events and new ones in one file) and evaluates.
	run := func(watch bool) (found []alerts.Alert, known int) {
		lk, st := rulestest.EmptyLake(t)
		b, _ := rules.BuiltinNamed(rules.LaunchCompliance)
		if _, err := rules.Add(ctx, lk, rules.Rule{ID: "non-approved-launch", Title: b.Title, Kind: rules.KindBuiltin,
			Builtin: rules.LaunchCompliance, Severity: b.Severity, Enabled: true, Approved: approved}); err != nil {
			t.Fatal(err)
		}
		// Each batch committed on its own: commits left unevaluated, small files to compact.
		opts := ingest.Options{Sources: []string{gen}, BatchRows: 300, CommitEachBatch: true}
		var w *alerts.Watcher
		evaluate := func() {
			if watch {
				w.EvaluateNow(ctx)
				return
			}
			res, err := alerts.Process(ctx, lk, st)
			if err != nil {
				t.Fatal(err)
			}
			found, known = append(found, res.New...), known+res.Known
		}
		if watch {
			w = keptWatch(t, ctx, lk, st)
			w.Hook(&opts)
		} else if err := alerts.Begin(lk, st); err != nil {
			t.Fatal(err)
		}
		commits := 0
		opts.AfterCommit = func() {
			if commits++; commits <= 2 {
				evaluate()
			}
		}
		if _, err := ingest.CloudTrail(ctx, lk, st, opts); err != nil {
			t.Fatal(err)
		}
		if commits < 4 {
			t.Fatalf("%d commits: the test needs commits left unevaluated", commits)
		}
		if merged := compactStore(t, lk, st.ID); merged == 0 {
			t.Fatal("compaction merged no file")
		}
		evaluate()
		if watch {
			res, err := w.Close()
			if err != nil {
				t.Fatal(err)
			}
			return res.New, res.Known
		}
		return found, known
	}
	want, wantKnown := run(false)
	got, gotKnown := run(true)
	if wantKnown == 0 || gotKnown == 0 {
		t.Fatalf("%d and %d rewritten files evaluated against the stored alerts: the test proves little", wantKnown, gotKnown)
	}
	launches := func(as []alerts.Alert) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Resource+" "+strings.Join(a.EventIDs, ",")+" "+a.Summary)
		}
		slices.Sort(out)
		return out
	}
	a, b := launches(got), launches(want)
	if len(b) < 2 || !slices.Equal(a, b) {
		t.Errorf("watcher: %d launches alerted, Process: %d\n%s\n--\n%s", len(a), len(b), strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	if len(slices.Compact(slices.Clone(a))) != len(a) {
		t.Errorf("a launch alerted twice: %v", a)
	}
}

// keptWatch starts a watcher of st that keeps the alerts it stores (KeepAlerts), for the test
// to compare; the caller hooks it into an ingest's options as the test needs.
func keptWatch(t *testing.T, ctx context.Context, lk *lake.Lake, st lake.Store) *alerts.Watcher {
	t.Helper()
	w, err := alerts.Watch(ctx, lk, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.KeepAlerts = true
	return w
}

// TestWatcherEvaluatesTheLastCommitAtOnce: an ingest hooked to a watcher (Hook) says when it
// has made its last commit (ingest.Options.Committed, Flush), and the watcher evaluates it
// then, beside the ingest's upkeep, rather than when MinInterval has passed since the last
// evaluation (here an hour): the verdicts of every file are used up before Close, and the
// alerts are those of the SQL evaluation of the same commits.
func TestWatcherEvaluatesTheLastCommitAtOnce(t *testing.T) {
	defer func(d time.Duration) { alerts.MinInterval = d }(alerts.MinInterval)
	alerts.MinInterval = time.Hour
	ctx := context.Background()
	want, lk, st, w, opts := hookedWatch(t, 50)
	sum, err := ingest.CloudTrail(ctx, lk, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.FilesCommitted < 2 {
		t.Fatalf("%d commits: the wait between evaluations is not tested", sum.FilesCommitted)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if v, _ := w.Pending(); v == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the last commit is not evaluated a minute after the ingest: the watcher waits for MinInterval")
		}
	}
	got, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rulestest.AlertKeys(got.New), rulestest.AlertKeys(want.New)) {
		t.Errorf("alerts %v, want %v", rulestest.AlertKeys(got.New), rulestest.AlertKeys(want.New))
	}
}

// hookedWatch returns the alerts of the SQL evaluation of the stratus-red-team detonations
// ingested in batches of batchRows (sqlAlerts), and a watcher (keptWatch) of a fresh store
// hooked into the options of the same ingest into it.
func hookedWatch(t *testing.T, batchRows int) (alerts.Result, *lake.Lake, lake.Store, *alerts.Watcher, ingest.Options) {
	t.Helper()
	src := filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")
	want := sqlAlerts(t, src, batchRows, nil)
	lk, st := goEvalLake(t)
	w := keptWatch(t, context.Background(), lk, st)
	opts := ingest.Options{Sources: []string{src}, BatchRows: batchRows}
	w.Hook(&opts)
	return want, lk, st, w, opts
}
