package collect_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/collect"
	"github.com/auditlake/auditlake/internal/collect/collecttest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/rules/rulestest"
)

// TestCollectRaisesEachAlertOnceThroughTheGoEvaluation: a collector whose Watch sets an
// alerts.Watcher's hooks (as collect and serve do) evaluates the rules in Go on the records it
// ingests — each record matched once, as it is decoded — over three polls (two with new files,
// one with none): every event and rule is alerted exactly once, and the alerts are those the
// SQL evaluation of the same commits gives.
func TestCollectRaisesEachAlertOnceThroughTheGoEvaluation(t *testing.T) {
	ctx := context.Background()
	samples, err := filepath.Glob(filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs", "*.json"))
	if err != nil || len(samples) < 10 {
		t.Fatalf("samples: %v %v", samples, err)
	}
	run := func(goEval bool) (alerts.Result, map[*cloudtrail.Record]int) {
		e := newEnv(t, "trail")
		if _, err := e.lk.Update(e.store.ID, func(s *lake.Store) error { s.RetentionDays = lake.MaxRetentionDays; return nil }); err != nil {
			t.Fatal(err)
		}
		rulestest.AddEveryGoRule(t, e.lk)
		var mu sync.Mutex
		decoded := map[*cloudtrail.Record]int{}
		var w *alerts.Watcher
		opts := collect.Options{Lake: e.lk, DataDir: e.dir, Workers: 2}
		if goEval {
			if w, err = alerts.Watch(ctx, e.lk, e.store, nil); err != nil {
				t.Fatal(err)
			}
			w.KeepAlerts = true
			opts.Watch = func(st lake.Store, o *ingest.Options) {
				if st.ID != e.store.ID {
					t.Errorf("watched store %s", st.Name)
				}
				w.Hook(o)
				decode := o.Decoded
				o.Decoded = func(r *cloudtrail.Record) {
					decode(r)
					mu.Lock()
					decoded[r]++
					mu.Unlock()
				}
			}
		} else if err := alerts.Begin(e.lk, e.store); err != nil {
			t.Fatal(err)
		}
		c := collect.New(e.reg, opts)
		src := e.add(t, "org", "s3://trail/AWSLogs/")
		for i, part := range [][]string{samples[:len(samples)/2], samples[len(samples)/2:], nil} {
			for j, p := range part {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				var gz bytes.Buffer
				zw := gzip.NewWriter(&gz)
				zw.Write(b)
				zw.Close()
				e.s3.Put(t, "trail", collecttest.TrailKey("", "123456789012", "us-east-1", e.now, strings.Repeat("p", i+1)+string(rune('a'+j))), gz.Bytes())
			}
			if err := c.Poll(ctx, src); err != nil {
				t.Fatal(err)
			}
		}
		if !goEval {
			res, err := alerts.Process(ctx, e.lk, e.store)
			if err != nil {
				t.Fatal(err)
			}
			return res, nil
		}
		res, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		return res, decoded
	}
	want, _ := run(false)
	got, decoded := run(true)
	if len(decoded) == 0 {
		t.Fatal("the collector's ingests did not go through the watcher's Decoded hook")
	}
	for r, n := range decoded {
		if n != 1 {
			t.Errorf("event %s matched %d times as decoded", r.EventID, n)
		}
	}
	seen := map[string]int{}
	for _, a := range got.New {
		for _, id := range a.EventIDs {
			seen[a.Rule+" "+id]++
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s alerted %d times", k, n)
		}
	}
	if len(want.New) == 0 || got.Matched != want.Matched || got.Matched != len(seen) || !slices.Equal(rulestest.AlertKeys(got.New), rulestest.AlertKeys(want.New)) {
		t.Errorf("Go: %d alerts (%d events), SQL: %d (%d events)\n%v\n%v", len(got.New), got.Matched, len(want.New), want.Matched,
			rulestest.AlertKeys(got.New), rulestest.AlertKeys(want.New))
	}
}
