// Package generatetest generates sample trails for tests: one call in place of the generator's
// configuration, run and error check that every test of generated data repeats.
package generatetest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/auditlake/auditlake/internal/generate"
)

// Trail generates events over days with seed (the generator's defaults otherwise, edited by
// edit) into a temporary directory of t and returns it: the delivery files are under its
// AWSLogs folder. The same arguments give the same files.
func Trail(t testing.TB, events, days int, seed uint64, edit ...func(*generate.Config)) string {
	t.Helper()
	cfg := generate.DefaultConfig()
	cfg.Out, cfg.Events, cfg.Days, cfg.Seed = t.TempDir(), events, days, seed
	for _, e := range edit {
		e(&cfg)
	}
	if _, err := generate.Run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return cfg.Out
}
