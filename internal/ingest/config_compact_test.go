package ingest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/auditlake/auditlake/internal/configitems/configtest"
	"github.com/auditlake/auditlake/internal/ingest"
)

// TestConfigIngestsInSmallRunsCompact: Config items delivered run after run (as a collection
// source does) leave several small files in a closed day, which compaction merges — sorted by
// eventtime, as a Config store has no eventsource or eventname column (it used to fail there,
// and with it every later run of the store).
func TestConfigIngestsInSmallRunsCompact(t *testing.T) {
	lk, st := configStore(t)
	var file []map[string]any
	for _, it := range scenario(t) {
		file = append(file, configtest.FileStyle(it))
	}
	ctx := context.Background()
	for i := range file {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, fmt.Sprintf("history-%d.json", i)), configtest.History(file[i]))
		if _, err := ingest.Config(ctx, lk, st, ingest.Options{Sources: []string{dir}}); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}
	m, err := lk.ReadManifest(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	days := map[string]int{}
	for _, f := range m.Files {
		days[f.Date]++
	}
	for d, n := range days {
		if n > 4 {
			t.Errorf("day %s holds %d small files after %d runs: not compacted", d, n, len(file))
		}
	}
	if got := m.Rows(); got != int64(len(file)) {
		t.Fatalf("store holds %d items, want %d", got, len(file))
	}
}
